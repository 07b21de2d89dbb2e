import { spawnSync } from 'node:child_process'
import { join } from 'node:path'
import { Worker } from 'node:worker_threads'

import test from 'ava'

import { Disruptor } from '../src'
import { ask, sleep, tick, WorkerProbe, waitFor } from './helpers'

const PRODUCERS = ['single', 'multi'] as const

/** Value written into slot `seq` (two doubles per slot) and checked by consumers. */
const valueAt = (seq: number) => seq * 3 + 0.25

for (const producer of PRODUCERS) {
  test(`${producer}: cursor is -1 before any publish (no consumers)`, async (t) => {
    const d = new Disruptor({ size: 8, slotSize: 8, producer })
    t.is(d.cursor, -1)
    t.is(d.stats().cursor, -1)
    const hi = d.next(3)
    t.is(hi, 2)
    t.is(d.cursor, -1, 'claimed but unpublished sequences are not in the cursor')
    d.publish(0, 2)
    t.is(d.cursor, 2)
    await d.close()
  })

  test(`${producer}: cursor is -1 before any publish (with a consumer)`, async (t) => {
    const d = new Disruptor({ size: 8, slotSize: 8, producer })
    const p = d.poller()
    t.is(d.cursor, -1)
    const s = d.next()
    t.is(s, 0)
    t.is(d.cursor, -1)
    d.publish(s)
    t.is(d.cursor, 0)
    t.is(
      p.poll(() => {}),
      'processing',
    )
    await d.close()
  })

  test(`${producer}: buffer is one ArrayBuffer of size * slotSize bytes`, async (t) => {
    for (const [size, slotSize] of [
      [2, 8],
      [8, 16],
      [1024, 64],
      [4, 65536],
    ]) {
      const d = new Disruptor({ size, slotSize, producer })
      const b = d.buffer
      t.true(b instanceof ArrayBuffer)
      t.is(b.byteLength, size * slotSize, `size ${size} slotSize ${slotSize}`)
      t.is(d.buffer, b, 'the same ArrayBuffer object each time')
      t.is(d.buffer, d.buffer)
      // the whole buffer is writable and readable back
      const bytes = new Uint8Array(b)
      bytes[0] = 7
      bytes[bytes.length - 1] = 9
      t.is(new Uint8Array(d.buffer)[0], 7)
      t.is(new Uint8Array(d.buffer)[bytes.length - 1], 9)
      await d.close()
    }
  })

  test(`${producer}: offset(seq) is (seq mod size) * slotSize and wraps`, async (t) => {
    const size = 8
    const slotSize = 24
    const d = new Disruptor({ size, slotSize, producer })
    for (let seq = 0; seq < 4 * size; seq++) {
      t.is(d.offset(seq), (seq % size) * slotSize)
    }
    t.is(d.offset(size), 0)
    t.is(d.offset(size + 3), 3 * slotSize)
    t.is(d.offset(2 ** 31), 0)
    t.is(d.offset(2 ** 32 + 5), 5 * slotSize)
    t.is(d.offset(2 ** 40 + 7), 7 * slotSize)
    t.is(d.offset(2 ** 53 - 1), (size - 1) * slotSize)
    await d.close()
  })

  test(`${producer}: next(n) returns the highest claimed sequence, remainingCapacity follows claims and releases`, async (t) => {
    const size = 8
    const d = new Disruptor({ size, slotSize: 8, producer })
    const p = d.poller()
    t.is(d.remainingCapacity(), size)
    t.is(d.next(), 0)
    t.is(d.remainingCapacity(), size - 1)
    t.is(d.next(3), 3)
    t.is(d.remainingCapacity(), size - 4)
    t.is(d.tryNext(2), 5)
    t.is(d.remainingCapacity(), size - 6)
    d.publish(0, 5)
    t.is(d.cursor, 5)
    t.is(d.remainingCapacity(), size - 6, 'publishing frees nothing')
    const batches: Array<[number, number]> = []
    t.is(
      p.poll((lo, hi) => batches.push([lo, hi])),
      'processing',
    )
    t.deepEqual(batches, [[0, 5]])
    t.is(d.remainingCapacity(), size, 'consuming frees the slots')
    await d.close()
  })

  test(`${producer}: tryNext returns -1 when full and claims nothing`, async (t) => {
    const size = 4
    const d = new Disruptor({ size, slotSize: 8, producer })
    const p = d.poller()
    for (let i = 0; i < size; i++) {
      const s = d.tryNext()
      t.is(s, i)
      d.publish(s)
    }
    t.is(d.remainingCapacity(), 0)
    for (let i = 0; i < 5; i++) t.is(d.tryNext(), -1)
    t.is(d.tryNext(size), -1)
    t.is(d.remainingCapacity(), 0)
    t.is(d.cursor, size - 1)
    // consume everything, claim one: a claim of `size` fails and claims nothing, size - 1 succeeds
    let polled = 0
    t.is(
      p.poll(() => polled++),
      'processing',
    )
    t.is(polled, 1)
    t.is(d.remainingCapacity(), size)
    d.publish(d.tryNext(1))
    t.is(d.remainingCapacity(), size - 1)
    t.is(d.tryNext(size), -1, 'not room for size')
    t.is(d.remainingCapacity(), size - 1, 'the failed claim took nothing')
    const hi = d.tryNext(size - 1)
    t.is(hi, size + size - 1, 'no gap after the failed claims')
    d.publish(hi - (size - 2), hi)
    t.is(d.cursor, 2 * size - 1)
    const seen: number[] = []
    t.is(
      p.poll((lo, h) => {
        for (let s = lo; s <= h; s++) seen.push(s)
      }),
      'processing',
    )
    t.deepEqual(seen, [4, 5, 6, 7])
    await d.close()
  })

  test(`${producer}: publishEvent fills the claimed slot and publishes it`, async (t) => {
    const d = new Disruptor({ size: 8, slotSize: 16, producer })
    const f64 = new Float64Array(d.buffer)
    const p = d.poller()
    const calls: Array<[number, number]> = []
    for (let i = 0; i < 20; i++) {
      const seq = d.publishEvent((offset, s) => {
        calls.push([offset, s])
        f64[offset / 8] = s
        f64[offset / 8 + 1] = valueAt(s)
      })
      t.is(seq, i)
      t.is(d.cursor, i)
      t.is(
        p.poll((lo, hi) => {
          t.is(lo, i)
          t.is(hi, i)
          t.is(f64[d.offset(lo) / 8], lo)
          t.is(f64[d.offset(lo) / 8 + 1], valueAt(lo))
        }),
        'processing',
      )
    }
    t.deepEqual(
      calls,
      Array.from({ length: 20 }, (_, s) => [(s % 8) * 16, s]),
    )
    await d.close()
  })

  test(`${producer}: publishEvent publishes even if its callback throws, and the error propagates`, async (t) => {
    const d = new Disruptor({ size: 8, slotSize: 8, producer })
    const p = d.poller()
    const boom = new Error('boom')
    const err = t.throws(() =>
      d.publishEvent(() => {
        throw boom
      }),
    )
    t.is(err, boom, 'the callback error itself propagates')
    t.is(d.cursor, 0, 'the sequence was published')
    const seen: Array<[number, number]> = []
    t.is(
      p.poll((lo, hi) => seen.push([lo, hi])),
      'processing',
    )
    t.deepEqual(seen, [[0, 0]])
    // the ring goes on normally
    t.is(
      d.publishEvent(() => {}),
      1,
    )
    t.is(d.cursor, 1)
    t.is(
      p.poll((lo, hi) => seen.push([lo, hi])),
      'processing',
    )
    t.deepEqual(seen, [
      [0, 0],
      [1, 1],
    ])
    await d.close()
  })

  test(`${producer}: a started handler sees a sequence whose publishEvent callback threw`, async (t) => {
    const d = new Disruptor({ size: 8, slotSize: 8, producer })
    const seen: number[] = []
    d.handleEventsWith((lo, hi) => {
      for (let s = lo; s <= hi; s++) seen.push(s)
    })
    d.start()
    t.throws(
      () =>
        d.publishEvent(() => {
          throw new TypeError('fill failed')
        }),
      { instanceOf: TypeError, message: 'fill failed' },
    )
    d.publishEvent(() => {})
    await d.drain()
    t.deepEqual(seen, [0, 1])
    await d.close()
  })

  test(`${producer}: a handler sees every sequence exactly once, in order, with the values written`, async (t) => {
    const size = 16
    const total = 3000
    const d = new Disruptor({ size, slotSize: 16, producer })
    const f64 = new Float64Array(d.buffer) // made once over d.buffer
    let expected = 0
    let batches = 0
    const problems: string[] = []
    d.handleEventsWith((lo, hi) => {
      batches++
      if (lo !== expected || hi < lo) problems.push(`batch [${lo}, ${hi}] when ${expected} was expected`)
      for (let s = lo; s <= hi; s++) {
        const o = d.offset(s) / 8
        if (f64[o] !== s || f64[o + 1] !== valueAt(s)) {
          problems.push(`slot of ${s} holds ${f64[o]}/${f64[o + 1]}`)
        }
      }
      expected = hi + 1
    })
    d.start()
    let published = 0
    let chunk = 0
    while (published < total) {
      const n = Math.min(1 + (chunk++ % 5), total - published)
      const hi = await d.nextAsync(n)
      t.is(hi, published + n - 1)
      for (let s = hi - n + 1; s <= hi; s++) {
        const o = d.offset(s) / 8
        f64[o] = s
        f64[o + 1] = valueAt(s)
      }
      d.publish(hi - n + 1, hi)
      published += n
    }
    await d.drain()
    t.deepEqual(problems, [])
    t.is(expected, total, 'count of sequences seen')
    t.is(d.cursor, total - 1)
    const c = d.stats().consumers[0]
    t.is(c.sequence, total - 1)
    t.is(c.events, total)
    t.is(c.batches, batches)
    t.is(c.lag, 0)
    await d.close()
  })
}

