//! [`EventPoller`]: a gating consumer driven by the caller's thread (pull mode).

use std::sync::Arc;

use crate::consumer::{ConsumerInfo, ConsumerState, LocalCounters};
use crate::data_provider::DataProvider;
use crate::dependency::Dependency;
use crate::error::{Error, Result};
use crate::event_handler::HandlerError;
use crate::poll_waiter::PollWaiter;
use crate::sequence::Sequence;
use crate::sequence_barrier::SequenceBarrier;
use crate::sequencer::Sequencer;
use crate::sync::AtomicI64;
use crate::wait_strategy::WaitStrategy;

/// What a poll found.
///
/// ```
/// use disruptor_core::PollState;
/// assert_ne!(PollState::Idle, PollState::Gating);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PollState {
    /// Events were handed to the handler.
    Processing,
    /// The next sequence is claimed (or published) but not yet available to this poller: a
    /// producer is still filling it, or an upstream consumer has not finished it.
    Gating,
    /// Nothing new was claimed.
    Idle,
}

/// A consumer with no thread of its own: the caller polls it. Its sequence gates producers like
/// any consumer, so a poller that is never polled eventually stops the ring (by design: it has
/// not read those events).
///
/// ```
/// use disruptor_core::*;
/// let mut b = DisruptorBuilder::new(
///     RingBuffer::new(8, || 0u32).unwrap(),
///     SingleProducerSequencer::new(8, BusySpinWaitStrategy).unwrap(),
/// ).unwrap();
/// let mut poller = b.poller();
/// let (d, mut p) = b.build();
/// assert_eq!(poller.poll(|_, _, _| true), Ok(PollState::Idle));
/// p.publish(|e, _| *e = 9).unwrap();
/// let mut seen = vec![];
/// assert_eq!(poller.poll(|e, s, _| { seen.push((*e, s)); true }), Ok(PollState::Processing));
/// assert_eq!(seen, [(9, 0)]);
/// d.shutdown().unwrap();
/// ```
pub struct EventPoller<D: DataProvider, S: Sequencer> {
    data: Arc<D>,
    barrier: Arc<SequenceBarrier<S>>,
    sequence: Arc<Sequence>,
    info: Arc<ConsumerInfo>,
    counters: LocalCounters,
    /// The highest sequence [`available`](EventPoller::available) reported: the most that
    /// [`release`](EventPoller::release) may mark processed.
    seen: i64,
}

impl<D: DataProvider, S: Sequencer> EventPoller<D, S> {
    pub(crate) fn new(
        data: Arc<D>,
        barrier: Arc<SequenceBarrier<S>>,
        sequence: Arc<Sequence>,
        info: Arc<ConsumerInfo>,
    ) -> Self {
        let seen = sequence.get();
        EventPoller { data, barrier, sequence, info, counters: LocalCounters::default(), seen }
    }

