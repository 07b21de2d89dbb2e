//! [`DisruptorBuilder`]: wires consumers into a graph that cannot be invalid.

use std::sync::atomic::{AtomicU64 as StdAtomicU64, Ordering as StdOrdering};
use std::sync::Arc;

use crate::consumer::{ConsumerInfo, ConsumerOptions};
use crate::data_provider::DataProvider;
use crate::disruptor::Disruptor;
use crate::error::{Error, Result};
use crate::event_handler::EventHandler;
use crate::event_poller::EventPoller;
use crate::processor::BatchEventProcessor;
use crate::producer::Producer;
use crate::sequence::Sequence;
use crate::sequence_barrier::SequenceBarrier;
use crate::sequencer::Sequencer;
use crate::worker_pool::WorkProcessor;

/// Distinguishes builders, so a [`Stage`] cannot be used with a builder it does not belong to.
static NEXT_BUILDER_ID: StdAtomicU64 = StdAtomicU64::new(1);

/// A set of consumers of one builder, to make later consumers depend on: a consumer added
/// [`after`](DisruptorBuilder::after) a stage sees a sequence only once every member of the
/// stage has finished it.
///
/// ```
/// use disruptor_core::*;
/// let mut b = DisruptorBuilder::new(
///     RingBuffer::new(8, || 0u8).unwrap(),
///     SingleProducerSequencer::new(8, BusySpinWaitStrategy).unwrap(),
/// ).unwrap();
/// let a = b.handle_events_with(|_: &u8, _: i64, _: bool| {}).stage();
/// let c = b.handle_events_with(|_: &u8, _: i64, _: bool| {}).stage();
/// assert_eq!(a.and(&c).len(), 2);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stage {
    builder: u64,
    members: Vec<usize>,
}

impl Stage {
    /// Both stages' consumers as one stage (a diamond's join).
    pub fn and(&self, other: &Stage) -> Stage {
        let mut members = self.members.clone();
        members.extend(other.members.iter().filter(|m| !self.members.contains(m)));
        // A stage mixing builders is refused when used: keep the mismatch visible.
        let builder = if self.builder == other.builder { self.builder } else { 0 };
        Stage { builder, members }
    }

    /// The number of consumers in the stage.
    pub fn len(&self) -> usize {
        self.members.len()
    }

    /// Whether the stage has no consumer.
    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }
}

struct Node {
    sequence: Arc<Sequence>,
    /// Some later consumer depends on it: then it gates through that consumer, not directly.
    has_dependents: bool,
}

/// Builds a [`Disruptor`]: the ring, the sequencer, and a graph of consumers in which each
/// consumer can only depend on consumers added before it (so there are no cycles), and every
/// consumer nothing depends on gates the producers.
///
/// ```
/// use std::sync::{Arc, Mutex};
/// use disruptor_core::*;
/// // journal and replicate in parallel, then business logic after both (the LMAX diamond)
/// let log = Arc::new(Mutex::new(Vec::new()));
/// let mut b = DisruptorBuilder::new(
///     RingBuffer::new(64, || 0u64).unwrap(),
///     SingleProducerSequencer::new(64, BlockingWaitStrategy::default()).unwrap(),
/// ).unwrap();
/// let journal = b.handle_events_with(|_: &u64, _: i64, _: bool| {}).stage();
/// let replicate = b.handle_events_with(|_: &u64, _: i64, _: bool| {}).stage();
/// let l = log.clone();
/// b.after(&journal.and(&replicate)).unwrap()
///     .handle_events_with(move |e: &u64, _: i64, _: bool| l.lock().unwrap().push(*e));
/// let (d, mut p) = b.build();
/// for i in 0..10 { p.publish(|e, _| *e = i).unwrap(); }
/// d.shutdown().unwrap();
/// assert_eq!(*log.lock().unwrap(), (0..10).collect::<Vec<_>>());
/// ```
pub struct DisruptorBuilder<D: DataProvider, S: Sequencer> {
    id: u64,
    data: Arc<D>,
    sequencer: Arc<S>,
    nodes: Vec<Node>,
    barriers: Vec<Arc<SequenceBarrier<S>>>,
    consumers: Vec<Arc<ConsumerInfo>>,
    tasks: Vec<(String, Box<dyn FnOnce() + Send>)>,
    pools: usize,
}

impl<D: DataProvider, S: Sequencer> DisruptorBuilder<D, S> {
    /// A builder over `data` sequenced by `sequencer`; both must have the same size
    /// ([`Error::InvalidBufferSize`] otherwise).
    pub fn new(data: D, sequencer: S) -> Result<Self> {
        if data.buffer_size() != sequencer.buffer_size() {
            return Err(Error::InvalidBufferSize(data.buffer_size()));
        }
        Ok(DisruptorBuilder {
            // Relaxed: only uniqueness matters.
            id: NEXT_BUILDER_ID.fetch_add(1, StdOrdering::Relaxed),
            data: Arc::new(data),
            sequencer: Arc::new(sequencer),
            nodes: Vec::new(),
            barriers: Vec::new(),
            consumers: Vec::new(),
            tasks: Vec::new(),
            pools: 0,
        })
    }

