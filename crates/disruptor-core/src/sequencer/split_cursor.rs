//! [`SplitCursor`]: a single producer's published cursor kept as a 32-bit word plus a 64-bit
//! epoch, for a publisher to whom a 64-bit atomic store is expensive.

use std::sync::Arc;

use crossbeam_utils::CachePadded;

use crate::sequence::Sequence;
use crate::sync::{AtomicI32, Ordering};

/// A single producer's published cursor in two words, for a publisher that can store a 32-bit
/// atomic cheaply and a 64-bit one only at a cost: JavaScript, where `Atomics.store` into a
/// `BigInt64Array` needs a freshly allocated BigInt (about twice the cost of a 32-bit store,
/// and garbage for every event), while an `Int32Array` store takes a plain number.
///
/// - `low`: the low 31 bits of the published cursor (`value mod 2^31`) in bits 0..30, stored
///   on every publish, and in bit 31 the [`WAITING`](Self::WAITING) flag (below).
/// - `epoch`: a published value, stored *before* the low word of that same publish whenever
///   the value published is [`EPOCH_SPAN`](Self::EPOCH_SPAN) (2^29) or more past the epoch,
///   so that every low word stored lies in `[epoch, epoch + 2^30)` of the epoch stored
///   before it ([`EPOCH_LIMIT`](Self::EPOCH_LIMIT)).
///
/// Writer, per publish of `hi` (one thread at a time): `if hi - epoch >= 2^29 { epoch = hi }`
/// (**Release**), then `low = hi mod 2^31`: a swap (**AcqRel**; JavaScript's SeqCst
/// `Atomics.exchange` is at least that) whose old value tells whether a waiter asked for a
/// signal (below) or the sequencer was closed ([`flag`](Self::flag)). A **Release** store
/// would do where no waiter sleeps and the writer does not need to learn of a close that way,
/// but it erases a close's flag: the JavaScript binding always swaps.
///
/// Reader ([`get`](Self::get)): `e1 = epoch` (**Acquire**), `m = low` (**Acquire**),
/// `e2 = epoch` (Relaxed: ordered after `m` by its Acquire); retry unless `e1 == e2`, then
/// `value = e1 + d`, where `d` is `(m - e1) mod 2^31` taken as a signed 31-bit number. Why
/// that is the value `t` whose low bits `m` holds (batches are at most
/// [`crate::MAX_BUFFER_SIZE`] = 2^30):
///
/// - `t >= e1 - 2^30`: the Acquire load of `e1` synchronises with the epoch store of `e1`, so
///   the low word stored just before it (the previous publish, at least `e1 - 2^30`)
///   happens-before the load of `m`, which reads that store or a later one.
/// - `t < e1 + 2^29`: the epoch store that preceded the low store of `t` happens-before the
///   load of `e2` (through `m`'s Acquire), so `e2` is at least that epoch, and `e2 == e1`.
///
/// So `t - e1` lies in `[-2^30, 2^29)`, which the signed 31-bit difference recovers exactly.
/// Slots up to `t` are visible after the read (the Acquire load of `m` synchronises with the
/// publish of `t`). A reader that knows a lower bound `b <= t` with `t - b < 2^31` (a gating
/// consumer knows its own position: the producer is never more than a ring ahead of it) can
/// extend `m` against `b` alone: `b + ((m - b) mod 2^31)`.
///
/// **Waiting.** A thread that is about to wait for a publish with the wait strategy reads the
/// cursor with [`get_or_flag`](Self::get_or_flag), which, when the awaited value is not
/// published, sets [`WAITING`](Self::WAITING) in the low word with a compare-and-swap on the
/// value it read. The writer's swap clears it and returns it, and the writer signals the wait
/// strategy (its sleeper-count check and signal) only when it was set. No lost wake-up: the
/// strategy's sleeper increments its count and issues a SeqCst fence before it checks (and
/// flags); if its check finds the flag already set, either the writer that clears it comes
/// later (and signals: the Dekker argument of the sleeper count applies to its fence-and-load)
/// or it came earlier and its swap is visible to the check (so the check sees the new value,
/// not the flag). If the check sets the flag itself, the writer's swap reads it (read-modify-
/// writes read the latest value) and synchronises with it, so it sees the sleeper's count. The
/// compare-and-swap cannot be fooled by a value that comes back (ABA): the low word repeats only
/// after 2^31 publishes, more than a ring ahead of any gating waiter.
///
/// ```
/// use disruptor_core::SplitCursor;
/// let c = SplitCursor::new((1 << 31) - 2);
/// c.set((1 << 31) + 5); // the low word wraps; the reader still gets the whole value
/// assert_eq!(c.get(), (1 << 31) + 5);
/// assert_eq!(c.low().load(std::sync::atomic::Ordering::Relaxed), 5);
/// assert_eq!(c.get_or_flag((1 << 31) + 6), None); // asks the next writer to signal
/// assert!(c.set((1 << 31) + 6)); // which learns it from the swap
/// ```
pub struct SplitCursor {
    epoch: Arc<Sequence>,
    low: CachePadded<AtomicI32>,
}

