//! What happens when a process dies holding part of a shared ring: its consumers stop gating,
//! and the claims it never published are abandoned (published with a mark, never delivered).

use std::sync::atomic::Ordering;

use super::layout::*;
use super::SharedRing;

/// An owner word no process has: a dead producer's entry while a recoverer works on it (so a
/// second recoverer, or a new producer, cannot take it meanwhile).
const RECOVERING: u64 = u64::MAX;

impl SharedRing {
    /// Marks `[lo, hi]` abandoned, then publishes it: consumers move past it without
    /// receiving it. The caller holds the claim (or the recovery lock, for a dead claimant).
    pub(crate) fn abandon_range(&self, lo: i64, hi: i64) {
        let r = &self.region;
        for sequence in lo..=hi {
            // Relaxed: ordered before the flag's Release store below.
            r.mark(sequence).store(sequence + 1, Ordering::Relaxed);
        }
        // Release, and before the flags' Release: a consumer that acquires a flag sees the
        // counter non-zero, and one that acquires the counter sees the cursor past `hi`.
        r.u64_at(ABANDONED_AT).fetch_add((hi - lo + 1) as u64, Ordering::Release);
        for sequence in lo..=hi {
            // Release: the mark happens-before a consumer's Acquire of the flag.
            r.flag(sequence).store(stamp(sequence, self.shift), Ordering::Release);
        }
    }

    /// Frees the consumer entries of processes that died: they stop gating producers. Returns
    /// how many. Lock-free: one CAS of the owner word (the whole owner, pid and start) frees
    /// each entry once, and never an entry a new process took meanwhile.
    ///
    /// ```
    /// use disruptor_core::shm::{SharedRing, SharedRingOptions};
    /// # std::env::set_var("NAPI_DISRUPTOR_SHM_DIR", std::env::temp_dir());
    /// let ring = SharedRing::create(&format!("doc-reap-{}", std::process::id()),
    ///                               &SharedRingOptions::new(8, 8)).unwrap();
    /// let _c = ring.consumer("alive").unwrap();
    /// assert_eq!(ring.reap_dead_consumers(), 0);
    /// # ring.remove().unwrap();
    /// ```
    pub fn reap_dead_consumers(&self) -> usize {
        let r = &self.region;
        let mut reaped = 0;
        for i in 0..r.geometry.max_consumers {
            let entry = r.consumer(i, C_OWNER);
            let Some(owner) = self.owner_of(entry) else { continue };
            if self.is_alive(owner) {
                continue;
            }
            // AcqRel: as a drop's Release of the entry; one reaper wins.
            let freed = r.u64_at(entry).compare_exchange(
                owner.word(),
                0,
                Ordering::AcqRel,
                Ordering::Relaxed,
            );
            if freed.is_ok() {
                // Relaxed: a statistic.
                r.u64_at(DEAD_CONSUMERS_AT).fetch_add(1, Ordering::Relaxed);
                reaped += 1;
            }
        }
        if reaped > 0 {
            self.room_wake().wake_now();
        }
        reaped
    }

