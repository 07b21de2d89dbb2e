//! Lifecycle and failure handling: exception policies, halting, releasing blocked producers,
//! handler hooks, batch limits, and an idle blocking ring that burns no CPU.

use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use disruptor_core::*;

type Ring = RingBuffer<u64>;

fn builder<W: WaitStrategy>(
    size: usize,
    w: W,
) -> DisruptorBuilder<Ring, SingleProducerSequencer<W>> {
    DisruptorBuilder::new(
        RingBuffer::new(size, || 0).unwrap(),
        SingleProducerSequencer::new(size, w).unwrap(),
    )
    .unwrap()
}

/// Records the sequences it sees, fails (or panics) at `fail_at`.
fn failing_at(
    fail_at: i64,
    panic: bool,
    seen: Arc<Mutex<Vec<i64>>>,
) -> impl FnMut(&u64, i64, bool) -> Result<(), String> + Send {
    move |_: &u64, seq: i64, _: bool| {
        if seq == fail_at {
            if panic {
                panic!("boom at {seq}");
            }
            return Err(format!("failed at {seq}"));
        }
        seen.lock().unwrap().push(seq);
        Ok(())
    }
}

fn halt_policy_stops_the_handler(panic: bool) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let downstream = Arc::new(Mutex::new(Vec::new()));
    let mut b = builder(8, BlockingWaitStrategy::default());
    let d2 = downstream.clone();
    b.handle_events_with_options(
        failing_at(5, panic, seen.clone()),
        ConsumerOptions::new().name("journal"),
    )
    .and_then(move |_: &u64, seq: i64, _: bool| d2.lock().unwrap().push(seq));
    let (d, mut p) = b.build();
    for i in 0..10 {
        p.publish(|e, _| *e = i).unwrap();
    }
    // The ring can no longer drain past 5: a producer that would wait for room is told why.
    let err = loop {
        match p.publish(|e, _| *e = 0) {
            Ok(_) => continue,
            Err(e) => break e,
        }
    };
    assert_eq!(err, Error::ConsumerHalted { name: "journal".into() });
    assert_eq!(err.code(), "ERR_DISRUPTOR_CONSUMER_HALTED");
    assert_eq!(d.drain(), Err(Error::ConsumerHalted { name: "journal".into() }));
    let journal = d.consumers()[0].clone();
    assert_eq!(journal.state(), ConsumerState::Failed);
    assert_eq!(journal.sequence(), 4);
    assert_eq!(journal.errors(), 1);
    let (at, msg) = journal.last_error().unwrap();
    assert_eq!(at, 5);
    assert!(msg.contains(if panic { "boom at 5" } else { "failed at 5" }), "{msg}");
    assert_eq!(d.shutdown(), Err(Error::ConsumerHalted { name: "journal".into() }));
    assert_eq!(*seen.lock().unwrap(), (0..5).collect::<Vec<_>>());
    // Downstream saw exactly what the halted handler finished, once, in order.
    assert_eq!(*downstream.lock().unwrap(), (0..5).collect::<Vec<_>>());
}

#[test]
fn halt_policy_on_error() {
    halt_policy_stops_the_handler(false);
}

#[test]
fn halt_policy_on_panic() {
    halt_policy_stops_the_handler(true);
}

#[test]
fn skip_policy_goes_on() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let downstream = Arc::new(Mutex::new(Vec::new()));
    let d2 = downstream.clone();
    let mut b = builder(8, BlockingWaitStrategy::default());
    b.handle_events_with_options(
        failing_at(5, true, seen.clone()),
        ConsumerOptions::new().exception_policy(ExceptionPolicy::Skip),
    )
    .and_then(move |_: &u64, seq: i64, _: bool| d2.lock().unwrap().push(seq));
    let (d, mut p) = b.build();
    for i in 0..100 {
        p.publish(|e, _| *e = i).unwrap();
    }
    d.drain().unwrap();
    let c = d.consumers()[0].clone();
    assert_eq!(c.errors(), 1);
    assert_eq!(c.last_error().unwrap().0, 5);
    assert_eq!(c.state(), ConsumerState::Running);
    d.shutdown().unwrap();
    let expected: Vec<i64> = (0..100).filter(|&s| s != 5).collect();
    assert_eq!(*seen.lock().unwrap(), expected);
    assert_eq!(*downstream.lock().unwrap(), (0..100).collect::<Vec<_>>());
}

