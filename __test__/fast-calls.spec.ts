// The binding's fast functions (crates/binding/src/fast.rs): raw N-API functions bound to their
// ring through the callback's data pointer. They are internal, but reachable, so bad input must
// get the methods' coded errors (and change nothing), and a function must outlive the objects
// it was made from without touching freed memory.
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'

import test from 'ava'

import { Disruptor } from '../src'
import { ClaimSentinel, type FastCalls } from '../src/protocol'

const fastOf = (d: Disruptor): FastCalls => (d as unknown as { native: { fastCalls(): FastCalls } }).native.fastCalls()

const codeOf = (f: () => unknown): { code: unknown; type: boolean } => {
  try {
    f()
  } catch (e) {
    return { code: (e as { code?: unknown }).code, type: e instanceof TypeError }
  }
  return { code: 'no error', type: false }
}

test('bad arguments get coded errors and publish nothing', (t) => {
  const d = new Disruptor({ size: 8, slotSize: 8, producer: 'multi' })
  const p = d.poller()
  const fast = fastOf(d)
  const call = fast.publish as unknown as (...a: unknown[]) => void
  t.deepEqual(
    codeOf(() => call('0', 0)),
    { code: 'ERR_INVALID_ARG_TYPE', type: true },
  )
  t.deepEqual(
    codeOf(() => call(0)),
    { code: 'ERR_INVALID_ARG_TYPE', type: true },
  )
  t.is(codeOf(() => fast.publish(-1, 0)).code, 'ERR_INVALID_ARG_VALUE')
  t.is(codeOf(() => fast.publish(0.5, 1)).code, 'ERR_INVALID_ARG_VALUE')
  t.is(codeOf(() => fast.publish(2 ** 53, 2 ** 53)).code, 'ERR_INVALID_ARG_VALUE')
  t.is(codeOf(() => fast.publish(3, 1)).code, 'ERR_INVALID_ARG_VALUE')
  t.is(codeOf(() => fast.publish(0, 0)).code, 'ERR_DISRUPTOR_NOT_CLAIMED')
  t.is(codeOf(() => fast.arm(1234, 0)).code, 'ERR_INVALID_ARG_VALUE')
  t.is(codeOf(() => fast.arm(-1, 0)).code, 'ERR_INVALID_ARG_VALUE')
  t.is(codeOf(() => fast.arm(0, Number.NaN)).code, 'ERR_INVALID_ARG_VALUE')
  t.is(d.cursor, -1)

  // A claim published through the fast function, then again: the engine's checks.
  const hi = d.next(3)
  fast.publish(hi - 2, hi)
  t.is(codeOf(() => fast.publish(hi, hi)).code, 'ERR_DISRUPTOR_ALREADY_PUBLISHED')
  const seen: number[] = []
  p.poll((lo, h) => {
    for (let s = lo; s <= h; s++) seen.push(s)
  })
  t.deepEqual(seen, [0, 1, 2])
  t.is(fast.gatingMinimum(), 2)
  t.false(fast.isHalted())
  d.halt()
  t.true(fast.isHalted())
})

test('a detached instance never takes the single-producer role back (its publish is refused as closed)', async (t) => {
  const d = new Disruptor({ size: 8, slotSize: 8, producer: 'single' })
  const other = Disruptor.attach(d.share())
  const fast = fastOf(other)
  await other.close()
  t.is(codeOf(() => fast.publish(0, 0)).code, 'ERR_DISRUPTOR_CLOSED')
  // The role is still free: this thread's first instance takes it.
  const s = d.next()
  d.publish(s)
  t.is(d.cursor, 0)
  d.halt()
})

test('the functions outlive the Disruptor they came from (the garbage collector took it)', async (t) => {
  setFlagsFromString('--expose-gc')
  const gc = runInNewContext('gc') as () => void
  let fast: FastCalls | null = null
  ;(() => {
    const d = new Disruptor({ size: 8, slotSize: 8, producer: 'multi' })
    fast = fastOf(d)
    d.halt()
  })()
  for (let i = 0; i < 3; i++) {
    gc()
    await new Promise((r) => setImmediate(r))
  }
  const f = fast as unknown as FastCalls
  t.true(f.isHalted())
  f.signal()
  t.is(codeOf(() => f.publish(0, 0)).code, 'ERR_DISRUPTOR_NOT_CLAIMED')
})

