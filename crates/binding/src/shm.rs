//! Shared rings (`disruptor_core::shm`) for JavaScript: `NativeSharedRing` (create, open,
//! unlink, the slots, stats) with its producer and consumer handles. Only conversion: the
//! protocol, liveness and recovery live in the engine. Waits that must not block the event
//! loop run on libuv's pool (`waitForAsync`, `waitForRoomAsync`) in slices the caller bounds.
//! Unix only; elsewhere the class is absent and the TypeScript layer says so.

use std::cell::{RefCell, RefMut};
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use disruptor_core::shm::{
    SharedConsumer, SharedProducer, SharedRing, SharedRingOptions, SharedRingStats,
};
use napi::bindgen_prelude::*;
use napi_derive::napi;

use crate::error::{self as err, coded, Result};
use crate::fast::{self, Callback, Out};

/// How `NativeSharedRing.create` makes a ring (checked again by the engine).
#[napi(object)]
pub struct SharedRingInit {
    /// The ring's name (see `validate_name`).
    pub name: String,
    /// Slots, a power of two.
    pub size: f64,
    /// Bytes per slot, a multiple of 8.
    pub slot_size: f64,
    /// File mode bits (default 0o600).
    pub mode: Option<f64>,
    /// Producer handles at once, over all processes (default 16).
    pub max_producers: Option<f64>,
    /// Consumers at once, over all processes (default 16).
    pub max_consumers: Option<f64>,
    /// The event layout, as JSON text (recorded for `open`).
    pub layout: Option<String>,
    /// One producer at a time, claiming and publishing in its own words (default false).
    pub single_producer: Option<bool>,
}

/// Byte offsets in `control()` of a single-producer ring's producer words
/// (`disruptor_core::shm::SingleProducerWords`).
#[napi(object)]
pub struct NativeSingleWords {
    /// The cursor's epoch (i64).
    pub epoch: u32,
    /// The cursor's low word (i32).
    pub low: u32,
    /// Intake closed (i32).
    pub closed: u32,
    /// The producer's claim word (i32).
    pub claim: u32,
}

/// A producer entry of `stats()`.
#[napi(object)]
pub struct SharedProducerStats {
    /// Its process.
    pub pid: u32,
    /// Whether that process runs.
    pub alive: bool,
    /// Sequences it published.
    pub published: f64,
    /// Its claim `[lo, hi]`, if it holds one.
    pub claim: Option<Vec<f64>>,
}

/// A consumer entry of `stats()`.
#[napi(object)]
pub struct SharedConsumerStats {
    /// Its name.
    pub name: String,
    /// Its process.
    pub pid: u32,
    /// Whether that process runs.
    pub alive: bool,
    /// The last sequence it finished.
    pub sequence: f64,
    /// `cursor - sequence`.
    pub lag: f64,
    /// Events received.
    pub events: f64,
    /// Batches received.
    pub batches: f64,
}

/// `stats()` of a shared ring: the same in every process.
#[napi(object)]
pub struct NativeSharedStats {
    /// The highest claimed sequence.
    pub cursor: f64,
    /// Whether intake is closed.
    pub closed: bool,
    /// Whether the ring is single-producer.
    pub single_producer: bool,
    /// Threads (of any process) asleep waiting for events.
    pub consumers_asleep: u32,
    /// Threads (of any process) asleep waiting for room.
    pub producers_asleep: u32,
    /// Sequences abandoned (never delivered).
    pub abandoned: f64,
    /// Producer entries reaped after their process died.
    pub dead_producers: f64,
    /// Consumer entries reaped after their process died.
    pub dead_consumers: f64,
    /// Producer entries in use.
    pub producers: Vec<SharedProducerStats>,
    /// Consumer entries in use.
    pub consumers: Vec<SharedConsumerStats>,
}

