//! [`Sequence`]: a cache-line padded, atomically updated 64-bit counter.

use crossbeam_utils::CachePadded;
use std::fmt;
use std::sync::Arc;

use crate::sync::{AtomicI64, Ordering};

/// A cache-line padded atomic `i64`: the cursor of a sequencer or the progress of a consumer.
///
/// Padding keeps two hot sequences (a producer's cursor and a consumer's progress) from sharing a
/// cache line, which would make every update of one invalidate the other (false sharing).
///
/// Sequences start at [`Sequence::INITIAL_VALUE`] (`-1`): nothing claimed, published or
/// processed yet. The memory ordering of each method is part of its contract:
///
/// | method | ordering |
/// | --- | --- |
/// | [`get`](Sequence::get) | Acquire |
/// | [`get_relaxed`](Sequence::get_relaxed) | Relaxed |
/// | [`set`](Sequence::set) | Release |
/// | [`compare_and_set`](Sequence::compare_and_set) | SeqCst on success (see there), Acquire on failure |
/// | [`fetch_add`](Sequence::fetch_add) | SeqCst (see there) |
///
/// ```
/// use disruptor_core::Sequence;
/// let s = Sequence::default();
/// assert_eq!(s.get(), -1);
/// s.set(41);
/// assert_eq!(s.fetch_add(1), 41);
/// assert_eq!(s.get(), 42);
/// ```
pub struct Sequence {
    value: CachePadded<AtomicI64>,
}

impl Sequence {
    /// The value of a sequence before anything happened: `-1`.
    ///
    /// ```
    /// assert_eq!(disruptor_core::Sequence::INITIAL_VALUE, -1);
    /// ```
    pub const INITIAL_VALUE: i64 = -1;

    /// A sequence holding `initial`.
    ///
    /// ```
    /// let s = disruptor_core::Sequence::new(7);
    /// assert_eq!(s.get(), 7);
    /// ```
    pub fn new(initial: i64) -> Self {
        Sequence { value: CachePadded::new(AtomicI64::new(initial)) }
    }

    /// Reads the value with **Acquire** ordering: whatever the writer did before its Release
    /// [`set`](Sequence::set) of this value (filling a slot, reading a slot) is visible after.
    ///
    /// ```
    /// let s = disruptor_core::Sequence::new(3);
    /// assert_eq!(s.get(), 3);
    /// ```
    #[inline]
    pub fn get(&self) -> i64 {
        self.value.load(Ordering::Acquire)
    }

    /// Reads the value with **Relaxed** ordering: for the owner re-reading its own sequence, or
    /// for polling loops that issue one Acquire fence after the poll succeeds.
    ///
    /// ```
    /// let s = disruptor_core::Sequence::new(3);
    /// assert_eq!(s.get_relaxed(), 3);
    /// ```
    #[inline]
    pub fn get_relaxed(&self) -> i64 {
        self.value.load(Ordering::Relaxed)
    }

    /// Stores `value` with **Release** ordering: everything this thread did before (writing or
    /// reading slots up to `value`) happens-before any Acquire read that sees `value`.
    ///
    /// ```
    /// let s = disruptor_core::Sequence::default();
    /// s.set(10);
    /// assert_eq!(s.get(), 10);
    /// ```
    #[inline]
    pub fn set(&self, value: i64) {
        self.value.store(value, Ordering::Release);
    }

    /// Atomically replaces `expected` by `new`; true if it did. **SeqCst** on success (AcqRel
    /// would do for Rust-only claims: the winner sees what earlier winners published and
    /// publishes its own; SeqCst also places a claim in the single total order that the
    /// JavaScript publishers' SeqCst stores and the blocking strategy's fences use, so a
    /// sleeper that reads this claim cannot miss the publish that follows it), Acquire on
    /// failure.
    ///
    /// ```
    /// let s = disruptor_core::Sequence::new(1);
    /// assert!(s.compare_and_set(1, 2));
    /// assert!(!s.compare_and_set(1, 3));
    /// assert_eq!(s.get(), 2);
    /// ```
    #[inline]
    pub fn compare_and_set(&self, expected: i64, new: i64) -> bool {
        self.value.compare_exchange(expected, new, Ordering::SeqCst, Ordering::Acquire).is_ok()
    }

    /// Adds `delta` and returns the **previous** value, with **SeqCst** ordering (for the same
    /// reason as [`compare_and_set`](Self::compare_and_set); free on x86, where every
    /// read-modify-write is a full barrier).
    ///
    /// ```
    /// let s = disruptor_core::Sequence::new(-1);
    /// assert_eq!(s.fetch_add(4), -1);
    /// assert_eq!(s.get(), 3);
    /// ```
    #[inline]
    pub fn fetch_add(&self, delta: i64) -> i64 {
        self.value.fetch_add(delta, Ordering::SeqCst)
    }

    /// The atomic itself, for a writer outside Rust that shares its memory (JavaScript storing
    /// a single producer's cursor with `Atomics.store`, which is SeqCst and so at least the
    /// Release that [`set`](Self::set) is). Such a writer must keep this type's contract: the
    /// value only grows, and every write is at least Release.
    ///
    /// ```
    /// let s = disruptor_core::Sequence::default();
    /// assert_eq!(s.as_atomic().load(std::sync::atomic::Ordering::Acquire), -1);
    /// ```
    #[inline]
    pub fn as_atomic(&self) -> &AtomicI64 {
        &self.value
    }
}

impl Default for Sequence {
    /// A sequence at [`Sequence::INITIAL_VALUE`].
    fn default() -> Self {
        Sequence::new(Sequence::INITIAL_VALUE)
    }
}

impl fmt::Debug for Sequence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Sequence").field(&self.get_relaxed()).finish()
    }
}

/// The smallest value among `sequences` (each read with **Acquire**), or `default` if it is
/// smaller or the slice is empty.
///
/// ```
/// use std::sync::Arc;
/// use disruptor_core::{minimum_sequence, Sequence};
/// let seqs = [Arc::new(Sequence::new(5)), Arc::new(Sequence::new(3))];
/// assert_eq!(minimum_sequence(&seqs, i64::MAX), 3);
/// assert_eq!(minimum_sequence(&[], 9), 9);
/// ```
#[inline]
pub fn minimum_sequence(sequences: &[Arc<Sequence>], default: i64) -> i64 {
    sequences.iter().fold(default, |min, s| min.min(s.get()))
}
