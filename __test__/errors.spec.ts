import { spawnSync } from 'node:child_process'
import { join } from 'node:path'
import { Worker } from 'node:worker_threads'

import test, { type ExecutionContext } from 'ava'

import {
  Disruptor,
  type DisruptorError,
  type DisruptorOptions,
  EventHandlerGroup,
  type Handler,
  type SharedDisruptor,
} from '../src'
import { sleep, waitFor } from './helpers'

type ErrorClass = new (...args: never[]) => Error

const range = (lo: number, hi: number) => Array.from({ length: Math.max(0, hi - lo + 1) }, (_, i) => lo + i)
const INDEX = join(__dirname, '..', 'dist', 'index.js')

/**
 * Problems with `err` (empty when it is exactly a `cls`, not a subclass, with `code` and a
 * message). The tables collect them and assert once at the end, so that one report lists
 * every mismatch while the ring is checked after each bad call.
 */
/** Every sequence a stage added after `upstream` sees, in the order it sees them. */
function downstreamOf(upstream: EventHandlerGroup): number[] {
  const seen: number[] = []
  upstream.andThen((lo, hi) => {
    for (let s = lo; s <= hi; s++) seen.push(s)
  })
  return seen
}

function errorProblems(title: string, err: unknown, cls: ErrorClass, code: string): string[] {
  if (!(err instanceof Error)) return [`${title}: expected ${cls.name} ${code}, got ${String(err)}`]
  const e = err as DisruptorError
  const problems: string[] = []
  if (e.constructor !== cls)
    problems.push(`${title}: expected a ${cls.name}, got a ${e.constructor.name} (${e.code}: ${e.message})`)
  if (e.code !== code) problems.push(`${title}: expected code ${code}, got ${String(e.code)} (${e.message})`)
  if (!/\S/.test(e.message)) problems.push(`${title}: empty message`)
  return problems
}

function expectThrow(title: string, call: () => unknown, cls: ErrorClass, code: string): string[] {
  try {
    const r = call()
    if (r instanceof Promise) r.catch(() => {})
  } catch (e) {
    return errorProblems(title, e, cls, code)
  }
  return [`${title}: did not throw`]
}

/** `call()` returns a promise that rejects (a synchronous throw is a problem). */
async function expectReject(
  title: string,
  call: () => Promise<unknown>,
  cls: ErrorClass,
  code: string,
): Promise<string[]> {
  let p: Promise<unknown>
  try {
    p = call()
  } catch (e) {
    return [`${title}: threw synchronously instead of rejecting: ${String(e)}`]
  }
  if (!(p instanceof Promise)) return [`${title}: did not return a promise`]
  try {
    await p
  } catch (e) {
    return errorProblems(title, e, cls, code)
  }
  return [`${title}: did not reject`]
}

/**
 * A started multi- (or single-) producer ring with one handler that records what it sees, and
 * `check()`, which publishes a few events and asserts that every sequence published so far was
 * delivered exactly once, in order, with its value.
 */
function ringWithHandler(options: Partial<DisruptorOptions> = {}) {
  const d = new Disruptor({ size: 16, slotSize: 8, ...options })
  const f64 = new Float64Array(d.buffer)
  const seen: number[] = []
  const problems: string[] = []
  d.handleEventsWith({
    name: 'recorder',
    onBatch: (lo, hi) => {
      for (let s = lo; s <= hi; s++) {
        if (f64[d.offset(s) / 8] !== s) problems.push(`slot of ${s} holds ${f64[d.offset(s) / 8]}`)
        seen.push(s)
      }
    },
  })
  d.start()
  const publishOne = (s: number) => {
    f64[d.offset(s) / 8] = s
    d.publish(s)
  }
  const check = async (t: ExecutionContext, label: string) => {
    for (let i = 0; i < 3; i++) {
      const s = d.tryNext()
      t.not(s, -1, `${label}: room to publish`)
      publishOne(s)
    }
    await d.drain({ timeout: 3000 })
    t.deepEqual(problems, [], `${label}: slot values`)
    t.deepEqual(seen, range(0, d.cursor), `${label}: every sequence delivered exactly once, in order`)
  }
  return { d, check, seen, publishOne }
}

