import test from 'ava'

import { Disruptor, type DisruptorError } from '../src'
import { claim, deferred, sleep, WorkerProbe, waitFor } from './helpers'

// Live removal: a consumer, a worker pool or a stage leaves a running ring (from its own thread
// or another), LMAX's rule that a consumer others depend on cannot leave before them, and the
// ring going on without it.

/** Publishes `n` events from the main thread, each slot holding its sequence. */
async function publish(d: Disruptor, n: number): Promise<void> {
  const f64 = new Float64Array(d.buffer)
  for (let i = 0; i < n; i++) {
    const s = await claim(d)
    f64[d.offset(s) / 8] = s
    d.publish(s)
  }
}

/** A handler recording every sequence it sees, and its shutdown. */
function recorder(name: string) {
  const seen: number[] = []
  let shutdowns = 0
  return {
    seen,
    get shutdowns() {
      return shutdowns
    },
    handler: {
      name,
      onBatch(lo: number, hi: number) {
        for (let s = lo; s <= hi; s++) seen.push(s)
      },
      onShutdown() {
        shutdowns++
      },
    },
  }
}

const range = (lo: number, hi: number) => Array.from({ length: hi - lo + 1 }, (_, i) => lo + i)

test('group.remove(): the consumer stops (onShutdown), leaves stats and no longer gates producers; the others go on', async (t) => {
  const d = new Disruptor({ size: 8, slotSize: 8 })
  const stays = recorder('stays')
  const leaves = recorder('leaves')
  d.handleEventsWith(stays.handler)
  const g = d.handleEventsWith(leaves.handler)
  d.start()
  await publish(d, 5)
  await d.drain()
  t.deepEqual(leaves.seen, range(0, 4))
  await g.remove()
  t.is(leaves.shutdowns, 1)
  t.deepEqual(
    d.stats().consumers.map((c) => c.name),
    ['stays'],
  )
  // Three rings' worth: a removed consumer still gating would stop the producer at sequence 12.
  await publish(d, 24)
  await d.drain()
  t.deepEqual(leaves.seen, range(0, 4), 'nothing after its removal')
  t.deepEqual(stays.seen, range(0, 28))
  await g.remove() // again: nothing to do
  await d.close()
  t.is(leaves.shutdowns, 1)
  t.is(stays.shutdowns, 1)
})

test('a worker pool and a whole stage leave together; a stage that others follow cannot (ERR_DISRUPTOR_HAS_DEPENDENTS, nothing changes)', async (t) => {
  const d = new Disruptor({ size: 16, slotSize: 8 })
  const a = recorder('a')
  const b = recorder('b')
  const pool = [recorder('p0'), recorder('p1')]
  const first = d.handleEventsWith(a.handler, b.handler)
  const after = first.andThenWorkerPool(pool[0].handler, pool[1].handler)
  d.start()
  await publish(d, 10)
  await d.drain()
  const refused = await t.throwsAsync(first.remove())
  t.is((refused as DisruptorError).code, 'ERR_DISRUPTOR_HAS_DEPENDENTS')
  t.regex((refused as Error).message, /'a'.*p0-pool/)
  await t.throwsAsync(d.removeConsumer('b'), { code: 'ERR_DISRUPTOR_HAS_DEPENDENTS' })
  t.is(a.shutdowns + b.shutdowns, 0, 'nothing was stopped')
  await publish(d, 5)
  await d.drain()
  t.deepEqual(a.seen, range(0, 14))
  t.deepEqual(
    [...pool[0].seen, ...pool[1].seen].sort((x, y) => x - y),
    range(0, 14),
  )
  // The pool leaves first (both its workers shut down), then the stage before it may.
  await after.remove()
  t.deepEqual(
    pool.map((p) => p.shutdowns),
    [1, 1],
  )
  await first.remove()
  t.is(a.shutdowns + b.shutdowns, 2)
  t.deepEqual(d.stats().consumers, [])
  // No consumer at all: the producer runs free.
  await publish(d, 40)
  t.is(d.cursor, 54)
  await d.close()
})

