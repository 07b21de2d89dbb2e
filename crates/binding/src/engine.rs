//! One object-safe face over the engine's two sequencer types, so the rest of the binding is
//! not generic. Every method forwards to `disruptor-core`; nothing here decides protocol.

use std::sync::atomic::{AtomicBool, AtomicI32, AtomicI64, AtomicU32};
use std::sync::Arc;
use std::time::Duration;

use disruptor_core::{
    AbandonedRanges, AnyWaitStrategy, ConsumerInfo, Dependency, Disruptor, DisruptorBuilder, Error,
    EventPoller, MultiProducerSequencer, PollWaiter, Refused, Result, Sequencer,
    SingleProducerSequencer, SlotBuffer,
};

/// A ring of byte slots with its sequencer and its (caller-driven) consumers.
pub(crate) trait Engine: Send + Sync {
    /// The slot memory (handed to JavaScript by `views`).
    fn slots(&self) -> &SlotBuffer;
    fn try_next(&self, n: i64) -> Result<i64>;
    /// The highest claimed sequence.
    fn claimed(&self) -> i64;
    fn wait_for_room(&self, n: i64, refuse: &mut dyn FnMut(i64) -> bool) -> Result<()>;
    /// Waits until the gating minimum reaches `wrap_point` (see `Sequencer::wait_for_gating`),
    /// at most `limit` if given.
    fn wait_for_gating(
        &self,
        wrap_point: i64,
        claimed: i64,
        refuse: &mut dyn FnMut(i64) -> bool,
        limit: Option<Duration>,
    ) -> Result<i64>;
    /// The slowest gating consumer's sequence capped at `default` (the claim cursor), read as a
    /// producer must before caching room (`SequencerCore::gating_minimum_for_claim`).
    fn gating_minimum(&self, default: i64) -> i64;
    /// The cursor's atomic: the claim cursor multi producers compare-and-exchange, or a single
    /// producer's split-cursor epoch (see `SplitCursor`).
    fn cursor_atomic(&self) -> &AtomicI64;
    /// A multi-producer claim of `n` within `bound` and `limit`, never waiting (see
    /// `MultiProducerSequencer::try_next_within`); `None` on a single-producer ring.
    fn claim_within(&self, n: i64, bound: i64, limit: i64) -> Option<i64>;
    /// A single producer's split-cursor low word (what a JavaScript single producer swaps
    /// every publish into, and JavaScript consumers read); none for multi producers.
    fn published_low(&self) -> Option<&AtomicI32>;
    /// The sequencer's closed flag (set once, by `close_intake` or a halt): claims are refused.
    fn closed_flag(&self) -> &AtomicBool;
    /// A multi-producer ring's availability flags (empty for a single producer).
    fn availability_flags(&self) -> &[AtomicI32];
    /// The wait strategy's sleeper count, if it sleeps.
    fn sleeper_count(&self) -> Option<&AtomicU32>;
    fn publish(&self, lo: i64, hi: i64) -> Result<()>;
    /// Marks `[lo, hi]` (claimed, unpublished) abandoned and publishes it: consumers skip it.
    fn abandon(&self, lo: i64, hi: i64) -> Result<()>;
    /// The first abandoned range overlapping `[lo, hi]` (see `Sequencer::abandoned_in`).
    fn abandoned_in(&self, lo: i64, hi: i64) -> Option<(i64, i64)>;
    /// The ring's abandoned ranges (the count JavaScript reads, the total).
    fn abandoned(&self) -> &AbandonedRanges;
    /// Whether `sequence` is published (**Acquire**).
    fn is_published(&self, sequence: i64) -> bool;
    /// The highest sequence in `[sequence, last]` up to which every one is published, if
    /// `sequence` is (see `Sequencer::poll_published_until`; **Acquire**).
    fn published_until(&self, sequence: i64, last: i64) -> Option<i64>;
    fn cursor(&self) -> i64;
    fn remaining_capacity(&self) -> i64;
    /// A new consumer driven by a JavaScript thread, after every consumer of `after`.
    fn add_consumer(&self, name: String, after: &[Dependency]) -> Result<Box<dyn ConsumerHandle>>;
    /// Removes a consumer: it stops gating producers. Refused (the handle given back) with
    /// `Error::HasDependents` while consumers added after it depend on it.
    fn remove_consumer(
        &self,
        consumer: Box<dyn ConsumerHandle>,
    ) -> std::result::Result<(), (Error, Box<dyn ConsumerHandle>)>;
    /// The consumers that depend on `info`.
    fn dependents_of(&self, info: &Arc<ConsumerInfo>) -> Vec<Arc<ConsumerInfo>>;
    fn consumers(&self) -> Vec<Arc<ConsumerInfo>>;
    fn is_drained_to(&self, target: i64) -> Result<bool>;
    /// Wakes every thread blocked in the wait strategy so it re-checks its condition.
    fn signal(&self);
    /// Refuses claims and releases waiting producers (the sequencer's close); consumers go on.
    fn close_intake(&self);
    fn halt(&self);
    fn is_closed(&self) -> bool;
}

