//! [`RingBuffer`]: preallocated slots of a Rust type.

use std::cell::UnsafeCell;

use crate::data_provider::DataProvider;
use crate::error::Result;
use crate::sequencer::check_buffer_size;

/// A ring of preallocated events of type `E`, filled once by a factory and reused forever: no
/// allocation after construction.
///
/// ```
/// use disruptor_core::{DataProvider, RingBuffer};
/// let ring = RingBuffer::new(8, || [0u8; 16]).unwrap();
/// assert_eq!(ring.buffer_size(), 8);
/// assert!(RingBuffer::new(6, || 0u8).is_err());
/// ```
pub struct RingBuffer<E> {
    slots: Box<[UnsafeCell<E>]>,
    mask: i64,
}

// SAFETY: slots move between threads (E: Send) and are read from several consumer threads at
// once (E: Sync); exclusive access for writers comes from the claim protocol, which the
// `unsafe` accessors make callers promise.
unsafe impl<E: Send + Sync> Sync for RingBuffer<E> {}
// SAFETY: owning the ring owns the events.
unsafe impl<E: Send> Send for RingBuffer<E> {}

impl<E> std::fmt::Debug for RingBuffer<E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RingBuffer").field("size", &self.slots.len()).finish_non_exhaustive()
    }
}

impl<E> RingBuffer<E> {
    /// A ring of `size` events (a power of two up to [`crate::MAX_BUFFER_SIZE`]), each made by
    /// `factory`.
    ///
    /// ```
    /// let ring = disruptor_core::RingBuffer::new(2, String::new).unwrap();
    /// # let _ = ring;
    /// ```
    pub fn new(size: usize, mut factory: impl FnMut() -> E) -> Result<Self> {
        check_buffer_size(size)?;
        Ok(RingBuffer {
            slots: (0..size).map(|_| UnsafeCell::new(factory())).collect(),
            mask: size as i64 - 1,
        })
    }
}

// SAFETY: one distinct, owned slot per index; `get`/`get_mut` mask the sequence.
unsafe impl<E: Send + Sync + 'static> DataProvider for RingBuffer<E> {
    type Item = E;

    fn buffer_size(&self) -> usize {
        self.slots.len()
    }

    #[inline]
    unsafe fn get(&self, sequence: i64) -> &E {
        // SAFETY: the mask keeps the index in bounds; the caller excludes writers (trait docs).
        unsafe { &*self.slots.get_unchecked((sequence & self.mask) as usize).get() }
    }

    #[inline]
    unsafe fn get_mut(&self, sequence: i64) -> &mut E {
        // SAFETY: the mask keeps the index in bounds; the caller holds the claim (trait docs).
        unsafe { &mut *self.slots.get_unchecked((sequence & self.mask) as usize).get() }
    }
}