test('a group joined with and() leaves as one, in dependency order', async (t) => {
  const d = new Disruptor({ size: 8, slotSize: 8 })
  const a = recorder('a')
  const b = recorder('b')
  const ga = d.handleEventsWith(a.handler)
  const gb = ga.andThen(b.handler)
  d.start()
  await publish(d, 3)
  await d.drain()
  await ga.and(gb).remove()
  t.is(a.shutdowns + b.shutdowns, 2)
  await publish(d, 20)
  t.deepEqual(d.stats().consumers, [])
  await d.close()
})

test('removeConsumer: bad input and unknown, ambiguous or closed get coded errors and change nothing', async (t) => {
  const d = new Disruptor({ size: 8, slotSize: 8 })
  const twin1 = recorder('twin')
  const twin2 = recorder('twin')
  d.handleEventsWith(twin1.handler, twin2.handler)
  d.start()
  for (const bad of [42, undefined, null, {}, Symbol('x')]) {
    await t.throwsAsync(d.removeConsumer(bad as unknown as string), { code: 'ERR_INVALID_ARG_TYPE' })
  }
  await t.throwsAsync(d.removeConsumer('nobody'), { code: 'ERR_DISRUPTOR_UNKNOWN_CONSUMER' })
  await t.throwsAsync(d.removeConsumer('twin'), { code: 'ERR_DISRUPTOR_AMBIGUOUS_CONSUMER' })
  await publish(d, 3)
  await d.drain()
  t.deepEqual(twin1.seen, [0, 1, 2])
  t.deepEqual(twin2.seen, [0, 1, 2])
  t.is(d.stats().consumers.length, 2)
  await d.close()
  await t.throwsAsync(d.removeConsumer('twin'), { code: 'ERR_DISRUPTOR_CLOSED' })
})

test('a consumer removed from inside its own handler finishes that batch and stops', async (t) => {
  const d = new Disruptor({ size: 16, slotSize: 8 })
  const seen: number[] = []
  let removal: Promise<void> | null = null
  let shutdown = false
  d.handleEventsWith({
    name: 'self',
    onBatch(lo, hi) {
      for (let s = lo; s <= hi; s++) seen.push(s)
      if (hi >= 2 && removal === null) removal = d.removeConsumer('self')
    },
    onShutdown() {
      shutdown = true
    },
  })
  d.start()
  await publish(d, 3)
  await waitFor(() => removal !== null, 'the handler asked for its removal')
  await removal
  t.true(shutdown)
  const last = seen[seen.length - 1]
  t.deepEqual(seen, range(0, last))
  await publish(d, 20)
  await d.drain()
  t.is(seen[seen.length - 1], last, 'nothing after its removal')
  await d.close()
})

test('removal waits for the batches an async handler has in flight: they finish and count', async (t) => {
  const d = new Disruptor({ size: 8, slotSize: 8 })
  const gate = deferred()
  const finished: number[] = []
  let called = 0
  const g = d.handleEventsWith({
    name: 'slow',
    async onBatch(lo, hi) {
      called++
      await gate.promise
      for (let s = lo; s <= hi; s++) finished.push(s)
    },
  })
  d.start()
  await publish(d, 2)
  await waitFor(() => called > 0, 'a batch in flight')
  let removed = false
  const removal = g.remove().then(() => {
    removed = true
  })
  await sleep(20)
  t.false(removed, 'not before its batch settled')
  gate.resolve()
  await removal
  t.deepEqual(finished, range(0, finished.length - 1))
  t.true(finished.length >= 1)
  t.is(called, 1, 'no batch handed out after the removal began')
  await publish(d, 20)
  t.deepEqual(d.stats().consumers, [])
  await d.close()
})

