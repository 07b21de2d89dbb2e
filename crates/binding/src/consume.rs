//! `NativeRing`'s consumer side: consumers a JavaScript thread drives (it reads slots and
//! stores its progress through `sequenceView`), their waker threads, their statistics and
//! their errors.

use disruptor_core::{Dependency, Error, BATCH_SIZE_BUCKETS};
use napi::bindgen_prelude::*;
use napi_derive::napi;

use crate::error::{self as err, coded, Result};
use crate::instance::{lock, Consumer, InstanceRef};
use crate::ring::NativeRing;
use crate::waker::{WakeFn, Waker};

/// `arm(cid, next)` on instance `inst` (the fast function's body): asks
/// consumer `cid`'s waker for one call once sequence `next` is available.
pub(crate) fn arm_waker(inst: &InstanceRef, cid: f64, next: f64) -> Result<()> {
    let cid = err::consumer_id("cid", cid)?;
    let next = err::sequence("next", next)?;
    let mut inst = lock(inst);
    match &inst.consumer(cid)?.waker {
        Some(w) => {
            w.arm(next);
            Ok(())
        }
        None => Err(coded("ERR_INVALID_ARG_VALUE", "consumer has no waker")),
    }
}

#[napi]
impl NativeRing {
    /// Adds a consumer driven by this thread; it sees a sequence after every consumer in
    /// `after` (ids on this thread) finished it. Returns its id.
    #[napi]
    pub fn add_consumer(&self, name: String, after: Vec<u32>) -> Result<u32> {
        let mut inst = lock(&self.inst);
        let mut deps: Vec<Dependency> = Vec::with_capacity(after.len());
        for cid in after {
            deps.push(inst.consumer(cid)?.handle.dependency());
        }
        if inst.detached {
            return Err(err::engine(Error::Closed));
        }
        let handle = self.engine().add_consumer(name, &deps).map_err(err::engine)?;
        let cid = inst.consumers.len() as u32;
        self.ring.directory().add(handle.info().clone(), self.id, cid);
        inst.consumers.push(Some(Consumer { handle, waker: None }));
        Ok(cid)
    }

    /// Gives consumer `cid` a waker thread that calls `wake(false)` when armed and events
    /// arrive, and `wake(true)` each time a timeout-blocking wait times out meanwhile.
    #[napi]
    pub fn set_waker(&self, cid: u32, wake: Function<bool, ()>) -> Result<()> {
        let wake: WakeFn = wake
            .build_threadsafe_function::<bool>()
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
        let name: String = format!("dsr-{}", c.handle.info().name())
            .chars()
            .map(|ch| if ch == '\0' { '_' } else { ch })
            .take(15)
            .collect();
        c.waker = Some(Waker::spawn(name, c.handle.waiter(), wake).map_err(err::engine)?);
        Ok(())
    }

    /// Consumer `cid` handled its waker's timeout call: the next timeout may call again.
    #[napi]
    pub fn timeout_seen(&self, cid: u32) -> Result<()> {
        let mut inst = lock(&self.inst);
        if let Some(w) = &inst.consumer(cid)?.waker {
            w.timeout_seen();
        }
        Ok(())
    }

    /// Statistics consumer `cid` kept in JavaScript: batches, events, largest batch,
    /// abandoned sequences skipped and batches by size so far (bucket `k`: batches of
    /// `2^k ..= 2^(k+1) - 1` events; at most `BATCH_SIZE_BUCKETS`), each an integer in
    /// 0 ..= 2**53 - 1.
    #[napi]
    pub fn report(
        &self,
        cid: u32,
        batches: f64,
        events: f64,
        largest_batch: f64,
        skipped: f64,
        batch_sizes: Float64Array,
    ) -> Result<()> {
        let batches = err::counter("batches", batches)?;
        let events = err::counter("events", events)?;
        let largest_batch = err::counter("largestBatch", largest_batch)?;
        let skipped = err::counter("skipped", skipped)?;
        if batch_sizes.len() > BATCH_SIZE_BUCKETS {
            return Err(coded(
                "ERR_INVALID_ARG_VALUE",
                format!("batchSizes has at most {BATCH_SIZE_BUCKETS} buckets"),
            ));
        }
        let batch_sizes: Vec<u64> =
            batch_sizes.iter().map(|&n| err::counter("batchSizes", n)).collect::<Result<_>>()?;
        let mut inst = lock(&self.inst);
        inst.consumer(cid)?.handle.set_counters(
            batches,
            events,
            largest_batch,
            skipped,
            &batch_sizes,
        );
        Ok(())
    }

