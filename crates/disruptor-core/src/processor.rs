//! [`BatchEventProcessor`]: runs an [`EventHandler`] over batches on its own thread.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;
use std::time::Instant;

use crate::consumer::{
    ConsumerInfo, ConsumerOptions, ConsumerState, ExceptionAction, ExceptionPolicy, LocalCounters,
};
use crate::data_provider::DataProvider;
use crate::error::{Error, Result};
use crate::event_handler::{EventHandler, HandlerError};
use crate::sequence::Sequence;
use crate::sequence_barrier::SequenceBarrier;
use crate::sequencer::Sequencer;
use crate::sync::spin_loop;
use crate::wait_strategy::WaitStrategy;

/// How a batch ended.
pub(crate) enum BatchOutcome {
    /// Every event was handled (or skipped under the policy).
    Completed,
    /// The policy halted the consumer; everything before `failed` was handled.
    Halted { failed: i64 },
}

/// Runs a handler over `[lo, hi]` under an exception policy, turning panics into errors.
/// Shared by [`BatchEventProcessor`] and the worker pool.
pub(crate) struct BatchRunner<D: DataProvider, H> {
    pub(crate) data: Arc<D>,
    pub(crate) handler: H,
    pub(crate) policy: ExceptionPolicy,
    pub(crate) info: Arc<ConsumerInfo>,
}

pub(crate) fn panic_message(payload: Box<dyn std::any::Any + Send>) -> HandlerError {
    let msg = if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "handler panicked".to_owned()
    };
    format!("handler panicked: {msg}").into()
}

