//! Sleeping and waking across processes: a counter word in the shared mapping that sleepers
//! wait on (Linux: a shared futex) and a count of sleepers that wakers check first, so that a
//! publish with nobody asleep costs one load (and a compiler fence where `membarrier` is
//! registered: `crate::asymmetric_fence::global`), never a system call.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use crate::asymmetric_fence::global;

/// A wake-up channel made of two words of the mapping.
pub(crate) struct WakeWord<'a> {
    /// Bumped by every wake: a sleeper sleeps only while it still holds the value it read.
    pub(crate) word: &'a AtomicU32,
    /// How many threads (of any process) are between [`WakeWord::prepare`] and
    /// [`WakeWord::finish`].
    pub(crate) sleepers: &'a AtomicU32,
}

impl WakeWord<'_> {
    /// The sleeper's half, before it checks its condition: registers, then returns the word to
    /// pass to [`WakeWord::sleep`], and whether the handshake holds. The registration, the
    /// heavy fence and the condition check form a Dekker handshake with [`WakeWord::wake`]'s
    /// change, light fence and sleeper check: either the waker sees the sleeper or the
    /// sleeper sees the change. When the heavy fence could not be made (false), a waker may
    /// miss this sleeper: sleep only in short slices then.
    pub(crate) fn prepare(&self) -> (u32, bool) {
        // SeqCst: a read-modify-write, ordered with the fences of the handshake.
        self.sleepers.fetch_add(1, Ordering::SeqCst);
        let trusted = global::heavy();
        // Acquire: a wake's bump orders the change before it.
        (self.word.load(Ordering::Acquire), trusted)
    }

    /// The sleeper's half when its waker learns of it another way (a single producer's
    /// publish swap returns the flag the sleeper set, and closes and withdrawals wake
    /// unconditionally): registers (a count only) and returns the word, with no barrier.
    pub(crate) fn prepare_flagged(&self) -> (u32, bool) {
        // Relaxed: nobody checks this word's count before waking it.
        self.sleepers.fetch_add(1, Ordering::Relaxed);
        // Acquire: as in `prepare`; read before the flag is set, so a publish that clears it
        // bumps the word after this load (its swap reads the flag: the futex sees the change).
        (self.word.load(Ordering::Acquire), true)
    }

    /// Sleeps while the word still holds `seen`, for at most `limit` (the caller re-checks
    /// peers' liveness between sleeps, so no sleep is unbounded).
    pub(crate) fn sleep(&self, seen: u32, limit: Duration) {
        sleep_while(self.word, seen, limit);
    }

    /// Unregisters a sleeper (whether or not it slept).
    pub(crate) fn finish(&self) {
        // Relaxed: only a count; a stale value costs a waker one needless system call.
        self.sleepers.fetch_sub(1, Ordering::Relaxed);
    }

    /// The waker's half, after its change is stored: wakes every sleeper if there is one.
    /// The light fence is the other half of [`WakeWord::prepare`]'s handshake: a full fence
    /// here cost each batch-1 publish across processes about a tenth of its time (it waits
    /// for the flag's store, whose line the consumer's process holds).
    pub(crate) fn wake(&self) {
        global::light();
        // Relaxed: ordered by the fence above (or by the sleepers' global barrier).
        if self.sleepers.load(Ordering::Relaxed) != 0 {
            self.wake_now();
        }
    }

    /// Wakes every sleeper without the check (close, a peer found dead).
    pub(crate) fn wake_now(&self) {
        // Release: a sleeper that reads the new value in `prepare` sees the change.
        self.word.fetch_add(1, Ordering::Release);
        wake_all(self.word);
    }
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
fn wake_all(word: &AtomicU32) {
    // SAFETY: as in `sleep_while`; FUTEX_WAKE only reads the address.
    unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            libc::FUTEX_WAKE,
            i32::MAX,
            std::ptr::null::<libc::timespec>(),
            std::ptr::null::<u32>(),
            0u32,
        );
    }
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
fn wake_all(_word: &AtomicU32) {}
