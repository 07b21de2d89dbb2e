//! Asymmetric fences for the blocking strategies' store-load (Dekker) handshake.
//!
//! A blocking wait needs a store-load barrier on both sides: the signaller stores its change
//! then loads the sleeper count, the sleeper stores its registration then loads the condition.
//! With a `fence(SeqCst)` on each side, every publish pays a full CPU barrier (`lock or` on
//! x86-64), which also exposes the latency of the publish store's cache-line transfer: profiled
//! on `three_to_one` with the blocking strategy, that fence took ~43% of each producer's time.
//! Signals happen on every publish, sleeps rarely (a waiter spins first), so the cost can be
//! moved to the sleeper, as Linux RCU, liburcu and folly's `asymmetric_thread_fence_heavy` do:
//!
//! - [`light`] (signaller, hot): a compiler fence only;
//! - [`heavy`] (sleeper, cold): `membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED)`, which makes
//!   every thread of this process that is running execute a full memory barrier before it
//!   returns (a thread that is not running passed one when it was switched out).
//!
//! Why that suffices: if a signaller's count load ran before the barrier its CPU executed for
//! the sleeper's `membarrier`, its earlier change was drained from its store buffer by that
//! barrier, before `membarrier` returned and the sleeper checks its condition: the sleeper sees
//! the change. Otherwise the load ran after that barrier, which follows the sleeper's
//! registration (`membarrier` is a full barrier for the caller too): the signaller sees the
//! registration and wakes the sleeper.
//!
//! Where `membarrier` cannot be registered (not Linux, an old kernel, a sandbox that filters it,
//! valgrind), both sides fall back to `fence(SeqCst)`; under loom too (it models fences, not
//! system calls). The choice is made once, by [`init`], before any strategy that uses it is
//! shared with another thread, and never changes. If a registered `membarrier` call fails
//! anyway (the kernel may fail to allocate its CPU mask), [`heavy`] says so and the sleeper
//! sleeps in short timed slices instead of trusting the handshake.

#[cfg(not(loom))]
use std::sync::atomic::AtomicU8;

use crate::sync::{fence, Ordering};

/// Not yet decided.
#[cfg(not(loom))]
const UNDECIDED: u8 = 0;
/// `membarrier` is registered: light = compiler fence, heavy = `membarrier`.
#[cfg(not(loom))]
const MEMBARRIER: u8 = 1;
/// Fences on both sides.
#[cfg(not(loom))]
const FENCES: u8 = 2;

#[cfg(not(loom))]
static MODE: AtomicU8 = AtomicU8::new(UNDECIDED);

/// Decides, once per process, between `membarrier` and fences. Called by every strategy that
/// uses [`light`]/[`heavy`] when it is created, so before it can be shared with other threads:
/// the thread that shares it publishes the decision along with it.
pub(crate) fn init() {
    #[cfg(not(loom))]
    {
        static ONCE: std::sync::Once = std::sync::Once::new();
        ONCE.call_once(|| {
            let mode = if membarrier::register() { MEMBARRIER } else { FENCES };
            // Relaxed: `call_once` and the sharing of the strategy order this store before
            // every load.
            MODE.store(mode, Ordering::Relaxed);
        });
    }
}

/// The signaller's side: orders its earlier stores before its later loads, as far as the
/// handshake with [`heavy`] needs. A compiler fence when `membarrier` is registered.
#[inline(always)]
pub(crate) fn light() {
    #[cfg(not(loom))]
    if MODE.load(Ordering::Relaxed) == MEMBARRIER {
        std::sync::atomic::compiler_fence(Ordering::SeqCst);
        return;
    }
    // SeqCst: the store-load barrier of the Dekker pattern, when the sleeper's side is a fence.
    fence(Ordering::SeqCst);
}

/// The sleeper's side: orders its earlier stores before its later loads against every
/// [`light`] signaller. False if the barrier could not be made (a failed `membarrier` call):
/// the caller must then not sleep without a timeout.
#[cold]
pub(crate) fn heavy() -> bool {
    // SeqCst: this thread's own store-load barrier, in both modes.
    fence(Ordering::SeqCst);
    #[cfg(not(loom))]
    if MODE.load(Ordering::Relaxed) == MEMBARRIER {
        return membarrier::private_expedited();
    }
    true
}

