//! Single-producer rings: the published cursor in two words of the file, and the producer's
//! claim word.
//!
//! A ring created with [`SharedRingOptions::single_producer`](super::SharedRingOptions) has
//! one producer entry, and its claims are that producer's own until it publishes them: no
//! compare-and-exchange, no availability flags, nothing for consumers to skip when it dies.
//! What it writes, per claim and per publish:
//!
//! - **claim** of `[published + 1, hi]`: its entry's claim word takes `hi`'s low 31 bits
//!   (a SeqCst swap), then it loads the closed flag (SeqCst) and, if closed, puts the word
//!   back and refuses. A consumer that finds intake closed reads the claim word (SeqCst),
//!   then the cursor: either it sees the claim open (and waits for it), or the producer sees
//!   the ring closed (and publishes nothing more). See [`SharedRing::is_drained`].
//!   A producer may also *reserve*: swap in an end beyond its claim and make the claims up to
//!   it with only the load of the closed flag (the JavaScript producer does, for a run of
//!   claims in one turn of its event loop). Consumers wait while the word differs from the
//!   cursor, so whatever it publishes meanwhile is drained; it puts the word back to the
//!   cursor when the run ends, when a claim finds the ring closed, or when a publish's swap
//!   returns the flag that `close_intake` sets in the low word.
//! - **publish** of `hi`: the cursor, as [`crate::SplitCursor`] keeps it: the epoch (the i64 at
//!   the multi-producer cursor's offset) when `hi` is 2^29 past it, then a swap of the low word
//!   (`hi`'s low 31 bits; its bit 31 is a consumer's request for a wake-up, which the swap
//!   returns). Slots up to `hi` are visible to a reader that acquires it. The claim word then
//!   equals the low word: no claim is open.
//!
//! Two 32-bit swaps an event, for a producer in JavaScript no BigInt and no native call.

use std::sync::atomic::Ordering;

use super::layout::{CLOSED_AT, CURSOR_AT, LOW_AT, PRODUCER_ENTRY, P_CLAIM, P_OWNER};
use super::SharedRing;
use crate::SplitCursor;

/// Byte offsets, from [`SharedRing::control_base`], of the words a single-producer ring's
/// producer writes itself when it is not this crate's [`SharedProducer`](super::SharedProducer)
/// (a JavaScript producer, through a binding that registered one): the protocol is the
/// `single` module's, word for word.
///
/// ```
/// # std::env::set_var("NAPI_DISRUPTOR_SHM_DIR", std::env::temp_dir());
/// use disruptor_core::shm::{SharedRing, SharedRingOptions};
/// let mut o = SharedRingOptions::new(8, 8);
/// o.single_producer = true;
/// let r = SharedRing::create(&format!("doc-words-{}", std::process::id()), &o).unwrap();
/// let w = r.single_producer_words().unwrap();
/// assert!(w.claim + 4 <= r.control_len());
/// # r.remove().unwrap();
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SingleProducerWords {
    /// The cursor's epoch, i64 (stored when a publish is 2^29 past it, before the low word).
    pub epoch: usize,
    /// The cursor's low word, i32: swapped on every publish; a negative old value asks for
    /// [`SharedRing::wake_consumers`].
    pub low: usize,
    /// Intake closed, i32 (non-zero: closed), loaded after each claim's swap.
    pub closed: usize,
    /// The producer's claim word, i32: swapped on every claim (and back on a refused or
    /// abandoned one).
    pub claim: usize,
}

impl SharedRing {
    /// The offsets of a single-producer ring's producer words (`None` for a multi-producer
    /// ring).
    pub fn single_producer_words(&self) -> Option<SingleProducerWords> {
        self.single.then(|| SingleProducerWords {
            epoch: CURSOR_AT,
            low: LOW_AT,
            closed: CLOSED_AT,
            claim: self.region.producer(0, P_CLAIM),
        })
    }

    /// Bytes from [`control_base`](SharedRing::control_base) that hold the header and the
    /// producer table.
    ///
    /// ```
    /// # std::env::set_var("NAPI_DISRUPTOR_SHM_DIR", std::env::temp_dir());
    /// use disruptor_core::shm::{SharedRing, SharedRingOptions};
    /// let r = SharedRing::create(&format!("doc-cl-{}", std::process::id()),
    ///                            &SharedRingOptions::new(8, 8)).unwrap();
    /// assert_eq!(r.control_len(), 4096 + 16 * 128);
    /// # r.remove().unwrap();
    /// ```
    pub fn control_len(&self) -> usize {
        self.region.producer(self.region.geometry.max_producers - 1, PRODUCER_ENTRY)
    }