impl<D: DataProvider, H: EventHandler<D::Item>> BatchRunner<D, H> {
    /// One pass over `[from, hi]`; on failure, the failed sequence and the error.
    #[inline]
    fn run_once(&mut self, from: i64, hi: i64, available: i64) -> Result<(), (i64, HandlerError)> {
        let mut current = from;
        let (data, handler) = (&self.data, &mut self.handler);
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            handler.on_batch_start(hi - from + 1, available - from + 1);
            while current <= hi {
                // SAFETY: `current <= hi <= available`, which the barrier reported published
                // (or finished upstream); our sequence is still below `current`, so it gates
                // any producer that would claim this slot again.
                let event = unsafe { data.get(current) };
                handler.on_event(event, current, current == hi)?;
                current += 1;
            }
            Ok(())
        }));
        match outcome {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err((current, e)),
            Err(panic) => Err((current, panic_message(panic))),
        }
    }

    /// Handles `[lo, hi]` around the abandoned ranges in it (`abandoned_in`, see
    /// [`crate::Sequencer::abandoned_in`]: skipped and counted, never handed to the handler),
    /// applying the exception policy to each failure. Returns the outcome and how many
    /// sequences it skipped.
    fn process(
        &mut self,
        lo: i64,
        hi: i64,
        available: i64,
        abandoned_in: impl Fn(i64, i64) -> Option<(i64, i64)>,
    ) -> (BatchOutcome, i64) {
        let mut from = lo;
        let mut skipped = 0;
        while from <= hi {
            let Some((start, end)) = abandoned_in(from, hi) else {
                return (self.process_range(from, hi, available), skipped);
            };
            if start > from {
                let outcome = self.process_range(from, start - 1, available);
                if let BatchOutcome::Halted { .. } = outcome {
                    return (outcome, skipped);
                }
            }
            let to = end.min(hi);
            skipped += to - start.max(from) + 1;
            from = to + 1;
        }
        (BatchOutcome::Completed, skipped)
    }

    /// Handles `[lo, hi]` (no abandoned sequence in it), applying the exception policy to each
    /// failure.
    fn process_range(&mut self, lo: i64, hi: i64, available: i64) -> BatchOutcome {
        let mut from = lo;
        let mut rewinds = 0;
        loop {
            match self.run_once(from, hi, available) {
                Ok(()) => return BatchOutcome::Completed,
                Err((failed, error)) => {
                    self.info.record_error(failed, &error);
                    match self.policy.decide(&error, failed) {
                        ExceptionAction::Skip if failed < hi => from = failed + 1,
                        ExceptionAction::Skip => return BatchOutcome::Completed,
                        ExceptionAction::Rewind if rewinds < self.policy.rewind_limits().0 => {
                            // The whole batch again (what it handled before the failure too).
                            rewinds += 1;
                            let delay = self.policy.rewind_limits().1;
                            if !delay.is_zero() {
                                std::thread::sleep(delay);
                            }
                            from = lo;
                        }
                        ExceptionAction::Rewind | ExceptionAction::Halt => {
                            return BatchOutcome::Halted { failed }
                        }
                    }
                }
            }
        }
    }

    /// Handles `[next, hi]` (of `available`, skipping abandoned sequences) and records the
    /// outcome: progress and statistics ([`complete`](Self::complete)), or the failure
    /// ([`fail`](Self::fail)). True when the policy halted the consumer.
    pub(crate) fn handle<S: Sequencer>(
        &mut self,
        sequence: &Sequence,
        barrier: &SequenceBarrier<S>,
        (next, hi, available): (i64, i64, i64),
        counters: &mut LocalCounters,
    ) -> bool {
        let sequencer = barrier.sequencer();
        match self.process(next, hi, available, |lo, hi| sequencer.abandoned_in(lo, hi)) {
            (BatchOutcome::Completed, skipped) => {
                self.complete(sequence, barrier, (next, hi, skipped), counters);
                false
            }
            (BatchOutcome::Halted { failed }, skipped) => {
                self.fail(sequence, barrier, (next, failed, skipped), counters);
                true
            }
        }
    }

    /// After handling `[next, hi]` (`skipped` of them abandoned): publishes the progress
    /// (**Release**: our reads of those slots happen-before a producer reusing them), wakes
    /// waiters, updates statistics.
    #[inline]
    fn complete<S: Sequencer>(
        &self,
        sequence: &Sequence,
        barrier: &SequenceBarrier<S>,
        (next, hi, skipped): (i64, i64, i64),
        counters: &mut LocalCounters,
    ) {
        sequence.set(hi);
        barrier.sequencer().wait_strategy().signal_all_when_blocking();
        counters.batch(hi - next + 1 - skipped);
        counters.skipped += skipped as u64;
        self.info.store(counters);
    }

    /// After the policy halted at `failed`: publishes the progress before it, marks the
    /// consumer failed and tells the sequencer, so producers waiting on it are released.
    fn fail<S: Sequencer>(
        &self,
        sequence: &Sequence,
        barrier: &SequenceBarrier<S>,
        (next, failed, skipped): (i64, i64, i64),
        counters: &mut LocalCounters,
    ) {
        sequence.set(failed - 1);
        // The abandoned sequences it skipped before the failure are not events.
        counters.batch(failed - next - skipped);
        counters.skipped += skipped as u64;
        self.info.store(counters);
        self.info.set_state(ConsumerState::Failed);
        barrier.sequencer().core().report_consumer_fault(self.info.name(), failed - 1);
    }

    /// Calls a lifecycle hook, recording a panic as an error instead of unwinding.
    pub(crate) fn hook(&mut self, hook: impl FnOnce(&mut H)) {
        let handler = &mut self.handler;
        if let Err(panic) = catch_unwind(AssertUnwindSafe(|| hook(handler))) {
            self.info.record_error(self.info.sequence(), &panic_message(panic));
        }
    }
}

/// Polls before a timed wait: about a microsecond of spinning.
const SPINS_BEFORE_TIMING: u32 = 64;

/// Waits on the barrier for `next`, timing only waits that did not find events soon.
#[inline]
pub(crate) fn wait_timed<S: Sequencer>(
    barrier: &SequenceBarrier<S>,
    next: i64,
    counters: &mut LocalCounters,
) -> Result<i64> {
    if barrier.is_alerted() {
        return Err(Error::Alerted);
    }
    // A short spin before the clock is read: when the producer is just behind (the common case
    // under load) a wait costs nothing, and neither does its timing.
    for _ in 0..SPINS_BEFORE_TIMING {
        if let Some(available) = barrier.try_wait_for(next) {
            return Ok(available);
        }
        spin_loop();
    }
    let start = Instant::now();
    let result = barrier.wait_for(next);
    counters.wait_nanos += start.elapsed().as_nanos() as u64;
    result
}

