//! diamond: one producer; C1 and C2 consume every event in parallel, C3 sees an event only
//! after both finished it (the LMAX journal / replicate / business-logic diamond).
//!
//! ```text
//!                            +----> C1 ----+
//!   +----+      +------+     |             |
//!   | P1 | ---> | ring | ----+             +----> C3
//!   +----+      +------+     |             |
//!                            +----> C2 ----+
//! ```
//!
//! P1 (the bench thread) publishes bursts one event at a time and waits until C3 has seen the
//! whole burst. The disruptors keep every event in one ring, C3's barrier following the slower
//! of C1 and C2. The crossbeam equivalent is a bounded channel per edge: P1 sends every event to
//! C1 and to C2, each forwards it to C3 on its own channel, and C3 receives one from each
//! (checking that both carry the same event). Every consumer verifies every event.
//!
//! Four threads on a 2-core machine: see `one_to_three` for the `busy-spin`, `yield` and
//! `blocking` variants.

mod common;

use std::hint::black_box;
use std::sync::Arc;
use std::thread;

use common::*;
use criterion::measurement::WallTime;
use criterion::{criterion_group, criterion_main, BenchmarkGroup, BenchmarkId, Criterion};
use crossbeam_channel::{bounded, Receiver, Sender};
use disruptor::Producer as _;
use disruptor_core::{
    BlockingWaitStrategy, BusySpinWaitStrategy, DisruptorBuilder, RingBuffer,
    SingleProducerSequencer, WaitStrategy, YieldingWaitStrategy,
};

/// A consumer's handler: verify every event, report at the end of each batch.
fn handler(probe: &Arc<Probe>) -> impl FnMut(&i64, i64, bool) + Send + 'static {
    let mut check = Checker::new(probe);
    move |e: &i64, _seq: i64, end: bool| {
        check.on_event(*e, end);
    }
}

fn probes() -> [Arc<Probe>; 3] {
    [Probe::new(), Probe::new(), Probe::new()]
}

fn ours<W: WaitStrategy>(g: &mut BenchmarkGroup<'_, WallTime>, burst: u64, variant: &str, w: W) {
    let [p1, p2, p3] = probes();
    let mut b = DisruptorBuilder::new(
        RingBuffer::new(RING_SIZE, || 0i64).unwrap(),
        SingleProducerSequencer::new(RING_SIZE, w).unwrap(),
    )
    .unwrap();
    let c1 = b.handle_events_with(handler(&p1)).stage();
    let c2 = b.handle_events_with(handler(&p2)).stage();
    b.after(&c1.and(&c2)).unwrap().handle_events_with(handler(&p3));
    let (disruptor, mut producer) = b.build();
    let mut next = 0i64;
    g.bench_function(BenchmarkId::new(OURS, variant), |bencher| {
        bencher.iter_custom(|iters| {
            timed(iters, || {
                for _ in 0..burst {
                    producer.publish(|slot, _| *slot = black_box(next)).unwrap();
                    next += 1;
                }
                p3.wait_for(next as u64);
            })
        })
    });
    disruptor.shutdown().unwrap();
    [p1, p2, p3].iter().for_each(|p| p.assert_done(OURS, next as u64, None));
}

fn theirs<W>(g: &mut BenchmarkGroup<'_, WallTime>, burst: u64, variant: &str, w: W)
where
    W: disruptor::wait_strategies::WaitStrategy + 'static,
{
    let [p1, p2, p3] = probes();
    let mut producer = disruptor::build_single_producer(RING_SIZE, || 0i64, w)
        .handle_events_with(handler(&p1))
        .handle_events_with(handler(&p2))
        .and_then()
        .handle_events_with(handler(&p3))
        .build();
    let mut next = 0i64;
    g.bench_function(BenchmarkId::new(THEIRS, variant), |bencher| {
        bencher.iter_custom(|iters| {
            timed(iters, || {
                for _ in 0..burst {
                    producer.publish(|slot| *slot = black_box(next));
                    next += 1;
                }
                p3.wait_for(next as u64);
            })
        })
    });
    drop(producer); // joins the consumers
    [p1, p2, p3].iter().for_each(|p| p.assert_done(THEIRS, next as u64, None));
}

/// C1 or C2 of the channel diamond: verify, then forward to C3.
fn forward(
    input: Receiver<i64>,
    output: Sender<i64>,
    probe: &Arc<Probe>,
) -> thread::JoinHandle<()> {
    let mut check = Checker::new(probe);
    thread::spawn(move || {
        while let Ok(v) = input.recv() {
            check.on(v);
            check.flush();
            output.send(v).unwrap();
        }
    })
}

fn crossbeam(g: &mut BenchmarkGroup<'_, WallTime>, burst: u64) {
    let [p1, p2, p3] = probes();
    let (to_c1, c1_in) = bounded::<i64>(RING_SIZE);
    let (to_c2, c2_in) = bounded::<i64>(RING_SIZE);
    let (c1_out, from_c1) = bounded::<i64>(RING_SIZE);
    let (c2_out, from_c2) = bounded::<i64>(RING_SIZE);
    let c1 = forward(c1_in, c1_out, &p1);
    let c2 = forward(c2_in, c2_out, &p2);
    let c3 = {
        let mut check = Checker::new(&p3);
        thread::spawn(move || {
            // The join: one event from each branch; both must be the same event.
            while let (Ok(a), Ok(b)) = (from_c1.recv(), from_c2.recv()) {
                check.on(if a == b { a } else { -1 });
                check.flush();
            }
        })
    };
    let mut next = 0i64;
    g.bench_function(BenchmarkId::new(CROSSBEAM, BLOCKING), |bencher| {
        bencher.iter_custom(|iters| {
            timed(iters, || {
                for _ in 0..burst {
                    let v = black_box(next);
                    to_c1.send(v).unwrap();
                    to_c2.send(v).unwrap();
                    next += 1;
                }
                p3.wait_for(next as u64);
            })
        })
    });
    drop((to_c1, to_c2)); // C1 and C2 end, closing C3's inputs
    [c1, c2, c3].into_iter().for_each(|t| t.join().unwrap());
    [p1, p2, p3].iter().for_each(|p| p.assert_done(CROSSBEAM, next as u64, None));
}

topology_benches!(diamond);
