use std::time::{Duration, Instant};

use super::{Alert, BlockingWaitStrategy, SleepingWaitStrategy, WaitError, WaitStrategy};
use crate::sync::{spin_loop, thread, AtomicU32};

/// Spins for `spin_timeout`, then yields until `yield_timeout`, then hands the wait to a
/// fallback strategy: near busy-spin latency for bursts, the fallback's CPU use when idle.
///
/// ```
/// use std::time::Duration;
/// use disruptor_core::{Alert, PhasedBackoffWaitStrategy, WaitStrategy};
/// let s = PhasedBackoffWaitStrategy::with_blocking(
///     Duration::from_micros(10),
///     Duration::from_micros(100),
/// );
/// assert_eq!(s.wait_until(|| Some(3), &Alert::default()), Ok(3));
/// ```
#[derive(Debug)]
pub struct PhasedBackoffWaitStrategy<W> {
    spin_timeout: Duration,
    yield_timeout: Duration,
    fallback: W,
}

impl<W: WaitStrategy> PhasedBackoffWaitStrategy<W> {
    /// Spins up to `spin_timeout`, yields up to `spin_timeout + yield_timeout`, then waits with
    /// `fallback`.
    ///
    /// ```
    /// use std::time::Duration;
    /// use disruptor_core::{PhasedBackoffWaitStrategy, YieldingWaitStrategy};
    /// let s = PhasedBackoffWaitStrategy::new(
    ///     Duration::from_micros(1), Duration::from_micros(1), YieldingWaitStrategy::default());
    /// # let _ = s;
    /// ```
    pub fn new(spin_timeout: Duration, yield_timeout: Duration, fallback: W) -> Self {
        PhasedBackoffWaitStrategy { spin_timeout, yield_timeout, fallback }
    }
}

impl PhasedBackoffWaitStrategy<BlockingWaitStrategy> {
    /// Falls back to a [`BlockingWaitStrategy`]: no CPU when idle.
    ///
    /// ```
    /// let s = disruptor_core::PhasedBackoffWaitStrategy::with_blocking(
    ///     std::time::Duration::from_micros(10), std::time::Duration::from_micros(100));
    /// # let _ = s;
    /// ```
    pub fn with_blocking(spin_timeout: Duration, yield_timeout: Duration) -> Self {
        Self::new(spin_timeout, yield_timeout, BlockingWaitStrategy::default())
    }
}

impl PhasedBackoffWaitStrategy<SleepingWaitStrategy> {
    /// Falls back to a default [`SleepingWaitStrategy`].
    ///
    /// ```
    /// let s = disruptor_core::PhasedBackoffWaitStrategy::with_sleep(
    ///     std::time::Duration::from_micros(10), std::time::Duration::from_micros(100));
    /// # let _ = s;
    /// ```
    pub fn with_sleep(spin_timeout: Duration, yield_timeout: Duration) -> Self {
        Self::new(spin_timeout, yield_timeout, SleepingWaitStrategy::default())
    }
}

/// Spin iterations between clock reads: reading the clock costs tens of nanoseconds.
const SPINS_PER_CLOCK_READ: u32 = 1000;

impl<W: WaitStrategy> PhasedBackoffWaitStrategy<W> {
    fn wait<F: FnMut() -> Option<i64>>(
        &self,
        mut ready: F,
        alert: &Alert,
        deadline: Option<Instant>,
    ) -> Result<i64, WaitError> {
        let mut start: Option<Instant> = None;
        let mut counter = SPINS_PER_CLOCK_READ;
        loop {
            if let Some(v) = ready() {
                return Ok(v);
            }
            if alert.is_raised() {
                return Err(WaitError::Alerted);
            }
            counter -= 1;
            if counter == 0 {
                counter = SPINS_PER_CLOCK_READ;
                let now = Instant::now();
                let elapsed = now - *start.get_or_insert(now);
                if deadline.is_some_and(|d| now >= d) {
                    return Err(WaitError::Timeout);
                }
                if elapsed > self.spin_timeout.saturating_add(self.yield_timeout) {
                    return match deadline {
                        None => self.fallback.wait_until(ready, alert),
                        Some(d) => self.fallback.wait_until_for(ready, alert, d - now),
                    };
                } else if elapsed > self.spin_timeout {
                    thread::yield_now();
                    continue;
                }
            }
            spin_loop();
        }
    }
}

impl<W: WaitStrategy> WaitStrategy for PhasedBackoffWaitStrategy<W> {
    fn wait_until<F: FnMut() -> Option<i64>>(
        &self,
        ready: F,
        alert: &Alert,
    ) -> Result<i64, WaitError> {
        self.wait(ready, alert, None)
    }

    fn wait_until_for<F: FnMut() -> Option<i64>>(
        &self,
        ready: F,
        alert: &Alert,
        limit: Duration,
    ) -> Result<i64, WaitError> {
        self.wait(ready, alert, Instant::now().checked_add(limit))
    }

    #[inline]
    fn signal_all_when_blocking(&self) {
        self.fallback.signal_all_when_blocking();
    }

    fn sleeper_count(&self) -> Option<&AtomicU32> {
        self.fallback.sleeper_count()
    }
}
