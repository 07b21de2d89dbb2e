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
    s.gating_sequences().add(std::slice::from_ref(&consumer));
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
    s.gating_sequences().add(std::slice::from_ref(&late));
    assert_eq!(s.remaining_capacity(), 4);
    let hi = s.next(4).unwrap();
    s.publish(4, hi).unwrap();
    assert_eq!(s.try_next(1), Err(Error::InsufficientCapacity));
    // Leaving: the ring no longer waits for it.
    assert!(s.gating_sequences().remove(&late));
    assert!(!s.gating_sequences().remove(&late));
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
