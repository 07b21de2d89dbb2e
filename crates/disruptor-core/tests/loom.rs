//! Loom model checks of the engine's concurrency protocols: claim / publish / barrier visibility,
//! the multi-producer availability scan, gating (a producer never overwrites a slot a consumer
//! has not released), and the blocking wait strategy's no-lost-wake-up (Dekker) protocol.
//!
//! Run (this is how CI runs it):
//!
//! ```text
//! RUSTFLAGS="--cfg loom" CARGO_TARGET_DIR=target/loom \
//!     cargo test -p disruptor-core --release --test loom
//! ```
//!
//! Under `--cfg loom` every atomic, mutex, condition variable and the gating lock of the engine
//! comes from loom (`src/sync.rs`), so loom explores the interleavings of the real engine code.
//! Payloads live in [`loom::cell::UnsafeCell`]s: loom reports a causality violation when a slot
//! is read or written without a happens-before edge from the previous access, which is exactly
//! what a missing Release/Acquire on a sequence, flag or cache would produce. A waiter that is
//! never woken shows up as a loom deadlock.
//!
//! Each model keeps to 2-3 threads and a handful of operations, with a preemption bound of 3
//! (2 for the two largest models; `LOOM_MAX_PREEMPTIONS` overrides both), so that the whole
//! file runs in seconds. `--nocapture` shows how many executions each model explored.
#![cfg(loom)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use disruptor_core::{
    Alert, BlockingWaitStrategy, BusySpinWaitStrategy, Error, MultiProducerSequencer, Sequence,
    SequenceBarrier, Sequencer, SingleProducerSequencer, SplitCursor, WaitError, WaitStrategy,
};
use loom::cell::UnsafeCell;
use loom::thread;

/// Runs `f` under loom with a preemption bound of `bound` (unless `LOOM_MAX_PREEMPTIONS` is set).
fn model_with_bound<F>(bound: usize, f: F)
where
    F: Fn() + Sync + Send + 'static,
{
    let mut builder = loom::model::Builder::new();
    if builder.preemption_bound.is_none() {
        builder.preemption_bound = Some(bound);
    }
    let executions = Arc::new(AtomicUsize::new(0));
    let counter = executions.clone();
    builder.check(move || {
        counter.fetch_add(1, Ordering::Relaxed);
        f();
    });
    // Shown with `--nocapture`: how many executions loom explored.
    println!(
        "{} executions (preemption bound {:?})",
        executions.load(Ordering::Relaxed),
        builder.preemption_bound
    );
}

/// Runs `f` under loom with the default preemption bound of 3 (the models with the most
/// threads and operations use [`model_with_bound`] with 2).
fn model<F>(f: F)
where
    F: Fn() + Sync + Send + 'static,
{
    model_with_bound(3, f);
}

/// The ring's payload: one loom `UnsafeCell` per slot, so that loom checks that every access is
/// ordered after the previous one by the sequencer protocol (and not by luck).
struct Slots {
    cells: Box<[UnsafeCell<i64>]>,
    mask: i64,
}

// SAFETY: `Slots` is only a test vehicle for loom: every access goes through loom's
// `UnsafeCell::with`/`with_mut`, which panic (failing the model) on any pair of accesses that
// are not ordered by happens-before, i.e. on any data race the protocol would allow.
unsafe impl Sync for Slots {}

impl Slots {
    fn new(size: usize) -> Arc<Self> {
        assert!(size.is_power_of_two());
        Arc::new(Slots {
            cells: (0..size).map(|_| UnsafeCell::new(-1)).collect(),
            mask: size as i64 - 1,
        })
    }

    fn cell(&self, sequence: i64) -> &UnsafeCell<i64> {
        &self.cells[(sequence & self.mask) as usize]
    }

    /// What the producer of `sequence` writes.
    fn payload(sequence: i64) -> i64 {
        100 + sequence
    }

    fn write(&self, sequence: i64) {
        // SAFETY: loom checks that this write happens-after every earlier access to the cell.
        self.cell(sequence).with_mut(|p| unsafe { *p = Self::payload(sequence) });
    }

    fn read(&self, sequence: i64) -> i64 {
        // SAFETY: loom checks that this read happens-after the last write to the cell.
        self.cell(sequence).with(|p| unsafe { *p })
    }

    /// Reads `lo..=hi` and checks each slot holds what its producer wrote.
    fn check(&self, lo: i64, hi: i64) {
        for s in lo..=hi {
            assert_eq!(self.read(s), Self::payload(s), "slot of sequence {s}");
        }
    }
}