test('constructor options: bad input throws with the exact class and code', (t) => {
  const problems: string[] = []
  const base = { size: 8, slotSize: 8 }
  const cases: Array<[string, unknown, ErrorClass, string]> = [
    ['size 0', { ...base, size: 0 }, RangeError, 'ERR_INVALID_ARG_VALUE'],
    ['size 1', { ...base, size: 1 }, RangeError, 'ERR_INVALID_ARG_VALUE'],
    ['size 3', { ...base, size: 3 }, RangeError, 'ERR_INVALID_ARG_VALUE'],
    ['size -8', { ...base, size: -8 }, RangeError, 'ERR_INVALID_ARG_VALUE'],
    ['size 2**31', { ...base, size: 2 ** 31 }, RangeError, 'ERR_INVALID_ARG_VALUE'],
    ['size 1.5', { ...base, size: 1.5 }, RangeError, 'ERR_INVALID_ARG_VALUE'],
    ['size NaN', { ...base, size: NaN }, RangeError, 'ERR_INVALID_ARG_VALUE'],
    ['size Infinity', { ...base, size: Infinity }, RangeError, 'ERR_INVALID_ARG_VALUE'],
    ["size '8'", { ...base, size: '8' }, TypeError, 'ERR_INVALID_ARG_TYPE'],
    ['size missing', { slotSize: 8 }, TypeError, 'ERR_INVALID_ARG_TYPE'],
    ['size 8n', { ...base, size: 8n }, TypeError, 'ERR_INVALID_ARG_TYPE'],
    ['slotSize 0', { ...base, slotSize: 0 }, RangeError, 'ERR_INVALID_ARG_VALUE'],
    ['slotSize 4', { ...base, slotSize: 4 }, RangeError, 'ERR_INVALID_ARG_VALUE'],
    ['slotSize 12', { ...base, slotSize: 12 }, RangeError, 'ERR_INVALID_ARG_VALUE'],
    ['slotSize 65544', { ...base, slotSize: 65544 }, RangeError, 'ERR_INVALID_ARG_VALUE'],
    ['slotSize undefined', { ...base, slotSize: undefined }, TypeError, 'ERR_INVALID_ARG_TYPE'],
    ["slotSize '8'", { ...base, slotSize: '8' }, TypeError, 'ERR_INVALID_ARG_TYPE'],
    ['size * slotSize too large', { size: 2 ** 30, slotSize: 65536 }, RangeError, 'ERR_INVALID_ARG_VALUE'],
    ["producer 'x'", { ...base, producer: 'x' }, RangeError, 'ERR_INVALID_ARG_VALUE'],
    ['producer 1', { ...base, producer: 1 }, TypeError, 'ERR_INVALID_ARG_TYPE'],
    ["waitStrategy 'nope'", { ...base, waitStrategy: 'nope' }, RangeError, 'ERR_INVALID_ARG_VALUE'],
    ['waitStrategy 5', { ...base, waitStrategy: 5 }, TypeError, 'ERR_INVALID_ARG_TYPE'],
    ['waitStrategy {}', { ...base, waitStrategy: {} }, TypeError, 'ERR_INVALID_ARG_TYPE'],
    ["waitStrategy type 'nope'", { ...base, waitStrategy: { type: 'nope' } }, RangeError, 'ERR_INVALID_ARG_VALUE'],
    [
      'timeoutMs 0',
      { ...base, waitStrategy: { type: 'timeout-blocking', timeoutMs: 0 } },
      RangeError,
      'ERR_INVALID_ARG_VALUE',
    ],
    [
      'timeoutMs NaN',
      { ...base, waitStrategy: { type: 'timeout-blocking', timeoutMs: Number.NaN } },
      RangeError,
      'ERR_INVALID_ARG_VALUE',
    ],
    [
      "timeoutMs '5'",
      { ...base, waitStrategy: { type: 'timeout-blocking', timeoutMs: '5' } },
      TypeError,
      'ERR_INVALID_ARG_TYPE',
    ],
    [
      'spinTries 1.5',
      { ...base, waitStrategy: { type: 'sleeping', spinTries: 1.5 } },
      RangeError,
      'ERR_INVALID_ARG_VALUE',
    ],
    [
      'sleepMicros -1',
      { ...base, waitStrategy: { type: 'sleeping', sleepMicros: -1 } },
      RangeError,
      'ERR_INVALID_ARG_VALUE',
    ],
    [
      'yieldMicros 2e6',
      { ...base, waitStrategy: { type: 'phased-backoff', yieldMicros: 2e6 } },
      RangeError,
      'ERR_INVALID_ARG_VALUE',
    ],
    [
      'a parameter of another strategy',
      { ...base, waitStrategy: { type: 'blocking', timeoutMs: 5 } },
      RangeError,
      'ERR_INVALID_ARG_VALUE',
    ],
    ['options null', null, TypeError, 'ERR_INVALID_ARG_TYPE'],
    ['options undefined', undefined, TypeError, 'ERR_INVALID_ARG_TYPE'],
    ["options 'x'", 'x', TypeError, 'ERR_INVALID_ARG_TYPE'],
  ]
  for (const [title, options, cls, code] of cases) {
    problems.push(...expectThrow(title, () => new Disruptor(options as DisruptorOptions), cls, code))
  }
  t.deepEqual(problems, [])
})

test('every valid shape and wait strategy constructs a ring that delivers exactly once', async (t) => {
  const strategies = [
    'blocking',
    'sleeping',
    'yielding',
    'busy-spin',
    'phased-backoff',
    'timeout-blocking',
    { type: 'sleeping', spinTries: 0, yieldTries: 3, sleepMicros: 20 },
    { type: 'phased-backoff', spinMicros: 0, yieldMicros: 5 },
    { type: 'timeout-blocking', timeoutMs: 5 },
  ] as const
  for (const waitStrategy of strategies) {
    for (const producer of ['single', 'multi'] as const) {
      const r = ringWithHandler({ size: 4, slotSize: 8, producer, waitStrategy })
      await r.check(t, `${JSON.stringify(waitStrategy)}/${producer}`)
      await r.d.close()
    }
  }
  const big = ringWithHandler({ size: 4, slotSize: 65536 })
  await big.check(t, 'slotSize 65536')
  await big.d.close()
})

test('next/tryNext/nextAsync n: bad input throws with the exact class and code, claims nothing, and the ring still delivers', async (t) => {
  const size = 16
  const r = ringWithHandler({ size })
  const problems: string[] = []
  const cases: Array<[string, unknown, ErrorClass, string]> = [
    ['0', 0, RangeError, 'ERR_INVALID_ARG_VALUE'],
    ['-1', -1, RangeError, 'ERR_INVALID_ARG_VALUE'],
    ['1.5', 1.5, RangeError, 'ERR_INVALID_ARG_VALUE'],
    ['NaN', NaN, RangeError, 'ERR_INVALID_ARG_VALUE'],
    ['Infinity', Infinity, RangeError, 'ERR_INVALID_ARG_VALUE'],
    ['size + 1', size + 1, RangeError, 'ERR_INVALID_ARG_VALUE'],
    ['2**53', 2 ** 53, RangeError, 'ERR_INVALID_ARG_VALUE'],
    ["'1'", '1', TypeError, 'ERR_INVALID_ARG_TYPE'],
    ['null', null, TypeError, 'ERR_INVALID_ARG_TYPE'],
  ]
  for (const [title, n, cls, code] of cases) {
    const before = { cursor: r.d.cursor, room: r.d.remainingCapacity() }
    problems.push(...expectThrow(`next(${title})`, () => r.d.next(n as number), cls, code))
    problems.push(...expectThrow(`tryNext(${title})`, () => r.d.tryNext(n as number), cls, code))
    problems.push(...(await expectReject(`nextAsync(${title})`, () => r.d.nextAsync(n as number), cls, code)))
    t.deepEqual({ cursor: r.d.cursor, room: r.d.remainingCapacity() }, before, `${title}: nothing claimed`)
    await r.check(t, `after n = ${title}`)
  }
  t.deepEqual(problems, [])
  await r.d.close()
})

