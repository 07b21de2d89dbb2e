/**
 * ProcessRing's share of the thread API: messages (`write`, `tryWrite`, `writeAsync`,
 * `eachMessage`) between real processes and in one; batches of events (`publishEvents`,
 * `tryPublishEvents`, `publishEventAsync`) and typed ones (`emitEvents`, `tryEmitEvent`,
 * `emitEventAsync`); callback consumers (`handleEventsWith`, `start`) and `drain()` over every
 * consumer of every process; with their coded errors.
 */

import { spawnSync } from 'node:child_process'
import { resolve } from 'node:path'

import test from 'ava'

import { Disruptor, defineEvent, ProcessRing } from '../dist/index.js'
import { killPeers, Peer, RUST_PEER } from './peer'

test.afterEach.always(killPeers)

let names = 0
/** A ring name of this test run, removed when the test ends. */
function named(t: { teardown(f: () => void): void }, what: string): string {
  const name = `spec-msg-${what}-${process.pid}-${names++}`
  t.teardown(() => {
    try {
      ProcessRing.unlink(name)
    } catch {}
  })
  return name
}

type Got = [seq: number, kind: string, text: string]

/** Everything `c` has now, as messages. */
function drain(ring: ProcessRing, c: ReturnType<ProcessRing['consumer']>): Got[] {
  const got: Got[] = []
  const decoder = new TextDecoder()
  while (
    c.poll((lo, hi) => ring.eachMessage(lo, hi, (view, seq, kind) => got.push([seq, kind, decoder.decode(view)]))) ===
    'processing'
  ) {}
  return got
}

for (const producer of ['multi', 'single'] as const) {
  test(`messages in one process (${producer} producer): text and bytes in place, padding at the ring's end, a full ring, bad input`, async (t) => {
    const ring = ProcessRing.create({ name: named(t, producer), size: 16, slotSize: 8, producer })
    const c = ring.consumer('c')
    t.is(ring.maxMessageBytes, 8 * 8 - 12)
    t.is(ring.write('hi'), 0, 'a 2-byte message and its header: 2 slots')
    t.is(ring.write(Buffer.from('0123456789')), 2, '3 slots')
    t.is(ring.write(new Float64Array([1.5]).buffer), 5, 'an ArrayBuffer: bytes')
    t.is(await ring.writeAsync(new Uint16Array([0x6b6f])), 8, 'a typed array: its bytes')
    const first = drain(ring, c)
    t.deepEqual(
      first.map(([seq, kind]) => [seq, kind]),
      [
        [0, 'text'],
        [2, 'bytes'],
        [5, 'bytes'],
        [8, 'bytes'],
      ],
    )
    t.is(first[0][2], 'hi')
    t.is(first[1][2], '0123456789')
    t.is(first[3][2], 'ok')
    // A 5-slot message takes slots 10..14; a 6-slot one claimed from 15 would wrap around the
    // ring's end, so that claim (15..20) is published as padding and the message claimed again
    // at 21, where it is whole in memory.
    const mid = 'é'.repeat(14) // 28 bytes + 12: 5 slots
    const long = 'é'.repeat(18) // 36 bytes + 12: 6 slots
    t.is(ring.write(mid), 10)
    t.deepEqual(drain(ring, c), [[10, 'text', mid]])
    t.is(ring.write(long), 21)
    t.deepEqual(drain(ring, c), [[21, 'text', long]])
    // Bad input is refused before anything is claimed.
    const before = ring.stats().cursor
    t.throws(() => ring.write(42 as never), { code: 'ERR_INVALID_ARG_TYPE' })
    t.throws(() => ring.write('x'.repeat(ring.maxMessageBytes + 1)), { code: 'ERR_OUT_OF_RANGE' })
    t.throws(() => ring.eachMessage(0, 1, 'no' as never), { code: 'ERR_INVALID_ARG_TYPE' })
    t.throws(() => ring.eachMessage(-1, 1, () => {}), { code: 'ERR_INVALID_ARG_VALUE' })
    t.throws(() => ring.eachMessage(0, 16, () => {}), { code: 'ERR_INVALID_ARG_VALUE' }, 'longer than a ring')
    t.is(ring.stats().cursor, before)
    // Full: tryWrite says so and writes nothing; the consumer frees the room.
    let written = 0
    while (ring.tryWrite('abcd') >= 0) written++
    t.is(written, 7, '16 slots from 27: seven 2-slot messages and one padding (a claim from 31 would wrap)')
    t.is(ring.tryWrite('abcd'), -1)
    t.is(drain(ring, c).length, 7)
    t.true(ring.tryWrite('abcd') >= 0)
    ring.close()
  })
}

