use super::{Alert, WaitError, WaitStrategy};
use crate::sync::{spin_loop, thread};

/// Spins a bounded number of times, then yields the CPU between checks: low latency, and other
/// threads still get the core. Busy (one core's worth of CPU) while idle.
///
/// ```
/// use disruptor_core::{Alert, WaitStrategy, YieldingWaitStrategy};
/// let got = YieldingWaitStrategy::default().wait_until(|| Some(7), &Alert::default());
/// assert_eq!(got, Ok(7));
/// ```
#[derive(Debug, Clone, Copy)]
pub struct YieldingWaitStrategy {
    spin_tries: u32,
}

impl YieldingWaitStrategy {
    /// Spins `spin_tries` times before it starts yielding.
    ///
    /// ```
    /// let s = disruptor_core::YieldingWaitStrategy::new(10);
    /// # let _ = s;
    /// ```
    pub fn new(spin_tries: u32) -> Self {
        YieldingWaitStrategy { spin_tries }
    }
}

impl Default for YieldingWaitStrategy {
    /// Spins 100 times, then yields.
    fn default() -> Self {
        YieldingWaitStrategy::new(100)
    }
}

impl WaitStrategy for YieldingWaitStrategy {
    fn wait_until<F: FnMut() -> Option<i64>>(
        &self,
        mut ready: F,
        alert: &Alert,
    ) -> Result<i64, WaitError> {
        let mut counter = self.spin_tries;
        loop {
            if let Some(v) = ready() {
                return Ok(v);
            }
            if alert.is_raised() {
                return Err(WaitError::Alerted);
            }
            if counter == 0 {
                thread::yield_now();
            } else {
                counter -= 1;
                spin_loop();
            }
        }
    }

    #[inline]
    fn signal_all_when_blocking(&self) {}
}
