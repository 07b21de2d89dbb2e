use std::time::{Duration, Instant};

use super::{Alert, WaitError, WaitStrategy};
use crate::asymmetric_fence;
use crate::sync::{AtomicU32, Condvar, Mutex, Ordering};

/// How long a waiter sleeps at a time when its barrier failed (see `asymmetric_fence::heavy`).
const UNFENCED_SLICE: Duration = Duration::from_millis(1);

/// The sleeping half shared by the blocking strategies: a mutex, a condition variable and a
/// count of registered sleepers, so that signalling costs one fence and one load when nobody
/// sleeps, and one lock and one futex wake per sleep, not per signal, when somebody does.
///
/// No lost wake-up (a Dekker pattern, checked by the loom models in `tests/loom.rs`):
///
/// ```text
/// waiter:    lock; loop { sleepers += 1; heavy fence; check condition; wait (unlocks) }
/// signaller: change condition; light fence;
///            if sleepers > 0 && sleepers.swap(0) > 0 { lock; notify_all }
/// ```
///
/// The fences are the pair of `crate::asymmetric_fence` (`membarrier` for the waiter and a
/// compiler fence for the signaller on Linux, `fence(SeqCst)` on both sides elsewhere and under
/// loom); either way one of the two orders comes first. If the waiter's barrier comes first,
/// the signaller's load sees its registration, or a swap that took it away; whoever swapped it
/// away then takes the lock, which it can only get once the waiter sleeps (and is notified) or
/// has not yet re-checked. If the signaller's barrier comes first, the waiter's check sees the
/// change. Acquire/Release cannot give this store-load ordering.
///
/// **Wake once.** The signaller that finds registrations swaps the count to zero before it
/// notifies, so the signals that follow before a waiter re-registers cost a fence and a load,
/// not a lock and a futex call each (crossbeam's `SyncWaker` also unregisters the waiter it
/// wakes). Without it a busy multi-producer ring with one sleeping consumer paid a lock and a
/// `FUTEX_WAKE` per publish until the consumer woke, and the woken consumer then fought the
/// producers for the lock. A waiter registers again before every re-check and never
/// unregisters: a registration left over by a waiter that found its condition itself costs the
/// next signaller one needless lock and wake, then the count is zero again.
#[derive(Debug)]
struct Sleepers {
    lock: Mutex<()>,
    condvar: Condvar,
    /// Registrations since the last wake-up: non-zero while a thread sleeps or is about to (and
    /// for one signal after a waiter that registered found its condition by itself). 32 bits so
    /// that JavaScript can read it with `Atomics.load` on an Int32Array (see
    /// [`WaitStrategy::sleeper_count`]).
    count: AtomicU32,
}

impl Default for Sleepers {
    fn default() -> Self {
        asymmetric_fence::init();
        Sleepers { lock: Mutex::new(()), condvar: Condvar::new(), count: AtomicU32::new(0) }
    }
}

impl Sleepers {
    fn wait_until<F: FnMut() -> Option<i64>>(
        &self,
        mut ready: F,
        alert: &Alert,
        timeout: Option<Duration>,
    ) -> Result<i64, WaitError> {
        if let Some(v) = ready() {
            return Ok(v);
        }
        // Spin, then yield, a few microseconds before sleeping (crossbeam's Backoff): under load
        // the awaited event is usually that close, and sleeping would cost both sides a lock and
        // a futex call. An idle waiter pays this once, then sleeps. (Not under loom: the model
        // needs no extra polls.)
        #[cfg(not(loom))]
        {
            let backoff = crossbeam_utils::Backoff::new();
            while !backoff.is_completed() {
                backoff.snooze();
                if let Some(v) = ready() {
                    return Ok(v);
                }
                if alert.is_raised() {
                    return Err(WaitError::Alerted);
                }
            }
        }
        // A timeout too large to add is no timeout.
        let deadline = timeout.and_then(|t| Instant::now().checked_add(t));
        let mut guard = self.lock.lock().unwrap_or_else(|e| e.into_inner());
        let result = loop {
            // Registers before every check: a signaller may have swapped an earlier
            // registration away (waking this thread, or about to).
            // Relaxed: ordered before the condition check by the heavy fence below.
            self.count.fetch_add(1, Ordering::Relaxed);
            // The store-load barrier of the Dekker pattern (see the type's docs).
            let handshake = asymmetric_fence::heavy();
            if let Some(v) = ready() {
                break Ok(v);
            }
            if alert.is_raised() {
                break Err(WaitError::Alerted);
            }
            let now = Instant::now();
            if deadline.is_some_and(|d| now >= d) {
                break Err(WaitError::Timeout);
            }
            // Without the barrier a signal may be missed: sleep in short slices, re-checking.
            let wake_at = if handshake { deadline } else { Some(now + UNFENCED_SLICE) };
            guard = match (deadline, wake_at) {
                (_, None) => self.condvar.wait(guard).unwrap_or_else(|e| e.into_inner()),
                (None, Some(at)) => wait_timeout(&self.condvar, guard, at - now),
                (Some(d), Some(at)) => wait_timeout(&self.condvar, guard, d.min(at) - now),
            };
        };
        // No unregistering: see "Wake once" in the type's docs.
        drop(guard);
        result
    }