test('messages need a ring of byte slots', (t) => {
  const Tick = defineEvent({ price: 'f64' })
  const ring = ProcessRing.create({ name: named(t, 'typed'), size: 8, event: Tick })
  t.throws(() => ring.write('x'), { code: 'ERR_DISRUPTOR_HAS_EVENT_LAYOUT' })
  t.throws(() => ring.eachMessage(0, 0, () => {}), { code: 'ERR_DISRUPTOR_HAS_EVENT_LAYOUT' })
  ring.close()
})

test('an async message visitor holds the messages after it, and the batch with them', async (t) => {
  const ring = ProcessRing.create({ name: named(t, 'async'), size: 16, slotSize: 16 })
  const c = ring.consumer('c')
  for (const m of ['a', 'b', 'c']) ring.write(m)
  ring.closeIntake()
  const seen: string[] = []
  const decoder = new TextDecoder()
  await c.run((lo, hi) =>
    ring.eachMessage(lo, hi, async (view) => {
      const text = decoder.decode(view)
      await new Promise((r) => setTimeout(r, 5))
      seen.push(text)
    }),
  )
  t.deepEqual(seen, ['a', 'b', 'c'])
  t.is(c.sequence, 2)
  ring.close()
})

test.serial(
  'three producer processes write messages, two consumer processes get each exactly once, in order',
  async (t) => {
    const name = named(t, '3p2c')
    const ring = ProcessRing.create({ name, size: 256, slotSize: 16 })
    const consumers = ['a', 'b'].map((who) => Peer.fixture('process-messages.js', 'consume', name, who))
    for (const c of consumers) await c.line('joined')
    const EACH = 4000
    const producers = [1, 2, 3].map((id) =>
      Peer.fixture('process-messages.js', 'produce', name, String(id), String(EACH)),
    )
    for (const p of producers) t.is(await p.finish(), undefined)
    ring.closeIntake()
    for (const c of consumers) t.deepEqual(await c.finish(), { events: 3 * EACH, per: { 1: EACH, 2: EACH, 3: EACH } })
    const s = ring.stats()
    t.is(s.abandoned, 0)
    ring.close()
  },
)

test.serial(
  'messages between Rust and Node processes: a Rust and a Node producer, a Node and a Rust consumer, every message once, in order',
  async (t) => {
    const built = spawnSync('cargo', ['build', '-q', '-p', 'disruptor-core', '--bin', 'disruptor-shm-peer'], {
      cwd: resolve(__dirname, '..'),
      stdio: 'inherit',
    })
    t.is(built.status, 0, 'cargo build of the Rust peer')
    for (const slotSize of [8, 40]) {
      const name = named(t, `rust-${slotSize}`)
      const ring = new Disruptor({ name, size: 128, slotSize })
      const consumers = [
        Peer.fixture('process-messages.js', 'consume', name, 'node'),
        Peer.rust('consume-messages', name, 'rust'),
      ]
      for (const c of consumers) await c.line('joined')
      const EACH = 3000
      const producers = [
        Peer.rust('produce-messages', name, '1', String(EACH)),
        Peer.fixture('process-messages.js', 'produce', name, '2', String(EACH)),
      ]
      for (const p of producers) t.is(await p.finish(), undefined)
      ring.closeIntake()
      for (const c of consumers)
        t.deepEqual(await c.finish(), { events: 2 * EACH, per: { 1: EACH, 2: EACH } }, `slots of ${slotSize}`)
      ring.close()
    }
    t.true(RUST_PEER.length > 0)
  },
)

