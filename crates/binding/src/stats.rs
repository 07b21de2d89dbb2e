//! What a ring reports about itself to JavaScript: its shape (`describe`) and its statistics
//! (`stats`), as plain objects. Named `Native*` where the TypeScript has its own public type.

use std::sync::atomic::Ordering;

use disruptor_core::ConsumerState;
use napi_derive::napi;

use crate::shared::RingState;
use crate::wait::WaitConfig;

/// Per consumer statistics, as `stats()` reports them.
#[napi(object)]
pub struct NativeConsumerStats {
    pub name: String,
    pub sequence: f64,
    pub lag: f64,
    pub batches: f64,
    pub events: f64,
    pub largest_batch: f64,
    pub wait_nanos: f64,
    pub errors: f64,
    /// Abandoned sequences it skipped (claimed and never published by a thread that went away).
    pub skipped: f64,
    pub state: String,
    pub last_error: Option<String>,
    /// Batches by size: element `k` counts batches of `2^k ..= 2^(k+1) - 1` events (trailing
    /// empty buckets left out).
    pub batch_sizes: Vec<f64>,
    /// Ring-wide id of this consumer, never reused (0 for one the engine made itself): what
    /// tells two consumers of the same name apart between two `stats()` calls.
    pub serial: u32,
}

/// Ring-wide statistics.
#[napi(object)]
pub struct NativeRingStats {
    pub cursor: f64,
    pub remaining_capacity: f64,
    pub producer_wait_nanos: f64,
    /// Claims, as the producing threads reported them (each thread reports at least every
    /// 65,536 of its claims, and when it stops producing or calls `stats()`).
    pub claims: f64,
    pub abandoned_events: f64,
    pub consumers: Vec<NativeConsumerStats>,
}

/// What `share()` carries to another thread, and `describe()` returns.
#[napi(object)]
pub struct RingInfo {
    pub id: u32,
    pub token: String,
    pub size: u32,
    pub slot_size: u32,
    pub multi: bool,
    /// The wait strategy, every parameter filled in.
    pub wait: WaitConfig,
}

/// The ring's identity and shape.
pub(crate) fn describe(ring: &RingState) -> RingInfo {
    RingInfo {
        id: ring.id,
        token: ring.token.clone(),
        size: ring.size,
        slot_size: ring.slot_size,
        multi: ring.multi,
        wait: ring.wait.clone(),
    }
}

/// Ring and consumer statistics (every thread's consumers).
pub(crate) fn ring_stats(ring: &RingState) -> NativeRingStats {
    let e = &ring.engine;
    let cursor = e.cursor();
    let directory = ring.directory();
    let consumers = e
        .consumers()
        .iter()
        .map(|c| {
            let sequence = c.sequence();
            let mut batch_sizes: Vec<f64> = c.batch_sizes().iter().map(|&n| n as f64).collect();
            while batch_sizes.last() == Some(&0.0) {
                batch_sizes.pop();
            }
            NativeConsumerStats {
                name: c.name().to_owned(),
                sequence: sequence as f64,
                lag: (cursor - sequence).max(0) as f64,
                batches: c.batches() as f64,
                events: c.events() as f64,
                largest_batch: c.largest_batch() as f64,
                wait_nanos: c.wait_nanos() as f64,
                errors: c.errors() as f64,
                skipped: c.skipped() as f64,
                state: match c.state() {
                    ConsumerState::Idle => "idle",
                    ConsumerState::Running => "running",
                    ConsumerState::Halted => "halted",
                    ConsumerState::Failed => "failed",
                }
                .to_owned(),
                last_error: c.last_error().map(|(s, m)| format!("at sequence {s}: {m}")),
                batch_sizes,
                serial: directory.serial_of(c),
            }
        })
        .collect();
    NativeRingStats {
        cursor: cursor as f64,
        remaining_capacity: ring.remaining() as f64,
        // Relaxed: statistics, an estimate while producers run.
        producer_wait_nanos: ring.producer_wait_nanos.load(Ordering::Relaxed) as f64,
        claims: ring.claims.load(Ordering::Relaxed) as f64,
        abandoned_events: e.abandoned().total() as f64,
        consumers,
    }
}
