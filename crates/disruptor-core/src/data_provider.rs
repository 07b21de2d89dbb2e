//! [`DataProvider`]: where the slots of a ring live.

/// Storage for the slots of a ring, indexed by sequence (`sequence & (size - 1)`).
///
/// The sequencer decides *when* a slot may be touched; the provider only finds it. Access is
/// `unsafe` because the compiler cannot see the claim / publish / gating protocol that makes it
/// exclusive: the caller promises it.
///
/// ```
/// use disruptor_core::{DataProvider, RingBuffer};
/// let ring = RingBuffer::new(4, || 0u32).unwrap();
/// // SAFETY: no other thread uses the ring.
/// unsafe { *ring.get_mut(5) = 7 };
/// assert_eq!(unsafe { *ring.get(1) }, 7); // 5 and 1 share a slot
/// ```
///
/// # Safety
/// Implementations must return, for every sequence, the slot `sequence & (buffer_size - 1)`:
/// valid for the provider's lifetime, and distinct for sequences less than a ring apart.
pub unsafe trait DataProvider: Send + Sync + 'static {
    /// What a slot holds (`[u8]` for byte slots).
    type Item: ?Sized;

    /// Slots in the ring (a power of two).
    fn buffer_size(&self) -> usize;

    /// The slot of `sequence`, for reading.
    ///
    /// # Safety
    /// `sequence` must be published, and no producer may claim it again (a whole ring later)
    /// while the reference lives: the caller is a consumer whose sequence gates the producers,
    /// or otherwise excludes writers.
    unsafe fn get(&self, sequence: i64) -> &Self::Item;

    /// The slot of `sequence`, for writing.
    ///
    /// # Safety
    /// The caller must have claimed `sequence` and not yet published it, and no other
    /// reference to this slot may exist while the returned one lives.
    #[allow(clippy::mut_from_ref)] // exclusivity comes from the claim protocol, not a borrow
    unsafe fn get_mut(&self, sequence: i64) -> &mut Self::Item;
}
