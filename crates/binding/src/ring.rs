//! `NativeRing`: one JavaScript thread's view of a ring. The engine does the work; this only
//! converts arguments, checks them, and plumbs consumers to thread-safe functions.

use std::cell::UnsafeCell;
use std::collections::HashMap;
use std::ffi::c_void;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::thread::JoinHandle;
use std::time::Instant;

use disruptor_core::{AnyWaitStrategy, ConsumerState, Dependency, Error, PollState};
use napi::bindgen_prelude::*;
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi_derive::napi;

use crate::engine::{self, Engine, Poller};
use crate::error::{self as err, coded, Result};
use crate::registry;
use crate::waker::{WakeFn, Waker};

/// A ring and what every thread attached to it shares.
pub(crate) struct Shared {
    engine: Arc<dyn Engine>,
    id: u32,
    token: String,
    size: u32,
    slot_size: u32,
    multi: bool,
    wait: String,
    /// For a single-producer ring: the instance allowed to claim (0: none yet).
    owner: AtomicU64,
    producer_wait_nanos: AtomicU64,
    /// Events claimed by threads that went away before publishing them, published on detach.
    abandoned: AtomicU64,
}

/// Distinguishes `NativeRing` instances (for the single-producer owner check).
static NEXT_INSTANCE: AtomicU64 = AtomicU64::new(1);

/// Calls the JS side back with a wait's outcome; strong: a pending `nextAsync` keeps the
/// process alive, as pending I/O does.
type DoneFn = ThreadsafeFunction<u32, (), u32, Status, false, false>;

/// How long a JS thread waits in one native call before it returns to JavaScript (which calls
/// again): short enough that `worker.terminate()` and `process.exit()` never wait on it for
/// long, long enough to cost nothing (20 returns a second while blocked).
const SLICE: std::time::Duration = std::time::Duration::from_millis(50);

/// What a blocking call returns when its slice of waiting ended without room.
const STILL_WAITING: f64 = -3.0;

/// Outcome codes of `waitForRoom`, given to its callback.
const ROOM: u32 = 0;
const WAIT_CLOSED: u32 = 1;
const WAIT_CANCELLED: u32 = 2;
const WAIT_HALTED: u32 = 3;

struct Consumer {
    poller: Box<dyn Poller>,
    waker: Option<Waker>,
}

/// A multi producer's current claim `[lo, hi]` still to publish, mirrored by JavaScript with
/// plain Float64Array stores (`[next, hi]`, see `MultiProducer` in index.ts), so that a thread
/// that goes away between a claim and its publish does not leave a hole that stops every
/// consumer for good: detach publishes what it left (as LMAX's publish-in-finally would).
struct ClaimMirror(UnsafeCell<[f64; 2]>);

// SAFETY: only the instance's own JS thread writes it (through its view) and reads it (in
// `detach`, which runs on that thread: close, halt, finalize or its env cleanup hook).
unsafe impl Send for ClaimMirror {}
// SAFETY: as above.
unsafe impl Sync for ClaimMirror {}

impl ClaimMirror {
    fn new() -> Arc<Self> {
        Arc::new(ClaimMirror(UnsafeCell::new([0.0, -1.0])))
    }

    /// The range still claimed and unpublished, if any.
    fn outstanding(&self) -> Option<(i64, i64)> {
        // SAFETY: see the Send/Sync impls: no write can run concurrently.
        let [lo, hi] = unsafe { std::ptr::read_volatile(self.0.get()) };
        let valid = |v: f64| v.fract() == 0.0 && (0.0..=err::MAX_SEQUENCE as f64).contains(&v);
        (valid(lo) && valid(hi) && lo <= hi).then_some((lo as i64, hi as i64))
    }
}

struct RoomWait {
    cancel: Arc<AtomicBool>,
    thread: JoinHandle<()>,
}

/// What one thread's `NativeRing` owns: its consumers and its pending asynchronous waits.
struct Instance {
    shared: Arc<Shared>,
    id: u64,
    consumers: Vec<Option<Consumer>>,
    claims: Arc<ClaimMirror>,
    waits: HashMap<u32, RoomWait>,
    next_wait: u32,
    detached: bool,
}

type InstanceRef = Arc<Mutex<Instance>>;