for (const producer of ['multi', 'single'] as const) {
  test(`${producer}: publish lo/hi: bad input throws with the exact class and code, publishes nothing, and the ring still delivers`, async (t) => {
    const size = 16
    const r = ringWithHandler({ size, producer })
    const d = r.d
    const problems: string[] = []
    const argCases: Array<[string, () => void, ErrorClass, string]> = [
      ['publish(-1)', () => d.publish(-1), RangeError, 'ERR_INVALID_ARG_VALUE'],
      ['publish(2**53)', () => d.publish(2 ** 53), RangeError, 'ERR_INVALID_ARG_VALUE'],
      ['publish(NaN)', () => d.publish(NaN), RangeError, 'ERR_INVALID_ARG_VALUE'],
      ['publish(1.5)', () => d.publish(1.5), RangeError, 'ERR_INVALID_ARG_VALUE'],
      ['publish(Infinity)', () => d.publish(Infinity), RangeError, 'ERR_INVALID_ARG_VALUE'],
      ["publish('0')", () => d.publish('0' as unknown as number), TypeError, 'ERR_INVALID_ARG_TYPE'],
      ['publish(null)', () => d.publish(null as unknown as number), TypeError, 'ERR_INVALID_ARG_TYPE'],
      ['publish(0, -1)', () => d.publish(0, -1), RangeError, 'ERR_INVALID_ARG_VALUE'],
      ['publish(0, 2**53)', () => d.publish(0, 2 ** 53), RangeError, 'ERR_INVALID_ARG_VALUE'],
      ['publish(0, NaN)', () => d.publish(0, NaN), RangeError, 'ERR_INVALID_ARG_VALUE'],
      ["publish(0, '1')", () => d.publish(0, '1' as unknown as number), TypeError, 'ERR_INVALID_ARG_TYPE'],
      ['publish(unclaimed)', () => d.publish(d.cursor + 5), Error, 'ERR_DISRUPTOR_NOT_CLAIMED'],
      ['publish(2**53 - 1)', () => d.publish(2 ** 53 - 1), Error, 'ERR_DISRUPTOR_NOT_CLAIMED'],
      ['publish(already published)', () => d.publish(d.cursor), Error, 'ERR_DISRUPTOR_ALREADY_PUBLISHED'],
      ['publish(hi < lo)', () => d.publish(d.cursor + 2, d.cursor + 1), RangeError, 'ERR_INVALID_ARG_VALUE'],
    ]
    await r.check(t, 'first events')
    for (const [title, call, cls, code] of argCases) {
      const cursor = d.cursor
      problems.push(...expectThrow(title, call, cls, code))
      t.is(d.cursor, cursor, `${title}: nothing published`)
      await r.check(t, `after ${title}`)
    }

    // a claimed sequence: publishing past it, or a span longer than the ring, publishes nothing
    const s = d.next()
    problems.push(
      ...expectThrow('publish(claimed, unclaimed)', () => d.publish(s, s + 1), Error, 'ERR_DISRUPTOR_NOT_CLAIMED'),
    )
    problems.push(
      ...expectThrow('publish(span > size)', () => d.publish(s, s + size), RangeError, 'ERR_INVALID_ARG_VALUE'),
    )
    t.is(d.cursor, s - 1, 'the claimed sequence is still unpublished')
    r.publishOne(s)
    await r.check(t, 'after the partial publishes')
    t.deepEqual(problems, [])
    await d.close()
  })
}

test('single producer: publishing out of claim order throws ERR_DISRUPTOR_SINGLE_PRODUCER and the ring still delivers', async (t) => {
  const r = ringWithHandler({ producer: 'single' })
  const d = r.d
  await r.check(t, 'first events')
  const problems: string[] = []
  const a = d.next()
  const b = d.next()
  problems.push(...expectThrow('publish(b) before a', () => d.publish(b), Error, 'ERR_DISRUPTOR_SINGLE_PRODUCER'))
  t.is(d.cursor, a - 1)
  r.publishOne(a)
  r.publishOne(b)
  await r.check(t, 'after the out-of-order publish')
  t.deepEqual(problems, [])
  await d.close()
})

test('single producer: claiming from a second thread throws ERR_DISRUPTOR_SINGLE_PRODUCER there', async (t) => {
  const r = ringWithHandler({ producer: 'single' })
  const d = r.d
  await r.check(t, 'the owner thread produces first')
  const source = `
    const { parentPort, workerData } = require('node:worker_threads')
    const { Disruptor } = require(workerData.index)
    const d = Disruptor.attach(workerData.handle)
    const codes = []
    for (const call of [() => d.tryNext(), () => d.next(), () => d.publish(0)]) {
      try { call(); codes.push('no error') } catch (e) { codes.push(e.code) }
    }
    d.close().then(() => parentPort.postMessage(codes), (e) => parentPort.postMessage(String(e)))
  `
  const codes = await new Promise<unknown>((resolve, reject) => {
    const w = new Worker(source, { eval: true, execArgv: [], workerData: { index: INDEX, handle: d.share() } })
    let message: unknown = 'exited without a message'
    w.on('message', (m: unknown) => (message = m))
    w.on('error', reject)
    w.on('exit', () => resolve(message))
  })
  t.deepEqual(codes, [
    'ERR_DISRUPTOR_SINGLE_PRODUCER',
    'ERR_DISRUPTOR_SINGLE_PRODUCER',
    'ERR_DISRUPTOR_SINGLE_PRODUCER',
  ])
  await r.check(t, 'the owner thread still produces')
  await d.close()
})

