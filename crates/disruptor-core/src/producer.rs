//! [`Producer`]: the safe way to fill and publish slots.

use std::sync::Arc;

use crate::data_provider::DataProvider;
use crate::error::Result;
use crate::sequencer::{MultiProducerSequencer, Sequencer};
use crate::wait_strategy::WaitStrategy;

/// Claims slots, lets a closure fill them, and publishes them. If the closure panics, the slots
/// it filled are published and the rest of the claim is abandoned ([`Sequencer::abandon`]):
/// published so that the ring moves on, but skipped by every consumer (a claimed slot that is
/// never published would stop every consumer; a torn one must never reach them).
///
/// A producer over a [`crate::SingleProducerSequencer`] is the only one (not `Clone`, `&mut`
/// methods); over a [`MultiProducerSequencer`] it can be cloned into every producing thread.
/// The sequencer itself stays private to the disruptor, so no safe code can claim behind the
/// producer's back.
///
/// ```
/// use disruptor_core::*;
/// let b = DisruptorBuilder::new(
///     RingBuffer::new(8, || 0u64).unwrap(),
///     MultiProducerSequencer::new(8, BusySpinWaitStrategy).unwrap(),
/// ).unwrap();
/// let (d, mut p) = b.build();
/// let mut p2 = p.clone();
/// assert_eq!(p.publish(|e, s| *e = s as u64), Ok(0));
/// assert_eq!(p2.publish_batch(3, |e, s| *e = s as u64), Ok((1, 3)));
/// d.shutdown().unwrap();
/// ```
pub struct Producer<D: DataProvider, S: Sequencer> {
    data: Arc<D>,
    sequencer: Arc<S>,
}

/// Publishes `[lo, hi]` when dropped; during a panic (the fill did not reach `hi`), publishes
/// what was filled and abandons the rest.
struct PublishOnDrop<'a, S: Sequencer> {
    sequencer: &'a S,
    lo: i64,
    hi: i64,
    /// The last sequence whose fill returned.
    filled: i64,
}

impl<S: Sequencer> Drop for PublishOnDrop<'_, S> {
    #[inline]
    fn drop(&mut self) {
        if self.filled >= self.hi {
            self.sequencer.publish_claimed(self.lo, self.hi);
            return;
        }
        if self.filled >= self.lo {
            self.sequencer.publish_claimed(self.lo, self.filled);
        }
        self.sequencer.abandon_claimed(self.filled + 1, self.hi);
    }
}

impl<D: DataProvider, S: Sequencer> Producer<D, S> {
    pub(crate) fn new(data: Arc<D>, sequencer: Arc<S>) -> Self {
        Producer { data, sequencer }
    }

    #[inline]
    fn fill(&mut self, lo: i64, hi: i64, mut f: impl FnMut(&mut D::Item, i64)) {
        let mut publish = PublishOnDrop { sequencer: &*self.sequencer, lo, hi, filled: lo - 1 };
        for sequence in lo..=hi {
            // SAFETY: we claimed [lo, hi] and have not published it; no other producer got
            // these sequences and no consumer reads them before the publish on drop.
            f(unsafe { self.data.get_mut(sequence) }, sequence);
            publish.filled = sequence;
        }
    }

    /// Claims one slot (waiting for room with the ring's strategy), fills it with
    /// `f(slot, sequence)`, publishes it; returns its sequence.
    #[inline]
    pub fn publish(&mut self, f: impl FnOnce(&mut D::Item, i64)) -> Result<i64> {
        let sequence = self.sequencer.next(1)?;
        let mut f = Some(f);
        self.fill(sequence, sequence, |slot, s| {
            if let Some(f) = f.take() {
                f(slot, s)
            }
        });
        Ok(sequence)
    }

    /// Like [`publish`](Self::publish) but [`crate::Error::InsufficientCapacity`] instead of
    /// waiting.
    #[inline]
    pub fn try_publish(&mut self, f: impl FnOnce(&mut D::Item, i64)) -> Result<i64> {
        let sequence = self.sequencer.try_next(1)?;
        let mut f = Some(f);
        self.fill(sequence, sequence, |slot, s| {
            if let Some(f) = f.take() {
                f(slot, s)
            }
        });
        Ok(sequence)
    }

    /// Claims `n` slots at once, fills each with `f(slot, sequence)`, publishes them together;
    /// returns `(lo, hi)`.
    #[inline]
    pub fn publish_batch(
        &mut self,
        n: usize,
        f: impl FnMut(&mut D::Item, i64),
    ) -> Result<(i64, i64)> {
        let hi = self.sequencer.next(n.min(i64::MAX as usize) as i64)?;
        let lo = hi - n as i64 + 1;
        self.fill(lo, hi, f);
        Ok((lo, hi))
    }

    /// Like [`publish_batch`](Self::publish_batch) but never waits.
    #[inline]
    pub fn try_publish_batch(
        &mut self,
        n: usize,
        f: impl FnMut(&mut D::Item, i64),
    ) -> Result<(i64, i64)> {
        let hi = self.sequencer.try_next(n.min(i64::MAX as usize) as i64)?;
        let lo = hi - n as i64 + 1;
        self.fill(lo, hi, f);
        Ok((lo, hi))
    }

    /// The ring's cursor (see [`Sequencer::cursor`]).
    pub fn cursor(&self) -> i64 {
        self.sequencer.cursor_value()
    }

    /// Slots that can be claimed now without waiting.
    pub fn remaining_capacity(&self) -> i64 {
        self.sequencer.remaining_capacity()
    }
}

impl<D: DataProvider, W: WaitStrategy> Clone for Producer<D, MultiProducerSequencer<W>> {
    fn clone(&self) -> Self {
        Producer { data: self.data.clone(), sequencer: self.sequencer.clone() }
    }
}
