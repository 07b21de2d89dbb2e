//! `NativeRing`'s producer side: claiming (the slow paths; JavaScript claims on its own while
//! there is room), publishing, and waiting for room, synchronously in slices or on a native
//! thread for `nextAsync`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use disruptor_core::{ConsumerState, Error};
use napi::bindgen_prelude::*;
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi_derive::napi;

use crate::error::{self as err, coded, Result};
use crate::instance::{lock, InstanceRef, RoomWaitThread};
use crate::protocol::{ClaimSentinel, RoomWaitOutcome};
use crate::ring::NativeRing;
use crate::shared::RingState;

/// Calls the JS side back with a wait's outcome; strong: a pending `nextAsync` keeps the
/// process alive, as pending I/O does.
type DoneFn = ThreadsafeFunction<RoomWaitOutcome, (), RoomWaitOutcome, Status, false, false>;

/// How long a JS thread waits in one native call before it returns to JavaScript (which calls
/// again): short enough that `worker.terminate()` and `process.exit()` never wait on it for
/// long, long enough to cost nothing (20 returns a second while blocked).
const SLICE: Duration = Duration::from_millis(50);

/// A slice of waiting: [`SLICE`], or `ms` (0 ..= 50, a caller's remaining timeout) when shorter.
fn slice(ms: Option<f64>) -> Result<Duration> {
    match ms {
        None => Ok(SLICE),
        Some(ms) if (0.0..=SLICE.as_millis() as f64).contains(&ms) => {
            Ok(Duration::from_secs_f64(ms / 1000.0))
        }
        Some(ms) if ms > SLICE.as_millis() as f64 => Ok(SLICE),
        Some(ms) => Err(coded("ERR_INVALID_ARG_VALUE", format!("sliceMs must be >= 0, got {ms}"))),
    }
}

/// ERR_DISRUPTOR_SINGLE_PRODUCER unless instance `id` (`inst`) may produce on `ring`: always on
/// a multi producer ring; on a single producer ring, the first instance that asks, until it
/// detaches. A detached instance never takes the role (ERR_DISRUPTOR_CLOSED): its detach gave
/// the role back once, and nothing would give it back again.
fn check_producer(ring: &RingState, inst: &InstanceRef, id: u64) -> Result<()> {
    if ring.multi {
        return Ok(());
    }
    // Relaxed: it equals our id only if our own CAS below stored it (on this thread, so
    // already ordered); any other value goes through the CAS.
    let owner = ring.owner.load(Ordering::Relaxed);
    if owner == id {
        return Ok(());
    }
    // Only when the role is free (taking it is rare): the instance lock, for its detached flag.
    if owner == 0 && lock(inst).detached {
        return Err(err::engine(Error::Closed));
    }
    if owner == 0
        && ring
            .owner
            // AcqRel: takes the producer role over, seeing all the last owner did as
            // producer (its Release in detach). Relaxed on failure: we are refused anyway.
            .compare_exchange(0, id, Ordering::AcqRel, Ordering::Relaxed)
            .is_ok()
    {
        return Ok(());
    }
    Err(coded(
        "ERR_DISRUPTOR_SINGLE_PRODUCER",
        "this ring has a single producer, on another thread; use producer: 'multi' to produce from several",
    ))
}

/// `publish(lo, hi)` of instance `id` (the method's and the fast function's body).
pub(crate) fn publish_range(
    ring: &RingState,
    inst: &InstanceRef,
    id: u64,
    lo: f64,
    hi: f64,
) -> Result<()> {
    let lo = err::sequence("lo", lo)?;
    let hi = err::sequence("hi", hi)?;
    check_producer(ring, inst, id)?;
    ring.engine.publish(lo, hi).map_err(err::engine)
}

impl NativeRing {
    fn check_producer(&self) -> Result<()> {
        check_producer(&self.ring, &self.inst, self.id)
    }

    /// Whether a running consumer of this thread (of any of its instances of the ring) has not
    /// passed `wrap`: a producer on this thread waiting for it would wait forever.
    fn own_consumer_below(&self, wrap: i64) -> bool {
        crate::instance::any_on_this_thread(self.ring.id, |inst| {
            inst.consumers.iter().flatten().any(|c| {
                let info = c.handle.info();
                info.state() == ConsumerState::Running && info.sequence() < wrap
            })
        })
    }

