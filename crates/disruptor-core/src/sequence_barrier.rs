//! [`SequenceBarrier`]: what a consumer waits on.

use std::sync::Arc;

use crate::error::{Error, Result};
use crate::sequence::{minimum_sequence, Sequence};
use crate::sequencer::Sequencer;
use crate::wait_strategy::{Alert, WaitError, WaitStrategy};

/// Tells a consumer which sequences it may read: published ones (first stage) or those every
/// upstream consumer has finished (later stages), waiting with the ring's strategy.
///
/// [`wait_for`](SequenceBarrier::wait_for) returns the *highest* available sequence, not just
/// the one asked for, so a consumer that fell behind catches up in one batch.
///
/// ```
/// use std::sync::Arc;
/// use disruptor_core::{BusySpinWaitStrategy, SequenceBarrier, Sequencer, SingleProducerSequencer};
/// let seq = Arc::new(SingleProducerSequencer::new(8, BusySpinWaitStrategy).unwrap());
/// let barrier = SequenceBarrier::new(seq.clone(), vec![]);
/// let hi = seq.next(3).unwrap();
/// seq.publish(0, hi).unwrap();
/// assert_eq!(barrier.wait_for(0), Ok(2)); // a batch of three
/// ```
pub struct SequenceBarrier<S: Sequencer> {
    sequencer: Arc<S>,
    dependents: Box<[Arc<Sequence>]>,
    alert: Alert,
}

impl<S: Sequencer> SequenceBarrier<S> {
    /// A barrier on `sequencer`'s published sequences, or, when `dependents` is not empty, on
    /// the slowest of those upstream consumer sequences.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use disruptor_core::{BusySpinWaitStrategy, Sequence, SequenceBarrier, SingleProducerSequencer};
    /// let seq = Arc::new(SingleProducerSequencer::new(8, BusySpinWaitStrategy).unwrap());
    /// let upstream = Arc::new(Sequence::new(4));
    /// let barrier = SequenceBarrier::new(seq, vec![upstream]);
    /// assert_eq!(barrier.try_wait_for(3), Some(4));
    /// ```
    pub fn new(sequencer: Arc<S>, dependents: Vec<Arc<Sequence>>) -> Self {
        SequenceBarrier { sequencer, dependents: dependents.into(), alert: Alert::default() }
    }

    /// The highest available sequence `>= sequence`, if `sequence` is available now. Never
    /// waits; slots up to the result are visible (**Acquire**).
    ///
    /// ```
    /// use std::sync::Arc;
    /// use disruptor_core::{BusySpinWaitStrategy, SequenceBarrier, SingleProducerSequencer};
    /// let seq = Arc::new(SingleProducerSequencer::new(8, BusySpinWaitStrategy).unwrap());
    /// assert_eq!(SequenceBarrier::new(seq, vec![]).try_wait_for(0), None);
    /// ```
    #[inline]
    pub fn try_wait_for(&self, sequence: i64) -> Option<i64> {
        if self.dependents.is_empty() {
            self.sequencer.poll_published(sequence)
        } else {
            // Upstream consumers only pass published sequences: no availability scan needed.
            let min = minimum_sequence(&self.dependents, i64::MAX);
            (min >= sequence).then_some(min)
        }
    }

    /// Waits until `sequence` is available and returns the highest available sequence.
    /// [`Error::Alerted`] if the barrier is alerted (checked first),
    /// [`Error::Timeout`] if the wait strategy has a timeout and it passes.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use disruptor_core::{BusySpinWaitStrategy, Error, SequenceBarrier, SingleProducerSequencer};
    /// let seq = Arc::new(SingleProducerSequencer::new(8, BusySpinWaitStrategy).unwrap());
    /// let barrier = SequenceBarrier::new(seq, vec![]);
    /// barrier.alert();
    /// assert_eq!(barrier.wait_for(0), Err(Error::Alerted));
    /// ```
    pub fn wait_for(&self, sequence: i64) -> Result<i64> {
        self.wait_for_or(sequence, || None)
    }

