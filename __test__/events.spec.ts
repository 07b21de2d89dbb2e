import { readFileSync } from 'node:fs'
import { join } from 'node:path'

import test from 'ava'

import { Disruptor, type DisruptorError, defineEvent, type EventSchema } from '../src'
import { WorkerProbe } from './helpers'

// Typed events: defineEvent layouts, flyweights, read, emitEvent, the layout through share(),
// and the same bytes as the Rust EventLayout (crates/disruptor-core/tests/event_layout.rs).

const TRADE = {
  price: 'f64',
  qty: 'u32',
  side: 'u8',
  ts: 'u64',
  symbol: { utf8: 12 },
  levels: ['f64', 4],
  n: { i64: 'number' },
  ok: 'bool',
  tag: { bytes: 3 },
  small: 'i16',
} as const

const SAMPLE = {
  price: 1.5,
  qty: 10,
  side: 1,
  ts: 5n,
  symbol: 'AAPL€',
  levels: [1, 2, 3, 4],
  n: -123456789012,
  ok: true,
  tag: new Uint8Array([7, 8]),
  small: -2,
}

const FIXTURE = readFileSync(join(__dirname, '../crates/disruptor-core/tests/fixtures/trade-event.txt'), 'utf8')
  .split('\n')
  .filter((l) => l !== '' && !l.startsWith('#'))
  .map((l) => l.split(' '))

test('layout: fields in order at their natural alignment, 8-aligned size; the same as the Rust EventLayout (fixture)', (t) => {
  const Trade = defineEvent(TRADE)
  t.is(Trade.size, Number(FIXTURE.find((l) => l[0] === 'size')?.[1]))
  t.deepEqual(
    Trade.fields.map((f) => [f.name, f.offset, f.size]),
    FIXTURE.filter((l) => l[0] === 'field').map((l) => [l[1], Number(l[2]), Number(l[3])]),
  )
  t.deepEqual(Trade.fields[4], { name: 'symbol', type: 'utf8', kind: 'utf8', offset: 24, size: 14, length: 12 })
  t.true(Object.isFrozen(Trade) && Object.isFrozen(Trade.fields) && Object.isFrozen(Trade.schema))
  t.is(defineEvent({ a: 'u8' }).size, 8)
})

test('emitEvent writes the bytes the Rust EventLayout writes and reads (fixture)', async (t) => {
  const d = new Disruptor({ size: 2, event: defineEvent(TRADE) })
  t.is(d.slotSize, 96)
  d.emitEvent(SAMPLE)
  const slot = FIXTURE.find((l) => l[0] === 'slot')?.[1] ?? 'missing'
  t.is(Buffer.from(d.buffer, 0, d.slotSize).toString('hex'), slot)
  await d.close()
})