/// Consumes `0..count` through `barrier`: every batch `wait_for` returns must start at the asked
/// sequence, stay below `count`, and hold the producers' payloads. After each batch the
/// consumer's `progress` (if any) is set and the ring's wait strategy signalled, as a
/// `BatchEventProcessor` does.
fn consume<S: Sequencer>(
    barrier: &SequenceBarrier<S>,
    slots: &Slots,
    count: i64,
    progress: Option<&Sequence>,
) {
    let mut next = 0;
    while next < count {
        let hi = barrier.wait_for(next).expect("wait_for");
        assert!(hi >= next && hi < count, "wait_for({next}) returned {hi}");
        slots.check(next, hi);
        if let Some(progress) = progress {
            progress.set(hi);
            barrier.sequencer().wait_strategy().signal_all_when_blocking();
        }
        next = hi + 1;
    }
}

/// Claims `n` slots with `next`, fills them and publishes them with the checked `publish`.
fn produce<S: Sequencer>(sequencer: &S, slots: &Slots, n: i64) -> i64 {
    let hi = sequencer.next(n).expect("next");
    for s in hi - n + 1..=hi {
        slots.write(s);
    }
    sequencer.publish(hi - n + 1, hi).expect("publish");
    hi
}

// ---------------------------------------------------------------------------------------------
// 1. Single producer -> consumer through a SequenceBarrier.
// ---------------------------------------------------------------------------------------------

/// A single producer claims one slot then a batch of two, fills and publishes them; the consumer
/// waits through a barrier and must see every payload of the batches `wait_for` returns (the
/// cursor's Release store / Acquire load carry the slot contents).
#[test]
fn single_producer_publish_is_visible_through_barrier() {
    model(|| {
        let sequencer =
            Arc::new(SingleProducerSequencer::new(4, BlockingWaitStrategy::default()).unwrap());
        let barrier = SequenceBarrier::new(sequencer.clone(), vec![]);
        let slots = Slots::new(4);

        let producer = {
            let (sequencer, slots) = (sequencer.clone(), slots.clone());
            thread::spawn(move || {
                assert_eq!(produce(&*sequencer, &slots, 1), 0);
                assert_eq!(produce(&*sequencer, &slots, 2), 2);
            })
        };

        consume(&barrier, &slots, 3, None);
        producer.join().unwrap();
        assert_eq!(sequencer.cursor().get(), 2);
    });
}

// ---------------------------------------------------------------------------------------------
// 2. Multi producer: availability flags and the contiguous scan.
// ---------------------------------------------------------------------------------------------

/// Two producers each claim and publish one slot, in any order; the consumer must never get a
/// sequence whose payload is not written yet, and `poll_published` (through `wait_for`) must stop
/// at the first unpublished sequence: if sequence 1 is published before 0, `wait_for(0)` waits.
#[test]
fn multi_producer_publish_is_visible_and_contiguous() {
    model(|| {
        let sequencer =
            Arc::new(MultiProducerSequencer::new(4, BlockingWaitStrategy::default()).unwrap());
        let barrier = SequenceBarrier::new(sequencer.clone(), vec![]);
        let slots = Slots::new(4);

        let producers: Vec<_> = (0..2)
            .map(|_| {
                let (sequencer, slots) = (sequencer.clone(), slots.clone());
                thread::spawn(move || {
                    produce(&*sequencer, &slots, 1);
                })
            })
            .collect();

        consume(&barrier, &slots, 2, None);
        for p in producers {
            p.join().unwrap();
        }
        assert_eq!(sequencer.poll_published(0), Some(1));
    });
}

/// The scan itself, without a wait strategy: while one producer has claimed sequence 0 and the
/// other publishes 1, `poll_published(0)` is `None` or a range whose every slot is written.
#[test]
fn multi_producer_poll_published_never_skips_a_hole() {
    model(|| {
        let sequencer =
            Arc::new(MultiProducerSequencer::new(4, BlockingWaitStrategy::default()).unwrap());
        let slots = Slots::new(4);

        let producers: Vec<_> = (0..2)
            .map(|_| {
                let (sequencer, slots) = (sequencer.clone(), slots.clone());
                thread::spawn(move || {
                    produce(&*sequencer, &slots, 1);
                })
            })
            .collect();

        // Two polls at arbitrary points of the producers' progress.
        for _ in 0..2 {
            if let Some(hi) = sequencer.poll_published(0) {
                assert!(hi <= 1, "poll_published(0) returned {hi}");
                slots.check(0, hi);
            }
        }
        for p in producers {
            p.join().unwrap();
        }
        assert_eq!(sequencer.poll_published(0), Some(1));
        slots.check(0, 1);
    });
}

