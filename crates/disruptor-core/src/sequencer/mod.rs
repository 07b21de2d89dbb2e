//! [`Sequencer`]: claims slots for producers and tells consumers what is published.

mod abandoned;
mod gating;
mod multi_producer;
mod single_producer;
mod split_cursor;

pub use abandoned::AbandonedRanges;
pub use gating::GatingSequences;
pub use multi_producer::MultiProducerSequencer;
pub use single_producer::SingleProducerSequencer;
pub use split_cursor::SplitCursor;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use crossbeam_utils::CachePadded;

use crate::error::{Error, Result};
use crate::sequence::Sequence;
use crate::sync::{fence, AtomicBool, Ordering};
use crate::wait_strategy::{Alert, WaitError, WaitStrategy};

/// Coordinates producers with the consumers that gate them.
///
/// Producers [`next`](Sequencer::next) (claim) slots, fill them, then
/// [`publish`](Sequencer::publish) them; consumers learn what is published through
/// [`poll_published`](Sequencer::poll_published) (via a [`crate::SequenceBarrier`]). A producer
/// never claims a slot that a gating consumer has not finished: it waits with the ring's
/// [`WaitStrategy`], and is released with [`Error::Closed`] by [`close`](Sequencer::close) or
/// [`Error::ConsumerHalted`] when a gating consumer halted on an error.
///
/// ```
/// use disruptor_core::{BusySpinWaitStrategy, Sequencer, SingleProducerSequencer};
/// let s = SingleProducerSequencer::new(8, BusySpinWaitStrategy).unwrap();
/// let hi = s.next(2).unwrap();
/// assert_eq!(hi, 1);
/// s.publish(0, hi).unwrap();
/// assert_eq!(s.poll_published(0), Some(1));
/// ```
///
/// # Safety
/// Consumers and producers read and write slots on the strength of what a sequencer answers, so
/// an implementation must keep the protocol: `next`/`try_next` never hand out a sequence twice
/// nor one whose slot a gating sequence has not passed (one ring earlier), and
/// `poll_published`/`is_available` report only sequences that were published, with Acquire.
pub unsafe trait Sequencer: Send + Sync + 'static {
    /// The wait strategy producers and consumers of this ring use.
    type Wait: WaitStrategy;

    /// The state every sequencer has: cursor, gating list, wait strategy, close flag.
    fn core(&self) -> &SequencerCore<Self::Wait>;

    /// Claims the next `n` slots (1 ..= buffer size) and returns the highest claimed sequence,
    /// waiting for room with the wait strategy. The caller must publish what it claimed.
    fn next(&self, n: i64) -> Result<i64>;

    /// Like [`next`](Sequencer::next) but never waits: [`Error::InsufficientCapacity`] when
    /// there is not room for all `n`, and then nothing is claimed.
    fn try_next(&self, n: i64) -> Result<i64>;

    /// The highest claimed sequence: the claim cursor of a multi-producer ring, the producer's
    /// own counter for a single producer (exact on the producing thread, an estimate elsewhere).
    fn claimed(&self) -> i64;

    /// Like [`next`](Sequencer::next), for producers that also drive consumers on their own
    /// thread: it claims only when there is room (never claims and then waits), and while it
    /// waits, `refuse(wrap_point)` is asked whether the consumers below `wrap_point` (the
    /// lowest sequence every gating consumer must have passed) can only advance on the waiting
    /// thread; if so it returns [`Error::WouldDeadlock`] with nothing claimed. Whoever makes
    /// `refuse` true must signal the wait strategy.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use disruptor_core::{BlockingWaitStrategy, Error, Sequence, Sequencer, SingleProducerSequencer};
    /// let s = SingleProducerSequencer::new(2, BlockingWaitStrategy::default()).unwrap();
    /// let mine = Arc::new(Sequence::default()); // a consumer this thread runs
    /// s.add_gating_sequences(&[mine.clone()]);
    /// s.publish(0, s.next_unless(2, |_| false).unwrap()).unwrap();
    /// assert_eq!(s.next_unless(1, |wrap| mine.get() < wrap), Err(Error::WouldDeadlock));
    /// mine.set(0);
    /// assert_eq!(s.next_unless(1, |wrap| mine.get() < wrap), Ok(2));
    /// ```
    fn next_unless(&self, n: i64, mut refuse: impl FnMut(i64) -> bool) -> Result<i64>
    where
        Self: Sized,
    {
        loop {
            match self.try_next(n) {
                Err(Error::InsufficientCapacity) => {}
                claimed => return claimed,
            }
            self.wait_for_room(n, &mut refuse)?;
        }
    }

    /// Waits, claiming nothing, until `n` slots were free at some moment (another producer may
    /// take them first: claim with [`try_next`](Sequencer::try_next) and wait again if it
    /// fails), or `refuse(wrap_point)` is true ([`Error::WouldDeadlock`]). For a claim that must
    /// happen on another thread than the wait (an asynchronous producer).
    ///
    /// ```
    /// use disruptor_core::{BusySpinWaitStrategy, Error, Sequence, Sequencer, MultiProducerSequencer};
    /// let s = MultiProducerSequencer::new(2, BusySpinWaitStrategy).unwrap();
    /// assert_eq!(s.wait_for_room(2, |_| false), Ok(()));
    /// s.add_gating_sequences(&[std::sync::Arc::new(Sequence::default())]);
    /// s.publish(0, s.next(2).unwrap()).unwrap();
    /// assert_eq!(s.wait_for_room(1, |_| true), Err(Error::WouldDeadlock));
    /// ```
    fn wait_for_room(&self, n: i64, refuse: impl FnMut(i64) -> bool) -> Result<()>
    where
        Self: Sized,
    {
        self.core().check_claim(n)?;
        let claimed = self.claimed();
        let wrap_point = claimed + n - self.buffer_size() as i64;
        self.wait_for_gating(wrap_point, claimed, refuse).map(|_| ())
    }

    /// Waits until every gating sequence reached `wrap_point` and returns their minimum (or
    /// `claimed` when there are none), for a producer that keeps its claim counter itself (a
    /// single producer whose fast path runs in JavaScript): as
    /// [`next_unless`](Sequencer::next_unless), it returns [`Error::WouldDeadlock`] when
    /// `refuse(wrap_point)` is true, [`Error::Closed`] on close and [`Error::ConsumerHalted`]
    /// when the room can no longer come.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use disruptor_core::{BusySpinWaitStrategy, Error, Sequence, Sequencer, SingleProducerSequencer};
    /// let s = SingleProducerSequencer::new(4, BusySpinWaitStrategy).unwrap();
    /// let consumer = Arc::new(Sequence::default());
    /// s.add_gating_sequences(&[consumer.clone()]); // joins at the cursor, -1
    /// assert_eq!(s.wait_for_gating(0, 3, |_| true), Err(Error::WouldDeadlock));
    /// consumer.set(2);
    /// assert_eq!(s.wait_for_gating(1, 5, |_| false), Ok(2));
    /// ```
    fn wait_for_gating(
        &self,
        wrap_point: i64,
        claimed: i64,
        refuse: impl FnMut(i64) -> bool,
    ) -> Result<i64>
    where
        Self: Sized,
    {
        if self.is_closed() {
            return Err(Error::Closed);
        }
        self.core().wait_for_capacity_unless(wrap_point, claimed, refuse, None)
    }

    /// [`wait_for_gating`](Sequencer::wait_for_gating) that gives up with [`Error::Timeout`]
    /// after `limit` (for a waiting thread that must come back regularly).
    ///
    /// ```
    /// use std::time::Duration;
    /// use disruptor_core::*;
    /// let s = SingleProducerSequencer::new(4, BlockingWaitStrategy::default()).unwrap();
    /// s.add_gating_sequences(&[std::sync::Arc::new(Sequence::new(-1))]);
    /// let limit = Duration::from_millis(1);
    /// assert_eq!(s.wait_for_gating_for(0, 3, |_| false, limit), Err(Error::Timeout));
    /// assert_eq!(s.wait_for_gating_for(-1, 3, |_| false, limit), Ok(-1));
    /// ```
    fn wait_for_gating_for(
        &self,
        wrap_point: i64,
        claimed: i64,
        refuse: impl FnMut(i64) -> bool,
        limit: Duration,
    ) -> Result<i64>
    where
        Self: Sized,
    {
        if self.is_closed() {
            return Err(Error::Closed);
        }
        self.core().wait_for_capacity_unless(wrap_point, claimed, refuse, Some(limit))
    }

    /// Checks that `[lo, hi]` may be published: claimed and not yet published (and, for a
    /// single producer, the next range in claim order).
    fn check_publish(&self, lo: i64, hi: i64) -> Result<()>;

    /// Makes `[lo, hi]` visible to consumers, after [`check_publish`](Sequencer::check_publish).
    ///
    /// ```
    /// use disruptor_core::{BusySpinWaitStrategy, Error, Sequencer, MultiProducerSequencer};
    /// let s = MultiProducerSequencer::new(4, BusySpinWaitStrategy).unwrap();
    /// assert_eq!(s.publish(0, 0), Err(Error::NotClaimed { sequence: 0 }));
    /// let hi = s.next(1).unwrap();
    /// s.publish(hi, hi).unwrap();
    /// assert_eq!(s.published_cursor(), 0);
    /// ```
    fn publish(&self, lo: i64, hi: i64) -> Result<()> {
        self.check_publish(lo, hi)?;
        self.publish_claimed(lo, hi);
        Ok(())
    }

    /// Gives up `[lo, hi]`, claimed and never filled: marks it abandoned, then publishes it so
    /// that the ring moves on. Consumers skip it (see [`abandoned_in`](Sequencer::abandoned_in));
    /// none receives it. Checked as [`publish`](Sequencer::publish) is.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use disruptor_core::{BusySpinWaitStrategy, Sequence, Sequencer, MultiProducerSequencer};
    /// let s = MultiProducerSequencer::new(4, BusySpinWaitStrategy).unwrap();
    /// let consumer = Arc::new(Sequence::default());
    /// s.add_gating_sequences(&[consumer.clone()]);
    /// let hi = s.next(2).unwrap();
    /// s.abandon(0, hi).unwrap();
    /// assert_eq!(s.published_cursor(), 1);
    /// assert_eq!(s.abandoned_in(0, 3), Some((0, 1)));
    /// consumer.set(1); // past it: the range is dropped
    /// assert_eq!(s.abandoned_in(0, 3), None);
    /// ```
    fn abandon(&self, lo: i64, hi: i64) -> Result<()> {
        self.check_publish(lo, hi)?;
        self.abandon_claimed(lo, hi);
        Ok(())
    }

    /// [`abandon`](Sequencer::abandon) without the checks: for callers that hold the claim.
    fn abandon_claimed(&self, lo: i64, hi: i64) {
        // Marked before the publish, whose Release store orders the mark before it.
        self.core().abandoned().mark(lo, hi);
        self.publish_claimed(lo, hi);
    }

    /// The first abandoned range that overlaps `[lo, hi]`, if any: what a consumer that found
    /// `[lo, hi]` available (an Acquire of the cursor or the flags) must skip. One load when
    /// no abandoned range is recorded; ranges every gating consumer passed are dropped.
    ///
    /// ```
    /// use disruptor_core::{BusySpinWaitStrategy, Sequencer, SingleProducerSequencer};
    /// let s = SingleProducerSequencer::new(4, BusySpinWaitStrategy).unwrap();
    /// s.publish(0, s.next(1).unwrap()).unwrap();
    /// assert_eq!(s.abandoned_in(0, 0), None);
    /// ```
    #[inline]
    fn abandoned_in(&self, lo: i64, hi: i64) -> Option<(i64, i64)> {
        let core = self.core();
        core.abandoned().first_in(lo, hi, || core.gating.minimum(i64::MAX))
    }

    /// Publishes `[lo, hi]` without the checks of [`publish`](Sequencer::publish): for callers
    /// that hold the claim, such as [`crate::Producer`].
    fn publish_claimed(&self, lo: i64, hi: i64);

    /// Whether `sequence` is published (**Acquire**: its slot's contents are visible after).
    fn is_available(&self, sequence: i64) -> bool;

    /// If `sequence` is published, the highest published sequence `h >= sequence` such that
    /// every sequence in `[sequence, h]` is published (a batch); otherwise `None`. Slots up to
    /// the result are visible to the caller (**Acquire**).
    fn poll_published(&self, sequence: i64) -> Option<i64>;

    /// [`poll_published`](Sequencer::poll_published) that looks no further than `last` (a
    /// batch limit): the same answer capped at `last`, without reading past it.
    ///
    /// ```
    /// use disruptor_core::{BusySpinWaitStrategy, MultiProducerSequencer, Sequencer};
    /// let s = MultiProducerSequencer::new(8, BusySpinWaitStrategy).unwrap();
    /// let hi = s.next(4).unwrap();
    /// s.publish(0, hi).unwrap();
    /// assert_eq!(s.poll_published_until(1, 2), Some(2));
    /// assert_eq!(s.poll_published_until(4, 6), None);
    /// ```
    fn poll_published_until(&self, sequence: i64, last: i64) -> Option<i64> {
        self.poll_published(sequence).map(|highest| highest.min(last)).filter(|&h| h >= sequence)
    }

    /// [`poll_published`](Sequencer::poll_published) for a thread that waits with the wait
    /// strategy when it gets `None`: a sequencer whose publisher signals only when asked (a
    /// [`SplitCursor`] published from JavaScript) records the request here
    /// ([`SplitCursor::get_or_flag`]). [`crate::SequenceBarrier`]'s waits use it.
    ///
    /// ```
    /// use disruptor_core::{BusySpinWaitStrategy, Sequencer, SingleProducerSequencer};
    /// let s = SingleProducerSequencer::with_split_cursor(4, BusySpinWaitStrategy).unwrap();
    /// assert_eq!(s.poll_published_for_waiter(0), None);
    /// s.publish(0, s.next(1).unwrap()).unwrap();
    /// assert_eq!(s.poll_published_for_waiter(0), Some(0));
    /// ```
    fn poll_published_for_waiter(&self, sequence: i64) -> Option<i64> {
        self.poll_published(sequence)
    }

    /// The highest sequence `h` such that every sequence up to `h` is published.
    fn published_cursor(&self) -> i64;

    /// How many slots can be claimed now without waiting.
    fn remaining_capacity(&self) -> i64;

    /// The number of slots in the ring.
    fn buffer_size(&self) -> usize {
        self.core().buffer_size
    }

    /// The cursor: the highest claimed sequence for a multi-producer ring, the highest
    /// published one for a single producer; for a single producer with a split cursor
    /// ([`SingleProducerSequencer::with_split_cursor`]) only its epoch (a lower bound). Read its
    /// value with [`cursor_value`](Sequencer::cursor_value), which is right for every sequencer.
    fn cursor(&self) -> &Arc<Sequence> {
        &self.core().cursor
    }

    /// The cursor's value (**Acquire**): the highest claimed sequence for a multi-producer
    /// ring, the highest published one for a single producer (split cursor or not).
    ///
    /// ```
    /// use disruptor_core::{BusySpinWaitStrategy, MultiProducerSequencer, Sequencer};
    /// let s = MultiProducerSequencer::new(4, BusySpinWaitStrategy).unwrap();
    /// s.next(2).unwrap();
    /// assert_eq!(s.cursor_value(), 1); // claimed, not yet published
    /// ```
    fn cursor_value(&self) -> i64 {
        self.core().cursor.get()
    }

    /// The wait strategy.
    fn wait_strategy(&self) -> &Self::Wait {
        &self.core().wait
    }

    /// The consumer sequences that gate producers (read-only; change them with
    /// [`add_gating_sequences`](Sequencer::add_gating_sequences) and
    /// [`remove_gating_sequence`](Sequencer::remove_gating_sequence)).
    fn gating_sequences(&self) -> &GatingSequences {
        &self.core().gating
    }

    /// Adds consumer sequences that gate producers, then sets each to the cursor: a consumer
    /// joining a running ring starts after what is already there (LMAX's order: any gating
    /// minimum a producer cached before the add is at most the cursor, so it cannot let the
    /// producer overtake the new consumer).
    ///
    /// ```
    /// use std::sync::Arc;
    /// use disruptor_core::{BusySpinWaitStrategy, Sequence, Sequencer, SingleProducerSequencer};
    /// let s = SingleProducerSequencer::new(4, BusySpinWaitStrategy).unwrap();
    /// s.publish(0, s.next(2).unwrap()).unwrap();
    /// let late = Arc::new(Sequence::default());
    /// s.add_gating_sequences(&[late.clone()]);
    /// assert_eq!(late.get(), 1);
    /// assert_eq!(s.remaining_capacity(), 4);
    /// ```
    fn add_gating_sequences(&self, sequences: &[Arc<Sequence>]) {
        let core = self.core();
        // LMAX's order: each sequence is at the cursor before it can gate a producer (a producer
        // that reads it in the list sees a recent value, not whatever it held), and again after.
        let cursor = self.cursor_value();
        for s in sequences {
            s.set(cursor);
        }
        core.gating.add(sequences);
        // SeqCst: the joiner's half of a store-load handshake with producers refreshing their
        // gating cache (`SequencerCore::gating_minimum_for_claim`, the producer's half): either
        // a producer's read of the list sees the new sequences, or this read of the cursor sees
        // what that producer published before its read. Without it both reads may miss the
        // other thread's store, and the producer claims over what this consumer starts at
        // (loom: `consumer_joining_*_is_never_overtaken`).
        fence(Ordering::SeqCst);
        let cursor = self.cursor_value();
        for s in sequences {
            s.set(cursor);
        }
        // A producer waiting for room may have read the first value and gone to sleep on it:
        // wake it to read the second (loom: `consumer_joining_wakes_a_producer_waiting_for_room`).
        core.wait.signal_all_when_blocking();
    }

    /// Stops `sequence` from gating producers; true if it did. Producers it held back are woken.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use disruptor_core::{BusySpinWaitStrategy, Sequence, Sequencer, SingleProducerSequencer};
    /// let s = SingleProducerSequencer::new(4, BusySpinWaitStrategy).unwrap();
    /// let c = Arc::new(Sequence::default());
    /// assert!(!s.remove_gating_sequence(&c));
    /// ```
    fn remove_gating_sequence(&self, sequence: &Arc<Sequence>) -> bool {
        let removed = self.core().gating.remove(sequence);
        self.core().wait.signal_all_when_blocking();
        removed
    }

    /// Refuses new claims and releases waiting producers with [`Error::Closed`].
    fn close(&self) {
        self.core().close();
    }

    /// Whether [`close`](Sequencer::close) was called.
    fn is_closed(&self) -> bool {
        self.core().is_closed()
    }
}

