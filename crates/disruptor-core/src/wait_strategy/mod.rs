//! [`WaitStrategy`]: how a consumer waits for a sequence, and how a producer waits for room.
//!
//! A strategy waits for a *condition* given as a closure that returns `Some(value)` once the
//! awaited sequence is available. Consumers wait for the producer cursor or upstream consumers;
//! producers on a full ring wait for the slowest gating consumer. One strategy instance per ring
//! serves both directions, so a blocking ring sleeps in both and burns no CPU when idle.
//!
//! | strategy | waits by | latency | CPU when idle |
//! | --- | --- | --- | --- |
//! | [`BusySpinWaitStrategy`] | spinning | lowest | one core per waiter |
//! | [`YieldingWaitStrategy`] | spinning, then `yield_now` | low | one core per waiter, shared |
//! | [`SleepingWaitStrategy`] | spin, yield, then short sleeps | medium | small |
//! | [`BlockingWaitStrategy`] | a condition variable | highest | none |
//! | [`TimeoutBlockingWaitStrategy`] | as blocking, with a timeout | highest | none |
//! | [`PhasedBackoffWaitStrategy`] | spin, yield, then a fallback | tunable | that of the fallback |

mod any;
mod blocking;
mod busy_spin;
mod phased_backoff;
mod sleeping;
mod yielding;

pub use any::AnyWaitStrategy;
pub use blocking::{BlockingWaitStrategy, TimeoutBlockingWaitStrategy};
pub use busy_spin::BusySpinWaitStrategy;
pub use phased_backoff::PhasedBackoffWaitStrategy;
pub use sleeping::SleepingWaitStrategy;
pub use yielding::YieldingWaitStrategy;

use std::time::{Duration, Instant};

use crate::sync::{AtomicBool, AtomicU32, Ordering};

/// Why a wait ended without the awaited sequence.
///
/// ```
/// use disruptor_core::WaitError;
/// assert_ne!(WaitError::Alerted, WaitError::Timeout);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitError {
    /// The waiter's [`Alert`] was raised (halt or shutdown).
    Alerted,
    /// The strategy's timeout passed first.
    Timeout,
}

/// A flag that interrupts waits: raised to halt a consumer or to release producers at shutdown.
///
/// Raising is a **Release** store and checking an **Acquire** load, so whatever the raiser did
/// before raising is visible to the waiter that sees the flag.
///
/// ```
/// use disruptor_core::Alert;
/// let a = Alert::default();
/// assert!(!a.is_raised());
/// a.raise();
/// assert!(a.is_raised());
/// a.clear();
/// assert!(!a.is_raised());
/// ```
#[derive(Debug, Default)]
pub struct Alert(AtomicBool);

impl Alert {
    /// Raises the flag (**Release**). Wake sleeping waiters afterwards with
    /// [`WaitStrategy::signal_all_when_blocking`].
    ///
    /// ```
    /// let a = disruptor_core::Alert::default();
    /// a.raise();
    /// assert!(a.is_raised());
    /// ```
    pub fn raise(&self) {
        self.0.store(true, Ordering::Release);
    }

    /// Lowers the flag (**Release**).
    ///
    /// ```
    /// let a = disruptor_core::Alert::default();
    /// a.raise();
    /// a.clear();
    /// assert!(!a.is_raised());
    /// ```
    pub fn clear(&self) {
        self.0.store(false, Ordering::Release);
    }

    /// Whether the flag is raised (**Acquire**).
    ///
    /// ```
    /// assert!(!disruptor_core::Alert::default().is_raised());
    /// ```
    #[inline]
    pub fn is_raised(&self) -> bool {
        self.0.load(Ordering::Acquire)
    }
}