test('every type round-trips through the flyweight, read() and emitEvent, at its limits', async (t) => {
  const All = defineEvent({
    i8: 'i8',
    u8: 'u8',
    i16: 'i16',
    u16: 'u16',
    i32: 'i32',
    u32: 'u32',
    f32: 'f32',
    f64: 'f64',
    i64: 'i64',
    u64: 'u64',
    ni: { i64: 'number' },
    nu: { u64: 'number' },
    b: 'bool',
    s: { utf8: 16 },
    raw: { bytes: 4 },
    ai: ['i64', 2],
    au: ['u8', 3],
    af: ['f32', 2],
  })
  const d = new Disruptor({ size: 4, event: All })
  const lows = {
    i8: -128,
    u8: 0,
    i16: -32768,
    u16: 0,
    i32: -(2 ** 31),
    u32: 0,
    f32: -1.5,
    f64: -Number.MAX_VALUE,
    i64: -(2n ** 63n),
    u64: 0n,
    ni: -(2 ** 53 - 1),
    nu: 0,
    b: false,
    s: '',
    raw: new Uint8Array([]),
    ai: [-(2n ** 63n), 0n],
    au: [0, 1, 2],
    af: [0.5, -0.25],
  }
  const highs = {
    i8: 127,
    u8: 255,
    i16: 32767,
    u16: 65535,
    i32: 2 ** 31 - 1,
    u32: 2 ** 32 - 1,
    f32: 3.5,
    f64: Number.MAX_VALUE,
    i64: 2n ** 63n - 1n,
    u64: 2n ** 64n - 1n,
    ni: 2 ** 53 - 1,
    nu: 2 ** 53 - 1,
    b: true,
    s: 'é€😀\ud800', // 2 + 3 + 4 bytes, and a lone surrogate as U+FFFD (3)
    raw: Buffer.from([1, 2, 3, 4]),
    ai: [2n ** 63n - 1n, -1n],
    au: [253, 254, 255],
    af: [1e30, -1e-30],
  }
  const lo = d.emitEvent(lows)
  const hi = d.emitEvent(highs)
  const expect = (v: Record<string, unknown>) => ({
    ...v,
    s: v.s === '' ? '' : 'é€😀\ufffd',
    raw: new Uint8Array(v.raw as Uint8Array),
    ai: BigInt64Array.from(v.ai as bigint[]),
    au: Uint8Array.from(v.au as number[]),
    af: Float32Array.from(v.af as number[]),
  })
  t.deepEqual(d.read(lo), expect(lows))
  t.deepEqual(d.read(hi), expect(highs))
  // The flyweight reads the same in place; set through it, read back.
  const e = d.event(hi)
  t.is(e.u32, 2 ** 32 - 1)
  t.is(e.s, 'é€😀\ufffd')
  t.is(e.ni, 2 ** 53 - 1)
  const seq = d.publishEvent((f) => {
    f.i16 = -7
    f.nu = 12345678901234
    f.s = 'ok'
    f.af = Float32Array.of(1, 2)
    f.b = true
  })
  const back = d.read(seq)
  t.like(back, { i16: -7, nu: 12345678901234, s: 'ok', b: true })
  t.deepEqual(back.af, Float32Array.from([1, 2]))
  await d.close()
})

test('event(seq) is one flyweight moved from slot to slot; read() copies', async (t) => {
  const Tick = defineEvent({ v: 'f64', w: ['u32', 2] })
  const d = new Disruptor({ size: 4, event: Tick })
  for (let i = 0; i < 4; i++) d.emitEvent({ v: i, w: [i, i * 2] })
  const a = d.event(1)
  t.is(a.v, 1)
  const b = d.event(2)
  t.is(a, b, 'the same object')
  t.is(a.v, 2)
  t.is(d.event(2).w, d.event(2).w, 'one array view per slot, made once')
  const plain = d.read(3)
  ;(plain.w as Uint32Array)[0] = 99
  t.is(d.event(3).w[0], 3, 'read() is a copy')
  t.deepEqual(Object.keys(d.event(0)), [], 'no own string keys: its fields are accessors')
  t.is(defineEvent({ slot: 'u8', base: 'u8', moveTo: 'u8' }).size, 8, 'any other name is a field name')
  t.deepEqual(JSON.parse(JSON.stringify({ ...d.read(0), w: [...d.read(0).w] })), { v: 0, w: [0, 0] })
  await d.close()
})

