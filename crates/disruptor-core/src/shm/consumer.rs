//! [`SharedConsumer`]: receives every sequence published into a shared ring after it joined,
//! in order, in batches.

use std::sync::atomic::{fence, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::layout::*;
use super::ring::Table;
use super::{SharedRing, LIVENESS_INTERVAL};
use crate::error::{Error, Result};

/// A consumer of a [`SharedRing`], registered in its consumer table: its sequence gates every
/// producer of every process. Each consumer receives every event (multicast); dropping it
/// frees its entry.
///
/// ```
/// use disruptor_core::shm::{SharedRing, SharedRingOptions};
/// # std::env::set_var("NAPI_DISRUPTOR_SHM_DIR", std::env::temp_dir());
/// let name = format!("doc-consumer-{}", std::process::id());
/// let ring = SharedRing::create(&name, &SharedRingOptions::new(8, 8)).unwrap();
/// let mut c = ring.consumer("c").unwrap();
/// let mut p = ring.producer().unwrap();
/// let hi = p.next(3).unwrap();
/// p.publish().unwrap();
/// ring.close_intake();
/// let mut sum = 0;
/// while c.wait(None).is_ok() {
///     c.poll(|seq, _| sum += seq).unwrap();
/// }
/// assert_eq!(sum, 0 + 1 + 2);
/// assert_eq!(c.wait(None).unwrap_err().code(), "ERR_DISRUPTOR_CLOSED");
/// # ring.remove().unwrap();
/// ```
pub struct SharedConsumer {
    pub(super) ring: Arc<SharedRing>,
    /// Offset of this consumer's table entry.
    entry: usize,
    /// The next sequence to receive.
    pub(super) next: i64,
    /// The ring's abandoned count when this consumer last looked, and the cursor then: no
    /// sequence abandoned so far is above it, so batches above it need no look at the marks.
    abandoned_seen: u64,
    abandoned_until: i64,
    /// Since when polls have found `next` claimed and unpublished.
    stuck_since: Option<Instant>,
    /// Since when `poll_messages` has found a frame at `next` with unpublished last slots.
    pub(super) frame_stuck_since: Option<Instant>,
    /// What `available` last returned: the most `commit` accepts.
    found: i64,
}

impl std::fmt::Debug for SharedConsumer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedConsumer").field("next", &self.next).finish()
    }
}

impl SharedConsumer {
    pub(crate) fn register(ring: Arc<SharedRing>, name: &str) -> Result<SharedConsumer> {
        if name.len() > MAX_CONSUMER_NAME {
            return Err(Error::InvalidName {
                reason: format!("a consumer name may hold at most {MAX_CONSUMER_NAME} bytes"),
            });
        }
        let entry = ring.take_entry(Table::Consumers)?;
        let r = &ring.region;
        r.u32_at(entry + C_NAME_LEN).store(name.len() as u32, Ordering::Relaxed);
        r.write_bytes(entry + C_NAME, name.as_bytes());
        r.u64_at(entry + C_EVENTS).store(0, Ordering::Relaxed);
        r.u64_at(entry + C_BATCHES).store(0, Ordering::Relaxed);
        // LMAX's join: at the cursor before gating, SeqCst, at the cursor again (see
        // `SharedRing::gating_minimum`, the producers' half). A producer that missed this entry
        // claimed nothing past the first cursor + buffer size... and this consumer starts after
        // the second read, which is at least what any such producer saw.
        let sequence = r.i64_at(entry + C_SEQUENCE);
        sequence.store(ring.cursor(), Ordering::Release);
        fence(Ordering::SeqCst);
        let start = ring.cursor();
        sequence.store(start, Ordering::Release);
        // A producer may sleep on a stale sequence this entry held from its last owner.
        ring.room_wake().wake_now();
        Ok(SharedConsumer {
            ring,
            entry,
            next: start + 1,
            abandoned_seen: 0,
            abandoned_until: -1,
            stuck_since: None,
            frame_stuck_since: None,
            found: start,
        })
    }

