//! [`RingState`]: a ring and what every JavaScript thread attached to it shares (one per ring;
//! each thread's `NativeRing` and the registry hold it).

use std::sync::atomic::{AtomicBool, AtomicU64};
use std::sync::{Arc, Mutex};

use crossbeam_utils::CachePadded;
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi::Status;

use crate::engine::Engine;
use crate::removal::SharedDirectory;
use crate::wait::WaitConfig;

/// A ring and what every thread attached to it shares.
pub(crate) struct RingState {
    pub(crate) engine: Arc<dyn Engine>,
    /// Registry id and token: what `share()` carries to another thread.
    pub(crate) id: u32,
    pub(crate) token: String,
    pub(crate) size: u32,
    pub(crate) slot_size: u32,
    pub(crate) multi: bool,
    /// The wait strategy, every parameter filled in.
    pub(crate) wait: WaitConfig,
    /// For a single-producer ring: the instance allowed to claim (0: none yet).
    pub(crate) owner: AtomicU64,
    /// Statistics: time producers spent waiting for room in native calls...
    pub(crate) producer_wait_nanos: AtomicU64,
    /// ...and claims, as the producing threads reported them (`reportClaims`).
    pub(crate) claims: AtomicU64,
    /// Called with `[lo, hi]` for each range a thread abandoned (claimed, then went away
    /// without publishing): the creating thread's 'abandoned' event, with the id of the
    /// instance that registered it. Weak: it never keeps that thread alive; dropped when that
    /// instance detaches (before its environment can go away).
    pub(crate) on_abandoned: Mutex<Option<(u64, AbandonedFn)>>,
    /// Set once by `halt`, before the engine halts: consumers stop and publishes are refused.
    /// The sequencer's closed flag says less: claims are refused (intake closed, see
    /// `closeIntake`), while what was claimed before may still be published and consumed.
    /// A line of its own: JavaScript consumers read it on every poll.
    pub(crate) halted: CachePadded<AtomicBool>,
    /// Every thread's consumers, by name, and where requests to remove them go (`removal`).
    pub(crate) directory: SharedDirectory,
}

/// The creating thread's callback for abandoned ranges (see `RingState::on_abandoned`).
pub(crate) type AbandonedFn = ThreadsafeFunction<Vec<f64>, (), Vec<f64>, Status, false, true>;

impl RingState {
    /// Tells the creating thread that `[lo, hi]` was abandoned (if it still listens).
    pub(crate) fn report_abandoned(&self, lo: i64, hi: i64) {
        if let Some((_, f)) = self.abandoned_listener().as_ref() {
            f.call(vec![lo as f64, hi as f64], ThreadsafeFunctionCallMode::NonBlocking);
        }
    }

    /// The listener of `on_abandoned`, locked.
    pub(crate) fn abandoned_listener(
        &self,
    ) -> std::sync::MutexGuard<'_, Option<(u64, AbandonedFn)>> {
        self.on_abandoned.lock().unwrap_or_else(|e| e.into_inner())
    }

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
