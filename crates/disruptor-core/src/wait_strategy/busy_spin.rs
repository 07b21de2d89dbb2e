use super::{Alert, WaitError, WaitStrategy};
use crate::sync::spin_loop;

/// Spins on the condition with a CPU spin hint: the lowest latency, one busy core per waiter.
/// Use it only when every waiting thread has a core of its own.
///
/// ```
/// use disruptor_core::{Alert, BusySpinWaitStrategy, WaitStrategy, WaitError};
/// let alert = Alert::default();
/// alert.raise();
/// assert_eq!(BusySpinWaitStrategy.wait_until(|| None, &alert), Err(WaitError::Alerted));
/// ```
#[derive(Debug, Default, Clone, Copy)]
pub struct BusySpinWaitStrategy;

impl WaitStrategy for BusySpinWaitStrategy {
    #[inline]
    fn wait_until<F: FnMut() -> Option<i64>>(
        &self,
        mut ready: F,
        alert: &Alert,
    ) -> Result<i64, WaitError> {
        loop {
            if let Some(v) = ready() {
                return Ok(v);
            }
            if alert.is_raised() {
                return Err(WaitError::Alerted);
            }
            spin_loop();
        }
    }

    #[inline]
    fn signal_all_when_blocking(&self) {}
}
