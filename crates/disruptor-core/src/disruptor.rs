//! [`Disruptor`]: a running ring with its consumers.

use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_utils::Backoff;

use crate::consumer::{ConsumerInfo, ConsumerState};
use crate::data_provider::DataProvider;
use crate::error::{Error, Result};
use crate::sequence_barrier::SequenceBarrier;
use crate::sequencer::Sequencer;

/// A started disruptor: its consumer threads run until [`halt`](Disruptor::halt) or
/// [`shutdown`](Disruptor::shutdown) (or drop, which halts). Built by
/// [`crate::DisruptorBuilder::build`], which also returns the [`crate::Producer`].
///
/// ```
/// use disruptor_core::*;
/// let mut b = DisruptorBuilder::new(
///     RingBuffer::new(16, || 0u8).unwrap(),
///     SingleProducerSequencer::new(16, BlockingWaitStrategy::default()).unwrap(),
/// ).unwrap();
/// b.handle_events_with(|_: &u8, _: i64, _: bool| {});
/// let (d, mut p) = b.build();
/// p.publish(|e, _| *e = 1).unwrap();
/// d.drain().unwrap();
/// assert_eq!(d.consumers()[0].events(), 1);
/// d.shutdown().unwrap();
/// ```
pub struct Disruptor<D: DataProvider, S: Sequencer> {
    data: Arc<D>,
    sequencer: Arc<S>,
    barriers: Vec<Arc<SequenceBarrier<S>>>,
    consumers: Vec<Arc<ConsumerInfo>>,
    threads: Mutex<Vec<JoinHandle<()>>>,
}

impl<D: DataProvider, S: Sequencer> Disruptor<D, S> {
    pub(crate) fn start(
        data: Arc<D>,
        sequencer: Arc<S>,
        barriers: Vec<Arc<SequenceBarrier<S>>>,
        consumers: Vec<Arc<ConsumerInfo>>,
        tasks: Vec<(String, Box<dyn FnOnce() + Send>)>,
    ) -> Self {
        let threads = tasks
            .into_iter()
            .map(|(name, task)| {
                std::thread::Builder::new()
                    .name(name)
                    .spawn(task)
                    .expect("the OS refused to start a consumer thread")
            })
            .collect();
        Disruptor { data, sequencer, barriers, consumers, threads: Mutex::new(threads) }
    }

    /// Every consumer (thread or poller), in the order they were added.
    pub fn consumers(&self) -> &[Arc<ConsumerInfo>] {
        &self.consumers
    }

    /// The highest sequence up to which everything is published.
    pub fn cursor(&self) -> i64 {
        self.sequencer.published_cursor()
    }

    /// Slots that can be claimed now without waiting.
    pub fn remaining_capacity(&self) -> i64 {
        self.sequencer.remaining_capacity()
    }

    /// The ring's slots.
    pub fn data(&self) -> &Arc<D> {
        &self.data
    }

    /// Waits until every consumer has processed everything published before the call.
    /// [`Error::ConsumerHalted`] if a consumer failed (it never will catch up).
    pub fn drain(&self) -> Result<()> {
        self.drain_until(None)
    }

    /// [`drain`](Self::drain) giving up with [`Error::Timeout`] after `timeout`.
    pub fn drain_timeout(&self, timeout: Duration) -> Result<()> {
        self.drain_until(Instant::now().checked_add(timeout))
    }

    fn drain_until(&self, deadline: Option<Instant>) -> Result<()> {
        let target = self.sequencer.published_cursor();
        let backoff = Backoff::new();
        loop {
            if self.sequencer.gating_sequences().minimum(i64::MAX) >= target {
                return Ok(());
            }
            if let Some(failed) = self.consumers.iter().find(|c| c.state() == ConsumerState::Failed)
            {
                return Err(Error::ConsumerHalted { name: failed.name().to_owned() });
            }
            if deadline.is_some_and(|d| Instant::now() >= d) {
                return Err(Error::Timeout);
            }
            if backoff.is_completed() {
                std::thread::sleep(Duration::from_micros(50));
            } else {
                backoff.snooze();
            }
        }
    }

    /// Stops at once: closes the sequencer (waiting producers get [`Error::Closed`]), alerts
    /// every consumer and joins their threads. Events not yet consumed stay unconsumed. Safe to
    /// call from several threads and more than once; each call returns once the threads are
    /// gone. Must not be called from a handler (its own thread would wait for itself).
    pub fn halt(&self) {
        self.sequencer.close();
        for barrier in &self.barriers {
            barrier.alert();
        }
        // The lock is held while joining, so a concurrent `halt` returns only once every thread
        // has stopped.
        let mut threads = self.threads.lock().unwrap_or_else(|e| e.into_inner());
        for t in threads.drain(..) {
            // A consumer thread cannot panic (handlers' panics are caught); ignore if it did.
            let _ = t.join();
        }
    }

    /// [`drain`](Self::drain), then [`halt`](Self::halt). Returns the drain's error, if any,
    /// after halting anyway.
    pub fn shutdown(self) -> Result<()> {
        let drained = self.drain();
        self.halt();
        drained
    }

    /// [`shutdown`](Self::shutdown) with a time limit on the drain.
    pub fn shutdown_timeout(self, timeout: Duration) -> Result<()> {
        let drained = self.drain_timeout(timeout);
        self.halt();
        drained
    }
}

impl<D: DataProvider, S: Sequencer> Drop for Disruptor<D, S> {
    /// Halts: no consumer thread outlives its disruptor.
    fn drop(&mut self) {
        self.halt();
    }
}