    /// Hands every available event to `handler(event, sequence, end_of_batch)` until it
    /// returns false, then records progress (also if the handler panics: events it finished
    /// stay finished). Abandoned sequences ([`crate::Sequencer::abandon`]) are skipped, never
    /// handed over. [`Error::Closed`] once the disruptor halted.
    pub fn poll<F>(&mut self, mut handler: F) -> Result<PollState>
    where
        F: FnMut(&D::Item, i64, bool) -> bool,
    {
        let (lo, hi) = match self.available()? {
            Ok(range) => range,
            Err(state) => return Ok(state),
        };
        /// Records progress on drop, so a panicking handler keeps what it finished.
        struct Progress<'a, D: DataProvider, S: Sequencer> {
            poller: &'a mut EventPoller<D, S>,
            lo: i64,
            done: i64,
            skipped: i64,
        }
        impl<D: DataProvider, S: Sequencer> Drop for Progress<'_, D, S> {
            fn drop(&mut self) {
                if self.done >= self.lo {
                    // In range by construction: lo is next, done <= hi <= seen.
                    let _ = self.poller.release(self.lo, self.done);
                    // Skipped sequences are not events.
                    let counters = &mut self.poller.counters;
                    counters.events -= self.skipped as u64;
                    counters.skipped += self.skipped as u64;
                    self.poller.info.store(counters);
                }
            }
        }
        let sequencer = self.barrier.sequencer().clone();
        let mut progress = Progress { poller: self, lo, done: lo - 1, skipped: 0 };
        let mut hole = sequencer.abandoned_in(lo, hi);
        let mut sequence = lo;
        while sequence <= hi {
            if let Some((_, end)) = hole.filter(|&(start, _)| start <= sequence) {
                let to = end.min(hi);
                progress.skipped += to - sequence + 1;
                progress.done = to;
                sequence = to + 1;
                hole = if sequence <= hi { sequencer.abandoned_in(sequence, hi) } else { None };
                continue;
            }
            // The last event handed over: `hi`, or the one before a hole that ends the batch.
            let last = sequence == hi || hole.is_some_and(|(s, e)| s == sequence + 1 && e >= hi);
            // SAFETY: `sequence <= hi`, which the barrier reported available; our sequence is
            // below it until `release`, so no producer can claim the slot again meanwhile.
            let event = unsafe { progress.poller.data.get(sequence) };
            let more = handler(event, sequence, last);
            progress.done = sequence;
            if !more {
                break;
            }
            sequence += 1;
        }
        Ok(PollState::Processing)
    }

    /// The range available now, `Ok(Ok((lo, hi)))`, or why there is none. Nothing is consumed
    /// until [`release`](Self::release): for callers that read the slots elsewhere (the JS
    /// layer reads them from JavaScript).
    pub fn available(&mut self) -> Result<std::result::Result<(i64, i64), PollState>> {
        if self.barrier.is_alerted() {
            return Err(Error::Closed);
        }
        let next = self.sequence.get_relaxed() + 1;
        Ok(match self.barrier.try_wait_for(next) {
            Some(hi) => {
                self.seen = self.seen.max(hi);
                Ok((next, hi))
            }
            None if self.barrier.sequencer().cursor_value() >= next => Err(PollState::Gating),
            None => Err(PollState::Idle),
        })
    }

    /// Waits with the ring's strategy until something is available, then returns the range
    /// (as [`available`](Self::available) would). [`Error::Closed`] on halt.
    pub fn wait(&mut self) -> Result<(i64, i64)> {
        let next = self.sequence.get_relaxed() + 1;
        match self.barrier.wait_for(next) {
            Ok(hi) => {
                self.seen = self.seen.max(hi);
                Ok((next, hi))
            }
            Err(Error::Alerted) => Err(Error::Closed),
            Err(e) => Err(e),
        }
    }

    /// Marks `[lo, hi]` processed: one **Release** store, then waiting producers are woken.
    /// `lo` must be the next unprocessed sequence and `hi` at most what
    /// [`available`](Self::available) or [`wait`](Self::wait) reported, else
    /// [`Error::InvalidRange`] and nothing changes (a poller never moves backwards or past what it
    /// was shown).
    pub fn release(&mut self, lo: i64, hi: i64) -> Result<()> {
        if lo != self.sequence.get_relaxed() + 1 || hi < lo || hi > self.seen {
            return Err(Error::InvalidRange { lo, hi });
        }
        self.sequence.set(hi);
        self.barrier.sequencer().wait_strategy().signal_all_when_blocking();
        self.counters.batch(hi - lo + 1);
        self.info.store(&self.counters);
        Ok(())
    }

    /// The last sequence this poller finished.
    pub fn sequence(&self) -> i64 {
        self.sequence.get()
    }

    /// Name and statistics.
    pub fn info(&self) -> &Arc<ConsumerInfo> {
        &self.info
    }

    /// The atomic of this poller's sequence, for a driver outside Rust that reads slots itself
    /// and records its progress straight into shared memory (JavaScript, with `Atomics.store`).
    ///
    /// # Safety
    /// A store into it marks slots as finished, after which producers may overwrite them. The
    /// caller must only store increasing values, at least Release, each at most the highest
    /// sequence available to this poller, only after it has finished with those slots, never
    /// while [`poll`](Self::poll) runs; and then signal the wait strategy when its
    /// [`crate::WaitStrategy::sleeper_count`] is not zero (see the Dekker note there).
    ///
    /// ```
    /// use disruptor_core::*;
    /// let b = DisruptorBuilder::new(
    ///     SlotBuffer::new(8, 8).unwrap(),
    ///     SingleProducerSequencer::new(8, BusySpinWaitStrategy).unwrap(),
    /// ).unwrap();
    /// let (d, _p) = b.build();
    /// let poller = d.add_poller("js").unwrap();
    /// // SAFETY: only read here.
    /// let atomic = unsafe { poller.sequence_atomic() };
    /// assert_eq!(atomic.load(std::sync::atomic::Ordering::Acquire), -1);
    /// ```
    pub unsafe fn sequence_atomic(&self) -> &AtomicI64 {
        self.sequence.as_atomic()
    }

    /// Sets the statistics a driver outside Rust kept itself (batches, events, largest batch,
    /// skipped sequences and batches by size so far, bucket `k` counting batches of
    /// `2^k ..= 2^(k+1) - 1` events; missing buckets are zero), as [`release`](Self::release)
    /// would have counted them.
    pub fn set_counters(
        &mut self,
        batches: u64,
        events: u64,
        largest_batch: u64,
        skipped: u64,
        batch_sizes: &[u64],
    ) {
        self.counters.batches = batches;
        self.counters.events = events;
        self.counters.largest_batch = largest_batch;
        self.counters.skipped = skipped;
        for (k, slot) in self.counters.batch_sizes.iter_mut().enumerate() {
            *slot = batch_sizes.get(k).copied().unwrap_or(0);
        }
        self.info.store(&self.counters);
        self.info.store_batch_sizes(&self.counters);
    }

    /// A handle later consumers can depend on (see [`crate::Disruptor::add_poller_after`]).
    pub fn dependency(&self) -> Dependency {
        Dependency { sequence: self.sequence.clone(), ring: ring_id(self.barrier.sequencer()) }
    }

    /// A [`PollWaiter`] that another thread can block on until this poller has events.
    pub fn waiter(&self) -> PollWaiter<S> {
        PollWaiter {
            barrier: self.barrier.clone(),
            sequence: self.sequence.clone(),
            info: self.info.clone(),
        }
    }

    /// Records that whoever drives this poller failed to process `sequence` (with `message`)
    /// and skipped it: counted in [`ConsumerInfo::errors`], kept as the last error.
    pub fn record_error(&self, sequence: i64, message: &str) {
        self.info.record_error(sequence, &HandlerError::from(message));
    }

    /// Records that whoever drives this poller failed at `sequence` and stops: the poller is
    /// [`ConsumerState::Failed`], [`crate::Disruptor::drain`] reports it, and producers that
    /// need room it can no longer free get [`Error::ConsumerHalted`] instead of waiting
    /// forever. Later polls return [`Error::Closed`].
    ///
    /// ```
    /// use disruptor_core::*;
    /// let b = DisruptorBuilder::new(
    ///     RingBuffer::new(8, || 0u8).unwrap(),
    ///     SingleProducerSequencer::new(8, BusySpinWaitStrategy).unwrap(),
    /// ).unwrap();
    /// let (d, mut p) = b.build();
    /// let mut poller = d.add_poller("js").unwrap();
    /// p.publish(|e, _| *e = 1).unwrap();
    /// poller.fail(0, "boom");
    /// assert_eq!(poller.info().state(), ConsumerState::Failed);
    /// assert_eq!(d.drain(), Err(Error::ConsumerHalted { name: "js".into() }));
    /// assert_eq!(poller.available(), Err(Error::Closed));
    /// ```
    pub fn fail(&mut self, sequence: i64, message: &str) {
        self.record_error(sequence, message);
        self.info.set_state(ConsumerState::Failed);
        let finished = self.sequence.get_relaxed();
        self.barrier.sequencer().core().report_consumer_fault(self.info.name(), finished);
        self.barrier.alert();
    }
}

/// Identity of a ring, from its sequencer's address (compared, never dereferenced).
pub(crate) fn ring_id<S>(sequencer: &Arc<S>) -> usize {
    Arc::as_ptr(sequencer) as *const () as usize
}
