//! Real threads, every topology: each published sequence reaches each consumer exactly once and
//! in order (a worker pool: exactly one worker), with slot contents intact. Handlers check with
//! `Err`/panic; a failed check halts the consumer and `shutdown()` reports it.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;

use disruptor_core::*;

#[derive(Debug, Default, Clone, Copy)]
struct Event {
    producer: u64,
    counter: u64,
    check: u64,
}

fn checksum(producer: u64, counter: u64) -> u64 {
    producer.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ counter.rotate_left(17) ^ 0x5555
}

fn fill(e: &mut Event, producer: u64, counter: u64) {
    *e = Event { producer, counter, check: checksum(producer, counter) };
}

/// A handler that checks order, exactly-once, contents and per-producer order, and counts.
fn checker(
    producers: usize,
    seen: Arc<AtomicI64>,
) -> impl FnMut(&Event, i64, bool) -> Result<(), String> + Send {
    let mut expected = 0i64;
    let mut next_counter = vec![0u64; producers];
    move |e: &Event, seq: i64, _end: bool| {
        if seq != expected {
            return Err(format!("got sequence {seq}, expected {expected}"));
        }
        expected += 1;
        if e.check != checksum(e.producer, e.counter) {
            return Err(format!("corrupt slot at {seq}: {e:?}"));
        }
        let p = e.producer as usize;
        if p >= producers || e.counter != next_counter[p] {
            return Err(format!("producer order broken at {seq}: {e:?}"));
        }
        next_counter[p] += 1;
        seen.store(seq, Ordering::Release);
        Ok(())
    }
}

const SIZE: usize = 1024;

fn single<W: WaitStrategy>(
    w: W,
) -> DisruptorBuilder<RingBuffer<Event>, SingleProducerSequencer<W>> {
    DisruptorBuilder::new(
        RingBuffer::new(SIZE, Event::default).unwrap(),
        SingleProducerSequencer::new(SIZE, w).unwrap(),
    )
    .unwrap()
}

fn multi<W: WaitStrategy>(w: W) -> DisruptorBuilder<RingBuffer<Event>, MultiProducerSequencer<W>> {
    DisruptorBuilder::new(
        RingBuffer::new(SIZE, Event::default).unwrap(),
        MultiProducerSequencer::new(SIZE, w).unwrap(),
    )
    .unwrap()
}

/// Publishes `n` events from one producer, alternating single publishes and batches.
fn produce<S: Sequencer>(p: &mut Producer<RingBuffer<Event>, S>, id: u64, n: u64) {
    let mut counter = 0;
    while counter < n {
        if counter % 3 == 0 && n - counter >= 7 {
            p.publish_batch(7, |e, _| {
                fill(e, id, counter);
                counter += 1;
            })
            .unwrap();
        } else {
            p.publish(|e, _| fill(e, id, counter)).unwrap();
            counter += 1;
        }
    }
}