    /// Adds a consumer of published events, on its own thread.
    pub fn handle_events_with<H>(&mut self, handler: H) -> EventHandlerGroup<'_, D, S>
    where
        H: EventHandler<D::Item> + 'static,
    {
        self.handle_events_with_options(handler, ConsumerOptions::new())
    }

    /// [`handle_events_with`](Self::handle_events_with) with a name, batch limit or policy.
    pub fn handle_events_with_options<H>(
        &mut self,
        handler: H,
        options: ConsumerOptions,
    ) -> EventHandlerGroup<'_, D, S>
    where
        H: EventHandler<D::Item> + 'static,
    {
        let stage = self.add_processor(&[], handler, options);
        EventHandlerGroup { builder: self, stage }
    }

    /// Adds a pool of workers (one thread each) in which every event goes to exactly one.
    pub fn handle_events_with_worker_pool<H>(
        &mut self,
        handlers: Vec<H>,
    ) -> EventHandlerGroup<'_, D, S>
    where
        H: EventHandler<D::Item> + 'static,
    {
        let stage = self.add_worker_pool(&[], handlers);
        EventHandlerGroup { builder: self, stage }
    }

    /// Adds a consumer driven by the caller (pull mode).
    pub fn poller(&mut self) -> EventPoller<D, S> {
        self.add_poller(&[], None)
    }

    /// Consumers added through the result depend on every member of `stage`.
    /// [`Error::ForeignStage`] if the stage comes from another builder.
    pub fn after(&mut self, stage: &Stage) -> Result<StageBuilder<'_, D, S>> {
        if stage.builder != self.id {
            return Err(Error::ForeignStage);
        }
        Ok(StageBuilder { builder: self, after: stage.members.clone() })
    }

    /// Starts every consumer thread and returns the running disruptor and the producer.
    /// Consumers nothing depends on become the producer's gating sequences.
    pub fn build(self) -> (Disruptor<D, S>, Producer<D, S>) {
        let gating: Vec<Arc<Sequence>> =
            self.nodes.iter().filter(|n| !n.has_dependents).map(|n| n.sequence.clone()).collect();
        self.sequencer.add_gating_sequences(&gating);
        let producer = Producer::new(self.data.clone(), self.sequencer.clone());
        let disruptor =
            Disruptor::start(self.data, self.sequencer, self.barriers, self.consumers, self.tasks);
        (disruptor, producer)
    }

    fn barrier_after(&mut self, after: &[usize]) -> Arc<SequenceBarrier<S>> {
        let dependents = after
            .iter()
            .map(|&i| {
                self.nodes[i].has_dependents = true;
                self.nodes[i].sequence.clone()
            })
            .collect();
        let barrier = Arc::new(SequenceBarrier::new(self.sequencer.clone(), dependents));
        self.barriers.push(barrier.clone());
        barrier
    }

    fn register(&mut self, sequence: &Arc<Sequence>, info: &Arc<ConsumerInfo>) -> usize {
        self.nodes.push(Node { sequence: sequence.clone(), has_dependents: false });
        self.consumers.push(info.clone());
        self.nodes.len() - 1
    }

    fn default_name(&self, name: &mut Option<String>, prefix: &str) -> String {
        name.get_or_insert_with(|| format!("{prefix}-{}", self.nodes.len())).clone()
    }

    fn add_processor<H>(
        &mut self,
        after: &[usize],
        handler: H,
        mut options: ConsumerOptions,
    ) -> Stage
    where
        H: EventHandler<D::Item> + 'static,
    {
        let name = self.default_name(&mut options.name, "consumer");
        let barrier = self.barrier_after(after);
        // SAFETY: the barrier is on this ring's sequencer (or its consumers), and `build` makes
        // the processor's sequence gate the producer or a registered downstream consumer.
        let mut processor =
            unsafe { BatchEventProcessor::new(self.data.clone(), barrier, handler, options) };
        let index = self.register(&processor.sequence().clone(), &processor.info().clone());
        self.tasks.push((name, Box::new(move || processor.run())));
        Stage { builder: self.id, members: vec![index] }
    }

    fn add_worker_pool<H>(&mut self, after: &[usize], handlers: Vec<H>) -> Stage
    where
        H: EventHandler<D::Item> + 'static,
    {
        let barrier = self.barrier_after(after);
        let pool = self.pools;
        self.pools += 1;
        let work_sequence = Arc::new(Sequence::default());
        let mut members = Vec::with_capacity(handlers.len());
        for (i, handler) in handlers.into_iter().enumerate() {
            let name = format!("worker-{pool}-{i}");
            let options = ConsumerOptions::new().name(name.clone());
            // SAFETY: as in `add_processor`; the work sequence is this pool's alone.
            let mut worker = unsafe {
                WorkProcessor::new(
                    self.data.clone(),
                    barrier.clone(),
                    work_sequence.clone(),
                    handler,
                    options,
                )
            };
            members.push(self.register(&worker.sequence().clone(), &worker.info().clone()));
            self.tasks.push((name, Box::new(move || worker.run())));
        }
        Stage { builder: self.id, members }
    }

    fn add_poller(&mut self, after: &[usize], name: Option<String>) -> EventPoller<D, S> {
        let mut name = name;
        let name = self.default_name(&mut name, "poller");
        let barrier = self.barrier_after(after);
        let sequence = Arc::new(Sequence::default());
        let info = Arc::new(ConsumerInfo::new(name, sequence.clone()));
        self.register(&sequence, &info);
        EventPoller::new(self.data.clone(), barrier, sequence, info)
    }
}