/// A consumer driven by a JavaScript thread (an engine `EventPoller` that JavaScript drives
/// through shared memory: it never polls from Rust).
pub(crate) trait ConsumerHandle: Send + std::any::Any {
    fn sequence(&self) -> i64;
    fn info(&self) -> &Arc<ConsumerInfo>;
    fn dependency(&self) -> Dependency;
    fn waiter(&self) -> Box<dyn Waiter>;
    fn fail(&mut self, sequence: i64, message: &str);
    fn record_error(&self, sequence: i64, message: &str);
    /// The sequence's atomic, which JavaScript stores its progress into (see
    /// `EventPoller::sequence_atomic` for the rules it keeps).
    fn sequence_atomic(&self) -> &AtomicI64;
    fn set_counters(
        &mut self,
        batches: u64,
        events: u64,
        largest_batch: u64,
        skipped: u64,
        batch_sizes: &[u64],
    );
}

/// Blocks a native thread until a consumer has events (see `PollWaiter`).
pub(crate) trait Waiter: Send + Sync {
    fn wait_from(&self, next: i64) -> Result<i64>;
    fn close(&self);
}

struct Ring<S: Sequencer> {
    disruptor: Disruptor<SlotBuffer, S>,
    /// The availability flags of a multi-producer sequencer (none for a single producer).
    flags_of: fn(&S) -> &[AtomicI32],
    /// The split cursor's low word of a single-producer sequencer (none for multi producers).
    low_of: fn(&S) -> Option<&AtomicI32>,
    /// A multi-producer sequencer's bounded claim (none for a single producer).
    claim_within_of: fn(&S, i64, i64, i64) -> Option<i64>,
}

/// Builds the engine for `size` slots of `slot_size` bytes.
pub(crate) fn build(
    size: usize,
    slot_size: usize,
    multi: bool,
    wait: AnyWaitStrategy,
) -> Result<Arc<dyn Engine>> {
    let slots = SlotBuffer::new(size, slot_size)?;
    Ok(if multi {
        let sequencer = MultiProducerSequencer::new(size, wait)?;
        ring(
            slots,
            sequencer,
            |s| s.availability_flags(),
            |_| None,
            |s, n, bound, limit| s.try_next_within(n, bound, limit),
        )?
    } else {
        // Split cursor: JavaScript publishes with a 32-bit `Atomics.exchange` (no BigInt).
        let sequencer = SingleProducerSequencer::with_split_cursor(size, wait)?;
        ring(slots, sequencer, |_| &[], |s| s.split_cursor().map(|c| c.low()), |_, _, _, _| None)?
    })
}

fn ring<S: Sequencer<Wait = AnyWaitStrategy>>(
    slots: SlotBuffer,
    sequencer: S,
    flags_of: fn(&S) -> &[AtomicI32],
    low_of: fn(&S) -> Option<&AtomicI32>,
    claim_within_of: fn(&S, i64, i64, i64) -> Option<i64>,
) -> Result<Arc<dyn Engine>> {
    // No consumer threads: every consumer is a poller that JavaScript drives. The Producer is
    // dropped: JavaScript claims and publishes through the (checked) sequencer instead.
    let (disruptor, _producer) = DisruptorBuilder::new(slots, sequencer)?.build();
    Ok(Arc::new(Ring { disruptor, flags_of, low_of, claim_within_of }))
}

impl<S: Sequencer<Wait = AnyWaitStrategy>> Ring<S> {
    fn sequencer(&self) -> &Arc<S> {
        // SAFETY: the ring's `Producer` was dropped at build, so every range published here was
        // claimed here (by JavaScript, through `next` or its own claim counter), and no gating
        // sequence is moved except by its own consumer.
        unsafe { self.disruptor.sequencer() }
    }
}

impl<S: Sequencer<Wait = AnyWaitStrategy>> Engine for Ring<S> {
    fn slots(&self) -> &SlotBuffer {
        self.disruptor.data()
    }

    fn try_next(&self, n: i64) -> Result<i64> {
        self.sequencer().try_next(n)
    }

    fn claimed(&self) -> i64 {
        self.sequencer().claimed()
    }

    fn wait_for_gating(
        &self,
        wrap_point: i64,
        claimed: i64,
        refuse: &mut dyn FnMut(i64) -> bool,
        limit: Option<Duration>,
    ) -> Result<i64> {
        match limit {
            None => self.sequencer().wait_for_gating(wrap_point, claimed, refuse),
            Some(limit) => self.sequencer().wait_for_gating_for(wrap_point, claimed, refuse, limit),
        }
    }

    fn gating_minimum(&self, default: i64) -> i64 {
        self.sequencer().core().gating_minimum_for_claim(default)
    }

    fn claim_within(&self, n: i64, bound: i64, limit: i64) -> Option<i64> {
        (self.claim_within_of)(self.sequencer(), n, bound, limit)
    }

    fn cursor_atomic(&self) -> &AtomicI64 {
        self.sequencer().cursor().as_atomic()
    }

