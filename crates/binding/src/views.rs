//! The one place that hands native memory to JavaScript: external ArrayBuffers over the slots,
//! the sequencer's atomics, a consumer's sequence and the claim mirror. JavaScript reads and
//! writes them directly (the fast paths), so every pointer given out is made here and goes
//! through [`external`], which keeps its owner alive for as long as the ArrayBuffer lives.

use std::mem::{size_of, size_of_val};

use napi::bindgen_prelude::*;
use napi_derive::napi;

use crate::error::{self as err, coded, Result};
use crate::instance::lock;
use crate::ring::NativeRing;

/// An external ArrayBuffer over `len` bytes at `memory`, which holds `keep` until it is
/// collected.
///
/// # Safety
/// `memory` must be valid for reads and writes of `len` bytes, at an address that does not
/// change, for as long as `keep` lives; and it must be memory that JavaScript may access
/// while other threads run: atomics (which JavaScript accesses at their own width), the slots
/// (ordered by the claim/publish protocol), or memory only this thread uses.
pub(crate) unsafe fn external<'env, K: 'static>(
    env: &'env Env,
    memory: *mut u8,
    len: usize,
    keep: K,
) -> Result<ArrayBuffer<'env>> {
    // SAFETY: by the contract above, `memory` stays valid while `keep` lives, and the
    // finalizer drops `keep` only when the ArrayBuffer is collected; Rust never reads or
    // writes it through the ArrayBuffer (it goes straight back to JavaScript).
    let buffer = unsafe { ArrayBuffer::from_external(env, memory, len, keep, |_, k| drop(k)) }
        .map_err(err::napi)?;
    // A runtime without external buffers (Electron) gets a copy: shared memory would silently
    // stop being shared, so refuse.
    if buffer.as_ptr() != memory.cast_const() {
        return Err(coded(
            "ERR_DISRUPTOR_NATIVE",
            "this JavaScript runtime does not allow external ArrayBuffers",
        ));
    }
    Ok(buffer)
}