    /// Runs a producer wait, adding its duration to the producer wait time.
    fn timed<T>(&self, wait: impl FnOnce() -> T) -> T {
        let start = Instant::now();
        let result = wait();
        let waited = start.elapsed().as_nanos() as u64;
        // Relaxed: statistics.
        self.ring.producer_wait_nanos.fetch_add(waited, Ordering::Relaxed);
        result
    }

    /// A claim's highest sequence as JavaScript gets it, refused past exact numbers.
    fn claimed(&self, hi: i64, n: i64) -> Result<f64> {
        if hi > err::MAX_SEQUENCE {
            // Claimed but beyond exact numbers: publish nothing, report (unreachable in practice).
            err::check_headroom(hi - n, n)?;
        }
        Ok(hi as f64)
    }
}

#[napi]
impl NativeRing {
    /// Claims `n` slots, waiting while full, or returns `ClaimSentinel.StillWaiting` after a
    /// slice of waiting (at most 50 ms, or `sliceMs` when shorter: so that the JS thread comes
    /// back to JavaScript regularly, to let a terminating worker stop and to keep a timeout;
    /// JavaScript calls again). Refuses with WOULD_DEADLOCK when only this thread's consumers
    /// could make room.
    #[napi]
    pub fn next(&self, n: f64, slice_ms: Option<f64>) -> Result<f64> {
        let n = err::count("n", n, self.ring.size as usize)?;
        let slice = slice(slice_ms)?;
        self.check_producer()?;
        let engine = self.engine();
        loop {
            if let Ok(hi) = engine.try_next(n) {
                let mut inst = lock(&self.inst);
                if let Some((lo, open)) = inst.claims.outstanding() {
                    inst.keep_claim(engine, lo, open);
                }
                inst.claims.record(hi - n + 1, hi);
                drop(inst);
                return self.claimed(hi, n);
            }
            self.check_open()?;
            let claimed = engine.claimed();
            err::check_headroom(claimed, n)?;
            let wrap = claimed + n - self.ring.size as i64;
            let waited = self.timed(|| {
                engine.wait_for_gating(
                    wrap,
                    claimed,
                    &mut |w| self.own_consumer_below(w),
                    Some(slice),
                )
            });
            match waited {
                Ok(_) => {}
                Err(Error::Timeout) => return Ok(ClaimSentinel::StillWaiting.value()),
                Err(e) => return Err(err::engine(e)),
            }
        }
    }

    /// Multi producer: `[lo, hi]`, a claim of this thread still open, is kept for `detach`
    /// before the claim this thread makes next replaces it in the mirror (see `ClaimMirror`).
    #[napi]
    pub fn keep_claim(&self, lo: f64, hi: f64) -> Result<()> {
        let lo = err::sequence("lo", lo)?;
        let hi = err::sequence("hi", hi)?;
        if lo > hi || hi - lo >= self.ring.size as i64 {
            return Err(coded("ERR_INVALID_ARG_VALUE", format!("invalid claim [{lo}, {hi}]")));
        }
        lock(&self.inst).keep_claim(self.engine(), lo, hi);
        Ok(())
    }

    /// Makes `[lo, hi]` visible to consumers.
    #[napi]
    pub fn publish(&self, lo: f64, hi: f64) -> Result<()> {
        publish_range(&self.ring, &self.inst, self.id, lo, hi)
    }