    fn availability_flags(&self) -> &[AtomicI32] {
        (self.flags_of)(self.sequencer())
    }

    fn published_low(&self) -> Option<&AtomicI32> {
        (self.low_of)(self.sequencer())
    }

    fn closed_flag(&self) -> &AtomicBool {
        self.sequencer().core().closed_flag()
    }

    fn sleeper_count(&self) -> Option<&AtomicU32> {
        use disruptor_core::WaitStrategy;
        self.sequencer().wait_strategy().sleeper_count()
    }

    fn wait_for_room(&self, n: i64, refuse: &mut dyn FnMut(i64) -> bool) -> Result<()> {
        self.sequencer().wait_for_room(n, refuse)
    }

    fn publish(&self, lo: i64, hi: i64) -> Result<()> {
        self.sequencer().publish(lo, hi)
    }

    fn abandon(&self, lo: i64, hi: i64) -> Result<()> {
        self.sequencer().abandon(lo, hi)
    }

    fn abandoned_in(&self, lo: i64, hi: i64) -> Option<(i64, i64)> {
        self.sequencer().abandoned_in(lo, hi)
    }

    fn abandoned(&self) -> &AbandonedRanges {
        self.sequencer().core().abandoned()
    }

    fn is_published(&self, sequence: i64) -> bool {
        self.sequencer().is_available(sequence)
    }

    fn published_until(&self, sequence: i64, last: i64) -> Option<i64> {
        self.sequencer().poll_published_until(sequence, last)
    }

    fn cursor(&self) -> i64 {
        self.disruptor.cursor()
    }

    fn remaining_capacity(&self) -> i64 {
        self.disruptor.remaining_capacity()
    }

    fn add_consumer(&self, name: String, after: &[Dependency]) -> Result<Box<dyn ConsumerHandle>> {
        Ok(Box::new(self.disruptor.add_poller_after(name, after)?))
    }

    fn remove_consumer(
        &self,
        consumer: Box<dyn ConsumerHandle>,
    ) -> std::result::Result<(), (Error, Box<dyn ConsumerHandle>)> {
        // Only consumers this engine made are boxed as `EventPoller<SlotBuffer, S>`.
        let consumer = consumer as Box<dyn std::any::Any>;
        if let Ok(p) = consumer.downcast::<EventPoller<SlotBuffer, S>>() {
            if let Err(refused) = self.disruptor.remove_poller(*p) {
                let Refused { error, poller } = *refused;
                return Err((error, Box::new(poller)));
            }
        }
        Ok(())
    }

    fn dependents_of(&self, info: &Arc<ConsumerInfo>) -> Vec<Arc<ConsumerInfo>> {
        self.disruptor.dependent_consumers(info)
    }

    fn consumers(&self) -> Vec<Arc<ConsumerInfo>> {
        self.disruptor.consumers()
    }

    fn is_drained_to(&self, target: i64) -> Result<bool> {
        self.disruptor.is_drained_to(target)
    }

    fn signal(&self) {
        use disruptor_core::WaitStrategy;
        self.sequencer().wait_strategy().signal_all_when_blocking();
    }

    fn close_intake(&self) {
        self.sequencer().close();
    }

    fn halt(&self) {
        self.disruptor.halt();
    }

    fn is_closed(&self) -> bool {
        self.sequencer().is_closed()
    }
}

impl<S: Sequencer> ConsumerHandle for EventPoller<SlotBuffer, S> {
    fn sequence(&self) -> i64 {
        EventPoller::sequence(self)
    }

    fn info(&self) -> &Arc<ConsumerInfo> {
        EventPoller::info(self)
    }

    fn dependency(&self) -> Dependency {
        EventPoller::dependency(self)
    }

    fn waiter(&self) -> Box<dyn Waiter> {
        Box::new(EventPoller::waiter(self))
    }

    fn fail(&mut self, sequence: i64, message: &str) {
        EventPoller::fail(self, sequence, message)
    }

    fn record_error(&self, sequence: i64, message: &str) {
        EventPoller::record_error(self, sequence, message)
    }

    fn sequence_atomic(&self) -> &AtomicI64 {
        // SAFETY: this poller's slots are bytes only JavaScript reads; the TypeScript stores
        // into the sequence only increasing values it has finished with, with SeqCst
        // `Atomics.store`, then signals when the sleeper count is not zero; nothing here calls
        // the poller's `poll` (no binding method does).
        unsafe { EventPoller::sequence_atomic(self) }
    }

    fn set_counters(
        &mut self,
        batches: u64,
        events: u64,
        largest_batch: u64,
        skipped: u64,
        batch_sizes: &[u64],
    ) {
        EventPoller::set_counters(self, batches, events, largest_batch, skipped, batch_sizes)
    }
}

impl<S: Sequencer> Waiter for PollWaiter<S> {
    fn wait_from(&self, next: i64) -> Result<i64> {
        PollWaiter::wait_from(self, next)
    }

    fn close(&self) {
        PollWaiter::close(self)
    }
}
