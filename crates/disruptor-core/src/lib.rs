//! The LMAX Disruptor in Rust: the engine behind napi-disruptor.
//!
//! A [`Sequencer`] hands out slots of a preallocated ring ([`RingBuffer`] for Rust events,
//! [`SlotBuffer`] for fixed-size byte slots) to producers; consumers follow it through
//! [`SequenceBarrier`]s that return whole batches; a [`WaitStrategy`] says how everyone waits;
//! [`Sequence`]s are cache-line padded so that producer and consumer counters never share a line.
//!
//! Names follow LMAX's Java Disruptor. Memory orderings are in the method docs (and every one
//! weaker than SeqCst has a comment saying why it suffices); every `unsafe` block has a
//! `// SAFETY:` comment. Under `--cfg loom` the atomics come from loom (see `tests/loom.rs`).
//!
//! ```
//! use disruptor_core::{BusySpinWaitStrategy, DisruptorBuilder, RingBuffer, SingleProducerSequencer};
//! use std::sync::{atomic::{AtomicI64, Ordering}, Arc};
//!
//! let sum = Arc::new(AtomicI64::new(0));
//! let s = sum.clone();
//! let mut builder = DisruptorBuilder::new(
//!     RingBuffer::new(64, || 0i64).unwrap(),
//!     SingleProducerSequencer::new(64, BusySpinWaitStrategy).unwrap(),
//! ).unwrap();
//! builder.handle_events_with(move |e: &i64, _seq: i64, _end: bool| {
//!     s.fetch_add(*e, Ordering::Relaxed);
//! });
//! let (disruptor, mut producer) = builder.build();
//! for i in 1..=100 {
//!     producer.publish(|slot, _seq| *slot = i).unwrap();
//! }
//! disruptor.shutdown().unwrap();
//! assert_eq!(sum.load(Ordering::Relaxed), 5050);
//! ```
#![warn(missing_docs, unsafe_op_in_unsafe_fn)]

mod asymmetric_fence;
mod builder;
mod consumer;
mod data_provider;
mod dependency;
mod disruptor;
mod error;
mod event_handler;
mod event_layout;
mod event_poller;
mod poll_waiter;
mod processor;
mod producer;
mod ring_buffer;
mod sequence;
mod sequence_barrier;
mod sequencer;
#[cfg(all(unix, not(loom)))]
pub mod shm;
mod slot_buffer;
mod sync;
mod wait_strategy;
mod worker_pool;

pub use asymmetric_fence::asymmetric_fence_mode;
pub use builder::{DisruptorBuilder, EventHandlerGroup, Stage, StageBuilder};
pub use consumer::{
    batch_size_bucket, ConsumerInfo, ConsumerOptions, ConsumerState, DecideFn, ExceptionAction,
    ExceptionPolicy, BATCH_SIZE_BUCKETS,
};
pub use data_provider::DataProvider;
pub use dependency::Dependency;
pub use disruptor::{Disruptor, Refused};
pub use error::{Error, Result};
pub use event_handler::{EventHandler, HandlerError, HandlerOutcome};
pub use event_layout::{EventLayout, Field, FieldType, LayoutError};
pub use event_poller::{EventPoller, PollState};
pub use poll_waiter::PollWaiter;
pub use processor::BatchEventProcessor;
pub use producer::Producer;
pub use ring_buffer::RingBuffer;
pub use sequence::{minimum_sequence, Sequence};
pub use sequence_barrier::SequenceBarrier;
pub use sequencer::{
    AbandonedRanges, GatingSequences, MultiProducerSequencer, Sequencer, SequencerCore,
    SingleProducerSequencer, SplitCursor,
};
pub use slot_buffer::SlotBuffer;
pub use wait_strategy::{
    Alert, AnyWaitStrategy, BlockingWaitStrategy, BusySpinWaitStrategy, PhasedBackoffWaitStrategy,
    SleepingWaitStrategy, TimeoutBlockingWaitStrategy, WaitError, WaitStrategy,
    YieldingWaitStrategy,
};
pub use worker_pool::WorkProcessor;

/// The most slots a ring may have: 2^30.
///
/// ```
/// assert_eq!(disruptor_core::MAX_BUFFER_SIZE, 1 << 30);
/// ```
pub const MAX_BUFFER_SIZE: usize = 1 << 30;

/// The largest byte slot: 64 KiB.
///
/// ```
/// assert_eq!(disruptor_core::MAX_SLOT_SIZE, 65536);
/// ```
pub const MAX_SLOT_SIZE: usize = 1 << 16;