impl SplitCursor {
    /// The most a low word may be past the epoch stored before it: 2^30.
    ///
    /// ```
    /// assert_eq!(disruptor_core::SplitCursor::EPOCH_LIMIT, 1 << 30);
    /// ```
    pub const EPOCH_LIMIT: i64 = 1 << 30;

    /// How far past the epoch a writer may publish before it stores the epoch again: 2^29
    /// (what [`set`](Self::set) uses; a writer outside Rust may use less, never more than
    /// [`EPOCH_LIMIT`](Self::EPOCH_LIMIT)).
    ///
    /// ```
    /// assert_eq!(disruptor_core::SplitCursor::EPOCH_SPAN, 1 << 29);
    /// ```
    pub const EPOCH_SPAN: i64 = 1 << 29;

    /// Bit 31 of the low word: a waiter asks the next writer to signal the wait strategy.
    ///
    /// ```
    /// assert_eq!(disruptor_core::SplitCursor::WAITING, i32::MIN);
    /// ```
    pub const WAITING: i32 = i32::MIN;

    /// The bits of the low word that hold the cursor (`value mod 2^31`).
    const VALUE_BITS: i32 = i32::MAX;

    /// A split cursor at `initial`.
    ///
    /// ```
    /// assert_eq!(disruptor_core::SplitCursor::new(-1).get(), -1);
    /// ```
    pub fn new(initial: i64) -> Self {
        SplitCursor::over(Arc::new(Sequence::new(initial)))
    }

    /// A split cursor whose epoch is `epoch` (its current value is the cursor's value).
    pub(crate) fn over(epoch: Arc<Sequence>) -> Self {
        let low = CachePadded::new(AtomicI32::new(Self::low_bits(epoch.get())));
        SplitCursor { epoch, low }
    }

    /// `value mod 2^31`, as the low word holds it.
    #[inline]
    pub(crate) fn low_bits(value: i64) -> i32 {
        value as i32 & Self::VALUE_BITS
    }

    /// The value whose low bits are in `low`, from an epoch read around it.
    #[inline]
    pub(crate) fn extend(epoch: i64, low: i32) -> i64 {
        // (low - epoch) mod 2^31, then as a signed 31-bit number.
        let d = low.wrapping_sub(epoch as i32) & Self::VALUE_BITS;
        epoch + i64::from(d << 1 >> 1)
    }

    /// Reads the epoch and the low word consistently: `(value, low word)`.
    #[inline]
    fn read(&self) -> (i64, i32) {
        Self::read_words(
            |acquire| if acquire { self.epoch.get() } else { self.epoch.get_relaxed() },
            &self.low,
        )
    }

    /// [`read`](Self::read) over any two words (a shared ring keeps them in its file):
    /// `epoch(true)` loads the epoch with Acquire, `epoch(false)` Relaxed.
    #[inline]
    pub(crate) fn read_words(epoch: impl Fn(bool) -> i64, low: &AtomicI32) -> (i64, i32) {
        loop {
            let e = epoch(true);
            let m = low.load(Ordering::Acquire);
            // Relaxed: ordered after the low word's Acquire load; coherence gives the rest.
            if epoch(false) == e {
                return (Self::extend(e, m), m);
            }
        }
    }

    /// The published value (see the type's docs; **Acquire**: slots up to it are visible).
    #[inline]
    pub fn get(&self) -> i64 {
        self.read().0
    }

