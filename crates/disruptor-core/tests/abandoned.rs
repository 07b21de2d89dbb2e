//! Abandoned claims: a producer whose fill panics publishes what it filled and abandons the
//! rest of its claim. Every kind of consumer (processor, dependent stage, worker pool, poller)
//! receives each filled event exactly once, in per-producer order, and never an abandoned one;
//! each counts what it skipped. Real threads, single and multi producers.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;

use disruptor_core::*;

/// An event: who made it, its per-producer number, and a checksum that a torn or stale slot
/// fails (slots start zeroed, and an abandoned slot keeps a previous lap's event or half of one).
#[derive(Debug, Default, Clone, Copy)]
struct Event {
    producer: u64,
    counter: u64,
    check: u64,
}

fn sealed(producer: u64, counter: u64) -> Event {
    Event { producer, counter, check: producer.wrapping_mul(31) ^ counter.wrapping_mul(0x9E37) ^ 1 }
}

/// Checks each event in sequence order: intact, and each producer's counters exactly 0, 1, 2...
/// (abandoned events take no counter, so nothing may be missing either).
#[derive(Default)]
struct Order {
    next: Vec<u64>,
    delivered: u64,
}

impl Order {
    fn check(&mut self, e: &Event, seq: i64) -> Result<(), String> {
        if *e != sealed(e.producer, e.counter) {
            return Err(format!("torn or stale event at {seq}: {e:?}"));
        }
        let p = e.producer as usize;
        if self.next.len() <= p {
            self.next.resize(p + 1, 0);
        }
        if e.counter != self.next[p] {
            return Err(format!(
                "at {seq}: producer {p} counter {}, expected {}",
                e.counter, self.next[p]
            ));
        }
        self.next[p] += 1;
        self.delivered += 1;
        Ok(())
    }
}

impl PartialEq for Event {
    fn eq(&self, o: &Self) -> bool {
        (self.producer, self.counter, self.check) == (o.producer, o.counter, o.check)
    }
}

/// Publishes `n` filled events in claims of 1 to 5; every `every`-th claim's fill panics at
/// some slot. Returns how many slots were abandoned.
fn produce<S: Sequencer>(
    p: &mut Producer<RingBuffer<Event>, S>,
    id: u64,
    n: u64,
    every: u64,
) -> u64 {
    let (mut counter, mut round, mut abandoned) = (0u64, 0u64, 0u64);
    while counter < n {
        round += 1;
        let batch = (1 + round % 5).min(n - counter + u64::from(round % every == 0));
        let fail_at = (round % every == 0).then_some(round % batch);
        let mut index = 0;
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            p.publish_batch(batch as usize, |e, _| {
                if Some(index) == fail_at {
                    *e = Event { producer: id, counter, check: 0 }; // torn
                    panic!("fill failed");
                }
                *e = sealed(id, counter);
                counter += 1;
                index += 1;
            })
        }));
        match outcome {
            Err(_) => abandoned += batch - index,
            // A consumer halted (it found a bad event): stop, so the test fails at once.
            Ok(Err(e)) => panic!("producer {id}: {e}"),
            Ok(Ok(_)) => {}
        }
    }
    abandoned
}

type Spawn<S> = fn(Producer<RingBuffer<Event>, S>, u64) -> Vec<thread::JoinHandle<u64>>;

