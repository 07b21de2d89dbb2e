//! [`WaitConfig`]: a wait strategy chosen from JavaScript, by name and with its parameters.

use std::time::Duration;

use disruptor_core::{
    AnyWaitStrategy, BlockingWaitStrategy, BusySpinWaitStrategy, PhasedBackoffWaitStrategy,
    SleepingWaitStrategy, TimeoutBlockingWaitStrategy, YieldingWaitStrategy,
};
use napi_derive::napi;

use crate::error::{coded, Result};

/// A wait strategy and its parameters, as `new Disruptor({ waitStrategy })` gives it (checked
/// there first) and `describe()` returns it, every parameter filled in.
#[napi(object)]
#[derive(Clone, Debug, PartialEq)]
pub struct WaitConfig {
    /// 'blocking', 'sleeping', 'yielding', 'busy-spin', 'phased-backoff' or 'timeout-blocking'.
    pub name: String,
    /// sleeping: busy spins before yielding (default 100).
    pub spin_tries: Option<f64>,
    /// sleeping: yields before sleeping (default 100).
    pub yield_tries: Option<f64>,
    /// sleeping: each sleep, in µs (default 100).
    pub sleep_micros: Option<f64>,
    /// phased-backoff: how long it spins, in µs (default 1).
    pub spin_micros: Option<f64>,
    /// phased-backoff: how long it then yields before blocking, in µs (default 100).
    pub yield_micros: Option<f64>,
    /// timeout-blocking: how long a wait lasts before it times out, in ms (default 1000).
    pub timeout_ms: Option<f64>,
}

/// A parameter: absent (the default), or a number in `min ..= max`.
fn param(name: &str, value: Option<f64>, default: f64, min: f64, max: f64) -> Result<f64> {
    match value {
        None => Ok(default),
        Some(v) if (min..=max).contains(&v) => Ok(v),
        Some(v) => Err(coded(
            "ERR_INVALID_ARG_VALUE",
            format!("{name} must be in {min} ..= {max}, got {v}"),
        )),
    }
}

impl WaitConfig {
    /// Every parameter of its strategy filled in (defaults for the absent ones), the others
    /// refused: what the ring keeps and `describe()` returns.
    pub(crate) fn resolved(&self) -> Result<WaitConfig> {
        let mut c = WaitConfig {
            name: self.name.clone(),
            spin_tries: None,
            yield_tries: None,
            sleep_micros: None,
            spin_micros: None,
            yield_micros: None,
            timeout_ms: None,
        };
        let given = [
            ("spinTries", self.spin_tries.is_some(), "sleeping"),
            ("yieldTries", self.yield_tries.is_some(), "sleeping"),
            ("sleepMicros", self.sleep_micros.is_some(), "sleeping"),
            ("spinMicros", self.spin_micros.is_some(), "phased-backoff"),
            ("yieldMicros", self.yield_micros.is_some(), "phased-backoff"),
            ("timeoutMs", self.timeout_ms.is_some(), "timeout-blocking"),
        ];
        if let Some((key, _, _)) = given.iter().find(|(_, set, of)| *set && *of != self.name) {
            return Err(coded(
                "ERR_INVALID_ARG_VALUE",
                format!("{key} is not a parameter of the '{}' wait strategy", self.name),
            ));
        }
        match self.name.as_str() {
            "blocking" | "yielding" | "busy-spin" => {}
            "sleeping" => {
                let tries = |name, v: Option<f64>| match v {
                    Some(t) if t.fract() != 0.0 => Err(coded(
                        "ERR_INVALID_ARG_VALUE",
                        format!("{name} must be an integer, got {t}"),
                    )),
                    _ => param(name, v, 100.0, 0.0, 1e9),
                };
                c.spin_tries = Some(tries("spinTries", self.spin_tries)?);
                c.yield_tries = Some(tries("yieldTries", self.yield_tries)?);
                c.sleep_micros = Some(param("sleepMicros", self.sleep_micros, 100.0, 0.0, 1e6)?);
            }
            "phased-backoff" => {
                c.spin_micros = Some(param("spinMicros", self.spin_micros, 1.0, 0.0, 1e6)?);
                c.yield_micros = Some(param("yieldMicros", self.yield_micros, 100.0, 0.0, 1e6)?);
            }
            "timeout-blocking" => {
                // At least 1 ms: each timeout is a call into JavaScript.
                c.timeout_ms = Some(param("timeoutMs", self.timeout_ms, 1000.0, 1.0, 2.0e9)?);
            }
            other => {
                return Err(coded(
                    "ERR_INVALID_ARG_VALUE",
                    format!("unknown wait strategy '{other}'"),
                ))
            }
        }
        Ok(c)
    }

    /// The strategy (from a [`resolved`](Self::resolved) config).
    pub(crate) fn build(&self) -> AnyWaitStrategy {
        let micros = |v: Option<f64>| Duration::from_secs_f64(v.unwrap_or(0.0) / 1e6);
        match self.name.as_str() {
            "sleeping" => AnyWaitStrategy::Sleeping(SleepingWaitStrategy::new(
                self.spin_tries.unwrap_or(0.0) as u32,
                self.yield_tries.unwrap_or(0.0) as u32,
                micros(self.sleep_micros),
            )),
            "phased-backoff" => {
                AnyWaitStrategy::PhasedBackoff(PhasedBackoffWaitStrategy::with_blocking(
                    micros(self.spin_micros),
                    micros(self.yield_micros),
                ))
            }
            "timeout-blocking" => {
                AnyWaitStrategy::TimeoutBlocking(TimeoutBlockingWaitStrategy::new(
                    Duration::from_secs_f64(self.timeout_ms.unwrap_or(1000.0) / 1e3),
                ))
            }
            "yielding" => AnyWaitStrategy::Yielding(YieldingWaitStrategy::default()),
            "busy-spin" => AnyWaitStrategy::BusySpin(BusySpinWaitStrategy),
            _ => AnyWaitStrategy::Blocking(BlockingWaitStrategy::default()),
        }
    }
}
