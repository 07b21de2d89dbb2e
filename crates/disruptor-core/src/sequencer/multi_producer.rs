use super::{Sequencer, SequencerCore};
use crate::error::{Error, Result};
use crate::sequence::Sequence;
use crate::sync::{fence, AtomicI32, Ordering};
use crate::wait_strategy::WaitStrategy;

/// A [`Sequencer`] that any number of threads may claim from and publish to concurrently.
///
/// Claims are a compare-and-swap loop on the cursor: [`next`](Sequencer::next) backs off
/// between failed attempts (crossbeam's `Backoff`) and claims whether or not there is room, then
/// waits for it; [`try_next`](Sequencer::try_next) claims only when there is room.
/// Because producers finish out of order, the cursor only says what is *claimed*; each slot has
/// an availability flag holding the lap (`sequence >> log2(size)`) of the last publish there,
/// and consumers scan those flags to find the highest contiguous published sequence.
///
/// ```
/// use std::sync::Arc;
/// use disruptor_core::{BusySpinWaitStrategy, MultiProducerSequencer, Sequencer};
/// let s = Arc::new(MultiProducerSequencer::new(64, BusySpinWaitStrategy).unwrap());
/// let a = s.next(1).unwrap();
/// let b = s.next(1).unwrap();
/// s.publish(b, b).unwrap();
/// assert_eq!(s.poll_published(a), None); // a is claimed, not published
/// s.publish(a, a).unwrap();
/// assert_eq!(s.poll_published(a), Some(b));
/// ```
pub struct MultiProducerSequencer<W> {
    core: SequencerCore<W>,
    /// Minimum of the gating sequences as last read by any producer.
    gating_cache: Sequence,
    /// With no gating consumer: a sequence up to which everything was found published (only
    /// grows), so `published_cursor` stays exact while fewer than a ring of claims are open.
    published_floor: Sequence,
    available: Box<[AtomicI32]>,
    index_mask: i64,
    index_shift: u32,
}

/// `size` availability flags, all "never published" (-1); [`Error::OutOfMemory`] rather than an
/// abort when the system refuses the memory.
fn flags(size: usize) -> Result<Box<[AtomicI32]>> {
    let mut flags = Vec::new();
    let bytes = size.saturating_mul(std::mem::size_of::<AtomicI32>());
    flags.try_reserve_exact(size).map_err(|_| Error::OutOfMemory { bytes })?;
    flags.extend((0..size).map(|_| AtomicI32::new(-1)));
    Ok(flags.into_boxed_slice())
}

impl<W: WaitStrategy> MultiProducerSequencer<W> {
    /// A sequencer over `buffer_size` slots (a power of two, at most
    /// [`crate::MAX_BUFFER_SIZE`]).
    ///
    /// ```
    /// use disruptor_core::{BusySpinWaitStrategy, Error, MultiProducerSequencer};
    /// assert!(MultiProducerSequencer::new(8, BusySpinWaitStrategy).is_ok());
    /// assert_eq!(MultiProducerSequencer::new(0, BusySpinWaitStrategy).err(),
    ///            Some(Error::InvalidBufferSize(0)));
    /// ```
    pub fn new(buffer_size: usize, wait_strategy: W) -> Result<Self> {
        let core = SequencerCore::new(buffer_size, wait_strategy)?;
        Ok(MultiProducerSequencer {
            core,
            gating_cache: Sequence::default(),
            published_floor: Sequence::default(),
            available: flags(buffer_size)?,
            index_mask: buffer_size as i64 - 1,
            index_shift: buffer_size.trailing_zeros(),
        })
    }

    #[inline]
    fn flag(&self, sequence: i64) -> &AtomicI32 {
        // The mask keeps the index inside the buffer whatever the sequence.
        &self.available[(sequence & self.index_mask) as usize]
    }

