import test from 'ava'

import { Dispatcher } from '../src'
import { WorkerProbe } from './helpers'

// Named channels over one ring: producers on several threads, routes on several threads,
// subscribe and unsubscribe at run time, join, per-channel figures, coded errors.

const text = (view: Uint8Array) => Buffer.from(view).toString()

/** What a 'produce' worker emits per producer, by channel (see fixtures/channel-worker.js). */
function expected(tag: string, producers: number, count: number): Record<string, string[]> {
  const out: Record<string, string[]> = { a: [], b: [], completed: [] }
  for (let p = 0; p < producers; p++) {
    for (let i = 0; i < count; ) {
      if (i % 4 === 3 && i + 16 <= count) {
        for (let k = 0; k < 16; k++) out.a.push(`${tag}:${p}:${i + k}`)
        i += 16
      } else {
        out[i % 2 === 0 ? 'a' : 'b'].push(`${tag}:${p}:${i}`)
        i++
      }
    }
    out.completed.push(`${tag}:${p}`)
  }
  return out
}

/** `got` holds exactly `want`'s messages, and each producer's in its order. */
function sameByProducer(got: string[], want: string[]): boolean {
  const split = (list: string[]) => {
    const by = new Map<string, string[]>()
    for (const m of list) {
      const key = m.split(':').slice(0, 2).join(':')
      by.set(key, [...(by.get(key) ?? []), m])
    }
    return [...by.entries()].sort(([x], [y]) => (x < y ? -1 : 1))
  }
  return JSON.stringify(split(got)) === JSON.stringify(split(want))
}

test('producers on two worker threads and this one: every message reaches the routes of its channel once, in order per producer; join waits for all', async (t) => {
  const d = new Dispatcher({ size: 256, slotSize: 16, channels: ['a', 'b', 'completed'] })
  const got: Record<string, string[]> = { a: [], b: [], completed: [] }
  const kinds = new Set<string>()
  const order: string[] = []
  for (const channel of ['a', 'b', 'completed']) {
    d.route(channel, (view, _seq, kind, name) => {
      t.is(name, channel)
      kinds.add(kind)
      got[channel].push(text(view))
      order.push(text(view))
    })
  }
  // A second route on 'b' (same thread) and one on another thread.
  const alsoB: string[] = []
  d.route('b', (view) => {
    alsoB.push(text(view))
  })
  const router = new WorkerProbe('channel-worker.js', { handle: d.share(), role: 'route', channel: 'b' })
  await router.type('ready')
  const workers = ['w0', 'w1'].map(
    (tag) =>
      new WorkerProbe('channel-worker.js', { handle: d.share(), role: 'produce', tag, producers: 3, count: 700 }),
  )
  for (const w of workers) await w.type('registered')
  // Producers on this thread must not block it (its routes run here): the async forms.
  for (let p = 0; p < 2; p++) {
    d.register(async (r) => {
      for (let i = 0; i < 300; i++) {
        if (i % 50 === 49) await r.batchAsync('a', [`m:${p}:${i}:x`, `m:${p}:${i}:y`])
        else await r.emitAsync(i % 2 === 0 ? 'a' : 'b', `m:${p}:${i}`)
      }
    })
  }
  await d.join()

  const want = expected('w0', 3, 700)
  const want1 = expected('w1', 3, 700)
  const mine: Record<string, string[]> = { a: [], b: [] }
  for (let p = 0; p < 2; p++) {
    for (let i = 0; i < 300; i++) {
      if (i % 50 === 49) mine.a.push(`m:${p}:${i}:x`, `m:${p}:${i}:y`)
      else mine[i % 2 === 0 ? 'a' : 'b'].push(`m:${p}:${i}`)
    }
  }
  t.true(sameByProducer(got.a, [...want.a, ...want1.a, ...mine.a]))
  t.true(sameByProducer(got.b, [...want.b, ...want1.b, ...mine.b]))
  t.true(sameByProducer(got.completed, [...want.completed, ...want1.completed]))
  t.deepEqual(alsoB, got.b)
  t.deepEqual([...kinds].sort(), ['bytes', 'text'])
  // Each producer's 'completed' comes after all its other messages (one ring: one order).
  for (const tag of ['w0', 'w1']) {
    for (let p = 0; p < 3; p++) {
      const done = order.indexOf(`${tag}:${p}`)
      const last = Math.max(order.indexOf(`${tag}:${p}:699`), order.indexOf(`${tag}:${p}:698`))
      t.true(done > last && last > 0)
    }
  }
  for (const w of workers) t.is(await w.exitWithin(), 0)
  router.worker.postMessage('report')
  const report = await router.type('report')
  t.deepEqual(report.got, got.b)
  t.is(await router.exitWithin(), 0)

  const m = d.metrics()
  t.is(m.channels.a.events, got.a.length)
  t.is(m.channels.a.delivered, got.a.length)
  t.is(m.channels.b.events, got.b.length)
  // Two threads routed 'b' (the worker's figures are flushed by its close).
  t.is(m.channels.b.delivered, 2 * got.b.length)
  t.is(m.channels.completed.events, 6)
  t.is(m.channels.a.subscribers, 1)
  t.is(m.channels.b.subscribers, 2)
  t.is(m.totalEvents, got.a.length + got.b.length + 6)
  t.is(m.errors, 0)
  t.true(m.started instanceof Date && m.stopped instanceof Date && m.elapsedMs > 0)
  t.true(m.eventsPerSecond > 0 && m.channels.a.nsPerEvent > 0)
  await d.close()
})

