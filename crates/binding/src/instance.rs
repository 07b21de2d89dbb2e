//! [`Instance`]: what one JavaScript thread's `NativeRing` owns (its consumers, its pending
//! `waitForRoom` threads and its claim mirror), and how it lets go of them on detach.

use std::cell::{RefCell, UnsafeCell};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::thread::JoinHandle;

use disruptor_core::Error;

use crate::engine::{ConsumerHandle, Engine};
use crate::error::{self as err, coded, Result};
use crate::shared::RingState;
use crate::waker::Waker;

/// Distinguishes instances (for the single-producer owner check); 0 means none.
static NEXT_INSTANCE: AtomicU64 = AtomicU64::new(1);

thread_local! {
    /// This thread's instances, of every ring (a JavaScript thread is one OS thread). One thread
    /// may hold two instances of a ring (`attach` of its own `share()`): a producer that waits
    /// for room must see the consumers of both.
    static THREAD_INSTANCES: RefCell<Vec<Weak<Mutex<Instance>>>> = const { RefCell::new(Vec::new()) };
}

/// Records `inst` as one of this thread's instances (and forgets those that are gone).
fn register_on_this_thread(inst: &InstanceRef) {
    THREAD_INSTANCES.with(|list| {
        let mut list = list.borrow_mut();
        list.retain(|w| w.strong_count() > 0);
        list.push(Arc::downgrade(inst));
    });
}

/// Whether `test` holds for an instance of ring `ring_id` on this thread that is not detached
/// (each locked in turn, none while another is held).
pub(crate) fn any_on_this_thread(ring_id: u32, mut test: impl FnMut(&Instance) -> bool) -> bool {
    let live: Vec<InstanceRef> =
        THREAD_INSTANCES.with(|list| list.borrow().iter().filter_map(Weak::upgrade).collect());
    live.iter().any(|inst| {
        let inst = lock(inst);
        !inst.detached && inst.ring.id == ring_id && test(&inst)
    })
}

/// A consumer this thread drives, with its waker thread once it has one.
pub(crate) struct Consumer {
    pub(crate) handle: Box<dyn ConsumerHandle>,
    pub(crate) waker: Option<Waker>,
}

/// A native thread waiting for room for one `nextAsync`, and the flag that cancels it.
pub(crate) struct RoomWaitThread {
    pub(crate) cancel: Arc<AtomicBool>,
    pub(crate) thread: JoinHandle<()>,
}

impl RoomWaitThread {
    /// Asks the thread to give up; the caller then signals the wait strategy to wake it.
    pub(crate) fn cancel(&self) {
        // Release: pairs with the thread's Acquire load in its refuse check (the flag is all
        // it carries; the signal that follows wakes the thread to look).
        self.cancel.store(true, Ordering::Release);
    }
}

/// A multi producer's current claim `[lo, hi]` still to publish, mirrored by JavaScript with
/// plain Float64Array stores (`[next, hi]`, see `MultiProducer` in the TypeScript), so that a
/// thread that goes away between a claim and its publish does not leave a hole that stops every
/// consumer for good: detach abandons what it left (consumers skip it). A claim made natively
/// (`next`, on a full ring) is recorded here before it returns to JavaScript: a thread
/// terminated on the way back must not leave its claim unrecorded.
pub(crate) struct ClaimMirror(UnsafeCell<[f64; 2]>);

// SAFETY: only the instance's own JS thread writes it (through its view) and reads it (in
// `detach`, which runs on that thread: close, halt, finalize or its env cleanup hook).
unsafe impl Send for ClaimMirror {}
// SAFETY: as above.
unsafe impl Sync for ClaimMirror {}

impl ClaimMirror {
    fn new() -> Arc<Self> {
        Arc::new(ClaimMirror(UnsafeCell::new([0.0, -1.0])))
    }

    /// Records a claim `[lo, hi]` made for this thread by a native call.
    pub(crate) fn record(&self, lo: i64, hi: i64) {
        // SAFETY: see the Send/Sync impls: this runs on the instance's own JS thread, which is
        // in this native call, so nothing else reads or writes it meanwhile.
        unsafe { std::ptr::write_volatile(self.0.get(), [lo as f64, hi as f64]) }
    }

    /// The two numbers JavaScript writes (for `claimsView`).
    pub(crate) fn cell(&self) -> &UnsafeCell<[f64; 2]> {
        &self.0
    }

    /// The range still claimed and unpublished, if any.
    pub(crate) fn outstanding(&self) -> Option<(i64, i64)> {
        // SAFETY: see the Send/Sync impls: no write can run concurrently.
        let [lo, hi] = unsafe { std::ptr::read_volatile(self.0.get()) };
        let valid = |v: f64| v.fract() == 0.0 && (0.0..=err::MAX_SEQUENCE as f64).contains(&v);
        (valid(lo) && valid(hi) && lo <= hi).then_some((lo as i64, hi as i64))
    }
}

