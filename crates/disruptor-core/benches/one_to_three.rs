//! one_to_three: one producer, three consumers that each see every event (multicast).
//!
//! ```text
//!                                  +----> C1
//!   +----+      +-----------+      |
//!   | P1 | ---> |   ring    | -----+----> C2
//!   +----+      +-----------+      |
//!                                  +----> C3
//! ```
//!
//! P1 (the bench thread) publishes bursts one event at a time and waits until all three
//! consumers have seen the whole burst. The disruptors share one ring (the producer is gated
//! by the slowest consumer); the crossbeam equivalent is one bounded channel per consumer, the
//! producer sending every event three times.
//!
//! Variants (also in `three_to_one`, `pipeline` and `diamond`): four threads on a 2-core machine,
//! so `busy-spin` (both disruptors spin) oversubscribes the cores; `yield` lets a waiting thread
//! give its core away after every failed check (equivalent strategies on both disruptors, see
//! `common`); `blocking` is crossbeam's plain `send`/`recv` and our `BlockingWaitStrategy` (the
//! `disruptor` crate has no blocking strategy).

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

const CONSUMERS: usize = 3;

fn ours<W: WaitStrategy>(g: &mut BenchmarkGroup<'_, WallTime>, burst: u64, variant: &str, w: W) {
    let probes: Vec<_> = (0..CONSUMERS).map(|_| Probe::new()).collect();
    let mut b = DisruptorBuilder::new(
        RingBuffer::new(RING_SIZE, || 0i64).unwrap(),
        SingleProducerSequencer::new(RING_SIZE, w).unwrap(),
    )
    .unwrap();
    for probe in &probes {
        let mut check = Checker::new(probe);
        b.handle_events_with(move |e: &i64, _seq: i64, end: bool| {
            check.on_event(*e, end);
        });
    }
    let (disruptor, mut producer) = b.build();
    let mut next = 0i64;
    g.bench_function(BenchmarkId::new(OURS, variant), |bencher| {
        bencher.iter_custom(|iters| {
            timed(iters, || {
                for _ in 0..burst {
                    producer.publish(|slot, _| *slot = black_box(next)).unwrap();
                    next += 1;
                }
                probes.iter().for_each(|p| p.wait_for(next as u64));
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
    let probes: Vec<_> = (0..CONSUMERS).map(|_| Probe::new()).collect();
    let handler = |probe| {
        let mut check = Checker::new(probe);
        move |e: &i64, _seq: i64, end: bool| {
            check.on_event(*e, end);
        }
    };
    let mut producer = disruptor::build_single_producer(RING_SIZE, || 0i64, w)
        .handle_events_with(handler(&probes[0]))
        .handle_events_with(handler(&probes[1]))
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
                probes.iter().for_each(|p| p.wait_for(next as u64));
            })
        })
    });
    drop(producer); // joins the consumers
    probes.iter().for_each(|p| p.assert_done(THEIRS, next as u64, None));
}

fn crossbeam(g: &mut BenchmarkGroup<'_, WallTime>, burst: u64) {
    let probes: Vec<_> = (0..CONSUMERS).map(|_| Probe::new()).collect();
    let mut senders = Vec::new();
    let mut consumers = Vec::new();
    for probe in &probes {
        let (tx, rx) = crossbeam_channel::bounded::<i64>(RING_SIZE);
        let mut check = Checker::new(probe);
        senders.push(tx);
        consumers.push(thread::spawn(move || {
            while let Ok(v) = rx.recv() {
                check.on(v);
                check.flush();
            }
        }));
    }
    let mut next = 0i64;
    g.bench_function(BenchmarkId::new(CROSSBEAM, BLOCKING), |bencher| {
        bencher.iter_custom(|iters| {
            timed(iters, || {
                for _ in 0..burst {
                    let v = black_box(next);
                    for tx in &senders {
                        tx.send(v).unwrap();
                    }
                    next += 1;
                }
                probes.iter().for_each(|p| p.wait_for(next as u64));
            })
        })
    });
    drop(senders);
    consumers.into_iter().for_each(|t| t.join().unwrap());
    probes.iter().for_each(|p| p.assert_done(CROSSBEAM, next as u64, None));
}

topology_benches!(one_to_three);