for (const producer of ['multi', 'single'] as const) {
  test(`batches of events (${producer} producer): one claim, a fill that throws abandons all of it`, async (t) => {
    const ring = ProcessRing.create({ name: named(t, `batch-${producer}`), size: 8, slotSize: 8, producer })
    const f64 = new Float64Array(ring.buffer)
    const c = ring.consumer('c')
    const got: number[] = []
    const take = (lo: number, hi: number) => {
      for (let s = lo; s <= hi; s++) got.push(f64[ring.offset(s) / 8])
    }
    const put = (at: number, seq: number) => {
      f64[at / 8] = seq * 10
    }
    t.is(ring.publishEvents(3, put), 2)
    t.throws(
      () =>
        ring.publishEvents(2, (at, seq) => {
          if (seq === 4) throw new Error('fill failed')
          put(at, seq)
        }),
      { message: 'fill failed' },
    )
    const next = producer === 'multi' ? 5 : 3 // a single producer claims abandoned sequences again
    t.is(await ring.publishEventAsync(put), next)
    t.is(ring.tryPublishEvents(8, put), -1, 'not room for 8: nothing claimed, fill not called')
    t.is(c.poll(take), 'processing')
    t.deepEqual(got, [0, 10, 20, next * 10], 'the abandoned claim was never delivered')
    t.is(ring.stats().abandoned, producer === 'multi' ? 2 : 0)
    t.is(ring.tryPublishEvents(2, put), next + 2)
    for (const bad of [0, 9, 1.5]) t.throws(() => ring.publishEvents(bad, put), { code: 'ERR_INVALID_ARG_VALUE' })
    t.throws(() => ring.publishEvents(1, 'no' as never), { code: 'ERR_INVALID_ARG_TYPE' })
    ring.close()
  })
}

test('typed events: emitEvents in one claim, tryEmitEvent on a full ring, emitEventAsync; bad input claims nothing', async (t) => {
  const Trade = defineEvent({ price: 'f64', qty: 'u32', symbol: { utf8: 8 } })
  const ring = ProcessRing.create({ name: named(t, 'typed-batch'), size: 4, event: Trade })
  const c = ring.consumer('c')
  t.is(
    ring.emitEvents([
      { price: 1.5, qty: 1, symbol: 'A' },
      { price: 2.5, qty: 2, symbol: 'B' },
    ]),
    1,
  )
  t.is(await ring.emitEventAsync({ price: 3.5, qty: 3, symbol: 'C' }), 2)
  t.throws(() => ring.emitEvents([{ price: 4.5 }, { qty: -1 }]), { code: 'ERR_OUT_OF_RANGE' })
  t.throws(() => ring.emitEvents('no' as never), { code: 'ERR_INVALID_ARG_TYPE' })
  t.throws(() => ring.emitEvents([]), { code: 'ERR_INVALID_ARG_VALUE' })
  t.is(ring.stats().cursor, 2, 'nothing claimed by the refused calls')
  t.is(ring.tryEmitEvent({ price: 4.5, qty: 4, symbol: 'D' }), 3)
  t.is(ring.tryEmitEvent({ price: 5.5, qty: 5, symbol: 'E' }), -1, 'full')
  const got: unknown[] = []
  c.poll((lo, hi) => {
    for (let s = lo; s <= hi; s++) got.push(ring.read(s))
  })
  t.deepEqual(got, [
    { price: 1.5, qty: 1, symbol: 'A' },
    { price: 2.5, qty: 2, symbol: 'B' },
    { price: 3.5, qty: 3, symbol: 'C' },
    { price: 4.5, qty: 4, symbol: 'D' },
  ])
  ring.close()
})