test('a poller and a batches() iterator removed by name: poll throws ERR_DISRUPTOR_CONSUMER_REMOVED, the iterator ends', async (t) => {
  const d = new Disruptor({ size: 8, slotSize: 8 })
  const poller = d.poller({ name: 'pull' })
  const it = d.batches({ name: 'iter' })
  await publish(d, 2)
  t.is(
    poller.poll(() => {}),
    'processing',
  )
  const first = await it.next()
  t.deepEqual(first.value, { lo: 0, hi: 1 })
  const waiting = it.next().then((r) => it.next().then(() => r))
  await d.removeConsumer('pull')
  t.throws(() => poller.poll(() => {}), { code: 'ERR_DISRUPTOR_CONSUMER_REMOVED' })
  await d.removeConsumer('iter')
  t.deepEqual(await waiting, { value: undefined, done: true })
  t.deepEqual(d.stats().consumers, [])
  await publish(d, 20)
  await d.close()
})

test('a consumer of a worker thread removed from the main thread (by name): it stops there, producers go on', async (t) => {
  const d = new Disruptor({ size: 16, slotSize: 16, producer: 'multi' })
  const w = new WorkerProbe('churn-consumer.js', { handle: d.share(), name: 'remote' })
  try {
    await w.type('ready')
    w.worker.postMessage('add')
    await w.type('added')
    const f64 = new Float64Array(d.buffer)
    const put = async (n: number, from: number) => {
      for (let c = from; c < from + n; c++) {
        const s = await claim(d)
        f64[d.offset(s) / 8] = c // producer 0
        f64[d.offset(s) / 8 + 1] = c * 7
        d.publish(s)
      }
    }
    await put(10, 0)
    await waitFor(() => d.stats().consumers[0]?.sequence === 9, 'the worker consumed 10')
    await d.removeConsumer('remote')
    const removed = await w.type('removed')
    t.deepEqual(removed.errors, [])
    t.is(removed.first, 0)
    t.is(removed.last, 9)
    t.deepEqual(d.stats().consumers, [])
    await put(40, 10) // would stop at 25 if it still gated
    t.is(d.cursor, 49)
    await t.throwsAsync(d.removeConsumer('remote'), { code: 'ERR_DISRUPTOR_UNKNOWN_CONSUMER' })
    w.worker.postMessage('leave')
    await w.type('left')
  } finally {
    await w.worker.terminate()
    await d.close()
  }
})

test('under load: 4 producer threads, 3 consumers, one removed and re-added in a loop from another thread; the others get every event once, in order', async (t) => {
  const PRODUCERS = 4
  const N = 40_000
  const d = new Disruptor({ size: 256, slotSize: 16, producer: 'multi' })
  const f64 = new Float64Array(d.buffer)
  // Two consumers that stay, on the main thread: per producer, counters in order, each once.
  const stays = [0, 1].map((k) => {
    const next = new Array(PRODUCERS).fill(0)
    const errors: string[] = []
    let count = 0
    d.handleEventsWith({
      name: `stays-${k}`,
      onBatch(lo, hi) {
        for (let s = lo; s <= hi; s++) {
          const i = d.offset(s) / 8
          const p = Math.floor(f64[i] / 2 ** 32)
          const c = f64[i] - p * 2 ** 32
          if (c !== next[p] && errors.length < 10) errors.push(`producer ${p}: ${c}, expected ${next[p]}`)
          if (f64[i + 1] !== c * 7 + p && errors.length < 10) errors.push(`torn event at ${s}`)
          next[p] = c + 1
          count++
        }
      },
    })
    return {
      errors,
      next,
      get count() {
        return count
      },
    }
  })
  d.start()
  const churn = new WorkerProbe('churn-consumer.js', { handle: d.share(), name: 'churn' })
  await churn.type('ready')
  const producers = range(0, PRODUCERS - 1).map(
    (producer) => new WorkerProbe('mp-producer.js', { handle: d.share(), producer, count: N, mode: 'batch' }),
  )
  try {
    // The third consumer joins and leaves in a loop while the producers run.
    const lives: any[] = []
    let running = true
    const done = Promise.all(producers.map((p) => p.type('done', 120_000))).finally(() => {
      running = false
    })
    let life = 0
    while (running || life < 3) {
      life++
      churn.worker.postMessage('add')
      await waitFor(() => churn.messages.some((m) => m.type === 'added' && m.life === life), `life ${life} added`)
      await sleep(2)
      await d.removeConsumer('churn')
      await waitFor(() => churn.messages.some((m) => m.type === 'removed' && m.life === life), `life ${life} removed`)
    }
    for (const m of churn.messages) if (m.type === 'removed') lives.push(m)
    const finished = await done
    for (const m of finished) t.is(m.published, N)
    await d.drain()
    for (const s of stays) {
      t.deepEqual(s.errors, [])
      t.is(s.count, PRODUCERS * N)
      t.deepEqual(s.next, new Array(PRODUCERS).fill(N))
    }
    t.true(lives.length >= 3)
    for (const l of lives) t.deepEqual(l.errors, [], `life ${l.life}`)
    t.true(
      lives.some((l) => l.count > 0),
      'the churning consumer saw events in some of its lives',
    )
    t.deepEqual(
      d.stats().consumers.map((c) => c.name),
      ['stays-0', 'stays-1'],
    )
    churn.worker.postMessage('leave')
    await churn.type('left')
  } finally {
    await Promise.all([churn, ...producers].map((w) => w.worker.terminate()))
    await d.close()
  }
})

