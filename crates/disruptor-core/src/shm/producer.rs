//! [`SharedProducer`]: claims, fills and publishes slots of a shared ring.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::layout::*;
use super::ring::Table;
use super::SharedRing;
use crate::error::{Error, Result};

/// A producer of a [`SharedRing`], registered in its producer table.
///
/// It holds at most one claim at a time, recorded in its table entry *before* the claim's
/// compare-and-exchange on the cursor: whoever finds this process dead knows which sequences
/// it may have held, and abandons the ones it never published. Dropping the producer abandons
/// an unpublished claim and frees the entry.
///
/// ```
/// use disruptor_core::shm::{SharedRing, SharedRingOptions};
/// # std::env::set_var("NAPI_DISRUPTOR_SHM_DIR", std::env::temp_dir());
/// let name = format!("doc-producer-{}", std::process::id());
/// let ring = SharedRing::create(&name, &SharedRingOptions::new(4, 8)).unwrap();
/// let mut c = ring.consumer("c").unwrap();
/// let mut p = ring.producer().unwrap();
/// let hi = p.next(4).unwrap();
/// p.slot(hi).unwrap().copy_from_slice(&7u64.to_le_bytes());
/// p.publish().unwrap();
/// assert_eq!(p.try_next(1).unwrap_err().code(), "ERR_DISRUPTOR_INSUFFICIENT_CAPACITY");
/// assert_eq!(c.poll(|_, _| {}).unwrap(), Some((0, 3)));
/// assert_eq!(p.try_next(1).unwrap(), 4);
/// # ring.remove().unwrap();
/// ```
pub struct SharedProducer {
    pub(super) ring: Arc<SharedRing>,
    /// Offset of this producer's table entry.
    pub(super) entry: usize,
    /// The gating minimum last read: claims up to it + buffer size need no scan.
    cached_minimum: i64,
    /// The claim to publish, `[lo, hi]`.
    pub(super) claim: Option<(i64, i64)>,
    /// Single-producer rings: the published cursor, and the epoch this producer last stored
    /// (the `single` module).
    published: i64,
    epoch: i64,
}

impl std::fmt::Debug for SharedProducer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedProducer").field("claim", &self.claim).finish()
    }
}

impl SharedProducer {
    pub(crate) fn register(ring: Arc<SharedRing>) -> Result<SharedProducer> {
        let entry = ring.take_entry(Table::Producers).map_err(|e| match e {
            Error::TableFull { .. } if ring.single => {
                Error::ProducerTaken { name: ring.name().to_owned() }
            }
            e => e,
        })?;
        let r = &ring.region;
        r.i64_at(entry + P_LO).store(i64::MAX, Ordering::Release);
        r.u64_at(entry + P_PUBLISHED).store(0, Ordering::Relaxed);
        let (published, epoch) = if ring.single {
            // A producer before this one (in any process) may have published and stored
            // epochs; its claim, if it died holding one, was never published: start after
            // what was.
            let published = ring.split_cursor().0;
            r.i64_at(entry + P_START).store(published, Ordering::Relaxed);
            // SeqCst: as every store of the claim word (`single::claim_single`).
            r.i32_at(entry + P_CLAIM)
                .store(crate::SplitCursor::low_bits(published), Ordering::SeqCst);
            // A consumer waiting to drain may have seen the dead producer's claim word as this
            // one's (between the owner CAS and the reset): it looks again now.
            ring.publish_wake().wake_now();
            (published, r.i64_at(CURSOR_AT).load(Ordering::Acquire))
        } else {
            (-1, -1)
        };
        Ok(SharedProducer { ring, entry, cached_minimum: -1, claim: None, published, epoch })
    }