test('handleEventsWith: callback consumers on this event loop from start(), in order, in slices of maxBatchSize; drain() waits for them', async (t) => {
  const ring = new Disruptor({ name: named(t, 'handlers'), size: 64, slotSize: 8 })
  const f64 = new Float64Array(ring.buffer)
  const seen: number[] = []
  const sliced: number[] = []
  const calls: string[] = []
  const [a, b] = ring.handleEventsWith(
    (lo, hi) => {
      for (let s = lo; s <= hi; s++) seen.push(f64[ring.offset(s) / 8])
    },
    {
      name: 'sliced',
      maxBatchSize: 7,
      onStart: () => calls.push('start'),
      onShutdown: () => calls.push('shutdown'),
      onBatch: async (lo, hi) => {
        t.true(hi - lo < 7)
        await new Promise((r) => setImmediate(r))
        for (let s = lo; s <= hi; s++) sliced.push(f64[ring.offset(s) / 8])
      },
    },
  )
  t.is(b.name, 'sliced')
  t.regex(a.name, /^consumer-\d+-\d+$/)
  t.deepEqual(
    ring
      .stats()
      .consumers.map((c) => c.name)
      .sort(),
    [a.name, 'sliced'].sort(),
  )
  ring.publishEvents(5, (at, seq) => {
    f64[at / 8] = seq
  })
  await t.throwsAsync(ring.drain(), { code: 'ERR_DISRUPTOR_NOT_STARTED' })
  ring.start()
  t.deepEqual(calls, ['start'])
  const total = 1000
  for (let i = 5; i < total; i++) await ring.publishEventAsync((at) => (f64[at / 8] = i))
  await ring.drain({ timeout: 10_000 })
  const expected = Array.from({ length: total }, (_, i) => i)
  t.deepEqual(seen, expected)
  t.deepEqual(sliced, expected)
  // A handler added after start() runs at once.
  const late: number[] = []
  ring.handleEventsWith((lo, hi) => {
    for (let s = lo; s <= hi; s++) late.push(s)
  })
  ring.publishEvents(3, () => {})
  await ring.drain({ timeout: 10_000 })
  t.deepEqual(late, [total, total + 1, total + 2])
  ring.close()
  await new Promise((r) => setTimeout(r, 250)) // a wait slice: the loops see the close
  t.deepEqual(calls, ['start', 'shutdown'])
})

test('handleEventsWith: bad handlers register nothing; a handler that throws leaves the ring and drain() rejects with its error', async (t) => {
  const ring = ProcessRing.create({ name: named(t, 'handler-fails'), size: 8, slotSize: 8 })
  t.throws(() => ring.handleEventsWith(), { code: 'ERR_INVALID_ARG_VALUE' })
  t.throws(() => ring.handleEventsWith(() => {}, 42 as never), { code: 'ERR_INVALID_ARG_TYPE' })
  t.throws(() => ring.handleEventsWith({ onBatch: () => {}, onTimeout: () => {} } as never), {
    code: 'ERR_INVALID_ARG_VALUE',
    message: /'onTimeout' is not a handler option/,
  })
  t.throws(() => ring.handleEventsWith({ onBatch: () => {}, onError: 'retry' as never }), {
    code: 'ERR_INVALID_ARG_VALUE',
  })
  t.throws(() => ring.handleEventsWith({ onBatch: () => {}, onError: 'rewind', maxRewinds: -1 }), {
    code: 'ERR_INVALID_ARG_VALUE',
  })
  t.throws(() => ring.handleEventsWith({ onBatch: () => {}, maxBatchSize: 0 }), { code: 'ERR_INVALID_ARG_VALUE' })
  t.throws(() => ring.handleEventsWith({ onBatch: 'no' } as never), { code: 'ERR_INVALID_ARG_TYPE' })
  t.is(ring.stats().consumers.length, 0, 'nothing registered')
  const boom = new Error('handler failed')
  ring.handleEventsWith({
    name: 'fails',
    onBatch: () => {
      throw boom
    },
  })
  ring.start()
  ring.publishEvent(() => {})
  const e = await t.throwsAsync(ring.drain({ timeout: 10_000 }), { code: 'ERR_DISRUPTOR_CONSUMER_HALTED' })
  t.is(e?.cause, boom)
  t.is(ring.stats().consumers.length, 0, 'the failed consumer left the ring: it gates nobody')
  await t.throwsAsync(ring.drain({ timeout: -1 }), { code: 'ERR_INVALID_ARG_VALUE' })
  ring.close()
})

