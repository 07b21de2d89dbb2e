//! The byte layout of a shared ring file (version 2), and the checked geometry every access
//! goes through. Everything is little-endian native (a ring is shared by processes of one
//! machine); the offsets here are the contract a reader in another language follows.
//!
//! ```text
//! 0      header     magic "NDISRING", version u32, ready u32, total length u64, slots u64,
//!                   slot size u64, producer entries u32, consumer entries u32, creator pid u32,
//!                   layout length u32, created (unix ms) u64, creator's pid namespace u64,
//!                   producer kind u32 @72 (0: multi, 1: single)
//! 128    closed     u32 (1: intake closed)
//! 256    counters   abandoned sequences u64, dead producers u64, dead consumers u64,
//!                   recovery lock u64 (the holder, as an owner word)
//! 384    cursor     i64, the highest claimed sequence (multi-producer CAS); single producer:
//!                   the epoch of the published cursor (see `crate::SplitCursor`)
//! 448    low        i32, single producer: the published cursor's low 31 bits, bit 31 a
//!                   waiter's request for a wake-up
//! 512    publish    wake word u32, sleepers u32 (consumers waiting for events)
//! 640    room       wake word u32, sleepers u32 (producers waiting for room)
//! 1024   layout     up to 2048 bytes describing the events (opaque to the engine)
//! 3072   sleepers   64 owner words of processes asleep on the publish word, then 64 on the room
//!                   word (whoever finds one dead takes its count back)
//! 4096   producers  128 bytes each: owner u64, claim lo i64 @16, claim hi i64 @24,
//!                   published u64 @32; single producer: the cursor when it registered i64
//!                   @40, its claim's end i32 @48 (low 31 bits; equal to `low`'s: none open)
//! ...    consumers  256 bytes each: owner u64, events u64 @16, batches u64 @24,
//!                   name length u32 @32, name 48 bytes @36, sequence i64 @128
//! ...    flags      i32 per slot: lap + 1 of the last sequence published there (multi)
//! ...    marks      i64 per slot: 1 + the last sequence abandoned there
//!
//! An owner word is 0 (free) or the owning process: pid in the low 32 bits, the low 32 bits of
//! its start time above (one word, so an entry is taken, judged and freed atomically).
//! ...    slots      page-aligned, slots x slot size bytes
//! ```

use std::sync::atomic::{AtomicI32, AtomicI64, AtomicU32, AtomicU64};

use crate::error::{Error, Result};
use crate::{MAX_BUFFER_SIZE, MAX_SLOT_SIZE};

pub(crate) const MAGIC: [u8; 8] = *b"NDISRING";
/// The layout version this build reads and writes.
pub const LAYOUT_VERSION: u32 = 2;

pub(crate) const VERSION_AT: usize = 8;
pub(crate) const READY_AT: usize = 12;
pub(crate) const TOTAL_AT: usize = 16;
pub(crate) const BUFFER_AT: usize = 24;
pub(crate) const SLOT_AT: usize = 32;
pub(crate) const MAX_PRODUCERS_AT: usize = 40;
pub(crate) const MAX_CONSUMERS_AT: usize = 44;
pub(crate) const CREATOR_AT: usize = 48;
pub(crate) const LAYOUT_LEN_AT: usize = 52;
pub(crate) const CREATED_AT: usize = 56;
pub(crate) const PID_NAMESPACE_AT: usize = 64;
pub(crate) const KIND_AT: usize = 72;
pub(crate) const CLOSED_AT: usize = 128;
pub(crate) const ABANDONED_AT: usize = 256;
pub(crate) const DEAD_PRODUCERS_AT: usize = 264;
pub(crate) const DEAD_CONSUMERS_AT: usize = 272;
pub(crate) const RECOVERY_LOCK_AT: usize = 280;
pub(crate) const CURSOR_AT: usize = 384;
pub(crate) const LOW_AT: usize = 448;
pub(crate) const PUBLISH_WORD_AT: usize = 512;
pub(crate) const PUBLISH_SLEEPERS_AT: usize = 516;
pub(crate) const ROOM_WORD_AT: usize = 640;
pub(crate) const ROOM_SLEEPERS_AT: usize = 644;
pub(crate) const LAYOUT_AT: usize = 1024;
pub(crate) const PUBLISH_SLEEPER_TABLE_AT: usize = 3072;
pub(crate) const ROOM_SLEEPER_TABLE_AT: usize = 3584;
/// Entries of each sleeper table (a sleeper beyond them sleeps unrecorded).
pub(crate) const SLEEPER_SLOTS: usize = 64;
/// The most bytes of event layout a ring records (see [`crate::shm::SharedRing::layout`]).
pub const MAX_LAYOUT_LEN: usize = 2048;
pub(crate) const HEADER_BYTES: usize = 4096;