    /// Takes over the entry of a consumer named `name` whose process died, if one is still in
    /// the table (a producer short of room has not reaped it yet): one compare-and-exchange of
    /// its owner word, from the dead process to this one, so a reaper or another resumer
    /// cannot take it too. The entry never stopped gating, so the consumer goes on right after
    /// the last batch the dead one committed: nothing published since is lost, and the batch
    /// it died handling comes again. `None` when there is no such entry.
    pub(crate) fn resume(ring: Arc<SharedRing>, name: &str) -> Result<Option<SharedConsumer>> {
        if name.len() > MAX_CONSUMER_NAME {
            return Err(Error::InvalidName {
                reason: format!("a consumer name may hold at most {MAX_CONSUMER_NAME} bytes"),
            });
        }
        let r = &ring.region;
        let me = super::ProcessId::current().word();
        for i in 0..r.geometry.max_consumers {
            let entry = r.consumer(i, C_OWNER);
            let Some(owner) = ring.owner_of(entry) else { continue };
            let len = r.u32_at(entry + C_NAME_LEN).load(Ordering::Relaxed) as usize;
            if len != name.len()
                || r.read_bytes(entry + C_NAME, len) != name.as_bytes()
                || ring.is_alive(owner)
            {
                continue;
            }
            // AcqRel: takes the entry after the dead owner's last writes (its sequence).
            if r.u64_at(entry)
                .compare_exchange(owner.word(), me, Ordering::AcqRel, Ordering::Relaxed)
                .is_ok()
            {
                let at = r.i64_at(entry + C_SEQUENCE).load(Ordering::Acquire);
                if ring.cursor() - at > ring.buffer_size() as i64 {
                    // Not a consumer that gated until it died: one that died registering,
                    // whose entry still holds an old owner's sequence (more than a lap behind,
                    // so producers may have overwritten what follows it). Not resumable.
                    // Release: as `Drop`.
                    r.u64_at(entry).store(0, Ordering::Release);
                    ring.room_wake().wake_now();
                    continue;
                }
                return Ok(Some(SharedConsumer {
                    ring,
                    entry,
                    next: at + 1,
                    abandoned_seen: 0,
                    abandoned_until: -1,
                    stuck_since: None,
                    frame_stuck_since: None,
                    found: at,
                }));
            }
        }
        Ok(None)
    }

    /// The last sequence this consumer finished (it receives `sequence() + 1` next).
    ///
    /// ```
    /// use disruptor_core::shm::{SharedRing, SharedRingOptions};
    /// # std::env::set_var("NAPI_DISRUPTOR_SHM_DIR", std::env::temp_dir());
    /// let ring = SharedRing::create(&format!("doc-seq-{}", std::process::id()),
    ///                               &SharedRingOptions::new(8, 8)).unwrap();
    /// assert_eq!(ring.consumer("c").unwrap().sequence(), -1);
    /// # ring.remove().unwrap();
    /// ```
    pub fn sequence(&self) -> i64 {
        self.next - 1
    }