#[napi]
impl NativeRing {
    /// An ArrayBuffer over the slots (create one per thread and keep it: see README).
    #[napi]
    pub fn buffer<'env>(&self, env: &'env Env) -> Result<ArrayBuffer<'env>> {
        let slots = self.engine().slots();
        // SAFETY: only handed to `external`; the slot memory lives as long as the engine.
        let memory = unsafe { slots.base_ptr() };
        // SAFETY: the slots live (and stay put) while the engine, kept by the ring, lives;
        // JavaScript accesses them under the claim/publish protocol.
        unsafe { external(env, memory, slots.len_bytes(), self.ring.clone()) }
    }

    /// An 8-byte ArrayBuffer over the cursor, an i64: multi producers claim with a
    /// compare-and-exchange on it (see `MultiProducerSequencer::availability_flags`); a single
    /// producer stores its split cursor's epoch into it (once every 2^29 sequences, see
    /// `SplitCursor`). One per thread; keep it.
    #[napi]
    pub fn cursor_view<'env>(&self, env: &'env Env) -> Result<ArrayBuffer<'env>> {
        let cursor = self.engine().cursor_atomic();
        // SAFETY: an atomic inside the sequencer, which the ring keeps; 64-bit Atomics only.
        unsafe { external(env, cursor.as_ptr().cast(), size_of::<i64>(), self.ring.clone()) }
    }

    /// Single producer: a 4-byte ArrayBuffer over the split cursor's low word (an i32): the
    /// producer swaps the low 31 bits of every publish into it with `Atomics.exchange` (after
    /// the epoch when `SplitCursor`'s rule asks for it; the old value's sign bit asks it to
    /// check for a waiter or a close), and consumers load it and extend it against
    /// their own position (a gating consumer is never more than a ring behind). One per
    /// thread; keep it.
    #[napi]
    pub fn published_low_view<'env>(&self, env: &'env Env) -> Result<ArrayBuffer<'env>> {
        let Some(low) = self.engine().published_low() else {
            return Err(coded(
                "ERR_INVALID_ARG_VALUE",
                "a multi-producer ring has no split cursor",
            ));
        };
        // SAFETY: an atomic inside the sequencer, which the ring keeps; 32-bit Atomics only.
        unsafe { external(env, low.as_ptr().cast(), size_of::<i32>(), self.ring.clone()) }
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
        let memory = flags.as_ptr().cast_mut().cast();
        // SAFETY: atomics inside the sequencer, which the ring keeps; 32-bit Atomics only.
        unsafe { external(env, memory, size_of_val(flags), self.ring.clone()) }
    }

    /// Multi producer: a 16-byte ArrayBuffer (two f64) where this thread mirrors its claim
    /// still to publish, `[next, hi]` (see `ClaimMirror`). One per instance.
    #[napi]
    pub fn claims_view<'env>(&self, env: &'env Env) -> Result<ArrayBuffer<'env>> {
        let mirror = lock(&self.inst).claims.clone();
        let memory = mirror.cell().get().cast();
        // SAFETY: the mirror's cell, kept by the `Arc` handed over; only this thread uses it
        // (see `ClaimMirror`).
        unsafe { external(env, memory, size_of::<[f64; 2]>(), mirror) }
    }

    /// A 1-byte ArrayBuffer over the sequencer's closed flag (set once, by `closeIntake` or a
    /// halt on any thread): JavaScript's fast claims read it to refuse claims once intake is
    /// closed. One per thread; keep it.
    #[napi]
    pub fn closed_view<'env>(&self, env: &'env Env) -> Result<ArrayBuffer<'env>> {
        let flag = self.engine().closed_flag();
        // SAFETY: an atomic inside the sequencer, which the ring keeps; JavaScript only reads
        // it (one byte).
        unsafe { external(env, flag.as_ptr().cast(), size_of::<bool>(), self.ring.clone()) }
    }

    /// A 1-byte ArrayBuffer over the ring's halted flag (set once, by `halt` on any thread):
    /// JavaScript consumers read it on every poll, and publishes after a flagged exchange, to
    /// stop once the ring is halted. One per thread; keep it.
    #[napi]
    pub fn halted_view<'env>(&self, env: &'env Env) -> Result<ArrayBuffer<'env>> {
        let flag = &*self.ring.halted;
        // SAFETY: an atomic inside the ring's state, which `keep` holds; JavaScript only reads
        // it (one byte).
        unsafe { external(env, flag.as_ptr().cast(), size_of::<bool>(), self.ring.clone()) }
    }

    /// An 8-byte ArrayBuffer over two i32s: the count of abandoned ranges still recorded and
    /// the count of ranges ever marked (see `AbandonedRanges::counts`). JavaScript consumers
    /// read the first once per batch and ask `abandonedIn` only when it is not zero (and their
    /// cached answer is stale). One per thread; keep it.
    #[napi]
    pub fn abandoned_view<'env>(&self, env: &'env Env) -> Result<ArrayBuffer<'env>> {
        let counts = self.engine().abandoned().counts();
        // SAFETY: two adjacent atomics inside the sequencer, which the ring keeps; JavaScript
        // only reads them (with 32-bit accesses).
        unsafe { external(env, counts.as_ptr() as *mut u8, size_of_val(counts), self.ring.clone()) }
    }

    /// A 4-byte ArrayBuffer over the wait strategy's sleeper count (read with `Atomics.load`
    /// after publishing; non-zero: call `signal`), or null for strategies that never sleep.
    #[napi]
    pub fn sleepers_view<'env>(&self, env: &'env Env) -> Result<Option<ArrayBuffer<'env>>> {
        let Some(count) = self.engine().sleeper_count() else { return Ok(None) };
        let memory = count.as_ptr().cast();
        // SAFETY: an atomic inside the wait strategy, which the ring keeps; JavaScript only
        // reads it, with 32-bit `Atomics.load`.
        unsafe { external(env, memory, size_of::<u32>(), self.ring.clone()) }.map(Some)
    }

    /// An 8-byte ArrayBuffer over consumer `cid`'s sequence (an i64): JavaScript reads it for
    /// consumers that depend on this one and stores its progress into it. One per consumer.
    #[napi]
    pub fn sequence_view<'env>(&self, env: &'env Env, cid: u32) -> Result<ArrayBuffer<'env>> {
        let mut inst = lock(&self.inst);
        let handle = &inst.consumer(cid)?.handle;
        let memory = handle.sequence_atomic().as_ptr().cast();
        // The dependency holds the sequence itself (the consumer may be removed first).
        let keep = (self.ring.clone(), handle.dependency());
        // SAFETY: the sequence's atomic, kept by the dependency in `keep`; 64-bit Atomics
        // only, under the rules of `EventPoller::sequence_atomic`.
        unsafe { external(env, memory, size_of::<i64>(), keep) }
    }
}