    /// Claims `n` slots (1 ..= buffer size) and returns the highest claimed sequence, waiting
    /// for room (a dead consumer that holds producers back is reaped while waiting).
    ///
    /// Errors: `ERR_INVALID_ARG_VALUE` (bad `n`), `ERR_DISRUPTOR_CLAIM_OPEN` (the last claim is
    /// not published yet), `ERR_DISRUPTOR_CLOSED`.
    pub fn next(&mut self, n: i64) -> Result<i64> {
        self.next_until(n, None)
    }

    /// [`next`](SharedProducer::next) that gives up with `ERR_DISRUPTOR_TIMEOUT` after `limit`.
    ///
    /// ```
    /// use std::time::Duration;
    /// use disruptor_core::shm::{SharedRing, SharedRingOptions};
    /// # std::env::set_var("NAPI_DISRUPTOR_SHM_DIR", std::env::temp_dir());
    /// let ring = SharedRing::create(&format!("doc-nt-{}", std::process::id()),
    ///                               &SharedRingOptions::new(2, 8)).unwrap();
    /// let _c = ring.consumer("slow").unwrap();
    /// let mut p = ring.producer().unwrap();
    /// p.next(2).unwrap();
    /// p.publish().unwrap();
    /// let e = p.next_timeout(1, Duration::from_millis(5)).unwrap_err();
    /// assert_eq!(e.code(), "ERR_DISRUPTOR_TIMEOUT");
    /// # ring.remove().unwrap();
    /// ```
    pub fn next_timeout(&mut self, n: i64, limit: Duration) -> Result<i64> {
        self.next_until(n, Some(Instant::now() + limit))
    }

    fn next_until(&mut self, n: i64, deadline: Option<Instant>) -> Result<i64> {
        loop {
            match self.try_next(n) {
                Err(Error::InsufficientCapacity) => self.ring.wait_for_room(n, deadline)?,
                claimed => return claimed,
            }
        }
    }

    /// Claims `n` slots if there is room now, else `ERR_DISRUPTOR_INSUFFICIENT_CAPACITY` with
    /// nothing claimed.
    pub fn try_next(&mut self, n: i64) -> Result<i64> {
        let size = self.ring.buffer_size() as i64;
        if !(1..=size).contains(&n) {
            return Err(Error::InvalidClaim { requested: n, buffer_size: size as usize });
        }
        if let Some((lo, _)) = self.claim {
            return Err(Error::ClaimOpen { lo });
        }
        if self.ring.single {
            return self.try_next_single(n, size);
        }
        let r = &self.ring.region;
        let cursor = r.i64_at(CURSOR_AT);
        loop {
            if self.ring.is_closed() {
                return Err(Error::Closed);
            }
            // Acquire: the claims before it are visible (their intents too, for recovery).
            let current = cursor.load(Ordering::Acquire);
            let next = current + n;
            let wrap_point = next - size;
            if wrap_point > self.cached_minimum {
                self.cached_minimum = self.ring.gating_minimum(current);
                if wrap_point > self.cached_minimum {
                    return Err(Error::InsufficientCapacity);
                }
            }
            // The intent, before the CAS: hi then lo, each Release, so that a reader that sees
            // the new lo sees the new hi; and the CAS (Release) orders both before the cursor
            // moves, for a recoverer that acquires the cursor.
            r.i64_at(self.entry + P_HI).store(next, Ordering::Release);
            r.i64_at(self.entry + P_LO).store(current + 1, Ordering::Release);
            // SeqCst (AcqRel would do for the intent and the claims before this one): with the
            // SeqCst load of the closed flag after it, and the SeqCst store and loads of
            // `close_intake` and of a consumer's "drained" check, either this claim sees the
            // ring closed or the consumer sees this claim. Free on x86 (a locked instruction).
            let won = cursor.compare_exchange(current, next, Ordering::SeqCst, Ordering::Relaxed);
            if won.is_err() {
                // Withdrawn at once: a stale intent would make recovery take these sequences
                // (another producer's) for this one's.
                r.i64_at(self.entry + P_LO).store(i64::MAX, Ordering::Release);
                continue;
            }
            if self.ring.region.u32_at(CLOSED_AT).load(Ordering::SeqCst) != 0 {
                // Intake closed while claiming: a consumer may already have found the ring
                // drained, so the claim is given up (abandoned, never delivered) and refused.
                self.ring.abandon_range(current + 1, next);
                r.i64_at(self.entry + P_LO).store(i64::MAX, Ordering::Release);
                self.ring.publish_wake().wake();
                return Err(Error::Closed);
            }
            self.claim = Some((current + 1, next));
            return Ok(next);
        }
    }