/// A handler that fails `failures` times at `fail_at` (then passes), under a rewind policy
/// allowing `max_rewinds`: the batch holding `fail_at` is handed over again; the handler sees
/// `fail_at` once per try, downstream sees every sequence once, in order.
fn rewind(failures: usize, max_rewinds: u32) -> (Vec<i64>, Vec<i64>, Result<()>, u64) {
    let tries = Arc::new(Mutex::new(Vec::new()));
    let downstream = Arc::new(Mutex::new(Vec::new()));
    let (t2, d2) = (tries.clone(), downstream.clone());
    let left = Arc::new(AtomicUsize::new(failures));
    let mut b = builder(8, BlockingWaitStrategy::default());
    b.handle_events_with_options(
        move |_: &u64, seq: i64, _: bool| -> std::result::Result<(), String> {
            if seq == 5 {
                t2.lock().unwrap().push(seq);
                let fail =
                    left.fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| n.checked_sub(1));
                if fail.is_ok() {
                    return Err("not yet".into());
                }
            }
            Ok(())
        },
        ConsumerOptions::new().exception_policy(ExceptionPolicy::Rewind {
            max_rewinds,
            delay: Duration::from_millis(1),
        }),
    )
    .and_then(move |_: &u64, seq: i64, _: bool| d2.lock().unwrap().push(seq));
    let (d, mut p) = b.build();
    for i in 0..20 {
        // A halted consumer that can never make room refuses the rest.
        if p.publish(|e, _| *e = i).is_err() {
            break;
        }
    }
    let drained = d.drain();
    let errors = d.consumers()[0].errors();
    let _ = d.shutdown();
    let tries = tries.lock().unwrap().clone();
    let downstream = downstream.lock().unwrap().clone();
    (tries, downstream, drained, errors)
}

#[test]
fn rewind_policy_hands_the_batch_over_again() {
    let (tries, downstream, drained, errors) = rewind(2, 3);
    assert_eq!(drained, Ok(()));
    assert_eq!(tries, vec![5, 5, 5], "the first try and two rewinds");
    assert_eq!(downstream, (0..20).collect::<Vec<_>>());
    assert_eq!(errors, 2);
}

#[test]
fn rewind_policy_halts_after_its_limit() {
    let (tries, downstream, drained, errors) = rewind(usize::MAX, 2);
    assert!(matches!(drained, Err(Error::ConsumerHalted { .. })));
    assert_eq!(tries, vec![5, 5, 5], "the first try and two rewinds, then halt");
    assert_eq!(downstream, (0..5).collect::<Vec<_>>());
    assert_eq!(errors, 3);
}

#[test]
fn custom_policy_decides_per_error() {
    let decisions = Arc::new(Mutex::new(Vec::new()));
    let d2 = decisions.clone();
    let mut b = builder(16, BlockingWaitStrategy::default());
    b.handle_events_with_options(
        |_: &u64, seq: i64, _: bool| -> Result<(), String> {
            if seq % 4 == 3 {
                Err(format!("bad {seq}"))
            } else {
                Ok(())
            }
        },
        ConsumerOptions::new().exception_policy(ExceptionPolicy::custom(move |err, seq| {
            d2.lock().unwrap().push((seq, err.to_string()));
            if seq < 10 {
                ExceptionAction::Skip
            } else {
                ExceptionAction::Halt
            }
        })),
    );
    let (d, mut p) = b.build();
    for i in 0..12 {
        p.publish(|e, _| *e = i).unwrap();
    }
    assert!(matches!(d.drain(), Err(Error::ConsumerHalted { .. })));
    assert_eq!(
        *decisions.lock().unwrap(),
        vec![(3, "bad 3".to_owned()), (7, "bad 7".to_owned()), (11, "bad 11".to_owned())]
    );
    assert_eq!(d.consumers()[0].sequence(), 10);
}

