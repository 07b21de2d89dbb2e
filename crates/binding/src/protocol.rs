//! The numbers JavaScript and the binding agree on, exported as typed enums: `binding.d.ts`
//! declares them as `const enum`s (which tsc inlines) and `binding.js` exports them at run time.

use disruptor_core::SplitCursor;
use napi_derive::napi;

/// Sentinels a claiming call returns instead of a sequence.
#[napi]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClaimSentinel {
    /// `reserve` without waiting: there is no room now.
    NoRoom = -2,
    /// `next` / `reserve`: a slice of waiting ended without room; call again.
    StillWaiting = -3,
    /// The `claim` fast call claimed past `2**31 - 1`: the highest sequence is in the thread's
    /// claim mirror (returned, a number that large would be a heap allocation per claim).
    InMirror = -4,
}

/// What `waitForRoom` passes to its callback.
#[napi]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RoomWaitOutcome {
    /// There is room for the claim now.
    Room = 0,
    /// The ring was halted.
    Closed = 1,
    /// `cancelWait`, or this thread's detach, ended the wait.
    Cancelled = 2,
    /// A consumer halted on an error: the room can no longer come.
    ConsumerHalted = 3,
}

/// The split cursor as JavaScript reads and writes it (see disruptor_core SplitCursor).
#[napi]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SplitCursorLayout {
    /// The bits of the low word that hold the cursor (`value mod 2**31`); bit 31 is the flag.
    LowBits = 0x7fffffff,
    /// How far past the epoch a publish may go before the producer stores the epoch again.
    EpochSpan = 536870912,
}

/// The statistics JavaScript consumers keep for the engine (`report`).
#[napi]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StatsLayout {
    /// Buckets of the batch-size histogram (see disruptor_core `BATCH_SIZE_BUCKETS`).
    BatchSizeBuckets = 32,
}

impl ClaimSentinel {
    /// As the `f64` a claiming call returns.
    pub(crate) fn value(self) -> f64 {
        self as i32 as f64
    }
}

// The layout is the engine's: JavaScript must split the cursor exactly as `SplitCursor` does.
const _: () = assert!(SplitCursorLayout::LowBits as i32 == !SplitCursor::WAITING);
const _: () = assert!(SplitCursorLayout::EpochSpan as i64 == SplitCursor::EPOCH_SPAN);
const _: () = assert!(SplitCursorLayout::EpochSpan as i64 <= SplitCursor::EPOCH_LIMIT);
const _: () = assert!(StatsLayout::BatchSizeBuckets as usize == disruptor_core::BATCH_SIZE_BUCKETS);
// Sentinels are below -1 (an empty ring's cursor), so no claim result is ever one.
const _: () = assert!((ClaimSentinel::NoRoom as i32) < -1);
const _: () = assert!((ClaimSentinel::StillWaiting as i32) < -1);