/// An abandoned claim: a producer that gives up its claim marks the range, then publishes it
/// (`Sequencer::abandon`); another producer fills and publishes the other sequence. A consumer
/// that finds a range published must also find the mark, and so never reads the abandoned slot
/// (never written: the payload check would fail on it, and loom would report a read of it that
/// no write happens-before). The consumer gates the ring, so the mark is kept until it passes.
#[test]
fn abandoned_claim_is_marked_before_it_is_published() {
    model(|| {
        let sequencer =
            Arc::new(MultiProducerSequencer::new(4, BlockingWaitStrategy::default()).unwrap());
        let gate = Arc::new(Sequence::default());
        sequencer.add_gating_sequences(std::slice::from_ref(&gate));
        let barrier = SequenceBarrier::new(sequencer.clone(), vec![]);
        let slots = Slots::new(4);
        let quitter = {
            let sequencer = sequencer.clone();
            thread::spawn(move || {
                let hi = sequencer.next(1).expect("next");
                sequencer.abandon(hi, hi).expect("abandon");
                hi
            })
        };
        let producer = {
            let (sequencer, slots) = (sequencer.clone(), slots.clone());
            thread::spawn(move || produce(&*sequencer, &slots, 1))
        };
        let mut read = Vec::new();
        let mut next = 0;
        while next < 2 {
            let hi = barrier.wait_for(next).expect("wait_for");
            let mut s = next;
            while s <= hi {
                match sequencer.abandoned_in(s, hi) {
                    Some((start, end)) if start <= s => s = end.min(hi) + 1,
                    Some((start, _)) => {
                        slots.check(s, start - 1);
                        read.extend(s..start);
                        s = start;
                    }
                    None => {
                        slots.check(s, hi);
                        read.extend(s..=hi);
                        s = hi + 1;
                    }
                }
            }
            next = hi + 1;
        }
        let abandoned = quitter.join().unwrap();
        let published = producer.join().unwrap();
        assert_eq!(read, vec![published]);
        assert_eq!(abandoned, 1 - published);
    });
}

// ---------------------------------------------------------------------------------------------
// 3. try_next on a full ring: gating.
// ---------------------------------------------------------------------------------------------

static TRY_NEXT_SAW_FULL: AtomicUsize = AtomicUsize::new(0);

/// A ring of one slot gated by one consumer. The producer (main thread) claims with `try_next`,
/// retrying on `InsufficientCapacity`; the consumer reads each slot, then releases it with a
/// Release `set` of its sequence. The producer must never write slot 0 again before the
/// consumer's read of it happens-before (loom would report the concurrent access), a refused
/// `try_next` must claim nothing (the next success is exactly the next sequence), and some
/// execution must actually see the ring full.
#[test]
fn try_next_never_overwrites_an_unreleased_slot() {
    TRY_NEXT_SAW_FULL.store(0, Ordering::Relaxed);
    model(|| {
        let sequencer =
            Arc::new(SingleProducerSequencer::new(1, BlockingWaitStrategy::default()).unwrap());
        let consumed = Arc::new(Sequence::default());
        sequencer.add_gating_sequences(std::slice::from_ref(&consumed));
        let barrier = SequenceBarrier::new(sequencer.clone(), vec![]);
        let slots = Slots::new(1);

        let consumer = {
            let slots = slots.clone();
            thread::spawn(move || consume(&barrier, &slots, 2, Some(&consumed)))
        };

        for expected in 0..2 {
            let s = loop {
                match sequencer.try_next(1) {
                    Ok(s) => break s,
                    Err(Error::InsufficientCapacity) => {
                        TRY_NEXT_SAW_FULL.fetch_add(1, Ordering::Relaxed);
                        thread::yield_now();
                    }
                    Err(e) => panic!("try_next: {e:?}"),
                }
            };
            assert_eq!(s, expected, "a refused try_next claimed something");
            slots.write(s);
            sequencer.publish(s, s).unwrap();
        }
        consumer.join().unwrap();
    });
    assert!(TRY_NEXT_SAW_FULL.load(Ordering::Relaxed) > 0, "no execution saw the ring full");
}

/// The multi-producer `try_next` (compare-and-swap claim through the shared gating cache): on a
/// full ring it returns `InsufficientCapacity` and claims nothing; while a consumer concurrently
/// reads and releases the slot, a success must happen-after that read (no overwrite).
#[test]
fn multi_producer_try_next_never_overwrites_an_unreleased_slot() {
    model(|| {
        let sequencer =
            Arc::new(MultiProducerSequencer::new(1, BlockingWaitStrategy::default()).unwrap());
        let consumed = Arc::new(Sequence::default());
        sequencer.add_gating_sequences(std::slice::from_ref(&consumed));
        let barrier = SequenceBarrier::new(sequencer.clone(), vec![]);
        let slots = Slots::new(1);

        // Fill the ring before the consumer starts: now it is full.
        assert_eq!(sequencer.try_next(1), Ok(0));
        slots.write(0);
        sequencer.publish(0, 0).unwrap();
        assert_eq!(sequencer.try_next(1), Err(Error::InsufficientCapacity));
        assert_eq!(sequencer.cursor().get(), 0, "a refused try_next claimed something");

        let consumer = {
            let slots = slots.clone();
            thread::spawn(move || consume(&barrier, &slots, 2, Some(&consumed)))
        };

        let s = loop {
            match sequencer.try_next(1) {
                Ok(s) => break s,
                Err(Error::InsufficientCapacity) => thread::yield_now(),
                Err(e) => panic!("try_next: {e:?}"),
            }
        };
        assert_eq!(s, 1);
        slots.write(s);
        sequencer.publish(s, s).unwrap();
        consumer.join().unwrap();
    });
}

