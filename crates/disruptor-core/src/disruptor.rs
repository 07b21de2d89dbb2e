//! [`Disruptor`]: a running ring with its consumers.

use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_utils::Backoff;

use crate::consumer::{ConsumerInfo, ConsumerOptions, ConsumerState};
use crate::data_provider::DataProvider;
use crate::dependency::Dependency;
use crate::error::{Error, Result};
use crate::event_handler::EventHandler;
use crate::event_poller::{ring_id, EventPoller};
use crate::processor::BatchEventProcessor;
use crate::sequence::Sequence;
use crate::sequence_barrier::SequenceBarrier;
use crate::sequencer::Sequencer;

/// A started disruptor: its consumer threads run until [`halt`](Disruptor::halt) or
/// [`shutdown`](Disruptor::shutdown) (or drop, which halts). Built by
/// [`crate::DisruptorBuilder::build`], which also returns the [`crate::Producer`].
///
/// ```
/// use disruptor_core::*;
/// let mut b = DisruptorBuilder::new(
///     RingBuffer::new(16, || 0u8).unwrap(),
///     SingleProducerSequencer::new(16, BlockingWaitStrategy::default()).unwrap(),
/// ).unwrap();
/// b.handle_events_with(|_: &u8, _: i64, _: bool| {});
/// let (d, mut p) = b.build();
/// p.publish(|e, _| *e = 1).unwrap();
/// d.drain().unwrap();
/// assert_eq!(d.consumers()[0].events(), 1);
/// d.shutdown().unwrap();
/// ```
pub struct Disruptor<D: DataProvider, S: Sequencer> {
    data: Arc<D>,
    sequencer: Arc<S>,
    state: Mutex<State<S>>,
}

/// Everything `halt` must stop; one lock, so that a consumer added concurrently with a halt is
/// either refused or stopped by it.
struct State<S: Sequencer> {
    barriers: Vec<Arc<SequenceBarrier<S>>>,
    consumers: Vec<Arc<ConsumerInfo>>,
    threads: Vec<JoinHandle<()>>,
    /// Consumers added after the start, which can also be removed.
    added: Vec<Added<S>>,
}

/// A removal the ring refused ([`Error::HasDependents`]): why, and the poller given back, still
/// registered and gating.
///
/// ```
/// use disruptor_core::*;
/// let b = DisruptorBuilder::new(
///     RingBuffer::new(8, || 0u8).unwrap(),
///     MultiProducerSequencer::new(8, BusySpinWaitStrategy).unwrap(),
/// ).unwrap();
/// let (d, _p) = b.build();
/// let a = d.add_poller("a").unwrap();
/// let b = d.add_poller_after("b", &[a.dependency()]).unwrap();
/// let refused = d.remove_poller(a).unwrap_err();
/// assert_eq!(refused.error.code(), "ERR_DISRUPTOR_HAS_DEPENDENTS");
/// assert!(d.remove_poller(b).unwrap());
/// assert!(d.remove_poller(refused.poller).unwrap());
/// ```
pub struct Refused<P> {
    /// Why it was refused.
    pub error: Error,
    /// The poller, as it was.
    pub poller: P,
}

impl<P> std::fmt::Debug for Refused<P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Refused").field("error", &self.error).finish_non_exhaustive()
    }
}

struct Added<S: Sequencer> {
    info: Arc<ConsumerInfo>,
    barrier: Arc<SequenceBarrier<S>>,
    sequence: Arc<Sequence>,
    thread: Option<JoinHandle<()>>,
}

type Task = Box<dyn FnOnce() + Send>;

fn spawn(name: String, task: Task) -> Result<JoinHandle<()>> {
    std::thread::Builder::new()
        .name(name)
        .spawn(task)
        .map_err(|e| Error::ThreadSpawn(e.to_string()))
}