    /// The highest sequence such that everything from [`sequence`](SharedConsumer::sequence)
    /// `+ 1` up to it is published (or abandoned); `sequence()` when nothing is. Slots up to it
    /// are visible (**Acquire**).
    ///
    /// ```
    /// use disruptor_core::shm::{SharedRing, SharedRingOptions};
    /// # std::env::set_var("NAPI_DISRUPTOR_SHM_DIR", std::env::temp_dir());
    /// let ring = SharedRing::create(&format!("doc-av-{}", std::process::id()),
    ///                               &SharedRingOptions::new(8, 8)).unwrap();
    /// let mut c = ring.consumer("c").unwrap();
    /// let mut p = ring.producer().unwrap();
    /// p.next(2).unwrap();
    /// assert_eq!(c.available(), -1); // claimed, not published
    /// p.publish().unwrap();
    /// assert_eq!(c.available(), 1);
    /// # ring.remove().unwrap();
    /// ```
    ///
    /// A consumer that only polls (never [`wait`](SharedConsumer::wait)s) still gets past a dead
    /// producer's claim: when polls have found nothing for [`LIVENESS_INTERVAL`] and `next` is
    /// claimed, this looks for dead producers as a wait would (so within two intervals of the
    /// death).
    pub fn available(&mut self) -> i64 {
        let hi = self.ring.available_from(self.next);
        self.found = hi;
        // A single producer's claims are never visible, so never stuck: nothing to look for.
        if hi < self.next && !self.ring.single {
            self.check_stuck();
        } else {
            self.stuck_since = None;
        }
        hi
    }

    /// [`check_stuck`](Self::check_stuck) for `poll_messages`: a frame whose first slot is
    /// published and last ones are not, each [`LIVENESS_INTERVAL`] of that, runs
    /// [`SharedRing::recover_dead_producers`] (a writer that died between its flags).
    pub(super) fn stuck_on_frame(&mut self) {
        let now = Instant::now();
        match self.frame_stuck_since {
            None => self.frame_stuck_since = Some(now),
            Some(since) if now.duration_since(since) >= LIVENESS_INTERVAL => {
                self.ring.recover_dead_producers();
                self.frame_stuck_since = Some(now);
            }
            Some(_) => {}
        }
    }

    /// Notes how long polls have found nothing; each [`LIVENESS_INTERVAL`] of that, if `next`
    /// is claimed by then, runs [`SharedRing::recover_dead_producers`]. The cursor is read only
    /// then, not on every empty poll: its line is the one every claim's CAS writes, and a poll
    /// loop that read it made each claim of a producer in another process fetch it back.
    fn check_stuck(&mut self) {
        let now = Instant::now();
        match self.stuck_since {
            None => self.stuck_since = Some(now),
            Some(since) if now.duration_since(since) >= LIVENESS_INTERVAL => {
                if self.ring.cursor() >= self.next {
                    self.ring.recover_dead_producers();
                }
                self.stuck_since = Some(now);
            }
            Some(_) => {}
        }
    }

    /// Receives what is published now, as one batch: `handler(sequence, slot)` for each
    /// sequence in order, skipping abandoned ones; then the consumer's sequence moves past the
    /// batch (freeing its slots for producers). Returns the batch's `[lo, hi]` (abandoned
    /// sequences included), or `None` when nothing was published.
    ///
    /// The slot slice is valid only during the call; a producer may reuse it afterwards.
    pub fn poll(&mut self, mut handler: impl FnMut(i64, &[u8])) -> Result<Option<(i64, i64)>> {
        let hi = self.available();
        let lo = self.next;
        if hi < lo {
            return Ok(None);
        }
        let check_to = self.marks_to_check(hi);
        let r = &self.ring.region;
        let mut delivered = 0u64;
        for sequence in lo..=hi {
            if sequence <= check_to && r.mark(sequence).load(Ordering::Relaxed) == sequence + 1 {
                continue;
            }
            // SAFETY: inside the mapping; published and not yet released by this consumer, so
            // no producer that follows the protocol writes it during the call.
            let slot =
                unsafe { std::slice::from_raw_parts(r.slot_ptr(sequence), self.ring.slot_size()) };
            handler(sequence, slot);
            delivered += 1;
        }
        self.advance(hi, delivered);
        Ok(Some((lo, hi)))
    }

