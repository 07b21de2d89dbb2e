//! Sleeping and waking across processes: a counter word in the shared mapping that sleepers
//! wait on (Linux: a shared futex) and a count of sleepers that wakers check first, so that a
//! publish with nobody asleep costs one load (and a compiler fence where `membarrier` is
//! registered: `crate::asymmetric_fence::global`), never a system call.
//!
//! A process killed while it sleeps never takes its count back, and every publish after would
//! make a needless `FUTEX_WAKE`. So each sleeper also records its process in a table of the
//! file ([`SLEEPER_SLOTS`] entries per word), and whoever finds a recorded process dead (a
//! waiter's liveness pass, or a waker whose `FUTEX_WAKE` woke nobody) takes its count back.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use super::layout::SLEEPER_SLOTS;
use super::{ProcessId, SharedRing, LIVENESS_INTERVAL};
use crate::asymmetric_fence::global;

/// A wake-up channel made of two words of the mapping and a table of sleepers.
pub(crate) struct WakeWord<'a> {
    /// Bumped by every wake: a sleeper sleeps only while it still holds the value it read.
    pub(crate) word: &'a AtomicU32,
    /// How many threads (of any process) are between [`WakeWord::prepare`] and
    /// [`WakeWord::finish`].
    pub(crate) sleepers: &'a AtomicU32,
    /// The ring, and the offset of this word's sleeper table (owner words).
    pub(crate) ring: &'a SharedRing,
    pub(crate) table: usize,
}

/// A sleeper's registration: its table entry, if it got one.
pub(crate) struct Registration(Option<usize>);

impl WakeWord<'_> {
    /// Counts a sleeper, then records its process in a free entry of the table (count first:
    /// a process that dies in between leaves the count too high, never too low).
    fn register(&self, order: Ordering) -> Registration {
        self.sleepers.fetch_add(1, order);
        let me = ProcessId::current().word();
        Registration((0..SLEEPER_SLOTS).map(|i| self.table + 8 * i).find(|&at| {
            // AcqRel: as an entry of the producer and consumer tables.
            self.slot(at).compare_exchange(0, me, Ordering::AcqRel, Ordering::Relaxed).is_ok()
        }))
    }

    fn slot(&self, at: usize) -> &AtomicU64 {
        self.ring.region.u64_at(at)
    }

    /// Takes back the counts of sleepers whose processes died; how many.
    pub(crate) fn reap_dead(&self) -> usize {
        let mut reaped = 0;
        for at in (0..SLEEPER_SLOTS).map(|i| self.table + 8 * i) {
            let Some(owner) = self.ring.owner_of(at) else { continue };
            if self.ring.is_alive(owner)
                || self
                    .slot(at)
                    .compare_exchange(owner.word(), 0, Ordering::AcqRel, Ordering::Relaxed)
                    .is_err()
            {
                continue;
            }
            // Relaxed: a count; never below zero (a recorded sleeper was counted first).
            let _ = self
                .sleepers
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |c| c.checked_sub(1));
            reaped += 1;
        }
        reaped
    }

    /// The sleeper's half, before it checks its condition: registers, then returns the word to
    /// pass to [`WakeWord::sleep`], and whether the handshake holds. The registration, the
    /// heavy fence and the condition check form a Dekker handshake with [`WakeWord::wake`]'s
    /// change, light fence and sleeper check: either the waker sees the sleeper or the
    /// sleeper sees the change. When the heavy fence could not be made (false), a waker may
    /// miss this sleeper: sleep only in short slices then.
    pub(crate) fn prepare(&self) -> (u32, bool, Registration) {
        // SeqCst: a read-modify-write, ordered with the fences of the handshake.
        let registration = self.register(Ordering::SeqCst);
        let trusted = global::heavy();
        // Acquire: a wake's bump orders the change before it.
        (self.word.load(Ordering::Acquire), trusted, registration)
    }

    /// The sleeper's half when its waker learns of it another way (a single producer's
    /// publish swap returns the flag the sleeper set, and closes and withdrawals wake
    /// unconditionally): registers (a count only) and returns the word, with no barrier.
    pub(crate) fn prepare_flagged(&self) -> (u32, bool, Registration) {
        // Relaxed: nobody checks this word's count before waking it.
        let registration = self.register(Ordering::Relaxed);
        // Acquire: as in `prepare`; read before the flag is set, so a publish that clears it
        // bumps the word after this load (its swap reads the flag: the futex sees the change).
        (self.word.load(Ordering::Acquire), true, registration)
    }

    /// Sleeps while the word still holds `seen`, for at most `limit` (the caller re-checks
    /// peers' liveness between sleeps, so no sleep is unbounded).
    pub(crate) fn sleep(&self, seen: u32, limit: Duration) {
        sleep_while(self.word, seen, limit);
    }

    /// Unregisters a sleeper (whether or not it slept): its table entry first, then the count
    /// (a process that dies in between leaves the count too high, never too low).
    pub(crate) fn finish(&self, registration: Registration) {
        if let Some(at) = registration.0 {
            // Release: as a table entry's free.
            self.slot(at).store(0, Ordering::Release);
        }
        // Relaxed: only a count; a stale value costs a waker one needless system call. Never
        // below zero: a reaper that judged this process dead (its main thread gone, the rest
        // running, looks so to /proc) took the count already, and a wrapped count would make
        // every wake a system call.
        let _ =
            self.sleepers.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |c| c.checked_sub(1));
    }

    /// The waker's half, after its change is stored: wakes every sleeper if there is one.
    /// The light fence is the other half of [`WakeWord::prepare`]'s handshake: a full fence
    /// here cost each batch-1 publish across processes about a tenth of its time (it waits
    /// for the flag's store, whose line the consumer's process holds).
    pub(crate) fn wake(&self) {
        global::light();
        // Relaxed: ordered by the fence above (or by the sleepers' global barrier).
        if self.sleepers.load(Ordering::Relaxed) != 0 && self.wake_now() == 0 && audit_due() {
            // Counted sleepers, none woken: perhaps one between its count and its sleep,
            // perhaps one that died asleep. At most once per interval per process, look.
            self.reap_dead();
        }
    }

    /// Wakes every sleeper without the check (close, a peer found dead); how many it woke
    /// (0 where that is not known).
    pub(crate) fn wake_now(&self) -> usize {
        // Release: a sleeper that reads the new value in `prepare` sees the change.
        self.word.fetch_add(1, Ordering::Release);
        wake_all(self.word)
    }
}