#[test]
fn halt_releases_a_producer_blocked_on_a_full_ring() {
    let (release_tx, release_rx) = mpsc::channel::<()>();
    let release_rx = Mutex::new(release_rx);
    let mut b = builder(4, BlockingWaitStrategy::default());
    // A consumer stuck in its handler until the test lets it go.
    b.handle_events_with(move |_: &u64, _: i64, _: bool| {
        let _ = release_rx.lock().unwrap().recv();
    });
    let (d, mut p) = b.build();
    let d = Arc::new(d);
    let producer = thread::spawn(move || {
        let mut published = 0;
        loop {
            match p.publish(|e, _| *e = 1) {
                Ok(_) => published += 1,
                Err(e) => return (published, e),
            }
        }
    });
    // Wait until the ring is full and the producer is blocked (no time assertion: we poll state).
    while d.remaining_capacity() > 0 {
        thread::sleep(Duration::from_millis(1));
    }
    let d2 = d.clone();
    let halter = thread::spawn(move || d2.halt());
    // The consumer must leave its handler for halt to join it.
    drop(release_tx);
    halter.join().unwrap();
    let (published, err) = producer.join().unwrap();
    assert_eq!(err, Error::Closed);
    assert!(published >= 4);
    assert_eq!(d.consumers()[0].state(), ConsumerState::Halted);
}

#[test]
fn drain_timeout_reports_a_stuck_handler() {
    let (tx, rx) = mpsc::channel::<()>();
    let rx = Mutex::new(rx);
    let mut b = builder(4, BlockingWaitStrategy::default());
    b.handle_events_with(move |_: &u64, _: i64, _: bool| {
        let _ = rx.lock().unwrap().recv();
    });
    let (d, mut p) = b.build();
    p.publish(|e, _| *e = 1).unwrap();
    assert_eq!(d.drain_timeout(Duration::from_millis(20)), Err(Error::Timeout));
    drop(tx);
    d.shutdown().unwrap();
}

struct Hooks {
    log: Arc<Mutex<Vec<String>>>,
    batches: Arc<Mutex<Vec<(i64, i64)>>>,
}

impl EventHandler<u64> for Hooks {
    fn on_event(&mut self, _: &u64, seq: i64, end: bool) -> Result<(), HandlerError> {
        if end {
            self.log.lock().unwrap().push(format!("end {seq}"));
        }
        Ok(())
    }
    fn on_batch_start(&mut self, size: i64, depth: i64) {
        self.batches.lock().unwrap().push((size, depth));
    }
    fn on_start(&mut self) {
        let name = thread::current().name().unwrap_or("").to_owned();
        self.log.lock().unwrap().push(format!("start on {name}"));
    }
    fn on_shutdown(&mut self) {
        self.log.lock().unwrap().push("shutdown".into());
    }
    fn on_timeout(&mut self, seq: i64) {
        let mut log = self.log.lock().unwrap();
        if log.last().map(|l| l.starts_with("timeout")) != Some(true) {
            log.push(format!("timeout {seq}"));
        }
    }
}

#[test]
fn hooks_run_on_the_consumer_thread_and_batches_are_limited() {
    let log = Arc::new(Mutex::new(Vec::new()));
    let batches = Arc::new(Mutex::new(Vec::new()));
    let (tx, rx) = mpsc::channel::<()>();
    let gate = Mutex::new(rx);
    let mut b = builder(64, TimeoutBlockingWaitStrategy::new(Duration::from_millis(2)));
    // The first consumer holds the first event until 20 are published, so the second sees
    // them as one backlog, cut into batches of at most 8.
    let first = b
        .handle_events_with(move |_: &u64, seq: i64, _: bool| {
            if seq == 0 {
                let _ = gate.lock().unwrap().recv();
            }
        })
        .stage();
    b.after(&first).unwrap().handle_events_with_options(
        Hooks { log: log.clone(), batches: batches.clone() },
        ConsumerOptions::new().name("hooks").max_batch_size(8),
    );
    let (d, mut p) = b.build();
    for i in 0..20 {
        p.publish(|e, _| *e = i).unwrap();
    }
    tx.send(()).unwrap();
    d.drain().unwrap();
    // Idle long enough for the timeout strategy to report a timeout after the last event
    // ("timeout -1", before the first event arrived, does not count). A watchdog, not the
    // harness, ends a hang.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while !log.lock().unwrap().iter().any(|l| l == "timeout 19") {
        assert!(std::time::Instant::now() < deadline, "no timeout after the last event");
        thread::sleep(Duration::from_millis(1));
    }
    d.shutdown().unwrap();
    let log = log.lock().unwrap().clone();
    assert_eq!(log.first().map(String::as_str), Some("start on hooks"));
    assert_eq!(log.last().map(String::as_str), Some("shutdown"));
    assert!(log.contains(&"timeout 19".to_owned()), "{log:?}");
    let batches = batches.lock().unwrap().clone();
    assert!(batches.iter().all(|&(size, depth)| size <= 8 && size <= depth), "{batches:?}");
    assert_eq!(batches.iter().map(|b| b.0).sum::<i64>(), 20);
    assert!(batches.iter().any(|&(size, _)| size == 8), "backlog batched: {batches:?}");
}