// ---------------------------------------------------------------------------------------------
// 4. BlockingWaitStrategy: no lost wake-up.
// ---------------------------------------------------------------------------------------------

/// A thread waiting on `strategy` until `cursor` reaches `min`; joins with the wait's result.
fn spawn_waiter(
    strategy: &Arc<BlockingWaitStrategy>,
    cursor: &Arc<Sequence>,
    min: i64,
) -> thread::JoinHandle<Result<i64, WaitError>> {
    let (strategy, cursor) = (strategy.clone(), cursor.clone());
    thread::spawn(move || {
        strategy.wait_until(
            || {
                let v = cursor.get();
                (v >= min).then_some(v)
            },
            &Alert::default(),
        )
    })
}

/// A waiter waits for a sequence to reach 0 while another thread sets it and signals: in no
/// execution may the waiter sleep forever (loom reports a deadlock) or return another value.
#[test]
fn blocking_wait_strategy_loses_no_wake_up() {
    model(|| {
        let strategy = Arc::new(BlockingWaitStrategy::default());
        let cursor = Arc::new(Sequence::default());

        let waiter = spawn_waiter(&strategy, &cursor, 0);

        cursor.set(0);
        strategy.signal_all_when_blocking();
        assert_eq!(waiter.join().unwrap(), Ok(0));
    });
}

/// The JavaScript publisher's half of the handshake (src/protocol.ts `wakeSleepers`, after a
/// publish or a consumer's progress): a store of the cursor straight into the engine's atomic,
/// then a load of the strategy's sleeper count, signalling only when it is not zero. No
/// execution may leave the waiter asleep.
///
/// JavaScript does a SeqCst `Atomics.store` then a SeqCst `Atomics.load`. Loom treats SeqCst
/// accesses as AcqRel (its README: false alarms; with them this model "deadlocks") and only
/// models SeqCst fences, so the model uses the fence form: Release store, SeqCst fence, load,
/// which is what V8 emits on x86-64 (a locked `xchg` store). The SeqCst-access form is sound in
/// the C++20 model too: if the load read a count of 0 (before the sleeper's increment) it
/// precedes the sleeper's fence in the total order S, and if the sleeper's check then read the
/// old cursor, its fence precedes the store in S; with the store before the load in S (program
/// order of two SeqCst accesses) that is a cycle.
#[test]
fn external_publisher_signals_only_sleepers_and_loses_no_wake_up() {
    use loom::sync::atomic::{
        fence,
        Ordering::{Relaxed, Release, SeqCst},
    };
    model(|| {
        let strategy = Arc::new(BlockingWaitStrategy::default());
        let cursor = Arc::new(Sequence::default());

        let waiter = spawn_waiter(&strategy, &cursor, 0);

        cursor.as_atomic().store(0, Release);
        fence(SeqCst);
        if strategy.sleeper_count().unwrap().load(Relaxed) != 0 {
            strategy.signal_all_when_blocking();
        }
        assert_eq!(waiter.join().unwrap(), Ok(0));
    });
}

/// Two waiters, one signal: `signal_all_when_blocking` must wake every sleeper.
#[test]
fn blocking_wait_strategy_wakes_every_waiter() {
    model(|| {
        let strategy = Arc::new(BlockingWaitStrategy::default());
        let cursor = Arc::new(Sequence::default());

        let waiters: Vec<_> = (0..2).map(|_| spawn_waiter(&strategy, &cursor, 0)).collect();

        cursor.set(0);
        strategy.signal_all_when_blocking();
        for w in waiters {
            assert_eq!(w.join().unwrap(), Ok(0));
        }
    });
}

/// Wake once: two signallers each make half of the waiter's condition true and signal. The
/// first to find the registration swaps it away and wakes the waiter; the other may then find
/// no registration and skip its signal. In no execution may the waiter miss the second change
/// and sleep forever.
#[test]
fn blocking_wait_strategy_second_signaller_may_skip_but_no_wake_up_is_lost() {
    model(|| {
        let strategy = Arc::new(BlockingWaitStrategy::default());
        let halves = Arc::new([Sequence::default(), Sequence::default()]);

        let waiter = {
            let (strategy, halves) = (strategy.clone(), halves.clone());
            thread::spawn(move || {
                strategy.wait_until(
                    || (halves[0].get() >= 0 && halves[1].get() >= 0).then_some(0),
                    &Alert::default(),
                )
            })
        };
        let other = {
            let (strategy, halves) = (strategy.clone(), halves.clone());
            thread::spawn(move || {
                halves[1].set(0);
                strategy.signal_all_when_blocking();
            })
        };

        halves[0].set(0);
        strategy.signal_all_when_blocking();
        other.join().unwrap();
        assert_eq!(waiter.join().unwrap(), Ok(0));
    });
}