test('multi: no consumers: cursor counts only published sequences', async (t) => {
  // With no gating consumer a multi-producer ring never fills, so claims may run more than a
  // ring ahead of what is published.
  const size = 8
  const d = new Disruptor({ size, slotSize: 8, producer: 'multi' })
  for (let i = 0; i < 5; i++) d.publish(d.next())
  t.is(d.cursor, 4)
  const claimed: number[] = []
  for (let i = 0; i < 12; i++) claimed.push(d.next())
  t.deepEqual(
    claimed,
    Array.from({ length: 12 }, (_, i) => 5 + i),
  )
  t.is(d.cursor, 4, 'sequences 5..16 are claimed, none published')
  d.publish(5, 10)
  t.is(d.cursor, 10)
  await d.close()
})

test('multi: a handler never sees a sequence published after a later one until the gap is published', async (t) => {
  const d = new Disruptor({ size: 16, slotSize: 8, producer: 'multi' })
  const seen: number[] = []
  d.handleEventsWith((lo, hi) => {
    for (let s = lo; s <= hi; s++) seen.push(s)
  })
  d.start()
  for (let round = 0; round < 50; round++) {
    const base = round * 3
    // three "producers" claim in order and publish in reverse order
    const a = await d.nextAsync()
    const b = await d.nextAsync()
    const c = await d.nextAsync()
    t.deepEqual([a, b, c], [base, base + 1, base + 2])
    d.publish(c)
    d.publish(b)
    for (let i = 0; i < 3; i++) await tick()
    t.is(d.cursor, base - 1, 'the cursor stops before the gap')
    t.is(seen.length, base, `round ${round}: nothing past the unpublished ${a} was delivered`)
    d.publish(a)
    await waitFor(() => seen.length === base + 3, `round ${round}: delivery after the gap was filled`)
  }
  t.deepEqual(
    seen,
    Array.from({ length: 150 }, (_, i) => i),
  )
  await d.close()
})