fn stats_of(s: SharedRingStats) -> NativeSharedStats {
    NativeSharedStats {
        cursor: s.cursor as f64,
        closed: s.closed,
        single_producer: s.single_producer,
        consumers_asleep: s.asleep.0,
        producers_asleep: s.asleep.1,
        abandoned: s.abandoned as f64,
        dead_producers: s.dead_producers as f64,
        dead_consumers: s.dead_consumers as f64,
        producers: s
            .producers
            .into_iter()
            .map(|p| SharedProducerStats {
                pid: p.pid,
                alive: p.alive,
                published: p.published as f64,
                claim: p.claim.map(|(lo, hi)| vec![lo as f64, hi as f64]),
            })
            .collect(),
        consumers: s
            .consumers
            .into_iter()
            .map(|c| SharedConsumerStats {
                name: c.name,
                pid: c.pid,
                alive: c.alive,
                sequence: c.sequence as f64,
                lag: c.lag as f64,
                events: c.events as f64,
                batches: c.batches as f64,
            })
            .collect(),
    }
}

/// An optional count option: absent, or an integer in `1 ..= max`.
fn option(name: &str, value: Option<f64>, default: usize, max: usize) -> Result<usize> {
    value.map_or(Ok(default), |v| err::count(name, v, max).map(|v| v as usize))
}

/// A wait limit in ms (absent: none), as a deadline.
fn deadline(timeout_ms: Option<f64>) -> Result<Option<Instant>> {
    match timeout_ms {
        None => Ok(None),
        Some(ms) if ms.is_finite() && (0.0..=2_147_483_647.0).contains(&ms) => {
            Ok(Some(Instant::now() + Duration::from_secs_f64(ms / 1000.0)))
        }
        Some(ms) => Err(coded(
            "ERR_INVALID_ARG_VALUE",
            format!("timeout must be between 0 and 2**31 - 1 ms, got {ms}"),
        )),
    }
}

/// A ring in named shared memory (internal: the public API is `ProcessRing` in the TypeScript).
#[napi]
pub struct NativeSharedRing {
    ring: Arc<SharedRing>,
}

#[napi]
impl NativeSharedRing {
    /// Creates a ring (ERR_DISRUPTOR_EXISTS if the name is taken).
    #[napi(factory)]
    pub fn create(init: SharedRingInit) -> Result<NativeSharedRing> {
        let mut options = SharedRingOptions::new(
            err::count("size", init.size, disruptor_core::MAX_BUFFER_SIZE)? as usize,
            err::count("slotSize", init.slot_size, disruptor_core::MAX_SLOT_SIZE)? as usize,
        );
        options.max_producers = option("maxProducers", init.max_producers, 16, 1024)?;
        options.max_consumers = option("maxConsumers", init.max_consumers, 16, 1024)?;
        if let Some(mode) = init.mode {
            options.mode = err::offset("mode", mode)? as u32;
        }
        options.layout = init.layout.unwrap_or_default().into_bytes();
        options.single_producer = init.single_producer.unwrap_or(false);
        let ring = SharedRing::create(&init.name, &options).map_err(err::engine)?;
        Ok(NativeSharedRing { ring })
    }

    /// Opens an existing ring (its header checked).
    #[napi(factory)]
    pub fn open(name: String) -> Result<NativeSharedRing> {
        Ok(NativeSharedRing { ring: SharedRing::open(&name).map_err(err::engine)? })
    }

    /// Removes a ring's name (ERR_DISRUPTOR_NOT_FOUND if there is none).
    #[napi]
    pub fn unlink(name: String) -> Result<()> {
        SharedRing::unlink(&name).map_err(err::engine)
    }

    /// Removes this ring's name.
    #[napi]
    pub fn remove(&self) -> Result<()> {
        self.ring.remove().map_err(err::engine)
    }

    /// The ring's name.
    #[napi(getter)]
    pub fn name(&self) -> String {
        self.ring.name().to_owned()
    }

    /// Slots.
    #[napi(getter)]
    pub fn size(&self) -> u32 {
        self.ring.buffer_size() as u32
    }

    /// Bytes per slot.
    #[napi(getter)]
    pub fn slot_size(&self) -> u32 {
        self.ring.slot_size() as u32
    }

    /// The layout text its creator recorded ('' if none).
    #[napi(getter)]
    pub fn layout(&self) -> String {
        String::from_utf8_lossy(&self.ring.layout()).into_owned()
    }