pub(crate) const PRODUCER_ENTRY: usize = 128;
pub(crate) const P_OWNER: usize = 0;
pub(crate) const P_LO: usize = 16;
pub(crate) const P_HI: usize = 24;
pub(crate) const P_PUBLISHED: usize = 32;
pub(crate) const P_START: usize = 40;
pub(crate) const P_CLAIM: usize = 48;

pub(crate) const CONSUMER_ENTRY: usize = 256;
pub(crate) const C_OWNER: usize = 0;
pub(crate) const C_EVENTS: usize = 16;
pub(crate) const C_BATCHES: usize = 24;
pub(crate) const C_NAME_LEN: usize = 32;
pub(crate) const C_NAME: usize = 36;
/// The longest consumer name, in bytes.
pub const MAX_CONSUMER_NAME: usize = 48;
pub(crate) const C_SEQUENCE: usize = 128;
/// Both tables start an entry with its owner word (see `SharedRing::owner_of`).
const _: () = assert!(P_OWNER == 0 && C_OWNER == 0);

/// The most producer or consumer entries a ring may have.
pub const MAX_TABLE: usize = 1024;

const PAGE: usize = 4096;

/// Where everything is in a ring of given dimensions; made only by [`Geometry::new`], which
/// checks them, so every offset it gives is inside a mapping of `total_len` bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Geometry {
    pub(crate) buffer_size: usize,
    pub(crate) slot_size: usize,
    pub(crate) max_producers: usize,
    pub(crate) max_consumers: usize,
    pub(crate) producers_at: usize,
    pub(crate) consumers_at: usize,
    pub(crate) flags_at: usize,
    pub(crate) marks_at: usize,
    pub(crate) slots_at: usize,
    pub(crate) total_len: usize,
}

impl Geometry {
    pub(crate) fn new(
        buffer_size: usize,
        slot_size: usize,
        max_producers: usize,
        max_consumers: usize,
    ) -> Result<Geometry> {
        if !buffer_size.is_power_of_two() || !(2..=MAX_BUFFER_SIZE).contains(&buffer_size) {
            return Err(Error::InvalidBufferSize(buffer_size));
        }
        if slot_size == 0 || !slot_size.is_multiple_of(8) || slot_size > MAX_SLOT_SIZE {
            return Err(Error::InvalidSlotSize(slot_size));
        }
        for (what, n) in [("producers", max_producers), ("consumers", max_consumers)] {
            if !(1..=MAX_TABLE).contains(&n) {
                return Err(Error::InvalidName {
                    reason: format!("{what} must be 1 ..= {MAX_TABLE}, got {n}"),
                });
            }
        }
        // With the limits above nothing here can overflow a 64-bit usize (at most 2^30 slots of
        // 2^16 bytes); checked anyway, for 32-bit targets.
        let too_big = || Error::OutOfMemory { bytes: usize::MAX };
        let producers_at = HEADER_BYTES;
        let consumers_at = producers_at + max_producers * PRODUCER_ENTRY;
        let flags_at = consumers_at + max_consumers * CONSUMER_ENTRY;
        let marks_at = flags_at.checked_add(buffer_size.checked_mul(4).ok_or_else(too_big)?);
        let marks_at = marks_at.ok_or_else(too_big)?;
        let after_marks = marks_at + buffer_size * 8;
        let slots_at = after_marks.div_ceil(PAGE).checked_mul(PAGE).ok_or_else(too_big)?;
        let slot_bytes = buffer_size.checked_mul(slot_size).ok_or_else(too_big)?;
        let total_len = slots_at.checked_add(slot_bytes).ok_or_else(too_big)?;
        if total_len > isize::MAX as usize {
            return Err(too_big());
        }
        Ok(Geometry {
            buffer_size,
            slot_size,
            max_producers,
            max_consumers,
            producers_at,
            consumers_at,
            flags_at,
            marks_at,
            slots_at,
            total_len,
        })
    }
}

/// A mapped ring: a base pointer and the geometry checked when it was created or opened. Every
/// accessor stays inside `[base, base + geometry.total_len)` and is aligned for its type.
pub(crate) struct Region {
    base: *mut u8,
    pub(crate) geometry: Geometry,
}

// SAFETY: the region is plain shared memory accessed only through atomics (and the slots, under
// the claim/publish protocol); the pointer is valid for as long as the owning mapping lives.
unsafe impl Send for Region {}
// SAFETY: as above.
unsafe impl Sync for Region {}