test('multi: two worker threads produce, the main thread sees each event once, in per-producer order', async (t) => {
  const size = 64
  const perProducer = 5000
  const d = new Disruptor({ size, slotSize: 16, producer: 'multi' })
  const f64 = new Float64Array(d.buffer)
  const next = [0, 0]
  let count = 0
  let expectedSeq = 0
  const problems: string[] = []
  d.handleEventsWith((lo, hi) => {
    if (lo !== expectedSeq) problems.push(`batch starts at ${lo}, expected ${expectedSeq}`)
    for (let s = lo; s <= hi; s++) {
      const o = d.offset(s) / 8
      const id = f64[o]
      const i = f64[o + 1]
      if (id !== 0 && id !== 1) {
        problems.push(`slot of ${s} holds producer ${id}`)
        continue
      }
      if (i !== next[id]) problems.push(`producer ${id}: got ${i}, expected ${next[id]}`)
      next[id] = i + 1
      count++
    }
    expectedSeq = hi + 1
  })
  d.start()
  const source = `
    const { parentPort, workerData } = require('node:worker_threads')
    const { Disruptor } = require(workerData.index)
    const d = Disruptor.attach(workerData.handle)
    const f64 = new Float64Array(d.buffer)
    let i = 0
    while (i < workerData.count) {
      const n = Math.min(1 + (i % 7), workerData.count - i)
      const hi = d.next(n)
      for (let s = hi - n + 1; s <= hi; s++) {
        const o = d.offset(s) / 8
        f64[o] = workerData.id
        f64[o + 1] = i++
      }
      d.publish(hi - n + 1, hi)
    }
    d.close().then(() => parentPort.postMessage('done'), (e) => parentPort.postMessage(String(e)))
  `
  const handle = d.share()
  const results = await Promise.all(
    [0, 1].map(
      (id) =>
        new Promise<string>((resolve, reject) => {
          const w = new Worker(source, {
            eval: true,
            execArgv: [],
            workerData: { index: join(__dirname, '..', 'dist', 'index.js'), handle, id, count: perProducer },
          })
          let message = 'exited without a message'
          w.on('message', (m: string) => (message = m))
          w.on('error', reject)
          w.on('exit', () => resolve(message))
        }),
    ),
  )
  t.deepEqual(results, ['done', 'done'])
  await d.drain()
  t.deepEqual(problems, [])
  t.is(count, 2 * perProducer)
  t.deepEqual(next, [perProducer, perProducer])
  t.is(d.cursor, 2 * perProducer - 1)
  await d.close()
})

