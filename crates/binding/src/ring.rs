//! `NativeRing`: one JavaScript thread's handle on a ring, and its life cycle (create, attach,
//! describe, halt, detach, finalize). The engine does the work; the binding only converts
//! arguments, checks them, and plumbs consumers to thread-safe functions. Its other methods
//! live by concern in `produce`, `consume` and `views` (napi-rs merges the `#[napi] impl`s).

use std::ffi::c_void;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};

use crossbeam_utils::CachePadded;
use disruptor_core::Error;
use napi::bindgen_prelude::*;
use napi_derive::napi;

use crate::engine::{self, Engine};
use crate::error::{self as err, coded, Result};
use crate::instance::{lock, Instance, InstanceRef};
use crate::registry;
use crate::shared::{AbandonedFn, RingState};
use crate::stats::{self, NativeRingStats, RingInfo};
use crate::wait::WaitConfig;

/// One thread's handle on a ring (internal: the public API is `Disruptor` in the TypeScript).
#[napi(custom_finalize)]
pub struct NativeRing {
    pub(crate) ring: Arc<RingState>,
    pub(crate) inst: InstanceRef,
    /// The instance's id (the single-producer owner value), copied out of the lock.
    pub(crate) id: u64,
    /// The argument of this instance's env cleanup hook (a boxed weak reference to `inst`),
    /// freed by `finalize` after removing the hook.
    hook: *mut Weak<Mutex<Instance>>,
}

/// Env cleanup hook: the thread is going away (a worker that exits without closing, or the
/// process): detach its consumers and waits. Registered with the raw N-API call because
/// napi-rs 3.16's `add_env_cleanup_hook` never frees its box, which held the instance and so
/// the whole ring: a leak per ring.
unsafe extern "C" fn on_env_cleanup(arg: *mut c_void) {
    // SAFETY: `arg` is the boxed weak reference `with_instance` registered; it is freed only by
    // `finalize`, after removing this hook (or after it ran: removal then does nothing).
    let weak = unsafe { &*(arg as *const Weak<Mutex<Instance>>) };
    if let Some(inst) = weak.upgrade() {
        // Never unwind into Node.
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| lock(&inst).detach()));
    }
}

impl NativeRing {
    /// A new instance of `ring` for this thread, detached when the thread's env goes away.
    fn with_instance(env: &Env, ring: Arc<RingState>) -> Result<NativeRing> {
        let inst = Instance::new(ring.clone());
        let id = lock(&inst).id;
        // A thread that exits without closing (a worker that ends) must not leave consumers
        // gating the ring or threads calling into a dead environment.
        let hook = Box::into_raw(Box::new(Arc::downgrade(&inst)));
        // SAFETY: a valid env of this thread; `hook` stays allocated until `finalize`.
        let status = unsafe {
            napi::sys::napi_add_env_cleanup_hook(env.raw(), Some(on_env_cleanup), hook.cast())
        };
        if status != napi::sys::Status::napi_ok {
            // SAFETY: not registered, so nothing else holds it.
            drop(unsafe { Box::from_raw(hook) });
            return Err(coded("ERR_DISRUPTOR_NATIVE", "could not register the env cleanup hook"));
        }
        Ok(NativeRing { ring, inst, id, hook })
    }

    pub(crate) fn engine(&self) -> &dyn Engine {
        &*self.ring.engine
    }

    /// ERR_DISRUPTOR_CLOSED once this thread detached or the ring was halted.
    pub(crate) fn check_open(&self) -> Result<()> {
        if lock(&self.inst).detached || self.engine().is_closed() {
            return Err(err::engine(Error::Closed));
        }
        Ok(())
    }
}

impl ObjectFinalize for NativeRing {
    fn finalize(self, env: Env) -> napi::Result<()> {
        // SAFETY: the hook was registered on this env with this argument; after removal (or
        // after it ran, during env teardown) nothing refers to the box any more.
        unsafe {
            napi::sys::napi_remove_env_cleanup_hook(
                env.raw(),
                Some(on_env_cleanup),
                self.hook.cast(),
            );
            drop(Box::from_raw(self.hook));
        }
        lock(&self.inst).detach();
        Ok(())
    }
}