    /// An ArrayBuffer over the slots (one per thread; keep it).
    #[napi]
    pub fn buffer<'env>(&self, env: &'env Env) -> Result<ArrayBuffer<'env>> {
        let len = self.ring.buffer_size() * self.ring.slot_size();
        // SAFETY: only handed to `external`; the slots are `len` bytes of the mapping, which the
        // `Arc` kept by the buffer holds mapped; JavaScript accesses them under the protocol.
        unsafe { crate::views::external(env, self.ring.slots_base(), len, self.ring.clone()) }
    }

    /// Whether the ring is single-producer.
    #[napi(getter)]
    pub fn single_producer(&self) -> bool {
        self.ring.is_single_producer()
    }

    /// An ArrayBuffer over the header and the producer table, for a single producer's own
    /// words (`singleWords`); one per thread, keep it.
    #[napi]
    pub fn control<'env>(&self, env: &'env Env) -> Result<ArrayBuffer<'env>> {
        // SAFETY: only handed to `external`: the first `control_len` bytes of the mapping,
        // held mapped by the buffer's `Arc`; the TypeScript single producer touches only the
        // words `singleWords` names, atomically, under the protocol.
        unsafe {
            crate::views::external(
                env,
                self.ring.control_base(),
                self.ring.control_len(),
                self.ring.clone(),
            )
        }
    }

    /// Where a single-producer ring's producer words are in `control()` (null: multi).
    #[napi]
    pub fn single_words(&self) -> Option<NativeSingleWords> {
        self.ring.single_producer_words().map(|w| NativeSingleWords {
            epoch: w.epoch as u32,
            low: w.low as u32,
            closed: w.closed as u32,
            claim: w.claim as u32,
        })
    }

    /// Blocks this thread until a claim of `n` would find room: '' (room, or closed), or
    /// 'ERR_DISRUPTOR_TIMEOUT' after `timeoutMs`.
    #[napi]
    pub fn wait_for_room(&self, n: f64, timeout_ms: Option<f64>) -> Result<String> {
        let n = err::count("n", n, self.ring.buffer_size())?;
        let waited = self.ring.wait_for_room(n, deadline(timeout_ms)?);
        Ok(waited.err().map_or_else(String::new, |e| e.code().to_owned()))
    }

    /// A single producer's ring-level hot calls as raw N-API functions (see `fast`):
    /// `gating(published)` (the lowest consumer sequence, at most `published`) and `signal()`
    /// (wakes sleeping consumers).
    #[napi(ts_return_type = "{ gating(published: number): number; signal(): void }")]
    pub fn fast_calls(&self, env: Env) -> Result<Object<'_>> {
        fast::functions(&env, &RING_CALLS, || self.ring.clone())
    }

    /// The highest claimed sequence.
    #[napi]
    pub fn cursor(&self) -> f64 {
        self.ring.cursor() as f64
    }

    /// Closes intake, for every process.
    #[napi]
    pub fn close_intake(&self) {
        self.ring.close_intake();
    }

    /// Whether intake is closed.
    #[napi]
    pub fn is_closed(&self) -> bool {
        self.ring.is_closed()
    }

    /// Whether a consumer that receives `next` next is done (closed, nothing claimed from
    /// `next` on).
    #[napi]
    pub fn is_drained(&self, next: f64) -> Result<bool> {
        Ok(self.ring.is_drained(err::sequence("next", next)?))
    }

    /// A snapshot of the header and tables.
    #[napi]
    pub fn stats(&self) -> NativeSharedStats {
        stats_of(self.ring.stats())
    }

    /// Abandons the claims of dead producers and frees dead consumers' entries now (waits do
    /// it on their own); returns the sequences abandoned.
    #[napi]
    pub fn recover(&self) -> f64 {
        self.ring.reap_dead_consumers();
        self.ring.recover_dead_producers() as f64
    }

    /// Registers a producer of this process.
    #[napi]
    pub fn producer(&self) -> Result<NativeSharedProducer> {
        let inner = self.ring.producer().map_err(err::engine)?;
        Ok(NativeSharedProducer { inner: Rc::new(RefCell::new(Some(inner))) })
    }

    /// Registers a consumer of this process, starting after the cursor; with `resume`, first
    /// takes over a dead process's consumer of that name if its entry is still there.
    #[napi]
    pub fn consumer(&self, name: String, resume: Option<bool>) -> Result<NativeSharedConsumer> {
        let (inner, resumed) = if resume.unwrap_or(false) {
            self.ring.resume_consumer(&name).map_err(err::engine)?
        } else {
            (self.ring.consumer(&name).map_err(err::engine)?, false)
        };
        Ok(NativeSharedConsumer { inner: Rc::new(RefCell::new(Some(inner))), resumed })
    }

    /// Waits on libuv's pool until `next` is published: resolves '' (published), or the code
    /// of why not ('ERR_DISRUPTOR_CLOSED': closed and drained; 'ERR_DISRUPTOR_TIMEOUT').
    #[napi(ts_return_type = "Promise<string>")]
    pub fn wait_for_async(
        &self,
        next: f64,
        timeout_ms: Option<f64>,
    ) -> Result<AsyncTask<WaitTask>> {
        let next = err::sequence("next", next)?;
        let deadline = deadline(timeout_ms)?;
        Ok(AsyncTask::new(WaitTask { ring: self.ring.clone(), what: Wait::Events(next), deadline }))
    }

    /// Waits on libuv's pool until a claim of `n` would find room: resolves '' (room, or
    /// closed: the claim then says so), or 'ERR_DISRUPTOR_TIMEOUT'.
    #[napi(ts_return_type = "Promise<string>")]
    pub fn wait_for_room_async(
        &self,
        n: f64,
        timeout_ms: Option<f64>,
    ) -> Result<AsyncTask<WaitTask>> {
        let n = err::count("n", n, self.ring.buffer_size())?;
        let deadline = deadline(timeout_ms)?;
        Ok(AsyncTask::new(WaitTask { ring: self.ring.clone(), what: Wait::Room(n), deadline }))
    }
}