    /// Moves past a handled batch ending at `hi`, of which `events` were delivered: the
    /// sequence (Release: the batch's reads happen-before a producer reuses its slots), the
    /// statistics (Relaxed), and a wake for producers waiting for room.
    pub(super) fn advance(&mut self, hi: i64, events: u64) {
        let r = &self.ring.region;
        r.i64_at(self.entry + C_SEQUENCE).store(hi, Ordering::Release);
        r.u64_at(self.entry + C_EVENTS).fetch_add(events, Ordering::Relaxed);
        r.u64_at(self.entry + C_BATCHES).fetch_add(1, Ordering::Relaxed);
        self.next = hi + 1;
        self.ring.room_wake().wake();
    }

    /// The abandoned sequences of `[lo, hi]`, a range [`available`](SharedConsumer::available)
    /// returned: those a consumer that handles the range itself must skip. Empty, after one
    /// load, unless the ring ever abandoned anything.
    ///
    /// ```
    /// use disruptor_core::shm::{SharedRing, SharedRingOptions};
    /// # std::env::set_var("NAPI_DISRUPTOR_SHM_DIR", std::env::temp_dir());
    /// let ring = SharedRing::create(&format!("doc-ai-{}", std::process::id()),
    ///                               &SharedRingOptions::new(8, 8)).unwrap();
    /// let mut c = ring.consumer("c").unwrap();
    /// let mut p = ring.producer().unwrap();
    /// p.next(1).unwrap();
    /// p.abandon();
    /// p.next(1).unwrap();
    /// p.publish().unwrap();
    /// let hi = c.available();
    /// assert_eq!(c.abandoned_in(0, hi), [0]);
    /// c.commit(1).unwrap();
    /// assert_eq!(c.sequence(), 1);
    /// # ring.remove().unwrap();
    /// ```
    pub fn abandoned_in(&mut self, lo: i64, hi: i64) -> Vec<i64> {
        let to = self.marks_to_check(hi);
        let r = &self.ring.region;
        (lo..=to).filter(|&s| r.mark(s).load(Ordering::Relaxed) == s + 1).collect()
    }

    /// How many sequences of `[lo, hi]` (available) were abandoned; usually one load.
    ///
    /// ```
    /// use disruptor_core::shm::{SharedRing, SharedRingOptions};
    /// # std::env::set_var("NAPI_DISRUPTOR_SHM_DIR", std::env::temp_dir());
    /// let ring = SharedRing::create(&format!("doc-ac-{}", std::process::id()),
    ///                               &SharedRingOptions::new(8, 8)).unwrap();
    /// let mut c = ring.consumer("c").unwrap();
    /// let mut p = ring.producer().unwrap();
    /// p.next(3).unwrap();
    /// p.abandon();
    /// let hi = c.available();
    /// assert_eq!(c.abandoned_count(0, hi), 3);
    /// # ring.remove().unwrap();
    /// ```
    pub fn abandoned_count(&mut self, lo: i64, hi: i64) -> usize {
        let to = self.marks_to_check(hi);
        let r = &self.ring.region;
        (lo..=to).filter(|&s| r.mark(s).load(Ordering::Relaxed) == s + 1).count()
    }

    /// The last sequence of a batch ending at `hi` whose mark may say "abandoned": below the
    /// cursor as it was when the abandoned count last changed. Acquire on the count: an
    /// abandon increments it (Release) after its claim moved the cursor past what it
    /// abandons, so the cursor read after covers every abandon counted.
    pub(super) fn marks_to_check(&mut self, hi: i64) -> i64 {
        let count = self.ring.region.u64_at(ABANDONED_AT).load(Ordering::Acquire);
        if count != self.abandoned_seen {
            self.abandoned_seen = count;
            self.abandoned_until = self.ring.cursor();
        }
        hi.min(self.abandoned_until)
    }

