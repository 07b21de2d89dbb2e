//! [`AbandonedRanges`]: sequences a producer claimed and never filled, which consumers skip.

use crossbeam_utils::CachePadded;

use crate::sync::{AtomicI32, AtomicI64, AtomicU64, Mutex, Ordering};

/// The ranges of a ring that were claimed and then abandoned: a producer that went away between
/// claim and publish (a JavaScript thread that exited, a Rust producer whose fill panicked).
/// They are published so that the ring moves on, but marked first, and every consumer skips
/// them: no consumer receives a sequence nobody published.
///
/// The protocol: [`mark`](Self::mark) records a range **before** the range is published (the
/// publish's Release store orders the mark before it); a consumer that found a batch available
/// (an Acquire load of the cursor or the availability flags) then checks the batch against
/// [`low`](Self::low), and only when a range may overlap does it take the lock. Ranges every
/// consumer has passed are dropped (see [`first_in`](Self::first_in)).
///
/// ```
/// use disruptor_core::AbandonedRanges;
/// let a = AbandonedRanges::default();
/// assert_eq!(a.first_in(0, 9, || i64::MIN), None);
/// a.mark(3, 4);
/// assert_eq!(a.first_in(0, 9, || i64::MIN), Some((3, 4)));
/// assert_eq!(a.first_in(5, 9, || i64::MIN), None);
/// assert_eq!(a.first_in(0, 9, || 4), None); // every consumer passed 4: dropped
/// assert_eq!(a.total(), 2);
/// ```
pub struct AbandonedRanges {
    /// The lowest first sequence of a range still recorded (`i64::MAX`: none). Read by every
    /// consumer batch; a line of its own so that it is never invalidated by other writes.
    low: CachePadded<AtomicI64>,
    /// The highest last sequence of a range still recorded (`i64::MIN`: none): a batch that
    /// starts above it overlaps none either, without the lock.
    high: CachePadded<AtomicI64>,
    /// Two 32-bit words JavaScript consumers read without a BigInt: how many ranges are
    /// recorded (non-zero: ask the engine which), and how many were ever marked (wrapping:
    /// a consumer's cached "none at or after here" holds while it does not change).
    counts: CachePadded<[AtomicI32; 2]>,
    ranges: Mutex<Vec<(i64, i64)>>,
    total: AtomicU64,
}

impl Default for AbandonedRanges {
    fn default() -> Self {
        AbandonedRanges {
            low: CachePadded::new(AtomicI64::new(i64::MAX)),
            high: CachePadded::new(AtomicI64::new(i64::MIN)),
            counts: CachePadded::new([AtomicI32::new(0), AtomicI32::new(0)]),
            ranges: Mutex::new(Vec::new()),
            total: AtomicU64::new(0),
        }
    }
}

impl AbandonedRanges {
    /// Records `[lo, hi]` as abandoned. Must happen before the range is published, on the
    /// thread that publishes it.
    ///
    /// ```
    /// let a = disruptor_core::AbandonedRanges::default();
    /// a.mark(0, 1);
    /// assert_eq!(a.low(), 0);
    /// ```
    pub fn mark(&self, lo: i64, hi: i64) {
        let mut ranges = self.lock();
        ranges.push((lo, hi));
        // Release (all): with the publish after it, a consumer that sees the range published
        // sees these; under the lock, so they never race a prune.
        self.low.fetch_min(lo, Ordering::Release);
        self.high.fetch_max(hi, Ordering::Release);
        self.counts[0].store(ranges.len() as i32, Ordering::Release);
        self.counts[1].fetch_add(1, Ordering::Release);
        // Relaxed: statistics.
        self.total.fetch_add((hi - lo + 1) as u64, Ordering::Relaxed);
    }

    /// The lowest first sequence of a recorded range, `i64::MAX` when there is none
    /// (**Acquire**). A batch that ends below it overlaps no abandoned range.
    ///
    /// ```
    /// assert_eq!(disruptor_core::AbandonedRanges::default().low(), i64::MAX);
    /// ```
    #[inline]
    pub fn low(&self) -> i64 {
        self.low.load(Ordering::Acquire)
    }

    /// Two words JavaScript reads: the count of recorded ranges (`0`: none) and the count of
    /// ranges ever marked (wrapping).
    ///
    /// ```
    /// let a = disruptor_core::AbandonedRanges::default();
    /// a.mark(2, 2);
    /// let [live, marked] = a.counts();
    /// assert_eq!(live.load(std::sync::atomic::Ordering::Relaxed), 1);
    /// assert_eq!(marked.load(std::sync::atomic::Ordering::Relaxed), 1);
    /// ```
    pub fn counts(&self) -> &[AtomicI32; 2] {
        &self.counts
    }

    /// The first recorded range that overlaps `[lo, hi]`, if any, after dropping the ranges
    /// that end at or below `passed()` (a sequence every consumer has finished: the slowest
    /// gating sequence; asked only when a range may overlap). Cheap when nothing may overlap:
    /// one load.
    ///
    /// ```
    /// let a = disruptor_core::AbandonedRanges::default();
    /// a.mark(5, 6);
    /// a.mark(2, 2);
    /// assert_eq!(a.first_in(0, 9, || -1), Some((2, 2)));
    /// assert_eq!(a.first_in(3, 9, || 2), Some((5, 6)));
    /// assert_eq!(a.low(), 5); // (2, 2) was dropped
    /// ```
    #[inline]
    pub fn first_in(&self, lo: i64, hi: i64, passed: impl FnOnce() -> i64) -> Option<(i64, i64)> {
        // Acquire (both): as `low`.
        if hi < self.low() || lo > self.high.load(Ordering::Acquire) {
            return None;
        }
        self.first_in_slow(lo, hi, passed())
    }

    #[cold]
    fn first_in_slow(&self, lo: i64, hi: i64, passed: i64) -> Option<(i64, i64)> {
        let mut ranges = self.lock();
        let before = ranges.len();
        ranges.retain(|&(_, end)| end > passed);
        if ranges.len() != before {
            let low = ranges.iter().map(|&(start, _)| start).min().unwrap_or(i64::MAX);
            let high = ranges.iter().map(|&(_, end)| end).max().unwrap_or(i64::MIN);
            // Release (all): under the lock, as in `mark`.
            self.low.store(low, Ordering::Release);
            self.high.store(high, Ordering::Release);
            self.counts[0].store(ranges.len() as i32, Ordering::Release);
        }
        ranges.iter().filter(|&&(start, end)| start <= hi && end >= lo).min().copied()
    }

    /// Whether a recorded range ends at or after `sequence` (one load): when none does, a
    /// consumer past `sequence` has nothing to skip until another range is marked.
    ///
    /// ```
    /// let a = disruptor_core::AbandonedRanges::default();
    /// a.mark(3, 4);
    /// assert!(a.any_from(4));
    /// assert!(!a.any_from(5));
    /// ```
    pub fn any_from(&self, sequence: i64) -> bool {
        // Acquire: as `low`.
        self.high.load(Ordering::Acquire) >= sequence
    }

    /// Events abandoned so far.
    ///
    /// ```
    /// assert_eq!(disruptor_core::AbandonedRanges::default().total(), 0);
    /// ```
    pub fn total(&self) -> u64 {
        // Relaxed: statistics.
        self.total.load(Ordering::Relaxed)
    }

    fn lock(&self) -> crate::sync::MutexGuard<'_, Vec<(i64, i64)>> {
        self.ranges.lock().unwrap_or_else(|e| e.into_inner())
    }
}
