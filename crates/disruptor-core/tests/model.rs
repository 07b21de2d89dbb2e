//! Model-based tests: random runs of claims, publishes (in any order, for multi producers),
//! polls and releases, driven one operation at a time against a plain model of what the
//! Disruptor promises. After every operation the engine must agree with the model on what each
//! consumer may read, what a producer may claim, the cursor and the free capacity; and no claim
//! may ever cover a slot that some consumer has not released (a ring's worth back).

use std::collections::BTreeSet;

use disruptor_core::*;
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum Op {
    /// try_next(n)
    Claim(i64),
    /// publish the k-th outstanding claim (modulo how many there are)
    Publish(usize),
    /// poll consumer c and release `take` of what it may read (at least one)
    Consume(usize, i64),
}

fn op(max_claim: i64, consumers: usize) -> impl Strategy<Value = Op> {
    prop_oneof![
        (1..=max_claim).prop_map(Op::Claim),
        any::<usize>().prop_map(Op::Publish),
        (0..consumers, 1..=max_claim).prop_map(|(c, t)| Op::Consume(c, t)),
    ]
}

/// The model: what is claimed, what is published, where each consumer is.
struct Model {
    size: i64,
    multi: bool,
    claimed: i64,
    outstanding: Vec<(i64, i64)>,
    published: BTreeSet<i64>,
    /// Consumer sequences; consumer i > 0 depends on consumer i - 1 when `pipeline`.
    consumers: Vec<i64>,
    pipeline: bool,
}

impl Model {
    /// Highest contiguous published sequence from `from` on (from - 1 if none).
    fn contiguous(&self, from: i64) -> i64 {
        let mut s = from;
        while self.published.contains(&s) {
            s += 1;
        }
        s - 1
    }

    fn cursor(&self) -> i64 {
        self.contiguous(0)
    }

    /// What bounds claims: the slowest consumer, or without consumers what is published
    /// (claims never lap a slot claimed and not yet published).
    fn gating(&self) -> i64 {
        self.consumers.iter().copied().min().unwrap_or(self.cursor())
    }

    fn available(&self, c: usize) -> i64 {
        if self.pipeline && c > 0 {
            return self.consumers[c - 1];
        }
        self.contiguous(self.consumers[c] + 1)
    }
}

fn run(size: usize, multi: bool, split: bool, consumers: usize, pipeline: bool, ops: Vec<Op>) {
    let slots = SlotBuffer::new(size, 8).unwrap();
    let wait = BusySpinWaitStrategy;
    if multi {
        let b =
            DisruptorBuilder::new(slots, MultiProducerSequencer::new(size, wait).unwrap()).unwrap();
        let (d, _p) = b.build();
        drive(&d, size, multi, consumers, pipeline, ops);
    } else {
        let sequencer = if split {
            SingleProducerSequencer::with_split_cursor(size, wait)
        } else {
            SingleProducerSequencer::new(size, wait)
        };
        let b = DisruptorBuilder::new(slots, sequencer.unwrap()).unwrap();
        let (d, _p) = b.build();
        drive(&d, size, multi, consumers, pipeline, ops);
    }
}

fn drive<S: Sequencer>(
    d: &Disruptor<SlotBuffer, S>,
    size: usize,
    multi: bool,
    consumers: usize,
    pipeline: bool,
    ops: Vec<Op>,
) {
    // SAFETY: the Producer is unused; every range published here was claimed here.
    let sequencer = unsafe { d.sequencer() };
    let mut pollers: Vec<EventPoller<SlotBuffer, S>> = Vec::new();
    for c in 0..consumers {
        let after: Vec<Dependency> =
            if pipeline && c > 0 { vec![pollers[c - 1].dependency()] } else { vec![] };
        pollers.push(d.add_poller_after(format!("c{c}"), &after).unwrap());
    }
    let mut m = Model {
        size: size as i64,
        multi,
        claimed: -1,
        outstanding: Vec::new(),
        published: BTreeSet::new(),
        consumers: vec![-1; consumers],
        pipeline,
    };
    for op in ops {
        match op {
            Op::Claim(n) => {
                let n = n.min(m.size);
                // A single producer publishes in claim order: keep at most one claim open.
                if !m.multi && !m.outstanding.is_empty() {
                    continue;
                }
                let fits = m.claimed + n - m.size <= m.gating();
                match sequencer.try_next(n) {
                    Ok(hi) => {
                        assert!(
                            fits,
                            "claimed [{}, {hi}] over unreleased slots (gating {})",
                            hi - n + 1,
                            m.gating()
                        );
                        assert_eq!(hi, m.claimed + n);
                        // The invariant itself: nothing claimed is within a ring of an unread slot.
                        assert!(hi - m.size <= m.gating());
                        m.claimed = hi;
                        m.outstanding.push((hi - n + 1, hi));
                    }
                    Err(Error::InsufficientCapacity) => {
                        assert!(!fits, "refused a claim of {n} that fits")
                    }
                    Err(e) => panic!("unexpected {e:?}"),
                }
            }
            Op::Publish(k) => {
                if m.outstanding.is_empty() {
                    continue;
                }
                let k = if m.multi { k % m.outstanding.len() } else { 0 };
                let (lo, hi) = m.outstanding.remove(k);
                sequencer.publish(lo, hi).unwrap();
                // Publishing it again is refused and changes nothing.
                assert!(sequencer.publish(lo, hi).is_err());
                m.published.extend(lo..=hi);
            }
            Op::Consume(c, take) => {
                let expected = m.available(c);
                let next = m.consumers[c] + 1;
                match pollers[c].available().unwrap() {
                    Ok((lo, hi)) => {
                        assert_eq!((lo, hi), (next, expected), "consumer {c}");
                        let upto = (lo + take - 1).min(hi);
                        pollers[c].release(lo, upto).unwrap();
                        m.consumers[c] = upto;
                    }
                    Err(_) => assert!(
                        expected < next,
                        "consumer {c} was offered nothing, model says up to {expected}"
                    ),
                }
            }
        }
        assert_eq!(sequencer.published_cursor(), m.cursor());
        if m.multi {
            assert_eq!(sequencer.remaining_capacity(), m.size - (m.claimed - m.gating()));
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn single_producer_matches_the_model(
        size in prop::sample::select(vec![1usize, 2, 4, 8]),
        split in any::<bool>(),
        consumers in 0usize..=3,
        pipeline in any::<bool>(),
        ops in prop::collection::vec(op(4, 3), 1..200),
    ) {
        let ops = ops.into_iter().filter(|o| !matches!(o, Op::Consume(c, _) if *c >= consumers)).collect();
        run(size, false, split, consumers, pipeline, ops);
    }

    #[test]
    fn multi_producer_matches_the_model(
        size in prop::sample::select(vec![1usize, 2, 4, 8]),
        consumers in 0usize..=3,
        pipeline in any::<bool>(),
        ops in prop::collection::vec(op(4, 3), 1..200),
    ) {
        let ops = ops.into_iter().filter(|o| !matches!(o, Op::Consume(c, _) if *c >= consumers)).collect();
        run(size, true, false, consumers, pipeline, ops);
    }
}