    /// Single producer: makes this thread the ring's producer (ERR_DISRUPTOR_SINGLE_PRODUCER
    /// if another thread is) and returns the cursor, from which JavaScript claims on its own
    /// (see `reserve` and `cursorView`).
    #[napi]
    pub fn acquire_producer(&self) -> Result<f64> {
        if self.ring.multi {
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
    /// minus the ring size: `claimed + n - size`, n in 1 ..= size) and returns the slowest
    /// one's sequence; `claimed` is the producer's claim counter (-1 ..= 2**53 - 1).
    /// ERR_DISRUPTOR_WOULD_DEADLOCK when only this thread's consumers could make room; with
    /// `wait` false, `ClaimSentinel.NoRoom` at once when there is no room;
    /// `ClaimSentinel.StillWaiting` after a slice of waiting (as `next`'s; call again).
    /// `claims`: what `reportClaims` takes, added first (whatever the call then returns or
    /// throws): the producer's claims ride on the call it makes once per ring of claims anyway.
    #[napi]
    pub fn reserve(
        &self,
        wrap: f64,
        claimed: f64,
        wait: bool,
        slice_ms: Option<f64>,
        claims: Option<f64>,
    ) -> Result<f64> {
        if let Some(claims) = claims {
            self.report_claims(claims)?;
        }
        let claimed = err::position("claimed", claimed)?;
        let slice = slice(slice_ms)?;
        let wrap = err::wrap_point("wrap", wrap, claimed, self.ring.size as i64)?;
        self.check_producer()?;
        let engine = self.engine();
        let min = engine.gating_minimum(claimed);
        if wrap <= min {
            return Ok(min as f64);
        }
        if !wait {
            self.check_open()?;
            return Ok(ClaimSentinel::NoRoom.value());
        }
        let result = self.timed(|| {
            engine.wait_for_gating(wrap, claimed, &mut |w| self.own_consumer_below(w), Some(slice))
        });
        match result {
            Ok(min) => Ok(min as f64),
            Err(Error::Timeout) => Ok(ClaimSentinel::StillWaiting.value()),
            Err(e) => Err(err::engine(e)),
        }
    }

    /// Adds `claims` (an integer in 0 ..= 2**53 - 1) to the ring's claim count: what this
    /// thread's producer claimed since it last reported (it counts in JavaScript, where its
    /// claims are made).
    #[napi]
    pub fn report_claims(&self, claims: f64) -> Result<()> {
        let claims = err::counter("claims", claims)?;
        // Relaxed: statistics.
        self.ring.claims.fetch_add(claims, Ordering::Relaxed);
        Ok(())
    }

    /// The highest published sequence up to which everything is published.
    #[napi]
    pub fn cursor(&self) -> f64 {
        self.engine().cursor() as f64
    }

    /// Slots that can be claimed now without waiting.
    #[napi]
    pub fn remaining_capacity(&self) -> f64 {
        self.ring.remaining() as f64
    }

    /// Waits on a native thread until `n` slots are free (after `claimed`, a single producer's
    /// claim counter, -1 ..= 2**53 - 1, when given), then calls `done` with the outcome.
    /// Returns an id for `cancelWait`.
    #[napi]
    pub fn wait_for_room(
        &self,
        n: f64,
        done: Function<RoomWaitOutcome, ()>,
        claimed: Option<f64>,
    ) -> Result<u32> {
        let n = err::count("n", n, self.ring.size as usize)?;
        let claimed = claimed.map(|c| err::position("claimed", c)).transpose()?;
        self.check_producer()?;
        let done: DoneFn = done
            .build_threadsafe_function::<RoomWaitOutcome>()
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
        let (ring, flag) = (self.ring.clone(), cancel.clone());
        let size = self.ring.size as i64;
        let thread = std::thread::Builder::new()
            .name("disruptor-room".into())
            .spawn(move || {
                // Acquire: pairs with `RoomWaitThread::cancel`'s Release.
                let mut cancelled = |_| flag.load(Ordering::Acquire);
                let engine = &ring.engine;
                let start = Instant::now();
                let result = match claimed {
                    // A single producer's claims are in JavaScript: wait for room after them.
                    Some(c) => {
                        engine.wait_for_gating(c + n - size, c, &mut cancelled, None).map(|_| ())
                    }
                    None => engine.wait_for_room(n, &mut cancelled),
                };
                // Relaxed: statistics (a nextAsync waits for room as a blocking next does).
                let waited = start.elapsed().as_nanos() as u64;
                ring.producer_wait_nanos.fetch_add(waited, Ordering::Relaxed);
                let outcome = match result {
                    Ok(()) => RoomWaitOutcome::Room,
                    // Refused: the cancel flag was set.
                    Err(Error::WouldDeadlock) => RoomWaitOutcome::Cancelled,
                    Err(Error::ConsumerHalted { .. }) => RoomWaitOutcome::ConsumerHalted,
                    Err(_) => RoomWaitOutcome::Closed,
                };
                done.call(outcome, ThreadsafeFunctionCallMode::NonBlocking);
            })
            .map_err(|e| err::engine(Error::ThreadSpawn(e.to_string())))?;
        inst.waits.insert(id, RoomWaitThread { cancel, thread });
        Ok(id)
    }

    /// Ends a `waitForRoom` early (its callback then gets `RoomWaitOutcome.Cancelled`, unless
    /// it already ran).
    #[napi]
    pub fn cancel_wait(&self, id: u32) {
        if let Some(w) = lock(&self.inst).waits.get(&id) {
            w.cancel();
            self.engine().signal();
        }
    }
}