    /// [`try_next`](SharedProducer::try_next) on a single-producer ring: no CAS, the claim
    /// word and the closed flag (the `single` module).
    fn try_next_single(&mut self, n: i64, size: i64) -> Result<i64> {
        let hi = self.published + n;
        if hi - size > self.cached_minimum {
            self.cached_minimum = self.ring.gating_minimum(self.published);
            if hi - size > self.cached_minimum {
                return if self.ring.is_closed() {
                    Err(Error::Closed)
                } else {
                    Err(Error::InsufficientCapacity)
                };
            }
        }
        if !self.ring.claim_single(self.entry, hi, self.published) {
            return Err(Error::Closed);
        }
        self.claim = Some((self.published + 1, hi));
        Ok(hi)
    }

    /// The claimed slot of `sequence`, to fill (`ERR_DISRUPTOR_NOT_CLAIMED` outside the
    /// claim).
    pub fn slot(&mut self, sequence: i64) -> Result<&mut [u8]> {
        match self.claim {
            Some((lo, hi)) if (lo..=hi).contains(&sequence) => {
                let len = self.ring.slot_size();
                // SAFETY: the slot is inside the mapping (Region::slot_ptr), and the claim gives
                // this producer the only right to it until it publishes (other processes that
                // follow the protocol neither read nor write it); the borrow of `self` stops a
                // second slice or a publish while this one lives.
                Ok(unsafe {
                    std::slice::from_raw_parts_mut(self.ring.region.slot_ptr(sequence), len)
                })
            }
            _ => Err(Error::NotClaimed { sequence }),
        }
    }

    /// Copies `bytes` (at most the slot size) into the claimed slot of `sequence`.
    ///
    /// ```
    /// use disruptor_core::shm::{SharedRing, SharedRingOptions};
    /// # std::env::set_var("NAPI_DISRUPTOR_SHM_DIR", std::env::temp_dir());
    /// let ring = SharedRing::create(&format!("doc-w-{}", std::process::id()),
    ///                               &SharedRingOptions::new(4, 8)).unwrap();
    /// let mut p = ring.producer().unwrap();
    /// let hi = p.next(1).unwrap();
    /// assert_eq!(p.write(hi, &[0; 9]).unwrap_err().code(), "ERR_INVALID_ARG_VALUE");
    /// assert_eq!(p.write(hi + 1, &[0; 8]).unwrap_err().code(), "ERR_DISRUPTOR_NOT_CLAIMED");
    /// p.write(hi, &[1; 8]).unwrap();
    /// # ring.remove().unwrap();
    /// ```
    pub fn write(&mut self, sequence: i64, bytes: &[u8]) -> Result<()> {
        let size = self.ring.slot_size();
        if bytes.len() > size {
            return Err(Error::InvalidRange { lo: 0, hi: bytes.len() as i64 - 1 });
        }
        self.slot(sequence)?[..bytes.len()].copy_from_slice(bytes);
        Ok(())
    }

