//! [`WorkProcessor`]: one worker of a pool in which each sequence goes to exactly one worker.

use std::sync::Arc;

use crate::consumer::{ConsumerInfo, ConsumerOptions, ConsumerState, LocalCounters};
use crate::data_provider::DataProvider;
use crate::error::{Error, Result};
use crate::event_handler::EventHandler;
use crate::processor::{wait_timed, BatchRunner};
use crate::sequence::Sequence;
use crate::sequence_barrier::SequenceBarrier;
use crate::sequencer::Sequencer;
use crate::wait_strategy::WaitStrategy;

/// A worker of a pool. Workers share a *work sequence* (the highest sequence handed out) and
/// claim ranges from it with compare-and-swap, so each sequence is handled by exactly one
/// worker; a worker takes every available sequence up to its `max_batch_size` in one claim.
///
/// Each worker's own sequence is "everything I claimed up to here is done, and I hold nothing
/// at or below it": it is set to the work sequence *before* claiming, and to the end of the
/// claim after handling it. So the minimum over the pool's workers never passes a sequence a
/// worker still holds; that minimum gates producers and downstream stages.
///
/// ```
/// use std::sync::{Arc, atomic::{AtomicU64, Ordering}};
/// use disruptor_core::*;
/// let total = Arc::new(AtomicU64::new(0));
/// let mut b = DisruptorBuilder::new(
///     RingBuffer::new(64, || 0u64).unwrap(),
///     MultiProducerSequencer::new(64, BlockingWaitStrategy::default()).unwrap(),
/// ).unwrap();
/// let workers: Vec<_> = (0..3).map(|_| {
///     let t = total.clone();
///     move |e: &u64, _: i64, _: bool| { t.fetch_add(*e, Ordering::Relaxed); }
/// }).collect();
/// b.handle_events_with_worker_pool(workers);
/// let (d, mut p) = b.build();
/// for i in 1..=1000u64 { p.publish(|e, _| *e = i).unwrap(); }
/// d.shutdown().unwrap();
/// assert_eq!(total.load(Ordering::Relaxed), 500_500);
/// ```
pub struct WorkProcessor<D: DataProvider, S: Sequencer, H> {
    runner: BatchRunner<D, H>,
    barrier: Arc<SequenceBarrier<S>>,
    work_sequence: Arc<Sequence>,
    sequence: Arc<Sequence>,
    max_batch_size: i64,
}

impl<D: DataProvider, S: Sequencer, H: EventHandler<D::Item>> WorkProcessor<D, S, H> {
    /// A worker sharing `work_sequence` with the other workers of its pool.
    /// [`crate::DisruptorBuilder::handle_events_with_worker_pool`] is the safe way to make one.
    ///
    /// # Safety
    /// As for [`crate::BatchEventProcessor::new`]; in addition `work_sequence` is shared only by
    /// the workers of one pool, which all use the same barrier.
    pub unsafe fn new(
        data: Arc<D>,
        barrier: Arc<SequenceBarrier<S>>,
        work_sequence: Arc<Sequence>,
        handler: H,
        options: ConsumerOptions,
    ) -> Self {
        let sequence = Arc::new(Sequence::new(work_sequence.get()));
        let name = options.name.unwrap_or_else(|| "work-processor".to_owned());
        let info = Arc::new(ConsumerInfo::new(name, sequence.clone()));
        WorkProcessor {
            runner: BatchRunner { data, handler, policy: options.exception_policy, info },
            barrier,
            work_sequence,
            sequence,
            max_batch_size: options.max_batch_size.unwrap_or(i64::MAX),
        }
    }

    /// This worker's progress (see the type's docs for its meaning).
    pub fn sequence(&self) -> &Arc<Sequence> {
        &self.sequence
    }

    /// Name, statistics and errors.
    pub fn info(&self) -> &Arc<ConsumerInfo> {
        &self.runner.info
    }

    /// Runs until the barrier is alerted or the policy halts on an error.
    pub fn run(&mut self) {
        let info = self.runner.info.clone();
        info.set_state(ConsumerState::Running);
        self.runner.hook(|h| h.on_start());
        let failed = self.process_events().is_err();
        self.runner.hook(|h| h.on_shutdown());
        if !failed {
            info.set_state(ConsumerState::Halted);
        }
    }

    /// Ok on halt, Err on a handler failure under the Halt policy.
    fn process_events(&mut self) -> Result<(), ()> {
        let mut counters = LocalCounters::default();
        loop {
            let handed_out = self.work_sequence.get();
            if self.sequence.get_relaxed() != handed_out {
                // Release: we hold no claim at or below `handed_out`, and everything we claimed
                // before is done (see the type's docs).
                self.sequence.set(handed_out);
                // A producer may be waiting for exactly this worker to move.
                self.barrier.sequencer().wait_strategy().signal_all_when_blocking();
            }
            let next = handed_out + 1;
            let available = match wait_timed(&self.barrier, next, &mut counters) {
                Ok(available) => available,
                Err(Error::Timeout) => {
                    self.runner.hook(|h| h.on_timeout(handed_out));
                    continue;
                }
                Err(_) => return Ok(()),
            };
            let hi = available.min(next.saturating_add(self.max_batch_size - 1));
            if !self.work_sequence.compare_and_set(handed_out, hi) {
                continue; // another worker took it
            }
            let batch = (next, hi, available);
            if self.runner.handle(&self.sequence, &self.barrier, batch, &mut counters) {
                return Err(());
            }
        }
    }
}