test.serial(
  'drain() waits for consumers of other processes, and names the ones behind when it times out',
  async (t) => {
    const name = named(t, 'drain-procs')
    const ring = new Disruptor({ name, size: 64, slotSize: 24 })
    const steady = Peer.js('consume', name, 'steady')
    const stalling = Peer.js('consume', name, 'stalling', '--stall-after', '100')
    await steady.line('joined')
    await stalling.line('joined')
    const producer = Peer.js('produce', name, '1', '2000', '--batch', '4')
    await stalling.line('stalled ')
    const e = await t.throwsAsync(ring.drain({ timeout: 200 }), { code: 'ERR_DISRUPTOR_TIMEOUT' })
    t.regex(e?.message ?? '', /'stalling' \(pid \d+\)/)
    t.notRegex(e?.message ?? '', /'steady'/)
    await stalling.kill()
    t.is(await producer.finish(), undefined)
    await ring.drain({ timeout: 20_000 }) // the dead consumer is not waited for
    t.is(ring.stats().consumers.find((c) => c.name === 'steady')?.sequence, ring.stats().cursor)
    ring.closeIntake()
    t.deepEqual(await steady.finish(), { events: 2000, per: { 1: 2000 } })
    ring.close()
  },
)

test('after: a diamond of callback consumers (a and b, then c after both) and a poller after c; none passes its upstream', async (t) => {
  const ring = new Disruptor({ name: named(t, 'diamond'), size: 32, slotSize: 8 })
  const f64 = new Float64Array(ring.buffer)
  const done = { a: -1, b: -1 }
  const order: string[] = []
  let violations = 0
  const [a, b] = ring.handleEventsWith(
    {
      name: 'a',
      onBatch: async (_lo, hi) => {
        await new Promise((r) => setTimeout(r, 1)) // slower than c could be
        done.a = hi
      },
    },
    {
      name: 'b',
      onBatch: (_lo, hi) => {
        done.b = hi
      },
    },
  )
  const seen: number[] = []
  const [c] = ring.after(a, b).handleEventsWith({
    name: 'c',
    onBatch: (lo, hi) => {
      if (hi > done.a || hi > done.b) violations++
      for (let s = lo; s <= hi; s++) seen.push(f64[ring.offset(s) / 8])
      order.push(`c ${lo}-${hi}`)
    },
  })
  const tail = ring.after(c).poller({ name: 'tail' })
  t.is(
    tail.poll(() => {}),
    'idle',
  )
  ring.start()
  const total = 500
  // The poller gates producers too: publish while it polls.
  const published = (async () => {
    for (let i = 0; i < total; i++) await ring.publishEventAsync((at) => (f64[at / 8] = i))
  })()
  let polled = 0
  let gated = 0
  while (polled < total) {
    const r = tail.poll((lo, hi) => {
      if (hi > c.sequence) violations++
      polled += hi - lo + 1
    })
    if (r === 'gating') gated++
    if (r !== 'processing') await new Promise((r) => setTimeout(r, 1))
  }
  await published
  await ring.drain({ timeout: 10_000 })
  t.is(violations, 0)
  t.deepEqual(
    seen,
    Array.from({ length: total }, (_, i) => i),
  )
  t.true(gated > 0, 'the poller found events its upstream had not handled')
  t.true(order.length > 1)
  // Bad upstreams register nothing.
  const other = ProcessRing.create({ name: named(t, 'diamond-other'), size: 8, slotSize: 8 })
  const foreign = other.consumer('x')
  const before = ring.stats().consumers.length
  t.throws(() => ring.after(foreign), { code: 'ERR_INVALID_ARG_VALUE' })
  t.throws(() => ring.after({} as never), { code: 'ERR_INVALID_ARG_VALUE' })
  t.throws(() => ring.consumer('d', { after: 'a' as never }), { code: 'ERR_INVALID_ARG_TYPE' })
  const gone = ring.consumer('gone')
  gone.close()
  t.throws(() => ring.after(gone), { code: 'ERR_INVALID_ARG_VALUE' })
  t.is(ring.stats().consumers.length, before)
  other.close()
  ring.close()
})

