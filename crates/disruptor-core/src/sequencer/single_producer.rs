use crossbeam_utils::CachePadded;

use super::{Sequencer, SequencerCore, SplitCursor};
use crate::error::{Error, Result};
use crate::sync::{AtomicI64, Ordering};
use crate::wait_strategy::WaitStrategy;

/// The producer's own counters, on a cache line of their own. Only the producing thread writes
/// them; other threads read them only for estimates (remaining capacity, error messages).
#[derive(Debug)]
struct ProducerLocal {
    /// Highest claimed sequence.
    next_value: AtomicI64,
    /// Last minimum of the gating sequences that this producer read.
    cached_gating: AtomicI64,
}

/// A [`Sequencer`] for exactly one producing thread at a time: a claim is two relaxed loads and
/// a compare while the cached gating minimum says there is room, and a publish is one Release
/// store of the cursor. No atomic read-modify-write on the hot path.
///
/// Claims and publishes must come from one thread at a time (the safe [`crate::Producer`] for
/// this sequencer is not `Clone` and takes `&mut self`); ranges are published in claim order.
///
/// ```
/// use disruptor_core::{BusySpinWaitStrategy, Error, Sequencer, SingleProducerSequencer};
/// let s = SingleProducerSequencer::new(4, BusySpinWaitStrategy).unwrap();
/// let hi = s.next(4).unwrap();
/// // No consumer gates it, but a ring of its own claims not yet published does:
/// assert_eq!(s.try_next(1), Err(Error::InsufficientCapacity));
/// assert_eq!(s.next(1), Err(Error::WouldDeadlock));
/// assert_eq!(s.publish(2, hi), Err(Error::OutOfOrder { expected: 0, lo: 2 }));
/// s.publish(0, hi).unwrap();
/// assert_eq!(s.try_next(1), Ok(4)); // the ring may wrap over what is published
/// s.publish(4, 4).unwrap();
/// assert_eq!(s.cursor().get(), 4);
/// ```
pub struct SingleProducerSequencer<W> {
    core: SequencerCore<W>,
    local: CachePadded<ProducerLocal>,
    /// `Some` for a split cursor ([`with_split_cursor`](Self::with_split_cursor)): the
    /// published value is then read from it, and the core's cursor holds only its epoch.
    split: Option<SplitCursor>,
}

impl<W: WaitStrategy> SingleProducerSequencer<W> {
    /// A sequencer over `buffer_size` slots (a power of two, at most
    /// [`crate::MAX_BUFFER_SIZE`]).
    ///
    /// ```
    /// use disruptor_core::{BusySpinWaitStrategy, Error, SingleProducerSequencer};
    /// assert!(SingleProducerSequencer::new(1024, BusySpinWaitStrategy).is_ok());
    /// assert_eq!(SingleProducerSequencer::new(1000, BusySpinWaitStrategy).err(),
    ///            Some(Error::InvalidBufferSize(1000)));
    /// ```
    pub fn new(buffer_size: usize, wait_strategy: W) -> Result<Self> {
        Ok(SingleProducerSequencer {
            core: SequencerCore::new(buffer_size, wait_strategy)?,
            local: CachePadded::new(ProducerLocal {
                next_value: AtomicI64::new(-1),
                cached_gating: AtomicI64::new(-1),
            }),
            split: None,
        })
    }

    /// A sequencer whose published cursor is a [`SplitCursor`]: a 32-bit low word stored on
    /// every publish plus a 64-bit epoch stored once every 2^29 sequences, for a producer
    /// outside Rust to whom a 64-bit atomic store is expensive (JavaScript: see
    /// [`split_cursor`](Self::split_cursor)). [`Sequencer::cursor`] then holds the epoch only;
    /// every reader in this crate goes through [`Sequencer::cursor_value`] and
    /// [`Sequencer::poll_published`], which read the split cursor. Costs a reader two more
    /// loads of a line that is almost never written.
    ///
    /// ```
    /// use disruptor_core::{BusySpinWaitStrategy, Sequencer, SingleProducerSequencer};
    /// let s = SingleProducerSequencer::with_split_cursor(4, BusySpinWaitStrategy).unwrap();
    /// s.publish(0, s.next(3).unwrap()).unwrap();
    /// assert_eq!(s.cursor_value(), 2);
    /// assert_eq!(s.poll_published(0), Some(2));
    /// assert_eq!(s.split_cursor().unwrap().low().load(std::sync::atomic::Ordering::Relaxed), 2);
    /// ```
    pub fn with_split_cursor(buffer_size: usize, wait_strategy: W) -> Result<Self> {
        let mut s = SingleProducerSequencer::new(buffer_size, wait_strategy)?;
        s.split = Some(SplitCursor::over(s.core.cursor.clone()));
        Ok(s)
    }

    /// The split cursor, if this sequencer has one. A producer outside Rust that publishes
    /// through it must keep [`SplitCursor::set`]'s rule (epoch first when needed, then the low
    /// word), publish in claim order from one thread at a time, and then signal the wait
    /// strategy as [`crate::WaitStrategy::sleeper_count`] says. It may skip that check when
    /// its swap of the low word returned no [`SplitCursor::WAITING`] flag, provided every
    /// thread that waits for its publishes waits through a [`crate::SequenceBarrier`] (whose
    /// waits flag, see [`Sequencer::poll_published_for_waiter`]), as the JavaScript binding's
    /// do. A swap that returns the flag is also how it learns of a close
    /// ([`Sequencer::close`] flags the low word after it sets the closed flag): the binding's
    /// publishes read the closed flag only then, and so always swap (a plain store, enough for
    /// a strategy that never sleeps, would erase the close's flag).
    pub fn split_cursor(&self) -> Option<&SplitCursor> {
        self.split.as_ref()
    }