    /// Marks everything up to `hi` handled (for a consumer that reads the slots itself after
    /// [`available`](SharedConsumer::available)): producers may reuse those slots. `hi` must
    /// be between [`sequence`](SharedConsumer::sequence) and what is available, else
    /// `ERR_INVALID_ARG_VALUE` and nothing changes.
    pub fn commit(&mut self, hi: i64) -> Result<()> {
        // Against what `available` last found (availability never shrinks): no second scan
        // of the batch's flags.
        if hi < self.next - 1 || hi > self.found {
            return Err(Error::InvalidRange { lo: self.next, hi });
        }
        if hi >= self.next {
            let events = (hi - self.next + 1) as u64 - self.abandoned_count(self.next, hi) as u64;
            self.advance(hi, events);
        }
        Ok(())
    }

    /// Waits until [`poll`](SharedConsumer::poll) has something (`Ok`), intake is closed and
    /// everything claimed was received (`ERR_DISRUPTOR_CLOSED`), or `limit` passed
    /// (`ERR_DISRUPTOR_TIMEOUT`); see [`SharedRing::wait_for`].
    pub fn wait(&self, limit: Option<Duration>) -> Result<()> {
        self.ring.wait_for(self.next, limit.map(|l| Instant::now() + l))
    }
}

impl Drop for SharedConsumer {
    fn drop(&mut self) {
        // Release: the entry's last writes happen-before its next owner's CAS.
        self.ring.region.u64_at(self.entry + C_OWNER).store(0, Ordering::Release);
        self.ring.room_wake().wake_now();
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::Ordering;

    use super::super::test_ring::{dead, test_ring};
    use super::super::SharedRingOptions;

    #[test]
    fn a_dead_consumers_entry_is_resumed_where_it_stopped_once() {
        let ring = test_ring("resume", &SharedRingOptions::new(8, 8));
        let r = &ring.0;
        let mut p = r.producer().unwrap();
        let mut c = r.consumer("audit").unwrap();
        let _alive = r.consumer("audit").unwrap(); // same name, live: never taken over
        p.next(3).unwrap();
        p.publish().unwrap();
        assert_eq!(c.poll(|_, _| {}).unwrap(), Some((0, 2)));
        p.next(3).unwrap();
        p.publish().unwrap();
        // Its process dies having committed up to 2: the entry (its sequence kept) with a
        // dead owner, as a SIGKILL leaves it.
        let entry = c.entry;
        drop(c);
        r.region.u64_at(entry).store(dead().word(), Ordering::SeqCst);
        let (mut again, resumed) = r.resume_consumer("audit").unwrap();
        assert!(resumed);
        assert_eq!(again.sequence(), 2);
        assert_eq!(again.poll(|_, _| {}).unwrap(), Some((3, 5)));
        assert_eq!(r.stats().consumers.iter().filter(|c| c.alive).count(), 2);
        // Nobody dead of that name is left: a new consumer at the cursor.
        let (fresh, resumed) = r.resume_consumer("audit").unwrap();
        assert!(!resumed);
        assert_eq!(fresh.sequence(), 5);
        // A dead one that was reaped meanwhile is gone for good.
        let entry = again.entry;
        drop(again);
        r.region.u64_at(entry).store(dead().word(), Ordering::SeqCst);
        assert_eq!(r.reap_dead_consumers(), 1);
        assert!(!r.resume_consumer("audit").unwrap().1);
    }

    #[test]
    fn an_entry_whose_process_died_registering_is_not_resumed() {
        let ring = test_ring("resume-stale", &SharedRingOptions::new(4, 8));
        let r = &ring.0;
        let c = r.consumer("audit").unwrap(); // at -1
        let entry = c.entry;
        drop(c); // the name and sequence stay in the freed entry
        let mut p = r.producer().unwrap();
        for _ in 0..3 {
            p.next(4).unwrap();
            p.publish().unwrap();
        }
        // A process took the entry and died before writing its name and sequence: the old
        // "audit" at -1, more than a lap behind the cursor (11).
        r.region.u64_at(entry).store(dead().word(), Ordering::SeqCst);
        let (c, resumed) = r.resume_consumer("audit").unwrap();
        assert!(!resumed);
        assert_eq!(c.sequence(), 11);
    }
}