fn lock(inst: &InstanceRef) -> MutexGuard<'_, Instance> {
    inst.lock().unwrap_or_else(|e| e.into_inner())
}

impl Instance {
    fn consumer(&mut self, cid: u32) -> Result<&mut Consumer> {
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
    fn detach(&mut self) {
        if self.detached {
            return;
        }
        self.detached = true;
        let engine = self.shared.engine.clone();
        for c in self.consumers.iter_mut().filter_map(Option::take) {
            let Consumer { poller, waker } = c;
            drop(waker); // stops and joins the waker thread first
            engine.remove_poller(poller);
        }
        for w in self.waits.values() {
            w.cancel.store(true, Ordering::Release);
        }
        engine.signal();
        for (_, w) in self.waits.drain() {
            let _ = w.thread.join();
        }
        let _ = self.shared.owner.compare_exchange(self.id, 0, Ordering::AcqRel, Ordering::Relaxed);
        if let Some((lo, hi)) = self.claims.outstanding() {
            // Checked: only a range that is claimed and not yet published is published. Not
            // into a closed ring: nothing would consume it (and the thread's own publish of it
            // would have thrown ERR_DISRUPTOR_CLOSED).
            if self.shared.multi && !engine.is_closed() && engine.publish(lo, hi).is_ok() {
                // Relaxed: statistics.
                self.shared.abandoned.fetch_add((hi - lo + 1) as u64, Ordering::Relaxed);
            }
        }
    }
}

/// Per consumer statistics, as `stats()` reports them.
#[napi(object)]
pub struct ConsumerStats {
    pub name: String,
    pub sequence: f64,
    pub lag: f64,
    pub batches: f64,
    pub events: f64,
    pub largest_batch: f64,
    pub wait_nanos: f64,
    pub errors: f64,
    pub state: String,
    pub last_error: Option<String>,
}

/// Ring-wide statistics.
#[napi(object)]
pub struct RingStats {
    pub cursor: f64,
    pub remaining_capacity: f64,
    pub producer_wait_nanos: f64,
    pub abandoned_events: f64,
    pub consumers: Vec<ConsumerStats>,
}

/// What `share()` carries to another thread, and `describe()` returns.
#[napi(object)]
pub struct RingInfo {
    pub id: u32,
    pub token: String,
    pub size: u32,
    pub slot_size: u32,
    pub multi: bool,
    pub wait_strategy: String,
}

/// One thread's handle on a ring (internal: the public API is `Disruptor` in index.ts).
#[napi(custom_finalize)]
pub struct NativeRing {
    shared: Arc<Shared>,
    inst: InstanceRef,
    id: u64,
    /// The argument of this instance's env cleanup hook (a boxed weak reference to `inst`),
    /// freed by `finalize` after removing the hook.
    hook: *mut Weak<Mutex<Instance>>,
}

/// Env cleanup hook: the thread is going away (a worker that exits without closing, or the
/// process): detach its consumers and waits. Registered with the raw N-API call because
/// napi-rs 3.16's `add_env_cleanup_hook` never frees its box, which held the instance and so
/// the whole ring: a leak per ring.
unsafe extern "C" fn on_env_cleanup(arg: *mut c_void) {
    // SAFETY: `arg` is the boxed weak reference `new_instance` registered; it is freed only by
    // `finalize`, after removing this hook (or after it ran: removal then does nothing).
    let weak = unsafe { &*(arg as *const Weak<Mutex<Instance>>) };
    if let Some(inst) = weak.upgrade() {
        // Never unwind into Node.
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| lock(&inst).detach()));
    }
}

impl NativeRing {
    fn new_instance(env: &Env, shared: Arc<Shared>) -> Result<NativeRing> {
        let id = NEXT_INSTANCE.fetch_add(1, Ordering::Relaxed);
        let inst = Arc::new(Mutex::new(Instance {
            shared: shared.clone(),
            id,
            consumers: Vec::new(),
            claims: ClaimMirror::new(),
            waits: HashMap::new(),
            next_wait: 1,
            detached: false,
        }));
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
        Ok(NativeRing { shared, inst, id, hook })
    }

    fn engine(&self) -> &dyn Engine {
        &*self.shared.engine
    }

