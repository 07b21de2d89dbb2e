//! [`RingState`]: a ring and what every JavaScript thread attached to it shares (one per ring;
//! each thread's `NativeRing` and the registry hold it).

use std::sync::atomic::{AtomicBool, AtomicU64};
use std::sync::Arc;

use crossbeam_utils::CachePadded;

use crate::engine::Engine;

/// A ring and what every thread attached to it shares.
pub(crate) struct RingState {
    pub(crate) engine: Arc<dyn Engine>,
    /// Registry id and token: what `share()` carries to another thread.
    pub(crate) id: u32,
    pub(crate) token: String,
    pub(crate) size: u32,
    pub(crate) slot_size: u32,
    pub(crate) multi: bool,
    /// The wait strategy's name, as given.
    pub(crate) wait: String,
    /// For a single-producer ring: the instance allowed to claim (0: none yet).
    pub(crate) owner: AtomicU64,
    /// Statistics: time producers spent waiting for room in native calls.
    pub(crate) producer_wait_nanos: AtomicU64,
    /// Events claimed by threads that went away before publishing them, published on detach.
    pub(crate) abandoned: AtomicU64,
    /// Set once by `halt`, before the engine halts: consumers stop and publishes are refused.
    /// The sequencer's closed flag says less: claims are refused (intake closed, see
    /// `closeIntake`), while what was claimed before may still be published and consumed.
    /// A line of its own: JavaScript consumers read it on every poll.
    pub(crate) halted: CachePadded<AtomicBool>,
}

impl RingState {
    /// Free slots. A single producer claims in JavaScript (the engine does not see its
    /// claims), so there it is counted from the published cursor: exact when nothing is
    /// claimed unpublished.
    pub(crate) fn remaining(&self) -> i64 {
        let e = &self.engine;
        if self.multi {
            return e.remaining_capacity();
        }
        let cursor = e.cursor();
        self.size as i64 - (cursor - e.gating_minimum(cursor))
    }
}
