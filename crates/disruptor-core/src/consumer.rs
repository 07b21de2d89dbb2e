//! What every consumer shares: its options, its exception policy and its observable state.

use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crossbeam_utils::CachePadded;

use crate::event_handler::HandlerError;
use crate::sequence::Sequence;
use crate::sync::{AtomicU64, Ordering};

/// What to do after a handler error.
///
/// ```
/// use disruptor_core::ExceptionAction;
/// assert_ne!(ExceptionAction::Halt, ExceptionAction::Skip);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExceptionAction {
    /// Stop this consumer: its sequence stays just before the failed event, the error is kept
    /// in its [`ConsumerInfo`], and producers waiting on it get
    /// [`crate::Error::ConsumerHalted`].
    Halt,
    /// Count and keep the error, treat the event as processed, go on with the next.
    Skip,
    /// Count and keep the error, then hand the whole batch to the handler again (after the
    /// policy's delay), at most the policy's number of times in a row, then [`Halt`](Self::Halt):
    /// for a failure that may pass (LMAX's rewindable handlers).
    Rewind,
}

/// A consumer's answer to handler errors (and panics, which become errors). Never silent:
/// every error is counted and the last one kept in [`ConsumerInfo`].
///
/// ```
/// use disruptor_core::{ExceptionAction, ExceptionPolicy};
/// let p = ExceptionPolicy::custom(|err, seq| {
///     eprintln!("event {seq} failed: {err}");
///     if seq < 10 { ExceptionAction::Skip } else { ExceptionAction::Halt }
/// });
/// # let _ = p;
/// ```
#[derive(Default)]
pub enum ExceptionPolicy {
    /// Halt the consumer (the default).
    #[default]
    Halt,
    /// Skip the failed event.
    Skip,
    /// Rewind the failed batch, at most `max_rewinds` times in a row, `delay` before each.
    Rewind {
        /// Rewinds of one batch in a row before the consumer halts.
        max_rewinds: u32,
        /// How long the consumer's thread waits before handing the batch over again.
        delay: Duration,
    },
    /// Decide per error (a [`ExceptionAction::Rewind`] rewinds at most 3 times in a row).
    Custom(Box<DecideFn>),
}

/// The decision function of [`ExceptionPolicy::Custom`].
pub type DecideFn = dyn FnMut(&HandlerError, i64) -> ExceptionAction + Send;

impl ExceptionPolicy {
    /// A policy that asks `decide` for each error and its sequence.
    ///
    /// ```
    /// let p = disruptor_core::ExceptionPolicy::custom(|_, _| disruptor_core::ExceptionAction::Skip);
    /// # let _ = p;
    /// ```
    pub fn custom(
        decide: impl FnMut(&HandlerError, i64) -> ExceptionAction + Send + 'static,
    ) -> Self {
        ExceptionPolicy::Custom(Box::new(decide))
    }

    pub(crate) fn decide(&mut self, error: &HandlerError, sequence: i64) -> ExceptionAction {
        match self {
            ExceptionPolicy::Halt => ExceptionAction::Halt,
            ExceptionPolicy::Skip => ExceptionAction::Skip,
            ExceptionPolicy::Rewind { .. } => ExceptionAction::Rewind,
            ExceptionPolicy::Custom(f) => f(error, sequence),
        }
    }

    /// How many rewinds of one batch in a row, and the wait before each.
    pub(crate) fn rewind_limits(&self) -> (u32, Duration) {
        match self {
            ExceptionPolicy::Rewind { max_rewinds, delay } => (*max_rewinds, *delay),
            _ => (3, Duration::ZERO),
        }
    }
}

impl fmt::Debug for ExceptionPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ExceptionPolicy::Halt => "Halt",
            ExceptionPolicy::Skip => "Skip",
            ExceptionPolicy::Rewind { .. } => "Rewind",
            ExceptionPolicy::Custom(_) => "Custom",
        })
    }
}

/// How a consumer is set up: name, largest batch, exception policy.
///
/// ```
/// use disruptor_core::{ConsumerOptions, ExceptionPolicy};
/// let o = ConsumerOptions::new().name("journal").max_batch_size(64).exception_policy(ExceptionPolicy::Skip);
/// # let _ = o;
/// ```
#[derive(Debug, Default)]
pub struct ConsumerOptions {
    pub(crate) name: Option<String>,
    pub(crate) max_batch_size: Option<i64>,
    pub(crate) exception_policy: ExceptionPolicy,
}

impl ConsumerOptions {
    /// Defaults: a generated name, unbounded batches, [`ExceptionPolicy::Halt`].
    ///
    /// ```
    /// let o = disruptor_core::ConsumerOptions::new();
    /// # let _ = o;
    /// ```
    pub fn new() -> Self {
        Self::default()
    }

