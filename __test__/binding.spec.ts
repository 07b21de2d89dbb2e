import { readFileSync } from 'node:fs'
import { join } from 'node:path'

import test from 'ava'

import { NativeRing } from '../binding'
import { engineVersion } from '../src'

const pkg = JSON.parse(readFileSync(join(__dirname, '..', 'package.json'), 'utf8')) as {
  version: string
}

test('the native engine loads and its version matches package.json', (t) => {
  t.is(engineVersion(), pkg.version)
})

// The binding checks every number it is given, although only src/ calls it: a wrong value must
// be a coded error, never a cast that wraps, saturates or reads out of range.
const BAD_NUMBERS = [Number.NaN, Number.POSITIVE_INFINITY, -0.5, 1.5, 2 ** 53, -(2 ** 60)]

test('native calls refuse numbers out of range with ERR_INVALID_ARG_VALUE and change nothing', (t) => {
  const ring = new NativeRing(8, 8, false, { name: 'blocking' })
  const cid = ring.addConsumer('checked', [])
  const before = ring.stats().consumers[0]
  const refused = (what: string, call: () => unknown) => {
    const e = t.throws(call, undefined, what) as (Error & { code?: string }) | undefined
    t.is(e?.code, 'ERR_INVALID_ARG_VALUE', `${what}: ${e?.message}`)
  }
  for (const v of BAD_NUMBERS) {
    refused(`reserve claimed ${v}`, () => ring.reserve(-7, v, false))
    const none = new Float64Array(0)
    refused(`report batches ${v}`, () => ring.report(cid, v, 0, 0, 0, none))
    refused(`report events ${v}`, () => ring.report(cid, 0, v, 0, 0, none))
    refused(`report largestBatch ${v}`, () => ring.report(cid, 0, 0, v, 0, none))
    refused(`report skipped ${v}`, () => ring.report(cid, 0, 0, 0, v, none))
    refused(`report batchSizes ${v}`, () => ring.report(cid, 0, 0, 0, 0, new Float64Array([1, v])))
    refused(`reportClaims ${v}`, () => ring.reportClaims(v))
    refused(`reserve claims ${v}`, () => ring.reserve(-7, -1, false, undefined, v))
    refused(`abandonedIn lo ${v}`, () => ring.abandonedIn(v, 0))
    refused(`recordError sequence ${v}`, () => ring.recordError(cid, v, 'x'))
    refused(`fail sequence ${v}`, () => ring.fail(cid, v, 'x'))
    refused(`drained target ${v}`, () => ring.drained(v))
    refused(`arm next ${v}`, () => ring.fastCalls().arm(cid, v))
    refused(`waitForRoom claimed ${v}`, () => ring.waitForRoom(1, () => {}, v))
  }
  // wrap is claimed + n - size for a claim of n (1 ..= size): nothing else.
  refused('reserve wrap above claimed', () => ring.reserve(0, -1, false))
  refused('reserve wrap a ring below claimed', () => ring.reserve(-9, -1, false))
  refused('drained target -2', () => ring.drained(-2))
  refused('report 33 batch-size buckets', () => ring.report(cid, 0, 0, 0, 0, new Float64Array(33)))
  for (const wait of [
    { name: 'nope' },
    { name: 'timeout-blocking', timeoutMs: -1 },
    { name: 'blocking', spinTries: 1 },
  ]) {
    refused(`wait ${JSON.stringify(wait)}`, () => new NativeRing(8, 8, false, wait))
  }
  for (const v of [-1, Number.NaN]) {
    refused(`next sliceMs ${v}`, () => ring.next(1, v))
    refused(`reserve sliceMs ${v}`, () => ring.reserve(-7, -1, true, v))
  }
  // Nothing above took effect: no error recorded, the consumer did not fail, the ring works.
  const [c] = ring.stats().consumers
  t.is(c.errors, 0)
  t.is(c.state, before.state)
  t.not(c.state, 'failed')
  t.is(c.batches, 0)
  t.deepEqual(c.batchSizes, [])
  t.is(ring.stats().claims, 0)
  t.true(ring.drained(-1))
  t.is(ring.reserve(-7, -1, false), -1)
  // Claims given to reserve count whatever it answers: room, or an argument refused after them.
  t.is(ring.reserve(-7, -1, false, undefined, 3), -1)
  refused('reserve wrap above claimed, with claims', () => ring.reserve(0, -1, false, undefined, 2))
  t.is(ring.stats().claims, 5)
  ring.halt()
})