/// Wake once, re-sleep: the waiter needs sequence 1; the publisher publishes 0 and 1 with a
/// signal each. A wake-up for 0 finds the condition false, so the waiter registers again before
/// sleeping again: the signal for 1 must find that registration (or the waiter must see 1).
#[test]
fn blocking_wait_strategy_waiter_woken_too_early_registers_again() {
    model(|| {
        let strategy = Arc::new(BlockingWaitStrategy::default());
        let cursor = Arc::new(Sequence::default());

        let waiter = spawn_waiter(&strategy, &cursor, 1);

        cursor.set(0);
        strategy.signal_all_when_blocking();
        cursor.set(1);
        strategy.signal_all_when_blocking();
        assert_eq!(waiter.join().unwrap(), Ok(1));
    });
}

/// Raising the waiter's alert and signalling releases a waiter whose condition never holds.
#[test]
fn blocking_wait_strategy_alert_releases_waiter() {
    model(|| {
        let strategy = Arc::new(BlockingWaitStrategy::default());
        let alert = Arc::new(Alert::default());

        let waiter = {
            let (strategy, alert) = (strategy.clone(), alert.clone());
            thread::spawn(move || strategy.wait_until(|| None, &alert))
        };

        alert.raise();
        strategy.signal_all_when_blocking();
        assert_eq!(waiter.join().unwrap(), Err(WaitError::Alerted));
    });
}

/// `SequenceBarrier::alert` releases a consumer blocked in `wait_for` on an empty ring.
#[test]
fn barrier_alert_releases_blocked_consumer() {
    model(|| {
        let sequencer =
            Arc::new(SingleProducerSequencer::new(2, BlockingWaitStrategy::default()).unwrap());
        let barrier = Arc::new(SequenceBarrier::new(sequencer, vec![]));

        let consumer = {
            let barrier = barrier.clone();
            thread::spawn(move || barrier.wait_for(0))
        };

        barrier.alert();
        assert_eq!(consumer.join().unwrap(), Err(Error::Alerted));
    });
}

// ---------------------------------------------------------------------------------------------
// 5. A producer waiting for capacity with the blocking strategy.
// ---------------------------------------------------------------------------------------------

/// A ring of one slot gated by one consumer, both sides on the blocking strategy: the producer's
/// second `next(1)` sleeps until the consumer releases slot 0 and signals, and the consumer
/// sleeps until the producer publishes. No execution may deadlock (a lost wake-up in either
/// direction) or overwrite a slot the consumer is reading.
#[test]
fn producer_waiting_for_capacity_is_woken() {
    producer_and_consumer_on_one_slot(|| {
        SingleProducerSequencer::new(1, BlockingWaitStrategy::default()).unwrap()
    });
}

/// The model of `producer_waiting_for_capacity_is_woken`, over the sequencer `make` builds.
fn producer_and_consumer_on_one_slot(make: fn() -> SingleProducerSequencer<BlockingWaitStrategy>) {
    model(move || {
        let sequencer = Arc::new(make());
        let consumed = Arc::new(Sequence::default());
        sequencer.add_gating_sequences(std::slice::from_ref(&consumed));
        let barrier = SequenceBarrier::new(sequencer.clone(), vec![]);
        let slots = Slots::new(1);

        let producer = {
            let (sequencer, slots) = (sequencer.clone(), slots.clone());
            thread::spawn(move || {
                assert_eq!(produce(&*sequencer, &slots, 1), 0);
                assert_eq!(produce(&*sequencer, &slots, 1), 1);
            })
        };

        consume(&barrier, &slots, 2, Some(&consumed));
        producer.join().unwrap();
    });
}

/// `close` releases a producer blocked in `next` on a full ring with `Error::Closed`.
#[test]
fn close_releases_producer_waiting_for_capacity() {
    model(|| {
        let sequencer =
            Arc::new(SingleProducerSequencer::new(1, BlockingWaitStrategy::default()).unwrap());
        sequencer.add_gating_sequences(&[Arc::new(Sequence::default())]);
        let slots = Slots::new(1);
        assert_eq!(produce(&*sequencer, &slots, 1), 0);

        let producer = {
            let sequencer = sequencer.clone();
            thread::spawn(move || sequencer.next(1))
        };

        sequencer.close();
        assert_eq!(producer.join().unwrap(), Err(Error::Closed));
    });
}

// ---------------------------------------------------------------------------------------------
// 6. Multi producer gating cache.
// ---------------------------------------------------------------------------------------------

