use std::sync::Arc;

use crate::sequence::{minimum_sequence, Sequence};
use crate::sync::GatingLock;

/// The consumer sequences a producer must not overtake by more than the ring size, changeable
/// at run time (a consumer joins or leaves a running ring).
///
/// The list is read-mostly: producers read it only when their cached minimum runs out, through
/// a sharded reader lock (crossbeam's `ShardedLock`: a reader touches only its own shard, so
/// producers on different threads do not contend); adding or removing takes every shard.
///
/// Change it through [`crate::Sequencer::add_gating_sequences`] and
/// [`crate::Sequencer::remove_gating_sequence`], which keep joining consumers safe and wake
/// producers the change frees.
///
/// ```
/// use std::sync::Arc;
/// use disruptor_core::{BusySpinWaitStrategy, Sequence, Sequencer, SingleProducerSequencer};
/// let s = SingleProducerSequencer::new(8, BusySpinWaitStrategy).unwrap();
/// let a = Arc::new(Sequence::default());
/// s.add_gating_sequences(&[a.clone()]);
/// assert_eq!(s.gating_sequences().minimum(100), -1);
/// assert!(s.remove_gating_sequence(&a));
/// assert_eq!(s.gating_sequences().minimum(100), 100);
/// ```
pub struct GatingSequences {
    list: GatingLock<Arc<[Arc<Sequence>]>>,
}

impl Default for GatingSequences {
    fn default() -> Self {
        GatingSequences { list: GatingLock::new(Arc::from(Vec::new())) }
    }
}

impl std::fmt::Debug for GatingSequences {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.snapshot().iter()).finish()
    }
}

impl GatingSequences {
    /// Adds sequences to the list.
    pub(crate) fn add(&self, sequences: &[Arc<Sequence>]) {
        let mut list = self.list.write().unwrap_or_else(|e| e.into_inner());
        let mut v: Vec<Arc<Sequence>> = list.iter().cloned().collect();
        v.extend(sequences.iter().cloned());
        *list = Arc::from(v);
    }

    /// Removes every occurrence of `sequence` (by identity); true if it was there.
    pub(crate) fn remove(&self, sequence: &Arc<Sequence>) -> bool {
        let mut list = self.list.write().unwrap_or_else(|e| e.into_inner());
        let before = list.len();
        let v: Vec<Arc<Sequence>> =
            list.iter().filter(|s| !Arc::ptr_eq(s, sequence)).cloned().collect();
        let removed = v.len() != before;
        *list = Arc::from(v);
        removed
    }

    /// The smallest gating sequence (each read with **Acquire**, so slots they finished reading
    /// may be overwritten after), or `default` if it is smaller or there are none.
    ///
    /// ```
    /// let g = disruptor_core::GatingSequences::default();
    /// assert_eq!(g.minimum(5), 5);
    /// ```
    #[inline]
    pub fn minimum(&self, default: i64) -> i64 {
        let list = self.list.read().unwrap_or_else(|e| e.into_inner());
        minimum_sequence(&list, default)
    }

    /// The sequences now in the list.
    ///
    /// ```
    /// assert!(disruptor_core::GatingSequences::default().snapshot().is_empty());
    /// ```
    pub fn snapshot(&self) -> Arc<[Arc<Sequence>]> {
        self.list.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// How many sequences gate the producer.
    ///
    /// ```
    /// assert_eq!(disruptor_core::GatingSequences::default().len(), 0);
    /// ```
    pub fn len(&self) -> usize {
        self.list.read().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// Whether no sequence gates the producer.
    ///
    /// ```
    /// assert!(disruptor_core::GatingSequences::default().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