test('subscribe and unsubscribe at run time, here and from another thread; a channel declared by a worker', async (t) => {
  const d = new Dispatcher({ size: 64, slotSize: 16, channels: ['x'] })
  const seen: string[] = []
  const sub = d.route('x', (view) => {
    seen.push(text(view))
  })
  await sub.ready
  for (let i = 0; i < 5; i++) await d.emitAsync('x', `before:${i}`)
  await d.join()
  t.deepEqual(seen, ['before:0', 'before:1', 'before:2', 'before:3', 'before:4'])
  t.is(d.metrics().channels.x.subscribers, 1)
  await sub.unsubscribe()
  t.is(await sub.unsubscribe(), undefined) // twice: no-op
  t.is(d.metrics().channels.x.subscribers, 0)
  // No route anywhere: the ring has no consumer, emits never wait, nothing is delivered.
  for (let i = 0; i < 200; i++) d.emit('x', `unrouted:${i}`)
  await d.join()
  t.is(seen.length, 5)
  const again = d.route('x', (view) => {
    seen.push(text(view))
  })
  await again.ready
  await d.emitAsync('x', 'after')
  await d.join()
  t.deepEqual(seen.slice(5), ['after'])
  t.is(d.metrics().channels.x.events, 206)
  t.is(d.metrics().channels.x.delivered, 6)

  // A worker declares 'fresh' and routes it; this thread sees the name and emits to it.
  t.throws(() => d.emit('fresh', 'too early'), { code: 'ERR_DISRUPTOR_UNKNOWN_CHANNEL' })
  const w = new WorkerProbe('channel-worker.js', { handle: d.share(), role: 'route', channel: 'fresh' })
  await w.type('ready')
  t.true(d.channels.includes('fresh'))
  for (let i = 0; i < 50; i++) await d.emitAsync('fresh', `f${i}`)
  await d.join()
  w.worker.postMessage('report')
  const report = await w.type('report')
  t.deepEqual(
    report.got,
    Array.from({ length: 50 }, (_, i) => `f${i}`),
  )
  t.is(await w.exitWithin(), 0)
  await again.unsubscribe()
  await d.close()
})