test('bad schemas: coded errors', (t) => {
  const cases: [unknown, string][] = [
    [null, 'ERR_INVALID_ARG_TYPE'],
    [[1], 'ERR_INVALID_ARG_TYPE'],
    ['f64', 'ERR_INVALID_ARG_TYPE'],
    [{}, 'ERR_INVALID_ARG_VALUE'],
    [{ a: 'f128' }, 'ERR_INVALID_ARG_VALUE'],
    [{ a: 42 }, 'ERR_INVALID_ARG_TYPE'],
    [{ a: ['bool', 2] }, 'ERR_INVALID_ARG_VALUE'],
    [{ a: ['f64', 0] }, 'ERR_INVALID_ARG_VALUE'],
    [{ a: ['f64', 1.5] }, 'ERR_INVALID_ARG_VALUE'],
    [{ a: ['f64', 2, 3] }, 'ERR_INVALID_ARG_VALUE'],
    [{ a: { utf8: 0 } }, 'ERR_INVALID_ARG_VALUE'],
    [{ a: { utf8: 65536 } }, 'ERR_INVALID_ARG_VALUE'],
    [{ a: { bytes: -1 } }, 'ERR_INVALID_ARG_VALUE'],
    [{ a: { utf8: 4, bytes: 4 } }, 'ERR_INVALID_ARG_TYPE'],
    [{ a: { u64: 'bigint' } }, 'ERR_INVALID_ARG_TYPE'],
    [{ toJSON: 'u8' }, 'ERR_INVALID_ARG_VALUE'],
    [{ a: 'u8', 0: 'u8' }, 'ERR_INVALID_ARG_VALUE'],
    [{ a: 'toString' }, 'ERR_INVALID_ARG_VALUE'],
    [{ a: ['constructor', 2] }, 'ERR_INVALID_ARG_VALUE'],
    [{ constructor: 'u8' }, 'ERR_INVALID_ARG_VALUE'],
    [{ a: ['f64', 8192], b: 'u8' }, 'ERR_INVALID_ARG_VALUE'],
  ]
  for (const [schema, code] of cases) {
    t.throws(() => defineEvent(schema as EventSchema), { code }, JSON.stringify(schema))
  }
})

test('bad values: coded errors, nothing claimed or published, the ring goes on', async (t) => {
  const d = new Disruptor({ size: 8, event: defineEvent(TRADE) })
  const poller = d.poller()
  const cases: [Record<string, unknown>, string][] = [
    [{ qty: -1 }, 'ERR_OUT_OF_RANGE'],
    [{ qty: 2 ** 32 }, 'ERR_OUT_OF_RANGE'],
    [{ qty: 1.5 }, 'ERR_OUT_OF_RANGE'],
    [{ qty: Number.NaN }, 'ERR_OUT_OF_RANGE'],
    [{ side: 256 }, 'ERR_OUT_OF_RANGE'],
    [{ small: 32768 }, 'ERR_OUT_OF_RANGE'],
    [{ price: '1.5' }, 'ERR_INVALID_ARG_TYPE'],
    [{ ts: 1 }, 'ERR_INVALID_ARG_TYPE'],
    [{ ts: -1n }, 'ERR_OUT_OF_RANGE'],
    [{ ts: 2n ** 64n }, 'ERR_OUT_OF_RANGE'],
    [{ n: 2 ** 53 }, 'ERR_OUT_OF_RANGE'],
    [{ n: 1n }, 'ERR_INVALID_ARG_TYPE'],
    [{ ok: 1 }, 'ERR_INVALID_ARG_TYPE'],
    [{ symbol: 'ABCDEFGHIJKLM' }, 'ERR_OUT_OF_RANGE'],
    [{ symbol: '€€€€€' }, 'ERR_OUT_OF_RANGE'], // 15 bytes
    [{ symbol: 42 }, 'ERR_INVALID_ARG_TYPE'],
    [{ tag: new Uint8Array(4) }, 'ERR_OUT_OF_RANGE'],
    [{ tag: 'abc' }, 'ERR_INVALID_ARG_TYPE'],
    [{ levels: [1, 2, 3] }, 'ERR_OUT_OF_RANGE'],
    [{ levels: [1, 2, 3, 'x'] }, 'ERR_INVALID_ARG_TYPE'],
    [{ levels: 7 }, 'ERR_INVALID_ARG_TYPE'],
    [{ nope: 1 }, 'ERR_INVALID_ARG_VALUE'],
  ]
  for (const [values, code] of cases) {
    const e = t.throws(
      () => d.emitEvent(values),
      { code },
      JSON.stringify(values, (_, v) => String(v)),
    )
    t.true(e instanceof Error)
    t.throws(() => d.emitEvents([{ price: 1 }, values]), { code })
  }
  t.throws(() => d.emitEvent(null as never), { code: 'ERR_INVALID_ARG_TYPE' })
  t.throws(() => d.emitEvents({} as never), { code: 'ERR_INVALID_ARG_TYPE' })
  t.throws(() => d.emitEvents([]), { code: 'ERR_INVALID_ARG_VALUE' })
  t.is(d.cursor, -1, 'nothing published')
  t.is(d.stats().claims, 0, 'nothing claimed')
  // A setter refuses a value of the wrong type or out of range before writing: the field keeps
  // its value. A string too long for its field leaves it empty, ASCII or not (the claim is
  // published, as publishEvent's is whatever its fill throws).
  const first = d.emitEvent({ price: 2, qty: 7, symbol: 'KEEP' })
  const setters: [(e: Record<string, unknown>) => void, string, Record<string, unknown>][] = [
    [(e) => (e.qty = -1), 'ERR_OUT_OF_RANGE', { qty: 7, symbol: 'KEEP' }],
    [(e) => (e.symbol = 42), 'ERR_INVALID_ARG_TYPE', { qty: 7, symbol: 'KEEP' }],
    [(e) => (e.symbol = 'WAY TOO LONG FOR IT'), 'ERR_OUT_OF_RANGE', { qty: 7, symbol: '' }],
    [(e) => (e.symbol = 'AB€€€€'), 'ERR_OUT_OF_RANGE', { qty: 7, symbol: '' }], // 14 bytes
  ]
  for (const [set, code, after] of setters) {
    const seq = d.cursor + 1
    // The slot as `first` left it, then the fill: price set, then the refused field.
    d.event(seq).qty = 7
    d.event(seq).symbol = 'KEEP'
    const thrown = t.throws(() =>
      d.publishEvent((e) => {
        e.price = 3
        set(e as unknown as Record<string, unknown>)
      }),
    ) as DisruptorError
    t.is(thrown.code, code)
    t.is(d.cursor, seq, 'published whatever the fill threw')
    t.like(d.read(seq), { price: 3, ...after })
    poller.poll(() => {})
  }
  t.is(first, 0)
  // A string that fits, not all ASCII, after an ASCII prefix: written whole.
  d.publishEvent((e) => {
    e.symbol = 'AB€€'
  })
  t.is(d.read(d.cursor).symbol, 'AB€€')
  poller.poll(() => {})
  const hi = d.emitEvents([{ qty: 1 }, { qty: 2 }])
  t.is(hi, 7)
  t.deepEqual([d.read(6).qty, d.read(7).qty], [1, 2])
  poller.poll(() => {})
  await d.close()
})