    /// The mapping's first byte: the header, then the producer table
    /// ([`control_len`](SharedRing::control_len) bytes in all), for a binding whose producer
    /// writes the [`SingleProducerWords`] itself.
    ///
    /// # Safety
    /// Only the words [`single_producer_words`](SharedRing::single_producer_words) names may
    /// be accessed, atomically, by the producer registered through this ring (a
    /// [`SharedProducer`](super::SharedProducer) it holds), following the `single` module's
    /// protocol; never after the last `Arc` of this ring drops.
    ///
    /// ```
    /// # std::env::set_var("NAPI_DISRUPTOR_SHM_DIR", std::env::temp_dir());
    /// use disruptor_core::shm::{SharedRing, SharedRingOptions};
    /// let r = SharedRing::create(&format!("doc-cb-{}", std::process::id()),
    ///                            &SharedRingOptions::new(8, 8)).unwrap();
    /// // SAFETY: only compared, never dereferenced.
    /// assert_eq!(unsafe { r.control_base() } as usize % 4096, 0);
    /// # r.remove().unwrap();
    /// ```
    pub unsafe fn control_base(&self) -> *mut u8 {
        self.region.base()
    }

    /// The lowest sequence a consumer holds, at most `published`: a producer that claims by
    /// itself may claim up to it plus the buffer size. SeqCst, as every gating scan (the join
    /// handshake with a consumer that registers meanwhile).
    ///
    /// ```
    /// # std::env::set_var("NAPI_DISRUPTOR_SHM_DIR", std::env::temp_dir());
    /// use disruptor_core::shm::{SharedRing, SharedRingOptions};
    /// let r = SharedRing::create(&format!("doc-gm-{}", std::process::id()),
    ///                            &SharedRingOptions::new(8, 8)).unwrap();
    /// let _c = r.consumer("c").unwrap();
    /// assert_eq!(r.gating_bound(5), -1);
    /// # r.remove().unwrap();
    /// ```
    pub fn gating_bound(&self, published: i64) -> i64 {
        self.gating_minimum(published)
    }

    /// Wakes every consumer that sleeps waiting for events (a system call; what a publish
    /// does when its swap of the low word returned a negative value).
    ///
    /// ```
    /// # std::env::set_var("NAPI_DISRUPTOR_SHM_DIR", std::env::temp_dir());
    /// use disruptor_core::shm::{SharedRing, SharedRingOptions};
    /// let r = SharedRing::create(&format!("doc-wc-{}", std::process::id()),
    ///                            &SharedRingOptions::new(8, 8)).unwrap();
    /// r.wake_consumers(); // nobody sleeps: nothing happens
    /// # r.remove().unwrap();
    /// ```
    pub fn wake_consumers(&self) {
        self.publish_wake().wake_now();
    }

    /// The published cursor of a single-producer ring, and the low word as read (its
    /// [`SplitCursor::WAITING`] bit included). **Acquire**: slots up to it are visible.
    pub(crate) fn split_cursor(&self) -> (i64, i32) {
        let epoch = self.region.i64_at(CURSOR_AT);
        SplitCursor::read_words(
            |acquire| epoch.load(if acquire { Ordering::Acquire } else { Ordering::Relaxed }),
            self.region.i32_at(LOW_AT),
        )
    }

    /// The writer's publish of `hi` (single producer; `epoch` is the epoch it last stored).
    /// True when a waiter asked for a wake-up (the caller then wakes the publish word).
    pub(crate) fn publish_split(&self, epoch: &mut i64, hi: i64) -> bool {
        let r = &self.region;
        if hi - *epoch >= SplitCursor::EPOCH_SPAN {
            *epoch = hi;
            // Release: before the low word that needs it (SplitCursor's writer rule).
            r.i64_at(CURSOR_AT).store(hi, Ordering::Release);
        }
        // SeqCst swap (AcqRel would do for the slots and the waiter's flag; SeqCst orders it
        // with the claim word's swap for `is_drained`'s argument).
        r.i32_at(LOW_AT).swap(SplitCursor::low_bits(hi), Ordering::SeqCst) < 0
    }

