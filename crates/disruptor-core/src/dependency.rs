//! [`Dependency`]: an opaque handle on a consumer that later consumers can wait for.

use std::sync::Arc;

use crate::sequence::Sequence;

/// A consumer that a later consumer depends on: the later one sees a sequence only after this
/// one finished it. Obtained from [`crate::EventPoller::dependency`] and given to
/// [`crate::Disruptor::add_poller_after`]; it does not let anyone move the consumer's
/// sequence, and it remembers its ring, so a dependency from another ring is refused.
///
/// ```
/// use disruptor_core::*;
/// let b = DisruptorBuilder::new(
///     RingBuffer::new(8, || 0u8).unwrap(),
///     SingleProducerSequencer::new(8, BusySpinWaitStrategy).unwrap(),
/// ).unwrap();
/// let (d, _p) = b.build();
/// let first = d.add_poller("first").unwrap();
/// let second = d.add_poller_after("second", &[first.dependency()]).unwrap();
/// assert_eq!(second.info().name(), "second");
/// ```
#[derive(Debug, Clone)]
pub struct Dependency {
    pub(crate) sequence: Arc<Sequence>,
    /// Address of the ring's sequencer (identity only, never dereferenced).
    pub(crate) ring: usize,
}
