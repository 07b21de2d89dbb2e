//! one_to_one: one producer, one consumer (unicast).
//!
//! ```text
//!   +----+      +-------------------+      +----+
//!   | P1 | ---> | ring (64 Ki slots)| ---> | C1 |
//!   +----+      +-------------------+      +----+
//! ```
//!
//! P1 is the bench thread; it publishes bursts one event at a time (`batch1`) or 64 per claim
//! (`batch64`), then waits until C1 has seen the whole burst. Systems: our engine
//! (`disruptor-core`), the `disruptor` crate, crossbeam-channel (`bounded`, sending one by one
//! whatever the batch), and `spsc-ring`, a minimal hand-written SPSC ring (the floor: what
//! two cache-padded indices and an array cost, with nothing else).

mod common;

use std::cell::UnsafeCell;
use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;

use common::*;
use criterion::measurement::WallTime;
use criterion::{criterion_group, criterion_main, BenchmarkGroup, BenchmarkId, Criterion};
use crossbeam_utils::CachePadded;
use disruptor::Producer as _;
use disruptor_core::{BusySpinWaitStrategy, DisruptorBuilder, RingBuffer, SingleProducerSequencer};

const BATCHES: [usize; 2] = [1, 64];

fn param(batch: usize) -> String {
    format!("batch{batch}")
}

fn ours(g: &mut BenchmarkGroup<'_, WallTime>, burst: u64, batch: usize) {
    let probe = Probe::new();
    let mut b = DisruptorBuilder::new(
        RingBuffer::new(RING_SIZE, || 0i64).unwrap(),
        SingleProducerSequencer::new(RING_SIZE, BusySpinWaitStrategy).unwrap(),
    )
    .unwrap();
    let mut check = Checker::new(&probe);
    b.handle_events_with(move |e: &i64, _seq: i64, end: bool| {
        check.on_event(*e, end);
    });
    let (disruptor, mut producer) = b.build();
    let mut next = 0i64;
    g.bench_function(BenchmarkId::new(OURS, param(batch)), |bencher| {
        bencher.iter_custom(|iters| {
            timed(iters, || {
                if batch == 1 {
                    for _ in 0..burst {
                        producer.publish(|slot, _| *slot = black_box(next)).unwrap();
                        next += 1;
                    }
                } else {
                    for _ in 0..burst / batch as u64 {
                        producer
                            .publish_batch(batch, |slot, _| {
                                *slot = black_box(next);
                                next += 1;
                            })
                            .unwrap();
                    }
                }
                probe.wait_for(next as u64);
            })
        })
    });
    disruptor.shutdown().unwrap();
    probe.assert_done(OURS, next as u64, None);
}

fn theirs(g: &mut BenchmarkGroup<'_, WallTime>, burst: u64, batch: usize) {
    let probe = Probe::new();
    let mut check = Checker::new(&probe);
    let mut producer =
        disruptor::build_single_producer(RING_SIZE, || 0i64, disruptor::BusySpinWithSpinLoopHint)
            .handle_events_with(move |e: &i64, _seq: i64, end: bool| {
                check.on_event(*e, end);
            })
            .build();
    let mut next = 0i64;
    g.bench_function(BenchmarkId::new(THEIRS, param(batch)), |bencher| {
        bencher.iter_custom(|iters| {
            timed(iters, || {
                if batch == 1 {
                    for _ in 0..burst {
                        producer.publish(|slot| *slot = black_box(next));
                        next += 1;
                    }
                } else {
                    for _ in 0..burst / batch as u64 {
                        producer.batch_publish(batch, |slots| {
                            for slot in slots {
                                *slot = black_box(next);
                                next += 1;
                            }
                        });
                    }
                }
                probe.wait_for(next as u64);
            })
        })
    });
    drop(producer); // joins the consumer
    probe.assert_done(THEIRS, next as u64, None);
}

fn crossbeam(g: &mut BenchmarkGroup<'_, WallTime>, burst: u64, batch: usize) {
    let probe = Probe::new();
    let (tx, rx) = crossbeam_channel::bounded::<i64>(RING_SIZE);
    let consumer = {
        let mut check = Checker::new(&probe);
        thread::spawn(move || {
            while let Ok(v) = rx.recv() {
                check.on(v);
                check.flush();
            }
        })
    };
    let mut next = 0i64;
    g.bench_function(BenchmarkId::new(CROSSBEAM, param(batch)), |bencher| {
        bencher.iter_custom(|iters| {
            timed(iters, || {
                // A channel has no batch publish: `batch64` sends 64 at a time, one by one.
                for _ in 0..burst / batch as u64 {
                    for _ in 0..batch {
                        tx.send(black_box(next)).unwrap();
                        next += 1;
                    }
                }
                probe.wait_for(next as u64);
            })
        })
    });
    drop(tx);
    consumer.join().unwrap();
    probe.assert_done(CROSSBEAM, next as u64, None);
}