macro_rules! accessor {
    ($name:ident, $ty:ty) => {
        #[inline(always)]
        pub(crate) fn $name(&self, at: usize) -> &$ty {
            debug_assert!(at % std::mem::align_of::<$ty>() == 0);
            assert!(at + std::mem::size_of::<$ty>() <= self.geometry.total_len.max(HEADER_BYTES));
            // SAFETY: in bounds (checked above) and aligned (every offset in this module is a
            // multiple of its type's size, and the mapping is page-aligned); the memory lives
            // while `self` does. Atomics may alias memory other processes write.
            unsafe { &*(self.base.add(at) as *const $ty) }
        }
    };
}

impl Region {
    /// # Safety
    /// `base` must be page-aligned and valid for reads and writes of
    /// `max(geometry.total_len, HEADER_BYTES)` bytes for as long as the region is used.
    pub(crate) unsafe fn new(base: *mut u8, geometry: Geometry) -> Region {
        Region { base, geometry }
    }

    /// The mapping's first byte.
    pub(crate) fn base(&self) -> *mut u8 {
        self.base
    }

    accessor!(i32_at, AtomicI32);
    accessor!(u32_at, AtomicU32);
    accessor!(u64_at, AtomicU64);
    accessor!(i64_at, AtomicI64);

    /// The availability flag of `sequence`'s slot.
    #[inline(always)]
    pub(crate) fn flag(&self, sequence: i64) -> &AtomicI32 {
        let index = sequence as usize & (self.geometry.buffer_size - 1);
        // SAFETY: `index` < buffer_size, and the flags array holds buffer_size i32s at flags_at.
        unsafe { &*(self.base.add(self.geometry.flags_at + index * 4) as *const AtomicI32) }
    }

    /// The abandoned mark of `sequence`'s slot: `sequence + 1` if it was abandoned (a whole
    /// sequence, so that no later lap can match it again).
    #[inline(always)]
    pub(crate) fn mark(&self, sequence: i64) -> &AtomicI64 {
        let index = sequence as usize & (self.geometry.buffer_size - 1);
        // SAFETY: as in `flag`, for the marks array (8-aligned: flags_at and buffer_size * 4
        // are multiples of 8).
        unsafe { &*(self.base.add(self.geometry.marks_at + index * 8) as *const AtomicI64) }
    }

    /// `sequence`'s slot (`slot_size` bytes).
    #[inline(always)]
    pub(crate) fn slot_ptr(&self, sequence: i64) -> *mut u8 {
        let index = sequence as usize & (self.geometry.buffer_size - 1);
        // SAFETY: `index * slot_size + slot_size` <= the slots' length, inside the mapping.
        unsafe { self.base.add(self.geometry.slots_at + index * self.geometry.slot_size) }
    }

    /// The offset of producer entry `i` (< max_producers) plus `field`.
    pub(crate) fn producer(&self, i: usize, field: usize) -> usize {
        assert!(i < self.geometry.max_producers);
        self.geometry.producers_at + i * PRODUCER_ENTRY + field
    }

    /// The offset of consumer entry `i` (< max_consumers) plus `field`.
    pub(crate) fn consumer(&self, i: usize, field: usize) -> usize {
        assert!(i < self.geometry.max_consumers);
        self.geometry.consumers_at + i * CONSUMER_ENTRY + field
    }

    /// `len` bytes at `at`, copied out (header text: the layout, a consumer's name).
    pub(crate) fn read_bytes(&self, at: usize, len: usize) -> Vec<u8> {
        assert!(at + len <= self.geometry.total_len.max(HEADER_BYTES));
        let mut out = vec![0; len];
        // SAFETY: in bounds (checked above); a byte copy, whatever another process writes.
        unsafe { std::ptr::copy_nonoverlapping(self.base.add(at), out.as_mut_ptr(), len) };
        out
    }

    /// Writes `bytes` at `at` (header text, before the ring is marked ready or into an entry
    /// this process owns).
    pub(crate) fn write_bytes(&self, at: usize, bytes: &[u8]) {
        assert!(at + bytes.len() <= self.geometry.total_len.max(HEADER_BYTES));
        // SAFETY: in bounds (checked above); nobody else writes an entry this process owns.
        unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr(), self.base.add(at), bytes.len()) };
    }
}

/// The lap stamp a flag holds for `sequence`: its lap plus one, so that the zeroes of a
/// new file mean "nothing published" (i32: equality only ever compares neighbouring laps).
#[inline(always)]
pub(crate) fn stamp(sequence: i64, shift: u32) -> i32 {
    ((sequence >> shift) as i32).wrapping_add(1)
}
