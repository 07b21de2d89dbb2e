import test from 'ava'

import { Disruptor, type EventHandlerGroup, type Handler } from '../src'
import { produce as publishAll, sleep, waitFor } from './helpers'

/** Publishes `total` events (claims of 1..4), writing each sequence into its slot. */
async function produce(d: Disruptor, total: number, from = 0): Promise<void> {
  await publishAll(d, total, 4)
  if (d.cursor !== from + total - 1) throw new Error(`cursor ${d.cursor} after publishing up to ${from + total - 1}`)
}

/**
 * A handler that checks it sees every sequence once, in order, with its value, and that it
 * never sees a sequence beyond `limit()` (what its upstream finished). It finishes some batches
 * synchronously and some after a random delay; `done` is the last sequence it finished.
 */
function stage(d: Disruptor, name: string, limit: () => number, problems: string[]) {
  const f64 = new Float64Array(d.buffer)
  const s = {
    next: 0,
    done: -1,
    handler: (lo: number, hi: number): Promise<void> | void => {
      if (lo !== s.next || hi < lo) problems.push(`${name}: batch [${lo}, ${hi}] when ${s.next} was expected`)
      const l = limit()
      if (hi > l) problems.push(`${name}: got [${lo}, ${hi}] while upstream had finished only ${l}`)
      for (let q = lo; q <= hi; q++) {
        if (f64[d.offset(q) / 8] !== q) problems.push(`${name}: slot of ${q} holds ${f64[d.offset(q) / 8]}`)
      }
      s.next = hi + 1
      const finish = () => {
        s.done = hi
      }
      if (Math.random() < 0.5) {
        finish()
        return
      }
      return sleep(Math.random() < 0.5 ? 0 : 1).then(finish)
    },
  }
  return s
}

const none = () => Number.MAX_SAFE_INTEGER

for (const form of ['a.andThen(b)', 'd.after(a).handleEventsWith(b)'] as const) {
  test(`pipeline ${form}: b never sees a sequence a has not finished, each sees everything once in order`, async (t) => {
    const d = new Disruptor({ size: 16, slotSize: 8 })
    const problems: string[] = []
    const a = stage(d, 'a', none, problems)
    const b = stage(d, 'b', () => a.done, problems)
    const c = stage(d, 'c', () => b.done, problems)
    const ga = d.handleEventsWith({ name: 'a', onBatch: a.handler })
    const gb =
      form === 'a.andThen(b)'
        ? ga.andThen({ name: 'b', onBatch: b.handler })
        : d.after(ga).handleEventsWith({ name: 'b', onBatch: b.handler })
    gb.andThen({ name: 'c', onBatch: c.handler })
    d.start()
    const total = 600
    await produce(d, total)
    await d.drain()
    t.deepEqual(problems, [])
    t.is(a.next, total)
    t.is(b.next, total)
    t.is(c.next, total)
    t.deepEqual(
      d.stats().consumers.map((x) => [x.name, x.sequence, x.events]),
      [
        ['a', total - 1, total],
        ['b', total - 1, total],
        ['c', total - 1, total],
      ],
    )
    await d.close()
  })
}

const diamonds: Record<string, (d: Disruptor, h1: Handler, h2: Handler, c: Handler) => void> = {
  'd.after(g1, g2).handleEventsWith(c)': (d, h1, h2, c) => {
    const g1 = d.handleEventsWith(h1)
    const g2 = d.handleEventsWith(h2)
    d.after(g1, g2).handleEventsWith(c)
  },
  'g1.and(g2).andThen(c)': (d, h1, h2, c) => {
    const g1 = d.handleEventsWith(h1)
    const g2 = d.handleEventsWith(h2)
    g1.and(g2).andThen(c)
  },
  'd.handleEventsWith(h1, h2).andThen(c)': (d, h1, h2, c) => {
    d.handleEventsWith(h1, h2).andThen(c)
  },
}

for (const [form, build] of Object.entries(diamonds)) {
  test(`diamond ${form}: c sees each sequence only after both h1 and h2 finished it`, async (t) => {
    const d = new Disruptor({ size: 16, slotSize: 8 })
    const problems: string[] = []
    const h1 = stage(d, 'h1', none, problems)
    const h2 = stage(d, 'h2', none, problems)
    const c = stage(d, 'c', () => Math.min(h1.done, h2.done), problems)
    build(d, h1.handler, h2.handler, c.handler)
    d.start()
    const total = 600
    await produce(d, total)
    await d.drain()
    t.deepEqual(problems, [])
    t.deepEqual([h1.next, h2.next, c.next], [total, total, total])
    t.is(d.stats().consumers.length, 3)
    await d.close()
  })
}

