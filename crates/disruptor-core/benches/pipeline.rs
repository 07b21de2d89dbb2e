//! pipeline: one producer, three consumers in sequence; each sees an event after the previous
//! stage finished it.
//!
//! ```text
//!   +----+      +------+      +----+      +----+      +----+
//!   | P1 | ---> | ring | ---> | C1 | ---> | C2 | ---> | C3 |
//!   +----+      +------+      +----+      +----+      +----+
//! ```
//!
//! P1 (the bench thread) publishes bursts one event at a time and waits until C3 has seen the
//! whole burst. The disruptors keep every event in one ring, each stage's barrier following the
//! previous stage's sequence; the crossbeam equivalent is a bounded channel per edge
//! (P1 -> C1 -> C2 -> C3), C1 and C2 forwarding every event. Every stage verifies every event.
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
    BlockingWaitStrategy, BusySpinWaitStrategy, DisruptorBuilder, RingBuffer,
    SingleProducerSequencer, WaitStrategy, YieldingWaitStrategy,
};

const STAGES: usize = 3;

/// A stage's handler: verify every event, report at the end of each batch.
fn handler(probe: &std::sync::Arc<Probe>) -> impl FnMut(&i64, i64, bool) + Send + 'static {
    let mut check = Checker::new(probe);
    move |e: &i64, _seq: i64, end: bool| {
        check.on_event(*e, end);
    }
}

fn ours<W: WaitStrategy>(g: &mut BenchmarkGroup<'_, WallTime>, burst: u64, variant: &str, w: W) {
    let probes: Vec<_> = (0..STAGES).map(|_| Probe::new()).collect();
    let mut b = DisruptorBuilder::new(
        RingBuffer::new(RING_SIZE, || 0i64).unwrap(),
        SingleProducerSequencer::new(RING_SIZE, w).unwrap(),
    )
    .unwrap();
    b.handle_events_with(handler(&probes[0]))
        .and_then(handler(&probes[1]))
        .and_then(handler(&probes[2]));
    let (disruptor, mut producer) = b.build();
    let mut next = 0i64;
    g.bench_function(BenchmarkId::new(OURS, variant), |bencher| {
        bencher.iter_custom(|iters| {
            timed(iters, || {
                for _ in 0..burst {
                    producer.publish(|slot, _| *slot = black_box(next)).unwrap();
                    next += 1;
                }
                probes[STAGES - 1].wait_for(next as u64);
            })
        })
    });
    disruptor.shutdown().unwrap();
    probes.iter().for_each(|p| p.assert_done(OURS, next as u64, None));
}

fn theirs<W>(g: &mut BenchmarkGroup<'_, WallTime>, burst: u64, variant: &str, w: W)
where
    W: disruptor::wait_strategies::WaitStrategy + 'static,
{
    let probes: Vec<_> = (0..STAGES).map(|_| Probe::new()).collect();
    let mut producer = disruptor::build_single_producer(RING_SIZE, || 0i64, w)
        .handle_events_with(handler(&probes[0]))
        .and_then()
        .handle_events_with(handler(&probes[1]))
        .and_then()
        .handle_events_with(handler(&probes[2]))
        .build();
    let mut next = 0i64;
    g.bench_function(BenchmarkId::new(THEIRS, variant), |bencher| {
        bencher.iter_custom(|iters| {
            timed(iters, || {
                for _ in 0..burst {
                    producer.publish(|slot| *slot = black_box(next));
                    next += 1;
                }
                probes[STAGES - 1].wait_for(next as u64);
            })
        })
    });
    drop(producer); // joins the consumers
    probes.iter().for_each(|p| p.assert_done(THEIRS, next as u64, None));
}

fn crossbeam(g: &mut BenchmarkGroup<'_, WallTime>, burst: u64) {
    let probes: Vec<_> = (0..STAGES).map(|_| Probe::new()).collect();
    let (tx, mut rx) = crossbeam_channel::bounded::<i64>(RING_SIZE);
    let mut stages = Vec::new();
    for (i, probe) in probes.iter().enumerate() {
        let mut check = Checker::new(probe);
        let input = rx;
        let output = if i + 1 < STAGES {
            let (next_tx, next_rx) = crossbeam_channel::bounded::<i64>(RING_SIZE);
            rx = next_rx;
            Some(next_tx)
        } else {
            rx = crossbeam_channel::never();
            None
        };
        stages.push(thread::spawn(move || {
            while let Ok(v) = input.recv() {
                check.on(v);
                check.flush();
                if let Some(out) = &output {
                    out.send(v).unwrap();
                }
            }
        }));
    }
    let mut next = 0i64;
    g.bench_function(BenchmarkId::new(CROSSBEAM, BLOCKING), |bencher| {
        bencher.iter_custom(|iters| {
            timed(iters, || {
                for _ in 0..burst {
                    tx.send(black_box(next)).unwrap();
                    next += 1;
                }
                probes[STAGES - 1].wait_for(next as u64);
            })
        })
    });
    drop(tx); // each stage ends when its input closes, closing its output
    stages.into_iter().for_each(|t| t.join().unwrap());
    probes.iter().for_each(|p| p.assert_done(CROSSBEAM, next as u64, None));
}

topology_benches!(pipeline);
