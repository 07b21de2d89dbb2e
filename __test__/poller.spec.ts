import { spawnSync } from 'node:child_process'
import { join } from 'node:path'

import test from 'ava'

import { type Batch, Disruptor } from '../src'
import { deferred, produce, sleep, waitFor } from './helpers'

for (const producer of ['single', 'multi'] as const) {
  test(`${producer}: poll() returns 'idle' when nothing is published and 'processing' with the batch`, async (t) => {
    const d = new Disruptor({ size: 8, slotSize: 8, producer })
    const p = d.poller()
    t.is(p.sequence, -1)
    let calls = 0
    t.is(
      p.poll(() => calls++),
      'idle',
    )
    t.is(calls, 0, 'no callback when idle')
    const hi = d.next(3)
    d.publish(hi - 2, hi)
    const batches: Array<[number, number]> = []
    t.is(
      p.poll((lo, h) => batches.push([lo, h])),
      'processing',
    )
    t.deepEqual(batches, [[0, 2]])
    t.is(p.sequence, 2)
    t.is(
      p.poll(() => calls++),
      'idle',
    )
    t.is(calls, 0)
    t.is(d.stats().consumers[0].sequence, 2)
    await d.close()
  })

  test(`${producer}: a poller behind a handler whose async batch is pending gets 'gating'`, async (t) => {
    const d = new Disruptor({ size: 8, slotSize: 8, producer })
    const hold = deferred()
    let upstreamBatches = 0
    const g = d.handleEventsWith(() => {
      upstreamBatches++
      return hold.promise
    })
    const p = d.after(g).poller()
    d.start()
    d.publish(d.next())
    await waitFor(() => upstreamBatches === 1, 'the upstream handler gets sequence 0')
    let calls = 0
    t.is(
      p.poll(() => calls++),
      'gating',
    )
    t.is(calls, 0, 'no callback while gating')
    t.is(p.sequence, -1)
    hold.resolve()
    const batches: Array<[number, number]> = []
    await waitFor(
      () => p.poll((lo, hi) => batches.push([lo, hi])) === 'processing',
      'the poller gets 0 once upstream finished it',
    )
    t.deepEqual(batches, [[0, 0]])
    t.is(
      p.poll(() => calls++),
      'idle',
    )
    await d.close()
  })
}

test(`multi: a claimed but unpublished sequence makes poll() return 'gating'`, async (t) => {
  const d = new Disruptor({ size: 8, slotSize: 8, producer: 'multi' })
  const p = d.poller()
  const a = d.next()
  const b = d.next()
  let calls = 0
  t.is(
    p.poll(() => calls++),
    'gating',
  )
  d.publish(b)
  t.is(
    p.poll(() => calls++),
    'gating',
    'a later sequence is published, the next one is not',
  )
  t.is(calls, 0)
  d.publish(a)
  const batches: Array<[number, number]> = []
  t.is(
    p.poll((lo, hi) => batches.push([lo, hi])),
    'processing',
  )
  t.deepEqual(batches, [[0, 1]])
  await d.close()
})

test(`single: a claimed but unpublished sequence is invisible to poll(): 'idle'`, async (t) => {
  // A single producer's claims are private until published (its cursor is the published one).
  const d = new Disruptor({ size: 8, slotSize: 8, producer: 'single' })
  const p = d.poller()
  const s = d.next()
  t.is(
    p.poll(() => {}),
    'idle',
  )
  d.publish(s)
  t.is(
    p.poll(() => {}),
    'processing',
  )
  await d.close()
})