    /// The availability flags, one per slot: once sequence `s` is published, slot
    /// `s & (size - 1)` holds `(s >> log2(size)) as i32` (its lap; a **Release** store). For a
    /// publisher outside Rust that shares this memory (JavaScript storing into an Int32Array
    /// with `Atomics.store`, which is SeqCst): it must store exactly that value, only for
    /// sequences it claimed (a compare-and-set of [`Sequencer::cursor`] from `c` to `c + n`
    /// claims `c + 1 ..= c + n`, and only when the gating minimum is at least `c + n - size`),
    /// and then signal the wait strategy when its sleeper count is not zero.
    ///
    /// ```
    /// use std::sync::atomic::Ordering;
    /// use disruptor_core::{BusySpinWaitStrategy, MultiProducerSequencer, Sequencer};
    /// let s = MultiProducerSequencer::new(4, BusySpinWaitStrategy).unwrap();
    /// assert!(s.cursor().compare_and_set(-1, 1)); // claims 0 and 1 (no consumer: room)
    /// for seq in 0..=1 {
    ///     s.availability_flags()[seq as usize & 3].store((seq >> 2) as i32, Ordering::Release);
    /// }
    /// assert_eq!(s.poll_published(0), Some(1));
    /// ```
    pub fn availability_flags(&self) -> &[AtomicI32] {
        &self.available
    }

    /// Whether `sequence`'s slot holds a publish of a later lap than `sequence`'s.
    fn lap_passed(&self, sequence: i64) -> bool {
        // Relaxed: a hint for `published_cursor`'s scan start; what it reports is re-read with
        // Acquire by `poll_published`.
        let flag = self.flag(sequence).load(Ordering::Relaxed);
        flag.wrapping_sub(self.lap(sequence)) > 0
    }

    #[inline]
    fn lap(&self, sequence: i64) -> i32 {
        // Truncation is intended: a flag is only compared with the lap one ring apart.
        (sequence >> self.index_shift) as i32
    }

    /// The bound on claims (a claim may reach a ring past it): the slowest gating consumer, or
    /// without consumers the sequence up to which everything is published. Not the claim
    /// cursor, as in LMAX: a claim must never lap a slot that another producer claimed and has
    /// not published yet, because the safe [`crate::Producer`] hands out `&mut` to its claimed
    /// slots and its clones run on several threads. A raw caller that holds a claim of its own
    /// and claims past a ring beyond it waits (`next`) or is refused (`try_next`). Call after a
    /// **SeqCst** fence (see [`SequencerCore::gating_minimum_for_claim`]).
    ///
    /// Never above `claimed`, the claim cursor as read before the fence: what is read after it
    /// may include other producers' later claims, which a consumer joining meanwhile need not
    /// have seen (it starts at the claim cursor).
    fn room_bound(&self, claimed: i64) -> i64 {
        match self.core.gating.minimum(i64::MAX) {
            i64::MAX => self.published_without_consumers().min(claimed),
            min => min.min(claimed),
        }
    }

    /// The slow path of `next`: wait for room, then share the new bound.
    #[cold]
    #[inline(never)]
    fn refresh_gating_cache(&self, wrap_point: i64, claimed: i64) -> Result<()> {
        let bound = || self.room_bound(claimed);
        let min = self.core.wait_for_bound(wrap_point, bound, |_| false, None)?;
        self.gating_cache.set(min);
        Ok(())
    }

    /// Whether `n` more slots fit after `claimed`, refreshing the shared gating cache if needed.
    #[inline]
    fn has_capacity(&self, n: i64, claimed: i64) -> bool {
        let wrap_point = claimed + n - self.core.buffer_size as i64;
        let cached = self.gating_cache.get();
        if wrap_point > cached || cached > claimed {
            // SeqCst: the producer's half of the handshake with a joining consumer.
            fence(Ordering::SeqCst);
            let min = self.room_bound(claimed);
            // Release/Acquire through the cache: another producer that trusts this value
            // inherits the happens-before we got from the consumers' sequences.
            self.gating_cache.set(min);
            return wrap_point <= min;
        }
        true
    }
}

// SAFETY: claims, gating and publication follow the protocol documented on `Sequencer`
// (checked by tests/stress.rs and the loom models in tests/loom.rs).
unsafe impl<W: WaitStrategy> Sequencer for MultiProducerSequencer<W> {
    type Wait = W;