test("asynchronous producers of one process at once: none finds another one's claim open, also while waiting for room", async (t) => {
  for (const producer of ['multi', 'single'] as const) {
    const ring = new Disruptor({ name: named(t, `async-${producer}`), size: 8, slotSize: 16, producer })
    const c = ring.consumer('c')
    const seqs = await Promise.all([
      ring.writeAsync('a'),
      ring.writeAsync('b'),
      ring.publishEventAsync(() => {}),
      ring.nextAsync(1).then((s) => {
        ring.publish()
        return s
      }),
    ])
    t.deepEqual(
      [...seqs].sort((a, b) => a - b),
      [0, 1, 2, 3],
      producer,
    )
    ring.publishEvents(4, () => {}) // full
    // They wait for room; each claims and publishes in one go when it comes.
    const waiting = Promise.all([ring.writeAsync('c'), ring.writeAsync('d'), ring.publishEventAsync(() => {})])
    await new Promise((r) => setTimeout(r, 20))
    let got = 0
    const timer = setInterval(() => c.poll((lo, hi) => void (got += hi - lo + 1)), 1)
    const later = await waiting
    clearInterval(timer)
    t.deepEqual(
      [...later].sort((a, b) => a - b),
      [8, 9, 10],
      producer,
    )
    t.true(got >= 3)
    ring.close()
  }
})

test("handleEventsWith is all or none; a function whose name cannot be a consumer's gets one made", (t) => {
  const ring = ProcessRing.create({ name: named(t, 'all-or-none'), size: 8, slotSize: 8, maxConsumers: 2 })
  t.throws(() => ring.handleEventsWith(() => {}, { name: 'x'.repeat(49), onBatch: () => {} }), {
    code: 'ERR_INVALID_ARG_VALUE',
  })
  t.throws(
    () =>
      ring.handleEventsWith(
        () => {},
        () => {},
        () => {},
      ),
    { code: 'ERR_DISRUPTOR_TABLE_FULL' },
  )
  t.is(ring.stats().consumers.length, 0, 'nothing left registered')
  const named49 = { ['y'.repeat(49)]: () => {} }['y'.repeat(49)]
  const [c] = ring.handleEventsWith(named49)
  t.regex(c.name, /^consumer-\d+-\d+$/)
  ring.close()
})

test('messages: slots that only look like frames (padding of length 0, lengths past the ring) are skipped, never a stuck loop', (t) => {
  const ring = ProcessRing.create({ name: named(t, 'malformed'), size: 8, slotSize: 16 })
  const c = ring.consumer('c')
  const u32 = new Uint32Array(ring.buffer)
  const raw = (words: number[]) =>
    ring.publishEvent((at, seq) => {
      u32.set(
        words.map((w, i) => (i === 0 ? seq : w)),
        at / 4,
      )
    })
  raw([0, 0, 0xffffffff]) // padding of no slots
  raw([0, 2 ** 31, 0xffffffff]) // padding past the ring
  raw([0, ring.maxMessageBytes + 1, 1]) // longer than any message
  raw([0, 16, 1]) // a message running past the ring's end from slot 3? no: 12 + 16 bytes from slot 3 fit
  const got: number[] = []
  c.poll((lo, hi) => ring.eachMessage(lo, hi, (view, seq) => void got.push(seq, view.length)))
  t.deepEqual(got, [3, 16], 'only the well-formed frame')
  ring.close()
})

test('drain() rejects when this process leaves the ring meanwhile; a batch settling after close() is not a failure; thenables hold a batch', async (t) => {
  const ring = ProcessRing.create({ name: named(t, 'drain-close'), size: 8, slotSize: 8 })
  let settle: () => void = () => {}
  const handled: number[] = []
  ring.handleEventsWith((lo, hi) => ({
    // a thenable, not a Promise
    // biome-ignore lint/suspicious/noThenProperty: the point of the test
    then(resolve: () => void) {
      settle = () => {
        handled.push(lo, hi)
        resolve()
      }
    },
  }))
  ring.start()
  ring.publishEvent(() => {})
  await new Promise((r) => setTimeout(r, 20))
  t.deepEqual(handled, [], 'the batch is held until the thenable settles')
  const drained = ring.drain()
  ring.close()
  await t.throwsAsync(drained, { code: 'ERR_DISRUPTOR_CLOSED' })
  settle()
  await new Promise((r) => setTimeout(r, 20))
  t.deepEqual(handled, [0, 0])
  const bytes = ProcessRing.create({ name: named(t, 'no-layout'), size: 8, slotSize: 8 })
  t.throws(() => bytes.emitEvent({} as never), { code: 'ERR_DISRUPTOR_NO_EVENT_LAYOUT' })
  bytes.close()
  const threads = new Disruptor({ name: undefined, size: 8, slotSize: 8 } as never)
  t.true(threads instanceof Disruptor, 'name: undefined is no name')
  ;(threads as unknown as { halt(): void }).halt()
})

