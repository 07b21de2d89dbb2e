import test from 'ava'

import { Disruptor } from '../src'
import { deferred, sleep, WorkerProbe, waitFor } from './helpers'

// Rates in stats(): batch-size histograms, claims and producer wait per claim, events/s and ns
// per event over the window since the previous call, all plain JSON.

test('batchSizes: each batch in its power-of-two bucket, summing to batches', async (t) => {
  const d = new Disruptor({ size: 256, slotSize: 8 })
  const poller = d.poller({ name: 'p', maxBatchSize: 100 })
  const batch = (n: number) => {
    const hi = d.next(n)
    d.publish(hi - n + 1, hi)
    t.is(
      poller.poll(() => {}),
      'processing',
    )
  }
  for (const n of [1, 1, 2, 3, 4, 7, 8, 64, 100]) batch(n)
  // 150 published at once, taken as 100 + 50 (maxBatchSize).
  const hi = d.next(150)
  d.publish(hi - 149, hi)
  poller.poll(() => {})
  poller.poll(() => {})
  const [c] = d.stats().consumers
  //             1  2-3 4-7 8-15 16-31 32-63 64-127
  t.deepEqual(c.batchSizes, [2, 2, 2, 1, 0, 1, 3])
  t.is(
    c.batchSizes.reduce((a, b) => a + b, 0),
    c.batches,
  )
  t.is(c.largestBatch, 100)
  await d.close()
})

test('claims: every claim of this thread, whatever the path (next, tryNext, publishEvent, nextAsync)', async (t) => {
  const d = new Disruptor({ size: 16, slotSize: 8 })
  const poller = d.poller() // gates: what is published stays until polled
  t.is(d.stats().claims, 0)
  let hi = d.next(3)
  d.publish(hi - 2, hi)
  hi = d.tryNext()
  d.publish(hi)
  d.publishEvent(() => {})
  hi = await d.nextAsync(2)
  d.publish(hi - 1, hi)
  t.is(d.tryNext(16), -1, 'no room for 16: refused, not counted')
  t.is(d.stats().claims, 4)
  poller.poll(() => {})
  await d.close()
})

test('claims of worker threads reach stats() (at the latest when they close)', async (t) => {
  const N = 3000
  const d = new Disruptor({ size: 64, slotSize: 16, producer: 'multi' })
  d.handleEventsWith({ onBatch() {} })
  d.start()
  const workers = [0, 1].map(
    (producer) => new WorkerProbe('mp-producer.js', { handle: d.share(), producer, count: N, mode: 'batch' }),
  )
  try {
    await Promise.all(workers.map((w) => w.type('done', 60_000)))
    // mp-producer.js 'batch' claims n = 1 + (counter % 8) at a time.
    let claims = 0
    for (let counter = 0; counter < N; claims++) counter += Math.min(1 + (counter % 8), N - counter)
    await d.drain()
    t.is(d.stats().claims, 2 * claims)
  } finally {
    await Promise.all(workers.map((w) => w.worker.terminate()))
    await d.close()
  }
})

test('rates: events/s, ns per event and published/s are the window’s counts over its length; producer wait per claim', async (t) => {
  const d = new Disruptor({ size: 8, slotSize: 8 })
  const poller = d.poller({ name: 'slow' })
  const first = d.stats()
  t.true(first.windowMs >= 0)
  t.is(first.consumers[0].nsPerEvent, null, 'no events yet')
  t.is(first.consumers[0].eventsPerSecond, 0)
  // Fill the ring; the next claim waits for room until the poller makes some.
  for (let i = 0; i < 8; i++) d.publish(d.next())
  const claim = d.nextAsync(1)
  await sleep(20)
  poller.poll(() => {})
  d.publish(await claim)
  poller.poll(() => {})
  await sleep(5)
  const s = d.stats()
  t.true(s.windowMs > 0)
  const [c] = s.consumers
  const events = c.events - first.consumers[0].events
  t.is(events, 9)
  t.true(Math.abs((c.eventsPerSecond * s.windowMs) / 1000 - events) < 1e-6)
  t.true(Math.abs((c.nsPerEvent as number) * events - s.windowMs * 1e6) < 1)
  t.true(Math.abs((s.publishedPerSecond * s.windowMs) / 1000 - (s.cursor - first.cursor)) < 1e-6)
  t.is(s.claims - first.claims, 9)
  // The nextAsync waited for room on a native thread: that time is producer wait.
  t.true(s.producerWaitNanos > 0)
  t.true(Math.abs(s.producerWaitNanosPerClaim * 9 - (s.producerWaitNanos - first.producerWaitNanos)) < 1e-3)
  // The next window starts here: nothing happened since.
  const idle = d.stats()
  t.is(idle.consumers[0].eventsPerSecond, 0)
  t.is(idle.consumers[0].nsPerEvent, null)
  t.is(idle.publishedPerSecond, 0)
  t.is(idle.producerWaitNanosPerClaim, 0)
  t.deepEqual(JSON.parse(JSON.stringify(s)), s, 'plain JSON')
  await d.close()
})

test('two consumers of one name keep windows of their own; one that joins within a window counts from zero', async (t) => {
  const d = new Disruptor({ size: 64, slotSize: 8 })
  const a = d.poller({ name: 'same' })
  for (let i = 0; i < 10; i++) d.publish(d.next())
  a.poll(() => {})
  d.stats()
  const b = d.poller({ name: 'same' })
  for (let i = 0; i < 4; i++) d.publish(d.next())
  a.poll(() => {})
  b.poll(() => {})
  const s = d.stats()
  const rates = s.consumers.map((c) => Math.round((c.eventsPerSecond * s.windowMs) / 1000))
  t.deepEqual(rates, [4, 4])
  t.deepEqual(
    s.consumers.map((c) => c.events),
    [14, 4],
  )
  await d.close()
})

test('batches an async worker pool finishes out of order count one by one', async (t) => {
  const d = new Disruptor({ size: 8, slotSize: 8 })
  const gates = [deferred(), deferred()]
  const started: number[] = []
  const onBatch = async (lo: number) => {
    started.push(lo)
    await gates[lo].promise
  }
  d.handleEventsWithWorkerPool({ name: 'a', maxBatchSize: 1, onBatch }, { name: 'b', maxBatchSize: 1, onBatch })
  d.start()
  const hi = d.next(2)
  d.publish(hi - 1, hi)
  await waitFor(() => started.length === 2, 'both batches in flight')
  gates[1].resolve() // the second finishes first: both are released together when the first does
  await new Promise((resolve) => setTimeout(resolve, 5))
  gates[0].resolve()
  await d.drain()
  const [c] = d.stats().consumers
  t.is(c.batches, 2)
  t.is(c.largestBatch, 1)
  t.deepEqual(c.batchSizes, [2])
  await d.close()
})