/// What every [`Sequencer`] holds: size, cursor, gating list, wait strategy and the flags that
/// release waiting producers.
///
/// ```
/// use disruptor_core::{BlockingWaitStrategy, Sequencer, SingleProducerSequencer};
/// let s = SingleProducerSequencer::new(4, BlockingWaitStrategy::default()).unwrap();
/// assert_eq!(s.core().buffer_size(), 4);
/// ```
pub struct SequencerCore<W> {
    buffer_size: usize,
    cursor: Arc<Sequence>,
    gating: GatingSequences,
    wait: W,
    /// Raised on close or on a consumer fault: releases producers waiting for room.
    alert: Alert,
    /// On a cache line of its own: JavaScript producers and consumers read it on every claim and
    /// poll, and it used to share a line with the blocking strategy's sleeper count and lock,
    /// which every sleep and wake-up writes.
    closed: CachePadded<AtomicBool>,
    /// The first consumer that halted on an error, and the lowest sequence a halted consumer
    /// stopped at: the gating minimum can never pass it again.
    fault: Mutex<Option<(String, i64)>>,
    /// Claimed ranges given up by their producer, which consumers skip.
    abandoned: AbandonedRanges,
}

impl<W: WaitStrategy> SequencerCore<W> {
    pub(crate) fn new(buffer_size: usize, wait: W) -> Result<Self> {
        check_buffer_size(buffer_size)?;
        Ok(SequencerCore {
            buffer_size,
            cursor: Arc::new(Sequence::default()),
            gating: GatingSequences::default(),
            wait,
            alert: Alert::default(),
            closed: CachePadded::new(AtomicBool::new(false)),
            fault: Mutex::new(None),
            abandoned: AbandonedRanges::default(),
        })
    }