    /// [`wait_for`](Self::wait_for) that also ends when `also()` returns a value, which it then
    /// returns (for a waiter that another thread can make pointless, such as a poll waiter
    /// whose poller moved past what it waits for; whoever makes `also` true must signal the
    /// wait strategy).
    ///
    /// ```
    /// use std::sync::Arc;
    /// use disruptor_core::{BusySpinWaitStrategy, SequenceBarrier, SingleProducerSequencer};
    /// let seq = Arc::new(SingleProducerSequencer::new(8, BusySpinWaitStrategy).unwrap());
    /// let barrier = SequenceBarrier::new(seq, vec![]);
    /// assert_eq!(barrier.wait_for_or(0, || Some(-7)), Ok(-7));
    /// ```
    pub fn wait_for_or(&self, sequence: i64, mut also: impl FnMut() -> Option<i64>) -> Result<i64> {
        if self.alert.is_raised() {
            return Err(Error::Alerted);
        }
        // For a waiter: asks a publisher that signals only when asked (a split cursor's) to.
        let mut ready = || {
            if self.dependents.is_empty() {
                self.sequencer.poll_published_for_waiter(sequence)
            } else {
                self.try_wait_for(sequence)
            }
            .or_else(&mut also)
        };
        loop {
            match self.sequencer.wait_strategy().wait_until(&mut ready, &self.alert) {
                // Re-checked here: consumers read slots on this answer, so a (custom) strategy
                // cannot make them read unpublished ones.
                Ok(_) => {
                    if let Some(available) = ready() {
                        return Ok(available);
                    }
                }
                Err(WaitError::Alerted) => return Err(Error::Alerted),
                Err(WaitError::Timeout) => return Err(Error::Timeout),
            }
        }
    }

    /// Interrupts current and future waits with [`Error::Alerted`] (how a consumer is halted).
    ///
    /// ```
    /// use std::sync::Arc;
    /// use disruptor_core::{BusySpinWaitStrategy, SequenceBarrier, SingleProducerSequencer};
    /// let seq = Arc::new(SingleProducerSequencer::new(8, BusySpinWaitStrategy).unwrap());
    /// let b = SequenceBarrier::new(seq, vec![]);
    /// b.alert();
    /// assert!(b.is_alerted());
    /// b.clear_alert();
    /// assert!(!b.is_alerted());
    /// ```
    pub fn alert(&self) {
        self.alert.raise();
        self.sequencer.wait_strategy().signal_all_when_blocking();
    }

    /// Lowers the alert.
    pub fn clear_alert(&self) {
        self.alert.clear();
    }

    /// Whether the barrier is alerted.
    pub fn is_alerted(&self) -> bool {
        self.alert.is_raised()
    }

    /// The sequencer this barrier reads.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use disruptor_core::{BusySpinWaitStrategy, SequenceBarrier, Sequencer, SingleProducerSequencer};
    /// let seq = Arc::new(SingleProducerSequencer::new(8, BusySpinWaitStrategy).unwrap());
    /// let b = SequenceBarrier::new(seq, vec![]);
    /// assert_eq!(b.sequencer().buffer_size(), 8);
    /// ```
    pub fn sequencer(&self) -> &Arc<S> {
        &self.sequencer
    }

    /// The upstream sequences this barrier follows (empty: the producer cursor).
    ///
    /// ```
    /// use std::sync::Arc;
    /// use disruptor_core::{BusySpinWaitStrategy, SequenceBarrier, SingleProducerSequencer};
    /// let seq = Arc::new(SingleProducerSequencer::new(8, BusySpinWaitStrategy).unwrap());
    /// assert!(SequenceBarrier::new(seq, vec![]).dependents().is_empty());
    /// ```
    pub fn dependents(&self) -> &[Arc<Sequence>] {
        &self.dependents
    }
}
