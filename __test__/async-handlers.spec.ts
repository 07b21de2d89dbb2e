import test from 'ava'

import { Disruptor, type DisruptorError } from '../src'
import { deferred, sleep, waitFor } from './helpers'

/** Tracks whether a promise settled, without awaiting it. */
function track<T>(p: Promise<T>) {
  const state = { settled: false, value: undefined as T | undefined, error: undefined as unknown }
  p.then(
    (v) => {
      state.settled = true
      state.value = v
    },
    (e: unknown) => {
      state.settled = true
      state.error = e
    },
  )
  return state
}

test('a handler returning a Promise holds its sequences until it settles', async (t) => {
  const size = 8
  const d = new Disruptor({ size, slotSize: 8 })
  const pending = [deferred(), deferred()]
  const batches: Array<[number, number]> = []
  d.handleEventsWith((lo, hi) => {
    batches.push([lo, hi])
    return pending[batches.length - 1]?.promise
  })
  d.start()
  const hi = d.tryNext(3)
  d.publish(hi - 2, hi)
  await waitFor(() => batches.length === 1, 'the handler gets the first batch')
  t.deepEqual(batches, [[0, 2]])
  d.publish(d.tryNext())
  await sleep(5)
  t.deepEqual(batches, [[0, 2]], 'no second batch while the first one is pending')
  t.is(d.stats().consumers[0].sequence, -1, 'the pending batch is not finished')
  t.is(d.remainingCapacity(), size - 4, 'the pending batch still occupies the ring')
  pending[0].resolve()
  await waitFor(() => batches.length === 2, 'the next batch after the first settled')
  t.deepEqual(batches[1], [3, 3])
  t.is(d.stats().consumers[0].sequence, 2)
  t.is(d.remainingCapacity(), size - 1)
  pending[1].resolve()
  await d.drain()
  t.is(d.stats().consumers[0].sequence, 3)
  t.is(d.remainingCapacity(), size)
  await d.close()
})

test('a handler never has two batches in flight at once', async (t) => {
  const d = new Disruptor({ size: 16, slotSize: 8 })
  let inFlight = 0
  let most = 0
  let next = 0
  const problems: string[] = []
  d.handleEventsWith(async (lo, hi) => {
    if (lo !== next) problems.push(`batch [${lo}, ${hi}] when ${next} was expected`)
    next = hi + 1
    inFlight++
    most = Math.max(most, inFlight)
    await sleep(Math.random() < 0.5 ? 0 : 1)
    inFlight--
  })
  d.start()
  for (let i = 0; i < 200; i++) d.publish(await d.nextAsync())
  await d.drain()
  t.deepEqual(problems, [])
  t.is(most, 1)
  t.is(next, 200)
  await d.close()
})

for (const claim of [1, 3]) {
  test(`ring of 8, slow async handler: await nextAsync(${claim}) never gets more than 8 ahead of what the handler finished`, async (t) => {
    const size = 8
    const total = 240
    const d = new Disruptor({ size, slotSize: 8 })
    const f64 = new Float64Array(d.buffer)
    let finished = -1
    let next = 0
    const problems: string[] = []
    d.handleEventsWith(async (lo, hi) => {
      if (lo !== next) problems.push(`batch [${lo}, ${hi}] when ${next} was expected`)
      next = hi + 1
      await sleep(Math.random() < 0.3 ? 1 : 0)
      for (let s = lo; s <= hi; s++) {
        // the slots of a pending batch must not be overwritten while it is held
        if (f64[d.offset(s) / 8] !== s) problems.push(`slot of ${s} holds ${f64[d.offset(s) / 8]} while held`)
      }
      finished = hi
    })
    d.start()
    let mostAhead = 0
    for (let published = 0; published < total; published += claim) {
      const hi = await d.nextAsync(claim)
      t.is(hi, published + claim - 1)
      const ahead = hi - finished
      mostAhead = Math.max(mostAhead, ahead)
      if (ahead > size) problems.push(`claimed up to ${hi} while the handler had finished only ${finished}`)
      for (let s = hi - claim + 1; s <= hi; s++) f64[d.offset(s) / 8] = s
      d.publish(hi - claim + 1, hi)
    }
    await d.drain()
    t.deepEqual(problems, [])
    t.is(finished, total - 1)
    t.log(`the producer got at most ${mostAhead} ahead of the handler`)
    await d.close()
  })
}