    /// The ranges abandoned on this ring (see [`Sequencer::abandon`]).
    ///
    /// ```
    /// use disruptor_core::{BusySpinWaitStrategy, Sequencer, MultiProducerSequencer};
    /// let s = MultiProducerSequencer::new(4, BusySpinWaitStrategy).unwrap();
    /// assert_eq!(s.core().abandoned().total(), 0);
    /// ```
    pub fn abandoned(&self) -> &AbandonedRanges {
        &self.abandoned
    }

    /// The number of slots in the ring.
    ///
    /// ```
    /// use disruptor_core::{BusySpinWaitStrategy, Sequencer, MultiProducerSequencer};
    /// let s = MultiProducerSequencer::new(16, BusySpinWaitStrategy).unwrap();
    /// assert_eq!(s.core().buffer_size(), 16);
    /// ```
    pub fn buffer_size(&self) -> usize {
        self.buffer_size
    }

    /// Records that consumer `name` halted on an error after finishing `sequence`: from then
    /// on no gating sequence can pass `sequence`, so a producer that needs room beyond it gets
    /// [`Error::ConsumerHalted`] instead of waiting forever (one that needs less still waits).
    ///
    /// ```
    /// use disruptor_core::{BusySpinWaitStrategy, Error, Sequencer, SingleProducerSequencer};
    /// use std::sync::Arc;
    /// let s = SingleProducerSequencer::new(1, BusySpinWaitStrategy).unwrap();
    /// s.add_gating_sequences(&[Arc::new(disruptor_core::Sequence::default())]);
    /// s.core().report_consumer_fault("journal", -1);
    /// s.publish(0, s.next(1).unwrap()).unwrap();
    /// assert_eq!(s.next(1), Err(Error::ConsumerHalted { name: "journal".into() }));
    /// ```
    pub fn report_consumer_fault(&self, name: &str, sequence: i64) {
        let mut fault = self.fault.lock().unwrap_or_else(|e| e.into_inner());
        match fault.as_mut() {
            None => *fault = Some((name.to_owned(), sequence)),
            Some((_, lowest)) => *lowest = (*lowest).min(sequence),
        }
        drop(fault);
        self.alert.raise();
        self.wait.signal_all_when_blocking();
    }