    /// The consumer's name (also its thread's name, truncated by the OS).
    ///
    /// ```
    /// let o = disruptor_core::ConsumerOptions::new().name("replicate");
    /// # let _ = o;
    /// ```
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// At most `n` events per batch (at least 1).
    ///
    /// ```
    /// let o = disruptor_core::ConsumerOptions::new().max_batch_size(16);
    /// # let _ = o;
    /// ```
    pub fn max_batch_size(mut self, n: usize) -> Self {
        self.max_batch_size = Some(n.clamp(1, i64::MAX as usize) as i64);
        self
    }

    /// What to do when the handler fails.
    ///
    /// ```
    /// let o = disruptor_core::ConsumerOptions::new()
    ///     .exception_policy(disruptor_core::ExceptionPolicy::Skip);
    /// # let _ = o;
    /// ```
    pub fn exception_policy(mut self, policy: ExceptionPolicy) -> Self {
        self.exception_policy = policy;
        self
    }
}

/// The life of a consumer.
///
/// ```
/// use disruptor_core::ConsumerState;
/// assert_ne!(ConsumerState::Running, ConsumerState::Failed);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConsumerState {
    /// Not started yet.
    Idle,
    /// Processing or waiting for events.
    Running,
    /// Stopped by a halt or shutdown.
    Halted,
    /// Stopped by a handler error under [`ExceptionAction::Halt`].
    Failed,
}

/// Counters a consumer's own thread writes (single writer: plain Relaxed stores, no RMW).
#[derive(Debug, Default)]
struct Counters {
    /// Batches by size: bucket `k` counts batches of `2^k ..= 2^(k+1) - 1` events.
    batch_sizes: [AtomicU64; BATCH_SIZE_BUCKETS],
    batches: AtomicU64,
    events: AtomicU64,
    largest_batch: AtomicU64,
    wait_nanos: AtomicU64,
    errors: AtomicU64,
    state: AtomicU64,
    skipped: AtomicU64,
}

/// A consumer's observable state: name, sequence, statistics, last error.
///
/// ```
/// use std::sync::Arc;
/// use disruptor_core::{ConsumerInfo, ConsumerState, Sequence};
/// let info = ConsumerInfo::new("c", Arc::new(Sequence::default()));
/// assert_eq!(info.name(), "c");
/// assert_eq!(info.state(), ConsumerState::Idle);
/// assert_eq!(info.events(), 0);
/// ```
#[derive(Debug)]
pub struct ConsumerInfo {
    name: String,
    sequence: Arc<Sequence>,
    counters: CachePadded<Counters>,
    /// Waiting time added by threads other than the owner ([`crate::PollWaiter`]).
    external_wait_nanos: AtomicU64,
    last_error: Mutex<Option<(i64, String)>>,
}

/// Buckets of [`ConsumerInfo::batch_sizes`]: powers of two from 1 to 2^31 events and more (a
/// ring holds at most 2^30 slots, so the last buckets stay empty).
pub const BATCH_SIZE_BUCKETS: usize = 32;

/// The histogram bucket of a batch of `size` events (at least 1): `floor(log2(size))`.
///
/// ```
/// use disruptor_core::batch_size_bucket;
/// assert_eq!([1, 2, 3, 4, 64, 100].map(batch_size_bucket), [0, 1, 1, 2, 6, 6]);
/// ```
#[inline]
pub fn batch_size_bucket(size: u64) -> usize {
    (63 - size.max(1).leading_zeros() as usize).min(BATCH_SIZE_BUCKETS - 1)
}

/// Totals a consumer keeps on its own thread and copies into its [`ConsumerInfo`] per batch.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct LocalCounters {
    pub(crate) batch_sizes: [u64; BATCH_SIZE_BUCKETS],
    /// The bucket the last batch went to: the only one `ConsumerInfo::store` copies.
    pub(crate) last_bucket: usize,
    pub(crate) batches: u64,
    pub(crate) events: u64,
    pub(crate) largest_batch: u64,
    pub(crate) wait_nanos: u64,
    pub(crate) skipped: u64,
}

impl LocalCounters {
    #[inline]
    pub(crate) fn batch(&mut self, size: i64) {
        if size <= 0 {
            return;
        }
        self.batches += 1;
        self.events += size as u64;
        self.largest_batch = self.largest_batch.max(size as u64);
        let k = batch_size_bucket(size as u64);
        self.batch_sizes[k] += 1;
        self.last_bucket = k;
    }
}

impl ConsumerInfo {
    /// Info for a consumer called `name` whose progress is `sequence`.
    ///
    /// ```
    /// let info = disruptor_core::ConsumerInfo::new("x", Default::default());
    /// assert_eq!(info.sequence(), -1);
    /// ```
    pub fn new(name: impl Into<String>, sequence: Arc<Sequence>) -> Self {
        ConsumerInfo {
            name: name.into(),
            sequence,
            counters: CachePadded::new(Counters::default()),
            external_wait_nanos: AtomicU64::new(0),
            last_error: Mutex::new(None),
        }
    }