#[test]
fn dropping_a_disruptor_stops_its_threads() {
    let calls = Arc::new(AtomicUsize::new(0));
    let c = calls.clone();
    let mut b = builder(8, BlockingWaitStrategy::default());
    b.handle_events_with(move |_: &u64, _: i64, _: bool| {
        c.fetch_add(1, Ordering::Relaxed);
    });
    let (d, mut p) = b.build();
    p.publish(|e, _| *e = 1).unwrap();
    d.drain().unwrap();
    drop(d);
    // The producer outlives the disruptor: claims are refused, nothing hangs.
    assert_eq!(p.publish(|e, _| *e = 2), Err(Error::Closed));
    assert_eq!(calls.load(Ordering::Relaxed), 1);
}

#[test]
fn consumer_statistics_add_up() {
    let mut b = builder(64, BlockingWaitStrategy::default());
    b.handle_events_with_options(
        |_: &u64, _: i64, _: bool| {},
        ConsumerOptions::new().name("stats"),
    );
    let (d, mut p) = b.build();
    for _ in 0..10 {
        p.publish_batch(10, |e, s| *e = s as u64).unwrap();
    }
    d.drain().unwrap();
    let c = d.consumers()[0].clone();
    assert_eq!(c.name(), "stats");
    assert_eq!(c.events(), 100);
    assert_eq!(c.sequence(), 99);
    assert!(c.batches() >= 1 && c.batches() <= 100);
    assert!(c.largest_batch() >= 1 && c.largest_batch() <= 64);
    assert_eq!(d.cursor(), 99);
    assert_eq!(d.remaining_capacity(), 64);
    d.shutdown().unwrap();
}

/// CPU ticks (user + system) used so far by this process's threads whose name starts with
/// `prefix`, from /proc (Linux).
#[cfg(target_os = "linux")]
fn thread_cpu_ticks(prefix: &str) -> u64 {
    let mut total = 0;
    for entry in std::fs::read_dir("/proc/self/task").unwrap().flatten() {
        let comm = std::fs::read_to_string(entry.path().join("comm")).unwrap_or_default();
        if !comm.trim_end().starts_with(prefix) {
            continue;
        }
        let stat = std::fs::read_to_string(entry.path().join("stat")).unwrap_or_default();
        // Fields after the ")" that closes the name: state is field 3; utime, stime are 14, 15.
        let rest = &stat[stat.rfind(')').map_or(0, |i| i + 2)..];
        let fields: Vec<&str> = rest.split_whitespace().collect();
        total += fields.get(11).and_then(|f| f.parse::<u64>().ok()).unwrap_or(0);
        total += fields.get(12).and_then(|f| f.parse::<u64>().ok()).unwrap_or(0);
    }
    total
}

#[cfg(target_os = "linux")]
#[test]
fn an_idle_blocking_ring_burns_no_cpu() {
    let last = Arc::new(AtomicI64::new(-1));
    let mut b = builder(1024, BlockingWaitStrategy::default());
    for i in 0..3 {
        let l = last.clone();
        b.handle_events_with_options(
            move |_: &u64, s: i64, _: bool| l.store(s, Ordering::Relaxed),
            ConsumerOptions::new().name(format!("idle-{i}")),
        );
    }
    let (d, mut p) = b.build();
    p.publish(|e, _| *e = 1).unwrap();
    d.drain().unwrap();
    let before = thread_cpu_ticks("idle-");
    thread::sleep(Duration::from_millis(500));
    let used = thread_cpu_ticks("idle-") - before;
    // Three busy threads would use ~150 ticks (at 100 Hz) in 500 ms; sleeping ones use none.
    // Allow a tick or two of scheduler noise.
    assert!(used <= 3, "idle consumers used {used} CPU ticks in 500 ms");
    d.shutdown().unwrap();
}

