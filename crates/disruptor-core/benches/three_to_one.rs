//! three_to_one: three producer threads, one consumer (multi-producer sequencer).
//!
//! ```text
//!   +----+
//!   | P1 | ---+
//!   +----+    |
//!   +----+    |     +-----------+      +----+
//!   | P2 | ---+---> |   ring    | ---> | C1 |
//!   +----+    |     +-----------+      +----+
//!   +----+    |
//!   | P3 | ---+
//!   +----+
//! ```
//!
//! P1 is the bench thread, P2 and P3 are helper threads built once and told how many events to
//! publish at the start of each burst; each producer publishes a third of the burst one event at
//! a time, then P1 waits until C1 has seen the whole burst. Values carry their producer's index,
//! so C1 checks every producer's events arrive complete and in order. Systems: our engine with a
//! `MultiProducerSequencer`, the `disruptor` crate's multi producer, and one crossbeam bounded
//! channel with three senders.
//!
//! Four threads on a 2-core machine: see `one_to_three` for the `busy-spin`, `yield` and
//! `blocking` variants.

mod common;

use std::hint::black_box;
use std::thread;

use common::*;
use criterion::measurement::WallTime;
use criterion::{criterion_group, criterion_main, BenchmarkGroup, BenchmarkId, Criterion};
use disruptor::Producer as _;
use disruptor_core::{
    BlockingWaitStrategy, BusySpinWaitStrategy, DisruptorBuilder, MultiProducerSequencer,
    RingBuffer, WaitStrategy, YieldingWaitStrategy,
};

const PRODUCERS: u64 = 3;

/// The checksum a [`Checker`] fed by `PRODUCERS` producers of `per_producer` events each ends
/// with (`on_tagged` sums the untagged counters).
fn expected_sum(per_producer: u64) -> Option<i64> {
    Some(sum_of_range(per_producer).wrapping_mul(PRODUCERS as i64))
}

/// One burst: helpers publish their share while the bench thread publishes its own with
/// `publish_own`, then waits for the consumer.
fn burst_of(
    helpers: &[Helper],
    share: u64,
    k: &mut i64,
    probe: &Probe,
    mut publish_own: impl FnMut(i64),
) {
    helpers.iter().for_each(|h| h.publish(share));
    for _ in 0..share {
        publish_own(*k);
        *k += 1;
    }
    probe.wait_for(*k as u64 * PRODUCERS);
}

fn ours<W: WaitStrategy>(g: &mut BenchmarkGroup<'_, WallTime>, burst: u64, variant: &str, w: W) {
    let probe = Probe::new();
    let mut b = DisruptorBuilder::new(
        RingBuffer::new(RING_SIZE, || 0i64).unwrap(),
        MultiProducerSequencer::new(RING_SIZE, w).unwrap(),
    )
    .unwrap();
    let mut check = Checker::new(&probe);
    b.handle_events_with(move |e: &i64, _seq: i64, end: bool| {
        check.on_tagged_event(*e, end);
    });
    let (disruptor, mut producer) = b.build();
    let helpers: Vec<_> = (1..PRODUCERS as usize)
        .map(|id| {
            let mut p = producer.clone();
            Helper::spawn(&format!("producer-{id}"), move |k| {
                p.publish(|slot, _| *slot = black_box(tag(id, k))).unwrap();
            })
        })
        .collect();
    let share = burst / PRODUCERS;
    let mut k = 0i64;
    g.bench_function(BenchmarkId::new(OURS, variant), |bencher| {
        bencher.iter_custom(|iters| {
            timed(iters, || {
                burst_of(&helpers, share, &mut k, &probe, |k| {
                    producer.publish(|slot, _| *slot = black_box(tag(0, k))).unwrap();
                })
            })
        })
    });
    drop(helpers);
    disruptor.shutdown().unwrap();
    probe.assert_done(OURS, k as u64 * PRODUCERS, expected_sum(k as u64));
}

fn theirs<W>(g: &mut BenchmarkGroup<'_, WallTime>, burst: u64, variant: &str, w: W)
where
    W: disruptor::wait_strategies::WaitStrategy + 'static,
{
    let probe = Probe::new();
    let mut check = Checker::new(&probe);
    let mut producer = disruptor::build_multi_producer(RING_SIZE, || 0i64, w)
        .handle_events_with(move |e: &i64, _seq: i64, end: bool| {
            check.on_tagged_event(*e, end);
        })
        .build();
    let helpers: Vec<_> = (1..PRODUCERS as usize)
        .map(|id| {
            let mut p = producer.clone();
            Helper::spawn(&format!("producer-{id}"), move |k| {
                p.publish(|slot| *slot = black_box(tag(id, k)));
            })
        })
        .collect();
    let share = burst / PRODUCERS;
    let mut k = 0i64;
    g.bench_function(BenchmarkId::new(THEIRS, variant), |bencher| {
        bencher.iter_custom(|iters| {
            timed(iters, || {
                burst_of(&helpers, share, &mut k, &probe, |k| {
                    producer.publish(|slot| *slot = black_box(tag(0, k)));
                })
            })
        })
    });
    drop(helpers);
    drop(producer); // the last producer joins the consumer
    probe.assert_done(THEIRS, k as u64 * PRODUCERS, expected_sum(k as u64));
}

fn crossbeam(g: &mut BenchmarkGroup<'_, WallTime>, burst: u64) {
    let probe = Probe::new();
    let (tx, rx) = crossbeam_channel::bounded::<i64>(RING_SIZE);
    let consumer = {
        let mut check = Checker::new(&probe);
        thread::spawn(move || {
            while let Ok(v) = rx.recv() {
                check.on_tagged(v);
                check.flush();
            }
        })
    };
    let helpers: Vec<_> = (1..PRODUCERS as usize)
        .map(|id| {
            let tx = tx.clone();
            Helper::spawn(&format!("producer-{id}"), move |k| {
                tx.send(black_box(tag(id, k))).unwrap()
            })
        })
        .collect();
    let share = burst / PRODUCERS;
    let mut k = 0i64;
    g.bench_function(BenchmarkId::new(CROSSBEAM, BLOCKING), |bencher| {
        bencher.iter_custom(|iters| {
            timed(iters, || {
                burst_of(&helpers, share, &mut k, &probe, |k| {
                    tx.send(black_box(tag(0, k))).unwrap()
                })
            })
        })
    });
    drop(helpers);
    drop(tx);
    consumer.join().unwrap();
    probe.assert_done(CROSSBEAM, k as u64 * PRODUCERS, expected_sum(k as u64));
}

topology_benches!(three_to_one);