/// Publishes `n` events from each of `producers` threads (ids 0..producers) and joins them.
fn produce_from_threads<W: WaitStrategy>(
    p: &Producer<RingBuffer<Event>, MultiProducerSequencer<W>>,
    producers: u64,
    n: u64,
) {
    let threads: Vec<_> = (0..producers)
        .map(|id| {
            let mut p = p.clone();
            thread::spawn(move || produce(&mut p, id, n))
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
}

fn one_to_one<W: WaitStrategy>(w: W, n: u64) {
    let seen = Arc::new(AtomicI64::new(-1));
    let mut b = single(w);
    b.handle_events_with(checker(1, seen.clone()));
    let (d, mut p) = b.build();
    produce(&mut p, 0, n);
    d.shutdown().unwrap();
    assert_eq!(seen.load(Ordering::Acquire), n as i64 - 1);
}

#[test]
fn one_to_one_blocking() {
    one_to_one(BlockingWaitStrategy::default(), 200_000);
}

/// A single producer with a split cursor (32-bit low word + epoch, what JavaScript producers
/// publish through): a pipeline of two handlers and a three-stage diamond's worth of readers,
/// blocking and busy-spin.
fn split_cursor_pipeline<W: WaitStrategy>(w: W, n: u64) {
    let seen: Vec<_> = (0..3).map(|_| Arc::new(AtomicI64::new(-1))).collect();
    let mut b = DisruptorBuilder::new(
        RingBuffer::new(64, Event::default).unwrap(),
        SingleProducerSequencer::with_split_cursor(64, w).unwrap(),
    )
    .unwrap();
    let first = b.handle_events_with(checker(1, seen[0].clone())).stage();
    let second = b.handle_events_with(checker(1, seen[1].clone())).stage();
    b.after(&first.and(&second)).unwrap().handle_events_with(checker(1, seen[2].clone()));
    let (d, mut p) = b.build();
    produce(&mut p, 0, n);
    d.shutdown().unwrap();
    for s in &seen {
        assert_eq!(s.load(Ordering::Acquire), n as i64 - 1);
    }
}

#[test]
fn split_cursor_diamond_blocking() {
    split_cursor_pipeline(BlockingWaitStrategy::default(), 100_000);
}

#[test]
fn split_cursor_diamond_yielding() {
    split_cursor_pipeline(YieldingWaitStrategy::default(), 100_000);
}

#[test]
fn one_to_one_yielding() {
    one_to_one(YieldingWaitStrategy::default(), 200_000);
}

#[test]
fn one_to_one_busy_spin() {
    one_to_one(BusySpinWaitStrategy, 200_000);
}

#[test]
fn one_to_one_sleeping() {
    one_to_one(SleepingWaitStrategy::default(), 50_000);
}

#[test]
fn one_to_one_phased_backoff() {
    one_to_one(AnyWaitStrategy::from_name("phased-backoff").unwrap(), 100_000);
}

fn one_to_three<W: WaitStrategy>(w: W, n: u64) {
    let seen: Vec<_> = (0..3).map(|_| Arc::new(AtomicI64::new(-1))).collect();
    let mut b = single(w);
    for s in &seen {
        b.handle_events_with(checker(1, s.clone()));
    }
    let (d, mut p) = b.build();
    produce(&mut p, 0, n);
    d.shutdown().unwrap();
    for s in &seen {
        assert_eq!(s.load(Ordering::Acquire), n as i64 - 1);
    }
}

#[test]
fn one_to_three_multicast_blocking() {
    one_to_three(BlockingWaitStrategy::default(), 100_000);
}

#[test]
fn one_to_three_multicast_yielding() {
    one_to_three(YieldingWaitStrategy::default(), 100_000);
}

fn three_to_one<W: WaitStrategy>(w: W, n: u64) {
    let seen = Arc::new(AtomicI64::new(-1));
    let mut b = multi(w);
    b.handle_events_with(checker(3, seen.clone()));
    let (d, p) = b.build();
    produce_from_threads(&p, 3, n);
    d.shutdown().unwrap();
    assert_eq!(seen.load(Ordering::Acquire), 3 * n as i64 - 1);
}

#[test]
fn three_to_one_blocking() {
    three_to_one(BlockingWaitStrategy::default(), 60_000);
}

#[test]
fn three_to_one_yielding() {
    three_to_one(YieldingWaitStrategy::default(), 60_000);
}

#[test]
fn three_to_one_try_publish() {
    // Producers that never wait: retry on InsufficientCapacity.
    let n = 30_000u64;
    let seen = Arc::new(AtomicI64::new(-1));
    let mut b = multi(YieldingWaitStrategy::default());
    b.handle_events_with(checker(3, seen.clone()));
    let (d, p) = b.build();
    let threads: Vec<_> = (0..3u64)
        .map(|id| {
            let mut p = p.clone();
            thread::spawn(move || {
                for counter in 0..n {
                    loop {
                        match p.try_publish(|e, _| fill(e, id, counter)) {
                            Ok(_) => break,
                            Err(Error::InsufficientCapacity) => thread::yield_now(),
                            Err(e) => panic!("{e}"),
                        }
                    }
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    d.shutdown().unwrap();
    assert_eq!(seen.load(Ordering::Acquire), 3 * n as i64 - 1);
}

/// Checks that `upstream` finished `seq` before this stage sees it.
fn after_upstream(
    upstream: Vec<Arc<AtomicI64>>,
    mut check: impl FnMut(&Event, i64, bool) -> Result<(), String> + Send,
) -> impl FnMut(&Event, i64, bool) -> Result<(), String> + Send {
    move |e: &Event, seq: i64, end: bool| {
        for u in &upstream {
            let done = u.load(Ordering::Acquire);
            if done < seq {
                return Err(format!("saw {seq} before upstream finished it (upstream at {done})"));
            }
        }
        check(e, seq, end)
    }
}

fn pipeline<W: WaitStrategy>(w: W, n: u64) {
    let s: Vec<_> = (0..3).map(|_| Arc::new(AtomicI64::new(-1))).collect();
    let mut b = single(w);
    b.handle_events_with(checker(1, s[0].clone()))
        .and_then(after_upstream(vec![s[0].clone()], checker(1, s[1].clone())))
        .and_then(after_upstream(vec![s[1].clone()], checker(1, s[2].clone())));
    let (d, mut p) = b.build();
    produce(&mut p, 0, n);
    d.shutdown().unwrap();
    assert_eq!(s[2].load(Ordering::Acquire), n as i64 - 1);
}

#[test]
fn pipeline_blocking() {
    pipeline(BlockingWaitStrategy::default(), 100_000);
}

#[test]
fn pipeline_yielding() {
    pipeline(YieldingWaitStrategy::default(), 100_000);
}

fn diamond<W: WaitStrategy>(w: W, n: u64) {
    let s: Vec<_> = (0..3).map(|_| Arc::new(AtomicI64::new(-1))).collect();
    let mut b = multi(w);
    let c1 = b.handle_events_with(checker(2, s[0].clone())).stage();
    let c2 = b.handle_events_with(checker(2, s[1].clone())).stage();
    b.after(&c1.and(&c2)).unwrap().handle_events_with(after_upstream(
        vec![s[0].clone(), s[1].clone()],
        checker(2, s[2].clone()),
    ));
    let (d, p) = b.build();
    produce_from_threads(&p, 2, n);
    d.shutdown().unwrap();
    assert_eq!(s[2].load(Ordering::Acquire), 2 * n as i64 - 1);
}

#[test]
fn diamond_blocking() {
    diamond(BlockingWaitStrategy::default(), 50_000);
}

#[test]
fn diamond_yielding() {
    diamond(YieldingWaitStrategy::default(), 50_000);
}

fn worker_pool<W: WaitStrategy>(w: W, n: u64) {
    let workers = 3;
    let got: Vec<_> = (0..workers).map(|_| Arc::new(Mutex::new(Vec::new()))).collect();
    let mut b = multi(w);
    let handlers: Vec<_> = got
        .iter()
        .map(|g| {
            let g = g.clone();
            move |e: &Event, seq: i64, _: bool| -> Result<(), String> {
                if e.check != checksum(e.producer, e.counter) {
                    return Err(format!("corrupt slot at {seq}"));
                }
                g.lock().unwrap().push((seq, e.producer, e.counter));
                Ok(())
            }
        })
        .collect();
    // A downstream stage sees a sequence only after the pool finished it.
    let finished = Arc::new(AtomicI64::new(-1));
    let pool_done: Vec<_> = got.clone();
    let f = finished.clone();
    let mut expected = 0i64;
    let group = b.handle_events_with_worker_pool(handlers);
    group.and_then(move |_: &Event, seq: i64, _: bool| -> Result<(), String> {
        if seq != expected {
            return Err(format!("downstream got {seq}, expected {expected}"));
        }
        expected += 1;
        let handled = pool_done.iter().any(|g| g.lock().unwrap().iter().any(|x| x.0 == seq));
        if !handled {
            return Err(format!("downstream saw {seq} before any worker handled it"));
        }
        f.store(seq, Ordering::Release);
        Ok(())
    });
    let (d, p) = b.build();
    produce_from_threads(&p, 2, n);
    d.shutdown().unwrap();
    let mut all: Vec<(i64, u64, u64)> =
        got.iter().flat_map(|g| g.lock().unwrap().clone()).collect();
    all.sort_unstable();
    assert_eq!(all.len() as u64, 2 * n, "every sequence handled exactly once");
    for (i, (seq, _, _)) in all.iter().enumerate() {
        assert_eq!(*seq, i as i64, "sequence {i} handled zero or several times");
    }
    // per producer, counters form 0..n exactly once
    for id in 0..2u64 {
        let mut counters: Vec<u64> = all.iter().filter(|x| x.1 == id).map(|x| x.2).collect();
        counters.sort_unstable();
        assert_eq!(counters, (0..n).collect::<Vec<_>>());
    }
    assert_eq!(finished.load(Ordering::Acquire), 2 * n as i64 - 1);
    // More than one worker did work (the pool is a pool).
    assert!(got.iter().filter(|g| !g.lock().unwrap().is_empty()).count() >= 1);
}

#[test]
fn worker_pool_blocking() {
    worker_pool(BlockingWaitStrategy::default(), 5_000);
}

#[test]
fn worker_pool_yielding() {
    worker_pool(YieldingWaitStrategy::default(), 5_000);
}

#[test]
fn byte_slots_one_to_one() {
    let n = 100_000u64;
    let seen = Arc::new(AtomicI64::new(-1));
    let s2 = seen.clone();
    let mut b = DisruptorBuilder::new(
        SlotBuffer::new(256, 24).unwrap(),
        SingleProducerSequencer::new(256, BlockingWaitStrategy::default()).unwrap(),
    )
    .unwrap();
    b.handle_events_with(move |slot: &[u8], seq: i64, _: bool| -> Result<(), String> {
        let v = u64::from_le_bytes(slot[0..8].try_into().unwrap());
        let c = u64::from_le_bytes(slot[16..24].try_into().unwrap());
        if v != seq as u64 || c != checksum(0, v) {
            return Err(format!("slot {seq} holds {v}/{c}"));
        }
        s2.store(seq, Ordering::Release);
        Ok(())
    });
    let (d, mut p) = b.build();
    for i in 0..n {
        p.publish(|slot, _| {
            slot[0..8].copy_from_slice(&i.to_le_bytes());
            slot[16..24].copy_from_slice(&checksum(0, i).to_le_bytes());
        })
        .unwrap();
    }
    d.shutdown().unwrap();
    assert_eq!(seen.load(Ordering::Acquire), n as i64 - 1);
}

#[test]
fn pollers_see_everything_in_order() {
    let n = 50_000u64;
    let mut b = multi(BlockingWaitStrategy::default());
    let mut poller = b.poller();
    let (d, p) = b.build();
    let producers = thread::spawn(move || produce_from_threads(&p, 2, n));
    let seen = Arc::new(AtomicI64::new(-1));
    let mut check = checker(2, seen.clone());
    let mut failure = None;
    while seen.load(Ordering::Acquire) < 2 * n as i64 - 1 && failure.is_none() {
        match poller.poll(|e, seq, end| match check(e, seq, end) {
            Ok(()) => true,
            Err(msg) => {
                failure = Some(msg);
                false
            }
        }) {
            Ok(PollState::Processing) => {}
            Ok(_) => thread::yield_now(),
            Err(e) => panic!("{e}"),
        }
    }
    assert_eq!(failure, None);
    producers.join().unwrap();
    d.shutdown().unwrap();
    assert_eq!(poller.poll(|_, _, _| true), Err(Error::Closed));
}

/// Multi producers on a ring without consumers: a claim never laps a slot another producer
/// claimed and is still filling (the safe `Producer` hands out `&mut` to claimed slots, and its
/// clones run on several threads). While one producer fills sequence 0 of a ring of 8, another
/// cannot claim 8 slots (sequence 8 shares slot 0); it can once 0 is published. It could
/// before: without consumers the bound was the claim cursor.
#[test]
fn multi_producers_without_consumers_never_share_a_slot() {
    let b = DisruptorBuilder::new(
        RingBuffer::new(8, || 0u64).unwrap(),
        MultiProducerSequencer::new(8, BlockingWaitStrategy::default()).unwrap(),
    )
    .unwrap();
    let (d, mut p) = b.build();
    let mut other = p.clone();
    let mut during = None;
    p.publish(|slot, _| {
        *slot = 1;
        let claim = thread::scope(|scope| {
            scope.spawn(|| other.try_publish_batch(8, |e, s| *e = s as u64)).join().unwrap()
        });
        during = Some(claim);
    })
    .unwrap();
    assert_eq!(during, Some(Err(Error::InsufficientCapacity)), "lapped a slot being filled");
    assert_eq!(other.try_publish_batch(8, |e, s| *e = s as u64), Ok((1, 8)));
    // And a blocking claim past a ring waits for the publish rather than lapping: 9..=16 needs
    // 8 published, which it is.
    assert_eq!(other.publish_batch(8, |e, s| *e = s as u64), Ok((9, 16)));
    d.shutdown().unwrap();
}

/// A single producer holding claims it has not published when a consumer joins: the consumer
/// starts at the published cursor, and the producer must not claim over it. It used to cache
/// room up to its claims when no consumer gated it, then lap the joined consumer's next slot.
#[test]
fn single_producer_with_open_claims_never_overtakes_a_joining_consumer() {
    let s = SingleProducerSequencer::new(4, BusySpinWaitStrategy).unwrap();
    let hi = s.next(4).unwrap(); // 0..=3
    s.publish(0, hi - 1).unwrap(); // 3 stays open
    assert_eq!(s.next(1), Ok(4)); // room up to what is published: 0..=2
    let joined = Arc::new(Sequence::default());
    s.add_gating_sequences(std::slice::from_ref(&joined));
    assert_eq!(joined.get(), 2, "joins at the published cursor");
    s.publish(3, 4).unwrap();
    assert_eq!(s.try_next(1), Ok(5));
    assert_eq!(s.try_next(1), Ok(6));
    // 7 shares slot 3 with a sequence the joined consumer has not read.
    assert_eq!(s.try_next(1), Err(Error::InsufficientCapacity));
    joined.set(3);
    assert_eq!(s.try_next(1), Ok(7));
}