const RING_CALLS: [(&str, Callback); 2] = [("gating", fast_gating), ("signal", fast_signal)];

unsafe extern "C" fn fast_gating(
    env: napi::sys::napi_env,
    info: napi::sys::napi_callback_info,
) -> napi::sys::napi_value {
    // SAFETY: made by `fast::functions` with an `Arc<SharedRing>` (see `fast::call`).
    unsafe {
        fast::call(env, info, ["published"], |ring: &Arc<SharedRing>, [published]| {
            let published = err::position("published", published)?;
            Ok(Out::Number(ring.gating_bound(published) as f64))
        })
    }
}

unsafe extern "C" fn fast_signal(
    env: napi::sys::napi_env,
    info: napi::sys::napi_callback_info,
) -> napi::sys::napi_value {
    // SAFETY: as in `fast_gating`.
    unsafe {
        fast::call(env, info, [], |ring: &Arc<SharedRing>, []| {
            ring.wake_consumers();
            Ok(Out::Undefined)
        })
    }
}

/// What a [`WaitTask`] waits for.
enum Wait {
    Events(i64),
    Room(i64),
}

/// A wait on libuv's pool; resolves to '' or an error code (a Task's errors cannot carry
/// Node-style codes).
pub struct WaitTask {
    ring: Arc<SharedRing>,
    what: Wait,
    deadline: Option<Instant>,
}

impl Task for WaitTask {
    type Output = String;
    type JsValue = String;

    fn compute(&mut self) -> napi::Result<String> {
        let waited = match self.what {
            Wait::Events(next) => self.ring.wait_for(next, self.deadline),
            Wait::Room(n) => self.ring.wait_for_room(n, self.deadline),
        };
        Ok(waited.err().map_or_else(String::new, |e| e.code().to_owned()))
    }

    fn resolve(&mut self, _env: Env, output: String) -> napi::Result<String> {
        Ok(output)
    }
}

/// A claim size: a positive integer (the engine checks it against the ring's size).
fn whole(n: f64) -> Result<i64> {
    err::count("n", n, disruptor_core::MAX_BUFFER_SIZE)
}

const RELEASED: &str = "this handle was closed";

