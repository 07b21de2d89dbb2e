use std::time::Duration;

use crate::sync::AtomicU32;

use super::{
    Alert, BlockingWaitStrategy, BusySpinWaitStrategy, PhasedBackoffWaitStrategy,
    SleepingWaitStrategy, TimeoutBlockingWaitStrategy, WaitError, WaitStrategy,
    YieldingWaitStrategy,
};

/// Any of the built-in strategies, chosen at run time (by the JS layer's `waitStrategy`
/// option, say). One `match` per wait or signal; hot loops stay monomorphic inside each arm.
///
/// ```
/// use disruptor_core::{Alert, AnyWaitStrategy, WaitStrategy};
/// let s = AnyWaitStrategy::from_name("blocking").unwrap();
/// assert_eq!(s.wait_until(|| Some(2), &Alert::default()), Ok(2));
/// assert!(AnyWaitStrategy::from_name("nope").is_none());
/// ```
#[derive(Debug)]
pub enum AnyWaitStrategy {
    /// [`BusySpinWaitStrategy`].
    BusySpin(BusySpinWaitStrategy),
    /// [`YieldingWaitStrategy`].
    Yielding(YieldingWaitStrategy),
    /// [`SleepingWaitStrategy`].
    Sleeping(SleepingWaitStrategy),
    /// [`BlockingWaitStrategy`].
    Blocking(BlockingWaitStrategy),
    /// [`TimeoutBlockingWaitStrategy`].
    TimeoutBlocking(TimeoutBlockingWaitStrategy),
    /// [`PhasedBackoffWaitStrategy`] falling back to blocking.
    PhasedBackoff(PhasedBackoffWaitStrategy<BlockingWaitStrategy>),
}

impl AnyWaitStrategy {
    /// The strategy with default settings for a name: `busy-spin`, `yielding`, `sleeping`,
    /// `blocking`, `phased-backoff` (1 µs spin, 100 µs yield, then blocking); `None` otherwise.
    /// `timeout-blocking` needs a timeout: build it with [`TimeoutBlockingWaitStrategy::new`].
    ///
    /// ```
    /// assert!(disruptor_core::AnyWaitStrategy::from_name("busy-spin").is_some());
    /// ```
    pub fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "busy-spin" => AnyWaitStrategy::BusySpin(BusySpinWaitStrategy),
            "yielding" => AnyWaitStrategy::Yielding(YieldingWaitStrategy::default()),
            "sleeping" => AnyWaitStrategy::Sleeping(SleepingWaitStrategy::default()),
            "blocking" => AnyWaitStrategy::Blocking(BlockingWaitStrategy::default()),
            "phased-backoff" => {
                AnyWaitStrategy::PhasedBackoff(PhasedBackoffWaitStrategy::with_blocking(
                    Duration::from_micros(1),
                    Duration::from_micros(100),
                ))
            }
            _ => return None,
        })
    }
}

macro_rules! each {
    ($self:ident, $s:ident => $e:expr) => {
        match $self {
            AnyWaitStrategy::BusySpin($s) => $e,
            AnyWaitStrategy::Yielding($s) => $e,
            AnyWaitStrategy::Sleeping($s) => $e,
            AnyWaitStrategy::Blocking($s) => $e,
            AnyWaitStrategy::TimeoutBlocking($s) => $e,
            AnyWaitStrategy::PhasedBackoff($s) => $e,
        }
    };
}

impl WaitStrategy for AnyWaitStrategy {
    fn wait_until<F: FnMut() -> Option<i64>>(
        &self,
        ready: F,
        alert: &Alert,
    ) -> Result<i64, WaitError> {
        each!(self, s => s.wait_until(ready, alert))
    }

    #[inline]
    fn wait_until_for<F: FnMut() -> Option<i64>>(
        &self,
        ready: F,
        alert: &Alert,
        limit: Duration,
    ) -> Result<i64, WaitError> {
        each!(self, s => s.wait_until_for(ready, alert, limit))
    }

    fn signal_all_when_blocking(&self) {
        each!(self, s => s.signal_all_when_blocking())
    }

    fn sleeper_count(&self) -> Option<&AtomicU32> {
        each!(self, s => s.sleeper_count())
    }
}