test('nextAsync waits for room without blocking the event loop, then claims', async (t) => {
  const size = 4
  const d = new Disruptor({ size, slotSize: 8 })
  const p = d.poller()
  for (let i = 0; i < size; i++) d.publish(d.tryNext())
  const claim = track(d.nextAsync(2))
  await sleep(5)
  t.false(claim.settled, 'waits while the ring is full')
  t.is(
    p.poll(() => {}),
    'processing',
  )
  await waitFor(() => claim.settled, 'nextAsync resolves once there is room')
  t.is(claim.error, undefined)
  t.is(claim.value, size + 1)
  d.publish(size, size + 1)
  t.is(
    p.poll(() => {}),
    'processing',
  )
  await d.close()
})

test('nextAsync with an AbortSignal rejects with an AbortError when aborted while the ring is full, claiming nothing', async (t) => {
  const size = 4
  const d = new Disruptor({ size, slotSize: 8 })
  const p = d.poller()
  for (let i = 0; i < size; i++) d.publish(d.tryNext())
  const ac = new AbortController()
  const claim = d.nextAsync(1, { signal: ac.signal })
  const state = track(claim)
  await sleep(5)
  t.false(state.settled, 'waits while the ring is full')
  const reason = new Error('no longer needed')
  ac.abort(reason)
  const err = await t.throwsAsync(claim, { name: 'AbortError' })
  t.is((err as DisruptorError | undefined)?.code, 'ABORT_ERR')
  t.is((err as Error | undefined)?.cause, reason)
  t.is(d.remainingCapacity(), 0)
  t.is(
    p.poll(() => {}),
    'processing',
  )
  t.is(d.tryNext(), size, 'the aborted wait claimed nothing: no gap')
  d.publish(size)
  t.is(
    p.poll(() => {}),
    'processing',
  )
  await d.close()
})

test('nextAsync with an already aborted signal rejects at once and claims nothing', async (t) => {
  const d = new Disruptor({ size: 4, slotSize: 8 })
  const p = d.poller()
  await t.throwsAsync(d.nextAsync(1, { signal: AbortSignal.abort() }), { name: 'AbortError' })
  t.is(d.remainingCapacity(), 4)
  t.is(d.tryNext(), 0)
  d.publish(0)
  t.is(
    p.poll(() => {}),
    'processing',
  )
  await d.close()
})

test('close() while a nextAsync waits rejects it with ERR_DISRUPTOR_CLOSED', async (t) => {
  const size = 4
  const d = new Disruptor({ size, slotSize: 8 })
  const hold = deferred()
  d.handleEventsWith(() => hold.promise)
  d.start()
  for (let i = 0; i < size; i++) d.publish(d.tryNext())
  const claim = d.nextAsync()
  const state = track(claim)
  await sleep(5)
  t.false(state.settled)
  // the handler never finishes, so the drain part of close() cannot: bound it
  await t.throwsAsync(d.close({ timeout: 20 }), { code: 'ERR_DISRUPTOR_TIMEOUT' })
  await t.throwsAsync(claim, { code: 'ERR_DISRUPTOR_CLOSED' })
  await t.throwsAsync(d.nextAsync(), { code: 'ERR_DISRUPTOR_CLOSED' })
  hold.resolve()
})

test('halt() while a nextAsync waits rejects it with ERR_DISRUPTOR_CLOSED', async (t) => {
  const size = 4
  const d = new Disruptor({ size, slotSize: 8 })
  const p = d.poller()
  for (let i = 0; i < size; i++) d.publish(d.tryNext())
  const claims = [d.nextAsync(), d.nextAsync(2)]
  await sleep(5)
  d.halt()
  for (const c of claims) await t.throwsAsync(c, { code: 'ERR_DISRUPTOR_CLOSED' })
  t.throws(() => p.poll(() => {}), { code: 'ERR_DISRUPTOR_CLOSED' })
})

test('a handler object: onBatch is called with its object as this, onStart/onShutdown once each', async (t) => {
  const d = new Disruptor({ size: 8, slotSize: 8 })
  const calls: string[] = []
  const h = {
    seen: 0,
    name: 'obj',
    onStart() {
      calls.push('start')
    },
    async onBatch(lo: number, hi: number) {
      await sleep(0)
      this.seen += hi - lo + 1
    },
    onShutdown() {
      calls.push('shutdown')
    },
  }
  d.handleEventsWith(h)
  t.deepEqual(calls, [], 'nothing before start()')
  d.start()
  t.deepEqual(calls, ['start'])
  for (let i = 0; i < 20; i++) d.publish(await d.nextAsync())
  await d.drain()
  t.is(h.seen, 20)
  await d.close()
  t.deepEqual(calls, ['start', 'shutdown'])
  t.is(d.stats().consumers.length, 0)
})
