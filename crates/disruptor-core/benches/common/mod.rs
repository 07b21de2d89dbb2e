//! Shared harness of the topology benchmarks (`one_to_one`, `one_to_three`, `three_to_one`,
//! `pipeline`, `diamond`).
//!
//! Every benchmark builds its system (ring, threads, channels) once, then criterion calls
//! `iter_custom` with a number of iterations; one iteration publishes a burst of events and
//! waits until the last consumer has seen all of them. Throughput is reported per event
//! (`Throughput::Elements(burst)`).
//!
//! Every consumer verifies what it receives through a [`Checker`]: producers publish a running
//! counter, so a consumer expects exactly `0, 1, 2, ...` (per producer in `three_to_one`). A lost,
//! duplicated or reordered event counts as an error; the errors and the event count are asserted
//! when the benchmark is torn down ([`Probe::assert_done`]).
//!
//! Settings: `BENCH_QUICK=1` gives a smoke run (tiny bursts and measurement times) for CI;
//! `BENCH_PLOTS=1` turns criterion's HTML plots back on (see [`criterion`]).
#![allow(dead_code)] // each bench binary uses a different part of this module

use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, Criterion, SamplingMode, Throughput};
use crossbeam_utils::CachePadded;

/// Slots of every ring, and capacity of every channel (the LMAX throughput tests use 64 Ki).
pub const RING_SIZE: usize = 1 << 16;

/// Id of our engine in every group.
pub const OURS: &str = "disruptor-core";
/// Id of the `disruptor` crate (nicholassm/disruptor-rs).
pub const THEIRS: &str = "disruptor";
/// Id of crossbeam-channel (bounded).
pub const CROSSBEAM: &str = "crossbeam-channel";

/// Variant: every waiting thread busy-spins (our `BusySpinWaitStrategy`, their
/// `BusySpinWithSpinLoopHint`: both spin with `std::hint::spin_loop`).
pub const BUSY_SPIN: &str = "busy-spin";
/// Variant: every waiting consumer yields its core after each failed check (our
/// `YieldingWaitStrategy::new(0)`, their [`YieldNow`]). Fairer when threads outnumber cores.
pub const YIELD: &str = "yield";
/// Variant: waiting threads sleep. crossbeam-channel's plain `send`/`recv` (spin, then park) and
/// our `BlockingWaitStrategy` (condition variable); the `disruptor` crate has no equivalent.
pub const BLOCKING: &str = "blocking";

/// Variant of ours only: `PhasedBackoffWaitStrategy::with_blocking` (spin, then yield, then
/// block): a longer backoff before sleeping than `BlockingWaitStrategy`'s own few microseconds.
pub const PHASED: &str = "phased-blocking";

/// Our phased strategy of the `phased-blocking` variant: spins 10 µs, yields 100 µs, then blocks.
pub fn phased_blocking(
) -> disruptor_core::PhasedBackoffWaitStrategy<disruptor_core::BlockingWaitStrategy> {
    disruptor_core::PhasedBackoffWaitStrategy::with_blocking(
        Duration::from_micros(10),
        Duration::from_micros(100),
    )
}

/// Whether `BENCH_QUICK=1` asks for a smoke run.
pub fn quick() -> bool {
    std::env::var("BENCH_QUICK").is_ok_and(|v| v == "1")
}

/// The criterion configuration of every bench binary (command-line options still override it).
/// Plots are off unless `BENCH_PLOTS=1`: drawing them takes longer than measuring (about 4 s per
/// benchmark on 2 cores); `benchmark/cargo-summary.mjs` reads the JSON estimates instead.
pub fn criterion() -> Criterion {
    let mut c = Criterion::default().sample_size(10);
    if std::env::var("BENCH_PLOTS").map_or(true, |v| v != "1") {
        c = c.without_plots();
    }
    if quick() {
        c.warm_up_time(Duration::from_millis(100)).measurement_time(Duration::from_millis(200))
    } else {
        c.warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(3))
    }
}

/// The events one iteration publishes: `full`, or a 32nd of it in quick mode. Keep `full / 32`
/// divisible by the batch size (64, `one_to_one`) or the producer count (3, `three_to_one`).
pub fn burst(full: u64) -> u64 {
    if quick() {
        full / 32
    } else {
        full
    }
}

/// Opens the group `name` (a topology) measuring bursts of `burst` events.
pub fn group<'a>(c: &'a mut Criterion, name: &str, burst: u64) -> BenchmarkGroup<'a, WallTime> {
    let mut g = c.benchmark_group(name);
    // Flat: every sample runs the same number of bursts (at least one). The default linear ramp
    // needs 1 + 2 + ... + 10 = 55 bursts for 10 samples, far over the measurement time for the
    // slow (oversubscribed) variants, whose bursts take tens of milliseconds.
    g.sampling_mode(SamplingMode::Flat);
    g.throughput(Throughput::Elements(burst));
    g
}