/// Whether this process last looked for dead sleepers at least [`LIVENESS_INTERVAL`] ago
/// (and it is now looking).
fn audit_due() -> bool {
    static START: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    static LAST: AtomicU64 = AtomicU64::new(0);
    let now = START.get_or_init(Instant::now).elapsed().as_millis() as u64 + 1;
    // Relaxed: a rate limit; two threads that both look do no harm.
    let last = LAST.load(Ordering::Relaxed);
    now.saturating_sub(last) >= LIVENESS_INTERVAL.as_millis() as u64
        && LAST.compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed).is_ok()
}

#[cfg(target_os = "linux")]
fn sleep_while(word: &AtomicU32, seen: u32, limit: Duration) {
    let timeout = libc::timespec {
        tv_sec: limit.as_secs() as libc::time_t,
        tv_nsec: limit.subsec_nanos() as libc::c_long,
    };
    // SAFETY: `word` is a live, aligned u32 of a MAP_SHARED mapping (a shared futex, so no
    // FUTEX_PRIVATE_FLAG); the kernel only reads it and the timeout. EAGAIN (the word moved),
    // EINTR and ETIMEDOUT all mean "check again", which every caller does.
    unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            libc::FUTEX_WAIT,
            seen,
            &timeout as *const libc::timespec,
            std::ptr::null::<u32>(),
            0u32,
        );
    }
}

#[cfg(target_os = "linux")]
fn wake_all(word: &AtomicU32) -> usize {
    // SAFETY: as in `sleep_while`; FUTEX_WAKE only reads the address.
    let woken = unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            libc::FUTEX_WAKE,
            i32::MAX,
            std::ptr::null::<libc::timespec>(),
            std::ptr::null::<u32>(),
            0u32,
        )
    };
    // The number of waiters woken, or -1 (an error: counted as none).
    usize::try_from(woken).unwrap_or(0)
}

/// Elsewhere (no futex that works across processes without a library of its own): the sleeper
/// polls the word every millisecond, which costs an idle ring ~1000 wake-ups a second (well
/// under 1% of a core) and adds up to a millisecond of latency to a wake.
#[cfg(not(target_os = "linux"))]
fn sleep_while(word: &AtomicU32, seen: u32, limit: Duration) {
    let deadline = std::time::Instant::now() + limit;
    // Relaxed: only a hint to stop sleeping; `prepare` re-reads it with Acquire.
    while word.load(Ordering::Relaxed) == seen && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(1));
    }
}

#[cfg(not(target_os = "linux"))]
fn wake_all(_word: &AtomicU32) -> usize {
    0
}