    /// A waiter's request that the next publish wake the publish word: sets
    /// [`SplitCursor::WAITING`] in the low word unless `next` is published. True when it is
    /// (nothing to wait for). The caller registered as a sleeper first (`WakeWord::prepare`).
    pub(crate) fn flag_waiting(&self, next: i64) -> bool {
        // SplitCursor's own request (AcqRel: the writer's swap reads the flag or a later value).
        SplitCursor::get_or_flag_words(|| self.split_cursor(), self.region.i32_at(LOW_AT), next)
            .is_some()
    }

    /// Sets [`SplitCursor::WAITING`] in the low word (a close: see `close_intake`).
    pub(crate) fn flag_low_word(&self) {
        // SeqCst: as `flag_waiting`'s exchange.
        let _ = self.region.i32_at(LOW_AT).fetch_or(SplitCursor::WAITING, Ordering::SeqCst);
    }

    /// Whether the single producer holds a claim it may still publish: its claim word differs
    /// from the low word, and its process runs (a dead one never publishes). SeqCst loads, the
    /// claim word first: see the module docs.
    pub(crate) fn single_claim_open(&self) -> bool {
        let r = &self.region;
        let entry = r.producer(0, P_OWNER);
        let claim = r.i32_at(entry + P_CLAIM).load(Ordering::SeqCst);
        let low = r.i32_at(LOW_AT).load(Ordering::SeqCst) & i32::MAX;
        // The owner after the claim word: a claim swap this load saw came after its producer's
        // owner CAS, so the owner read here is that producer (or a later one), never the dead
        // one it replaced.
        claim != low && self.owner_of(entry).is_some_and(|owner| self.is_alive(owner))
    }

    /// The single producer's claim of everything up to `hi` (see the module docs): false (and
    /// nothing claimed) when intake is closed.
    pub(crate) fn claim_single(&self, entry: usize, hi: i64, published: i64) -> bool {
        let r = &self.region;
        let word = r.i32_at(entry + P_CLAIM);
        // SeqCst: the Dekker pair with a closer's SeqCst store of the flag and a drained
        // check's SeqCst loads.
        word.swap(SplitCursor::low_bits(hi), Ordering::SeqCst);
        if r.u32_at(CLOSED_AT).load(Ordering::SeqCst) != 0 {
            self.drop_single_claim(entry, published);
            return false;
        }
        true
    }

    /// Gives up the single producer's claim: the claim word back to the published cursor, and
    /// a wake for consumers that wait on it (a drained check).
    pub(crate) fn drop_single_claim(&self, entry: usize, published: i64) {
        // SeqCst: as the claim's swap.
        self.region
            .i32_at(entry + P_CLAIM)
            .swap(SplitCursor::low_bits(published), Ordering::SeqCst);
        self.publish_wake().wake_now();
    }
}

#[cfg(test)]
mod tests {
    //! The single-producer protocol on one ring, with threads for the waits and crafted
    //! entries for a dead producer (tests/shm_processes.rs runs it across processes).

    use std::sync::atomic::Ordering;
    use std::time::Duration;

    use super::super::layout::*;
    use super::super::test_ring::{dead, test_ring, TestRing};
    use super::super::{SharedRing, SharedRingOptions};
    use crate::SplitCursor;

    /// A single-producer ring.
    fn ring(test: &str, size: usize) -> TestRing {
        let mut options = SharedRingOptions::new(size, 8);
        options.single_producer = true;
        options.max_producers = 5; // ignored: one
        test_ring(&format!("sp-{test}"), &options)
    }

    #[test]
    fn claims_are_private_until_published_and_one_producer_at_a_time() {
        let ring = ring("private", 8);
        let r = &ring.0;
        assert!(SharedRing::open(r.name()).unwrap().is_single_producer());
        let mut c = r.consumer("c").unwrap();
        let mut p = r.producer().unwrap();
        assert_eq!(r.producer().unwrap_err().code(), "ERR_DISRUPTOR_SINGLE_PRODUCER");
        assert_eq!(p.next(3).unwrap(), 2);
        assert_eq!(r.cursor(), -1, "a claim moves nothing others see");
        assert_eq!(r.stats().producers[0].claim, Some((0, 2)));
        assert_eq!(c.available(), -1);
        p.abandon();
        assert_eq!(r.stats().producers[0].claim, None);
        // The abandoned sequences are claimed again: nothing to skip.
        assert_eq!(p.next(2).unwrap(), 1);
        p.write(0, &7u64.to_le_bytes()).unwrap();
        p.write(1, &8u64.to_le_bytes()).unwrap();
        p.publish().unwrap();
        assert_eq!(r.cursor(), 1);
        let mut seen = Vec::new();
        c.poll(|s, b| seen.push((s, b[0]))).unwrap();
        assert_eq!(seen, [(0, 7), (1, 8)]);
        let stats = r.stats();
        assert_eq!((stats.abandoned, stats.producers[0].published), (0, 2));
        // The next producer (after this one leaves) goes on after what was published.
        drop(p);
        let mut q = r.producer().unwrap();
        assert_eq!(q.next(1).unwrap(), 2);
    }

