//! [`SlotBuffer`]: a ring of fixed-size byte slots in one block of memory (the JS model).

use std::alloc::{alloc_zeroed, dealloc, Layout};
use std::ptr::NonNull;

use crate::data_provider::DataProvider;
use crate::error::{Error, Result};
use crate::sequencer::check_buffer_size;

/// Alignment of the block: a cache line, so slot 0 starts one and typed arrays of any element
/// size (up to 8 bytes) can view it.
const ALIGN: usize = 64;

/// `size` slots of `slot_size` bytes each, contiguous and zeroed, 64-byte aligned: the memory
/// the JS layer exposes as one `ArrayBuffer` (slot `s` at byte `(s & (size - 1)) * slot_size`).
///
/// ```
/// use disruptor_core::{DataProvider, SlotBuffer};
/// let ring = SlotBuffer::new(4, 8).unwrap();
/// assert_eq!(ring.len_bytes(), 32);
/// assert_eq!(ring.offset(5), 8);
/// // SAFETY: no other thread uses the ring.
/// unsafe { ring.get_mut(5).copy_from_slice(&42u64.to_le_bytes()) };
/// assert_eq!(unsafe { ring.get(1) }, &42u64.to_le_bytes());
/// ```
pub struct SlotBuffer {
    base: NonNull<u8>,
    layout: Layout,
    slot_size: usize,
    mask: i64,
}

// SAFETY: plain bytes; access to a slot is made exclusive by the claim protocol (see
// `DataProvider`), and the block lives until drop.
unsafe impl Send for SlotBuffer {}
// SAFETY: as above.
unsafe impl Sync for SlotBuffer {}

impl std::fmt::Debug for SlotBuffer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SlotBuffer")
            .field("size", &(self.mask + 1))
            .field("slot_size", &self.slot_size)
            .finish_non_exhaustive()
    }
}

impl SlotBuffer {
    /// `size` slots (a power of two up to [`crate::MAX_BUFFER_SIZE`]) of `slot_size` bytes (a
    /// multiple of 8 from 8 to [`crate::MAX_SLOT_SIZE`]), zeroed. The whole block must fit in
    /// `isize::MAX` bytes.
    ///
    /// ```
    /// use disruptor_core::{Error, SlotBuffer};
    /// assert!(SlotBuffer::new(1024, 64).is_ok());
    /// assert_eq!(SlotBuffer::new(1024, 12).err(), Some(Error::InvalidSlotSize(12)));
    /// ```
    pub fn new(size: usize, slot_size: usize) -> Result<Self> {
        check_buffer_size(size)?;
        if slot_size == 0 || !slot_size.is_multiple_of(8) || slot_size > crate::MAX_SLOT_SIZE {
            return Err(Error::InvalidSlotSize(slot_size));
        }
        let bytes = size.checked_mul(slot_size).ok_or(Error::InvalidBufferSize(size))?;
        let layout =
            Layout::from_size_align(bytes, ALIGN).map_err(|_| Error::InvalidBufferSize(size))?;
        // SAFETY: the layout has a non-zero size (size >= 1, slot_size >= 8).
        let raw = unsafe { alloc_zeroed(layout) };
        let base = NonNull::new(raw).ok_or(Error::OutOfMemory { bytes })?;
        Ok(SlotBuffer { base, layout, slot_size, mask: size as i64 - 1 })
    }

    /// Bytes per slot.
    ///
    /// ```
    /// assert_eq!(disruptor_core::SlotBuffer::new(2, 16).unwrap().slot_size(), 16);
    /// ```
    pub fn slot_size(&self) -> usize {
        self.slot_size
    }

    /// Bytes in the whole ring (`size * slot_size`).
    ///
    /// ```
    /// assert_eq!(disruptor_core::SlotBuffer::new(2, 16).unwrap().len_bytes(), 32);
    /// ```
    pub fn len_bytes(&self) -> usize {
        self.layout.size()
    }

    /// Byte offset of `sequence`'s slot in the block.
    ///
    /// ```
    /// assert_eq!(disruptor_core::SlotBuffer::new(4, 16).unwrap().offset(6), 32);
    /// ```
    #[inline]
    pub fn offset(&self, sequence: i64) -> usize {
        (sequence & self.mask) as usize * self.slot_size
    }

    /// The start of the block, for handing the memory to a foreign owner (a JS `ArrayBuffer`).
    ///
    /// # Safety
    /// The pointer is valid for `len_bytes()` bytes while `self` lives; whoever dereferences it
    /// must follow the claim / publish protocol like [`DataProvider::get_mut`] callers do and
    /// must stop before `self` is dropped.
    ///
    /// ```
    /// let ring = disruptor_core::SlotBuffer::new(2, 8).unwrap();
    /// // SAFETY: only compared, never dereferenced.
    /// let p = unsafe { ring.base_ptr() };
    /// assert_eq!(p as usize % 64, 0);
    /// ```
    pub unsafe fn base_ptr(&self) -> *mut u8 {
        self.base.as_ptr()
    }
}

impl Drop for SlotBuffer {
    fn drop(&mut self) {
        // SAFETY: allocated in `new` with this layout, freed once.
        unsafe { dealloc(self.base.as_ptr(), self.layout) };
    }
}

// SAFETY: slots are disjoint `slot_size` ranges of one live block, indexed by masked sequence.
unsafe impl DataProvider for SlotBuffer {
    type Item = [u8];

    fn buffer_size(&self) -> usize {
        (self.mask + 1) as usize
    }

    #[inline]
    unsafe fn get(&self, sequence: i64) -> &[u8] {
        // SAFETY: offset + slot_size <= len_bytes by construction; the caller excludes writers.
        unsafe {
            std::slice::from_raw_parts(
                self.base.as_ptr().add(self.offset(sequence)),
                self.slot_size,
            )
        }
    }

    #[inline]
    unsafe fn get_mut(&self, sequence: i64) -> &mut [u8] {
        // SAFETY: in bounds as above; the caller holds the claim.
        unsafe {
            std::slice::from_raw_parts_mut(
                self.base.as_ptr().add(self.offset(sequence)),
                self.slot_size,
            )
        }
    }
}