/// What a consumer shares with the bench thread: how many events it has seen (the producer
/// side spins on it at the end of each burst) and, on another cache line, its verdict.
#[derive(Default)]
pub struct Probe {
    seen: CachePadded<AtomicU64>,
    errors: CachePadded<AtomicU64>,
    /// Wrapping sum of every value seen: a second, order-independent check.
    sum: CachePadded<AtomicI64>,
}

impl Probe {
    pub fn new() -> Arc<Self> {
        Arc::new(Probe::default())
    }

    /// Events seen so far.
    pub fn seen(&self) -> u64 {
        self.seen.load(Ordering::Acquire)
    }

    /// Waits until the consumer has seen `target` events: spins a little, then yields (the
    /// bench thread must not steal a core from the system it measures). Panics after a minute:
    /// a lost event would otherwise hang the run.
    pub fn wait_for(&self, target: u64) {
        let mut spins = 0u32;
        let mut started: Option<Instant> = None;
        while self.seen.load(Ordering::Acquire) < target {
            if spins < 128 {
                spins += 1;
                std::hint::spin_loop();
                continue;
            }
            thread::yield_now();
            let t = *started.get_or_insert_with(Instant::now);
            if t.elapsed() > Duration::from_secs(60) {
                panic!(
                    "consumer stuck at {} of {target} events ({} errors): lost event?",
                    self.seen(),
                    self.errors.load(Ordering::Relaxed)
                );
            }
        }
    }

    /// Teardown check: exactly `expected` events, no error, and the sum of `0..expected` (or
    /// `expected_sum` when given).
    pub fn assert_done(&self, who: &str, expected: u64, expected_sum: Option<i64>) {
        let seen = self.seen();
        let errors = self.errors.load(Ordering::Relaxed);
        let sum = self.sum.load(Ordering::Relaxed);
        let want = expected_sum.unwrap_or_else(|| sum_of_range(expected));
        assert_eq!(errors, 0, "{who}: {errors} events out of order, lost or duplicated");
        assert_eq!(seen, expected, "{who}: saw {seen} events, {expected} were published");
        assert_eq!(sum, want, "{who}: checksum mismatch");
    }
}

/// `0 + 1 + ... + (n - 1)`, wrapping like the consumers' sums.
pub fn sum_of_range(n: u64) -> i64 {
    let n = n as i128;
    (n * (n - 1) / 2) as i64
}

/// A consumer's local verification state; [`flush`](Checker::flush) publishes it to its
/// [`Probe`] (at the end of each batch, or after every message for channels).
///
/// [`on`](Checker::on) expects `0, 1, 2, ...` from a single producer; with several producers,
/// values carry the producer index in their top bits ([`tag`]) and
/// [`on_tagged`](Checker::on_tagged) expects each producer's counter to run `0, 1, 2, ...`.
pub struct Checker {
    probe: Arc<Probe>,
    expected: [i64; MAX_PRODUCERS],
    count: u64,
    errors: u64,
    sum: i64,
}

/// Producers a [`Checker`] can follow.
pub const MAX_PRODUCERS: usize = 4;
const TAG_SHIFT: u32 = 40;

/// The value producer `producer` publishes as its `k`-th event.
#[inline(always)]
pub fn tag(producer: usize, k: i64) -> i64 {
    ((producer as i64) << TAG_SHIFT) | k
}

impl Checker {
    pub fn new(probe: &Arc<Probe>) -> Self {
        Checker { probe: probe.clone(), expected: [0; MAX_PRODUCERS], count: 0, errors: 0, sum: 0 }
    }

    /// One event from a single producer.
    #[inline(always)]
    pub fn on(&mut self, value: i64) {
        self.errors += u64::from(value != self.expected[0]);
        self.expected[0] += 1;
        self.count += 1;
        self.sum = self.sum.wrapping_add(value);
    }

    /// One event from one of several producers (values made by [`tag`]).
    #[inline(always)]
    pub fn on_tagged(&mut self, value: i64) {
        let producer = (value >> TAG_SHIFT) as usize;
        let k = value & ((1 << TAG_SHIFT) - 1);
        if producer < MAX_PRODUCERS {
            self.errors += u64::from(k != self.expected[producer]);
            self.expected[producer] += 1;
        } else {
            self.errors += 1;
        }
        self.count += 1;
        self.sum = self.sum.wrapping_add(k);
    }