/// Two producers claim two slots each (`next(1)`, fill, publish) on a ring of two slots gated by
/// one consumer. Producers share the cached gating minimum: one that trusts a value another
/// refreshed must inherit the happens-before from the consumer's reads (Release/Acquire through
/// the cache), so no slot is overwritten while the consumer may still read it, and nobody waits
/// forever. Publishes use `publish_claimed` (as `Producer` does); see the next model for the
/// checked `publish`.
#[test]
fn multi_producer_gating_cache() {
    // Bound 2: ~95k executions; bound 3 explores millions (minutes).
    model_with_bound(2, || {
        let sequencer =
            Arc::new(MultiProducerSequencer::new(2, BlockingWaitStrategy::default()).unwrap());
        let consumed = Arc::new(Sequence::default());
        sequencer.add_gating_sequences(std::slice::from_ref(&consumed));
        let barrier = SequenceBarrier::new(sequencer.clone(), vec![]);
        let slots = Slots::new(2);

        let producers: Vec<_> = (0..2)
            .map(|_| {
                let (sequencer, slots) = (sequencer.clone(), slots.clone());
                thread::spawn(move || {
                    for _ in 0..2 {
                        let s = sequencer.next(1).unwrap();
                        slots.write(s);
                        sequencer.publish_claimed(s, s);
                    }
                })
            })
            .collect();

        consume(&barrier, &slots, 4, Some(&consumed));
        for p in producers {
            p.join().unwrap();
        }
    });
}

/// Like [`multi_producer_gating_cache`] with three claims and the checked `Sequencer::publish`:
/// producer A claims two slots one by one, producer B one, on a ring of two gated by a consumer.
/// B may claim 0 while A claims 1, publishes it and claims 2 with `next`, whose `fetch_add` moves
/// the claim cursor to 2 *before* it waits for the consumer to release slot 0; B's
/// `publish(0, 0)` must still succeed. (A check of "already published" against
/// `claimed - buffer_size` rejected it with `AlreadyPublished`, and the ring stalled; the check
/// must come from the slot's lap flag.)
#[test]
fn multi_producer_checked_publish_while_another_waits_for_capacity() {
    // Bound 2: ~29k executions, and enough to reach the interleaving above; bound 3: ~760k.
    model_with_bound(2, || {
        let sequencer =
            Arc::new(MultiProducerSequencer::new(2, BlockingWaitStrategy::default()).unwrap());
        let consumed = Arc::new(Sequence::default());
        sequencer.add_gating_sequences(std::slice::from_ref(&consumed));
        let barrier = SequenceBarrier::new(sequencer.clone(), vec![]);
        let slots = Slots::new(2);

        let producers: Vec<_> = [2, 1]
            .into_iter()
            .map(|claims| {
                let (sequencer, slots) = (sequencer.clone(), slots.clone());
                thread::spawn(move || {
                    for _ in 0..claims {
                        produce(&*sequencer, &slots, 1);
                    }
                })
            })
            .collect();

        consume(&barrier, &slots, 3, Some(&consumed));
        for p in producers {
            p.join().unwrap();
        }
    });
}

// ---------------------------------------------------------------------------------------------
// 7. The split cursor (32-bit low word + 64-bit epoch) that JavaScript single producers publish
//    through.
// ---------------------------------------------------------------------------------------------

/// A writer publishes five values through a split cursor that starts just below 2^31 (so the
/// 31 bits of the low word wrap), in jumps up to the largest batch (2^30, so the epoch is
/// stored between low words and the value runs more than 2^30 past an epoch a slow reader may
/// have read), writing a payload before each; a reader reads the cursor three times. Every
/// value it gets must be one the writer published (exactly: never mis-extended by a multiple
/// of 2^31), never go backwards, and the payload of the value read must be visible (loom checks
/// the happens-before from the writer's Release/AcqRel stores). Fails without the reader's
/// second epoch load, or with a Relaxed first one.
#[test]
fn split_cursor_reads_exact_published_values() {
    const START: i64 = (1 << 31) - 2;
    const VALUES: [i64; 5] =
        [(1 << 31) - 1, (1 << 31) + 1, (1 << 31) + (1 << 30), 1 << 32, (1 << 32) + 5];
    model(|| {
        let cursor = Arc::new(SplitCursor::new(START));
        let payloads: Arc<Vec<UnsafeCell<i64>>> =
            Arc::new(VALUES.iter().map(|_| UnsafeCell::new(0)).collect());

        let writer = {
            let (cursor, payloads) = (cursor.clone(), payloads.clone());
            thread::spawn(move || {
                for (i, &v) in VALUES.iter().enumerate() {
                    // SAFETY: loom checks that no read of this cell races with this write.
                    payloads[i].with_mut(|p| unsafe { *p = v });
                    cursor.set(v);
                }
            })
        };

        let mut last = START;
        for _ in 0..3 {
            let v = cursor.get();
            assert!(v >= last, "went back from {last} to {v}");
            last = v;
            if v != START {
                let i = VALUES.iter().position(|&x| x == v).unwrap_or_else(|| panic!("read {v}"));
                // SAFETY: loom checks that this read happens-after the payload's write.
                assert_eq!(payloads[i].with(|p| unsafe { *p }), v);
            }
        }
        writer.join().unwrap();
        assert_eq!(cursor.get(), VALUES[VALUES.len() - 1]);
    });
}