/// Runs `producers` producers of `n` filled events each (started by `spawn`) against a
/// processor, a stage after it, a worker pool and a poller on a thread of its own.
fn run<S: Sequencer + 'static>(
    b: DisruptorBuilder<RingBuffer<Event>, S>,
    producers: u64,
    n: u64,
    spawn: Spawn<S>,
) {
    let mut b = b;
    let checked = |order: Arc<Mutex<Order>>| {
        move |e: &Event, seq: i64, _: bool| -> Result<(), String> {
            order.lock().unwrap().check(e, seq)
        }
    };
    let first = Arc::new(Mutex::new(Order::default()));
    let second = Arc::new(Mutex::new(Order::default()));
    let stage = b.handle_events_with(checked(first.clone())).stage();
    b.after(&stage).unwrap().handle_events_with(checked(second.clone()));
    // A worker pool: each filled event to exactly one worker.
    let pooled = Arc::new(Mutex::new(Vec::new()));
    let workers: Vec<_> = (0..3)
        .map(|_| {
            let pooled = pooled.clone();
            move |e: &Event, seq: i64, _: bool| -> Result<(), String> {
                if *e != sealed(e.producer, e.counter) {
                    return Err(format!("torn or stale event at {seq}: {e:?}"));
                }
                pooled.lock().unwrap().push((e.producer, e.counter));
                Ok(())
            }
        })
        .collect();
    b.handle_events_with_worker_pool(workers);
    let (d, p) = b.build();
    // A poller driven by a thread of its own.
    let mut poller = d.add_poller("poller").unwrap();
    let done = Arc::new(AtomicBool::new(false));
    let target = Arc::new(AtomicU64::new(u64::MAX));
    let polling = {
        let (done, target) = (done.clone(), target.clone());
        thread::spawn(move || {
            let mut order = Order::default();
            let mut failure = None;
            while !(done.load(Ordering::Acquire)
                && poller.sequence() >= target.load(Ordering::Acquire) as i64)
            {
                let _ = poller.poll(|e, seq, _| {
                    if let Err(why) = order.check(e, seq) {
                        failure.get_or_insert(why);
                    }
                    true
                });
                thread::yield_now();
            }
            (order.delivered, failure, poller.info().skipped())
        })
    };
    let threads = spawn(p, n);
    let joined: Vec<_> = threads.into_iter().map(|t| t.join()).collect();
    target.store(d.cursor() as u64, Ordering::Release);
    done.store(true, Ordering::Release);
    let (polled, failure, poller_skipped) = polling.join().unwrap();
    let abandoned: u64 = joined.into_iter().map(|r| r.expect("a producer failed")).sum();
    let infos = d.consumers();
    d.shutdown().unwrap();
    let filled = producers * n;
    assert!(abandoned > 0, "the run abandoned nothing");
    assert_eq!(failure, None);
    assert_eq!(first.lock().unwrap().delivered, filled);
    assert_eq!(second.lock().unwrap().delivered, filled);
    assert_eq!(polled, filled);
    let mut pool = pooled.lock().unwrap().clone();
    pool.sort_unstable();
    let expected: Vec<_> = (0..producers).flat_map(|id| (0..n).map(move |c| (id, c))).collect();
    assert_eq!(pool, expected, "the pool got each filled event exactly once");
    assert_eq!(poller_skipped, abandoned);
    // The two stages and the poller skipped everything abandoned; the pool's workers together.
    let skipped: u64 = infos.iter().map(|c| c.skipped()).sum();
    assert_eq!(skipped, 4 * abandoned);
}

fn multi<W: WaitStrategy>(w: W) -> DisruptorBuilder<RingBuffer<Event>, MultiProducerSequencer<W>> {
    let ring = RingBuffer::new(64, Event::default).unwrap();
    DisruptorBuilder::new(ring, MultiProducerSequencer::new(64, w).unwrap()).unwrap()
}

fn three_producers<W: WaitStrategy>(
    p: Producer<RingBuffer<Event>, MultiProducerSequencer<W>>,
    n: u64,
) -> Vec<thread::JoinHandle<u64>> {
    (0..3)
        .map(|id| {
            let mut p = p.clone();
            thread::spawn(move || produce(&mut p, id, n, 7))
        })
        .collect()
}

#[test]
fn multi_producers_blocking() {
    std::panic::set_hook(Box::new(|_| {})); // the fills' panics are the point
    run(multi(BlockingWaitStrategy::default()), 3, 20_000, three_producers);
}

#[test]
fn multi_producers_yielding() {
    std::panic::set_hook(Box::new(|_| {}));
    run(multi(YieldingWaitStrategy::default()), 3, 20_000, three_producers);
}

#[test]
fn single_producer_split_cursor() {
    std::panic::set_hook(Box::new(|_| {}));
    let ring = RingBuffer::new(64, Event::default).unwrap();
    let sequencer = SingleProducerSequencer::with_split_cursor(64, BlockingWaitStrategy::default());
    let b = DisruptorBuilder::new(ring, sequencer.unwrap()).unwrap();
    run(b, 1, 50_000, |mut p, n| vec![thread::spawn(move || produce(&mut p, 0, n, 7))]);
}