    /// Abandons the claims of producers whose process died and frees their entries. Returns
    /// the sequences abandoned. Under the ring's recovery lock (one recoverer at a time, in any
    /// process), in this order:
    ///
    /// 1. the cursor (Acquire): every claim up to it, and the intent its producer recorded
    ///    before claiming, is visible;
    /// 2. each entry's owner, liveness and intent (Acquire), after the cursor, so a producer
    ///    that claimed up to it is seen; a dead entry is taken (owner CAS to `RECOVERING`)
    ///    before its intent is read, so nobody reuses it meanwhile (one a recoverer that died
    ///    left `RECOVERING` is taken up again);
    /// 3. for each sequence of a dead intent, within the cursor's last lap: abandoned only if
    ///    no live producer's intent covers it and its flag still holds the previous lap (read
    ///    last: a producer that published it and moved on did so before its new intent; a flag
    ///    of a later lap means it was published and passed).
    ///
    /// A dead producer cannot publish any more, so nothing can publish the sequence between
    /// those checks and the abandon. A dead entry is freed only when no sequence of its intent
    /// was left for a live producer's (a producer between writing its intent and losing its
    /// CAS); otherwise it is handed back to its dead owner for the next pass.
    ///
    /// ```
    /// use disruptor_core::shm::{SharedRing, SharedRingOptions};
    /// # std::env::set_var("NAPI_DISRUPTOR_SHM_DIR", std::env::temp_dir());
    /// let ring = SharedRing::create(&format!("doc-rec-{}", std::process::id()),
    ///                               &SharedRingOptions::new(8, 8)).unwrap();
    /// let mut p = ring.producer().unwrap();
    /// p.next(2).unwrap(); // a live claim is never abandoned
    /// assert_eq!(ring.recover_dead_producers(), 0);
    /// # ring.remove().unwrap();
    /// ```
    pub fn recover_dead_producers(&self) -> u64 {
        let Some(_lock) = RecoveryLock::take(self) else { return 0 };
        let r = &self.region;
        let cursor = self.cursor();
        let intent = |entry: usize| {
            let lo = r.i64_at(entry + P_LO).load(Ordering::Acquire);
            let hi = r.i64_at(entry + P_HI).load(Ordering::Acquire);
            (lo, hi)
        };
        let mut live = Vec::new();
        let mut dead = Vec::new();
        for i in 0..r.geometry.max_producers {
            let entry = r.producer(i, P_OWNER);
            let Some(owner) = self.owner_of(entry) else { continue };
            if owner.word() == RECOVERING {
                // Only the lock's holder sets it, and this process holds the lock: the entry
                // of a recoverer that died mid-way (its lock was taken over). Recovered again.
                dead.push((entry, owner));
            } else if self.is_alive(owner) {
                live.push(intent(entry));
            } else if r
                .u64_at(entry)
                .compare_exchange(owner.word(), RECOVERING, Ordering::AcqRel, Ordering::Relaxed)
                .is_ok()
            {
                dead.push((entry, owner));
            }
        }
        let oldest = cursor.saturating_sub(self.buffer_size() as i64 - 1);
        let mut abandoned = 0;
        for (entry, owner) in dead {
            let (lo, hi) = intent(entry);
            let mut settled = true;
            for sequence in lo.max(oldest)..=hi.min(cursor) {
                if live.iter().any(|&(l, h)| (l..=h).contains(&sequence)) {
                    settled = false;
                    continue;
                }
                let flag = r.flag(sequence).load(Ordering::Acquire);
                if flag == stamp(sequence, self.shift).wrapping_sub(1) {
                    self.abandon_range(sequence, sequence);
                    abandoned += 1;
                }
            }
            let after = if settled {
                r.i64_at(entry + P_LO).store(i64::MAX, Ordering::Release);
                // Relaxed: a statistic.
                r.u64_at(DEAD_PRODUCERS_AT).fetch_add(1, Ordering::Relaxed);
                0
            } else {
                owner.word()
            };
            // Release: the abandons and the intent reset happen-before the entry's next owner.
            r.u64_at(entry).store(after, Ordering::Release);
        }
        if abandoned > 0 {
            self.publish_wake().wake_now();
        }
        abandoned
    }
}

/// The ring's recovery lock, held by one recoverer (of any process) at a time: its word is the
/// holder's owner word (pid and start), taken over from a holder that died, released on drop
/// (a panic included).
struct RecoveryLock<'a>(&'a SharedRing);