    /// What a JavaScript consumer must skip of `[lo, hi]`, a batch it found available: the
    /// first abandoned range overlapping it as `[first, last]`; `[]` when none overlaps and no
    /// recorded range ends at or after `lo` (nothing to skip until another is marked); null
    /// when none overlaps. Called only while the abandoned-range count (`abandonedView`) is not
    /// zero.
    #[napi]
    pub fn abandoned_in(&self, lo: f64, hi: f64) -> Result<Option<Vec<f64>>> {
        let lo = err::sequence("lo", lo)?;
        let hi = err::sequence("hi", hi)?;
        let engine = self.engine();
        Ok(match engine.abandoned_in(lo, hi) {
            Some((a, b)) => Some(vec![a as f64, b as f64]),
            None if !engine.abandoned().any_from(lo) => Some(Vec::new()),
            None => None,
        })
    }

    /// The last sequence consumer `cid` finished.
    #[napi]
    pub fn consumer_sequence(&self, cid: u32) -> Result<f64> {
        let mut inst = lock(&self.inst);
        Ok(inst.consumer(cid)?.handle.sequence() as f64)
    }

    /// Consumer `cid` skipped `sequence` after an error (counted, kept as its last error).
    #[napi]
    pub fn record_error(&self, cid: u32, sequence: f64, message: String) -> Result<()> {
        let sequence = err::sequence("sequence", sequence)?;
        let mut inst = lock(&self.inst);
        inst.consumer(cid)?.handle.record_error(sequence, &message);
        Ok(())
    }

    /// Consumer `cid` halted on an error at `sequence`: producers and drains learn it.
    #[napi]
    pub fn fail(&self, cid: u32, sequence: f64, message: String) -> Result<()> {
        let sequence = err::sequence("sequence", sequence)?;
        let mut inst = lock(&self.inst);
        let c = inst.consumer(cid)?;
        if let Some(w) = c.waker.as_mut() {
            w.stop();
        }
        c.handle.fail(sequence, &message);
        Ok(())
    }

    /// Removes consumer `cid`: its waker stops, it no longer gates producers.
    /// ERR_DISRUPTOR_HAS_DEPENDENTS (and it stays, waker and all) while consumers depend on it.
    #[napi]
    pub fn remove_consumer(&self, cid: u32) -> Result<()> {
        let mut inst = lock(&self.inst);
        let info = inst.consumer(cid)?.handle.info().clone();
        let dependents = self.engine().dependents_of(&info);
        if !dependents.is_empty() {
            let dependents = dependents.iter().map(|c| c.name().to_owned()).collect();
            let e = Error::HasDependents { name: info.name().to_owned(), dependents };
            self.ring.directory().refuse(self.id, cid, e.code(), e.to_string());
            return Err(err::engine(e));
        }
        // Checked above under this thread's lock, and only this thread adds consumers after
        // its own: the engine's check below cannot fail, but it is kept, not assumed.
        let Some(Consumer { handle, waker }) = inst.consumers[cid as usize].take() else {
            return Ok(());
        };
        drop(waker); // stops and joins the waker thread first
        if let Err((e, handle)) = self.engine().remove_consumer(handle) {
            inst.consumers[cid as usize] = Some(Consumer { handle, waker: None });
            self.ring.directory().refuse(self.id, cid, e.code(), e.to_string());
            return Err(err::engine(e));
        }
        self.ring.directory().remove(self.id, cid);
        Ok(())
    }
}