test('handlers, pollers and other call arguments: bad input throws with the exact class and code and registers nothing', async (t) => {
  const r = ringWithHandler()
  const d = r.d
  const problems: string[] = []
  const good = () => {}
  let goodCalls = 0
  const counted = () => {
    goodCalls++
  }
  const g = d.handleEventsWith(good)
  const bad: Array<[string, unknown, ErrorClass, string]> = [
    ['5', 5, TypeError, 'ERR_INVALID_ARG_TYPE'],
    ['null', null, TypeError, 'ERR_INVALID_ARG_TYPE'],
    ["'x'", 'x', TypeError, 'ERR_INVALID_ARG_TYPE'],
    ['{}', {}, TypeError, 'ERR_INVALID_ARG_TYPE'],
    ['{ onBatch: 5 }', { onBatch: 5 }, TypeError, 'ERR_INVALID_ARG_TYPE'],
    ['{ name: 5 }', { onBatch: good, name: 5 }, TypeError, 'ERR_INVALID_ARG_TYPE'],
    ["{ onStart: 'x' }", { onBatch: good, onStart: 'x' }, TypeError, 'ERR_INVALID_ARG_TYPE'],
    ['{ onShutdown: 1 }', { onBatch: good, onShutdown: 1 }, TypeError, 'ERR_INVALID_ARG_TYPE'],
    ["{ onError: 'bogus' }", { onBatch: good, onError: 'bogus' }, RangeError, 'ERR_INVALID_ARG_VALUE'],
    ['{ onError: 5 }', { onBatch: good, onError: 5 }, RangeError, 'ERR_INVALID_ARG_VALUE'],
    ['{ maxBatchSize: 0 }', { onBatch: good, maxBatchSize: 0 }, RangeError, 'ERR_INVALID_ARG_VALUE'],
    ['{ maxBatchSize: 1.5 }', { onBatch: good, maxBatchSize: 1.5 }, RangeError, 'ERR_INVALID_ARG_VALUE'],
    ["{ maxBatchSize: '2' }", { onBatch: good, maxBatchSize: '2' }, TypeError, 'ERR_INVALID_ARG_TYPE'],
  ]
  const registrations: Array<[string, (h: unknown) => unknown]> = [
    ['handleEventsWith', (h) => d.handleEventsWith(h as Handler)],
    ['handleEventsWith(good, h)', (h) => d.handleEventsWith(counted, h as Handler)],
    ['handleEventsWithWorkerPool', (h) => d.handleEventsWithWorkerPool(counted, h as Handler)],
    ['andThen', (h) => g.andThen(counted, h as Handler)],
    ['andThenWorkerPool', (h) => g.andThenWorkerPool(h as Handler)],
    ['after(g).handleEventsWith', (h) => d.after(g).handleEventsWith(h as Handler)],
  ]
  const consumers = d.stats().consumers.length
  for (const [where, register] of registrations) {
    for (const [title, handler, cls, code] of bad) {
      problems.push(...expectThrow(`${where}(${title})`, () => register(handler), cls, code))
      t.is(d.stats().consumers.length, consumers, `${where}(${title}): nothing registered`)
    }
    await r.check(t, `after bad handlers for ${where}`)
  }
  const others: Array<[string, () => unknown, ErrorClass, string]> = [
    ['handleEventsWith()', () => d.handleEventsWith(), RangeError, 'ERR_INVALID_ARG_VALUE'],
    ['handleEventsWithWorkerPool()', () => d.handleEventsWithWorkerPool(), RangeError, 'ERR_INVALID_ARG_VALUE'],
    ['poller({ maxBatchSize: 0 })', () => d.poller({ maxBatchSize: 0 }), RangeError, 'ERR_INVALID_ARG_VALUE'],
    ['poller(5)', () => d.poller(5 as never), TypeError, 'ERR_INVALID_ARG_TYPE'],
    ['poller({ name: 5 })', () => d.poller({ name: 5 as never }), TypeError, 'ERR_INVALID_ARG_TYPE'],
    ['batches({ maxBatchSize: 1.5 })', () => d.batches({ maxBatchSize: 1.5 }), RangeError, 'ERR_INVALID_ARG_VALUE'],
    ['batches(null)', () => d.batches(null as never), TypeError, 'ERR_INVALID_ARG_TYPE'],
    ['publishEvent(5)', () => d.publishEvent(5 as never), TypeError, 'ERR_INVALID_ARG_TYPE'],
    ['offset(-1)', () => d.offset(-1), RangeError, 'ERR_INVALID_ARG_VALUE'],
    ['offset(1.5)', () => d.offset(1.5), RangeError, 'ERR_INVALID_ARG_VALUE'],
    ['offset(2**53)', () => d.offset(2 ** 53), RangeError, 'ERR_INVALID_ARG_VALUE'],
    ["offset('1')", () => d.offset('1' as never), TypeError, 'ERR_INVALID_ARG_TYPE'],
  ]
  for (const [title, call, cls, code] of others) {
    problems.push(...expectThrow(title, call, cls, code))
    t.is(d.stats().consumers.length, consumers, `${title}: nothing registered`)
    await r.check(t, `after ${title}`)
  }
  const p = d.poller()
  problems.push(...expectThrow('poll(5)', () => p.poll(5 as never), TypeError, 'ERR_INVALID_ARG_TYPE'))
  p.close()
  problems.push(
    ...(await expectReject(
      'drain({ timeout: -1 })',
      () => d.drain({ timeout: -1 }),
      RangeError,
      'ERR_INVALID_ARG_VALUE',
    )),
  )
  problems.push(
    ...(await expectReject(
      "drain({ timeout: '1' })",
      () => d.drain({ timeout: '1' as never }),
      TypeError,
      'ERR_INVALID_ARG_TYPE',
    )),
  )
  problems.push(
    ...(await expectReject(
      'nextAsync(1, { signal: {} })',
      () => d.nextAsync(1, { signal: {} as never }),
      TypeError,
      'ERR_INVALID_ARG_TYPE',
    )),
  )
  // close() with a bad option: an error, and the ring is not closed
  let closeError: unknown
  try {
    await d.close({ timeout: -1 })
  } catch (e) {
    closeError = e
  }
  problems.push(...errorProblems('close({ timeout: -1 })', closeError, RangeError, 'ERR_INVALID_ARG_VALUE'))
  await r.check(t, 'after the bad close()')
  t.is(goodCalls, 0, 'no handler of a refused registration was ever called')
  t.deepEqual(problems, [])
  await d.close()
})

test('Disruptor.attach with forged handles throws with the exact class and code', async (t) => {
  const r = ringWithHandler()
  const d = r.d
  const problems: string[] = []
  const h = d.share()
  const closed = new Disruptor({ size: 8, slotSize: 8 })
  const closedHandle = closed.share()
  await closed.close()
  const cases: Array<[string, unknown, ErrorClass, string]> = [
    ['{}', {}, RangeError, 'ERR_INVALID_ARG_VALUE'],
    ['null', null, TypeError, 'ERR_INVALID_ARG_TYPE'],
    ['undefined', undefined, TypeError, 'ERR_INVALID_ARG_TYPE'],
    ["'x'", 'x', TypeError, 'ERR_INVALID_ARG_TYPE'],
    [
      "{ kind: 'napi-disruptor', id: 999, token: 'x' }",
      { kind: 'napi-disruptor', id: 999, token: 'x' },
      RangeError,
      'ERR_INVALID_ARG_VALUE',
    ],
    ['a live handle with a forged token', { ...h, token: 'forged' }, RangeError, 'ERR_INVALID_ARG_VALUE'],
    ['a live handle with another kind', { ...h, kind: 'other' }, RangeError, 'ERR_INVALID_ARG_VALUE'],
    ['a live handle with id 0', { ...h, id: 0 }, RangeError, 'ERR_INVALID_ARG_VALUE'],
    ['a live handle with id 2**32', { ...h, id: 2 ** 32 }, RangeError, 'ERR_INVALID_ARG_VALUE'],
    ["a live handle with id '1'", { ...h, id: String(h.id) }, RangeError, 'ERR_INVALID_ARG_VALUE'],
    ['a live handle with token 5', { ...h, token: 5 }, RangeError, 'ERR_INVALID_ARG_VALUE'],
    ['the handle of a closed ring', closedHandle, Error, 'ERR_DISRUPTOR_CLOSED'],
  ]
  for (const [title, handle, cls, code] of cases) {
    problems.push(...expectThrow(`attach(${title})`, () => Disruptor.attach(handle as SharedDisruptor), cls, code))
    await r.check(t, `after attach(${title})`)
  }
  t.deepEqual(problems, [])
  await d.close()
})