    pub(crate) fn close(&self) {
        // Relaxed: the alert's Release store below publishes it to waiters.
        self.closed.store(true, Ordering::Relaxed);
        self.alert.raise();
        self.wait.signal_all_when_blocking();
    }

    pub(crate) fn is_closed(&self) -> bool {
        // Relaxed: a hint for fast refusal; waiters synchronise through the alert.
        self.closed.load(Ordering::Relaxed)
    }

    /// The flag [`Sequencer::close`] sets (once, for good): for producers outside Rust that
    /// claim and publish through shared memory, to refuse calls after a close made on another
    /// thread. A hint, like [`Sequencer::is_closed`]: waiters are released through the alert.
    ///
    /// ```
    /// use disruptor_core::{BusySpinWaitStrategy, Sequencer, SingleProducerSequencer};
    /// let s = SingleProducerSequencer::new(4, BusySpinWaitStrategy).unwrap();
    /// s.close();
    /// assert!(s.core().closed_flag().load(std::sync::atomic::Ordering::Relaxed));
    /// ```
    pub fn closed_flag(&self) -> &AtomicBool {
        &self.closed
    }

    /// Checks a claim of `n` slots on a ring that is not closed.
    #[inline]
    pub(crate) fn check_claim(&self, n: i64) -> Result<()> {
        if n < 1 || n > self.buffer_size as i64 {
            return Err(Error::InvalidClaim { requested: n, buffer_size: self.buffer_size });
        }
        if self.is_closed() {
            return Err(Error::Closed);
        }
        Ok(())
    }