impl<D: DataProvider, S: Sequencer> Disruptor<D, S> {
    pub(crate) fn start(
        data: Arc<D>,
        sequencer: Arc<S>,
        barriers: Vec<Arc<SequenceBarrier<S>>>,
        consumers: Vec<Arc<ConsumerInfo>>,
        tasks: Vec<(String, Task)>,
    ) -> Self {
        let state = State { barriers, consumers, threads: Vec::new(), added: Vec::new() };
        let d = Disruptor { data, sequencer, state: Mutex::new(state) };
        for (name, task) in tasks {
            match spawn(name, task) {
                Ok(t) => d.lock().threads.push(t),
                Err(e) => {
                    // Stop what did start rather than leave threads nothing would halt.
                    d.halt();
                    panic!("the OS refused to start a consumer thread: {e}");
                }
            }
        }
        d
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State<S>> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Every consumer (thread or poller), in the order they were added.
    pub fn consumers(&self) -> Vec<Arc<ConsumerInfo>> {
        self.lock().consumers.clone()
    }

    /// Events abandoned so far: claimed, never filled (a producer whose fill panicked), and
    /// skipped by every consumer (see [`Sequencer::abandon`]).
    ///
    /// ```
    /// use disruptor_core::*;
    /// let b = DisruptorBuilder::new(
    ///     RingBuffer::new(8, || 0u64).unwrap(),
    ///     MultiProducerSequencer::new(8, BusySpinWaitStrategy).unwrap(),
    /// ).unwrap();
    /// let (d, mut p) = b.build();
    /// let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
    ///     p.publish_batch(2, |e, s| if s == 1 { panic!("no value") } else { *e = 7 })
    /// }));
    /// assert!(panicked.is_err());
    /// assert_eq!(d.abandoned(), 1); // sequence 1; sequence 0 was filled and is delivered
    /// d.shutdown().unwrap();
    /// ```
    pub fn abandoned(&self) -> u64 {
        self.sequencer.core().abandoned().total()
    }

    /// Adds a consumer to the running ring, on a thread of its own. It starts after the
    /// current cursor (it does not see what was published before) and gates producers from
    /// then on. [`Error::Closed`] after a halt.
    ///
    /// ```
    /// use disruptor_core::*;
    /// let b = DisruptorBuilder::new(
    ///     RingBuffer::new(8, || 0u8).unwrap(),
    ///     SingleProducerSequencer::new(8, BlockingWaitStrategy::default()).unwrap(),
    /// ).unwrap();
    /// let (d, mut p) = b.build();
    /// p.publish(|e, _| *e = 1).unwrap(); // nobody sees this one
    /// let late = d.add_handler(|_: &u8, _: i64, _: bool| {}, ConsumerOptions::new().name("late")).unwrap();
    /// p.publish(|e, _| *e = 2).unwrap();
    /// d.drain().unwrap();
    /// assert_eq!(late.events(), 1);
    /// assert_eq!(d.remove_consumer(&late), Ok(true));
    /// d.shutdown().unwrap();
    /// ```
    pub fn add_handler<H>(
        &self,
        handler: H,
        mut options: ConsumerOptions,
    ) -> Result<Arc<ConsumerInfo>>
    where
        H: EventHandler<D::Item> + 'static,
    {
        let mut state = self.lock();
        if self.sequencer.is_closed() {
            return Err(Error::Closed);
        }
        let name = options
            .name
            .get_or_insert_with(|| format!("consumer-{}", state.consumers.len()))
            .clone();
        let barrier = Arc::new(SequenceBarrier::new(self.sequencer.clone(), vec![]));
        // SAFETY: the barrier is on this ring's sequencer; the sequence gates the producers
        // (added below, before the thread starts) and only the processor writes it.
        let mut processor = unsafe {
            BatchEventProcessor::new(self.data.clone(), barrier.clone(), handler, options)
        };
        let sequence = processor.sequence().clone();
        let info = processor.info().clone();
        self.sequencer.add_gating_sequences(std::slice::from_ref(&sequence));
        let thread = match spawn(name, Box::new(move || processor.run())) {
            Ok(t) => t,
            Err(e) => {
                self.sequencer.remove_gating_sequence(&sequence);
                return Err(e);
            }
        };
        state.consumers.push(info.clone());
        state.added.push(Added { info: info.clone(), barrier, sequence, thread: Some(thread) });
        Ok(info)
    }

    /// Adds a poller (pull consumer) to the running ring, starting after the current cursor.
    /// [`Error::Closed`] after a halt.
    ///
    /// ```
    /// use disruptor_core::*;
    /// let b = DisruptorBuilder::new(
    ///     RingBuffer::new(8, || 0u8).unwrap(),
    ///     MultiProducerSequencer::new(8, BusySpinWaitStrategy).unwrap(),
    /// ).unwrap();
    /// let (d, mut p) = b.build();
    /// let mut poller = d.add_poller("pull").unwrap();
    /// p.publish(|e, _| *e = 7).unwrap();
    /// let mut got = vec![];
    /// poller.poll(|e, _, _| { got.push(*e); true }).unwrap();
    /// assert_eq!(got, [7]);
    /// assert!(d.remove_poller(poller).unwrap());
    /// ```
    pub fn add_poller(&self, name: impl Into<String>) -> Result<EventPoller<D, S>> {
        self.add_poller_after(name, &[])
    }

    /// [`add_poller`](Self::add_poller) for a poller that sees a sequence only after every
    /// consumer in `after` finished it (a pipeline or diamond stage driven by the caller).
    /// [`Error::ForeignStage`] if a dependency belongs to another ring.
    ///
    /// ```
    /// use disruptor_core::*;
    /// let b = DisruptorBuilder::new(
    ///     RingBuffer::new(8, || 0u8).unwrap(),
    ///     SingleProducerSequencer::new(8, BusySpinWaitStrategy).unwrap(),
    /// ).unwrap();
    /// let (d, mut p) = b.build();
    /// let mut first = d.add_poller("first").unwrap();
    /// let mut second = d.add_poller_after("second", &[first.dependency()]).unwrap();
    /// p.publish(|e, _| *e = 1).unwrap();
    /// assert_eq!(second.poll(|_, _, _| true), Ok(PollState::Gating));
    /// assert_eq!(first.poll(|_, _, _| true), Ok(PollState::Processing));
    /// assert_eq!(second.poll(|_, _, _| true), Ok(PollState::Processing));
    /// ```
    pub fn add_poller_after(
        &self,
        name: impl Into<String>,
        after: &[Dependency],
    ) -> Result<EventPoller<D, S>> {
        let ring = ring_id(&self.sequencer);
        if after.iter().any(|d| d.ring != ring) {
            return Err(Error::ForeignStage);
        }
        let mut state = self.lock();
        if self.sequencer.is_closed() {
            return Err(Error::Closed);
        }
        let upstream = after.iter().map(|d| d.sequence.clone()).collect();
        let barrier = Arc::new(SequenceBarrier::new(self.sequencer.clone(), upstream));
        let sequence = Arc::new(Sequence::default());
        let info = Arc::new(ConsumerInfo::new(name, sequence.clone()));
        // Every poller gates producers, also one with upstream consumers: the minimum is the
        // same (it is never ahead of them), and it keeps gating if they are removed.
        self.sequencer.add_gating_sequences(std::slice::from_ref(&sequence));
        info.set_state(ConsumerState::Running);
        state.consumers.push(info.clone());
        state.added.push(Added {
            info: info.clone(),
            barrier: barrier.clone(),
            sequence: sequence.clone(),
            thread: None,
        });
        Ok(EventPoller::new(self.data.clone(), barrier, sequence, info))
    }

    /// The ring's sequencer, for callers that claim, fill and publish slots themselves (the
    /// JavaScript binding, whose slots are bytes that only JavaScript reads and writes).
    ///
    /// # Safety
    /// A [`Producer`](crate::Producer) of this ring writes slots through references on the
    /// strength of its claims. The caller must not publish ranges it did not claim itself
    /// (the checked [`Sequencer::publish`] cannot tell whose claim a range is), and must not
    /// move gating sequences.
    ///
    /// ```
    /// use disruptor_core::*;
    /// let b = DisruptorBuilder::new(
    ///     SlotBuffer::new(8, 8).unwrap(),
    ///     SingleProducerSequencer::new(8, BusySpinWaitStrategy).unwrap(),
    /// ).unwrap();
    /// let (d, _p) = b.build();
    /// // SAFETY: the Producer is unused, every range published is claimed here.
    /// let s = unsafe { d.sequencer() };
    /// let hi = s.next(2).unwrap();
    /// s.publish(0, hi).unwrap();
    /// assert_eq!(d.cursor(), 1);
    /// ```
    pub unsafe fn sequencer(&self) -> &Arc<S> {
        &self.sequencer
    }

    /// Stops and removes a consumer added with [`add_handler`](Self::add_handler): its thread is
    /// joined first (it may be in the middle of a batch), then it stops gating producers (a
    /// consumer that went away must not freeze the ring). `Ok(false)` if it is not such a
    /// consumer; [`Error::HasDependents`] (and nothing changes) while a consumer added after it
    /// depends on it: those leave first. Must not be called from that consumer's own handler.
    ///
    /// ```
    /// use disruptor_core::*;
    /// let b = DisruptorBuilder::new(
    ///     RingBuffer::new(8, || 0u8).unwrap(),
    ///     SingleProducerSequencer::new(8, BlockingWaitStrategy::default()).unwrap(),
    /// ).unwrap();
    /// let (d, _p) = b.build();
    /// let first = d.add_handler(|_: &u8, _: i64, _: bool| {}, ConsumerOptions::new().name("first")).unwrap();
    /// let next = d.add_poller_after("next", &[d.dependency_of(&first).unwrap()]).unwrap();
    /// let refused = d.remove_consumer(&first).unwrap_err();
    /// assert_eq!(refused.code(), "ERR_DISRUPTOR_HAS_DEPENDENTS");
    /// assert!(d.remove_poller(next).unwrap());
    /// assert_eq!(d.remove_consumer(&first), Ok(true));
    /// ```
    pub fn remove_consumer(&self, info: &Arc<ConsumerInfo>) -> Result<bool> {
        let Some(removed) = self.unregister(info, true)? else {
            return Ok(false);
        };
        removed.barrier.alert();
        if let Some(t) = removed.thread {
            let _ = t.join();
        }
        // Only now: until the thread stopped, it could still be reading slots.
        self.sequencer.remove_gating_sequence(&removed.sequence);
        Ok(true)
    }

    /// Removes a poller added with [`add_poller`](Self::add_poller) (taken by value, so no poll
    /// is in progress): it stops gating producers. `Ok(false)` if it is not such a poller; the
    /// poller back with [`Error::HasDependents`] while a consumer added after it depends on it.
    pub fn remove_poller(
        &self,
        poller: EventPoller<D, S>,
    ) -> std::result::Result<bool, Box<Refused<EventPoller<D, S>>>> {
        let removed = match self.unregister(poller.info(), false) {
            Ok(Some(removed)) => removed,
            Ok(None) => return Ok(false),
            Err(error) => return Err(Box::new(Refused { error, poller })),
        };
        removed.barrier.alert();
        self.sequencer.remove_gating_sequence(&removed.sequence);
        Ok(true)
    }

    /// The names of the consumers that depend on `info` (added after it with it among their
    /// dependencies): what must leave before it may (empty if none or not a consumer here).
    ///
    /// ```
    /// use disruptor_core::*;
    /// let b = DisruptorBuilder::new(
    ///     RingBuffer::new(8, || 0u8).unwrap(),
    ///     MultiProducerSequencer::new(8, BusySpinWaitStrategy).unwrap(),
    /// ).unwrap();
    /// let (d, _p) = b.build();
    /// let a = d.add_poller("a").unwrap();
    /// let _b = d.add_poller_after("b", &[a.dependency()]).unwrap();
    /// assert_eq!(d.dependents_of(a.info()), ["b"]);
    /// ```
    pub fn dependents_of(&self, info: &Arc<ConsumerInfo>) -> Vec<String> {
        self.dependent_consumers(info).iter().map(|c| c.name().to_owned()).collect()
    }

    /// The consumers that depend on `info` (as [`dependents_of`](Self::dependents_of) names
    /// them): names may repeat, these tell them apart.
    ///
    /// ```
    /// use disruptor_core::*;
    /// let b = DisruptorBuilder::new(
    ///     RingBuffer::new(8, || 0u8).unwrap(),
    ///     MultiProducerSequencer::new(8, BusySpinWaitStrategy).unwrap(),
    /// ).unwrap();
    /// let (d, _p) = b.build();
    /// let a = d.add_poller("same").unwrap();
    /// let b = d.add_poller_after("same", &[a.dependency()]).unwrap();
    /// let after = d.dependent_consumers(a.info());
    /// assert!(after.len() == 1 && std::sync::Arc::ptr_eq(&after[0], b.info()));
    /// ```
    pub fn dependent_consumers(&self, info: &Arc<ConsumerInfo>) -> Vec<Arc<ConsumerInfo>> {
        let state = self.lock();
        Self::dependents_in(&state.added, info)
    }

    /// A [`Dependency`] on a consumer added with [`add_handler`](Self::add_handler) (for a
    /// poller after it); `None` if it is not such a consumer of this ring.
    pub fn dependency_of(&self, info: &Arc<ConsumerInfo>) -> Option<Dependency> {
        let state = self.lock();
        let a = state.added.iter().find(|a| Arc::ptr_eq(&a.info, info))?;
        Some(Dependency { sequence: a.sequence.clone(), ring: ring_id(&self.sequencer) })
    }

    fn dependents_in(added: &[Added<S>], info: &Arc<ConsumerInfo>) -> Vec<Arc<ConsumerInfo>> {
        let Some(target) = added.iter().find(|a| Arc::ptr_eq(&a.info, info)) else {
            return Vec::new();
        };
        added
            .iter()
            .filter(|a| a.barrier.dependents().iter().any(|s| Arc::ptr_eq(s, &target.sequence)))
            .map(|a| a.info.clone())
            .collect()
    }

    fn unregister(&self, info: &Arc<ConsumerInfo>, thread: bool) -> Result<Option<Added<S>>> {
        let mut state = self.lock();
        let Some(i) = state
            .added
            .iter()
            .position(|a| Arc::ptr_eq(&a.info, info) && a.thread.is_some() == thread)
        else {
            return Ok(None);
        };
        // Checked under the same lock as the removal: no dependent can be added in between.
        let dependents = Self::dependents_in(&state.added, info);
        if !dependents.is_empty() {
            let dependents = dependents.iter().map(|c| c.name().to_owned()).collect();
            return Err(Error::HasDependents { name: info.name().to_owned(), dependents });
        }
        state.consumers.retain(|c| !Arc::ptr_eq(c, info));
        Ok(Some(state.added.remove(i)))
    }

    /// The highest sequence up to which everything is published.
    pub fn cursor(&self) -> i64 {
        self.sequencer.published_cursor()
    }

    /// Slots that can be claimed now without waiting.
    pub fn remaining_capacity(&self) -> i64 {
        self.sequencer.remaining_capacity()
    }

    /// The ring's slots.
    pub fn data(&self) -> &Arc<D> {
        &self.data
    }

    /// Whether every consumer has processed every sequence up to `target` (never waits).
    /// [`Error::ConsumerHalted`] if a consumer failed and so never will.
    ///
    /// ```
    /// use disruptor_core::*;
    /// let b = DisruptorBuilder::new(
    ///     RingBuffer::new(8, || 0u8).unwrap(),
    ///     SingleProducerSequencer::new(8, BusySpinWaitStrategy).unwrap(),
    /// ).unwrap();
    /// let (d, mut p) = b.build();
    /// let mut poller = d.add_poller("pull").unwrap();
    /// let target = p.publish(|e, _| *e = 1).unwrap();
    /// assert_eq!(d.is_drained_to(target), Ok(false));
    /// poller.poll(|_, _, _| true).unwrap();
    /// assert_eq!(d.is_drained_to(target), Ok(true));
    /// ```
    pub fn is_drained_to(&self, target: i64) -> Result<bool> {
        if self.sequencer.gating_sequences().minimum(i64::MAX) >= target {
            return Ok(true);
        }
        match self.failed_consumer() {
            Some(name) => Err(Error::ConsumerHalted { name }),
            None => Ok(false),
        }
    }

    /// Waits until every consumer has processed everything published before the call.
    /// [`Error::ConsumerHalted`] if a consumer failed (it never will catch up).
    pub fn drain(&self) -> Result<()> {
        self.drain_until(None)
    }

    /// [`drain`](Self::drain) giving up with [`Error::Timeout`] after `timeout`.
    pub fn drain_timeout(&self, timeout: Duration) -> Result<()> {
        self.drain_until(Instant::now().checked_add(timeout))
    }

    fn drain_until(&self, deadline: Option<Instant>) -> Result<()> {
        let target = self.sequencer.published_cursor();
        let backoff = Backoff::new();
        loop {
            if self.sequencer.gating_sequences().minimum(i64::MAX) >= target {
                return Ok(());
            }
            if let Some(name) = self.failed_consumer() {
                return Err(Error::ConsumerHalted { name });
            }
            if deadline.is_some_and(|d| Instant::now() >= d) {
                return Err(Error::Timeout);
            }
            if backoff.is_completed() {
                std::thread::sleep(Duration::from_micros(50));
            } else {
                backoff.snooze();
            }
        }
    }

    /// Stops at once: closes the sequencer (waiting producers get [`Error::Closed`]), alerts
    /// every consumer and joins their threads. Events not yet consumed stay unconsumed. Safe to
    /// call from several threads and more than once; each call returns once the threads are
    /// gone. Must not be called from a handler (its own thread would wait for itself).
    pub fn halt(&self) {
        self.sequencer.close();
        // The lock is held while joining, so a concurrent `halt` returns only once every thread
        // has stopped, and no consumer can be added meanwhile (the sequencer is closed).
        let mut state = self.lock();
        for barrier in state.barriers.iter().chain(state.added.iter().map(|a| &a.barrier)) {
            barrier.alert();
        }
        let state = &mut *state;
        let added = state.added.iter_mut().filter_map(|a| a.thread.take());
        let threads: Vec<JoinHandle<()>> = state.threads.drain(..).chain(added).collect();
        for t in threads {
            // A consumer thread cannot panic (handlers' panics are caught); ignore if it did.
            let _ = t.join();
        }
    }

    fn failed_consumer(&self) -> Option<String> {
        let state = self.lock();
        let failed = state.consumers.iter().find(|c| c.state() == ConsumerState::Failed);
        failed.map(|c| c.name().to_owned())
    }

    /// [`drain`](Self::drain), then [`halt`](Self::halt). Returns the drain's error, if any,
    /// after halting anyway.
    pub fn shutdown(self) -> Result<()> {
        let drained = self.drain();
        self.halt();
        drained
    }

    /// [`shutdown`](Self::shutdown) with a time limit on the drain.
    pub fn shutdown_timeout(self, timeout: Duration) -> Result<()> {
        let drained = self.drain_timeout(timeout);
        self.halt();
        drained
    }
}

impl<D: DataProvider, S: Sequencer> Drop for Disruptor<D, S> {
    /// Halts: no consumer thread outlives its disruptor.
    fn drop(&mut self) {
        self.halt();
    }
}
