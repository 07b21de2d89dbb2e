//! Waiting on a shared ring: consumers for events, producers for room. Each spins briefly,
//! then sleeps on the ring's futex words in slices of [`LIVENESS_INTERVAL`], checking between
//! slices for the dead process it may be waiting on. Both are ring-level (they take positions,
//! not handles) so that a binding can run them on another thread than the handle's.

use std::sync::atomic::{fence, Ordering};
use std::time::{Duration, Instant};

use super::futex::WakeWord;
use super::layout::stamp;
use super::{SharedRing, LIVENESS_INTERVAL};
use crate::error::{Error, Result};

/// The longest sleep when the sleeper's global barrier failed (see [`WakeWord::prepare`]).
const UNTRUSTED_SLICE: Duration = Duration::from_millis(1);

/// Spins, then yields, for up to 200 checks of `ready`: most waits end here, without a
/// system call.
fn spin_until(mut ready: impl FnMut() -> bool) -> bool {
    for spin in 0..200 {
        if ready() {
            return true;
        }
        if spin < 100 {
            std::hint::spin_loop();
        } else {
            std::thread::yield_now();
        }
    }
    false
}

/// Sleeps on `wake` until `check` says done (`Some`), a slice at a time; `between` runs after
/// a slice at most once per [`LIVENESS_INTERVAL`] (liveness checks read `/proc`).
/// `Err(Timeout)` once `deadline` passed. `flagged`: the waker learns of this sleeper from
/// what `check` writes ([`WakeWord::prepare_flagged`]).
fn sleep_until<T>(
    wake: WakeWord<'_>,
    deadline: Option<Instant>,
    flagged: bool,
    mut check: impl FnMut() -> Option<Result<T>>,
    mut between: impl FnMut(),
) -> Result<T> {
    let mut looked = Instant::now();
    loop {
        let (seen, trusted, registration) =
            if flagged { wake.prepare_flagged() } else { wake.prepare() };
        if let Some(done) = check() {
            wake.finish(registration);
            return done;
        }
        let slice = match deadline {
            Some(d) => {
                let left = d.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    wake.finish(registration);
                    return Err(Error::Timeout);
                }
                left.min(LIVENESS_INTERVAL)
            }
            None => LIVENESS_INTERVAL,
        };
        // Without the handshake a wake may be missed: a short slice bounds what that costs.
        let slice = if trusted { slice } else { slice.min(UNTRUSTED_SLICE) };
        wake.sleep(seen, slice);
        wake.finish(registration);
        if looked.elapsed() >= LIVENESS_INTERVAL {
            // Sleepers of this word that died asleep: their counts back.
            wake.reap_dead();
            between();
            looked = Instant::now();
        }
    }
}

impl SharedRing {
    /// The highest sequence such that every sequence from `next` up to it is published (or
    /// abandoned); `next - 1` when `next` is not. Relaxed loads per flag, then one Acquire
    /// fence for the batch (disruptor-rs' pattern): the slots up to the result are visible.
    ///
    /// The flags alone bound the scan (a slot's flag holds the lap stamp of the last sequence
    /// published in it, so within one lap of `next` a match means this lap's sequence); the
    /// cursor is not read: its line is the one every claim's CAS writes, and a consumer that
    /// read it on each poll made each claim of a producer in another process fetch it back.
    pub(crate) fn available_from(&self, next: i64) -> i64 {
        let limit = next + self.buffer_size() as i64 - 1;
        if self.single {
            // The published cursor (Acquire): one line, no flags.
            return self.split_cursor().0.min(limit).max(next - 1);
        }
        let r = &self.region;
        let mut hi = next;
        while hi <= limit && r.flag(hi).load(Ordering::Relaxed) == stamp(hi, self.shift) {
            hi += 1;
        }
        if hi > next {
            fence(Ordering::Acquire);
        }
        hi - 1
    }

    /// Waits until sequence `next` is published (`Ok`), intake is closed and nothing was
    /// claimed from `next` on (`ERR_DISRUPTOR_CLOSED`: a consumer at `next` is drained), or
    /// `deadline` passed (`ERR_DISRUPTOR_TIMEOUT`). While `next` is claimed but unpublished it
    /// abandons the claims of producers found dead (see
    /// [`recover_dead_producers`](SharedRing::recover_dead_producers)).
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// use disruptor_core::shm::{SharedRing, SharedRingOptions};
    /// # std::env::set_var("NAPI_DISRUPTOR_SHM_DIR", std::env::temp_dir());
    /// let ring = SharedRing::create(&format!("doc-wf-{}", std::process::id()),
    ///                               &SharedRingOptions::new(8, 8)).unwrap();
    /// let soon = Some(Instant::now() + Duration::from_millis(5));
    /// assert_eq!(ring.wait_for(0, soon).unwrap_err().code(), "ERR_DISRUPTOR_TIMEOUT");
    /// ring.close_intake();
    /// assert_eq!(ring.wait_for(0, None).unwrap_err().code(), "ERR_DISRUPTOR_CLOSED");
    /// # ring.remove().unwrap();
    /// ```
    pub fn wait_for(&self, next: i64, deadline: Option<Instant>) -> Result<()> {
        if spin_until(|| self.available_from(next) >= next) {
            return Ok(());
        }
        sleep_until(
            self.publish_wake(),
            deadline,
            self.single,
            || {
                // A single producer wakes the word only when asked to (the `single` module).
                let published = if self.single {
                    self.flag_waiting(next)
                } else {
                    self.available_from(next) >= next
                };
                if published {
                    Some(Ok(()))
                } else if self.is_drained(next) {
                    Some(Err(Error::Closed))
                } else {
                    None
                }
            },
            || {
                if self.cursor() >= next {
                    // Claimed, not yet published: perhaps by a process that died.
                    self.recover_dead_producers();
                }
            },
        )
    }

    /// Waits until a claim of `n` slots would find room (`Ok`; another producer may take it
    /// first), intake is closed (`Ok`: the claim then fails with `ERR_DISRUPTOR_CLOSED`), or
    /// `deadline` passed (`ERR_DISRUPTOR_TIMEOUT`). Reaps consumers of dead processes that hold
    /// the room.
    ///
    /// ```
    /// use disruptor_core::shm::{SharedRing, SharedRingOptions};
    /// # std::env::set_var("NAPI_DISRUPTOR_SHM_DIR", std::env::temp_dir());
    /// let ring = SharedRing::create(&format!("doc-wr-{}", std::process::id()),
    ///                               &SharedRingOptions::new(8, 8)).unwrap();
    /// assert!(ring.wait_for_room(8, None).is_ok());
    /// # ring.remove().unwrap();
    /// ```
    pub fn wait_for_room(&self, n: i64, deadline: Option<Instant>) -> Result<()> {
        let size = self.buffer_size() as i64;
        let has_room = || {
            let current = self.cursor();
            self.is_closed() || self.gating_minimum(current) >= current + n - size
        };
        if spin_until(has_room) {
            return Ok(());
        }
        sleep_until(
            self.room_wake(),
            deadline,
            false,
            || has_room().then_some(Ok(())),
            || {
                self.reap_dead_consumers();
            },
        )
    }
}