    /// Checks the shape of a publish range.
    #[inline]
    pub(crate) fn check_range(&self, lo: i64, hi: i64) -> Result<()> {
        if lo < 0 || lo > hi || hi - lo >= self.buffer_size as i64 {
            return Err(Error::InvalidRange { lo, hi });
        }
        Ok(())
    }

    /// Waits until no gating sequence is below `wrap_point`; returns the gating minimum.
    /// `claimed` (the producer's claim cursor) stands in when there is no gating sequence.
    #[inline]
    pub(crate) fn wait_for_capacity(&self, wrap_point: i64, claimed: i64) -> Result<i64> {
        self.wait_for_capacity_unless(wrap_point, claimed, |_| false, None)
    }

    /// The gating minimum as a producer must read it before caching room (`default` without
    /// consumers, and never above it: [`GatingSequences::minimum`]), after a **SeqCst** fence:
    /// the producer's half of the store-load handshake with a consumer joining the ring (the
    /// joiner's half is in [`Sequencer::add_gating_sequences`]). If this read misses the
    /// joining consumer, the joiner's read of the cursor sees everything this producer
    /// published before the fence (and, for a multi producer, the claim cursor it read before
    /// it), so the consumer starts at or after that, and the bound returned cannot let the
    /// producer overwrite a slot the consumer has yet to read. LMAX's
    /// `SingleProducerSequencer.next` has the same barrier (`cursor.setVolatile(nextValue)`,
    /// "StoreLoad fence").
    ///
    /// ```
    /// use std::sync::Arc;
    /// use disruptor_core::{BusySpinWaitStrategy, Sequence, Sequencer, SingleProducerSequencer};
    /// let s = SingleProducerSequencer::new(4, BusySpinWaitStrategy).unwrap();
    /// assert_eq!(s.core().gating_minimum_for_claim(7), 7); // no consumer: the default
    /// s.add_gating_sequences(&[Arc::new(Sequence::new(3))]); // joins at the cursor, -1
    /// assert_eq!(s.core().gating_minimum_for_claim(7), -1);
    /// ```
    pub fn gating_minimum_for_claim(&self, claimed: i64) -> i64 {
        // SeqCst: the store-load barrier described above.
        fence(Ordering::SeqCst);
        self.gating.minimum(claimed)
    }