    fn check_producer(&self) -> Result<()> {
        if self.shared.multi {
            return Ok(());
        }
        // Relaxed on the fast path: the owner only changes through the CAS below.
        let owner = self.shared.owner.load(Ordering::Relaxed);
        if owner == self.id {
            return Ok(());
        }
        if owner == 0
            && self
                .shared
                .owner
                .compare_exchange(0, self.id, Ordering::AcqRel, Ordering::Relaxed)
                .is_ok()
        {
            return Ok(());
        }
        Err(coded(
            "ERR_DISRUPTOR_SINGLE_PRODUCER",
            "this ring has a single producer, on another thread; use producer: 'multi' to produce from several",
        ))
    }

    fn check_open(&self) -> Result<()> {
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
    /// A new ring. Arguments are checked again here (index.ts checks them first).
    #[napi(constructor)]
    pub fn new(
        env: Env,
        size: f64,
        slot_size: f64,
        multi: bool,
        wait_strategy: String,
    ) -> Result<Self> {
        let size = err::count("size", size, disruptor_core::MAX_BUFFER_SIZE)? as usize;
        let slot_size = err::count("slotSize", slot_size, disruptor_core::MAX_SLOT_SIZE)? as usize;
        let wait = AnyWaitStrategy::from_name(&wait_strategy).ok_or_else(|| {
            coded("ERR_INVALID_ARG_VALUE", format!("unknown wait strategy '{wait_strategy}'"))
        })?;
        let engine = engine::build(size, slot_size, multi, wait).map_err(err::engine)?;
        let (id, token) = registry::reserve();
        let shared = Arc::new(Shared {
            engine,
            id,
            token,
            size: size as u32,
            slot_size: slot_size as u32,
            multi,
            wait: wait_strategy,
            owner: AtomicU64::new(0),
            producer_wait_nanos: AtomicU64::new(0),
            abandoned: AtomicU64::new(0),
        });
        registry::register(id, &shared);
        NativeRing::new_instance(&env, shared)
    }

    /// This thread's handle on the ring another thread shared.
    #[napi(factory)]
    pub fn attach(env: Env, id: u32, token: String) -> Result<NativeRing> {
        let shared = registry::find(id, &token).ok_or_else(|| {
            coded(
                "ERR_INVALID_ARG_VALUE",
                "not a handle of a live ring (forged, or its ring is gone)",
            )
        })?;
        if shared.engine.is_closed() {
            return Err(err::engine(Error::Closed));
        }
        NativeRing::new_instance(&env, shared)
    }

    /// Ring identity and shape.
    #[napi]
    pub fn describe(&self) -> RingInfo {
        let s = &self.shared;
        RingInfo {
            id: s.id,
            token: s.token.clone(),
            size: s.size,
            slot_size: s.slot_size,
            multi: s.multi,
            wait_strategy: s.wait.clone(),
        }
    }

    /// An ArrayBuffer over the slots (create one per thread and keep it: see README).
    #[napi]
    pub fn buffer<'env>(&self, env: &'env Env) -> Result<ArrayBuffer<'env>> {
        let keep = self.shared.clone();
        let ptr = self.engine().base_ptr();
        let len = self.engine().len_bytes();
        // SAFETY: `ptr` is valid for `len` bytes for as long as the engine lives, and the
        // finalizer's `keep` holds the engine until the ArrayBuffer is collected.
        unsafe { ArrayBuffer::from_external(env, ptr, len, keep, |_, keep| drop(keep)) }
            .map_err(err::napi)
    }

    /// Claims `n` slots, waiting while full, or returns -3 after a slice of waiting (so that
    /// the JS thread comes back to JavaScript regularly: a terminating worker must be able to
    /// stop; JavaScript calls again). Refuses with WOULD_DEADLOCK when only this thread's
    /// consumers could make room.
    #[napi]
    pub fn next(&self, n: f64) -> Result<f64> {
        let n = err::count("n", n, self.shared.size as usize)?;
        self.check_producer()?;
        let engine = self.engine();
        loop {
            if let Ok(hi) = engine.try_next(n) {
                return self.claimed(hi, n);
            }
            self.check_open()?;
            let claimed = engine.claimed();
            err::check_headroom(claimed, n)?;
            let wrap = claimed + n - self.shared.size as i64;
            let waited = self.timed(|| {
                engine.wait_for_gating(
                    wrap,
                    claimed,
                    &mut |w| self.own_consumer_below(w),
                    Some(SLICE),
                )
            });
            match waited {
                Ok(_) => {}
                Err(Error::Timeout) => return Ok(STILL_WAITING),
                Err(e) => return Err(err::engine(e)),
            }
        }
    }

    /// Whether a running consumer of this thread has not passed `wrap`: a producer on this
    /// thread waiting for it would wait forever.
    fn own_consumer_below(&self, wrap: i64) -> bool {
        lock(&self.inst).consumers.iter().flatten().any(|c| {
            let info = c.poller.info();
            info.state() == ConsumerState::Running && info.sequence() < wrap
        })
    }

    /// Runs a producer wait, adding its duration to the producer wait time.
    fn timed<T>(&self, wait: impl FnOnce() -> T) -> T {
        let start = Instant::now();
        let result = wait();
        let waited = start.elapsed().as_nanos() as u64;
        // Relaxed: statistics.
        self.shared.producer_wait_nanos.fetch_add(waited, Ordering::Relaxed);
        result
    }

    fn claimed(&self, hi: i64, n: i64) -> Result<f64> {
        if hi > err::MAX_SEQUENCE {
            // Claimed but beyond exact numbers: publish nothing, report (unreachable in practice).
            err::check_headroom(hi - n, n)?;
        }
        Ok(hi as f64)
    }

    /// Claims `n` slots if there is room now; -1 if not.
    #[napi]
    pub fn try_next(&self, n: f64) -> Result<f64> {
        let n = err::count("n", n, self.shared.size as usize)?;
        self.check_producer()?;
        match self.engine().try_next(n) {
            Ok(hi) => self.claimed(hi, n),
            Err(Error::InsufficientCapacity) => Ok(-1.0),
            Err(e) => Err(err::engine(e)),
        }
    }

    /// Makes `[lo, hi]` visible to consumers.
    #[napi]
    pub fn publish(&self, lo: f64, hi: f64) -> Result<()> {
        let lo = err::sequence("lo", lo)?;
        let hi = err::sequence("hi", hi)?;
        self.check_producer()?;
        self.engine().publish(lo, hi).map_err(err::engine)
    }

    /// Single producer: makes this thread the ring's producer (ERR_DISRUPTOR_SINGLE_PRODUCER
    /// if another thread is) and returns the cursor, from which JavaScript claims on its own
    /// (see `reserve` and `cursorView`).
    #[napi]
    pub fn acquire_producer(&self) -> Result<f64> {
        if self.shared.multi {
            return Err(coded(
                "ERR_INVALID_ARG_VALUE",
                "a multi-producer ring has no single producer",
            ));
        }
        self.check_open()?;
        self.check_producer()?;
        Ok(self.engine().cursor() as f64)
    }

    /// Single producer: waits until every consumer passed `wrap` (the producer's next claim
    /// minus the ring size) and returns the slowest one's sequence; `claimed` is the producer's
    /// claim counter. ERR_DISRUPTOR_WOULD_DEADLOCK when only this thread's consumers could make
    /// room; with `wait` false, -2 at once when there is no room; -3 after a slice of waiting
    /// (call again).
    #[napi]
    pub fn reserve(&self, wrap: f64, claimed: f64, wait: bool) -> Result<f64> {
        let claimed = err::sequence("claimed", claimed + 1.0)? - 1;
        let wrap = wrap as i64;
        self.check_producer()?;
        let engine = self.engine();
        let min = engine.gating_minimum(claimed);
        if wrap <= min {
            return Ok(min as f64);
        }
        if !wait {
            self.check_open()?;
            return Ok(-2.0);
        }
        let result = self.timed(|| {
            engine.wait_for_gating(wrap, claimed, &mut |w| self.own_consumer_below(w), Some(SLICE))
        });
        match result {
            Ok(min) => Ok(min as f64),
            Err(Error::Timeout) => Ok(STILL_WAITING),
            Err(e) => Err(err::engine(e)),
        }
    }

    /// Wakes every thread sleeping in the wait strategy (after a publish through memory, when
    /// the sleeper count was not zero).
    #[napi]
    pub fn signal(&self) {
        self.engine().signal();
    }

    /// An 8-byte ArrayBuffer over the cursor, an i64: multi producers claim with a
    /// compare-and-exchange on it (see `MultiProducerSequencer::availability_flags`); a single
    /// producer stores its split cursor's epoch into it (once every 2^29 sequences, see
    /// `SplitCursor`). One per thread; keep it.
    #[napi]
    pub fn cursor_view<'env>(&self, env: &'env Env) -> Result<ArrayBuffer<'env>> {
        let atomic = self.engine().cursor_atomic();
        self.view(env, atomic.as_ptr().cast(), std::mem::size_of::<i64>())
    }

    /// Single producer: a 4-byte ArrayBuffer over the split cursor's low word (an i32): the
    /// producer swaps the low 31 bits of every publish into it with `Atomics.exchange` (after
    /// the epoch when `SplitCursor`'s rule asks for it; the old value's sign bit asks it to
    /// check for a waiter or a close), and consumers load it and extend it against
    /// their own position (a gating consumer is never more than a ring behind). One per
    /// thread; keep it.
    #[napi]
    pub fn published_low_view<'env>(&self, env: &'env Env) -> Result<ArrayBuffer<'env>> {
        match self.engine().published_low() {
            Some(low) => self.view(env, low.as_ptr().cast(), std::mem::size_of::<i32>()),
            None => {
                Err(coded("ERR_INVALID_ARG_VALUE", "a multi-producer ring has no split cursor"))
            }
        }
    }

    /// Multi producer: an ArrayBuffer over the availability flags (one i32 per slot), which
    /// JavaScript stores published laps into with `Atomics.store`. One per thread; keep it.
    #[napi]
    pub fn flags_view<'env>(&self, env: &'env Env) -> Result<ArrayBuffer<'env>> {
        let flags = self.engine().availability_flags();
        if flags.is_empty() {
            return Err(coded(
                "ERR_INVALID_ARG_VALUE",
                "a single-producer ring has no availability flags",
            ));
        }
        self.view(env, flags.as_ptr() as *mut u8, std::mem::size_of_val(flags))
    }

    /// Multi producer: a 16-byte ArrayBuffer (two f64) where this thread mirrors its claim
    /// still to publish, `[next, hi]` (see `ClaimMirror`). One per instance.
    #[napi]
    pub fn claims_view<'env>(&self, env: &'env Env) -> Result<ArrayBuffer<'env>> {
        let mirror = lock(&self.inst).claims.clone();
        let ptr = mirror.0.get().cast::<u8>();
        // SAFETY: the mirror is 16 bytes, lives as long as the finalizer's `keep` (and the
        // instance) holds it; only this thread accesses it.
        unsafe { ArrayBuffer::from_external(env, ptr, 16, mirror, |_, keep| drop(keep)) }
            .map_err(err::napi)
    }

    /// A 1-byte ArrayBuffer over the ring's closed flag (set once, by a halt on any thread):
    /// JavaScript's fast paths read it to refuse calls after a close. One per thread; keep it.
    #[napi]
    pub fn closed_view<'env>(&self, env: &'env Env) -> Result<ArrayBuffer<'env>> {
        let flag = self.engine().closed_flag();
        self.view(env, flag.as_ptr().cast(), std::mem::size_of::<bool>())
    }

    /// Multi producer: the slowest consumer's sequence (the claim cursor if there is none),
    /// for JavaScript's cached claim check.
    #[napi]
    pub fn gating_minimum(&self) -> f64 {
        let e = self.engine();
        e.gating_minimum(e.claimed()) as f64
    }

    /// A 4-byte ArrayBuffer over the wait strategy's sleeper count (read with `Atomics.load`
    /// after publishing; non-zero: call `signal`), or null for strategies that never sleep.
    #[napi]
    pub fn sleepers_view<'env>(&self, env: &'env Env) -> Result<Option<ArrayBuffer<'env>>> {
        match self.engine().sleeper_count() {
            Some(count) => {
                Ok(Some(self.view(env, count.as_ptr().cast(), std::mem::size_of::<u32>())?))
            }
            None => Ok(None),
        }
    }

    fn view<'env>(&self, env: &'env Env, ptr: *mut u8, len: usize) -> Result<ArrayBuffer<'env>> {
        let keep = self.shared.clone();
        // SAFETY: `ptr` points into the engine (an atomic inside its sequencer, which never
        // moves), valid for `len` bytes while the engine lives; the finalizer's `keep` holds
        // the engine until the ArrayBuffer is collected. JavaScript only accesses it with
        // Atomics of the same width as the Rust atomic.
        unsafe { ArrayBuffer::from_external(env, ptr, len, keep, |_, keep| drop(keep)) }
            .map_err(err::napi)
    }

    /// The highest published sequence up to which everything is published.
    #[napi]
    pub fn cursor(&self) -> f64 {
        self.engine().cursor() as f64
    }

    /// Slots that can be claimed now without waiting.
    #[napi]
    pub fn remaining_capacity(&self) -> f64 {
        remaining(&self.shared) as f64
    }

    /// Waits on a native thread until `n` slots are free, then calls `done(code)`:
    /// 0 room, 1 closed, 2 cancelled, 3 a consumer halted. Returns an id for `cancelWait`.
    #[napi]
    pub fn wait_for_room(
        &self,
        n: f64,
        done: Function<u32, ()>,
        claimed: Option<f64>,
    ) -> Result<u32> {
        let n = err::count("n", n, self.shared.size as usize)?;
        let claimed = match claimed {
            Some(c) => Some(err::sequence("claimed", c + 1.0)? - 1),
            None => None,
        };
        self.check_producer()?;
        let done: DoneFn = done
            .build_threadsafe_function::<u32>()
            .callee_handled::<false>()
            .weak::<false>()
            .build()
            .map_err(err::napi)?;
        let mut inst = lock(&self.inst);
        if inst.detached {
            return Err(err::engine(Error::Closed));
        }
        inst.waits.retain(|_, w| !w.thread.is_finished());
        let id = inst.next_wait;
        inst.next_wait = inst.next_wait.wrapping_add(1).max(1);
        let cancel = Arc::new(AtomicBool::new(false));
        let (engine, flag) = (self.shared.engine.clone(), cancel.clone());
        let size = self.shared.size as i64;
        let thread = std::thread::Builder::new()
            .name("disruptor-room".into())
            .spawn(move || {
                let mut cancelled = |_| flag.load(Ordering::Acquire);
                let result = match claimed {
                    // A single producer's claims are in JavaScript: wait for room after them.
                    Some(c) => {
                        engine.wait_for_gating(c + n - size, c, &mut cancelled, None).map(|_| ())
                    }
                    None => engine.wait_for_room(n, &mut cancelled),
                };
                let code = match result {
                    Ok(()) => ROOM,
                    Err(Error::WouldDeadlock) => WAIT_CANCELLED,
                    Err(Error::ConsumerHalted { .. }) => WAIT_HALTED,
                    Err(_) => WAIT_CLOSED,
                };
                done.call(code, ThreadsafeFunctionCallMode::NonBlocking);
            })
            .map_err(|e| err::engine(Error::ThreadSpawn(e.to_string())))?;
        inst.waits.insert(id, RoomWait { cancel, thread });
        Ok(id)
    }

    /// Ends a `waitForRoom` early (its callback then gets 2, cancelled, unless it already ran).
    #[napi]
    pub fn cancel_wait(&self, id: u32) {
        if let Some(w) = lock(&self.inst).waits.get(&id) {
            w.cancel.store(true, Ordering::Release);
            self.engine().signal();
        }
    }

    /// Adds a consumer driven by this thread; it sees a sequence after every consumer in
    /// `after` (ids on this thread) finished it. Returns its id.
    #[napi]
    pub fn add_consumer(&self, name: String, after: Vec<u32>) -> Result<u32> {
        let mut inst = lock(&self.inst);
        let mut deps: Vec<Dependency> = Vec::with_capacity(after.len());
        for cid in after {
            deps.push(inst.consumer(cid)?.poller.dependency());
        }
        if inst.detached {
            return Err(err::engine(Error::Closed));
        }
        let poller = self.engine().add_poller(name, &deps).map_err(err::engine)?;
        inst.consumers.push(Some(Consumer { poller, waker: None }));
        Ok((inst.consumers.len() - 1) as u32)
    }

    /// Gives consumer `cid` a waker thread that calls `wake()` when armed and events arrive.
    #[napi]
    pub fn set_waker(&self, cid: u32, wake: Function<(), ()>) -> Result<()> {
        let wake: WakeFn = wake
            .build_threadsafe_function::<()>()
            .callee_handled::<false>()
            .weak::<true>()
            .build()
            .map_err(err::napi)?;
        let mut inst = lock(&self.inst);
        let c = inst.consumer(cid)?;
        if c.waker.is_some() {
            return Err(coded("ERR_INVALID_ARG_VALUE", "consumer already has a waker"));
        }
        // Linux keeps 15 bytes of a thread name; a NUL would make the OS call fail.
        let name: String = format!("dsr-{}", c.poller.info().name())
            .chars()
            .map(|ch| if ch == '\0' { '_' } else { ch })
            .take(15)
            .collect();
        c.waker = Some(Waker::spawn(name, c.poller.waiter(), wake).map_err(err::engine)?);
        Ok(())
    }

    /// Asks consumer `cid`'s waker for one call once sequence `next` is available.
    #[napi]
    pub fn arm(&self, cid: u32, next: f64) -> Result<()> {
        let next = err::sequence("next", next)?;
        let mut inst = lock(&self.inst);
        match &inst.consumer(cid)?.waker {
            Some(w) => {
                w.arm(next);
                Ok(())
            }
            None => Err(coded("ERR_INVALID_ARG_VALUE", "consumer has no waker")),
        }
    }

    /// The highest sequence available to consumer `cid`, or -1 (nothing claimed) or -2 (next
    /// one claimed but not yet available). Throws ERR_DISRUPTOR_CLOSED once halted.
    #[napi]
    pub fn poll(&self, cid: u32) -> Result<f64> {
        let mut inst = lock(&self.inst);
        poll(inst.consumer(cid)?)
    }

    /// Marks `[lo, hi]` processed by consumer `cid`, then polls as `poll` does.
    #[napi]
    pub fn release(&self, cid: u32, lo: f64, hi: f64) -> Result<f64> {
        let lo = err::sequence("lo", lo)?;
        let hi = err::sequence("hi", hi)?;
        let mut inst = lock(&self.inst);
        let c = inst.consumer(cid)?;
        c.poller.release(lo, hi).map_err(err::engine)?;
        poll(c)
    }

    /// An 8-byte ArrayBuffer over consumer `cid`'s sequence (an i64): JavaScript reads it for
    /// consumers that depend on this one and stores its progress into it. One per consumer.
    #[napi]
    pub fn sequence_view<'env>(&self, env: &'env Env, cid: u32) -> Result<ArrayBuffer<'env>> {
        let mut inst = lock(&self.inst);
        let poller = &inst.consumer(cid)?.poller;
        let ptr = poller.sequence_atomic().as_ptr();
        // The dependency handle holds the sequence itself (the poller may be removed first).
        let keep = (self.shared.clone(), poller.dependency());
        // SAFETY: `ptr` points into the sequence `keep` holds alive until the ArrayBuffer is
        // collected; JavaScript accesses it only with 64-bit Atomics.
        unsafe {
            ArrayBuffer::from_external(env, ptr.cast(), std::mem::size_of::<i64>(), keep, |_, k| {
                drop(k)
            })
        }
        .map_err(err::napi)
    }

    /// Statistics consumer `cid` kept in JavaScript: batches, events, largest batch so far.
    #[napi]
    pub fn report(&self, cid: u32, batches: f64, events: f64, largest_batch: f64) -> Result<()> {
        let mut inst = lock(&self.inst);
        inst.consumer(cid)?.poller.set_counters(
            batches as u64,
            events as u64,
            largest_batch as u64,
        );
        Ok(())
    }

    /// The last sequence consumer `cid` finished.
    #[napi]
    pub fn consumer_sequence(&self, cid: u32) -> Result<f64> {
        let mut inst = lock(&self.inst);
        Ok(inst.consumer(cid)?.poller.sequence() as f64)
    }

    /// Consumer `cid` skipped `sequence` after an error (counted, kept as its last error).
    #[napi]
    pub fn record_error(&self, cid: u32, sequence: f64, message: String) -> Result<()> {
        let mut inst = lock(&self.inst);
        inst.consumer(cid)?.poller.record_error(sequence as i64, &message);
        Ok(())
    }

    /// Consumer `cid` halted on an error at `sequence`: producers and drains learn it.
    #[napi]
    pub fn fail(&self, cid: u32, sequence: f64, message: String) -> Result<()> {
        let mut inst = lock(&self.inst);
        let c = inst.consumer(cid)?;
        if let Some(w) = c.waker.as_mut() {
            w.stop();
        }
        c.poller.fail(sequence as i64, &message);
        Ok(())
    }

    /// Removes consumer `cid`: its waker stops, it no longer gates producers.
    #[napi]
    pub fn remove_consumer(&self, cid: u32) -> Result<()> {
        let mut inst = lock(&self.inst);
        inst.consumer(cid)?;
        if let Some(Consumer { poller, waker }) = inst.consumers[cid as usize].take() {
            drop(waker);
            self.engine().remove_poller(poller);
        }
        Ok(())
    }

    /// Whether every consumer finished everything up to `target`; throws
    /// ERR_DISRUPTOR_CONSUMER_HALTED when one failed.
    #[napi]
    pub fn drained(&self, target: f64) -> Result<bool> {
        self.engine().is_drained_to(target as i64).map_err(err::engine)
    }

    /// Ring and consumer statistics (every thread's consumers).
    #[napi]
    pub fn stats(&self) -> RingStats {
        let e = self.engine();
        let cursor = e.cursor();
        let consumers = e
            .consumers()
            .iter()
            .map(|c| {
                let sequence = c.sequence();
                ConsumerStats {
                    name: c.name().to_owned(),
                    sequence: sequence as f64,
                    lag: (cursor - sequence).max(0) as f64,
                    batches: c.batches() as f64,
                    events: c.events() as f64,
                    largest_batch: c.largest_batch() as f64,
                    wait_nanos: c.wait_nanos() as f64,
                    errors: c.errors() as f64,
                    state: match c.state() {
                        ConsumerState::Idle => "idle",
                        ConsumerState::Running => "running",
                        ConsumerState::Halted => "halted",
                        ConsumerState::Failed => "failed",
                    }
                    .to_owned(),
                    last_error: c.last_error().map(|(s, m)| format!("at sequence {s}: {m}")),
                }
            })
            .collect();
        RingStats {
            cursor: cursor as f64,
            remaining_capacity: remaining(&self.shared) as f64,
            producer_wait_nanos: self.shared.producer_wait_nanos.load(Ordering::Relaxed) as f64,
            abandoned_events: self.shared.abandoned.load(Ordering::Relaxed) as f64,
            consumers,
        }
    }

    /// Stops the whole ring at once: producers and waits everywhere are released with
    /// ERR_DISRUPTOR_CLOSED, then this thread's consumers are removed.
    #[napi]
    pub fn halt(&self) {
        self.engine().halt();
        lock(&self.inst).detach();
    }

    /// Removes this thread's consumers and waits, leaving the ring running for other threads.
    #[napi]
    pub fn detach(&self) {
        lock(&self.inst).detach();
    }

    /// Whether the ring was halted (by any thread).
    #[napi]
    pub fn is_closed(&self) -> bool {
        self.engine().is_closed()
    }
}

/// Free slots. A single producer claims in JavaScript (the engine does not see its claims),
/// so there it is counted from the published cursor: exact when nothing is claimed unpublished.
fn remaining(shared: &Shared) -> i64 {
    let e = &shared.engine;
    if shared.multi {
        return e.remaining_capacity();
    }
    let cursor = e.cursor();
    shared.size as i64 - (cursor - e.gating_minimum(cursor))
}

fn poll(c: &mut Consumer) -> Result<f64> {
    match c.poller.available().map_err(err::engine)? {
        Ok((_, hi)) => Ok(hi as f64),
        Err(PollState::Gating) => Ok(-2.0),
        Err(_) => Ok(-1.0),
    }
}