/// Which mode this process uses, for tests and diagnostics: "membarrier" or "fences".
///
/// ```
/// let mode = disruptor_core::asymmetric_fence_mode();
/// assert!(mode == "membarrier" || mode == "fences");
/// ```
pub fn asymmetric_fence_mode() -> &'static str {
    init();
    #[cfg(not(loom))]
    if MODE.load(Ordering::Relaxed) == MEMBARRIER {
        return "membarrier";
    }
    "fences"
}

/// The same pair across processes, for rings in shared memory (`crate::shm`), where the
/// sleeper and the signaller may be in different processes:
///
/// - [`global::light`]: a compiler fence in a process registered with
///   `MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED`, else `fence(SeqCst)`;
/// - [`global::heavy`]: `fence(SeqCst)`, then `MEMBARRIER_CMD_GLOBAL_EXPEDITED`, a full barrier on
///   every running thread of every registered process (the argument above, over processes).
///
/// A process decides for itself whether it signals lightly (its registration succeeded), so a
/// sleeper cannot know that every signaller is registered; it need not: a light signaller is
/// registered, so it is covered by any `GLOBAL_EXPEDITED` call, and a fence signaller pairs with
/// the sleeper's own fence. Where the kernel has no global expedited barrier (its query says
/// so, or not Linux) nobody can register, every signaller uses a fence, and the sleeper's fence
/// suffices. A sleeper that cannot tell (its query failed: a filter), whose call fails, or that
/// was told not to (`DISRUPTOR_NO_MEMBARRIER`) learns it from [`global::heavy`] and sleeps in
/// short slices instead.
#[cfg(all(unix, not(loom)))]
pub(crate) mod global {
    use std::sync::atomic::{fence, AtomicU8, Ordering};

    use super::{membarrier, FENCES, MEMBARRIER, UNDECIDED};

    static MODE: AtomicU8 = AtomicU8::new(UNDECIDED);
    /// How this process's sleepers make their barrier: one of the three below.
    static SLEEP: AtomicU8 = AtomicU8::new(UNDECIDED);
    /// `MEMBARRIER_CMD_GLOBAL_EXPEDITED` (trusted when it succeeds).
    const SLEEP_GLOBAL: u8 = 1;
    /// A fence, trusted: no process on this kernel can signal lightly.
    const SLEEP_FENCE: u8 = 2;
    /// A fence, not trusted: short slices.
    const SLEEP_UNTRUSTED: u8 = 3;

    /// Decides, once per process, how this process signals and sleeps. Called when a shared
    /// ring is created or opened, before any signal or sleep on it.
    pub(crate) fn init() {
        static ONCE: std::sync::Once = std::sync::Once::new();
        ONCE.call_once(|| {
            let mode = if membarrier::register_global() { MEMBARRIER } else { FENCES };
            let sleep = match membarrier::global_support() {
                _ if std::env::var_os("DISRUPTOR_NO_MEMBARRIER").is_some() => SLEEP_UNTRUSTED,
                Some(true) => SLEEP_GLOBAL,
                Some(false) => SLEEP_FENCE,
                None => SLEEP_UNTRUSTED,
            };
            // Relaxed: `call_once` orders them before every load on this thread, and rings
            // are shared with other threads only after they are opened.
            MODE.store(mode, Ordering::Relaxed);
            SLEEP.store(sleep, Ordering::Relaxed);
        });
    }

    /// The signaller's side (after its change, before its load of the sleeper count).
    #[inline(always)]
    pub(crate) fn light() {
        if MODE.load(Ordering::Relaxed) == MEMBARRIER {
            std::sync::atomic::compiler_fence(Ordering::SeqCst);
        } else {
            // SeqCst: the store-load barrier of the Dekker pattern, for a sleeper that relies
            // on fences.
            fence(Ordering::SeqCst);
        }
    }