    #[inline]
    fn core(&self) -> &SequencerCore<W> {
        &self.core
    }

    #[inline]
    fn next(&self, n: i64) -> Result<i64> {
        self.core.check_claim(n)?;
        // A claim is taken before waiting for room. If the wait ends in an error (close, or a
        // halted consumer), the range stays unpublished: nothing after it could be published
        // either, since every later claim needs at least as much room.
        // A compare-and-swap with crossbeam's `Backoff` between failures, not an atomic add:
        // an add always succeeds, so producers running at once hand the cursor's line back and
        // forth on every claim; a producer that lost a race here waits a little, and the
        // winner claims again from its own cache (crossbeam's array channel claims this way).
        // three_to_one on 2 cores, three series of alternating runs pooled (13-24 runs each):
        // blocking 46.8 M vs 44.1 M events/s, busy-spin 36.4 M vs 34.3 M, yield 48.9 M vs
        // 18.8 M (the add's yield runs were mostly in this VM's slow mode); within this
        // machine's run-to-run noise for blocking and busy-spin, never worse.
        let backoff = crossbeam_utils::Backoff::new();
        let mut current = self.core.cursor.get_relaxed();
        while !self.core.cursor.compare_and_set(current, current + n) {
            backoff.spin();
            current = self.core.cursor.get_relaxed();
        }
        let next_sequence = current + n;
        let wrap_point = next_sequence - self.core.buffer_size as i64;
        let cached = self.gating_cache.get();
        if wrap_point > cached || cached > current {
            self.refresh_gating_cache(wrap_point, current)?;
        }
        Ok(next_sequence)
    }

    fn claimed(&self) -> i64 {
        self.core.cursor.get()
    }

    fn try_next(&self, n: i64) -> Result<i64> {
        self.core.check_claim(n)?;
        loop {
            let current = self.core.cursor.get();
            if !self.has_capacity(n, current) {
                return Err(Error::InsufficientCapacity);
            }
            if self.core.cursor.compare_and_set(current, current + n) {
                return Ok(current + n);
            }
        }
    }

    fn check_publish(&self, lo: i64, hi: i64) -> Result<()> {
        self.core.check_range(lo, hi)?;
        let claimed = self.core.cursor.get();
        if hi > claimed {
            return Err(Error::NotClaimed { sequence: lo.max(claimed + 1) });
        }
        for sequence in lo..=hi {
            // The slot's flag holds the lap of its last publish: this lap or a later one means
            // published; the previous lap means free to publish; older means the slot's previous
            // lap is not even published, so nobody can hold this sequence yet (its claimer, if
            // any, still waits for room).
            // Acquire: an answer based on a producer's publish sees that publish.
            let behind =
                self.lap(sequence).wrapping_sub(self.flag(sequence).load(Ordering::Acquire));
            if behind <= 0 {
                return Err(Error::AlreadyPublished { sequence });
            }
            if behind > 1 {
                return Err(Error::NotClaimed { sequence });
            }
        }
        Ok(())
    }

    #[inline]
    fn publish_claimed(&self, lo: i64, hi: i64) {
        for sequence in lo..=hi {
            // Release: the slot's contents happen-before a consumer's Acquire of this flag.
            self.flag(sequence).store(self.lap(sequence), Ordering::Release);
        }
        self.core.wait.signal_all_when_blocking();
    }

    #[inline]
    fn is_available(&self, sequence: i64) -> bool {
        self.flag(sequence).load(Ordering::Acquire) == self.lap(sequence)
    }

    #[inline]
    fn poll_published(&self, sequence: i64) -> Option<i64> {
        self.poll_published_until(sequence, i64::MAX)
    }