test('a throwing poll callback releases nothing and the same batch is offered again', async (t) => {
  const size = 4
  const d = new Disruptor({ size, slotSize: 8 })
  const p = d.poller()
  for (let i = 0; i < size; i++) d.publish(d.tryNext())
  t.is(d.remainingCapacity(), 0)
  const boom = new Error('poll failed')
  const offered: Array<[number, number]> = []
  for (let attempt = 0; attempt < 3; attempt++) {
    const err = t.throws(() =>
      p.poll((lo, hi) => {
        offered.push([lo, hi])
        throw boom
      }),
    )
    t.is(err, boom, 'the callback error propagates')
    t.is(p.sequence, -1)
    t.is(d.stats().consumers[0].sequence, -1)
    t.is(d.remainingCapacity(), 0, 'nothing was released')
    t.is(d.tryNext(), -1)
  }
  t.is(
    p.poll((lo, hi) => offered.push([lo, hi])),
    'processing',
  )
  t.deepEqual(offered, [
    [0, 3],
    [0, 3],
    [0, 3],
    [0, 3],
  ])
  t.is(p.sequence, 3)
  t.is(d.remainingCapacity(), size)
  await d.close()
})

test('maxBatchSize caps the batches a poller hands out', async (t) => {
  const d = new Disruptor({ size: 16, slotSize: 8 })
  const p = d.poller({ name: 'capped', maxBatchSize: 3 })
  const hi = d.next(10)
  d.publish(hi - 9, hi)
  const batches: Array<[number, number]> = []
  let result: ReturnType<typeof p.poll>
  while ((result = p.poll((lo, h) => batches.push([lo, h]))) === 'processing') {
    /* poll until idle */
  }
  t.is(result, 'idle')
  t.deepEqual(batches, [
    [0, 2],
    [3, 5],
    [6, 8],
    [9, 9],
  ])
  const c = d.stats().consumers[0]
  t.is(c.name, 'capped')
  t.is(c.largestBatch, 3)
  t.is(c.batches, 4)
  t.is(c.events, 10)
  await d.close()
})

test('a closed poller no longer gates producers', async (t) => {
  const size = 4
  const d = new Disruptor({ size, slotSize: 8 })
  const p = d.poller()
  for (let i = 0; i < size; i++) d.publish(d.tryNext())
  t.is(d.tryNext(), -1)
  p.close()
  t.is(d.stats().consumers.length, 0)
  t.throws(() => p.poll(() => {}), { code: 'ERR_DISRUPTOR_CLOSED' })
  for (let i = 0; i < 3 * size; i++) {
    const s = d.tryNext()
    t.is(s, size + i)
    d.publish(s)
  }
  await d.close()
})

for (const maxBatchSize of [undefined, 4]) {
  // serial: a test running beside it would keep the event loop alive and hide a lost final wake-up
  test.serial(
    `batches(${maxBatchSize === undefined ? '' : `{ maxBatchSize: ${maxBatchSize} }`}) receives every sequence exactly once, in order`,
    async (t) => {
      const size = 16
      const total = 1500
      const d = new Disruptor({ size, slotSize: 8 })
      const f64 = new Float64Array(d.buffer)
      const it = d.batches(maxBatchSize === undefined ? undefined : { maxBatchSize })
      const producing = produce(d, total, 5)
      let next = 0
      let largest = 0
      const problems: string[] = []
      for await (const { lo, hi } of it) {
        if (lo !== next || hi < lo) problems.push(`batch [${lo}, ${hi}] when ${next} was expected`)
        largest = Math.max(largest, hi - lo + 1)
        for (let s = lo; s <= hi; s++) {
          if (f64[d.offset(s) / 8] !== s) problems.push(`slot of ${s} holds ${f64[d.offset(s) / 8]}`)
        }
        next = hi + 1
        if (next >= total) break
      }
      await producing
      t.deepEqual(problems, [])
      t.is(next, total)
      if (maxBatchSize !== undefined) t.true(largest <= maxBatchSize, `largest batch ${largest}`)
      await d.close()
    },
  )
}

test('break out of batches() stops it gating: the producer can fill the ring afterwards without waiting', async (t) => {
  const size = 8
  const d = new Disruptor({ size, slotSize: 8 })
  const it = d.batches({ name: 'it', maxBatchSize: 3 })
  for (let i = 0; i < size; i++) d.publish(d.tryNext())
  t.is(d.tryNext(), -1, 'the iterator gates')
  const seen: Batch[] = []
  for await (const b of it) {
    seen.push(b)
    if (b.hi >= 4) break
  }
  t.deepEqual(seen, [
    { lo: 0, hi: 2 },
    { lo: 3, hi: 5 },
  ])
  t.deepEqual(
    d.stats().consumers.map((c) => c.name),
    [],
    'the iterator is no longer a consumer',
  )
  // the ring is full (and the iterator stopped at 5): a gating iterator would allow at most 6
  for (let i = 0; i < 3 * size; i++) {
    const s = d.tryNext()
    t.is(s, size + i, `claim ${i} succeeds`)
    d.publish(s)
  }
  await d.close()
})

