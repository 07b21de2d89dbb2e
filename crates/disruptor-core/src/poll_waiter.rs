//! [`PollWaiter`]: waits, on any thread, until an [`crate::EventPoller`] has something to poll.

use std::sync::Arc;
use std::time::Instant;

use crate::consumer::ConsumerInfo;
use crate::error::{Error, Result};
use crate::sequence::Sequence;
use crate::sequence_barrier::SequenceBarrier;
use crate::sequencer::Sequencer;

/// Blocks a thread with the ring's wait strategy until the poller it came from has events
/// available: how a consumer driven by another thread (a JavaScript event loop) is woken only
/// when it goes from idle to busy. It reads the poller's progress but never changes it.
///
/// ```
/// use disruptor_core::*;
/// let b = DisruptorBuilder::new(
///     RingBuffer::new(8, || 0u8).unwrap(),
///     MultiProducerSequencer::new(8, BlockingWaitStrategy::default()).unwrap(),
/// ).unwrap();
/// let (d, mut p) = b.build();
/// let poller = d.add_poller("js").unwrap();
/// let waiter = poller.waiter();
/// let t = std::thread::spawn(move || waiter.wait());
/// p.publish(|e, _| *e = 1).unwrap();
/// assert_eq!(t.join().unwrap(), Ok(0));
/// d.halt();
/// assert_eq!(poller.waiter().wait(), Err(Error::Closed));
/// ```
pub struct PollWaiter<S: Sequencer> {
    pub(crate) barrier: Arc<SequenceBarrier<S>>,
    pub(crate) sequence: Arc<Sequence>,
    pub(crate) info: Arc<ConsumerInfo>,
}

impl<S: Sequencer> Clone for PollWaiter<S> {
    fn clone(&self) -> Self {
        PollWaiter {
            barrier: self.barrier.clone(),
            sequence: self.sequence.clone(),
            info: self.info.clone(),
        }
    }
}

impl<S: Sequencer> PollWaiter<S> {
    /// Whether the poller has events available now (**Acquire**, never waits).
    pub fn is_ready(&self) -> bool {
        self.barrier.try_wait_for(self.sequence.get() + 1).is_some()
    }

    /// Waits until the poller has events available (or its own sequence is past what it waited
    /// for) and returns the highest available sequence (or the poller's sequence).
    /// [`Error::Closed`] (checked first) once the poller is removed or the disruptor halted;
    /// [`Error::Timeout`] when the ring's wait strategy has a timeout and it passed. Time spent
    /// here counts as the consumer's waiting time in its [`ConsumerInfo`].
    pub fn wait(&self) -> Result<i64> {
        self.wait_from(self.sequence.get() + 1)
    }

    /// [`wait`](Self::wait) for sequence `next` rather than the poller's next one: for a driver
    /// that already handed out sequences it has not released yet (a pool of asynchronous
    /// handlers).
    ///
    /// ```
    /// use disruptor_core::*;
    /// let b = DisruptorBuilder::new(
    ///     RingBuffer::new(8, || 0u8).unwrap(),
    ///     SingleProducerSequencer::new(8, BusySpinWaitStrategy).unwrap(),
    /// ).unwrap();
    /// let (d, mut p) = b.build();
    /// let poller = d.add_poller("js").unwrap();
    /// p.publish_batch(2, |e, _| *e = 1).unwrap();
    /// assert_eq!(poller.waiter().wait_from(1), Ok(1));
    /// ```
    pub fn wait_from(&self, next: i64) -> Result<i64> {
        if self.barrier.is_alerted() {
            return Err(Error::Closed);
        }
        // Also done when the poller itself got to `next` meanwhile (its driver went on without
        // this wait: it released past `next`, which signals). Otherwise, on a multi-producer
        // ring whose producers then lapped `next`'s slot, `next` would never look published
        // again and this wait would never end.
        let mut passed = || {
            let done = self.sequence.get();
            (done >= next).then_some(done)
        };
        if let Some(hi) = self.barrier.try_wait_for(next).or_else(&mut passed) {
            return Ok(hi);
        }
        let start = Instant::now();
        let result = self.barrier.wait_for_or(next, passed);
        self.info.add_wait_nanos(start.elapsed().as_nanos() as u64);
        match result {
            Err(Error::Alerted) => Err(Error::Closed),
            other => other,
        }
    }

    /// Releases a [`wait`](Self::wait) in progress (and every later one) with
    /// [`Error::Closed`], as removing the poller does.
    pub fn close(&self) {
        self.barrier.alert();
    }
}