test('claim: the claim cursor exchanged within the gating bound it is given; bad input refused, nothing claimed', (t) => {
  const d = new Disruptor({ size: 8, slotSize: 8, producer: 'multi' })
  const p = d.poller()
  const fast = fastOf(d)
  const call = fast.claim as unknown as (...a: unknown[]) => unknown
  t.deepEqual(
    codeOf(() => call('1', 0)),
    { code: 'ERR_INVALID_ARG_TYPE', type: true },
  )
  for (const n of [0, 9, 1.5, -1, Number.NaN]) t.is(codeOf(() => fast.claim(n, 0)).code, 'ERR_INVALID_ARG_VALUE')
  t.is(codeOf(() => fast.claim(1, Number.NaN)).code, 'ERR_INVALID_ARG_VALUE')
  // No room by the bound given (a claim may reach one ring past it): nothing claimed.
  t.is(fast.claim(1, Number.NEGATIVE_INFINITY), ClaimSentinel.NoRoom)
  t.is(fast.claim(8, -2), ClaimSentinel.NoRoom)
  t.is(d.remainingCapacity(), 8)
  t.is(fast.claim(3, -1), 2) // [0, 2]
  t.is(d.remainingCapacity(), 5)
  fast.publish(0, 2)
  const seen: number[] = []
  p.poll((lo, hi) => {
    for (let s = lo; s <= hi; s++) seen.push(s)
  })
  t.deepEqual(seen, [0, 1, 2])
  // The Disruptor's own claims go on after it.
  const hi = d.next(2)
  t.is(hi, 4)
  d.publish(3, 4)
  d.halt()

  // A single producer's cursor word is its split cursor's epoch: never claimed on.
  const single = new Disruptor({ size: 8, slotSize: 8, producer: 'single' })
  t.is(codeOf(() => fastOf(single).claim(1, 100)).code, 'ERR_DISRUPTOR_SINGLE_PRODUCER')
  const s = single.next()
  single.publish(s)
  t.is(single.cursor, 0)
  single.halt()
})

test('claims past 2**31 - 1: the sequence comes from the claim mirror, exact, and publishes', (t) => {
  const size = 2 ** 20
  const d = new Disruptor({ size, slotSize: 8, producer: 'multi' })
  // No consumers: claims are bounded by what is published. 2048 rings of claims reach 2**31 - 1.
  for (let i = 0; i < 2 ** 31 / size; i++) {
    const hi = d.next(size)
    d.publish(hi - size + 1, hi)
  }
  t.is(d.cursor, 2 ** 31 - 1)
  const fast = fastOf(d)
  t.is(fast.claim(1, d.cursor), ClaimSentinel.InMirror)
  fast.publish(2 ** 31, 2 ** 31)
  const hi = d.next(3)
  t.is(hi, 2 ** 31 + 3)
  d.publish(hi - 2, hi)
  t.is(d.cursor, 2 ** 31 + 3)
  d.halt()
})

test('scan: how many sequences from `from` on are published, up to `last`; bad ranges refused', (t) => {
  const d = new Disruptor({ size: 8, slotSize: 8, producer: 'multi' })
  const fast = fastOf(d)
  t.is(d.next(5), 4)
  // Published out of order: 0-1 and 3-4, not 2.
  fast.publish(0, 1)
  fast.publish(3, 4)
  t.is(fast.scan(0, 4), 2)
  t.is(fast.scan(0, 0), 1)
  t.is(fast.scan(2, 4), 0)
  t.is(fast.scan(3, 7), 2)
  t.is(fast.scan(5, 7), 0)
  fast.publish(2, 2)
  t.is(fast.scan(0, 4), 5)
  t.is(fast.scan(0, 2), 3)
  t.is(fast.scan(1, 8), 4)
  for (const [from, last] of [
    [3, 2],
    [0, 8],
    [-1, 3],
    [0.5, 3],
    [Number.NaN, 3],
    [0, 2 ** 53],
  ]) {
    t.is(codeOf(() => fast.scan(from, last)).code, 'ERR_INVALID_ARG_VALUE', `[${from}, ${last}]`)
  }
  d.halt()
})