    /// [`wait_for_capacity`](Self::wait_for_capacity) that gives up with
    /// [`Error::WouldDeadlock`] as soon as `refuse(wrap_point)` is true (checked before waiting
    /// and on every wake-up; whoever makes it true must signal the wait strategy), and with
    /// [`Error::Timeout`] after `limit` if there is one.
    pub(crate) fn wait_for_capacity_unless(
        &self,
        wrap_point: i64,
        claimed: i64,
        refuse: impl FnMut(i64) -> bool,
        limit: Option<Duration>,
    ) -> Result<i64> {
        let gating = &self.gating;
        self.wait_for_bound(wrap_point, || gating.minimum(claimed), refuse, limit)
    }

    /// [`wait_for_capacity_unless`](Self::wait_for_capacity_unless) with the bound on claims
    /// computed by `bound` (read after a **SeqCst** fence, as in
    /// [`gating_minimum_for_claim`](Self::gating_minimum_for_claim)) instead of the gating
    /// minimum: for a multi producer without consumers, what is published.
    pub(crate) fn wait_for_bound(
        &self,
        wrap_point: i64,
        mut bound: impl FnMut() -> i64,
        mut refuse: impl FnMut(i64) -> bool,
        limit: Option<Duration>,
    ) -> Result<i64> {
        // SeqCst: the producer's half of the handshake with a joining consumer, as in
        // `gating_minimum_for_claim`; one fence orders every read of the loop below.
        fence(Ordering::SeqCst);
        // Some(Ok(min)): room; Some(Err(_)): refused; None: keep waiting.
        let mut check = || {
            let min = bound();
            if wrap_point <= min {
                Some(Ok(min))
            } else if refuse(wrap_point) {
                Some(Err(Error::WouldDeadlock))
            } else {
                None
            }
        };
        loop {
            let waited = match limit {
                None => self.wait.wait_until(|| check().map(|_| 0), &self.alert),
                Some(limit) => self.wait.wait_until_for(|| check().map(|_| 0), &self.alert, limit),
            };
            match waited {
                // The strategy's answer is re-checked: a (custom) strategy cannot make a producer
                // overwrite a slot that is still in use.
                Ok(_) => {
                    if let Some(answer) = check() {
                        return answer;
                    }
                }
                // Only a wait with a limit times out: a multi-producer claim is already taken
                // and must be published. (A timeout strategy's own timeouts are for consumers,
                // `EventHandler::on_timeout`.)
                Err(WaitError::Timeout) if limit.is_some() => return Err(Error::Timeout),
                Err(WaitError::Timeout) => {}
                Err(WaitError::Alerted) => return self.wait_after_fault(wrap_point, check),
            }
        }
    }