/// The floor: a single-producer single-consumer ring with nothing but two cache-padded indices
/// and a preallocated array. The producer publishes `batch` slots with one Release store of
/// `tail`; the consumer reads everything up to `tail` and frees it with one Release store of
/// `head`. Each side caches the other's index and re-reads it only when it runs out.
struct SpscRing {
    /// Next slot the consumer reads (written by the consumer only).
    head: CachePadded<AtomicU64>,
    /// Next slot the producer writes (written by the producer only).
    tail: CachePadded<AtomicU64>,
    slots: Box<[UnsafeCell<i64>]>,
    stop: Stop,
}

// SAFETY: a slot is written only by the producer while it is outside `[head, tail)` and read
// only by the consumer while inside it; the Release/Acquire pairs on `head` and `tail` order
// those accesses.
unsafe impl Sync for SpscRing {}

impl SpscRing {
    fn new(size: usize) -> Self {
        assert!(size.is_power_of_two());
        SpscRing {
            head: CachePadded::new(AtomicU64::new(0)),
            tail: CachePadded::new(AtomicU64::new(0)),
            slots: (0..size).map(|_| UnsafeCell::new(0)).collect(),
            stop: Stop::default(),
        }
    }

    fn mask(&self) -> u64 {
        self.slots.len() as u64 - 1
    }
}

struct SpscProducer {
    ring: Arc<SpscRing>,
    tail: u64,
    /// The consumer's `head` as last read.
    head_cache: u64,
}

impl SpscProducer {
    /// Writes `n` values made by `f` and publishes them together.
    #[inline(always)]
    fn push(&mut self, n: u64, mut f: impl FnMut() -> i64) {
        let capacity = self.ring.slots.len() as u64;
        while self.tail + n - self.head_cache > capacity {
            self.head_cache = self.ring.head.load(Ordering::Acquire);
            std::hint::spin_loop();
        }
        let mask = self.ring.mask();
        for i in self.tail..self.tail + n {
            // SAFETY: `i` is in `[tail, head + capacity)`: the consumer is done with it and
            // will not read it before the Release store of `tail` below.
            unsafe { *self.ring.slots[(i & mask) as usize].get() = f() };
        }
        self.tail += n;
        self.ring.tail.store(self.tail, Ordering::Release);
    }
}

fn spsc_consumer(ring: Arc<SpscRing>, mut check: Checker) {
    let mask = ring.mask();
    let mut head = 0u64;
    loop {
        let tail = ring.tail.load(Ordering::Acquire);
        if tail == head {
            if ring.stop.is_raised() && ring.tail.load(Ordering::Acquire) == head {
                return;
            }
            std::hint::spin_loop();
            continue;
        }
        for i in head..tail {
            // SAFETY: `i` is in `[head, tail)`: published by the Release store of `tail` that
            // our Acquire load saw, and not reused before our Release store of `head`.
            check.on(unsafe { *ring.slots[(i & mask) as usize].get() });
        }
        head = tail;
        ring.head.store(head, Ordering::Release);
        check.flush();
    }
}

fn spsc(g: &mut BenchmarkGroup<'_, WallTime>, burst: u64, batch: usize) {
    let probe = Probe::new();
    let ring = Arc::new(SpscRing::new(RING_SIZE));
    let consumer = {
        let (ring, check) = (ring.clone(), Checker::new(&probe));
        thread::spawn(move || spsc_consumer(ring, check))
    };
    let mut producer = SpscProducer { ring: ring.clone(), tail: 0, head_cache: 0 };
    let mut next = 0i64;
    g.bench_function(BenchmarkId::new("spsc-ring", param(batch)), |bencher| {
        bencher.iter_custom(|iters| {
            timed(iters, || {
                for _ in 0..burst / batch as u64 {
                    producer.push(batch as u64, || {
                        let v = black_box(next);
                        next += 1;
                        v
                    });
                }
                probe.wait_for(next as u64);
            })
        })
    });
    ring.stop.raise();
    consumer.join().unwrap();
    probe.assert_done("spsc-ring", next as u64, None);
}

fn one_to_one(c: &mut Criterion) {
    let burst = burst(1 << 18);
    let mut g = group(c, "one_to_one", burst);
    for batch in BATCHES {
        ours(&mut g, burst, batch);
        theirs(&mut g, burst, batch);
        crossbeam(&mut g, burst, batch);
        spsc(&mut g, burst, batch);
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = common::criterion();
    targets = one_to_one
}
criterion_main!(benches);