    #[inline]
    fn signal_all(&self) {
        // The store-load barrier of the Dekker pattern (see the type's docs).
        asymmetric_fence::light();
        // Relaxed: ordered after the caller's change by the fence above. The swap takes every
        // registration: this signaller wakes them all, later ones skip until a waiter registers
        // again. Relaxed too: the lock orders the notify after the waiters' registrations.
        if self.count.load(Ordering::Relaxed) != 0 && self.count.swap(0, Ordering::Relaxed) != 0 {
            self.wake_all();
        }
    }

    #[cold]
    #[inline(never)]
    fn wake_all(&self) {
        let _guard = self.lock.lock().unwrap_or_else(|e| e.into_inner());
        self.condvar.notify_all();
    }
}

#[cfg(not(loom))]
fn wait_timeout<'a>(
    condvar: &Condvar,
    guard: std::sync::MutexGuard<'a, ()>,
    dur: Duration,
) -> std::sync::MutexGuard<'a, ()> {
    condvar.wait_timeout(guard, dur).map(|(g, _)| g).unwrap_or_else(|e| e.into_inner().0)
}

#[cfg(loom)]
fn wait_timeout<'a>(
    condvar: &Condvar,
    guard: loom::sync::MutexGuard<'a, ()>,
    _dur: Duration,
) -> loom::sync::MutexGuard<'a, ()> {
    // loom has no time: model a timed wait as a plain wait.
    condvar.wait(guard).unwrap_or_else(|e| e.into_inner())
}

/// Sleeps on a condition variable until signalled: no CPU while idle, a few microseconds of
/// wake-up latency. A waiter spins and yields for a few microseconds before it sleeps; publishers
/// and consumers take the lock to signal only when a waiter sleeps.
///
/// ```
/// use std::sync::Arc;
/// use disruptor_core::{Alert, BlockingWaitStrategy, Sequence, WaitStrategy};
/// let strategy = Arc::new(BlockingWaitStrategy::default());
/// let cursor = Arc::new(Sequence::default());
/// let (s, c) = (strategy.clone(), cursor.clone());
/// let t = std::thread::spawn(move || {
///     s.wait_until(|| (c.get() >= 0).then(|| c.get()), &Alert::default())
/// });
/// cursor.set(0);
/// strategy.signal_all_when_blocking();
/// assert_eq!(t.join().unwrap(), Ok(0));
/// ```
#[derive(Debug, Default)]
pub struct BlockingWaitStrategy {
    sleepers: Sleepers,
}

impl WaitStrategy for BlockingWaitStrategy {
    fn wait_until<F: FnMut() -> Option<i64>>(
        &self,
        ready: F,
        alert: &Alert,
    ) -> Result<i64, WaitError> {
        self.sleepers.wait_until(ready, alert, None)
    }

    fn wait_until_for<F: FnMut() -> Option<i64>>(
        &self,
        ready: F,
        alert: &Alert,
        limit: Duration,
    ) -> Result<i64, WaitError> {
        self.sleepers.wait_until(ready, alert, Some(limit))
    }

    #[inline]
    fn signal_all_when_blocking(&self) {
        self.sleepers.signal_all();
    }

    fn sleeper_count(&self) -> Option<&AtomicU32> {
        Some(&self.sleepers.count)
    }
}

/// A [`BlockingWaitStrategy`] whose waits give up after a timeout with
/// [`WaitError::Timeout`]; consumers then get [`crate::EventHandler::on_timeout`].
///
/// ```
/// use std::time::Duration;
/// use disruptor_core::{Alert, TimeoutBlockingWaitStrategy, WaitError, WaitStrategy};
/// let s = TimeoutBlockingWaitStrategy::new(Duration::from_millis(1));
/// assert_eq!(s.wait_until(|| None, &Alert::default()), Err(WaitError::Timeout));
/// ```
#[derive(Debug)]
pub struct TimeoutBlockingWaitStrategy {
    sleepers: Sleepers,
    timeout: Duration,
}

impl TimeoutBlockingWaitStrategy {
    /// Waits block at most `timeout` each.
    ///
    /// ```
    /// let s = disruptor_core::TimeoutBlockingWaitStrategy::new(std::time::Duration::from_millis(5));
    /// assert_eq!(s.timeout(), std::time::Duration::from_millis(5));
    /// ```
    pub fn new(timeout: Duration) -> Self {
        TimeoutBlockingWaitStrategy { sleepers: Sleepers::default(), timeout }
    }

    /// The timeout of each wait.
    ///
    /// ```
    /// let s = disruptor_core::TimeoutBlockingWaitStrategy::new(std::time::Duration::from_secs(1));
    /// assert_eq!(s.timeout().as_secs(), 1);
    /// ```
    pub fn timeout(&self) -> Duration {
        self.timeout
    }
}

impl WaitStrategy for TimeoutBlockingWaitStrategy {
    fn wait_until<F: FnMut() -> Option<i64>>(
        &self,
        ready: F,
        alert: &Alert,
    ) -> Result<i64, WaitError> {
        self.sleepers.wait_until(ready, alert, Some(self.timeout))
    }

    fn wait_until_for<F: FnMut() -> Option<i64>>(
        &self,
        ready: F,
        alert: &Alert,
        limit: Duration,
    ) -> Result<i64, WaitError> {
        self.sleepers.wait_until(ready, alert, Some(limit.min(self.timeout)))
    }

    #[inline]
    fn signal_all_when_blocking(&self) {
        self.sleepers.signal_all();
    }

    fn sleeper_count(&self) -> Option<&AtomicU32> {
        Some(&self.sleepers.count)
    }
}