test('a started handler gets an event published when nothing else keeps the process alive', (t) => {
  // A handler on the main thread is started; a timer publishes one event and the event loop
  // then has nothing else to do: the published event must still reach the handler before exit.
  const source = `
    const { Disruptor } = require(${JSON.stringify(join(__dirname, '..', 'dist', 'index.js'))})
    const d = new Disruptor({ size: 8, slotSize: 8 })
    const events = []
    d.handleEventsWith((lo, hi) => { events.push([lo, hi]) })
    d.start()
    setTimeout(() => d.publish(d.next()), 20)
    process.on('exit', () => console.log(JSON.stringify(events)))
  `
  const r = spawnSync(process.execPath, ['-e', source], { encoding: 'utf8', timeout: 10_000 })
  t.is(r.status, 0, r.stderr)
  t.deepEqual(JSON.parse(r.stdout.trim()), [[0, 0]])
})

// The publishing forms around next/publish: each claims, fills and publishes, and publishes
// what it claimed even when a fill throws.
for (const producer of PRODUCERS) {
  test(`${producer}: tryPublishEvent, publishEvents, tryPublishEvents and publishEventAsync deliver each event once, in order`, async (t) => {
    const d = new Disruptor({ size: 8, slotSize: 8, producer })
    const f64 = new Float64Array(d.buffer)
    const seen: number[] = []
    const p = d.poller()
    const drain = () =>
      p.poll((lo, hi) => {
        for (let s = lo; s <= hi; s++) seen.push(f64[d.offset(s) / 8])
      })
    const put = (offset: number, seq: number) => {
      f64[offset / 8] = valueAt(seq)
    }
    t.is(d.tryPublishEvent(put), 0)
    t.is(d.publishEvents(3, put), 3)
    t.is(d.tryPublishEvents(4, put), 7)
    // Full: nothing is claimed and fill is not called.
    let called = 0
    const counting = () => {
      called++
    }
    t.is(d.tryPublishEvent(counting), -1)
    t.is(d.tryPublishEvents(1, counting), -1)
    t.is(called, 0)
    t.is(d.cursor, 7)
    // publishEventAsync waits for room without blocking the event loop.
    const later = d.publishEventAsync(put)
    await tick()
    t.is(d.cursor, 7)
    drain()
    t.is(await later, 8)
    drain()
    t.deepEqual(
      seen,
      Array.from({ length: 9 }, (_, s) => valueAt(s)),
    )
    await d.close()
  })

  test(`${producer}: a fill that throws still publishes the whole claim, then the error propagates`, async (t) => {
    const d = new Disruptor({ size: 8, slotSize: 8, producer })
    const f64 = new Float64Array(d.buffer)
    const p = d.poller()
    const boom = new Error('boom')
    const fill = (offset: number, seq: number) => {
      if (seq === 1) throw boom
      f64[offset / 8] = valueAt(seq)
    }
    t.is(
      t.throws(() => d.publishEvents(3, fill)),
      boom,
    )
    t.is(d.cursor, 2)
    t.is(
      t.throws(() =>
        d.tryPublishEvent(() => {
          throw boom
        }),
      ),
      boom,
    )
    t.is(d.cursor, 3)
    await t.throwsAsync(
      d.publishEventAsync(() => {
        throw boom
      }),
      { is: boom },
    )
    t.is(d.cursor, 4)
    const batches: Array<[number, number]> = []
    p.poll((lo, hi) => {
      batches.push([lo, hi])
    })
    t.deepEqual(batches, [[0, 4]])
    t.is(f64[d.offset(0) / 8], valueAt(0))
    t.is(d.tryNext(), 5, 'nothing stayed claimed')
    d.halt()
  })

  test(`${producer}: publishing forms refuse bad input with coded errors and claim nothing`, async (t) => {
    const d = new Disruptor({ size: 8, slotSize: 8, producer })
    const fill = () => {}
    const cases: Array<[string, () => unknown, string]> = [
      ['tryPublishEvent(null)', () => d.tryPublishEvent(null as never), 'ERR_INVALID_ARG_TYPE'],
      ['publishEvents(2, 5)', () => d.publishEvents(2, 5 as never), 'ERR_INVALID_ARG_TYPE'],
      ['publishEvents(0, fill)', () => d.publishEvents(0, fill), 'ERR_INVALID_ARG_VALUE'],
      ['publishEvents(9, fill)', () => d.publishEvents(9, fill), 'ERR_INVALID_ARG_VALUE'],
      ['publishEvents(1.5, fill)', () => d.publishEvents(1.5, fill), 'ERR_INVALID_ARG_VALUE'],
      ['publishEvents(NaN, fill)', () => d.publishEvents(Number.NaN, fill), 'ERR_INVALID_ARG_VALUE'],
      ['publishEvents("2", fill)', () => d.publishEvents('2' as never, fill), 'ERR_INVALID_ARG_TYPE'],
      ['tryPublishEvents(-1, fill)', () => d.tryPublishEvents(-1, fill), 'ERR_INVALID_ARG_VALUE'],
    ]
    for (const [what, call, code] of cases) {
      const e = t.throws(call, undefined, what) as (Error & { code?: string }) | undefined
      t.is(e?.code, code, what)
    }
    const rejected = await t.throwsAsync(d.publishEventAsync(fill, { signal: 'x' as never }))
    t.is((rejected as Error & { code?: string }).code, 'ERR_INVALID_ARG_TYPE')
    const notFn = await t.throwsAsync(d.publishEventAsync(undefined as never))
    t.is((notFn as Error & { code?: string }).code, 'ERR_INVALID_ARG_TYPE')
    // An abort before room comes claims nothing.
    const p = d.poller()
    t.is(d.publishEvents(8, fill), 7)
    const ac = new AbortController()
    const aborted = d.publishEventAsync(fill, { signal: ac.signal })
    ac.abort()
    const e = await t.throwsAsync(aborted)
    t.is(e?.name, 'AbortError')
    t.is(
      p.poll(() => {}),
      'processing',
    )
    t.is(d.tryNext(), 8, 'the aborted call claimed nothing')
    d.halt()
  })
}