    #[inline]
    fn poll_published_until(&self, sequence: i64, last: i64) -> Option<i64> {
        // Nothing precedes sequence 0; clamping also keeps the arithmetic below in range.
        let sequence = sequence.max(0);
        // A consumer is never a whole ring behind what can be published for it.
        let mut end = sequence.saturating_add(self.index_mask).min(last);
        if end >> self.index_shift >= i64::from(i32::MAX) {
            // Laps past i32 are truncated, so a flag (even an untouched -1) may equal the lap
            // of a sequence nobody claimed: bound the scan by the claim cursor. Below that a
            // flag equals the lap of a sequence only once that sequence is published (only the
            // publisher of `s` stores lap(s) into its slot's flag, and no other lap truncates
            // to it), so the scan needs no cursor: the consumer's polls leave the producers'
            // claim cursor line alone.
            // Relaxed: the claim cursor only bounds the scan; the flags carry the
            // synchronisation.
            end = end.min(self.core.cursor.get_relaxed());
        }
        let mut highest = sequence - 1;
        for s in sequence..=end {
            // Relaxed per flag; one Acquire fence below covers every flag read before it.
            if self.flag(s).load(Ordering::Relaxed) != self.lap(s) {
                break;
            }
            highest = s;
        }
        if highest < sequence {
            return None;
        }
        fence(Ordering::Acquire);
        Some(highest)
    }

    fn published_cursor(&self) -> i64 {
        // Everything the gating consumers passed is published: scan from there.
        let consumed = self.core.gating.minimum(i64::MAX);
        if consumed != i64::MAX {
            return self.poll_published(consumed + 1).unwrap_or(consumed);
        }
        self.published_without_consumers()
    }

    fn remaining_capacity(&self) -> i64 {
        // An estimate: no fence needed.
        let claimed = self.core.cursor.get();
        self.core.buffer_size as i64 - (claimed - self.room_bound(claimed))
    }
}

impl<W: WaitStrategy> MultiProducerSequencer<W> {
    /// Claims `n` slots only if the claim reaches no further than a ring past `bound` (a lower
    /// bound of the slowest consumer that the caller keeps itself, as JavaScript producers do)
    /// and no further than `limit`: `Some(hi)`, or `None` with nothing claimed. Never waits:
    /// a compare-and-set on the claim cursor, retried from the value that won when another
    /// producer claimed first.
    ///
    /// ```
    /// use disruptor_core::{BusySpinWaitStrategy, MultiProducerSequencer};
    /// let s = MultiProducerSequencer::new(8, BusySpinWaitStrategy).unwrap();
    /// assert_eq!(s.try_next_within(3, -1, i64::MAX), Some(2));
    /// assert_eq!(s.try_next_within(6, -1, i64::MAX), None); // 8 is more than a ring past -1
    /// assert_eq!(s.try_next_within(1, 0, 2), None); // past the limit
    /// ```
    pub fn try_next_within(&self, n: i64, bound: i64, limit: i64) -> Option<i64> {
        let size = self.core.buffer_size as i64;
        let mut current = self.core.cursor.get_relaxed();
        loop {
            let hi = current + n;
            if hi - size > bound || hi > limit {
                return None;
            }
            // SeqCst (`Sequence::compare_and_set`): the claim step of `next`, as the loom
            // models check it.
            if self.core.cursor.compare_and_set(current, hi) {
                return Some(hi);
            }
            current = self.core.cursor.get_relaxed();
        }
    }

    /// The published cursor of a ring without gating consumers.
    fn published_without_consumers(&self) -> i64 {
        // JavaScript producers may run a ring or more ahead of what is published (their
        // claims are bounded by the claim cursor when no consumer gates them), and the flags
        // keep one ring of history. Scan from what an earlier call found published.
        let floor = self.published_floor.get();
        let found = match self.poll_published(floor + 1) {
            Some(h) => h,
            // The next one's slot was published in a later lap since: its own state is lost, so
            // fall back to the last ring's worth (exact again once fewer than a ring of claims
            // are open).
            None if self.lap_passed(floor + 1) => {
                let from = self.core.cursor.get() - self.core.buffer_size as i64 + 1;
                self.poll_published(from).unwrap_or(from - 1)
            }
            None => floor,
        };
        let mut known = self.published_floor.get_relaxed();
        while found > known && !self.published_floor.compare_and_set(known, found) {
            known = self.published_floor.get_relaxed();
        }
        found
    }
}