test('after()/and() with groups of another Disruptor or non-groups throw with the exact class and code', async (t) => {
  const r = ringWithHandler()
  const d = r.d
  const problems: string[] = []
  const other = new Disruptor({ size: 8, slotSize: 8 })
  const foreign = other.handleEventsWith(() => {})
  other.start()
  const g = d.handleEventsWith(() => {})
  const cases: Array<[string, () => unknown, ErrorClass, string]> = [
    ['after(foreign group)', () => d.after(foreign), RangeError, 'ERR_INVALID_ARG_VALUE'],
    ['after(g, foreign group)', () => d.after(g, foreign), RangeError, 'ERR_INVALID_ARG_VALUE'],
    ['after()', () => d.after(), RangeError, 'ERR_INVALID_ARG_VALUE'],
    ['after({})', () => d.after({} as never), TypeError, 'ERR_INVALID_ARG_TYPE'],
    ['after(null)', () => d.after(null as never), TypeError, 'ERR_INVALID_ARG_TYPE'],
    ['g.and(foreign group)', () => g.and(foreign), RangeError, 'ERR_INVALID_ARG_VALUE'],
    ['g.and({})', () => g.and({} as never), TypeError, 'ERR_INVALID_ARG_TYPE'],
    // A group not made by a Disruptor belongs to none.
    [
      'after(made group)',
      () => d.after(Object.create(EventHandlerGroup.prototype)),
      RangeError,
      'ERR_INVALID_ARG_VALUE',
    ],
    ['g.and(made group)', () => g.and(Object.create(EventHandlerGroup.prototype)), RangeError, 'ERR_INVALID_ARG_VALUE'],
  ]
  const consumers = d.stats().consumers.length
  for (const [title, call, cls, code] of cases) {
    problems.push(...expectThrow(title, call, cls, code))
    t.is(d.stats().consumers.length, consumers, `${title}: nothing registered`)
    await r.check(t, `after ${title}`)
  }
  t.deepEqual(problems, [])
  await other.close()
  await d.close()
})

test('calls after close() throw ERR_DISRUPTOR_CLOSED', async (t) => {
  const r = ringWithHandler()
  const d = r.d
  const g = d.handleEventsWith(() => {})
  const problems: string[] = []
  await r.check(t, 'before close')
  const closing = d.close()
  t.is(d.close(), closing, 'close() again returns the first promise')
  await closing
  const cases: Array<[string, () => unknown]> = [
    ['next()', () => d.next()],
    ['tryNext()', () => d.tryNext()],
    ['publish(0)', () => d.publish(0)],
    ['publishEvent()', () => d.publishEvent(() => {})],
    ['handleEventsWith()', () => d.handleEventsWith(() => {})],
    ['handleEventsWithWorkerPool()', () => d.handleEventsWithWorkerPool(() => {})],
    ['g.andThen()', () => g.andThen(() => {})],
    ['after(g)', () => d.after(g)],
    ['poller()', () => d.poller()],
    ['batches()', () => d.batches()],
    ['start()', () => d.start()],
    ['share()', () => d.share()],
  ]
  for (const [title, call] of cases) problems.push(...expectThrow(title, call, Error, 'ERR_DISRUPTOR_CLOSED'))
  problems.push(...(await expectReject('nextAsync()', () => d.nextAsync(), Error, 'ERR_DISRUPTOR_CLOSED')))
  problems.push(...(await expectReject('drain()', () => d.drain(), Error, 'ERR_DISRUPTOR_CLOSED')))
  t.deepEqual(problems, [])
  t.notThrows(() => d.halt(), 'halt() after close() is a no-op')
})

test('start() twice throws ERR_DISRUPTOR_ALREADY_STARTED and the ring still delivers', async (t) => {
  const r = ringWithHandler()
  const problems: string[] = []
  problems.push(...expectThrow('start() again', () => r.d.start(), Error, 'ERR_DISRUPTOR_ALREADY_STARTED'))
  await r.check(t, 'after the second start()')
  t.deepEqual(problems, [])
  await r.d.close()
})

test('drain() before start() with consumers rejects with ERR_DISRUPTOR_NOT_STARTED, without consumers it resolves', async (t) => {
  const d = new Disruptor({ size: 8, slotSize: 8 })
  await t.notThrowsAsync(d.drain(), 'no consumers: nothing to wait for')
  const seen: number[] = []
  d.handleEventsWith((lo, hi) => {
    for (let s = lo; s <= hi; s++) seen.push(s)
  })
  d.publish(d.next())
  const problems: string[] = []
  problems.push(...(await expectReject('drain() before start()', () => d.drain(), Error, 'ERR_DISRUPTOR_NOT_STARTED')))
  d.start()
  d.publish(d.next())
  await d.drain()
  t.deepEqual(seen, [0, 1])
  t.deepEqual(problems, [])
  await d.close()
})

for (const kind of ['a started handler', 'a handler not started yet', 'a poller', 'a batches() iterator'] as const) {
  test(`a blocking next() on a full ring whose only consumer is ${kind} on this thread throws ERR_DISRUPTOR_WOULD_DEADLOCK; the ring still works`, async (t) => {
    const size = 4
    const d = new Disruptor({ size, slotSize: 8 })
    const seen: number[] = []
    let consume: () => Promise<void> | void = () => {}
    if (kind === 'a poller') {
      const p = d.poller()
      consume = () => {
        p.poll((lo, hi) => {
          for (let s = lo; s <= hi; s++) seen.push(s)
        })
      }
    } else if (kind === 'a batches() iterator') {
      const it = d.batches()
      consume = async () => {
        const r = await it.next()
        if (r.done !== true) for (let s = r.value.lo; s <= r.value.hi; s++) seen.push(s)
        await it.return?.()
      }
    } else {
      d.handleEventsWith((lo, hi) => {
        for (let s = lo; s <= hi; s++) seen.push(s)
      })
      if (kind === 'a started handler') d.start()
      consume = async () => {
        if (kind === 'a handler not started yet') d.start()
        await d.drain()
      }
    }
    // fill the ring without yielding: the handler cannot run meanwhile
    const problems: string[] = []
    for (let i = 0; i < size; i++) d.publish(d.next())
    for (const n of [1, 2, size]) {
      problems.push(...expectThrow(`next(${n}) on a full ring`, () => d.next(n), Error, 'ERR_DISRUPTOR_WOULD_DEADLOCK'))
    }
    t.deepEqual(problems, [])
    t.is(d.cursor, size - 1, 'nothing claimed')
    t.is(d.remainingCapacity(), 0)
    await consume()
    t.deepEqual(seen, range(0, size - 1))
    const s = d.next()
    t.is(s, size, 'no gap in the sequences')
    d.publish(s)
    if (kind === 'a poller') consume()
    else if (kind !== 'a batches() iterator') await d.drain()
    t.is(d.cursor, size)
    await d.close()
  })
}