/// What one thread's `NativeRing` owns: its consumers and its pending asynchronous waits.
pub(crate) struct Instance {
    pub(crate) ring: Arc<RingState>,
    /// This instance's id (the single-producer owner value).
    pub(crate) id: u64,
    /// By consumer id; `None` once removed (ids are never reused).
    pub(crate) consumers: Vec<Option<Consumer>>,
    pub(crate) claims: Arc<ClaimMirror>,
    /// Older claims of this thread still open when it claimed again (the mirror holds only the
    /// latest): abandoned on detach as well, for what of them is unpublished.
    pub(crate) older_claims: Vec<(i64, i64)>,
    pub(crate) waits: HashMap<u32, RoomWaitThread>,
    pub(crate) next_wait: u32,
    pub(crate) detached: bool,
}

/// An instance as its `NativeRing` and its env cleanup hook share it.
pub(crate) type InstanceRef = Arc<Mutex<Instance>>;

/// Locks the instance (a panic while it was held does not make it unusable: detach must run).
pub(crate) fn lock(inst: &InstanceRef) -> MutexGuard<'_, Instance> {
    inst.lock().unwrap_or_else(|e| e.into_inner())
}

impl Instance {
    /// A new instance of `ring` with a fresh id, one of this thread's.
    pub(crate) fn new(ring: Arc<RingState>) -> InstanceRef {
        // Relaxed: only uniqueness matters, which the atomic increment gives.
        let id = NEXT_INSTANCE.fetch_add(1, Ordering::Relaxed);
        let inst = Arc::new(Mutex::new(Instance {
            ring,
            id,
            consumers: Vec::new(),
            claims: ClaimMirror::new(),
            older_claims: Vec::new(),
            waits: HashMap::new(),
            next_wait: 1,
            detached: false,
        }));
        register_on_this_thread(&inst);
        inst
    }

    /// Consumer `cid` of this thread; ERR_DISRUPTOR_CLOSED once detached.
    pub(crate) fn consumer(&mut self, cid: u32) -> Result<&mut Consumer> {
        if self.detached {
            return Err(err::engine(Error::Closed));
        }
        match self.consumers.get_mut(cid as usize) {
            Some(Some(c)) => Ok(c),
            _ => Err(coded("ERR_INVALID_ARG_VALUE", format!("no consumer {cid} on this thread"))),
        }
    }

    /// Stops this thread's consumers and waits, and lets go of the producer role: what a
    /// thread does when it closes the ring or exits without closing it.
    pub(crate) fn detach(&mut self) {
        if self.detached {
            return;
        }
        self.detached = true;
        let engine = self.ring.engine.clone();
        // Its 'abandoned' listener goes before its environment can.
        let mut listener = self.ring.abandoned_listener();
        if listener.as_ref().is_some_and(|(id, _)| *id == self.id) {
            *listener = None;
        }
        drop(listener);
        // Newest first: a consumer depends only on older ones of the same thread, so each is
        // free to go when its turn comes.
        for c in self.consumers.iter_mut().rev().filter_map(Option::take) {
            let Consumer { handle, waker } = c;
            drop(waker); // stops and joins the waker thread first
            let refused = engine.remove_consumer(handle).err();
            debug_assert!(refused.is_none(), "removed newest first, none has dependents left");
        }
        self.ring.directory().forget(self.id);
        for w in self.waits.values() {
            w.cancel();
        }
        engine.signal();
        for (_, w) in self.waits.drain() {
            let _ = w.thread.join();
        }
        // AcqRel: hands the producer role back; the next owner's Acquire CAS then sees all
        // this thread did as producer. Relaxed on failure: not the owner, nothing to hand over.
        let _ = self.ring.owner.compare_exchange(self.id, 0, Ordering::AcqRel, Ordering::Relaxed);
        // What this thread claimed and never published: abandoned (marked, then published so
        // that the ring moves on; every consumer skips it). Not into a halted ring: nothing
        // would consume it (and the thread's own publish of it would have thrown).
        // Acquire: pairs with `halt`'s Release store.
        if !self.ring.multi || self.ring.halted.load(Ordering::Acquire) {
            return;
        }
        let open = self.older_claims.drain(..).chain(self.claims.outstanding());
        for (lo, hi) in open.collect::<Vec<_>>() {
            self.abandon_unpublished(&*engine, lo, hi);
        }
    }

    /// Abandons each run of `[lo, hi]` that is not published: a thread terminated part-way
    /// through a batch publish published a prefix of it, and one may publish its claims out of
    /// order. Checked: only sequences claimed and not yet published are abandoned.
    fn abandon_unpublished(&self, engine: &dyn Engine, lo: i64, hi: i64) {
        let mut s = lo;
        while s <= hi {
            if engine.is_published(s) {
                s += 1;
                continue;
            }
            let start = s;
            while s <= hi && !engine.is_published(s) {
                s += 1;
            }
            if engine.abandon(start, s - 1).is_ok() {
                self.ring.report_abandoned(start, s - 1);
            }
        }
    }

    /// Keeps `[lo, hi]`, a claim of this thread still open when it claims again, for `detach`
    /// (dropping kept claims that are fully published by now).
    pub(crate) fn keep_claim(&mut self, engine: &dyn Engine, lo: i64, hi: i64) {
        self.older_claims.retain(|&(l, h)| (l..=h).any(|s| !engine.is_published(s)));
        if !self.older_claims.contains(&(lo, hi)) {
            self.older_claims.push((lo, hi));
        }
    }
}