#[test]
fn consumers_join_a_running_ring_and_leave_without_freezing_it() {
    let n = 200_000u64;
    let mut b = builder(256, BlockingWaitStrategy::default());
    b.handle_events_with(|_: &u64, _: i64, _: bool| {});
    let (d, mut p) = b.build();
    let d = Arc::new(d);
    let producer = thread::spawn(move || {
        for i in 0..n {
            p.publish(|e, _| *e = i).unwrap();
        }
    });
    // A late consumer sees a contiguous, in-order run of sequences whose slots hold them.
    let first = Arc::new(AtomicI64::new(-1));
    let last = Arc::new(AtomicI64::new(-1));
    let (f, l) = (first.clone(), last.clone());
    let late = d
        .add_handler(
            move |e: &u64, seq: i64, _: bool| -> Result<(), String> {
                if *e != seq as u64 {
                    return Err(format!("slot {seq} holds {e}"));
                }
                let prev = l.swap(seq, Ordering::Relaxed);
                if prev == -1 {
                    f.store(seq, Ordering::Relaxed);
                } else if prev + 1 != seq {
                    return Err(format!("{seq} after {prev}"));
                }
                Ok(())
            },
            ConsumerOptions::new().name("late"),
        )
        .unwrap();
    // A poller that joins and is never polled would gate the ring forever...
    let idle = d.add_poller("idle").unwrap();
    // (The idle poller lets the producer run at most a ring past where it joined, so the late
    // handler is guaranteed fewer than 256 events from here: wait for 100.)
    while late.events() < 100 && !producer.is_finished() {
        thread::yield_now();
    }
    // ...until it is removed; so is the late handler, mid-stream.
    assert_eq!(d.remove_consumer(idle.info()), Ok(false), "a poller is removed with remove_poller");
    assert!(d.remove_poller(idle).unwrap());
    assert_eq!(d.remove_consumer(&late), Ok(true));
    assert_eq!(d.remove_consumer(&late), Ok(false));
    assert_eq!(
        d.remove_consumer(&d.consumers()[0]),
        Ok(false),
        "built consumers are not removable"
    );
    producer.join().unwrap();
    d.drain().unwrap();
    assert_eq!(late.errors(), 0, "{:?}", late.last_error());
    assert_eq!(late.state(), ConsumerState::Halted);
    assert_eq!(d.consumers().len(), 1);
    let (first, last) = (first.load(Ordering::Relaxed), last.load(Ordering::Relaxed));
    assert!(first >= 0 && last >= first);
    assert_eq!(late.events() as i64, last - first + 1);
    assert_eq!(d.consumers()[0].events(), n);
    d.halt();
    let again = d.add_handler(|_: &u64, _: i64, _: bool| {}, ConsumerOptions::new());
    assert_eq!(again.err(), Some(Error::Closed));
    assert_eq!(d.add_poller("x").err(), Some(Error::Closed));
}

/// A guarded claim (`next_unless`, what the JavaScript binding's blocking `next()` uses) waits
/// while a consumer on another thread frees room, and refuses with `WouldDeadlock`, claiming
/// nothing, as soon as the only consumer in the way is one the waiting thread runs itself.
#[test]
fn guarded_claim_waits_for_other_threads_and_refuses_for_its_own() {
    // A polling strategy: the test moves consumer sequences by hand, without the signal a real
    // consumer sends.
    let wait = YieldingWaitStrategy::default;
    guarded_claim(MultiProducerSequencer::new(4, wait()).unwrap());
    guarded_claim(SingleProducerSequencer::new(4, wait()).unwrap());
}

fn guarded_claim<S: Sequencer>(s: S) {
    let (other, mine) = (Arc::new(Sequence::default()), Arc::new(Sequence::default()));
    s.add_gating_sequences(&[other.clone(), mine.clone()]);
    s.publish(0, s.next(4).unwrap()).unwrap();
    mine.set(3); // our own consumer is done; the other thread's is not
    let o = other.clone();
    let freer = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(20));
        o.set(0);
    });
    // Waits (the blocker is on another thread) until that consumer frees slot 0.
    assert_eq!(s.next_unless(1, |wrap| mine.get() < wrap), Ok(4));
    freer.join().unwrap();
    // Now our own consumer is the one in the way: refused at once, nothing claimed.
    other.set(4);
    mine.set(0);
    assert_eq!(s.next_unless(1, |wrap| mine.get() < wrap), Err(Error::WouldDeadlock));
    assert_eq!(s.claimed(), 4);
}
