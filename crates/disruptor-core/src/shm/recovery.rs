//! What happens when a process dies holding part of a shared ring: its consumers stop gating,
//! and the claims it never published are abandoned (published with a mark, never delivered).

use std::sync::atomic::Ordering;

use super::layout::*;
use super::liveness::ProcessId;
use super::SharedRing;

impl SharedRing {
    /// Marks `[lo, hi]` abandoned, then publishes it: consumers move past it without
    /// receiving it. The caller holds the claim (or the recovery lock, for a dead claimant).
    pub(crate) fn abandon_range(&self, lo: i64, hi: i64) {
        let r = &self.region;
        for sequence in lo..=hi {
            // Relaxed: ordered before the flag's Release store below.
            r.mark(sequence).store(stamp(sequence, self.shift), Ordering::Relaxed);
        }
        // Relaxed, but before the flags' Release: a consumer that acquires a flag sees the
        // counter non-zero and checks the marks.
        r.u64_at(ABANDONED_AT).fetch_add((hi - lo + 1) as u64, Ordering::Relaxed);
        for sequence in lo..=hi {
            // Release: the mark happens-before a consumer's Acquire of the flag.
            r.flag(sequence).store(stamp(sequence, self.shift), Ordering::Release);
        }
    }

    /// Frees the consumer entries of processes that died: they stop gating producers. Returns
    /// how many. Lock-free: the owner CAS frees each entry once.
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
            let entry = r.consumer(i, 0);
            let Some(owner) = self.owner_of(entry) else { continue };
            if owner.is_alive() {
                continue;
            }
            // AcqRel: as a drop's Release of the entry; one reaper wins.
            let freed = r.u32_at(entry + C_OWNER).compare_exchange(
                owner.pid,
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
    /// the sequences abandoned. Runs under the ring's recovery lock (one recoverer at a time,
    /// in any process; a dead holder's lock is taken over), and abandons a sequence only if:
    ///
    /// - it is claimed (at most the cursor, read first with Acquire: every claim up to it, and
    ///   the intent its producer recorded before claiming, is visible), within the last lap;
    /// - no live producer's intent covers it (read next, with Acquire);
    /// - its flag is still unpublished (read last: a producer that published it and moved on
    ///   to a new intent did so before that intent, so the flag shows it).
    ///
    /// A dead producer cannot publish any more, so nothing can publish the sequence between
    /// those checks and the abandon.
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
        let r = &self.region;
        let entries: Vec<(usize, ProcessId, bool)> = (0..r.geometry.max_producers)
            .filter_map(|i| {
                let entry = r.producer(i, 0);
                self.owner_of(entry).map(|owner| (entry, owner, owner.is_alive()))
            })
            .collect();
        if entries.iter().all(|&(_, _, alive)| alive) || !self.lock_recovery() {
            return 0;
        }
        let cursor = self.cursor();
        let intent = |entry: usize| {
            let lo = r.i64_at(entry + P_LO).load(Ordering::Acquire);
            let hi = r.i64_at(entry + P_HI).load(Ordering::Acquire);
            (lo, hi)
        };
        let live: Vec<(i64, i64)> =
            entries.iter().filter(|e| e.2).map(|&(entry, _, _)| intent(entry)).collect();
        let mut abandoned = 0;
        let oldest = cursor - self.buffer_size() as i64 + 1;
        for &(entry, owner, _) in entries.iter().filter(|e| !e.2) {
            let (lo, hi) = intent(entry);
            for sequence in lo.max(oldest)..=hi.min(cursor) {
                let covered = live.iter().any(|&(l, h)| (l..=h).contains(&sequence));
                let published =
                    r.flag(sequence).load(Ordering::Acquire) == stamp(sequence, self.shift);
                if !covered && !published {
                    self.abandon_range(sequence, sequence);
                    abandoned += 1;
                }
            }
            r.i64_at(entry + P_LO).store(i64::MAX, Ordering::Release);
            // AcqRel: frees the entry once (a racing reaper of a stolen lock loses).
            let freed = r.u32_at(entry + P_OWNER).compare_exchange(
                owner.pid,
                0,
                Ordering::AcqRel,
                Ordering::Relaxed,
            );
            if freed.is_ok() {
                // Relaxed: a statistic.
                r.u64_at(DEAD_PRODUCERS_AT).fetch_add(1, Ordering::Relaxed);
            }
        }
        self.unlock_recovery();
        if abandoned > 0 {
            self.publish_wake().wake_now();
        }
        abandoned
    }

    /// Takes the recovery lock (its word holds the holder's pid), taking it over from a dead
    /// holder; false if a live process holds it (that one is recovering).
    fn lock_recovery(&self) -> bool {
        let lock = self.region.u32_at(RECOVERY_LOCK_AT);
        let me = std::process::id();
        // Acquire: the last holder's abandons are visible.
        match lock.compare_exchange(0, me, Ordering::Acquire, Ordering::Acquire) {
            Ok(_) => true,
            Err(holder) if holder == me => false,
            Err(holder) => {
                // Pid alone: a holder dies within a few milliseconds of taking the lock or not
                // at all, so pid reuse in between is not a practical concern.
                let dead = !ProcessId { pid: holder, start: 0 }.is_alive();
                dead && lock
                    .compare_exchange(holder, me, Ordering::Acquire, Ordering::Relaxed)
                    .is_ok()
            }
        }
    }

    fn unlock_recovery(&self) {
        // Release: this recovery's abandons happen-before the next holder's.
        self.region.u32_at(RECOVERY_LOCK_AT).store(0, Ordering::Release);
    }
}