// Claims with a timeout: a consumer in a worker that is not polled keeps the ring full.
for (const producer of PRODUCERS) {
  test(`${producer}: next and nextAsync with a timeout fail with ERR_DISRUPTOR_TIMEOUT on a ring kept full, claim nothing, and succeed when room comes in time`, async (t) => {
    const d = new Disruptor({ size: 4, slotSize: 8, producer })
    const w = new WorkerProbe('claim-on-cue.js', { handle: d.share() })
    try {
      await w.type('ready')
      t.is((await ask(w, 'poller')).value, -1)
      for (let i = 0; i < 4; i++) d.publish(d.next())
      t.is(d.tryNext(), -1, 'full')
      const e = t.throws(() => d.next(1, { timeout: 20 })) as (Error & { code?: string }) | undefined
      t.is(e?.code, 'ERR_DISRUPTOR_TIMEOUT')
      t.is(t.throws(() => d.next(2, { timeout: 0 }))?.message, 'no room for 2 slot(s) within 0 ms')
      await t.throwsAsync(d.nextAsync(1, { timeout: 20 }), { code: 'ERR_DISRUPTOR_TIMEOUT' })
      await t.throwsAsync(d.nextAsync(1, { timeout: 0 }), { code: 'ERR_DISRUPTOR_TIMEOUT' })
      // Room in time: the worker's consumer catches up while this thread waits.
      t.is((await ask(w, 'poll')).value, 'processing')
      t.is(d.next(1, { timeout: 10_000 }), 4, 'nothing was claimed by the timed-out calls')
      d.publish(4)
      for (let s = 5; s < 8; s++) d.publish(d.next())
      const later = d.nextAsync(1, { timeout: 10_000 })
      await ask(w, 'pollAfter', 20)
      t.is(await later, 8)
      d.publish(8)
      for (let s = 9; s < 12; s++) d.publish(d.next())
      await ask(w, 'pollAfter', 20)
      t.is(d.next(1, { timeout: 10_000 }), 12, 'a blocking next waits for room within its timeout')
      d.publish(12)
    } finally {
      await w.worker.terminate()
      d.halt()
    }
  })

  test(`${producer}: claim timeouts refuse bad values with coded errors and claim nothing`, async (t) => {
    const d = new Disruptor({ size: 4, slotSize: 8, producer })
    const cases: Array<[string, unknown, string]> = [
      ['timeout -1', { timeout: -1 }, 'ERR_INVALID_ARG_VALUE'],
      ['timeout NaN', { timeout: Number.NaN }, 'ERR_INVALID_ARG_VALUE'],
      ['timeout "5"', { timeout: '5' }, 'ERR_INVALID_ARG_TYPE'],
      ['timeout null', { timeout: null }, 'ERR_INVALID_ARG_TYPE'],
      ['options null', null, 'ERR_INVALID_ARG_TYPE'],
      ['options 5', 5, 'ERR_INVALID_ARG_TYPE'],
    ]
    for (const [what, options, code] of cases) {
      const e = t.throws(() => d.next(1, options as never), undefined, what) as (Error & { code?: string }) | undefined
      t.is(e?.code, code, `next: ${what}`)
      const rejected = (await t.throwsAsync(d.nextAsync(1, options as never))) as Error & { code?: string }
      t.is(rejected?.code, code, `nextAsync: ${what}`)
    }
    t.is(d.next(), 0, 'nothing was claimed')
    t.is(d.next(1, { timeout: Number.POSITIVE_INFINITY }), 1)
    t.is(d.next(1, {}), 2)
    d.halt()
  })
}