test('consumers of one name: the dependents rule goes by consumer, not by name', async (t) => {
  const d = new Disruptor({ size: 8, slotSize: 8 })
  function log() {}
  const first = d.handleEventsWith(log)
  const second = first.andThen(log) // also named 'log'
  d.start()
  await t.throwsAsync(first.remove(), { code: 'ERR_DISRUPTOR_HAS_DEPENDENTS' })
  await publish(d, 10)
  await d.drain()
  t.deepEqual(
    d.stats().consumers.map((c) => c.events),
    [10, 10],
    'both still run',
  )
  await first.and(second).remove()
  t.deepEqual(d.stats().consumers, [])
  await d.close()
})

test('removing one consumer twice at once: both resolve, the other consumers are untouched', async (t) => {
  const d = new Disruptor({ size: 8, slotSize: 8 })
  const stays = recorder('stays')
  d.handleEventsWith(stays.handler)
  const leaves = recorder('leaves')
  const g = d.handleEventsWith(leaves.handler)
  d.start()
  await publish(d, 3)
  await d.drain()
  await Promise.all([g.remove(), g.remove(), d.removeConsumer('leaves')])
  t.is(leaves.shutdowns, 1)
  await publish(d, 20)
  await d.drain()
  t.deepEqual(stays.seen, range(0, 22))
  t.is(stays.shutdowns, 0)
  await d.close()
  t.is(stays.shutdowns, 1)
})

test('a consumer that halted on an error and is removed no longer fails drain() and close()', async (t) => {
  const d = new Disruptor({ size: 8, slotSize: 8 })
  d.on('error', () => {})
  const g = d.handleEventsWith({
    name: 'breaks',
    onBatch() {
      throw new Error('boom')
    },
  })
  d.start()
  await publish(d, 1)
  await t.throwsAsync(d.drain(), { code: 'ERR_DISRUPTOR_CONSUMER_HALTED' })
  await g.remove()
  await publish(d, 20)
  await d.drain()
  await d.close()
  t.pass()
})

test('an iterator removed while its loop body holds a batch stops gating only once the body lets go', async (t) => {
  const d = new Disruptor({ size: 4, slotSize: 8 })
  const it = d.batches({ name: 'held' })
  await publish(d, 2)
  const held = await it.next()
  t.deepEqual(held.value, { lo: 0, hi: 1 })
  let removed = false
  const removal = d.removeConsumer('held').then(() => {
    removed = true
  })
  await new Promise((resolve) => setTimeout(resolve, 20))
  t.false(removed, 'the body may still read slots 0 and 1')
  t.is(d.remainingCapacity(), 2, 'so they are not free')
  t.deepEqual(await it.next(), { value: undefined, done: true })
  await removal
  t.is(d.remainingCapacity(), 4)
  await d.close()
})