    /// The published value if it is at least `at_least`; otherwise `None`, after asking the
    /// next writer to signal the wait strategy ([`WAITING`](Self::WAITING), with an **AcqRel**
    /// compare-and-swap of the low word it read: the writer that reads the flag synchronises
    /// with it and so sees the caller's sleeper count). For a thread that waits with the wait
    /// strategy when it gets `None` (see the type's docs).
    ///
    /// ```
    /// let c = disruptor_core::SplitCursor::new(4);
    /// assert_eq!(c.get_or_flag(3), Some(4));
    /// assert_eq!(c.get_or_flag(5), None);
    /// assert!(c.low().load(std::sync::atomic::Ordering::Relaxed) < 0); // flagged
    /// assert_eq!(c.get(), 4);
    /// ```
    #[inline]
    pub fn get_or_flag(&self, at_least: i64) -> Option<i64> {
        Self::get_or_flag_words(|| self.read(), &self.low, at_least)
    }

    /// [`get_or_flag`](Self::get_or_flag) over any two words, `read` reading them as
    /// [`read_words`](Self::read_words) does.
    pub(crate) fn get_or_flag_words(
        read: impl Fn() -> (i64, i32),
        low_word: &AtomicI32,
        at_least: i64,
    ) -> Option<i64> {
        loop {
            let (value, low) = read();
            if value >= at_least {
                return Some(value);
            }
            if low & Self::WAITING != 0 {
                return None;
            }
            // Relaxed on failure: a writer published meanwhile; read again (Acquire).
            if low_word
                .compare_exchange(low, low | Self::WAITING, Ordering::AcqRel, Ordering::Relaxed)
                .is_ok()
            {
                return None;
            }
        }
    }

    /// Publishes `value` (at least the current one; one writing thread at a time): the epoch
    /// first (**Release**) when `value` is [`EPOCH_SPAN`](Self::EPOCH_SPAN) or more past it,
    /// then the low word with an **AcqRel** swap. Returns whether a waiter had asked for a
    /// signal ([`WAITING`](Self::WAITING)); the caller then signals the wait strategy (as
    /// every publisher may do anyway).
    ///
    /// ```
    /// let c = disruptor_core::SplitCursor::new(-1);
    /// assert!(!c.set(1 << 40));
    /// assert_eq!(c.epoch().get(), 1 << 40);
    /// c.set((1 << 40) + 3);
    /// assert_eq!(c.epoch().get(), 1 << 40); // no epoch store needed
    /// assert_eq!(c.get(), (1 << 40) + 3);
    /// ```
    #[inline]
    pub fn set(&self, value: i64) -> bool {
        // Relaxed: only this (the writing) thread stores the epoch.
        if value - self.epoch.get_relaxed() >= Self::EPOCH_SPAN {
            self.epoch.set(value);
        }
        self.low.swap(Self::low_bits(value), Ordering::AcqRel) & Self::WAITING != 0
    }

    /// Sets [`WAITING`](Self::WAITING) with no waiter behind it (an **AcqRel** read-modify-write):
    /// the next writer's swap returns it, so a writer that checks something only when its swap
    /// returns the flag sees every write made before this call. Closing a sequencer does this
    /// after it sets its closed flag: a publisher outside Rust then reads the closed flag only
    /// when its swap returns the flag, and still never misses a close that happened before its
    /// publish. A writer that clears it finding the sequencer open signals the wait strategy
    /// needlessly, once.
    ///
    /// ```
    /// use std::sync::atomic::Ordering;
    /// let c = disruptor_core::SplitCursor::new(4);
    /// c.flag();
    /// assert!(c.low().load(Ordering::Relaxed) < 0);
    /// assert_eq!(c.get(), 4); // readers mask the flag
    /// assert!(c.set(5)); // the next writer learns of it
    /// assert!(!c.set(6));
    /// ```
    pub fn flag(&self) {
        self.low.fetch_or(Self::WAITING, Ordering::AcqRel);
    }

    /// The low word, for a writer outside Rust (JavaScript: `Atomics.exchange(int32, 0, hi &
    /// 0x7fffffff)`, then, only when the old value is negative, the closed flag and the sleeper
    /// check: see [`flag`](Self::flag)) and for readers
    /// that extend it against a bound of their own (masking [`WAITING`](Self::WAITING)).
    pub fn low(&self) -> &AtomicI32 {
        &self.low
    }

    /// The epoch (for a writer outside Rust, which must keep [`set`](Self::set)'s rule).
    pub fn epoch(&self) -> &Arc<Sequence> {
        &self.epoch
    }
}

impl std::fmt::Debug for SplitCursor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("SplitCursor").field(&self.get()).finish()
    }
}