/// The JavaScript single producer's publish on a split cursor (src/producer/single.ts
/// `publish`): a swap of the low word, and only when its old value carries a waiter's
/// `WAITING` flag, the sleeper count (signalling when it is not zero). Loom models SeqCst
/// accesses as AcqRel, so the JavaScript `Atomics.exchange` then `Atomics.load` (both SeqCst)
/// are modelled as a swap, a SeqCst fence and a load, as in
/// `external_publisher_signals_only_sleepers_and_loses_no_wake_up`.
fn js_publish(sequencer: &SingleProducerSequencer<BlockingWaitStrategy>, hi: i64) {
    use loom::sync::atomic::{
        fence,
        Ordering::{AcqRel, Relaxed, SeqCst},
    };
    let old = sequencer.split_cursor().unwrap().low().swap(hi as i32 & i32::MAX, AcqRel);
    if old & SplitCursor::WAITING != 0 {
        fence(SeqCst);
        let strategy = sequencer.wait_strategy();
        if strategy.sleeper_count().unwrap().load(Relaxed) != 0 {
            strategy.signal_all_when_blocking();
        }
    }
}

/// A consumer waits through a barrier (as a JavaScript consumer's native waker does) on the
/// blocking strategy for what a JavaScript producer publishes (`js_publish`: no sleeper check
/// unless flagged): two publishes, so the consumer may flag, sleep, be woken for the first and
/// flag again for the second. It must get every payload; no execution may leave it asleep.
/// Deadlocks when the barrier's waits do not flag.
#[test]
fn split_cursor_js_publisher_signals_only_flagging_waiters_and_loses_no_wake_up() {
    model(|| {
        let sequencer = Arc::new(
            SingleProducerSequencer::with_split_cursor(2, BlockingWaitStrategy::default()).unwrap(),
        );
        let barrier = SequenceBarrier::new(sequencer.clone(), vec![]);
        let slots = Slots::new(2);

        let publisher = {
            let (sequencer, slots) = (sequencer.clone(), slots.clone());
            thread::spawn(move || {
                for s in 0..2 {
                    slots.write(s);
                    js_publish(&sequencer, s);
                }
            })
        };

        consume(&barrier, &slots, 2, None);
        publisher.join().unwrap();
        assert_eq!(sequencer.cursor_value(), 1);
    });
}

/// Two consumers wait through their own barriers for one JavaScript publish: whichever flags
/// (or finds the other's flag) must be woken, both of them.
#[test]
fn split_cursor_js_publisher_wakes_every_flagging_waiter() {
    model(|| {
        let sequencer = Arc::new(
            SingleProducerSequencer::with_split_cursor(2, BlockingWaitStrategy::default()).unwrap(),
        );
        let slots = Slots::new(2);
        let consumers: Vec<_> = (0..2)
            .map(|_| {
                let (sequencer, slots) = (sequencer.clone(), slots.clone());
                thread::spawn(move || {
                    let barrier = SequenceBarrier::new(sequencer, vec![]);
                    consume(&barrier, &slots, 1, None);
                })
            })
            .collect();

        slots.write(0);
        js_publish(&sequencer, 0);
        for c in consumers {
            c.join().unwrap();
        }
    });
}

/// Closing flags the split cursor's low word after it sets the closed flag
/// (`SplitCursor::flag`), and the JavaScript single producer reads the closed flag only when its
/// swap returns the flag (src/producer/single.ts `publish` / `flagged`): a swap that returns
/// it must find the ring closed, and of a publish racing the close and one made after it,
/// exactly one gets it.
#[test]
fn split_cursor_close_reaches_the_next_js_publish() {
    use loom::sync::atomic::Ordering::{AcqRel, Relaxed};
    model(|| {
        let sequencer = Arc::new(
            SingleProducerSequencer::with_split_cursor(2, BlockingWaitStrategy::default()).unwrap(),
        );
        let closer = {
            let sequencer = sequencer.clone();
            thread::spawn(move || sequencer.close())
        };
        let low = sequencer.split_cursor().unwrap().low();
        let racing = low.swap(0, AcqRel) & SplitCursor::WAITING != 0;
        if racing {
            assert!(sequencer.core().closed_flag().load(Relaxed), "flag seen, close not");
        }
        closer.join().unwrap();
        let after = low.swap(1, AcqRel) & SplitCursor::WAITING != 0;
        assert!(racing != after, "the close's flag reaches exactly one publish");
        assert!(sequencer.core().closed_flag().load(Relaxed));
    });
}