/// Adds consumers that depend on a [`Stage`]; from [`DisruptorBuilder::after`].
pub struct StageBuilder<'a, D: DataProvider, S: Sequencer> {
    builder: &'a mut DisruptorBuilder<D, S>,
    after: Vec<usize>,
}

impl<'a, D: DataProvider, S: Sequencer> StageBuilder<'a, D, S> {
    /// A consumer that sees a sequence after every member of the stage did.
    pub fn handle_events_with<H>(self, handler: H) -> EventHandlerGroup<'a, D, S>
    where
        H: EventHandler<D::Item> + 'static,
    {
        self.handle_events_with_options(handler, ConsumerOptions::new())
    }

    /// [`handle_events_with`](Self::handle_events_with) with options.
    pub fn handle_events_with_options<H>(
        self,
        handler: H,
        options: ConsumerOptions,
    ) -> EventHandlerGroup<'a, D, S>
    where
        H: EventHandler<D::Item> + 'static,
    {
        let stage = self.builder.add_processor(&self.after, handler, options);
        EventHandlerGroup { builder: self.builder, stage }
    }

    /// A worker pool after the stage.
    pub fn handle_events_with_worker_pool<H>(self, handlers: Vec<H>) -> EventHandlerGroup<'a, D, S>
    where
        H: EventHandler<D::Item> + 'static,
    {
        let stage = self.builder.add_worker_pool(&self.after, handlers);
        EventHandlerGroup { builder: self.builder, stage }
    }

    /// A poller after the stage.
    pub fn poller(self) -> EventPoller<D, S> {
        self.builder.add_poller(&self.after, None)
    }
}

/// The consumers just added, to chain more after them with [`and_then`](Self::and_then).
/// (Named `and_then`, as in the JS API, never `then`.)
pub struct EventHandlerGroup<'a, D: DataProvider, S: Sequencer> {
    builder: &'a mut DisruptorBuilder<D, S>,
    stage: Stage,
}

impl<'a, D: DataProvider, S: Sequencer> EventHandlerGroup<'a, D, S> {
    /// The group as a [`Stage`] token, usable after the builder borrow ends.
    pub fn stage(&self) -> Stage {
        self.stage.clone()
    }

    /// A consumer that sees a sequence after every member of this group did (a pipeline).
    pub fn and_then<H>(self, handler: H) -> EventHandlerGroup<'a, D, S>
    where
        H: EventHandler<D::Item> + 'static,
    {
        self.and_then_with_options(handler, ConsumerOptions::new())
    }

    /// [`and_then`](Self::and_then) with options.
    pub fn and_then_with_options<H>(
        self,
        handler: H,
        options: ConsumerOptions,
    ) -> EventHandlerGroup<'a, D, S>
    where
        H: EventHandler<D::Item> + 'static,
    {
        let stage = self.builder.add_processor(&self.stage.members, handler, options);
        EventHandlerGroup { builder: self.builder, stage }
    }

    /// A worker pool after this group.
    pub fn and_then_worker_pool<H>(self, handlers: Vec<H>) -> EventHandlerGroup<'a, D, S>
    where
        H: EventHandler<D::Item> + 'static,
    {
        let stage = self.builder.add_worker_pool(&self.stage.members, handlers);
        EventHandlerGroup { builder: self.builder, stage }
    }

    /// A poller after this group.
    pub fn and_then_poller(self) -> EventPoller<D, S> {
        self.builder.add_poller(&self.stage.members, None)
    }
}