/// A handle's engine object, shared by its class and its fast functions; `None` once closed.
/// `Rc<RefCell>`, not `Arc<Mutex>`: the class and its functions live in one JavaScript thread's
/// env (N-API values never cross threads, finalizers run on that thread), and the mutex's two
/// locked instructions per call were a third of a batch-1 claim and publish.
type Shared<T> = Rc<RefCell<Option<T>>>;

fn lock<T>(shared: &Shared<T>) -> RefMut<'_, Option<T>> {
    // Calls never nest (no engine call runs JavaScript), so the borrow is always free.
    shared.borrow_mut()
}

/// Runs `f` on a handle that is still open, else ERR_DISRUPTOR_CLOSED.
fn with<T, R>(shared: &Shared<T>, f: impl FnOnce(&mut T) -> Result<R>) -> Result<R> {
    match lock(shared).as_mut() {
        Some(handle) => f(handle),
        None => Err(coded("ERR_DISRUPTOR_CLOSED", RELEASED)),
    }
}

/// `try_next` for JavaScript: the highest claimed sequence, or -1 when full.
fn try_claim(p: &mut SharedProducer, n: f64) -> Result<f64> {
    let n = whole(n)?;
    match p.try_next(n) {
        Ok(hi) => Ok(hi as f64),
        Err(disruptor_core::Error::InsufficientCapacity) => Ok(-1.0),
        Err(e) => Err(err::engine(e)),
    }
}

/// A producer handle of this process.
#[napi]
pub struct NativeSharedProducer {
    inner: Shared<SharedProducer>,
}

#[napi]
impl NativeSharedProducer {
    /// Claims `n` slots if there is room now: the highest claimed sequence, or -1.
    #[napi]
    pub fn try_next(&self, n: f64) -> Result<f64> {
        with(&self.inner, |p| try_claim(p, n))
    }

    /// Claims `n` slots, blocking this thread while the ring is full (at most `timeoutMs`).
    #[napi]
    pub fn next(&self, n: f64, timeout_ms: Option<f64>) -> Result<f64> {
        let n = whole(n)?;
        let limit = deadline(timeout_ms)?.map(|d| d.saturating_duration_since(Instant::now()));
        with(&self.inner, |p| {
            let claimed = match limit {
                Some(limit) => p.next_timeout(n, limit),
                None => p.next(n),
            };
            claimed.map(|hi| hi as f64).map_err(err::engine)
        })
    }

    /// Publishes the claim.
    #[napi]
    pub fn publish(&self) -> Result<()> {
        with(&self.inner, |p| p.publish().map_err(err::engine))
    }

    /// Gives the claim up (consumers skip it).
    #[napi]
    pub fn abandon(&self) -> Result<()> {
        with(&self.inner, |p| {
            p.abandon();
            Ok(())
        })
    }

    /// The claim `[lo, hi]`, or null.
    #[napi]
    pub fn claim(&self) -> Result<Option<Vec<f64>>> {
        with(&self.inner, |p| Ok(p.claim().map(|(lo, hi)| vec![lo as f64, hi as f64])))
    }

    /// Abandons any claim and frees the entry; later calls fail with ERR_DISRUPTOR_CLOSED.
    #[napi]
    pub fn close(&self) {
        lock(&self.inner).take();
    }

    /// The hot calls as raw N-API functions (see `fast`): `tryNext(n)` and `publish()`.
    #[napi(ts_return_type = "{ tryNext(n: number): number; publish(): void }")]
    pub fn fast_calls(&self, env: Env) -> Result<Object<'_>> {
        fast::functions(&env, &PRODUCER_CALLS, || self.inner.clone())
    }
}

const PRODUCER_CALLS: [(&str, Callback); 2] =
    [("tryNext", fast_try_next), ("publish", fast_publish)];

unsafe extern "C" fn fast_try_next(
    env: napi::sys::napi_env,
    info: napi::sys::napi_callback_info,
) -> napi::sys::napi_value {
    // SAFETY: made by `fast::functions` with a `Shared<SharedProducer>` (see `fast::call`).
    unsafe {
        fast::call(env, info, ["n"], |h: &Shared<SharedProducer>, [n]| {
            with(h, |p| try_claim(p, n)).map(Out::Number)
        })
    }
}