/// How a thread waits until a condition holds.
///
/// Implementations must:
/// - return `Ok(v)` as soon as `ready()` returns `Some(v)`; `ready` is called at least once
///   before any sleeping, and again after every wake-up;
/// - return `Err(WaitError::Alerted)` when `alert` is raised and `ready()` is still `None`;
/// - never lose a wake-up: a waiter that sleeps is woken by the next
///   [`signal_all_when_blocking`](WaitStrategy::signal_all_when_blocking) that follows a change
///   making `ready()` true (or raising `alert`).
///
/// ```
/// use disruptor_core::{Alert, BusySpinWaitStrategy, Sequence, WaitStrategy};
/// let cursor = Sequence::new(5);
/// let alert = Alert::default();
/// let got = BusySpinWaitStrategy
///     .wait_until(|| (cursor.get() >= 3).then(|| cursor.get()), &alert)
///     .unwrap();
/// assert_eq!(got, 5);
/// ```
pub trait WaitStrategy: Send + Sync + 'static {
    /// Waits until `ready` returns `Some(value)` and returns that value.
    fn wait_until<F: FnMut() -> Option<i64>>(
        &self,
        ready: F,
        alert: &Alert,
    ) -> Result<i64, WaitError>;

    /// [`wait_until`](WaitStrategy::wait_until) that gives up with [`WaitError::Timeout`] once
    /// `limit` has passed: for a waiter that must come back regularly (a JavaScript thread
    /// blocked in a claim has to return to JavaScript now and then, or a `worker.terminate()`
    /// could never stop it). The default wraps `ready` with a clock check, which suits
    /// strategies that poll; strategies that sleep override it to sleep at most `limit`.
    ///
    /// ```
    /// use std::time::Duration;
    /// use disruptor_core::{Alert, BlockingWaitStrategy, WaitError, WaitStrategy, YieldingWaitStrategy};
    /// let a = Alert::default();
    /// let limit = Duration::from_millis(1);
    /// assert_eq!(YieldingWaitStrategy::default().wait_until_for(|| None, &a, limit), Err(WaitError::Timeout));
    /// assert_eq!(BlockingWaitStrategy::default().wait_until_for(|| None, &a, limit), Err(WaitError::Timeout));
    /// assert_eq!(BlockingWaitStrategy::default().wait_until_for(|| Some(3), &a, limit), Ok(3));
    /// ```
    fn wait_until_for<F: FnMut() -> Option<i64>>(
        &self,
        mut ready: F,
        alert: &Alert,
        limit: Duration,
    ) -> Result<i64, WaitError> {
        let deadline = Instant::now().checked_add(limit);
        let mut timed_out = false;
        let result = self.wait_until(
            || {
                if let Some(v) = ready() {
                    return Some(v);
                }
                timed_out = deadline.is_some_and(|d| Instant::now() >= d);
                timed_out.then_some(0)
            },
            alert,
        );
        if timed_out {
            Err(WaitError::Timeout)
        } else {
            result
        }
    }

    /// Wakes every sleeping waiter so it re-checks its condition. Called after every publish
    /// and every consumer progress; strategies that never sleep make it a no-op, and blocking
    /// ones take their lock only when somebody sleeps.
    fn signal_all_when_blocking(&self);

    /// For strategies that sleep: the number of threads asleep or about to sleep, so that a
    /// signaller outside Rust (JavaScript publishing through shared memory) can skip the signal
    /// when it is zero. Such a signaller must make its change with a SeqCst store and then read
    /// this count with a SeqCst load (the Dekker pattern the sleeper completes with its barrier:
    /// `membarrier` on Linux, a SeqCst fence elsewhere; either pairs with a SeqCst store-load),
    /// and call [`signal_all_when_blocking`](WaitStrategy::signal_all_when_blocking) when it is
    /// not zero. `None` (the default): the strategy never sleeps, no signal needed.
    ///
    /// ```
    /// use disruptor_core::{BlockingWaitStrategy, BusySpinWaitStrategy, WaitStrategy};
    /// assert!(BusySpinWaitStrategy.sleeper_count().is_none());
    /// let count = BlockingWaitStrategy::default().sleeper_count().unwrap().load(std::sync::atomic::Ordering::SeqCst);
    /// assert_eq!(count, 0);
    /// ```
    fn sleeper_count(&self) -> Option<&AtomicU32> {
        None
    }
}