test('writeAll: many messages in as few claims as fit (half the ring each), all checked first', (t) => {
  const ring = ProcessRing.create({ name: named(t, 'write-all'), size: 16, slotSize: 16 })
  const c = ring.consumer('c')
  const before = ring.stats().cursor
  t.throws(() => ring.writeAll(['ok', 42 as never]), { code: 'ERR_INVALID_ARG_TYPE' })
  t.throws(() => ring.writeAll(['ok', 'x'.repeat(ring.maxMessageBytes + 1)]), { code: 'ERR_OUT_OF_RANGE' })
  t.throws(() => ring.writeAll('ok' as never), { code: 'ERR_INVALID_ARG_TYPE' })
  t.is(ring.stats().cursor, before, 'nothing written')
  t.is(ring.writeAll([]), -1)
  // 1 slot each (4 bytes + 12): claims of at most 8 slots.
  const items = Array.from({ length: 12 }, (_, i) =>
    i % 2 ? `m${String(i).padStart(3, '0')}` : Buffer.from(`b${String(i).padStart(3, '0')}`),
  )
  t.is(ring.writeAll(items), 8, 'two claims: 0-7 and 8-11')
  t.deepEqual(
    drain(ring, c).map(([seq, kind, text]) => `${seq} ${kind} ${text}`),
    items.map((m, i) => `${i} ${i % 2 ? 'text' : 'bytes'} ${m.toString()}`),
  )
  ring.close()
})

test('a stage whose upstream leaves the ring leaves it too: producers are not held back for good (found by review)', async (t) => {
  const ring = ProcessRing.create({ name: named(t, 'cascade'), size: 8, slotSize: 8 })
  let shut = false
  const [up] = ring.handleEventsWith({
    name: 'up',
    onBatch: () => {
      throw new Error('boom')
    },
  })
  const [down] = ring.after(up).handleEventsWith({ name: 'down', onBatch: () => {}, onShutdown: () => (shut = true) })
  const tail = ring.after(down).poller({ name: 'tail' })
  ring.start()
  ring.publishEvent(() => {})
  await t.throwsAsync(ring.drain({ timeout: 10_000 }), { code: 'ERR_DISRUPTOR_CONSUMER_HALTED' })
  t.deepEqual(ring.stats().consumers, [], 'the failed consumer and every stage after it left')
  let claimed = 0
  while (claimed < 20 && ring.tryPublishEvents(1, () => {}) >= 0) claimed++
  t.is(claimed, 20, 'producers go on')
  t.throws(() => tail.poll(() => {}), { code: 'ERR_DISRUPTOR_CLOSED' })
  await new Promise((r) => setTimeout(r, 50))
  t.true(shut, "the stage's handler was shut down")
  t.is(down.sequence, -1)
  ring.close()
})

test('streams: a Writable of typed events into the ring and a Readable out of it, back-pressure through a small ring', async (t) => {
  const { Readable } = await import('node:stream')
  const { pipeline } = await import('node:stream/promises')
  const Tick = defineEvent({ n: 'u32', symbol: { utf8: 8 } })
  const ring = new Disruptor({ name: named(t, 'streams'), size: 8, event: Tick })
  const out = ring.readable({ highWaterMark: 4 }) // a consumer from now on: it sees every event
  const got: unknown[] = []
  const reading = (async () => {
    for await (const e of out) got.push(e)
  })()
  const total = 500
  await pipeline(
    Readable.from(Array.from({ length: total }, (_, n) => ({ n, symbol: `S${n % 7}` }))),
    ring.writable({ highWaterMark: 2 }),
  )
  ring.closeIntake() // the Readable ends once it has everything
  await reading
  t.deepEqual(
    got,
    Array.from({ length: total }, (_, n) => ({ n, symbol: `S${n % 7}` })),
  )
  t.deepEqual(ring.stats().consumers, [], "the Readable's consumer left the ring")
  ring.close()
})