/// A single producer with a split cursor, gated by a consumer on a ring of one slot, both on
/// the blocking strategy (the engine's own publish path for the split cursor: epoch rule, low
/// word, signal): as `producer_waiting_for_capacity_is_woken`.
#[test]
fn split_cursor_producer_and_consumer_wake_each_other() {
    producer_and_consumer_on_one_slot(|| {
        SingleProducerSequencer::with_split_cursor(1, BlockingWaitStrategy::default()).unwrap()
    });
}

// ---------------------------------------------------------------------------------------------
// 8. A consumer joining a running ring (LMAX's StoreLoad fence before the gating read).
// ---------------------------------------------------------------------------------------------

/// A thread that joins a new consumer sequence to `sequencer`, then runs `then` as that
/// consumer; returns the sequence and the thread.
fn spawn_joiner<S: Sequencer + Send + Sync + 'static, T: Send + 'static>(
    sequencer: &Arc<S>,
    then: impl FnOnce(&S, &Sequence) -> T + Send + 'static,
) -> (Arc<Sequence>, thread::JoinHandle<T>) {
    let joined = Arc::new(Sequence::default());
    let (sequencer, sequence) = (sequencer.clone(), joined.clone());
    let handle = thread::spawn(move || {
        sequencer.add_gating_sequences(std::slice::from_ref(&sequence));
        then(&sequencer, &sequence)
    });
    (joined, handle)
}

/// A consumer joins (`add_gating_sequences`: add to the gating list, then start at the cursor)
/// while the producer, having published sequence 0, refreshes its gating cache for sequence 1,
/// which on a ring of one slot overwrites sequence 0. This is the store-buffering pattern: the
/// producer stores the cursor then loads the list, the joiner stores the list then loads the
/// cursor. Without a store-load barrier on both sides both loads may miss the other's store: the
/// producer, seeing no consumer, claims 1, while the joiner starts at -1 and reads sequence 0
/// from a slot that 1 overwrites. (LMAX's `SingleProducerSequencer.next` has the same barrier:
/// `cursor.setVolatile(nextValue); // StoreLoad fence`.) Busy-spin: the blocking strategy's
/// signal after a publish has a fence of its own under loom (`asymmetric_fence::light`), which
/// in the membarrier mode is only a compiler fence.
fn joining_consumer_is_never_overtaken<S: Sequencer + Send + Sync + 'static>(make: fn() -> S) {
    model(move || {
        let sequencer = Arc::new(make());
        let (_, joiner) = spawn_joiner(&sequencer, |_, joined| joined.get());
        let first = sequencer.next(1).unwrap();
        sequencer.publish(first, first).unwrap();
        let second = sequencer.try_next(1);
        let start = joiner.join().unwrap();
        if let Ok(s) = second {
            // Claiming `s` on a one-slot ring overwrites `s - 1`: the joiner must be past it.
            assert!(start >= s - 1, "claimed {s} over a consumer that starts after {start}");
        }
    });
}

#[test]
fn consumer_joining_a_single_producer_ring_is_never_overtaken() {
    joining_consumer_is_never_overtaken(|| {
        SingleProducerSequencer::new(1, BusySpinWaitStrategy).unwrap()
    });
}

#[test]
fn consumer_joining_a_split_cursor_ring_is_never_overtaken() {
    joining_consumer_is_never_overtaken(|| {
        SingleProducerSequencer::with_split_cursor(1, BusySpinWaitStrategy).unwrap()
    });
}

#[test]
fn consumer_joining_a_multi_producer_ring_is_never_overtaken() {
    joining_consumer_is_never_overtaken(|| {
        MultiProducerSequencer::new(1, BusySpinWaitStrategy).unwrap()
    });
}

/// A producer that waits for room (blocking strategy, ring of one slot) while a consumer joins:
/// it may read the joining sequence before the join sets it to the cursor and go to sleep; the
/// join must wake it (it used to set the sequence without signalling: a loom deadlock).
#[test]
fn consumer_joining_wakes_a_producer_waiting_for_room() {
    model(|| {
        let sequencer =
            Arc::new(SingleProducerSequencer::new(1, BlockingWaitStrategy::default()).unwrap());
        let (_, joiner) = spawn_joiner(&sequencer, |sequencer, joined| {
            // The consumer that joined: it reads 0 if it starts before it, then signals as
            // consumers do. One that starts at 0 has nothing to read, and does not signal.
            if joined.get() < 0 {
                while sequencer.cursor_value() < 0 {
                    thread::yield_now();
                }
                joined.set(0);
                sequencer.wait_strategy().signal_all_when_blocking();
            }
        });
        let first = sequencer.next(1).unwrap();
        sequencer.publish(first, first).unwrap();
        // Room for 1 needs the joining consumer at 0 (or not gating yet).
        let second = sequencer.next(1).unwrap();
        sequencer.publish(second, second).unwrap();
        joiner.join().unwrap();
    });
}