    /// Publishes the whole claim (`ERR_DISRUPTOR_NOT_CLAIMED` when there is none) and wakes
    /// consumers that sleep.
    pub fn publish(&mut self) -> Result<()> {
        let (lo, hi) = self.claim.take().ok_or(Error::NotClaimed { sequence: -1 })?;
        if self.ring.single {
            self.published = hi;
            if self.ring.publish_split(&mut self.epoch, hi) {
                self.ring.publish_wake().wake_now();
            }
            return Ok(());
        }
        let r = &self.ring.region;
        for sequence in lo..=hi {
            // Release: the slot's contents happen-before a consumer's Acquire of the flag.
            r.flag(sequence).store(stamp(sequence, self.ring.shift), Ordering::Release);
        }
        // Relaxed, and a load and a store rather than an atomic add: a statistic only this
        // producer writes.
        let published = r.u64_at(self.entry + P_PUBLISHED);
        published
            .store(published.load(Ordering::Relaxed) + (hi - lo + 1) as u64, Ordering::Relaxed);
        // Release: a recoverer that reads "no claim" then sees the flags above.
        r.i64_at(self.entry + P_LO).store(i64::MAX, Ordering::Release);
        self.ring.publish_wake().wake();
        Ok(())
    }

    /// Gives up the claim unpublished: consumers skip it (counted in
    /// [`crate::shm::SharedRingStats::abandoned`]). Nothing to do without a claim.
    ///
    /// ```
    /// use disruptor_core::shm::{SharedRing, SharedRingOptions};
    /// # std::env::set_var("NAPI_DISRUPTOR_SHM_DIR", std::env::temp_dir());
    /// let ring = SharedRing::create(&format!("doc-ab-{}", std::process::id()),
    ///                               &SharedRingOptions::new(4, 8)).unwrap();
    /// let mut c = ring.consumer("c").unwrap();
    /// let mut p = ring.producer().unwrap();
    /// p.next(2).unwrap();
    /// p.abandon();
    /// let mut got = 0;
    /// assert_eq!(c.poll(|_, _| got += 1).unwrap(), Some((0, 1)));
    /// assert_eq!((got, ring.stats().abandoned), (0, 2));
    /// # ring.remove().unwrap();
    /// ```
    pub fn abandon(&mut self) {
        if self.ring.single {
            // Nothing was published: the sequences are claimed again next time.
            if self.claim.take().is_some() {
                self.ring.drop_single_claim(self.entry, self.published);
            }
            return;
        }
        if let Some((lo, hi)) = self.claim.take() {
            self.ring.abandon_range(lo, hi);
            // Release: as in `publish`.
            self.ring.region.i64_at(self.entry + P_LO).store(i64::MAX, Ordering::Release);
            self.ring.publish_wake().wake();
        }
    }

    /// The claim to publish, `[lo, hi]`.
    ///
    /// ```
    /// use disruptor_core::shm::{SharedRing, SharedRingOptions};
    /// # std::env::set_var("NAPI_DISRUPTOR_SHM_DIR", std::env::temp_dir());
    /// let ring = SharedRing::create(&format!("doc-cl-{}", std::process::id()),
    ///                               &SharedRingOptions::new(4, 8)).unwrap();
    /// let mut p = ring.producer().unwrap();
    /// p.next(2).unwrap();
    /// assert_eq!(p.claim(), Some((0, 1)));
    /// # ring.remove().unwrap();
    /// ```
    pub fn claim(&self) -> Option<(i64, i64)> {
        self.claim
    }
}

impl Drop for SharedProducer {
    fn drop(&mut self) {
        self.abandon();
        if self.ring.single {
            // A claim made through another binding of this entry (JavaScript claims in its
            // own words) is given up too: the claim word back to the cursor.
            let published = self.ring.split_cursor().0;
            let word = self.ring.region.i32_at(self.entry + P_CLAIM);
            if word.load(Ordering::SeqCst) != crate::SplitCursor::low_bits(published) {
                self.ring.drop_single_claim(self.entry, published);
            }
        }
        // Release: the entry's last writes happen-before its next owner's CAS.
        self.ring.region.u64_at(self.entry + P_OWNER).store(0, Ordering::Release);
    }
}
