//! Bad input at the public API: a clear error (never a panic), and the ring stays usable.

use std::sync::Arc;

use disruptor_core::*;

#[test]
fn ring_sizes_must_be_powers_of_two_in_range() {
    for bad in [0usize, 3, 6, 1000, MAX_BUFFER_SIZE * 2] {
        assert_eq!(RingBuffer::new(bad, || 0u8).err(), Some(Error::InvalidBufferSize(bad)));
        assert_eq!(
            SingleProducerSequencer::new(bad, BusySpinWaitStrategy).err().map(|e| e.code()),
            Some("ERR_INVALID_ARG_VALUE")
        );
        assert!(MultiProducerSequencer::new(bad, BusySpinWaitStrategy).is_err());
        assert!(SlotBuffer::new(bad, 8).is_err());
    }
    for good in [1usize, 2, 1024] {
        assert!(SingleProducerSequencer::new(good, BusySpinWaitStrategy).is_ok());
    }
}

#[test]
fn slot_sizes_must_be_multiples_of_eight_in_range() {
    for bad in [0usize, 4, 12, MAX_SLOT_SIZE + 8] {
        assert_eq!(SlotBuffer::new(4, bad).err(), Some(Error::InvalidSlotSize(bad)));
    }
    assert_eq!(SlotBuffer::new(4, MAX_SLOT_SIZE).unwrap().len_bytes(), 4 * MAX_SLOT_SIZE);
}

#[test]
fn ring_and_sequencer_sizes_must_match() {
    let r = DisruptorBuilder::new(
        RingBuffer::new(8, || 0u8).unwrap(),
        SingleProducerSequencer::new(16, BusySpinWaitStrategy).unwrap(),
    );
    assert_eq!(r.err().map(|e| e.code()), Some("ERR_INVALID_ARG_VALUE"));
}

fn claims_are_checked<S: Sequencer>(s: S) {
    for bad in [0i64, -1, 9, i64::MAX, i64::MIN] {
        assert_eq!(s.next(bad), Err(Error::InvalidClaim { requested: bad, buffer_size: 8 }));
        assert_eq!(s.try_next(bad), Err(Error::InvalidClaim { requested: bad, buffer_size: 8 }));
    }
    // still usable
    let hi = s.next(8).unwrap();
    assert_eq!(hi, 7);
    s.publish(0, 7).unwrap();
    assert_eq!(s.published_cursor(), 7);
}

#[test]
fn single_producer_claims_are_checked() {
    claims_are_checked(SingleProducerSequencer::new(8, BusySpinWaitStrategy).unwrap());
}

#[test]
fn multi_producer_claims_are_checked() {
    claims_are_checked(MultiProducerSequencer::new(8, BusySpinWaitStrategy).unwrap());
}

fn publishes_are_checked<S: Sequencer>(s: S) {
    // never claimed
    assert_eq!(s.publish(0, 0), Err(Error::NotClaimed { sequence: 0 }));
    let hi = s.next(2).unwrap();
    assert_eq!(s.publish(0, 2), Err(Error::NotClaimed { sequence: 2 }));
    // malformed ranges
    for (lo, hi) in [(1, 0), (-1, 0), (0, 8), (i64::MIN, 0)] {
        assert_eq!(s.publish(lo, hi), Err(Error::InvalidRange { lo, hi }));
    }
    s.publish(0, hi).unwrap();
    // twice
    assert_eq!(s.publish(0, 0), Err(Error::AlreadyPublished { sequence: 0 }));
    assert_eq!(s.publish(1, 1), Err(Error::AlreadyPublished { sequence: 1 }));
    // still usable, nothing lost
    let hi = s.next(1).unwrap();
    s.publish(hi, hi).unwrap();
    assert_eq!(s.published_cursor(), 2);
}

#[test]
fn single_producer_publishes_are_checked() {
    publishes_are_checked(SingleProducerSequencer::new(8, BusySpinWaitStrategy).unwrap());
}

#[test]
fn multi_producer_publishes_are_checked() {
    publishes_are_checked(MultiProducerSequencer::new(8, BusySpinWaitStrategy).unwrap());
}

#[test]
fn single_producer_publishes_in_claim_order() {
    let s = SingleProducerSequencer::new(8, BusySpinWaitStrategy).unwrap();
    let a = s.next(1).unwrap();
    let b = s.next(1).unwrap();
    assert_eq!(s.publish(b, b), Err(Error::OutOfOrder { expected: a, lo: b }));
    assert_eq!(s.publish(b, b).unwrap_err().code(), "ERR_DISRUPTOR_SINGLE_PRODUCER");
    s.publish(a, b).unwrap();
    assert_eq!(s.cursor().get(), b);
}