    /// The alert is raised for good: closed, or a consumer halted. In the second case room may
    /// still come (consumers downstream of the halted one catch up to where it stopped), so poll
    /// with a backoff until it does, the ring closes, or the room needed is past the halt.
    #[cold]
    fn wait_after_fault(
        &self,
        wrap_point: i64,
        mut check: impl FnMut() -> Option<Result<i64>>,
    ) -> Result<i64> {
        let backoff = crossbeam_utils::Backoff::new();
        loop {
            if let Some(answer) = check() {
                return answer;
            }
            if self.is_closed() {
                return Err(Error::Closed);
            }
            match self.fault.lock().unwrap_or_else(|e| e.into_inner()).as_ref() {
                Some((name, halted)) if wrap_point > *halted => {
                    return Err(Error::ConsumerHalted { name: name.clone() });
                }
                Some(_) => {}
                None => return Err(Error::Closed),
            }
            if backoff.is_completed() {
                std::thread::sleep(std::time::Duration::from_micros(100));
            } else {
                backoff.snooze();
            }
        }
    }
}

pub(crate) fn check_buffer_size(size: usize) -> Result<()> {
    if size == 0 || !size.is_power_of_two() || size > crate::MAX_BUFFER_SIZE {
        return Err(Error::InvalidBufferSize(size));
    }
    Ok(())
}