#[napi]
impl NativeRing {
    /// A new ring. Arguments are checked again here (the TypeScript checks them first).
    #[napi(constructor)]
    pub fn new(env: Env, size: f64, slot_size: f64, multi: bool, wait: WaitConfig) -> Result<Self> {
        let size = err::count("size", size, disruptor_core::MAX_BUFFER_SIZE)? as usize;
        let slot_size = err::count("slotSize", slot_size, disruptor_core::MAX_SLOT_SIZE)? as usize;
        let wait = wait.resolved()?;
        let engine = engine::build(size, slot_size, multi, wait.build()).map_err(err::engine)?;
        let (id, token) = registry::reserve();
        let ring = Arc::new(RingState {
            engine,
            id,
            token,
            size: size as u32,
            slot_size: slot_size as u32,
            multi,
            wait,
            owner: AtomicU64::new(0),
            producer_wait_nanos: AtomicU64::new(0),
            claims: AtomicU64::new(0),
            on_abandoned: Mutex::new(None),
            halted: CachePadded::new(AtomicBool::new(false)),
            directory: Default::default(),
        });
        registry::register(id, &ring);
        NativeRing::with_instance(&env, ring)
    }

    /// This thread's handle on the ring another thread shared.
    #[napi(factory)]
    pub fn attach(env: Env, id: u32, token: String) -> Result<NativeRing> {
        let ring = registry::find(id, &token).ok_or_else(|| {
            coded(
                "ERR_INVALID_ARG_VALUE",
                "not a handle of a live ring (forged, or its ring is gone)",
            )
        })?;
        if ring.engine.is_closed() {
            return Err(err::engine(Error::Closed));
        }
        NativeRing::with_instance(&env, ring)
    }

    /// Ring identity and shape.
    #[napi]
    pub fn describe(&self) -> RingInfo {
        stats::describe(&self.ring)
    }

    /// Ring and consumer statistics (every thread's consumers).
    #[napi]
    pub fn stats(&self) -> NativeRingStats {
        stats::ring_stats(&self.ring)
    }

    /// Whether every consumer finished everything up to `target` (a cursor: -1 ..= 2**53 - 1);
    /// throws ERR_DISRUPTOR_CONSUMER_HALTED when one failed.
    #[napi]
    pub fn drained(&self, target: f64) -> Result<bool> {
        let target = err::position("target", target)?;
        self.engine().is_drained_to(target).map_err(err::engine)
    }

    /// Calls `report([lo, hi])` on this thread for each range another thread abandons
    /// (claimed, then went away without publishing; consumers skip it). Weak: it never keeps
    /// this thread alive; it ends when this thread leaves the ring.
    #[napi]
    pub fn on_abandoned(&self, report: Function<Vec<f64>, ()>) -> Result<()> {
        let report: AbandonedFn = report
            .build_threadsafe_function::<Vec<f64>>()
            .callee_handled::<false>()
            .weak::<true>()
            .build()
            .map_err(err::napi)?;
        *self.ring.abandoned_listener() = Some((self.id, report));
        Ok(())
    }

    /// Refuses claims from now on, on every thread, and releases waiting ones with
    /// ERR_DISRUPTOR_CLOSED; what was claimed before may still be published, and consumers go
    /// on: the first step of `close()`, before its drain.
    #[napi]
    pub fn close_intake(&self) {
        self.engine().close_intake();
    }

    /// Stops the whole ring at once: producers and waits everywhere are released with
    /// ERR_DISRUPTOR_CLOSED, then this thread's consumers are removed.
    #[napi]
    pub fn halt(&self) {
        // Release: before the engine's halt flags the split cursor, so that a JavaScript
        // publish whose exchange returns that flag finds the ring halted (see `SplitCursor::flag`).
        self.ring.halted.store(true, Ordering::Release);
        self.engine().halt();
        lock(&self.inst).detach();
    }

    /// Removes this thread's consumers and waits, leaving the ring running for other threads.
    #[napi]
    pub fn detach(&self) {
        lock(&self.inst).detach();
    }

    /// Whether the ring refuses claims: its intake was closed or it was halted (by any thread).
    #[napi]
    pub fn is_closed(&self) -> bool {
        self.engine().is_closed()
    }

    /// Whether the ring was halted (by any thread): consumers stop, publishes are refused.
    #[napi]
    pub fn is_halted(&self) -> bool {
        // Acquire: pairs with `halt`'s Release store.
        self.ring.halted.load(Ordering::Acquire)
    }
}
