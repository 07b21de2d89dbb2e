//! The one contract every wait strategy passes (LMAX style): each strategy runs the same tests.

use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use disruptor_core::*;

/// Returns at once with the value when the condition already holds.
fn returns_when_ready<W: WaitStrategy>(w: W) {
    assert_eq!(w.wait_until(|| Some(42), &Alert::default()), Ok(42));
}

/// A raised alert ends a wait whose condition never holds.
fn alert_releases_waiter<W: WaitStrategy>(w: W) {
    let w = Arc::new(w);
    let alert = Arc::new(Alert::default());
    let (w2, a2) = (w.clone(), alert.clone());
    let t = thread::spawn(move || w2.wait_until(|| None, &a2));
    thread::sleep(Duration::from_millis(20));
    alert.raise();
    w.signal_all_when_blocking();
    assert_eq!(t.join().unwrap(), Err(WaitError::Alerted));
}

/// Ping-pong for many rounds with irregular pauses: every change followed by a signal wakes the
/// other side (a lost wake-up hangs, and the watchdog turns the hang into a failure).
fn no_lost_wakeups<W: WaitStrategy>(w: W) {
    const ROUNDS: i64 = 2_000;
    let w = Arc::new(w);
    let ping = Arc::new(AtomicI64::new(-1));
    let pong = Arc::new(AtomicI64::new(-1));
    let done = Arc::new(AtomicBool::new(false));
    let (w2, ping2, pong2) = (w.clone(), ping.clone(), pong.clone());
    let echo = thread::spawn(move || {
        let alert = Alert::default();
        for round in 0..ROUNDS {
            let got = w2
                .wait_until(
                    || {
                        let v = ping2.load(Ordering::Acquire);
                        (v >= round).then_some(v)
                    },
                    &alert,
                )
                .unwrap();
            assert_eq!(got, round);
            if round % 97 == 0 {
                thread::sleep(Duration::from_micros(200));
            }
            pong2.store(round, Ordering::Release);
            w2.signal_all_when_blocking();
        }
    });
    let done2 = done.clone();
    let watchdog = thread::spawn(move || {
        for _ in 0..600 {
            if done2.load(Ordering::Acquire) {
                return true;
            }
            thread::sleep(Duration::from_millis(100));
        }
        // The test thread is stuck in a wait: fail the whole test binary instead of hanging.
        eprintln!("watchdog: ping-pong stuck for 60 s: lost wake-up");
        std::process::exit(1);
    });
    let alert = Alert::default();
    for round in 0..ROUNDS {
        if round % 89 == 0 {
            thread::sleep(Duration::from_micros(150));
        }
        ping.store(round, Ordering::Release);
        w.signal_all_when_blocking();
        w.wait_until(
            || {
                let v = pong.load(Ordering::Acquire);
                (v >= round).then_some(v)
            },
            &alert,
        )
        .unwrap();
    }
    done.store(true, Ordering::Release);
    echo.join().unwrap();
    assert!(watchdog.join().unwrap(), "watchdog: ping-pong did not finish (lost wake-up?)");
}

/// Through a sequencer and a barrier: the wait returns the highest published sequence (a
/// batch), and a consumer woken by publishes sees every sequence.
fn barrier_batches_and_follows_publishes<W: WaitStrategy>(w: W) {
    let seq = Arc::new(MultiProducerSequencer::new(64, w).unwrap());
    let barrier = Arc::new(SequenceBarrier::new(seq.clone(), vec![]));
    let hi = seq.next(5).unwrap();
    seq.publish(0, hi).unwrap();
    assert_eq!(barrier.wait_for(0), Ok(4));

    let consumer = Arc::new(Sequence::new(4));
    seq.add_gating_sequences(std::slice::from_ref(&consumer));
    let (b2, c2) = (barrier.clone(), consumer.clone());
    let t = thread::spawn(move || {
        let mut next = 5;
        while next < 1_000 {
            let available = b2.wait_for(next).unwrap();
            assert!(available >= next);
            next = available + 1;
            c2.set(available);
            b2.sequencer().wait_strategy().signal_all_when_blocking();
        }
    });
    for _ in 5..1_000 {
        let s = seq.next(1).unwrap();
        seq.publish(s, s).unwrap();
    }
    t.join().unwrap();
    assert_eq!(consumer.get(), 999);
}

/// A limited wait gives up with `Timeout` when nothing happens (also for the strategies that
/// sleep: a thread that must come back regularly is never stuck), returns the value when the
/// condition holds before the limit, and is woken by a signal like any wait.
fn limited_wait_times_out_and_still_wakes<W: WaitStrategy>(w: W) {
    let w = Arc::new(w);
    let alert = Alert::default();
    assert_eq!(
        w.wait_until_for(|| None, &alert, Duration::from_millis(5)),
        Err(WaitError::Timeout)
    );
    assert_eq!(w.wait_until_for(|| Some(7), &alert, Duration::from_millis(5)), Ok(7));
    let flag = Arc::new(AtomicI64::new(-1));
    let (w2, f2) = (w.clone(), flag.clone());
    let t = thread::spawn(move || {
        // Long enough that only the signal (not the limit) can end it in a passing run.
        w2.wait_until_for(
            || {
                let v = f2.load(Ordering::Acquire);
                (v >= 0).then_some(v)
            },
            &Alert::default(),
            Duration::from_secs(60),
        )
    });
    thread::sleep(Duration::from_millis(10));
    flag.store(3, Ordering::Release);
    w.signal_all_when_blocking();
    assert_eq!(t.join().unwrap(), Ok(3));
}

macro_rules! contract {
    ($($name:ident => $make:expr;)*) => {$(
        mod $name {
            use super::*;
            #[test]
            fn returns_when_ready() { super::returns_when_ready($make) }
            #[test]
            fn alert_releases_waiter() { super::alert_releases_waiter($make) }
            #[test]
            fn no_lost_wakeups() { super::no_lost_wakeups($make) }
            #[test]
            fn limited_wait_times_out_and_still_wakes() {
                super::limited_wait_times_out_and_still_wakes($make)
            }
            #[test]
            fn barrier_batches_and_follows_publishes() {
                super::barrier_batches_and_follows_publishes($make)
            }
        }
    )*};
}

contract! {
    busy_spin => BusySpinWaitStrategy;
    yielding => YieldingWaitStrategy::default();
    sleeping => SleepingWaitStrategy::default();
    blocking => BlockingWaitStrategy::default();
    timeout_blocking => TimeoutBlockingWaitStrategy::new(Duration::from_secs(30));
    phased_backoff_blocking =>
        PhasedBackoffWaitStrategy::with_blocking(Duration::from_micros(5), Duration::from_micros(50));
    phased_backoff_sleeping =>
        PhasedBackoffWaitStrategy::with_sleep(Duration::from_micros(5), Duration::from_micros(50));
    any_blocking => AnyWaitStrategy::from_name("blocking").unwrap();
    any_phased_backoff => AnyWaitStrategy::from_name("phased-backoff").unwrap();
}

#[test]
fn timeout_blocking_times_out_without_events() {
    let w = TimeoutBlockingWaitStrategy::new(Duration::from_millis(5));
    assert_eq!(w.wait_until(|| None, &Alert::default()), Err(WaitError::Timeout));
}

#[test]
fn every_named_strategy_exists() {
    for name in ["busy-spin", "yielding", "sleeping", "blocking", "phased-backoff"] {
        assert!(AnyWaitStrategy::from_name(name).is_some(), "{name}");
    }
    assert!(AnyWaitStrategy::from_name("spin").is_none());
}
