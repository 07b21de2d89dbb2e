import { join } from 'node:path'
import { Worker } from 'node:worker_threads'

import test from 'ava'

import { Disruptor, type DisruptorError } from '../src'
import { claim, sleep } from './helpers'

// Workers run the plain-JS fixtures, which load the compiled API (dist/index.js), not tsx.
const fixture = (name: string) => join(__dirname, 'fixtures', name)

/** Messages a worker posted, and a way to wait for one of a given type. */
class WorkerProbe {
  readonly worker: Worker
  readonly messages: any[] = []
  readonly exited: Promise<number>
  error: unknown = null
  private waiters: { match: (m: any) => boolean; resolve: (m: any) => void }[] = []

  constructor(file: string, workerData: unknown) {
    this.worker = new Worker(fixture(file), { workerData })
    this.worker.on('message', (m) => {
      this.messages.push(m)
      this.waiters = this.waiters.filter((w) => {
        if (!w.match(m)) return true
        w.resolve(m)
        return false
      })
    })
    this.worker.on('error', (e) => {
      this.error = e
    })
    this.exited = new Promise((resolve) => this.worker.once('exit', resolve))
  }

  /** The first message `match` accepts (already received or to come), within `ms`. */
  message(match: (m: any) => boolean, ms = 20_000): Promise<any> {
    const seen = this.messages.find(match)
    if (seen !== undefined) return Promise.resolve(seen)
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no matching worker message within ${ms} ms`)), ms)
      this.waiters.push({
        match,
        resolve: (m) => {
          clearTimeout(timer)
          resolve(m)
        },
      })
    })
  }

  type(type: string, ms?: number): Promise<any> {
    return this.message((m) => m !== null && typeof m === 'object' && m.type === type, ms)
  }
}

/** Resolves with the exit code, or rejects if the worker has not exited within `ms`. */
function exitWithin(p: WorkerProbe, ms = 20_000): Promise<number> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`worker did not exit within ${ms} ms`)), ms)
    p.exited.then((code) => {
      clearTimeout(timer)
      resolve(code)
    })
  })
}

/** Polls `cond` until it holds or `ms` passed; returns its last value. */
async function until(cond: () => boolean, ms = 10_000): Promise<boolean> {
  const deadline = Date.now() + ms
  while (!cond()) {
    if (Date.now() > deadline) return false
    await sleep(2)
  }
  return true
}

function code(f: () => unknown): string | undefined {
  try {
    f()
  } catch (e) {
    return (e as DisruptorError).code
  }
  return undefined
}

test.serial(
  'three worker producers on a multi-producer ring: two main-thread consumers see every event once, in per-producer order',
  async (t) => {
    const PRODUCERS = 3
    const N = 20_000
    const d = new Disruptor({ size: 256, slotSize: 16, producer: 'multi' })
    const f64 = new Float64Array(d.buffer)

    const checker = (name: string) => {
      const state = {
        name,
        total: 0,
        next: -1,
        perProducer: new Array<number>(PRODUCERS).fill(0),
        errors: [] as string[],
      }
      const onBatch = (lo: number, hi: number) => {
        if (lo !== state.next + 1 && state.errors.length < 10)
          state.errors.push(`batch [${lo}, ${hi}] after ${state.next}`)
        state.next = hi
        for (let s = lo; s <= hi; s++) {
          const i = d.offset(s) / 8
          const v = f64[i]
          const producer = Math.floor(v / 2 ** 32)
          const counter = v % 2 ** 32
          if (!(producer >= 0 && producer < PRODUCERS) || f64[i + 1] !== counter * 7 + producer) {
            if (state.errors.length < 10) state.errors.push(`seq ${s}: bad slot ${v} / ${f64[i + 1]}`)
            continue
          }
          if (counter !== state.perProducer[producer] && state.errors.length < 10) {
            state.errors.push(
              `seq ${s}: producer ${producer} counter ${counter}, expected ${state.perProducer[producer]}`,
            )
          }
          state.perProducer[producer] = counter + 1
          state.total++
        }
      }
      return { state, handler: { name, onBatch } }
    }
    const a = checker('main-a')
    const b = checker('main-b')
    d.handleEventsWith(a.handler, b.handler)
    d.start()

    const modes = ['batch', 'event', 'try']
    const workers = modes.map(
      (mode, producer) => new WorkerProbe('mp-producer.js', { handle: d.share(), producer, count: N, mode }),
    )
    try {
      const done = await Promise.all(workers.map((w) => w.type('done', 60_000)))
      for (const [i, m] of done.entries()) {
        t.is(m.published, N, `producer ${i}`)
        t.not(m.threadId, 0)
      }
      t.deepEqual(await Promise.all(workers.map((w) => exitWithin(w))), [0, 0, 0])
      for (const w of workers) t.is(w.error, null)

      await d.drain({ timeout: 20_000 })
      t.is(d.cursor, PRODUCERS * N - 1)
      for (const { state } of [a, b]) {
        t.deepEqual(state.errors, [], state.name)
        t.is(state.total, PRODUCERS * N, state.name)
        t.is(state.next, PRODUCERS * N - 1, state.name)
        t.deepEqual(state.perProducer, [N, N, N], state.name)
      }
      const stats = d.stats()
      t.deepEqual(
        stats.consumers.map((c) => [c.name, c.events, c.lag]),
        [
          ['main-a', PRODUCERS * N, 0],
          ['main-b', PRODUCERS * N, 0],
        ],
      )
    } finally {
      await d.close()
      await Promise.all(workers.map((w) => w.worker.terminate()))
    }
  },
)

test.serial(
  'a consumer registered inside a worker sees what the main thread publishes, its callbacks running in the worker',
  async (t) => {
    const size = 64
    const N = size * 8
    const d = new Disruptor({ size, slotSize: 8 })
    const f64 = new Float64Array(d.buffer)
    const w = new WorkerProbe('worker-consumer.js', { handle: d.share(), expected: N })
    try {
      const ready = await w.type('ready')
      t.not(ready.threadId, 0)
      t.is(ready.threadId, w.worker.threadId)
      // The worker's consumer is visible from the main thread and gates it.
      t.deepEqual(
        d.stats().consumers.map((c) => c.name),
        ['worker-consumer'],
      )

      for (let i = 0; i < N; i++) {
        const seq = await claim(d)
        f64[d.offset(seq) / 8] = seq
        d.publish(seq)
      }
      const done = await w.type('done')
      t.deepEqual(done.errors, [])
      t.is(done.count, N)
      // ready.threadId, not w.worker.threadId: that turns -1 once the worker has exited.
      t.deepEqual(done.threadIds, [ready.threadId])
      t.not(done.threadIds[0], 0)
      t.is(await exitWithin(w), 0)
      t.is(w.error, null)
      // Its close() detached the worker: its consumer no longer gates (nor is listed), the ring runs on.
      t.deepEqual(d.stats().consumers, [])
      t.false(d.stats().remainingCapacity < size)
      for (let i = 0; i < size * 2; i++) d.publish(d.next())
      t.is(d.cursor, N + size * 2 - 1)
    } finally {
      await d.close()
      await w.worker.terminate()
    }
  },
)

for (const how of ['natural', 'exit', 'throw', 'terminate'] as const) {
  test.serial(
    `a worker whose consumer stalls and which leaves without closing (${how}) stops gating: the main thread publishes more than size events and its own consumer gets them all`,
    async (t) => {
      const size = 32
      const d = new Disruptor({ size, slotSize: 8 })
      const f64 = new Float64Array(d.buffer)
      let seen = 0
      let next = 0
      const errors: string[] = []
      d.handleEventsWith(function main(lo: number, hi: number) {
        for (let s = lo; s <= hi; s++) {
          if (s !== next || f64[d.offset(s) / 8] !== s)
            errors.push(`seq ${s} (expected ${next}) holds ${f64[d.offset(s) / 8]}`)
          next = s + 1
          seen++
        }
      })
      d.start()
      const w = new WorkerProbe('attach-consume-leave.js', {
        handle: d.share(),
        stallAfter: 5,
        how: how === 'terminate' ? 'natural' : how,
      })
      try {
        await w.type('ready')
        t.deepEqual(
          d.stats().consumers.map((c) => c.name),
          ['main', 'leaver'],
        )
        let published = 0
        const publish = async () => {
          const seq = await claim(d)
          f64[d.offset(seq) / 8] = seq
          d.publish(seq)
          published++
        }
        for (let i = 0; i < 10; i++) await publish()
        const stalled = await w.type('stalled')
        t.true(stalled.count >= 5)
        // The worker posts 'stalled' from inside the stalling batch; it stores the progress of
        // the batches before it (deferred until it waits) only after that batch returned.
        // Once stored, it stays there: the stalled batch never settles.
        const leaverAt = () => d.stats().consumers.find((c) => c.name === 'leaver')?.sequence
        t.true(await until(() => leaverAt() === stalled.lo - 1), `leaver at ${leaverAt()}, not ${stalled.lo - 1}`)

        // The stalled consumer gates: the ring fills up and stays full. The main consumer runs on
        // this thread, between fills only: the first fill may stop at its position, the second
        // (once it caught up) stops where the stalled consumer holds the ring.
        const fill = () => {
          for (let seq = d.tryNext(); seq >= 0; seq = d.tryNext()) {
            f64[d.offset(seq) / 8] = seq
            d.publish(seq)
            published++
          }
        }
        for (let round = 0; round < 2; round++) {
          fill()
          t.true(await until(() => seen === published))
        }
        await sleep(20)
        t.is(d.tryNext(), -1)
        t.is(d.cursor, stalled.lo - 1 + size)
        t.is(d.remainingCapacity(), 0)

        if (how === 'terminate') await w.worker.terminate()
        else w.worker.postMessage('leave')
        const exitCode = await exitWithin(w)
        if (how === 'throw') {
          t.is(exitCode, 1)
          t.regex(String((w.error as Error | null)?.message), /uncaught exception/)
        } else {
          t.is(exitCode, how === 'terminate' ? 1 : 0)
          t.is(w.error, null)
        }

        // The worker's consumer is gone: the main thread fills the ring more than once over.
        t.true(await until(() => d.remainingCapacity() === size), 'the departed consumer still gates')
        const before = published
        for (let i = 0; i < size * 4; i++) await publish()
        await d.drain({ timeout: 10_000 })
        t.deepEqual(errors, [])
        t.is(seen, published)
        t.is(published - before, size * 4)
        t.is(d.cursor, published - 1)
        t.deepEqual(
          d.stats().consumers.map((c) => c.name),
          ['main'],
        )
      } finally {
        // Bounded: after a failure above the stalled consumer may still gate, and an unbounded
        // close() would wait for it forever, hiding the failure behind ava's timeout.
        await d.close({ timeout: 5000 }).catch(() => {})
        await w.worker.terminate()
      }
    },
  )
}

test.serial(
  'worker.terminate() of a worker blocked in d.next() on a full ring completes, and the ring stays usable',
  async (t) => {
    const d = new Disruptor({ size: 16, slotSize: 8 })
    // A poller never polled: it gates, so the worker's next claim blocks.
    const p = d.poller({ name: 'stuck' })
    const w = new WorkerProbe('blocked-producer.js', { handle: d.share() })
    try {
      await w.type('full')
      await sleep(100)
      t.deepEqual(
        w.messages.map((m) => m.type),
        ['full'],
      )
      const terminated = w.worker.terminate()
      const outcome = await Promise.race([terminated.then(() => 'terminated'), sleep(3000).then(() => 'hung')])
      t.is(outcome, 'terminated', 'terminate() did not complete while the worker was blocked in d.next()')
      // The main thread's poller still works.
      t.is(
        p.poll(() => {}),
        'processing',
      )
      t.is(p.sequence, 15)
    } finally {
      // halt() releases the worker if it is still blocked (then terminate() completes).
      d.halt()
      await w.worker.terminate()
    }
  },
)

test.serial('single-producer ring: a second thread cannot produce, the first thread keeps claiming', async (t) => {
  const d = new Disruptor({ size: 16, slotSize: 8, producer: 'single' })
  const f64 = new Float64Array(d.buffer)
  const seen: number[] = []
  d.handleEventsWith((lo: number, hi: number) => {
    for (let s = lo; s <= hi; s++) seen.push(f64[d.offset(s) / 8])
  })
  d.start()
  try {
    // The main thread claims first: it is the producer.
    const first = d.next()
    f64[d.offset(first) / 8] = 100
    d.publish(first)

    // The main thread holds a claim on 1, not yet published: the worker must not publish it.
    const held = d.next()
    t.is(held, 1)
    const w = new WorkerProbe('sp-claim.js', { handle: d.share(), publish: held })
    const results = await w.message(() => true)
    t.is(await exitWithin(w), 0)
    const { publish, ...claims } = results
    t.deepEqual(claims, {
      next: 'ERR_DISRUPTOR_SINGLE_PRODUCER',
      tryNext: 'ERR_DISRUPTOR_SINGLE_PRODUCER',
      publishEvent: 'ERR_DISRUPTOR_SINGLE_PRODUCER',
      nextAsync: 'ERR_DISRUPTOR_SINGLE_PRODUCER',
      cursor: 0,
    })
    // A bare publish() of a sequence the worker never claimed is refused too (as misuse by a
    // second producer, or as a publish of something this thread never claimed).
    t.true(['ERR_DISRUPTOR_SINGLE_PRODUCER', 'ERR_DISRUPTOR_NOT_CLAIMED'].includes(publish), `publish: ${publish}`)

    // The refused attempts claimed and published nothing: the main thread goes on from where it was.
    t.is(d.cursor, 0)
    f64[d.offset(held) / 8] = 101
    d.publish(held)
    for (let v = 102; v <= 140; v++) {
      const seq = await claim(d)
      f64[d.offset(seq) / 8] = v
      d.publish(seq)
    }
    d.publishEvent((offset) => {
      f64[offset / 8] = 141
    })
    await d.drain({ timeout: 10_000 })
    t.is(d.cursor, 41)
    t.deepEqual(
      seen,
      Array.from({ length: 42 }, (_, i) => 100 + i),
    )
  } finally {
    await d.close()
  }
})

test.serial(
  'Disruptor.attach after the creating thread closed the ring throws ERR_DISRUPTOR_CLOSED, in a worker and on the main thread',
  async (t) => {
    const d = new Disruptor({ size: 16, slotSize: 8 })
    const handle = d.share()
    await d.close()
    t.is(
      code(() => d.share()),
      'ERR_DISRUPTOR_CLOSED',
    )

    const w = new WorkerProbe('attach-handle.js', { handle })
    const result = await w.message(() => true)
    t.is(await exitWithin(w), 0)
    t.like(result, { ok: false, code: 'ERR_DISRUPTOR_CLOSED' })

    const e = t.throws(() => Disruptor.attach(handle)) as DisruptorError
    t.is(e.code, 'ERR_DISRUPTOR_CLOSED')
    // `d` is still referenced here, so the closed ring is still registered (a collected ring
    // would give ERR_INVALID_ARG_VALUE instead).
    t.is(d.size, 16)
  },
)

test.serial('Disruptor.attach with a forged or foreign handle throws ERR_INVALID_ARG_VALUE', async (t) => {
  const d = new Disruptor({ size: 16, slotSize: 8 })
  try {
    const handle = d.share()
    t.is(
      code(() => Disruptor.attach({ ...handle, token: '0'.repeat(handle.token.length) })),
      'ERR_INVALID_ARG_VALUE',
    )
    t.is(
      code(() => Disruptor.attach({ ...handle, id: handle.id + 1000 })),
      'ERR_INVALID_ARG_VALUE',
    )
    const w = new WorkerProbe('attach-handle.js', { handle: { ...handle, token: 'x' } })
    t.like(await w.message(() => true), { ok: false, code: 'ERR_INVALID_ARG_VALUE' })
    t.is(await exitWithin(w), 0)
    // The genuine handle still attaches.
    const w2 = new WorkerProbe('attach-handle.js', { handle })
    t.like(await w2.message(() => true), { ok: true })
    t.is(await exitWithin(w2), 0)
  } finally {
    await d.close()
  }
})