#[test]
fn multi_producer_publishes_in_any_order_and_exposes_no_hole() {
    let s = MultiProducerSequencer::new(8, BusySpinWaitStrategy).unwrap();
    let a = s.next(1).unwrap();
    let b = s.next(1).unwrap();
    let c = s.next(1).unwrap();
    s.publish(c, c).unwrap();
    s.publish(a, a).unwrap();
    assert_eq!(s.poll_published(a), Some(a)); // b is a hole
    assert_eq!(s.published_cursor(), a);
    s.publish(b, b).unwrap();
    assert_eq!(s.poll_published(a), Some(c));
    assert_eq!(s.published_cursor(), c);
}

fn try_next_reports_full<S: Sequencer>(s: S) {
    let consumer = Arc::new(Sequence::default());
    s.add_gating_sequences(std::slice::from_ref(&consumer));
    let hi = s.try_next(4).unwrap();
    s.publish(0, hi).unwrap();
    assert_eq!(s.remaining_capacity(), 0);
    assert_eq!(s.try_next(1), Err(Error::InsufficientCapacity));
    assert_eq!(s.try_next(1).unwrap_err().code(), "ERR_DISRUPTOR_INSUFFICIENT_CAPACITY");
    consumer.set(1);
    assert_eq!(s.remaining_capacity(), 2);
    assert_eq!(s.try_next(3), Err(Error::InsufficientCapacity));
    assert_eq!(s.try_next(2), Ok(5));
}

#[test]
fn single_producer_try_next_reports_full() {
    try_next_reports_full(SingleProducerSequencer::new(4, BusySpinWaitStrategy).unwrap());
}

#[test]
fn multi_producer_try_next_reports_full() {
    try_next_reports_full(MultiProducerSequencer::new(4, BusySpinWaitStrategy).unwrap());
}

fn closed_refuses_claims<S: Sequencer>(s: S) {
    s.close();
    assert!(s.is_closed());
    assert_eq!(s.next(1), Err(Error::Closed));
    assert_eq!(s.try_next(1).unwrap_err().code(), "ERR_DISRUPTOR_CLOSED");
}

#[test]
fn closed_sequencers_refuse_claims() {
    closed_refuses_claims(SingleProducerSequencer::new(4, BusySpinWaitStrategy).unwrap());
    closed_refuses_claims(MultiProducerSequencer::new(4, BusySpinWaitStrategy).unwrap());
}

#[test]
fn gating_sequences_can_be_added_and_removed_at_run_time() {
    let s = SingleProducerSequencer::new(4, BusySpinWaitStrategy).unwrap();
    let late = Arc::new(Sequence::default());
    let hi = s.next(4).unwrap();
    s.publish(0, hi).unwrap();
    // A consumer that joins at the cursor does not gate what came before it.
    late.set(s.cursor().get());
    s.add_gating_sequences(std::slice::from_ref(&late));
    assert_eq!(s.remaining_capacity(), 4);
    let hi = s.next(4).unwrap();
    s.publish(4, hi).unwrap();
    assert_eq!(s.try_next(1), Err(Error::InsufficientCapacity));
    // Leaving: the ring no longer waits for it.
    assert!(s.remove_gating_sequence(&late));
    assert!(!s.remove_gating_sequence(&late));
    assert_eq!(s.try_next(1), Ok(8));
}

#[test]
fn stages_from_another_builder_are_refused() {
    let make = || {
        DisruptorBuilder::new(
            RingBuffer::new(8, || 0u8).unwrap(),
            SingleProducerSequencer::new(8, BusySpinWaitStrategy).unwrap(),
        )
        .unwrap()
    };
    let mut a = make();
    let mut b = make();
    let stage_a = a.handle_events_with(|_: &u8, _: i64, _: bool| {}).stage();
    let stage_b = b.handle_events_with(|_: &u8, _: i64, _: bool| {}).stage();
    assert_eq!(b.after(&stage_a).err(), Some(Error::ForeignStage));
    assert_eq!(b.after(&stage_b.and(&stage_a)).err(), Some(Error::ForeignStage));
    assert!(b.after(&stage_b).is_ok());
}

#[test]
fn multi_producer_publish_accepts_a_claim_while_a_later_claimer_waits() {
    // A producer whose claim is a whole ring behind the claim cursor (a later producer already
    // took its sequence and waits for room) can still publish it; nobody else can publish the
    // waiting producer's sequence.
    let s = Arc::new(MultiProducerSequencer::new(2, BlockingWaitStrategy::default()).unwrap());
    let consumer = Arc::new(Sequence::default());
    s.add_gating_sequences(std::slice::from_ref(&consumer));
    let a = s.next(1).unwrap();
    let b = s.next(1).unwrap();
    let s2 = s.clone();
    let c = std::thread::spawn(move || s2.next(1));
    while s.cursor().get() < 2 {
        std::thread::yield_now();
    }
    assert_eq!(s.publish(2, 2), Err(Error::NotClaimed { sequence: 2 }));
    s.publish(a, a).unwrap();
    s.publish(b, b).unwrap();
    consumer.set(b);
    s.wait_strategy().signal_all_when_blocking();
    let c = c.join().unwrap().unwrap();
    assert_eq!(c, 2);
    s.publish(c, c).unwrap();
    assert_eq!(s.published_cursor(), 2);
}