test('batches(): the batch last yielded is processed when the next one is asked for', async (t) => {
  const size = 4
  const d = new Disruptor({ size, slotSize: 8 })
  const it = d.batches()
  for (let i = 0; i < size; i++) d.publish(d.tryNext())
  const first = await it.next()
  t.deepEqual(first, { value: { lo: 0, hi: 3 }, done: false })
  t.is(d.remainingCapacity(), 0, 'the yielded batch is still being processed')
  const second = it.next()
  t.is(d.remainingCapacity(), size, 'asking for the next batch released the previous one')
  d.publish(d.tryNext())
  t.deepEqual(await second, { value: { lo: 4, hi: 4 }, done: false })
  t.deepEqual(await it.return?.(), { value: undefined, done: true })
  t.deepEqual(await it.next(), { value: undefined, done: true })
  await d.close()
})

test('close() while a batches() iterator waits rejects the pending next() with ERR_DISRUPTOR_CLOSED', async (t) => {
  const d = new Disruptor({ size: 8, slotSize: 8 })
  const it = d.batches()
  const pending = it.next()
  let settled = false
  pending.then(
    () => (settled = true),
    () => (settled = true),
  )
  await sleep(5)
  t.false(settled, 'next() waits on an empty ring')
  await d.close()
  await t.throwsAsync(pending, { code: 'ERR_DISRUPTOR_CLOSED' })
  await t.throwsAsync(it.next(), { code: 'ERR_DISRUPTOR_CLOSED' })
})

test('close() ends a for await loop over batches() with ERR_DISRUPTOR_CLOSED after what was published', async (t) => {
  const d = new Disruptor({ size: 8, slotSize: 8 })
  const seen: number[] = []
  const loop = (async () => {
    for await (const { lo, hi } of d.batches()) {
      for (let s = lo; s <= hi; s++) seen.push(s)
    }
  })()
  for (let i = 0; i < 5; i++) d.publish(await d.nextAsync())
  await waitFor(() => seen.length === 5, 'the loop gets 0..4')
  await d.close()
  await t.throwsAsync(loop, { code: 'ERR_DISRUPTOR_CLOSED' })
  t.deepEqual(seen, [0, 1, 2, 3, 4])
})

test('poll() after close() throws ERR_DISRUPTOR_CLOSED', async (t) => {
  const d = new Disruptor({ size: 8, slotSize: 8 })
  const p = d.poller()
  d.publish(d.next())
  t.is(
    p.poll(() => {}),
    'processing',
  )
  await d.close()
  t.throws(() => p.poll(() => {}), { code: 'ERR_DISRUPTOR_CLOSED' })
})

test('a for await loop over batches() gets an event published when nothing else keeps the process alive', (t) => {
  // The iterator waits for data; the data is published from a timer; then the event loop has
  // nothing else to do. The loop must still get the event (and reach close()) before exit.
  const source = `
    const { Disruptor } = require(${JSON.stringify(join(__dirname, '..', 'dist', 'index.js'))})
    const d = new Disruptor({ size: 8, slotSize: 8 })
    const events = []
    ;(async () => {
      setTimeout(() => d.publish(d.next()), 20)
      for await (const { lo, hi } of d.batches()) {
        events.push([lo, hi])
        break
      }
      await d.close()
      events.push('closed')
    })()
    process.on('exit', () => console.log(JSON.stringify(events)))
  `
  const r = spawnSync(process.execPath, ['-e', source], { encoding: 'utf8', timeout: 10_000 })
  t.is(r.status, 0, r.stderr)
  t.deepEqual(JSON.parse(r.stdout.trim()), [[0, 0], 'closed'])
})