    /// The sleeper's side (after its registration, before it checks its condition). False if
    /// no process-wide barrier was made: the caller must then sleep only in short slices.
    #[cold]
    pub(crate) fn heavy() -> bool {
        // SeqCst: this thread's own store-load barrier, and the pair of a fence signaller.
        fence(Ordering::SeqCst);
        match SLEEP.load(Ordering::Relaxed) {
            SLEEP_GLOBAL => membarrier::global_expedited(),
            SLEEP_FENCE => true,
            _ => false,
        }
    }

    /// "membarrier" or "fences": how this process signals on shared rings.
    pub(crate) fn mode() -> &'static str {
        init();
        if MODE.load(Ordering::Relaxed) == MEMBARRIER {
            "membarrier"
        } else {
            "fences"
        }
    }
}

#[cfg(all(not(loom), target_os = "linux"))]
mod membarrier {
    // From <linux/membarrier.h> (stable kernel ABI).
    const CMD_QUERY: libc::c_long = 0;
    const CMD_GLOBAL_EXPEDITED: libc::c_long = 1 << 1;
    const CMD_REGISTER_GLOBAL_EXPEDITED: libc::c_long = 1 << 2;
    const CMD_PRIVATE_EXPEDITED: libc::c_long = 1 << 3;
    const CMD_REGISTER_PRIVATE_EXPEDITED: libc::c_long = 1 << 4;

    fn call(cmd: libc::c_long) -> libc::c_long {
        // SAFETY: membarrier(cmd, flags = 0, cpu_id = 0) takes no pointers; an unknown command
        // or an unsupported kernel returns -1 with errno set.
        unsafe { libc::syscall(libc::SYS_membarrier, cmd, 0 as libc::c_long, 0 as libc::c_long) }
    }

    /// Registers this process for private expedited barriers; false if the kernel cannot.
    pub(super) fn register() -> bool {
        if std::env::var_os("DISRUPTOR_NO_MEMBARRIER").is_some() {
            return false;
        }
        let supported = call(CMD_QUERY);
        supported >= 0
            && supported & CMD_PRIVATE_EXPEDITED != 0
            && supported & CMD_REGISTER_PRIVATE_EXPEDITED != 0
            && call(CMD_REGISTER_PRIVATE_EXPEDITED) == 0
    }

    /// A full barrier on every running thread of this process; false if the call failed.
    pub(super) fn private_expedited() -> bool {
        call(CMD_PRIVATE_EXPEDITED) == 0
    }

    /// Registers this process for global expedited barriers (other processes' calls then
    /// reach its threads); false if the kernel cannot. `DISRUPTOR_NO_MEMBARRIER` refuses it,
    /// as the private registration.
    pub(super) fn register_global() -> bool {
        if std::env::var_os("DISRUPTOR_NO_MEMBARRIER").is_some() {
            return false;
        }
        let supported = call(CMD_QUERY);
        supported >= 0
            && supported & CMD_GLOBAL_EXPEDITED != 0
            && supported & CMD_REGISTER_GLOBAL_EXPEDITED != 0
            && call(CMD_REGISTER_GLOBAL_EXPEDITED) == 0
    }

    /// Whether the kernel has global expedited barriers: `None` when this process cannot ask
    /// (a filter refuses the query; other processes may still have registered).
    pub(super) fn global_support() -> Option<bool> {
        let supported = call(CMD_QUERY);
        (supported >= 0).then_some(
            supported & CMD_GLOBAL_EXPEDITED != 0 && supported & CMD_REGISTER_GLOBAL_EXPEDITED != 0,
        )
    }

    /// A full barrier on every running thread of every registered process; false if the
    /// call failed. Made whether or not this process registered: signallers in other
    /// processes may have.
    pub(super) fn global_expedited() -> bool {
        call(CMD_GLOBAL_EXPEDITED) == 0
    }
}

#[cfg(all(not(loom), not(target_os = "linux")))]
mod membarrier {
    pub(super) fn register() -> bool {
        false
    }

    pub(super) fn private_expedited() -> bool {
        false
    }

    #[cfg(unix)]
    pub(super) fn register_global() -> bool {
        false
    }

    /// Not Linux: nobody registers, every signaller uses a fence.
    #[cfg(unix)]
    pub(super) fn global_support() -> Option<bool> {
        Some(false)
    }

    #[cfg(unix)]
    pub(super) fn global_expedited() -> bool {
        false
    }
}