test("with the 'timeout-blocking' strategy, claims waiting for room outlast its timeouts (nextAsync and next)", async (t) => {
  const d = new Disruptor({ size: 4, slotSize: 8, waitStrategy: { type: 'timeout-blocking', timeoutMs: 2 } })
  const w = new WorkerProbe('claim-on-cue.js', { handle: d.share() })
  try {
    await w.type('ready')
    await ask(w, 'poller')
    for (let i = 0; i < 4; i++) d.publish(d.next())
    const waiting = d.nextAsync()
    await ask(w, 'pollAfter', 60)
    t.is(await waiting, 4, 'nextAsync waited through several of the strategy timeouts')
    d.publish(4)
    for (let s = 5; s < 8; s++) d.publish(d.next())
    await ask(w, 'pollAfter', 60)
    t.is(d.next(), 8, 'so did a blocking next')
    d.publish(8)
  } finally {
    await w.worker.terminate()
    d.halt()
  }
})

test('nextAsync with a timeout above 2**31 - 1 ms waits for room (it is not cut short by the timer limit)', async (t) => {
  const d = new Disruptor({ size: 4, slotSize: 8 })
  const w = new WorkerProbe('claim-on-cue.js', { handle: d.share() })
  try {
    await w.type('ready')
    await ask(w, 'poller')
    for (let i = 0; i < 4; i++) d.publish(d.next())
    let settled = 'pending'
    const later = d.nextAsync(1, { timeout: 3e9 }).then(
      (hi) => {
        settled = `claimed ${hi}`
        return hi
      },
      (e) => {
        settled = e.code
        throw e
      },
    )
    await sleep(50)
    t.is(settled, 'pending')
    await ask(w, 'poll')
    t.is(await later, 4)
  } finally {
    await w.worker.terminate()
    d.halt()
  }
})