test('a slot holding a 64-bit value past 2**53 read through a number field: ERR_OUT_OF_RANGE', async (t) => {
  const d = new Disruptor({ size: 2, event: defineEvent({ n: { u64: 'number' } }) })
  const seq = d.emitEvent({ n: 1 })
  new BigUint64Array(d.buffer)[0] = 2n ** 60n
  t.throws(() => d.event(seq).n, { code: 'ERR_OUT_OF_RANGE' })
  await d.close()
})

test('options and rings without a layout: coded errors', async (t) => {
  const Small = defineEvent({ a: 'f64', b: 'f64' })
  t.throws(() => new Disruptor({ size: 8, event: { size: 8 } as never }), { code: 'ERR_INVALID_ARG_TYPE' })
  // Only defineEvent's layouts: a copy with other numbers is refused (code is generated from them).
  const forged = { ...Small, fields: [{ ...Small.fields[0], offset: '0) || process.exit(1) || (0' }] }
  t.throws(() => new Disruptor({ size: 8, event: forged as never }), { code: 'ERR_INVALID_ARG_TYPE' })
  t.throws(() => new Disruptor({ size: 2 ** 25, event: defineEvent({ a: ['f64', 32] }) }), {
    code: 'ERR_INVALID_ARG_VALUE',
  })
  t.throws(() => new Disruptor({ size: 8, slotSize: 8, event: Small }), { code: 'ERR_INVALID_ARG_VALUE' })
  t.throws(() => new Disruptor({ size: 8 }), { code: 'ERR_INVALID_ARG_TYPE' })
  const wide = new Disruptor({ size: 8, slotSize: 64, event: Small })
  t.is(wide.slotSize, 64)
  t.is(wide.read(wide.emitEvent({ b: 2 })).b, 2)
  await wide.close()
  const raw = new Disruptor({ size: 8, slotSize: 8 })
  t.is(raw.eventType, null)
  t.throws(() => raw.event(0), { code: 'ERR_DISRUPTOR_NO_EVENT_LAYOUT' })
  t.throws(() => raw.read(0), { code: 'ERR_DISRUPTOR_NO_EVENT_LAYOUT' })
  t.throws(() => raw.emitEvent({} as never), { code: 'ERR_DISRUPTOR_NO_EVENT_LAYOUT' })
  t.is(raw.cursor, -1)
  await raw.close()
})