unsafe extern "C" fn fast_publish(
    env: napi::sys::napi_env,
    info: napi::sys::napi_callback_info,
) -> napi::sys::napi_value {
    // SAFETY: as in `fast_try_next`.
    unsafe {
        fast::call(env, info, [], |h: &Shared<SharedProducer>, []| {
            with(h, |p| p.publish().map_err(err::engine)).map(|()| Out::Undefined)
        })
    }
}

/// A consumer handle of this process.
#[napi]
pub struct NativeSharedConsumer {
    inner: Shared<SharedConsumer>,
    resumed: bool,
}

#[napi]
impl NativeSharedConsumer {
    /// Whether it took over a dead process's consumer (and goes on where that one stopped).
    #[napi(getter)]
    pub fn resumed(&self) -> bool {
        self.resumed
    }

    /// The last sequence handled.
    #[napi]
    pub fn sequence(&self) -> Result<f64> {
        with(&self.inner, |c| Ok(c.sequence() as f64))
    }

    /// The highest sequence available from `sequence() + 1` (`sequence()` if none).
    #[napi]
    pub fn available(&self) -> Result<f64> {
        with(&self.inner, |c| Ok(c.available() as f64))
    }

    /// The abandoned sequences of an available `[lo, hi]`, to skip.
    #[napi]
    pub fn abandoned_in(&self, lo: f64, hi: f64) -> Result<Vec<f64>> {
        let (lo, hi) = (err::sequence("lo", lo)?, err::sequence("hi", hi)?);
        with(&self.inner, |c| Ok(c.abandoned_in(lo, hi).into_iter().map(|s| s as f64).collect()))
    }

    /// Marks everything up to `hi` handled.
    #[napi]
    pub fn commit(&self, hi: f64) -> Result<()> {
        let hi = err::position("hi", hi)?;
        with(&self.inner, |c| c.commit(hi).map_err(err::engine))
    }

    /// Frees the entry (it stops gating); later calls fail with ERR_DISRUPTOR_CLOSED.
    #[napi]
    pub fn close(&self) {
        lock(&self.inner).take();
    }

    /// The hot calls as raw N-API functions (see `fast`): `available()` (the end of the batch
    /// from `sequence() + 1`, or, when the batch holds abandoned sequences, `-(end + 2)`: call
    /// `abandonedIn` then) and `commit(hi)`.
    #[napi(ts_return_type = "{ available(): number; commit(hi: number): void }")]
    pub fn fast_calls(&self, env: Env) -> Result<Object<'_>> {
        fast::functions(&env, &CONSUMER_CALLS, || self.inner.clone())
    }
}

const CONSUMER_CALLS: [(&str, Callback); 2] =
    [("available", fast_available), ("commit", fast_commit)];

unsafe extern "C" fn fast_available(
    env: napi::sys::napi_env,
    info: napi::sys::napi_callback_info,
) -> napi::sys::napi_value {
    // SAFETY: made by `fast::functions` with a `Shared<SharedConsumer>` (see `fast::call`).
    unsafe {
        fast::call(env, info, [], |h: &Shared<SharedConsumer>, []| {
            with(h, |c| {
                let (lo, hi) = (c.sequence() + 1, c.available());
                // One call per batch: whether it holds abandoned sequences rides in the sign.
                let skips = hi >= lo && c.abandoned_count(lo, hi) > 0;
                Ok(Out::Number(if skips { -(hi as f64) - 2.0 } else { hi as f64 }))
            })
        })
    }
}

unsafe extern "C" fn fast_commit(
    env: napi::sys::napi_env,
    info: napi::sys::napi_callback_info,
) -> napi::sys::napi_value {
    // SAFETY: as in `fast_available`.
    unsafe {
        fast::call(env, info, ["hi"], |h: &Shared<SharedConsumer>, [hi]| {
            let hi = err::position("hi", hi)?;
            with(h, |c| c.commit(hi).map_err(err::engine)).map(|()| Out::Undefined)
        })
    }
}