test('a route that throws or rejects: to onError with its channel and sequence, the others go on; without onError join rejects', async (t) => {
  const errors: [string, string, number][] = []
  const d = new Dispatcher({
    size: 32,
    channels: ['ok', 'bad'],
    onError: (e, where) => errors.push([(e as Error).message, where.channel, where.seq]),
  })
  const ok: string[] = []
  d.route('ok', (view) => {
    ok.push(text(view))
  })
  d.route('bad', async (view) => {
    await new Promise((r) => setTimeout(r, 1))
    if (text(view) === 'reject') throw new Error('rejected')
  })
  d.route('bad', (view) => {
    if (text(view) === 'throw') throw new Error('thrown')
  })
  await d.emitAsync('ok', '1')
  const s1 = await d.emitAsync('bad', 'throw')
  await d.emitAsync('ok', '2')
  const s2 = await d.emitAsync('bad', 'reject')
  await d.emitAsync('ok', '3')
  await d.join()
  t.deepEqual(ok, ['1', '2', '3'])
  t.deepEqual(errors, [
    ['thrown', 'bad', s1],
    ['rejected', 'bad', s2],
  ])
  t.is(d.metrics().channels.bad.errors, 2)
  await d.close()

  const strict = new Dispatcher({ size: 32, channels: ['c'] })
  strict.route('c', () => {
    throw new Error('boom')
  })
  await strict.emitAsync('c', 'x')
  await t.throwsAsync(strict.join(), { code: 'ERR_DISRUPTOR_CONSUMER_HALTED' })
  strict.close().catch(() => {})
})

test('async routes hold the messages after them, in order', async (t) => {
  const d = new Dispatcher({ size: 16, channels: ['q'] })
  const order: string[] = []
  d.route('q', async (view) => {
    const m = text(view)
    await new Promise((r) => setTimeout(r, m === '0' ? 10 : 0))
    order.push(m)
  })
  for (let i = 0; i < 40; i++) await d.emitAsync('q', `${i}`)
  await d.join()
  t.deepEqual(
    order,
    Array.from({ length: 40 }, (_, i) => `${i}`),
  )
  await d.close()
})

test('register: a producer that throws makes join reject once; close stops producers (signal aborted, stop called)', async (t) => {
  const d = new Dispatcher({ size: 64, channels: ['p'] })
  let delivered = 0
  d.route('p', () => {
    delivered++
  })
  d.register(async (r) => {
    await r.emitAsync('p', 'one')
    throw new Error('producer failed')
  })
  await t.throwsAsync(d.join(), { message: 'producer failed' })
  await d.join() // the error was reported once
  t.is(delivered, 1)

  let stopped = false
  let aborted = false
  d.register({
    async start(r, signal) {
      while (!stopped) await r.emitAsync('p', 'tick', { signal }).catch(() => {})
    },
    stop() {
      stopped = true
    },
  })
  d.register(async (_r, signal) => {
    await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve()))
    aborted = true
  })
  await new Promise((r) => setTimeout(r, 20))
  await d.close()
  t.true(stopped)
  t.true(aborted)
  t.true(delivered > 1)
  t.is(d.metrics().channels.p.delivered, delivered)
  t.throws(() => d.route('p', () => {}), { code: 'ERR_DISRUPTOR_CLOSED' })
  t.throws(() => d.register(() => {}), { code: 'ERR_DISRUPTOR_CLOSED' })
})