test.serial(
  'streams: messages of three producer processes read through a Readable, each exactly once, in order',
  async (t) => {
    const name = named(t, 'stream-procs')
    const ring = new Disruptor({ name, size: 64, slotSize: 16 })
    const out = ring.readable({ objectMode: true })
    const next = new Map<string, number>()
    let bad = 0
    const reading = (async () => {
      for await (const m of out) {
        const [, id, i] = /^m(\d+):(\d+):/.exec((m as Buffer).toString()) ?? []
        if (Number(i) !== (next.get(id) ?? 0)) bad++
        next.set(id, Number(i) + 1)
      }
    })()
    const EACH = 2000
    const producers = [1, 2, 3].map((id) =>
      Peer.fixture('process-messages.js', 'produce', name, String(id), String(EACH)),
    )
    for (const p of producers) t.is(await p.finish(), undefined)
    ring.closeIntake()
    await reading
    t.is(bad, 0)
    t.deepEqual(Object.fromEntries(next), { 1: EACH, 2: EACH, 3: EACH })
    ring.close()
  },
)

test("handlers' error policies, as on threads: skip goes on, rewind hands the same batch again (then halts), a decider per error", async (t) => {
  const ring = ProcessRing.create({ name: named(t, 'policies'), size: 16, slotSize: 8 })
  const f64 = new Float64Array(ring.buffer)
  const seen = { skip: [] as number[], rewind: [] as number[], decider: [] as number[] }
  let rewindCalls = 0
  const bad = (s: number) => f64[ring.offset(s) / 8] === 13
  ring.handleEventsWith(
    {
      name: 'skip',
      onError: 'skip',
      onBatch: (lo, hi) => {
        for (let s = lo; s <= hi; s++) if (bad(s)) throw new Error('bad event')
        for (let s = lo; s <= hi; s++) seen.skip.push(f64[ring.offset(s) / 8])
      },
    },
    {
      name: 'rewind',
      onError: 'rewind',
      maxRewinds: 2,
      rewindDelayMs: 1,
      onBatch: async (lo, hi) => {
        if (rewindCalls++ < 2) throw new Error('not yet') // fails twice, then goes through
        for (let s = lo; s <= hi; s++) seen.rewind.push(f64[ring.offset(s) / 8])
      },
    },
    {
      name: 'decider',
      onError: (e) => ((e as Error).message === 'skip me' ? 'skip' : 'halt'),
      onBatch: (lo, hi) => {
        for (let s = lo; s <= hi; s++) if (bad(s)) throw new Error('skip me')
        for (let s = lo; s <= hi; s++) seen.decider.push(f64[ring.offset(s) / 8])
      },
    },
  )
  ring.start()
  ring.publishEvent((at) => (f64[at / 8] = 13))
  await ring.drain({ timeout: 10_000 })
  ring.publishEvent((at) => (f64[at / 8] = 1))
  await ring.drain({ timeout: 10_000 })
  t.deepEqual(seen.skip, [1], 'the failed batch counted as done')
  t.deepEqual(seen.decider, [1])
  t.deepEqual(seen.rewind, [13, 1], 'the same batch came again and went through')
  t.is(rewindCalls, 4)
  // A rewind that keeps failing halts after maxRewinds.
  let calls = 0
  ring.handleEventsWith({
    name: 'stubborn',
    onError: 'rewind',
    maxRewinds: 2,
    onBatch: () => {
      calls++
      throw new Error('always')
    },
  })
  ring.publishEvent(() => {})
  const e = await t.throwsAsync(ring.drain({ timeout: 10_000 }), { code: 'ERR_DISRUPTOR_CONSUMER_HALTED' })
  t.is((e?.cause as Error | undefined)?.message, 'always')
  t.is(calls, 3, 'the first try and two rewinds')
  ring.close()
})