    #[test]
    fn the_ring_fills_until_consumers_free_it() {
        let ring = ring("full", 4);
        let r = &ring.0;
        let mut c = r.consumer("c").unwrap();
        let mut p = r.producer().unwrap();
        p.next(4).unwrap();
        p.publish().unwrap();
        assert_eq!(p.try_next(1).unwrap_err().code(), "ERR_DISRUPTOR_INSUFFICIENT_CAPACITY");
        c.poll(|_, _| {}).unwrap();
        assert_eq!(p.try_next(4).unwrap(), 7);
    }

    #[test]
    fn a_claim_held_at_close_is_drained_and_no_claim_follows() {
        let ring = ring("close", 8);
        let r = &ring.0;
        let mut c = r.consumer("c").unwrap();
        let mut p = r.producer().unwrap();
        p.next(2).unwrap();
        r.close_intake();
        assert!(!r.is_drained(0), "the open claim may still be published");
        p.publish().unwrap();
        assert!(!r.is_drained(0));
        assert_eq!(c.poll(|_, _| {}).unwrap(), Some((0, 1)));
        assert!(r.is_drained(2));
        assert_eq!(p.next(1).unwrap_err().code(), "ERR_DISRUPTOR_CLOSED");
        assert_eq!(r.stats().producers[0].claim, None, "the refused claim is withdrawn");
    }

    #[test]
    fn a_dead_producers_claim_never_holds_up_the_drain_and_its_entry_is_taken_over() {
        let ring = ring("dead", 8);
        let r = &ring.0;
        let mut p = r.producer().unwrap();
        p.next(1).unwrap();
        p.publish().unwrap();
        drop(p);
        // Its entry as a process that died holding a claim of 2..=3 leaves it:
        let entry = r.region.producer(0, P_OWNER);
        r.region.u64_at(entry).store(dead().word(), Ordering::SeqCst);
        r.region.i32_at(entry + P_CLAIM).store(SplitCursor::low_bits(3), Ordering::SeqCst);
        r.close_intake();
        assert!(r.is_drained(1), "a dead producer publishes nothing more");
        // The table is full, so a new producer reaps the dead one and goes on from 1.
        let stats = r.stats();
        assert_eq!((stats.producers.len(), stats.abandoned), (1, 0));
        assert!(!stats.producers[0].alive);
        let mut q = r.producer().unwrap();
        let stats = r.stats();
        assert_eq!((stats.dead_producers, stats.producers[0].claim), (1, None));
        assert!(stats.producers[0].alive);
        assert_eq!(q.next(1).unwrap_err().code(), "ERR_DISRUPTOR_CLOSED");
    }

    #[test]
    fn a_waiting_consumer_is_woken_by_each_publish() {
        let ring = ring("wake", 8);
        let r = ring.0.clone();
        let mut c = r.consumer("c").unwrap();
        let mut p = r.producer().unwrap();
        const N: i64 = 2000;
        let waiter = std::thread::spawn(move || {
            let (mut next, mut events, mut sum) = (0, 0, 0u64);
            while next < N {
                // No deadline: a lost wake-up would show as a slow test (the slice is 50 ms),
                // never as a hang; what arrived is what the test asserts.
                c.wait(None).unwrap();
                let (_, hi) = c
                    .poll(|_, b| {
                        events += 1;
                        sum += u64::from(b[0]);
                    })
                    .unwrap()
                    .unwrap();
                next = hi + 1;
            }
            (events, sum)
        });
        for i in 0..N {
            let hi = p.next(1).unwrap();
            p.write(hi, &[(i % 256) as u8; 8]).unwrap();
            p.publish().unwrap();
            if i % 100 == 0 {
                std::thread::sleep(Duration::from_micros(200));
            }
        }
        let expected = (0..N).map(|i| (i % 256) as u64).sum();
        assert_eq!(waiter.join().unwrap(), (N, expected));
    }
}
