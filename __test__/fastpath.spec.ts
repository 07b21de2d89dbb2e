import { join } from 'node:path'
import { Worker } from 'node:worker_threads'

import test from 'ava'

import { Disruptor } from '../src'
import { waitFor } from './helpers'

// The JavaScript fast paths: a single producer publishes through the engine's split cursor (a
// 32-bit low word, stored every publish, plus a 64-bit epoch stored once every 2**29
// sequences), consumers extend the low word against their own position, and callback
// consumers store their progress once per run of batches. These specs run sequences past
// 2**31 and 2**32, where the low word turns negative and wraps, with claims of a large part of
// the ring so that it takes thousands of claims rather than billions.

const INDEX = join(__dirname, '..', 'dist', 'index.js')

/** Runs `source` in a worker with `workerData`; resolves with its last message once it exits. */
function runWorker(source: string, workerData: unknown): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const w = new Worker(source, { eval: true, execArgv: [], workerData })
    let message: unknown = 'exited without a message'
    w.on('message', (m: unknown) => {
      message = m
    })
    w.on('error', reject)
    w.on('exit', () => resolve(message))
  })
}

test('single producer past 2**32 on one thread: a poller, the cursor and the engine (stats, capacity) stay exact', (t) => {
  const size = 2 ** 20
  const claim = 2 ** 19
  const d = new Disruptor({ size, slotSize: 8, producer: 'single' })
  const f64 = new Float64Array(d.buffer)
  const p = d.poller()
  const end = 2 ** 32 + 3 * claim
  let expected = 0
  let bad = 0
  const check = (lo: number, hi: number) => {
    if (lo !== expected || f64[d.offset(lo) / 8] !== lo || f64[d.offset(hi) / 8] !== hi) bad++
    expected = hi + 1
  }
  for (let round = 0; d.cursor < end; round++) {
    const hi = d.next(claim)
    const lo = hi - claim + 1
    f64[d.offset(lo) / 8] = lo
    f64[d.offset(hi) / 8] = hi
    d.publish(lo, hi)
    if (p.poll(check) !== 'processing') bad++
    if (p.sequence !== hi || d.cursor !== hi) bad++
    // The engine reads the split cursor (epoch + low word) natively.
    if ((round & 255) === 0 && d.stats().cursor !== hi) bad++
  }
  t.is(bad, 0)
  t.is(d.stats().cursor, d.cursor)
  t.is(d.stats().consumers[0].sequence, d.cursor)
  t.is(d.remainingCapacity(), size)
  t.true(d.cursor >= end, `cursor ${d.cursor}`)
  d.halt()
})

test('single producer past 2**32 in a worker: a main-thread callback consumer and one after it see every batch, in order, with its slots', async (t) => {
  const size = 2 ** 20
  const claim = 2 ** 18
  const end = 2 ** 32 + 5 * claim
  const d = new Disruptor({ size, slotSize: 8, producer: 'single' })
  const f64 = new Float64Array(d.buffer)
  let expected = 0
  let downstreamExpected = 0
  let bad = 0
  const first = d.handleEventsWith((lo, hi) => {
    if (lo !== expected || f64[d.offset(lo) / 8] !== lo || f64[d.offset(hi) / 8] !== hi) bad++
    expected = hi + 1
  })
  first.andThen((lo, hi) => {
    if (lo !== downstreamExpected || hi >= expected) bad++
    downstreamExpected = hi + 1
  })
  d.start()
  const source = `
    const { parentPort, workerData } = require('node:worker_threads')
    const { Disruptor } = require(workerData.index)
    const d = Disruptor.attach(workerData.handle)
    const f64 = new Float64Array(d.buffer)
    const { claim, end } = workerData
    let hi = -1
    while (hi < end) {
      hi = d.next(claim)
      const lo = hi - claim + 1
      f64[d.offset(lo) / 8] = lo
      f64[d.offset(hi) / 8] = hi
      d.publish(lo, hi)
    }
    d.close().then(() => parentPort.postMessage(hi), (e) => parentPort.postMessage(String(e)))
  `
  const message = await runWorker(source, { index: INDEX, handle: d.share(), claim, end })
  t.is(typeof message, 'number', String(message))
  const last = message as number
  await d.drain()
  t.is(bad, 0)
  t.is(expected, last + 1)
  t.is(downstreamExpected, expected)
  t.is(d.cursor, last)
  const stats = d.stats()
  t.is(stats.cursor, last)
  t.deepEqual(
    stats.consumers.map((c) => [c.sequence, c.events, c.lag]),
    [
      [last, last + 1, 0],
      [last, last + 1, 0],
    ],
  )
  await d.close()
})