/// The LMAX batch event processor: waits on a barrier, hands every event of each batch to its
/// handler (with `end_of_batch` on the last), then publishes its progress with one Release store
/// of its [`Sequence`] per batch, never per event.
///
/// The builder runs one per handler on a named thread; you can also run one yourself.
///
/// ```
/// use std::sync::Arc;
/// use disruptor_core::*;
/// let ring = Arc::new(RingBuffer::new(8, || 0u64).unwrap());
/// let seq = Arc::new(SingleProducerSequencer::new(8, BlockingWaitStrategy::default()).unwrap());
/// let barrier = Arc::new(SequenceBarrier::new(seq.clone(), vec![]));
/// // SAFETY: the barrier is on the ring's sequencer, and the processor's sequence gates it.
/// let mut p = unsafe { BatchEventProcessor::new(ring.clone(), barrier.clone(),
///     |e: &u64, s: i64, _: bool| assert_eq!(*e, s as u64), ConsumerOptions::new()) };
/// seq.add_gating_sequences(&[p.sequence().clone()]);
/// let t = std::thread::spawn(move || p.run());
/// let hi = seq.next(4).unwrap();
/// for s in 0..=hi { unsafe { *ring.get_mut(s) = s as u64 } }
/// seq.publish(0, hi).unwrap();
/// while seq.remaining_capacity() < 8 { std::thread::yield_now() }
/// barrier.alert();
/// t.join().unwrap();
/// ```
pub struct BatchEventProcessor<D: DataProvider, S: Sequencer, H> {
    runner: BatchRunner<D, H>,
    barrier: Arc<SequenceBarrier<S>>,
    sequence: Arc<Sequence>,
    max_batch_size: i64,
}

impl<D: DataProvider, S: Sequencer, H: EventHandler<D::Item>> BatchEventProcessor<D, S, H> {
    /// A processor of `data` following `barrier`. [`crate::DisruptorBuilder`] is the safe way
    /// to make one.
    ///
    /// # Safety
    /// `barrier` must be on the sequencer of `data` (or on consumers of it), and before `run`
    /// the processor's [`sequence`](Self::sequence) must gate every producer of `data` (directly
    /// or through downstream consumers) and be written by nothing but this processor.
    pub unsafe fn new(
        data: Arc<D>,
        barrier: Arc<SequenceBarrier<S>>,
        handler: H,
        options: ConsumerOptions,
    ) -> Self {
        let sequence = Arc::new(Sequence::default());
        let name = options.name.unwrap_or_else(|| "batch-event-processor".to_owned());
        let info = Arc::new(ConsumerInfo::new(name, sequence.clone()));
        BatchEventProcessor {
            runner: BatchRunner { data, handler, policy: options.exception_policy, info },
            barrier,
            sequence,
            max_batch_size: options.max_batch_size.unwrap_or(i64::MAX),
        }
    }

    /// This consumer's progress: the last sequence it finished.
    pub fn sequence(&self) -> &Arc<Sequence> {
        &self.sequence
    }

    /// Name, statistics and errors.
    pub fn info(&self) -> &Arc<ConsumerInfo> {
        &self.runner.info
    }

    /// Runs until the barrier is alerted (halt) or the policy halts on an error. Calls
    /// `on_start` first and `on_shutdown` last, on the calling thread.
    pub fn run(&mut self) {
        let info = self.runner.info.clone();
        info.set_state(ConsumerState::Running);
        self.runner.hook(|h| h.on_start());
        let failed = self.process_events();
        self.runner.hook(|h| h.on_shutdown());
        if !failed {
            info.set_state(ConsumerState::Halted);
        }
    }

    /// The loop; true if it ended on a handler failure.
    fn process_events(&mut self) -> bool {
        let mut counters = LocalCounters::default();
        let mut next = self.sequence.get_relaxed() + 1;
        loop {
            let available = match wait_timed(&self.barrier, next, &mut counters) {
                Ok(available) => available,
                Err(Error::Timeout) => {
                    let current = next - 1;
                    self.runner.hook(|h| h.on_timeout(current));
                    continue;
                }
                Err(_) => return false,
            };
            let hi = available.min(next.saturating_add(self.max_batch_size - 1));
            let batch = (next, hi, available);
            if self.runner.handle(&self.sequence, &self.barrier, batch, &mut counters) {
                return true;
            }
            next = hi + 1;
        }
    }
}