test('a throwing handler (default policy) halts, drain() rejects with ERR_DISRUPTOR_CONSUMER_HALTED and the error as cause, an error event is emitted', async (t) => {
  const d = new Disruptor({ size: 16, slotSize: 8 })
  const boom = new Error('boom at 3')
  const calls: number[] = []
  let shutdowns = 0
  d.handleEventsWith({
    name: 'bad',
    maxBatchSize: 1,
    onBatch: (lo) => {
      calls.push(lo)
      if (lo === 3) throw boom
    },
    onShutdown: () => shutdowns++,
  })
  const events: Array<[unknown, unknown]> = []
  d.on('error', (e: unknown, name: unknown) => events.push([e, name]))
  d.start()
  for (let i = 0; i < 6; i++) d.publish(d.next())
  const err = await t.throwsAsync(d.drain(), { instanceOf: Error, code: 'ERR_DISRUPTOR_CONSUMER_HALTED' })
  t.is(err?.cause, boom)
  t.deepEqual(events, [[boom, 'bad']])
  await sleep(5)
  t.deepEqual(calls, [0, 1, 2, 3], 'the handler is not called again after it halted')
  t.is(shutdowns, 1, 'onShutdown runs when the handler halts')
  const c = d.stats().consumers[0]
  t.is(c.state, 'failed')
  t.is(c.sequence, 2, 'its sequence stays before the failed event')
  t.is(c.errors, 1)
  t.regex(c.lastError ?? '', /boom at 3/)
  const closeErr = await t.throwsAsync(d.close(), { code: 'ERR_DISRUPTOR_CONSUMER_HALTED' })
  t.is(closeErr?.cause, boom)
  t.is(shutdowns, 1)
})

test('a throwing handler with no error listener does not crash the process', async (t) => {
  const d = new Disruptor({ size: 16, slotSize: 8 })
  t.is(d.listenerCount('error'), 0)
  const boom = new TypeError('no listener')
  d.handleEventsWith(() => {
    throw boom
  })
  d.start()
  d.publish(d.next())
  const err = await t.throwsAsync(d.drain(), { code: 'ERR_DISRUPTOR_CONSUMER_HALTED' })
  t.is(err?.cause, boom)
  await t.throwsAsync(d.close(), { code: 'ERR_DISRUPTOR_CONSUMER_HALTED' })

  // and in a process of its own, which must exit normally
  const source = `
    const { Disruptor } = require(${JSON.stringify(INDEX)})
    const d = new Disruptor({ size: 8, slotSize: 8 })
    d.handleEventsWith(() => { throw new Error('unhandled?') })
    d.handleEventsWith(async () => { throw new Error('rejected?') })
    d.start()
    d.publish(d.next())
    setTimeout(() => {
      console.log(JSON.stringify(d.stats().consumers.map((c) => c.state)))
      d.close().catch((e) => console.log(e.code))
    }, 100)
  `
  const r = spawnSync(process.execPath, ['-e', source], { encoding: 'utf8', timeout: 10_000 })
  t.is(r.status, 0, `exit status (stderr: ${r.stderr})`)
  t.is(r.stdout, '["failed","failed"]\nERR_DISRUPTOR_CONSUMER_HALTED\n')
})

test("onError 'skip' goes on after errors, counts them in stats().consumers[i].errors; downstream sees every sequence", async (t) => {
  const d = new Disruptor({ size: 16, slotSize: 8 })
  const total = 30
  const calls: number[] = []
  const g = d.handleEventsWith({
    name: 'skipper',
    maxBatchSize: 1,
    onError: 'skip',
    onBatch: (lo) => {
      calls.push(lo)
      if (lo % 3 === 0) throw new Error(`bad ${lo}`)
    },
  })
  const downstream = downstreamOf(g)
  let errorEvents = 0
  d.on('error', () => errorEvents++)
  d.start()
  for (let i = 0; i < total; i++) d.publish(await d.nextAsync())
  await d.drain()
  t.deepEqual(calls, range(0, total - 1))
  t.deepEqual(downstream, range(0, total - 1))
  const c = d.stats().consumers[0]
  t.is(c.name, 'skipper')
  t.is(c.errors, total / 3)
  t.is(c.state, 'running')
  t.is(c.sequence, total - 1)
  t.regex(c.lastError ?? '', /bad 27/)
  t.is(errorEvents, 0, 'skipped errors are not halts')
  await d.close()
})

test("an onError function decides per error: anything but 'halt' skips, 'halt' halts; it gets (error, lo, hi)", async (t) => {
  const d = new Disruptor({ size: 16, slotSize: 8 })
  const decisions: Array<[string, number, number]> = []
  const errors = new Map<number, Error>()
  d.handleEventsWith({
    maxBatchSize: 1,
    onBatch: (lo) => {
      if (lo % 2 === 0) {
        const e = new Error(`even ${lo}`)
        errors.set(lo, e)
        throw e
      }
    },
    onError: (e, lo, hi) => {
      decisions.push([(e as Error).message, lo, hi])
      return lo >= 6 ? 'halt' : undefined
    },
  })
  d.start()
  for (let i = 0; i < 10; i++) d.publish(d.next())
  const err = await t.throwsAsync(d.drain(), { code: 'ERR_DISRUPTOR_CONSUMER_HALTED' })
  t.is(err?.cause, errors.get(6))
  t.deepEqual(decisions, [
    ['even 0', 0, 0],
    ['even 2', 2, 2],
    ['even 4', 4, 4],
    ['even 6', 6, 6],
  ])
  const c = d.stats().consumers[0]
  t.is(c.state, 'failed')
  t.is(c.sequence, 5)
  t.is(c.errors, 4)
  await t.throwsAsync(d.close(), { code: 'ERR_DISRUPTOR_CONSUMER_HALTED' })
})

test('an onError function that throws halts the handler with its own error as cause', async (t) => {
  const d = new Disruptor({ size: 16, slotSize: 8 })
  const fromOnError = new Error('onError failed')
  d.handleEventsWith({
    onBatch: () => {
      throw new Error('handler failed')
    },
    onError: () => {
      throw fromOnError
    },
  })
  d.start()
  d.publish(d.next())
  const err = await t.throwsAsync(d.drain(), { code: 'ERR_DISRUPTOR_CONSUMER_HALTED' })
  t.is(err?.cause, fromOnError)
  await t.throwsAsync(d.close(), { code: 'ERR_DISRUPTOR_CONSUMER_HALTED' })
})

