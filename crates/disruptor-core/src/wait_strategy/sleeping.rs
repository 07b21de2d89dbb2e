use std::time::Duration;

use super::{Alert, WaitError, WaitStrategy};
use crate::sync::{spin_loop, thread};

/// Spins, then yields, then sleeps a short, fixed time between checks: a compromise between
/// latency and CPU. An idle waiter wakes every `sleep` to poll; producers never signal it.
///
/// ```
/// use std::time::Duration;
/// use disruptor_core::{Alert, SleepingWaitStrategy, WaitStrategy};
/// let s = SleepingWaitStrategy::new(10, 10, Duration::from_micros(50));
/// assert_eq!(s.wait_until(|| Some(1), &Alert::default()), Ok(1));
/// ```
#[derive(Debug, Clone, Copy)]
pub struct SleepingWaitStrategy {
    spin_tries: u32,
    yield_tries: u32,
    sleep: Duration,
}

impl SleepingWaitStrategy {
    /// Spins `spin_tries` times, yields `yield_tries` times, then sleeps `sleep` between checks.
    ///
    /// ```
    /// let s = disruptor_core::SleepingWaitStrategy::new(100, 100, std::time::Duration::from_micros(100));
    /// # let _ = s;
    /// ```
    pub fn new(spin_tries: u32, yield_tries: u32, sleep: Duration) -> Self {
        SleepingWaitStrategy { spin_tries, yield_tries, sleep }
    }
}

impl Default for SleepingWaitStrategy {
    /// 100 spins, 100 yields, then 100 µs sleeps (about 10k wake-ups a second when idle).
    fn default() -> Self {
        SleepingWaitStrategy::new(100, 100, Duration::from_micros(100))
    }
}

impl WaitStrategy for SleepingWaitStrategy {
    fn wait_until<F: FnMut() -> Option<i64>>(
        &self,
        mut ready: F,
        alert: &Alert,
    ) -> Result<i64, WaitError> {
        let mut tries = 0u32;
        loop {
            if let Some(v) = ready() {
                return Ok(v);
            }
            if alert.is_raised() {
                return Err(WaitError::Alerted);
            }
            if tries < self.spin_tries {
                spin_loop();
            } else if tries < self.spin_tries.saturating_add(self.yield_tries) {
                thread::yield_now();
            } else {
                sleep(self.sleep);
                continue;
            }
            tries += 1;
        }
    }

    #[inline]
    fn signal_all_when_blocking(&self) {}
}

#[cfg(not(loom))]
fn sleep(d: Duration) {
    std::thread::sleep(d);
}

#[cfg(loom)]
fn sleep(_: Duration) {
    loom::thread::yield_now();
}