    /// The consumer's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The last sequence the consumer finished.
    pub fn sequence(&self) -> i64 {
        self.sequence.get()
    }

    /// Batches processed.
    pub fn batches(&self) -> u64 {
        // Relaxed: statistics, no data depends on them.
        self.counters.batches.load(Ordering::Relaxed)
    }

    /// Events processed (skipped failures included).
    pub fn events(&self) -> u64 {
        // Relaxed: statistics.
        self.counters.events.load(Ordering::Relaxed)
    }

    /// The largest batch so far.
    pub fn largest_batch(&self) -> u64 {
        // Relaxed: statistics.
        self.counters.largest_batch.load(Ordering::Relaxed)
    }

    /// Batches by size: element `k` counts batches of `2^k ..= 2^(k+1) - 1` events (see
    /// [`batch_size_bucket`]).
    ///
    /// ```
    /// use std::sync::Arc;
    /// use disruptor_core::{ConsumerInfo, Sequence};
    /// let info = ConsumerInfo::new("c", Arc::new(Sequence::default()));
    /// assert_eq!(info.batch_sizes().iter().sum::<u64>(), info.batches());
    /// ```
    pub fn batch_sizes(&self) -> [u64; BATCH_SIZE_BUCKETS] {
        // Relaxed: statistics.
        std::array::from_fn(|k| self.counters.batch_sizes[k].load(Ordering::Relaxed))
    }

    /// Nanoseconds spent waiting for events (only waits that did not find events at once).
    pub fn wait_nanos(&self) -> u64 {
        // Relaxed: statistics.
        self.counters.wait_nanos.load(Ordering::Relaxed)
            + self.external_wait_nanos.load(Ordering::Relaxed)
    }

    pub(crate) fn add_wait_nanos(&self, nanos: u64) {
        // Relaxed: statistics.
        self.external_wait_nanos.fetch_add(nanos, Ordering::Relaxed);
    }

    /// Handler errors (and panics) so far.
    pub fn errors(&self) -> u64 {
        // Relaxed: statistics.
        self.counters.errors.load(Ordering::Relaxed)
    }

    /// Abandoned sequences skipped so far (claimed and never filled: see
    /// [`crate::Sequencer::abandon`]); not counted in [`events`](Self::events).
    ///
    /// ```
    /// use std::sync::Arc;
    /// use disruptor_core::{ConsumerInfo, Sequence};
    /// assert_eq!(ConsumerInfo::new("c", Arc::new(Sequence::default())).skipped(), 0);
    /// ```
    pub fn skipped(&self) -> u64 {
        // Relaxed: statistics.
        self.counters.skipped.load(Ordering::Relaxed)
    }

    /// The last handler error: its sequence and message.
    pub fn last_error(&self) -> Option<(i64, String)> {
        self.last_error.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// The consumer's state.
    pub fn state(&self) -> ConsumerState {
        // Acquire: pairs with the Release in `set_state`, so a Failed state comes with its error.
        match self.counters.state.load(Ordering::Acquire) {
            0 => ConsumerState::Idle,
            1 => ConsumerState::Running,
            2 => ConsumerState::Halted,
            _ => ConsumerState::Failed,
        }
    }

    pub(crate) fn set_state(&self, state: ConsumerState) {
        let v = match state {
            ConsumerState::Idle => 0,
            ConsumerState::Running => 1,
            ConsumerState::Halted => 2,
            ConsumerState::Failed => 3,
        };
        // Release: the error recorded before is visible to whoever sees Failed.
        self.counters.state.store(v, Ordering::Release);
    }

    pub(crate) fn record_error(&self, sequence: i64, error: &HandlerError) {
        *self.last_error.lock().unwrap_or_else(|e| e.into_inner()) =
            Some((sequence, error.to_string()));
        let c = &self.counters.errors;
        // Relaxed load + store: only the consumer's own thread writes its counters.
        c.store(c.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
    }

    #[inline]
    pub(crate) fn store(&self, local: &LocalCounters) {
        // Relaxed: statistics written by their single owner thread.
        self.counters.batches.store(local.batches, Ordering::Relaxed);
        self.counters.events.store(local.events, Ordering::Relaxed);
        self.counters.largest_batch.store(local.largest_batch, Ordering::Relaxed);
        self.counters.wait_nanos.store(local.wait_nanos, Ordering::Relaxed);
        self.counters.skipped.store(local.skipped, Ordering::Relaxed);
        // One bucket per batch, not the whole histogram: this runs after every batch.
        let k = local.last_bucket;
        self.counters.batch_sizes[k].store(local.batch_sizes[k], Ordering::Relaxed);
    }

    /// Stores every bucket of the histogram (a driver outside Rust reporting its own).
    pub(crate) fn store_batch_sizes(&self, local: &LocalCounters) {
        for (k, n) in local.batch_sizes.iter().enumerate() {
            // Relaxed: statistics written by their single owner.
            self.counters.batch_sizes[k].store(*n, Ordering::Relaxed);
        }
    }
}