test('bad input: coded errors, nothing emitted, the dispatcher still works', async (t) => {
  const d = new Dispatcher({ size: 16, slotSize: 8, channels: ['ok'] })
  const got: string[] = []
  d.route('ok', (view) => {
    got.push(text(view))
  })
  const cases: [string, () => unknown, string][] = [
    ['emit to an unknown channel', () => d.emit('nope', 'x'), 'ERR_DISRUPTOR_UNKNOWN_CHANNEL'],
    ['tryEmit to an unknown channel', () => d.tryEmit('nope', 'x'), 'ERR_DISRUPTOR_UNKNOWN_CHANNEL'],
    ['batch to an unknown channel', () => d.batch('nope', ['x']), 'ERR_DISRUPTOR_UNKNOWN_CHANNEL'],
    ['route an unknown channel', () => d.route('nope', () => {}), 'ERR_DISRUPTOR_UNKNOWN_CHANNEL'],
    ['a channel name that is not a string', () => d.emit(7 as never, 'x'), 'ERR_INVALID_ARG_TYPE'],
    ['declare a number', () => d.channel(7 as never), 'ERR_INVALID_ARG_TYPE'],
    ['declare an empty name', () => d.channel(''), 'ERR_INVALID_ARG_VALUE'],
    ['declare a name of 65 bytes', () => d.channel(`${'é'.repeat(32)}x`), 'ERR_INVALID_ARG_VALUE'],
    ['a message too long', () => d.emit('ok', 'x'.repeat(d.maxMessageBytes + 1)), 'ERR_OUT_OF_RANGE'],
    ['a message that is not bytes', () => d.emit('ok', { a: 1 } as never), 'ERR_INVALID_ARG_TYPE'],
    ['a batch with one bad item', () => d.batch('ok', ['fine', 42 as never]), 'ERR_INVALID_ARG_TYPE'],
    ['a batch with one item too long', () => d.batch('ok', ['fine', 'y'.repeat(100)]), 'ERR_OUT_OF_RANGE'],
    ['a batch that is not an array', () => d.batch('ok', 'abc' as never), 'ERR_INVALID_ARG_TYPE'],
    ['a route that is not a function', () => d.route('ok', 'f' as never), 'ERR_INVALID_ARG_TYPE'],
    ['a producer that is not one', () => d.register({} as never), 'ERR_INVALID_ARG_TYPE'],
    ['a stop that is not a function', () => d.register({ start() {}, stop: 1 } as never), 'ERR_INVALID_ARG_TYPE'],
    ['attach a stranger', () => Dispatcher.attach({ kind: 'x' } as never), 'ERR_INVALID_ARG_VALUE'],
    ['options not an object', () => new Dispatcher(5 as never), 'ERR_INVALID_ARG_TYPE'],
    ['channels not an array', () => new Dispatcher({ channels: 'a' as never }), 'ERR_INVALID_ARG_TYPE'],
    ['onError not a function', () => new Dispatcher({ onError: 1 as never }), 'ERR_INVALID_ARG_TYPE'],
    ['a bad ring size', () => new Dispatcher({ size: 3 }), 'ERR_INVALID_ARG_VALUE'],
  ]
  for (const [what, call, code] of cases) t.throws(call, { code }, what)
  await t.throwsAsync(d.emitAsync('nope', 'x'), { code: 'ERR_DISRUPTOR_UNKNOWN_CHANNEL' })
  await t.throwsAsync(d.batchAsync('ok', [null as never]), { code: 'ERR_INVALID_ARG_TYPE' })
  await t.throwsAsync(d.join({ timeout: -1 }), { code: 'ERR_INVALID_ARG_VALUE' })
  t.is(d.metrics().totalEvents, 0)
  t.deepEqual(d.channels, ['ok'])
  // Still usable; a long batch is split into claims of at most half the ring.
  await d.emitAsync('ok', 'after')
  await d.batchAsync(
    'ok',
    Array.from({ length: 20 }, (_, i) => `b${i}`),
  )
  await d.join()
  const z = d.tryEmit('ok', 'z')
  t.is(d.tryEmit('ok', 'z'), z + 2) // a 1-byte message and its header take two 8-byte slots
  await d.join()
  t.deepEqual(got, ['after', ...Array.from({ length: 20 }, (_, i) => `b${i}`), 'z', 'z'])
  t.is(d.metrics().channels.ok.events, 23)
  await d.close()

  const full = new Dispatcher({ size: 16 })
  for (let i = 0; i < 1024; i++) full.channel(`c${i}`)
  t.throws(() => full.channel('one more'), { code: 'ERR_DISRUPTOR_TOO_MANY_CHANNELS' })
  t.is(full.channel('c5').channels.length, 1024)
  await full.close()
})