    /// The published cursor (**Acquire**).
    #[inline]
    fn published(&self) -> i64 {
        match &self.split {
            None => self.core.cursor.get(),
            Some(split) => split.get(),
        }
    }

    /// The slow path of a claim: read the gating minimum (waiting for room if `wait`) and cache
    /// it. The bound is never above what is published (without consumers, it is what is
    /// published), as the JavaScript producer's: a consumer that joins starts at the published
    /// cursor, so a bound at the claims would let claims not yet published when it joined
    /// overtake it. Past a ring of this producer's own unpublished claims no wait can help:
    /// [`Error::WouldDeadlock`] (`next`) or [`Error::InsufficientCapacity`] (`try_next`).
    #[cold]
    #[inline(never)]
    fn refresh_gating_cache(&self, wrap_point: i64, wait: bool) -> Result<()> {
        // Acquire, of this thread's own stores: exact.
        let published = self.published();
        if wrap_point > published {
            return Err(if wait { Error::WouldDeadlock } else { Error::InsufficientCapacity });
        }
        let min = if wait {
            self.core.wait_for_capacity(wrap_point, published)?
        } else {
            let min = self.core.gating_minimum_for_claim(published);
            if wrap_point > min {
                return Err(Error::InsufficientCapacity);
            }
            min
        };
        // Relaxed: producer-local cache; the Acquire loads inside `minimum` already ordered the
        // consumers' reads of the slots before our upcoming writes.
        self.local.cached_gating.store(min, Ordering::Relaxed);
        Ok(())
    }

    /// Claims up to `next_value + n`, waiting for room when `wait` is true.
    #[inline]
    fn claim(&self, n: i64, wait: bool) -> Result<i64> {
        self.core.check_claim(n)?;
        // Relaxed: both counters are written only by this (the producing) thread.
        let next_value = self.local.next_value.load(Ordering::Relaxed);
        let next_sequence = next_value + n;
        let wrap_point = next_sequence - self.core.buffer_size as i64;
        let cached = self.local.cached_gating.load(Ordering::Relaxed);
        if wrap_point > cached || cached > next_value {
            self.refresh_gating_cache(wrap_point, wait)?;
        }
        // Relaxed: producer-local.
        self.local.next_value.store(next_sequence, Ordering::Relaxed);
        Ok(next_sequence)
    }
}

// SAFETY: claims, gating and publication follow the protocol documented on `Sequencer`
// (checked by tests/stress.rs and the loom models in tests/loom.rs).
unsafe impl<W: WaitStrategy> Sequencer for SingleProducerSequencer<W> {
    type Wait = W;

    #[inline]
    fn core(&self) -> &SequencerCore<W> {
        &self.core
    }

    /// Closes the core; with a split cursor, then sets its [`SplitCursor::WAITING`] flag, so that
    /// a writer outside Rust learns of the close from the swap it publishes with anyway
    /// (see [`SplitCursor::flag`]) instead of reading the closed flag on every publish.
    fn close(&self) {
        self.core.close();
        if let Some(split) = &self.split {
            split.flag();
        }
    }

    #[inline]
    fn next(&self, n: i64) -> Result<i64> {
        self.claim(n, true)
    }

    #[inline]
    fn try_next(&self, n: i64) -> Result<i64> {
        self.claim(n, false)
    }

    #[inline]
    fn claimed(&self) -> i64 {
        // Relaxed: producer-local; other threads get an estimate.
        self.local.next_value.load(Ordering::Relaxed)
    }

    fn check_publish(&self, lo: i64, hi: i64) -> Result<()> {
        self.core.check_range(lo, hi)?;
        // Relaxed: producer-local.
        let claimed = self.local.next_value.load(Ordering::Relaxed);
        let cursor = self.published();
        if hi > claimed {
            return Err(Error::NotClaimed { sequence: lo.max(claimed + 1) });
        }
        if lo <= cursor {
            return Err(Error::AlreadyPublished { sequence: lo });
        }
        if lo != cursor + 1 {
            return Err(Error::OutOfOrder { expected: cursor + 1, lo });
        }
        Ok(())
    }

    #[inline]
    fn publish_claimed(&self, _lo: i64, hi: i64) {
        match &self.split {
            None => self.core.cursor.set(hi),
            // Signalled below whether a waiter flagged or not: a thread may wait on this
            // sequencer's cursor without a barrier (and so without flagging).
            Some(split) => _ = split.set(hi),
        }
        self.core.wait.signal_all_when_blocking();
    }

    #[inline]
    fn is_available(&self, sequence: i64) -> bool {
        sequence <= self.published()
    }

    #[inline]
    fn poll_published(&self, sequence: i64) -> Option<i64> {
        let cursor = self.published();
        (cursor >= sequence).then_some(cursor)
    }

    #[inline]
    fn poll_published_for_waiter(&self, sequence: i64) -> Option<i64> {
        match &self.split {
            None => self.poll_published(sequence),
            Some(split) => split.get_or_flag(sequence),
        }
    }

    fn published_cursor(&self) -> i64 {
        self.published()
    }

    #[inline]
    fn cursor_value(&self) -> i64 {
        self.published()
    }

    fn remaining_capacity(&self) -> i64 {
        // Relaxed: an estimate for any thread; exact on the producing thread.
        let claimed = self.local.next_value.load(Ordering::Relaxed);
        let consumed = self.core.gating.minimum(claimed);
        self.core.buffer_size as i64 - (claimed - consumed)
    }
}