test('single producer: a thread that takes over producing after another left carries on from its cursor and epoch past 2**29', async (t) => {
  const size = 2 ** 20
  const claim = 2 ** 19
  const d = new Disruptor({ size, slotSize: 8, producer: 'single' })
  const f64 = new Float64Array(d.buffer)
  const p = d.poller()
  let expected = 0
  let bad = 0
  const check = (lo: number, hi: number) => {
    if (lo !== expected || f64[d.offset(hi) / 8] !== hi) bad++
    expected = hi + 1
  }
  // The worker produces past the first epoch (2**29) and leaves; this thread polls meanwhile.
  const source = `
    const { parentPort, workerData } = require('node:worker_threads')
    const { Disruptor } = require(workerData.index)
    const d = Disruptor.attach(workerData.handle)
    const f64 = new Float64Array(d.buffer)
    let hi = -1
    while (hi < workerData.end) {
      const t = d.tryNext(workerData.claim)
      if (t < 0) { Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1); continue }
      hi = t
      f64[d.offset(hi) / 8] = hi
      d.publish(hi - workerData.claim + 1, hi)
    }
    d.close().then(() => parentPort.postMessage(hi), (e) => parentPort.postMessage(String(e)))
  `
  const worker = runWorker(source, { index: INDEX, handle: d.share(), claim, end: 2 ** 29 + 3 * claim })
  let last: unknown = null
  worker.then((m) => {
    last = m
  })
  await waitFor(
    () => {
      p.poll(check)
      return last !== null && expected === (last as number) + 1
    },
    'the worker publishes and the poller catches up',
    30_000,
  )
  t.is(typeof last, 'number', String(last))
  t.is(d.cursor, last as number, 'the new producer starts at the cursor the engine reads')
  // This thread produces on, past the second epoch (2**30).
  while (d.cursor < 2 ** 30 + 2 * claim) {
    const hi = d.next(claim)
    f64[d.offset(hi) / 8] = hi
    d.publish(hi - claim + 1, hi)
    p.poll(check)
  }
  t.is(bad, 0)
  t.is(p.sequence, d.cursor)
  t.is(d.stats().cursor, d.cursor)
  await d.close()
})

test('a callback consumer that halts after synchronous batches stored lazily: the consumer after it gets everything before the failed batch, nothing after', async (t) => {
  const d = new Disruptor({ size: 1024, slotSize: 8, producer: 'single' })
  let failedAt = -1
  const seen: number[] = []
  const first = d.handleEventsWith({
    maxBatchSize: 10,
    onBatch: (lo, hi) => {
      if (hi >= 250) {
        failedAt = lo
        throw new Error('boom')
      }
    },
  })
  first.andThen((lo, hi) => {
    for (let s = lo; s <= hi; s++) seen.push(s)
  })
  d.on('error', () => {})
  d.start()
  // Published in one go: the first consumer then runs 25 batches of 10 in one turn, storing
  // its progress only every 128 events, and fails in the 26th.
  for (let i = 0; i < 300; i++) d.publish(d.next())
  await waitFor(() => failedAt >= 0 && seen.length >= failedAt, 'the consumer after it catches up to the failure')
  t.is(failedAt, 250)
  t.deepEqual(
    seen,
    Array.from({ length: 250 }, (_, i) => i),
  )
  const e = await d.close().then(
    () => null,
    (error: unknown) => error,
  )
  t.is((e as { code?: string } | null)?.code, 'ERR_DISRUPTOR_CONSUMER_HALTED')
  t.is(seen.length, 250)
})

test('a callback consumer stores its progress before it waits: a producer on a full ring gets room as soon as the consumer drained it', async (t) => {
  const size = 64
  const d = new Disruptor({ size, slotSize: 8, producer: 'single' })
  // Another instance on this thread: its queries flush none of `d`'s consumers, so it sees only
  // what they stored (as a producer on another thread would).
  const other = Disruptor.attach(d.share())
  let events = 0
  // Batches of 5 and rounds of 61 events: runs that end between the consumer's periodic stores
  // (every 8 events on this ring), so only the store before it waits makes the room visible.
  d.handleEventsWith({
    onBatch: (lo, hi) => {
      events += hi - lo + 1
    },
    maxBatchSize: 5,
  })
  d.start()
  const perRound = 61
  for (let round = 0; round < 50; round++) {
    for (let i = 0; i < perRound; i++) d.publish(await d.nextAsync())
    await waitFor(() => events === (round + 1) * perRound, 'the consumer drains the ring')
    // The consumer is now waiting for the next event (armed): it stored everything first.
    t.is(other.remainingCapacity(), size)
  }
  const [c] = d.stats().consumers
  t.is(c.sequence, 50 * perRound - 1)
  t.is(c.events, 50 * perRound)
  await other.close()
  await d.close()
})

test('a handler may claim on its own ring: the room its finished batches made counts although their store was deferred', async (t) => {
  for (const producer of ['single', 'multi'] as const) {
    const size = 64
    const d = new Disruptor({ size, slotSize: 8, producer })
    const f64 = new Float64Array(d.buffer)
    const seen: number[] = []
    const claims: Array<{ tryNext: number; capacity: number }> = []
    let republished = 0
    d.handleEventsWith({
      onBatch: (lo, hi) => {
        for (let s = lo; s <= hi; s++) seen.push(f64[d.offset(s) / 8])
        if (lo === 3) {
          // Batches 0..2 are finished: three slots are free, though not yet stored.
          const capacity = d.remainingCapacity()
          const s = d.tryNext()
          claims.push({ tryNext: s, capacity })
          if (s >= 0) {
            f64[d.offset(s) / 8] = 1000
            d.publish(s)
            republished++
          }
        }
      },
      maxBatchSize: 1,
    })
    // A full ring before the consumer starts.
    for (let i = 0; i < size; i++) {
      const s = d.next()
      f64[d.offset(s) / 8] = i
      d.publish(s)
    }
    d.start()
    await waitFor(() => seen.length === size + republished, `the consumer sees every event (${producer})`)
    t.deepEqual(claims, [{ tryNext: size, capacity: 3 }], producer)
    t.is(republished, 1)
    t.deepEqual(
      seen.slice(0, size),
      Array.from({ length: size }, (_, i) => i),
    )
    t.deepEqual(seen.slice(size), [1000])
    await d.close()
  }
})