impl<'a> RecoveryLock<'a> {
    /// The lock, or `None` when a live recoverer (perhaps another thread of this process)
    /// holds it: that one is doing the work.
    fn take(ring: &'a SharedRing) -> Option<RecoveryLock<'a>> {
        let lock = ring.region.u64_at(RECOVERY_LOCK_AT);
        let me = super::ProcessId::current().word();
        // Acquire: the last holder's abandons are visible.
        match lock.compare_exchange(0, me, Ordering::Acquire, Ordering::Acquire) {
            Ok(_) => Some(RecoveryLock(ring)),
            Err(holder) => {
                let alive = super::ProcessId::from_word(holder).is_some_and(|h| ring.is_alive(h));
                let taken = !alive
                    && lock
                        .compare_exchange(holder, me, Ordering::Acquire, Ordering::Relaxed)
                        .is_ok();
                taken.then_some(RecoveryLock(ring))
            }
        }
    }
}

impl Drop for RecoveryLock<'_> {
    fn drop(&mut self) {
        // Release: this recovery's abandons happen-before the next holder's.
        self.0.region.u64_at(RECOVERY_LOCK_AT).store(0, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    //! Recovery against states written straight into the file: the interleavings the process
    //! tests cannot aim at.

    use std::sync::atomic::Ordering;

    use super::super::layout::*;
    use super::super::test_ring::{dead, test_ring, TestRing};
    use super::super::{ProcessId, SharedRing, SharedRingOptions};
    use super::RECOVERING;

    fn ring(test: &str, size: usize) -> TestRing {
        test_ring(test, &SharedRingOptions::new(size, 8))
    }

    /// Makes producer entry `i` look like `owner`'s, holding intent `[lo, hi]`.
    fn entry(ring: &SharedRing, i: usize, owner: ProcessId, lo: i64, hi: i64) -> usize {
        let r = &ring.region;
        let at = r.producer(i, P_OWNER);
        r.u64_at(at).store(owner.word(), Ordering::SeqCst);
        r.i64_at(at + P_HI).store(hi, Ordering::SeqCst);
        r.i64_at(at + P_LO).store(lo, Ordering::SeqCst);
        at
    }

    #[test]
    fn a_dead_claim_waits_while_a_live_intent_covers_it_then_is_abandoned() {
        let ring = ring("stale", 8);
        let r = &ring.0;
        let mut consumer = r.consumer("c").unwrap();
        // The dead producer claimed 0..=1; a live one is between writing [0, 1] and losing its
        // CAS.
        let d = entry(r, 0, dead(), 0, 1);
        let live = entry(r, 1, ProcessId::current(), 0, 1);
        r.region.i64_at(CURSOR_AT).store(1, Ordering::SeqCst);
        assert_eq!(r.recover_dead_producers(), 0);
        assert_ne!(r.region.u64_at(d).load(Ordering::SeqCst), 0, "kept for the next pass");
        assert_eq!(r.stats().dead_producers, 0);
        // The live producer withdrew its intent (its CAS failed).
        r.region.i64_at(live + P_LO).store(i64::MAX, Ordering::SeqCst);
        assert_eq!(r.recover_dead_producers(), 2);
        assert_eq!(r.region.u64_at(d).load(Ordering::SeqCst), 0, "freed");
        let mut delivered = 0;
        assert_eq!(consumer.poll(|_, _| delivered += 1).unwrap(), Some((0, 1)));
        assert_eq!((delivered, r.stats().dead_producers, r.stats().abandoned), (0, 1, 2));
        r.region.u64_at(live).store(0, Ordering::SeqCst);
    }

    #[test]
    fn a_flag_of_a_later_lap_is_never_overwritten() {
        let ring = ring("lap", 4);
        let r = &ring.0;
        // A dead producer's intent [0, 0]; sequence 4 (the same slot) was published since.
        entry(r, 0, dead(), 0, 0);
        r.region.i64_at(CURSOR_AT).store(4, Ordering::SeqCst);
        r.region.flag(4).store(stamp(4, r.shift), Ordering::SeqCst);
        assert_eq!(r.recover_dead_producers(), 0);
        assert_eq!(r.region.flag(4).load(Ordering::SeqCst), stamp(4, r.shift));
        assert_eq!(r.stats().dead_producers, 1);
    }

    #[test]
    fn an_abandoned_mark_never_matches_a_later_lap() {
        let ring = ring("mark", 2);
        let r = &ring.0;
        let mut consumer = r.consumer("c").unwrap();
        let mut p = r.producer().unwrap();
        p.next(1).unwrap();
        p.abandon();
        for _ in 0..5 {
            consumer.poll(|_, _| {}).unwrap();
            p.next(1).unwrap();
            p.publish().unwrap();
        }
        let mut seen = Vec::new();
        consumer.poll(|s, _| seen.push(s)).unwrap();
        assert_eq!(seen, [5]);
        // Sequences 2 and 4 reused the abandoned slot 0 and were delivered: the mark holds
        // the whole sequence 0, which no later lap matches.
        assert_eq!(r.stats().consumers[0].events, 5);
    }

    #[test]
    fn an_entry_a_dead_recoverer_left_half_done_is_recovered_again() {
        let ring = ring("half", 8);
        let r = &ring.0;
        let mut consumer = r.consumer("c").unwrap();
        // A recoverer took this dead entry (owner RECOVERING) and died before abandoning.
        let at = entry(r, 0, dead(), 0, 1);
        r.region.u64_at(at).store(RECOVERING, Ordering::SeqCst);
        r.region.u64_at(RECOVERY_LOCK_AT).store(dead().word(), Ordering::SeqCst);
        r.region.i64_at(CURSOR_AT).store(1, Ordering::SeqCst);
        assert_eq!(r.recover_dead_producers(), 2);
        assert_eq!(r.region.u64_at(at).load(Ordering::SeqCst), 0, "freed");
        assert_eq!(consumer.poll(|_, _| panic!("abandoned")).unwrap(), Some((0, 1)));
    }

    #[test]
    fn a_consumer_that_only_polls_gets_past_a_dead_claim() {
        let ring = ring("poll", 8);
        let r = &ring.0;
        let mut consumer = r.consumer("c").unwrap();
        entry(r, 0, dead(), 0, 0);
        r.region.i64_at(CURSOR_AT).store(0, Ordering::SeqCst);
        // Polls, never waits: after LIVENESS_INTERVAL of finding 0 claimed and unpublished,
        // a poll looks for dead producers.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        let mut got = None;
        while got.is_none() && std::time::Instant::now() < deadline {
            got = consumer.poll(|_, _| panic!("abandoned")).unwrap();
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        assert_eq!(got, Some((0, 0)));
        assert_eq!(r.stats().abandoned, 1);
    }

    #[test]
    fn a_dead_recoverer_s_lock_is_taken_over() {
        let ring = ring("lock", 8);
        let r = &ring.0;
        r.region.u64_at(RECOVERY_LOCK_AT).store(dead().word(), Ordering::SeqCst);
        let mut consumer = r.consumer("c").unwrap();
        entry(r, 0, dead(), 0, 0);
        r.region.i64_at(CURSOR_AT).store(0, Ordering::SeqCst);
        assert_eq!(r.recover_dead_producers(), 1);
        assert_eq!(r.region.u64_at(RECOVERY_LOCK_AT).load(Ordering::SeqCst), 0, "released");
        assert_eq!(consumer.poll(|_, _| panic!("abandoned")).unwrap(), Some((0, 0)));
    }
}