test('a rejected Promise follows the same policy: default halts (drain rejects, error event), skip goes on', async (t) => {
  const halting = new Disruptor({ size: 16, slotSize: 8 })
  const rejection = new Error('rejected at 2')
  halting.handleEventsWith({
    name: 'async-bad',
    maxBatchSize: 1,
    onBatch: async (lo) => {
      await sleep(0)
      if (lo === 2) throw rejection
    },
  })
  const events: unknown[] = []
  halting.on('error', (e: unknown, name: unknown) => events.push([e, name]))
  halting.start()
  for (let i = 0; i < 5; i++) halting.publish(halting.next())
  const err = await t.throwsAsync(halting.drain(), { code: 'ERR_DISRUPTOR_CONSUMER_HALTED' })
  t.is(err?.cause, rejection)
  t.deepEqual(events, [[rejection, 'async-bad']])
  t.is(halting.stats().consumers[0].sequence, 1)
  await t.throwsAsync(halting.close(), { code: 'ERR_DISRUPTOR_CONSUMER_HALTED' })

  const skipping = new Disruptor({ size: 16, slotSize: 8 })
  const seen: number[] = []
  skipping.handleEventsWith({
    maxBatchSize: 1,
    onError: 'skip',
    onBatch: async (lo) => {
      await sleep(0)
      seen.push(lo)
      if (lo % 2 === 1) throw new Error(`odd ${lo}`)
    },
  })
  skipping.start()
  for (let i = 0; i < 8; i++) skipping.publish(skipping.next())
  await skipping.drain()
  t.deepEqual(seen, range(0, 7))
  t.is(skipping.stats().consumers[0].errors, 4)
  await skipping.close()
})

test('a result whose then cannot be read (a throwing getter, a revoked Proxy) follows the policy like a rejection, in or out of order', async (t) => {
  const { proxy, revoke } = Proxy.revocable({}, {})
  revoke()
  const getterError = new Error('then getter')
  const results: Array<[string, () => unknown, unknown]> = [
    [
      'throwing getter',
      () => ({
        // biome-ignore lint/suspicious/noThenProperty: a handler result whose then getter throws is the case under test
        get then() {
          throw getterError
        },
      }),
      getterError,
    ],
    ['revoked proxy', () => proxy, TypeError],
  ]
  for (const [what, bad, expected] of results) {
    // Halting (default): the consumer halts, drain and close report it, the error event names it.
    const d = new Disruptor({ size: 16, slotSize: 8 })
    d.handleEventsWith({ name: 'bad-then', maxBatchSize: 1, onBatch: (lo) => (lo === 2 ? bad() : undefined) })
    const events: unknown[] = []
    d.on('error', (e: unknown, name: unknown) => events.push([e, name]))
    d.start()
    for (let i = 0; i < 5; i++) d.publish(d.next())
    const err = await t.throwsAsync(d.drain(), { code: 'ERR_DISRUPTOR_CONSUMER_HALTED' }, what)
    if (expected === TypeError) t.true(err?.cause instanceof TypeError, what)
    else t.is(err?.cause, expected, what)
    t.is(events.length, 1, what)
    t.is((events[0] as unknown[])[1], 'bad-then', what)
    t.is(d.stats().consumers[0].sequence, 1, what)
    t.is(d.stats().consumers[0].state, 'failed', what)
    await t.throwsAsync(d.close(), { code: 'ERR_DISRUPTOR_CONSUMER_HALTED' }, what)

    // Skipping: the batch counts as an error and the consumer goes on.
    const s = new Disruptor({ size: 16, slotSize: 8 })
    let seen = 0
    s.handleEventsWith({
      maxBatchSize: 1,
      onError: 'skip',
      onBatch: (lo) => {
        seen++
        return lo % 2 === 1 ? bad() : undefined
      },
    })
    s.start()
    for (let i = 0; i < 8; i++) s.publish(s.next())
    await s.drain()
    t.is(seen, 8, what)
    t.is(s.stats().consumers[0].errors, 4, what)
    await s.close()
  }
})

test('downstream of a halted handler never sees the failed sequence or later ones, nor any sequence twice; producers get ERR_DISRUPTOR_CONSUMER_HALTED', async (t) => {
  const size = 8
  const d = new Disruptor({ size, slotSize: 8 })
  const boom = new Error('boom at 5')
  const upstream = d.handleEventsWith({
    name: 'upstream',
    maxBatchSize: 1,
    onBatch: (lo) => {
      if (lo === 5) throw boom
    },
  })
  const downstream: number[] = []
  upstream.andThen({
    name: 'downstream',
    onBatch: (lo, hi) => {
      for (let s = lo; s <= hi; s++) downstream.push(s)
    },
  })
  d.start()
  for (let i = 0; i < size; i++) d.publish(d.next())
  const err = await t.throwsAsync(d.drain(), { code: 'ERR_DISRUPTOR_CONSUMER_HALTED' })
  t.is(err?.cause, boom)
  await waitFor(() => downstream.length >= 5, 'downstream gets what upstream finished')
  // the ring has room up to upstream's sequence + size: publish what fits, then a claim past it fails
  const room = d.remainingCapacity()
  t.is(room, 5, 'upstream finished 0..4')
  for (let i = 0; i < room; i++) d.publish(await d.nextAsync())
  const problems: string[] = []
  problems.push(
    ...(await expectReject(
      'nextAsync() past the halted consumer',
      () => d.nextAsync(),
      Error,
      'ERR_DISRUPTOR_CONSUMER_HALTED',
    )),
  )
  await sleep(5)
  t.deepEqual(problems, [])
  t.deepEqual(downstream, [0, 1, 2, 3, 4], 'never 5 or later, never twice')
  await t.throwsAsync(d.close(), { code: 'ERR_DISRUPTOR_CONSUMER_HALTED' })
})

test('downstream of a worker pool whose worker halted never sees the failed sequence or later ones', async (t) => {
  const d = new Disruptor({ size: 16, slotSize: 8 })
  const boom = new Error('worker failed at 5')
  const deliveries = new Map<number, number>()
  const finished = new Set<number>()
  const worker = (lo: number, hi: number) => {
    for (let s = lo; s <= hi; s++) {
      deliveries.set(s, (deliveries.get(s) ?? 0) + 1)
      if (s === 5) throw boom
    }
    return sleep(Math.random() < 0.5 ? 0 : 1).then(() => {
      for (let s = lo; s <= hi; s++) finished.add(s)
    })
  }
  const pool = d.handleEventsWithWorkerPool({ maxBatchSize: 1, onBatch: worker }, { maxBatchSize: 1, onBatch: worker })
  const downstream = downstreamOf(pool)
  d.start()
  for (let i = 0; i < 12; i++) d.publish(d.next())
  const err = await t.throwsAsync(d.drain(), { code: 'ERR_DISRUPTOR_CONSUMER_HALTED' })
  t.is(err?.cause, boom)
  await sleep(10)
  // a batch still in flight when the pool halted may or may not count: downstream gets a
  // prefix of what the workers finished, never 5 or later, never twice
  t.true(downstream.length <= 5, `downstream got ${downstream.join(', ')}`)
  t.deepEqual(downstream, range(0, downstream.length - 1))
  t.true(
    downstream.every((s) => finished.has(s)),
    'downstream only gets sequences a worker finished',
  )
  t.true(
    [...deliveries.values()].every((n) => n === 1),
    'no sequence went to two workers',
  )
  await t.throwsAsync(d.close(), { code: 'ERR_DISRUPTOR_CONSUMER_HALTED' })
})