    /// A disruptor handler's event from a single producer: [`on`](Checker::on), and
    /// [`flush`](Checker::flush) at the end of the batch.
    #[inline(always)]
    pub fn on_event(&mut self, value: i64, end_of_batch: bool) {
        self.on(value);
        if end_of_batch {
            self.flush();
        }
    }

    /// As [`on_event`](Checker::on_event) for tagged values from several producers.
    #[inline(always)]
    pub fn on_tagged_event(&mut self, value: i64, end_of_batch: bool) {
        self.on_tagged(value);
        if end_of_batch {
            self.flush();
        }
    }

    /// Publishes the count (Release: the bench thread may stop waiting) and the verdict.
    #[inline(always)]
    pub fn flush(&self) {
        self.probe.errors.store(self.errors, Ordering::Relaxed);
        self.probe.sum.store(self.sum, Ordering::Relaxed);
        self.probe.seen.store(self.count, Ordering::Release);
    }
}

/// A wait strategy for the `disruptor` crate that yields after every failed check, like our
/// `YieldingWaitStrategy::new(0)`. (The crate's producers always spin when the ring is full.)
#[derive(Clone, Copy)]
pub struct YieldNow;

impl disruptor::wait_strategies::WaitStrategy for YieldNow {
    #[inline]
    fn wait_for(&self, _sequence: disruptor::Sequence) {
        thread::yield_now();
    }
}

/// A producer thread driven by the bench thread: each command is a number of events to publish
/// with `publish(k)` for `k` in the thread's running count; dropping it stops and joins.
pub struct Helper {
    commands: Option<crossbeam_channel::Sender<u64>>,
    thread: Option<thread::JoinHandle<()>>,
}

impl Helper {
    pub fn spawn(name: &str, mut publish: impl FnMut(i64) + Send + 'static) -> Helper {
        let (tx, rx) = crossbeam_channel::bounded::<u64>(1);
        let thread = thread::Builder::new()
            .name(name.to_owned())
            .spawn(move || {
                let mut k = 0i64;
                while let Ok(n) = rx.recv() {
                    for _ in 0..n {
                        publish(k);
                        k += 1;
                    }
                }
            })
            .expect("spawn helper producer");
        Helper { commands: Some(tx), thread: Some(thread) }
    }

    /// Asks the thread to publish `n` more events (returns at once).
    pub fn publish(&self, n: u64) {
        self.commands.as_ref().expect("helper running").send(n).expect("helper alive");
    }
}

impl Drop for Helper {
    fn drop(&mut self) {
        drop(self.commands.take());
        if let Some(t) = self.thread.take() {
            t.join().expect("helper producer panicked");
        }
    }
}

/// Runs `iters` bursts with `burst_fn` and returns the elapsed time (the body of `iter_custom`).
#[inline]
pub fn timed(iters: u64, mut burst_fn: impl FnMut()) -> Duration {
    let start = Instant::now();
    for _ in 0..iters {
        burst_fn();
    }
    start.elapsed()
}

/// A stop flag for hand-written consumer threads.
#[derive(Default)]
pub struct Stop(CachePadded<AtomicBool>);

impl Stop {
    pub fn raise(&self) {
        self.0.store(true, Ordering::Release);
    }
    pub fn is_raised(&self) -> bool {
        self.0.load(Ordering::Acquire)
    }
}

/// The variants every multi-thread topology measures, and its criterion entry point: the file
/// defines `ours(group, burst, variant, wait_strategy)`, `theirs(group, burst, variant,
/// their_wait_strategy)` and `crossbeam(group, burst)`, and imports the names used below.
#[macro_export]
macro_rules! topology_benches {
    ($name:ident) => {
        fn $name(c: &mut Criterion) {
            let burst = burst(3 << 16);
            let mut g = group(c, stringify!($name), burst);
            ours(&mut g, burst, BUSY_SPIN, BusySpinWaitStrategy);
            theirs(&mut g, burst, BUSY_SPIN, disruptor::BusySpinWithSpinLoopHint);
            crossbeam(&mut g, burst);
            ours(&mut g, burst, YIELD, YieldingWaitStrategy::new(0));
            theirs(&mut g, burst, YIELD, YieldNow);
            // The disruptor crate has no blocking strategy: this one pairs with crossbeam's.
            ours(&mut g, burst, BLOCKING, BlockingWaitStrategy::default());
            ours(&mut g, burst, PHASED, phased_blocking());
            g.finish();
        }

        criterion_group! {
            name = benches;
            config = common::criterion();
            targets = $name
        }
        criterion_main!(benches);
    };
}