#[test]
fn removing_a_gating_sequence_wakes_a_blocked_producer() {
    let s = Arc::new(SingleProducerSequencer::new(2, BlockingWaitStrategy::default()).unwrap());
    let slow = Arc::new(Sequence::default());
    s.add_gating_sequences(std::slice::from_ref(&slow));
    let hi = s.next(2).unwrap();
    s.publish(0, hi).unwrap();
    let s2 = s.clone();
    let producer = std::thread::spawn(move || s2.next(1));
    std::thread::sleep(std::time::Duration::from_millis(20));
    assert!(s.remove_gating_sequence(&slow));
    assert_eq!(producer.join().unwrap(), Ok(2));
}

#[test]
fn a_poller_cannot_release_what_it_was_not_shown() {
    let mut b = DisruptorBuilder::new(
        RingBuffer::new(4, || 0u8).unwrap(),
        SingleProducerSequencer::new(4, BusySpinWaitStrategy).unwrap(),
    )
    .unwrap();
    let mut poller = b.poller();
    let (d, mut p) = b.build();
    p.publish_batch(3, |e, _| *e = 1).unwrap();
    assert_eq!(poller.release(0, 0), Err(Error::InvalidRange { lo: 0, hi: 0 })); // not shown yet
    assert_eq!(poller.available().unwrap(), Ok((0, 2)));
    for (lo, hi) in [(1, 2), (0, 3), (2, 1), (-1, 0), (0, i64::MAX)] {
        assert_eq!(poller.release(lo, hi), Err(Error::InvalidRange { lo, hi }));
    }
    poller.release(0, 1).unwrap();
    assert_eq!(poller.release(0, 1), Err(Error::InvalidRange { lo: 0, hi: 1 })); // backwards
    assert_eq!(poller.sequence(), 1);
    poller.release(2, 2).unwrap();
    assert_eq!(poller.available().unwrap(), Err(PollState::Idle));
    d.shutdown().unwrap();
}

#[test]
fn huge_timeouts_and_sequences_do_not_panic() {
    use std::time::Duration;
    let w = TimeoutBlockingWaitStrategy::new(Duration::MAX);
    assert_eq!(w.wait_until(|| Some(1), &Alert::default()), Ok(1));
    let p = PhasedBackoffWaitStrategy::with_sleep(Duration::MAX, Duration::MAX);
    assert_eq!(p.wait_until(|| Some(2), &Alert::default()), Ok(2));
    let s = Arc::new(MultiProducerSequencer::new(8, BusySpinWaitStrategy).unwrap());
    let barrier = SequenceBarrier::new(s.clone(), vec![]);
    assert_eq!(barrier.try_wait_for(i64::MAX), None);
    assert_eq!(barrier.try_wait_for(i64::MIN), None);
    // Sequences whose lap truncates to -1 (the untouched flags' value) far below i64::MAX, and
    // sequences just under that: nothing claimed there, nothing reported.
    for lap in [(1i64 << 32) - 1, (1 << 31) - 1, 1 << 31, (1 << 32) + 5] {
        assert_eq!(barrier.try_wait_for(lap << 3), None, "lap {lap}");
        assert_eq!(s.poll_published((lap << 3) - 8), None, "lap {lap}");
        assert_eq!(s.poll_published_until(lap << 3, (lap << 3) + 7), None, "lap {lap}");
        assert_eq!(s.poll_published_until((lap << 3) - 8, i64::MAX), None, "lap {lap}");
    }
    // A bound below the sequence, or at the end of the numbers: no answer past it, no overflow.
    let hi = s.next(4).unwrap();
    s.publish(0, hi).unwrap();
    assert_eq!(s.poll_published_until(2, 1), None);
    assert_eq!(s.poll_published_until(0, 2), Some(2));
    assert_eq!(s.poll_published_until(0, i64::MAX), Some(3));
    assert_eq!(s.poll_published_until(i64::MAX, i64::MAX), None);
    let b = DisruptorBuilder::new(
        RingBuffer::new(4, || 0u8).unwrap(),
        SingleProducerSequencer::new(4, BusySpinWaitStrategy).unwrap(),
    )
    .unwrap();
    let (d, _p) = b.build();
    assert_eq!(d.drain_timeout(Duration::MAX), Ok(()));
}