test('worker pool with async handlers: each sequence to exactly one worker, all covered; downstream only after the worker finished', async (t) => {
  const d = new Disruptor({ size: 16, slotSize: 8 })
  const f64 = new Float64Array(d.buffer)
  const total = 400
  const deliveries = new Uint8Array(total)
  const finished = new Uint8Array(total)
  const perWorker = [0, 0, 0]
  const problems: string[] = []
  let inFlight = 0
  let maxInFlight = 0
  const worker = (w: number) => ({
    name: `w${w}`,
    maxBatchSize: 2,
    onBatch: (lo: number, hi: number) => {
      inFlight++
      maxInFlight = Math.max(maxInFlight, inFlight)
      for (let s = lo; s <= hi; s++) {
        deliveries[s]++
        perWorker[w]++
        if (f64[d.offset(s) / 8] !== s) problems.push(`w${w}: slot of ${s} holds ${f64[d.offset(s) / 8]}`)
      }
      return sleep(Math.floor(Math.random() * 3)).then(() => {
        for (let s = lo; s <= hi; s++) {
          if (f64[d.offset(s) / 8] !== s) problems.push(`w${w}: slot of ${s} overwritten while held`)
          finished[s] = 1
        }
        inFlight--
      })
    },
  })
  const pool = d.handleEventsWithWorkerPool(worker(0), worker(1), worker(2))
  let next = 0
  pool.andThen((lo, hi) => {
    if (lo !== next) problems.push(`downstream: batch [${lo}, ${hi}] when ${next} was expected`)
    for (let s = lo; s <= hi; s++) {
      if (finished[s] !== 1) problems.push(`downstream got ${s} before a worker finished it`)
    }
    next = hi + 1
  })
  d.start()
  await produce(d, total)
  await d.drain()
  t.deepEqual(problems, [])
  const wrong: string[] = []
  deliveries.forEach((n, s) => {
    if (n !== 1) wrong.push(`${s} delivered ${n} times`)
  })
  t.deepEqual(wrong, [], 'every sequence delivered to exactly one worker')
  t.is(
    perWorker.reduce((x, y) => x + y, 0),
    total,
  )
  t.is(next, total)
  t.true(maxInFlight <= 3)
  t.log(`per worker: ${perWorker.join(', ')}, most in flight at once: ${maxInFlight}`)
  await d.close()
})

test('worker pool with synchronous handlers: each sequence exactly once', async (t) => {
  const d = new Disruptor({ size: 32, slotSize: 8 })
  const total = 2000
  const deliveries = new Uint8Array(total)
  const w = (lo: number, hi: number) => {
    for (let s = lo; s <= hi; s++) deliveries[s]++
  }
  d.handleEventsWithWorkerPool(w, w, w)
  d.start()
  await produce(d, total)
  await d.drain()
  t.true(
    deliveries.every((n) => n === 1),
    'every sequence delivered exactly once',
  )
  await d.close()
})

test('consumers added after start() start at the current cursor', async (t) => {
  const d = new Disruptor({ size: 16, slotSize: 8 })
  const first: number[] = []
  const g = d.handleEventsWith((lo, hi) => {
    for (let s = lo; s <= hi; s++) first.push(s)
  })
  d.start()
  await produce(d, 10)
  await d.drain()
  t.is(d.cursor, 9)

  const late: number[] = []
  let lateStarted = 0
  d.handleEventsWith({
    name: 'late',
    onStart: () => lateStarted++,
    onBatch: (lo, hi) => {
      for (let s = lo; s <= hi; s++) late.push(s)
    },
  })
  t.is(lateStarted, 1, 'a handler added to a started ring starts at once')
  const lateAfter: number[] = []
  g.andThen({
    name: 'late-after',
    onBatch: (lo, hi) => {
      for (let s = lo; s <= hi; s++) lateAfter.push(s)
    },
  })
  const p = d.poller({ name: 'late-poller' })
  t.is(p.sequence, 9, 'a late poller starts at the cursor')
  const byName = new Map(d.stats().consumers.map((c) => [c.name, c]))
  t.is(byName.get('late')?.sequence, 9)
  t.is(byName.get('late-after')?.sequence, 9)
  t.is(byName.get('late-poller')?.sequence, 9)

  await produce(d, 5, 10)
  const polled: number[] = []
  await waitFor(() => {
    p.poll((lo, hi) => {
      for (let s = lo; s <= hi; s++) polled.push(s)
    })
    return polled.length === 5
  }, 'the late poller gets 10..14')
  await d.drain()
  const tail = [10, 11, 12, 13, 14]
  t.deepEqual(first, [...Array.from({ length: 10 }, (_, i) => i), ...tail])
  t.deepEqual(late, tail)
  t.deepEqual(lateAfter, tail)
  t.deepEqual(polled, tail)
  await d.close()
})

test('a consumer added after start() behind a lagging group waits for that group', async (t) => {
  const d = new Disruptor({ size: 16, slotSize: 8 })
  let release: () => void = () => {}
  let upstreamDone = -1
  let held = 0
  const g: EventHandlerGroup = d.handleEventsWith((lo, hi) => {
    if (lo === 0) {
      held = hi
      // hold the first batch until released
      return new Promise<void>((resolve) => {
        release = () => {
          upstreamDone = hi
          resolve()
        }
      })
    }
    upstreamDone = hi
  })
  d.start()
  await produce(d, 4)
  await waitFor(() => held === 3, 'the upstream handler holds 0..3')
  const problems: string[] = []
  const seen: number[] = []
  g.andThen((lo, hi) => {
    if (hi > upstreamDone) problems.push(`late consumer got [${lo}, ${hi}] while upstream finished ${upstreamDone}`)
    for (let s = lo; s <= hi; s++) seen.push(s)
  })
  await produce(d, 4, 4)
  await sleep(5)
  t.deepEqual(seen, [], 'nothing reaches the late consumer while upstream holds its batch')
  release()
  await d.drain()
  t.deepEqual(problems, [])
  t.deepEqual(seen, [4, 5, 6, 7], 'it starts at the cursor of when it was added')
  await d.close()
})