test('the layout travels with share(): a worker emits typed events, the main thread reads them in order', async (t) => {
  const N = 2000
  const Msg = defineEvent({ id: 'u32', name: { utf8: 8 } })
  const d = new Disruptor({ size: 64, event: Msg, producer: 'multi' })
  const seen: string[] = []
  let next = 0
  const errors: string[] = []
  d.handleEventsWith((lo, hi) => {
    for (let s = lo; s <= hi; s++) {
      const e = d.event(s)
      if (e.id !== next || e.name !== `w${next}`) errors.push(`${s}: ${e.id} ${e.name}`)
      next++
    }
    seen.push(`${lo}-${hi}`)
  })
  d.start()
  const handle = d.share()
  t.deepEqual(handle.event, { id: 'u32', name: { utf8: 8 } })
  const w = new WorkerProbe('typed-producer.js', { handle, count: N })
  try {
    const done = await w.type('done')
    t.deepEqual(done.fields, ['id', 'name'])
    await d.drain()
    t.deepEqual(errors, [])
    t.is(next, N)
  } finally {
    await w.worker.terminate()
    await d.close()
  }
  t.throws(() => Disruptor.attach({ ...handle, event: { id: 'nope' } } as never), { code: 'ERR_INVALID_ARG_VALUE' })
})

test('a value that changes between the check and the copy never writes past its field', async (t) => {
  const d = new Disruptor({
    size: 2,
    event: defineEvent({ s: { utf8: 4 }, after: 'u32', raw: { bytes: 2 }, tail: 'u16' }),
  })
  let reads = 0
  const tricky = {
    get s() {
      return reads++ === 0 ? 'ok' : 'much longer than four bytes'
    },
    after: 7,
    get raw() {
      return reads++ < 2 ? new Uint8Array(2) : new Uint8Array([1, 2, 3, 4, 5, 6])
    },
    tail: 9,
  }
  const seq = d.emitEvent(tricky)
  t.like(d.read(seq), { after: 7, tail: 9 })
  t.is(d.event(seq).s, 'much')
  t.deepEqual(d.read(seq).raw, new Uint8Array([1, 2]))
  await d.close()
})

test('a fill that publishes on the same ring gets a flyweight of its own', async (t) => {
  const d = new Disruptor({ size: 8, event: defineEvent({ v: 'u32' }) })
  const outer = d.publishEvent((e) => {
    e.v = 1
    d.publishEvent((inner) => {
      inner.v = 2
    })
    e.v = 3 // still the outer slot
  })
  t.is(d.read(outer).v, 3)
  t.is(d.read(outer + 1).v, 2)
  await d.close()
})

test('strings of every length up to past the short-string paths, ASCII or not, round-trip through the flyweight and emitEvent', async (t) => {
  const Text = defineEvent({ s: { utf8: 60 } })
  const d = new Disruptor({ size: 8, event: Text })
  const poller = d.poller()
  for (let n = 0; n <= 20; n++) {
    const ascii = Array.from({ length: n }, (_, i) => String.fromCharCode(33 + ((i * 7 + n) % 94))).join('')
    const other = `${ascii.slice(0, n >> 1)}é${ascii.slice(n >> 1)}€`
    for (const value of [ascii, other]) {
      const viaFill = d.publishEvent((e) => {
        e.s = value
      })
      const viaEmit = d.emitEvent({ s: value })
      t.is(d.event(viaFill).s, value, `fill ${JSON.stringify(value)}`)
      t.is(d.event(viaEmit).s, value, `emit ${JSON.stringify(value)}`)
      t.is(d.read(viaFill).s, value)
      poller.poll(() => {})
    }
  }
  await d.close()
})
