use std::sync::Arc;

use crate::sequence::{minimum_sequence, Sequence};
use crate::sync::{AtomicPtr, Mutex, Ordering};

type List = Vec<Arc<Sequence>>;

/// The consumer sequences a producer must not overtake by more than the ring size, changeable
/// at run time (a consumer joins or leaves a running ring).
///
/// Reading is lock-free: one **Acquire** load of a pointer to the current list, then the
/// sequences. Producers read it whenever their cached minimum runs out, which on a full ring is
/// every claim, so a lock here (even a sharded reader lock: two atomic read-modify-writes) was
/// measurable. A change builds a new list and publishes it with a **Release** store; replaced
/// lists are kept until the `GatingSequences` is dropped (a reader may still be scanning one),
/// which costs one small list per change: changes are rare (a consumer joining or leaving).
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
    /// Points into one of the boxes in `lists`.
    current: AtomicPtr<List>,
    /// Every list ever published, the current one last. Boxes never move or drop before `self`.
    #[allow(clippy::vec_box)]
    // the box keeps each list's address stable as the outer Vec grows
    lists: Mutex<Vec<Box<List>>>,
}

impl Default for GatingSequences {
    fn default() -> Self {
        let mut first = Box::new(List::new());
        let current = AtomicPtr::new(&mut *first as *mut List);
        GatingSequences { current, lists: Mutex::new(vec![first]) }
    }
}

impl std::fmt::Debug for GatingSequences {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.current().iter()).finish()
    }
}

impl GatingSequences {
    #[inline]
    fn current(&self) -> &List {
        // Acquire: pairs with the Release in `replace`, so the list's contents are visible.
        let list = self.current.load(Ordering::Acquire);
        // SAFETY: `current` always points to a box in `lists`, and boxes are dropped only with
        // `self`, so the list outlives this borrow of `self`; published lists are never mutated.
        unsafe { &*list }
    }

    /// Publishes `change(current list)` as the new list.
    fn replace(&self, change: impl FnOnce(&List) -> List) {
        let mut lists = self.lists.lock().unwrap_or_else(|e| e.into_inner());
        let mut next = Box::new(change(lists.last().expect("never empty")));
        // Release: the new list's contents happen-before a reader's Acquire of the pointer.
        self.current.store(&mut *next as *mut List, Ordering::Release);
        lists.push(next);
    }

    /// Adds sequences to the list.
    pub(crate) fn add(&self, sequences: &[Arc<Sequence>]) {
        self.replace(|list| list.iter().chain(sequences).cloned().collect());
    }

    /// Removes every occurrence of `sequence` (by identity); true if it was there.
    pub(crate) fn remove(&self, sequence: &Arc<Sequence>) -> bool {
        let mut removed = false;
        self.replace(|list| {
            let kept: List = list.iter().filter(|s| !Arc::ptr_eq(s, sequence)).cloned().collect();
            removed = kept.len() != list.len();
            kept
        });
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
        minimum_sequence(self.current(), default)
    }

    /// The sequences now in the list.
    ///
    /// ```
    /// assert!(disruptor_core::GatingSequences::default().snapshot().is_empty());
    /// ```
    pub fn snapshot(&self) -> Vec<Arc<Sequence>> {
        self.current().clone()
    }

    /// How many sequences gate the producer.
    ///
    /// ```
    /// assert_eq!(disruptor_core::GatingSequences::default().len(), 0);
    /// ```
    pub fn len(&self) -> usize {
        self.current().len()
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