// Rewind: a handler gets the same batch again after an error, a bounded number of times.
for (const style of ['throws', 'rejects'] as const) {
  test(`onError 'rewind': a handler that ${style} twice on a batch gets it again and then goes on; downstream sees every sequence once, in order`, async (t) => {
    const d = new Disruptor({ size: 16, slotSize: 8 })
    const calls: number[] = []
    let failures = 2
    const g = d.handleEventsWith({
      name: 'flaky',
      maxBatchSize: 1,
      onError: 'rewind',
      rewindDelayMs: style === 'throws' ? 0 : 5,
      onBatch: (lo) => {
        calls.push(lo)
        if (lo === 3 && failures > 0) {
          failures--
          if (style === 'throws') throw new Error('disk full')
          return Promise.reject(new Error('connection dropped'))
        }
        return undefined
      },
    })
    const downstream = downstreamOf(g)
    let errorEvents = 0
    d.on('error', () => errorEvents++)
    d.start()
    for (let i = 0; i < 8; i++) d.publish(await d.nextAsync())
    await d.drain({ timeout: 10_000 })
    t.deepEqual(calls, [0, 1, 2, 3, 3, 3, 4, 5, 6, 7])
    t.deepEqual(downstream, range(0, 7))
    const c = d.stats().consumers[0]
    t.is(c.errors, 2)
    t.is(c.state, 'running')
    t.is(errorEvents, 0, 'rewound errors are not halts')
    await d.close()
  })
}

test("onError 'rewind' gives up after maxRewinds in a row and halts; an onError function may ask for a rewind", async (t) => {
  const d = new Disruptor({ size: 16, slotSize: 8 })
  const calls: number[] = []
  const g = d.handleEventsWith({
    maxBatchSize: 1,
    onError: 'rewind',
    maxRewinds: 2,
    onBatch: (lo) => {
      calls.push(lo)
      if (lo === 1) throw new Error('never passes')
    },
  })
  const downstream = downstreamOf(g)
  d.on('error', () => {})
  d.start()
  for (let i = 0; i < 3; i++) d.publish(await d.nextAsync())
  const e = await t.throwsAsync(d.drain({ timeout: 10_000 }))
  t.is((e as DisruptorError).code, 'ERR_DISRUPTOR_CONSUMER_HALTED')
  t.deepEqual(calls, [0, 1, 1, 1], 'the first try and two rewinds')
  t.deepEqual(downstream, [0])
  await d.close().catch(() => {})

  const e2 = new Disruptor({ size: 16, slotSize: 8 })
  const seen: number[] = []
  let tries = 0
  e2.handleEventsWith({
    maxBatchSize: 1,
    onError: (_error, lo) => (lo === 2 && tries < 3 ? 'rewind' : 'skip'),
    onBatch: (lo) => {
      seen.push(lo)
      if (lo === 2 && tries++ < 3) throw new Error('retry me')
    },
  })
  e2.start()
  for (let i = 0; i < 4; i++) e2.publish(await e2.nextAsync())
  await e2.drain({ timeout: 10_000 })
  t.deepEqual(seen, [0, 1, 2, 2, 2, 3], 'the first try, two rewinds, then the third error is skipped')
  await e2.close()
})

test('rewind options refuse bad values with coded errors and register nothing', async (t) => {
  const d = new Disruptor({ size: 16, slotSize: 8 })
  const onBatch = () => {}
  const cases: Array<[string, unknown, ErrorClass, string]> = [
    ['maxRewinds -1', { onBatch, maxRewinds: -1 }, RangeError, 'ERR_INVALID_ARG_VALUE'],
    ['maxRewinds 1.5', { onBatch, maxRewinds: 1.5 }, RangeError, 'ERR_INVALID_ARG_VALUE'],
    ["maxRewinds '3'", { onBatch, maxRewinds: '3' }, TypeError, 'ERR_INVALID_ARG_TYPE'],
    ['rewindDelayMs -1', { onBatch, rewindDelayMs: -1 }, RangeError, 'ERR_INVALID_ARG_VALUE'],
    ['rewindDelayMs NaN', { onBatch, rewindDelayMs: Number.NaN }, RangeError, 'ERR_INVALID_ARG_VALUE'],
    ["onError 'again'", { onBatch, onError: 'again' }, RangeError, 'ERR_INVALID_ARG_VALUE'],
  ]
  const problems: string[] = []
  for (const [title, handler, cls, code] of cases) {
    problems.push(...expectThrow(title, () => d.handleEventsWith(handler as Handler), cls, code))
  }
  t.deepEqual(problems, [])
  t.is(d.stats().consumers.length, 0)
  await d.close()
})

test("onError 'rewind' in a worker pool: the batch goes back to the same worker, the others go on, downstream sees every sequence once, in order", async (t) => {
  const d = new Disruptor({ size: 16, slotSize: 8 })
  const handledBy = new Map<number, string[]>()
  let failed = false
  const worker = (name: string) => ({
    name,
    maxBatchSize: 1,
    onError: 'rewind' as const,
    rewindDelayMs: 5,
    onBatch: (lo: number) => {
      handledBy.set(lo, [...(handledBy.get(lo) ?? []), name])
      if (lo === 3 && !failed) {
        failed = true
        throw new Error('once')
      }
    },
  })
  const g = d.handleEventsWithWorkerPool(worker('a'), worker('b'))
  const downstream = downstreamOf(g)
  d.start()
  for (let i = 0; i < 10; i++) d.publish(await d.nextAsync())
  await d.drain({ timeout: 10_000 })
  t.deepEqual(downstream, range(0, 9))
  const three = handledBy.get(3) ?? []
  t.is(three.length, 2)
  t.is(three[0], three[1], 'the same worker got it again')
  for (let s = 0; s <= 9; s++) if (s !== 3) t.is(handledBy.get(s)?.length, 1, `sequence ${s}`)
  await d.close()
})
