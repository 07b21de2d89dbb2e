/**
 * ProcessRing: one ring in named shared memory across real processes (Node children, and a Rust
 * process built here from crates/disruptor-core). Exactly-once, in-order delivery with three
 * producer processes and two consumer processes; a producer SIGKILLed holding a claim and a
 * consumer SIGKILLed while it gates, the others finishing with nothing lost and nothing stale;
 * the event layout travelling with the ring; bad names, foreign, truncated and other-version
 * files as coded errors.
 */

import { spawnSync } from 'node:child_process'
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { Worker } from 'node:worker_threads'
import test from 'ava'
import { Disruptor, type DisruptorClass, defineEvent, ProcessRing } from '../dist/index.js'
import { killPeers, Peer, RUST_PEER } from './peer'

const ROOT = resolve(__dirname, '..')
const DIR = process.env.NAPI_DISRUPTOR_SHM_DIR ?? '/dev/shm'
const fileOf = (name: string) => join(DIR, `napi-disruptor.${name}`)

let names = 0
/** A ring name of this test run, removed when the test ends. */
function named(t: { teardown(f: () => void): void }, what: string): string {
  const name = `spec-${what}-${process.pid}-${names++}`
  t.teardown(() => {
    try {
      ProcessRing.unlink(name)
    } catch {}
  })
  return name
}

test.afterEach.always(killPeers)

test.serial('three producer processes and two consumer processes: every event exactly once, in order', async (t) => {
  const name = named(t, '3p2c')
  // The contract's spelling: a Disruptor with a name is the whole ring in named shared memory.
  const ring = new Disruptor({ name, size: 64, slotSize: 24 })
  t.true(ring instanceof ProcessRing)
  t.false((ring as unknown) instanceof Disruptor)
  t.is(ProcessRing.open(name).name, name)
  const consumers = [Peer.js('consume', name, 'a'), Peer.js('consume', name, 'b')]
  for (const c of consumers) await c.line('joined')
  const EACH = 15000
  const producers = [1, 2, 3].map((id) => Peer.js('produce', name, String(id), String(EACH), '--batch', '8'))
  for (const p of producers) await p.finish()
  ring.closeIntake()
  for (const c of consumers) {
    const r = await c.finish()
    t.deepEqual(r, { events: 3 * EACH, per: { 1: EACH, 2: EACH, 3: EACH } })
  }
  const s = ring.stats()
  t.is(s.cursor, 3 * EACH - 1)
  t.deepEqual([s.abandoned, s.deadProducers, s.deadConsumers, s.producers.length, s.consumers.length], [0, 0, 0, 0, 0])
  ring.close()
})

test.serial('a Rust process and Node processes produce into and consume from one ring', async (t) => {
  const built = spawnSync('cargo', ['build', '-q', '-p', 'disruptor-core', '--bin', 'disruptor-shm-peer'], {
    cwd: ROOT,
    stdio: 'inherit',
  })
  t.is(built.status, 0, 'cargo build of the Rust peer')
  t.true(existsSync(RUST_PEER))
  const name = named(t, 'rust')
  const ring = ProcessRing.create({ name, size: 128, slotSize: 24 })
  const consumers = [Peer.rust('consume', name, 'rust'), Peer.js('consume', name, 'node')]
  for (const c of consumers) await c.line('joined')
  const producers = [
    Peer.rust('produce', name, '1', '20000', '--batch', '5'),
    Peer.js('produce', name, '2', '20000', '--batch', '3'),
  ]
  for (const p of producers) await p.finish()
  ring.closeIntake()
  for (const c of consumers) t.deepEqual(await c.finish(), { events: 40000, per: { 1: 20000, 2: 20000 } })
  ring.close()
})

test.serial(
  'a producer killed holding a claim and a consumer killed while it gates never stop the others',
  async (t) => {
    const name = named(t, 'kill')
    const ring = ProcessRing.create({ name, size: 32, slotSize: 24 })
    const steady = Peer.js('consume', name, 'steady')
    const stalling = Peer.js('consume', name, 'stalling', '--stall-after', '1000')
    await steady.line('joined')
    await stalling.line('joined')
    const hanging = Peer.js('produce', name, '3', '100000', '--batch', '4', '--hang-after', '500')
    await hanging.line('hanging ')
    const producers = [1, 2].map((id) => Peer.js('produce', name, String(id), '10000', '--batch', '3'))
    // Every consumer waits at the hanging claim until its producer is found dead.
    await hanging.kill()
    await stalling.line('stalled ')
    await stalling.kill()
    for (const p of producers) await p.finish()
    ring.closeIntake()
    // The consumer checked order and integrity: the poisoned claim was never delivered.
    t.deepEqual(await steady.finish(), { events: 20500, per: { 1: 10000, 2: 10000, 3: 500 } })
    const s = ring.stats()
    t.is(s.deadProducers, 1)
    t.is(s.deadConsumers, 1)
    t.is(s.abandoned, 4)
    ring.close()
  },
)

test.serial(
  'a single-producer ring: Node and Rust producers take turns (one SIGKILLed), Node and Rust consumers get every published event once, no gaps',
  async (t) => {
    const built = spawnSync('cargo', ['build', '-q', '-p', 'disruptor-core', '--bin', 'disruptor-shm-peer'], {
      cwd: ROOT,
      stdio: 'inherit',
    })
    t.is(built.status, 0, 'cargo build of the Rust peer')
    const name = named(t, 'single')
    const ring = ProcessRing.create({ name, size: 64, slotSize: 24, producer: 'single' })
    t.is(ring.producer, 'single')
    const consumers = [Peer.js('consume', name, 'node'), Peer.rust('consume', name, 'rust')]
    for (const c of consumers) await c.line('joined')
    // A Node producer claims and publishes in its own words of the file (no native call)...
    const victim = Peer.js('produce', name, '10', '100000000', '--batch', '3')
    while (ring.stats().cursor < 2000) await new Promise((r) => setTimeout(r, 5))
    // ...and is the only one while it lives.
    t.throws(() => ring.tryNext(1), { code: 'ERR_DISRUPTOR_SINGLE_PRODUCER' })
    await victim.kill()
    // The next producer reaps it when it registers and goes on after what it published.
    t.is(await Peer.rust('produce', name, '11', '5000', '--batch', '4').finish(), undefined)
    t.is(await Peer.js('produce', name, '1', '5000', '--batch', '5').finish(), undefined)
    ring.closeIntake()
    const [node, rust] = [await consumers[0].finish(), await consumers[1].finish()]
    t.deepEqual(node, rust)
    t.is(node?.per[1], 5000)
    t.is(node?.per[11], 5000)
    t.true((node?.per[10] ?? 0) >= 2000)
    const s = ring.stats()
    t.true(s.singleProducer)
    t.is(node?.events, s.cursor + 1, 'every sequence up to the cursor was delivered: none skipped')
    t.is(s.abandoned, 0)
    t.is(s.deadProducers, 1)
    ring.close()
  },
)

test('a single-producer ring in one process: claims, publishes, abandons, close with a claim held, and misuse', (t) => {
  const name = named(t, 'single-one')
  const ring = ProcessRing.create({ name, size: 8, slotSize: 8, producer: 'single' })
  const f64 = new Float64Array(ring.buffer)
  const c = ring.consumer('c')
  const got: number[] = []
  const take = (lo: number, hi: number) => {
    for (let s = lo; s <= hi; s++) got.push(f64[ring.offset(s) / 8])
  }
  t.is(ring.next(3), 2)
  t.is(ring.stats().cursor, -1, "a claim is the producer's own until published")
  // The claim word holds what this turn of the event loop reserved: the claim and 2**20 more.
  t.deepEqual(ring.stats().producers[0].claim, [0, 2 + 2 ** 20])
  t.throws(() => ring.tryNext(1), { code: 'ERR_DISRUPTOR_CLAIM_OPEN' })
  t.throws(() => ring.publish(0, 1), { code: 'ERR_DISRUPTOR_NOT_CLAIMED' })
  ring.abandon()
  t.is(ring.tryNext(2), 1, 'abandoned sequences are claimed again: nothing to skip')
  f64[0] = 10
  f64[1] = 11
  ring.publish(0, 1)
  t.throws(() => ring.publish(), { code: 'ERR_DISRUPTOR_NOT_CLAIMED' })
  t.throws(
    () =>
      ring.publishEvent(() => {
        throw new Error('fill failed')
      }),
    { message: 'fill failed' },
  )
  t.is(
    ring.publishEvent((at) => {
      f64[at / 8] = 12
    }),
    2,
    'the sequence of the failed fill is used again',
  )
  for (let i = 0; i < 5; i++) ring.publishEvent((at) => (f64[at / 8] = 13 + i))
  t.is(ring.tryNext(1), -1, 'full: the consumer holds the ring')
  t.is(c.poll(take), 'processing')
  t.deepEqual(got, [10, 11, 12, 13, 14, 15, 16, 17])
  for (const bad of [0, 9, 1.5]) t.throws(() => ring.tryNext(bad), { code: 'ERR_INVALID_ARG_VALUE' })
  t.throws(() => ring.tryNext('1' as never), { code: 'ERR_INVALID_ARG_TYPE' })
  t.throws(() => ProcessRing.create({ name: `${name}-x`, size: 8, slotSize: 8, producer: 'one' as never }), {
    code: 'ERR_INVALID_ARG_VALUE',
  })
  // A claim held when intake closes may still be published, and the consumer drains it.
  const hi = ring.next(2)
  const other = ProcessRing.open(name)
  other.closeIntake()
  const drained = other.consumer('late') // joins at the published cursor
  t.is(
    drained.poll(() => {}),
    'idle',
    'the open claim may still come',
  )
  f64[ring.offset(hi - 1) / 8] = 18
  f64[ring.offset(hi) / 8] = 19
  ring.publish()
  t.is(c.poll(take), 'processing')
  t.is(c.poll(take), 'closed')
  t.deepEqual(got.slice(-2), [18, 19])
  t.throws(() => ring.tryNext(1), { code: 'ERR_DISRUPTOR_CLOSED' })
  t.is(ring.stats().producers[0].claim ?? null, null, 'the refused claim was withdrawn')
  t.is(ring.stats().producers[0].published, 10)
  other.close()
  ring.close()
  t.is(ring.stats().producers.length, 0, 'close freed the entry')
})

test('a single producer reserves sequences for one turn of the event loop and gives them back when it ends', async (t) => {
  const name = named(t, 'single-turn')
  const ring = ProcessRing.create({ name, size: 8, slotSize: 8, producer: 'single' })
  const c = ring.consumer('c')
  ring.next(2)
  ring.publish()
  const other = ProcessRing.open(name)
  t.deepEqual(other.stats().producers[0].claim, [2, 1 + 2 ** 20], 'reserved during this turn')
  t.is(other.stats().cursor, 1)
  await new Promise((resolve) => setImmediate(resolve))
  t.is(other.stats().producers[0].claim ?? null, null, 'given back when the turn ended')
  // A close from elsewhere now drains at once: nothing is held.
  other.closeIntake()
  t.is(
    c.poll(() => {}),
    'processing',
  )
  t.is(
    c.poll(() => {}),
    'closed',
  )
  t.throws(() => ring.next(1), { code: 'ERR_DISRUPTOR_CLOSED' })
  other.close()
  ring.close()
})

test.serial(
  'a consumer process SIGKILLed and restarted with resume goes on where it stopped: nothing lost',
  async (t) => {
    const name = named(t, 'resume')
    // Room for everything: no producer waits, so nobody reaps the dead consumer's entry.
    const ring = ProcessRing.create({ name, size: 8192, slotSize: 24 })
    const steady = Peer.js('consume', name, 'steady')
    const first = Peer.js('consume', name, 'audit', '--stall-after', '1000')
    await steady.line('joined')
    await first.line('joined')
    const producer = Peer.js('produce', name, '1', '6000', '--batch', '3')
    await first.line('stalled ')
    const committed = ring.stats().consumers.find((c) => c.name === 'audit')?.sequence ?? -2
    // (-1 when the stalled batch was its first: the producer may be far ahead by then)
    t.true(committed >= -1 && committed < 1000, 'the stalled batch was never committed')
    await first.kill()
    const again = Peer.js('consume', name, 'audit', '--resume')
    t.is(await again.line('joined '), `joined resumed ${committed + 1}`)
    await producer.finish()
    ring.closeIntake()
    // The restarted consumer checked that every producer counter after its first is there, once.
    t.deepEqual(await again.finish(), { events: 6000 - (committed + 1), per: { 1: 6000 - (committed + 1) } })
    t.deepEqual(await steady.finish(), { events: 6000, per: { 1: 6000 } })
    const s = ring.stats()
    t.is(s.deadConsumers, 0, 'taken over, not reaped')
    // Nobody dead of that name is left to resume: a new consumer joins at the cursor.
    const fresh = ring.consumer('audit', { resume: true })
    t.false(fresh.resumed)
    t.is(fresh.sequence, s.cursor)
    t.throws(() => ring.consumer('x', { resume: 1 as never }), { code: 'ERR_INVALID_ARG_TYPE' })
    ring.close()
  },
)

test('a single producer never leaves a close waiting: a claim abandoned in a later turn, a claim refused on a full closed ring', async (t) => {
  const name = named(t, 'single-abandon')
  const ring = ProcessRing.create({ name, size: 4, slotSize: 8, producer: 'single' })
  const c = ring.consumer('c')
  const other = ProcessRing.open(name)
  ring.next(2)
  await new Promise((resolve) => setImmediate(resolve)) // the turn ends: the claim is held alone
  t.deepEqual(other.stats().producers[0].claim, [0, 1])
  ring.abandon()
  t.is(other.stats().producers[0].claim ?? null, null, 'withdrawn at once')
  other.closeIntake()
  t.is(
    c.poll(() => {}),
    'closed',
  )
  const full = named(t, 'single-full')
  const ring2 = ProcessRing.create({ name: full, size: 4, slotSize: 8, producer: 'single' })
  const c2 = ring2.consumer('c')
  ring2.next(4)
  ring2.publish()
  ProcessRing.open(full).closeIntake()
  t.throws(() => ring2.tryNext(1), { code: 'ERR_DISRUPTOR_CLOSED' })
  t.is(
    c2.poll(() => {}),
    'processing',
  )
  t.is(
    c2.poll(() => {}),
    'closed',
    'drained in this turn: the refusal gave the reservation back',
  )
  other.close()
  ring.close()
  ring2.close()
})

test('the event layout travels with the ring; its file is mode 0600 unless told', async (t) => {
  const Trade = defineEvent({ price: 'f64', qty: 'u32', symbol: { utf8: 12 } })
  const name = named(t, 'typed')
  const a = ProcessRing.create({ name, size: 16, event: Trade })
  t.is(statSync(fileOf(name)).mode & 0o777, 0o600)
  const b = Disruptor.open<typeof a extends ProcessRing<infer E> ? E : never>(name) // = ProcessRing.open
  t.true(b instanceof ProcessRing)
  t.deepEqual(b.eventType?.schema, Trade.schema)
  t.is(b.slotSize, Trade.size)
  const c = b.consumer('reader')
  const iterated = b.batches() // its own consumer, joined now
  const p = b.poller()
  const seq = a.emitEvent({ price: 1.5, qty: 10, symbol: 'AAPL' })
  const seen: unknown[] = []
  t.is(
    c.poll((lo, hi) => {
      for (let s = lo; s <= hi; s++) seen.push(b.read(s))
    }),
    'processing',
  )
  t.deepEqual(seen, [{ price: 1.5, qty: 10, symbol: 'AAPL' }])
  t.is(
    p.poll(() => {}),
    'processing',
  )
  t.deepEqual((await iterated.next()).value, { lo: 0, hi: 0 })
  t.true(
    b
      .stats()
      .consumers.map((x) => x.name)
      .some((n) => n.startsWith('poller-')),
  )
  await iterated.return(undefined)
  t.is(b.stats().consumers.length, 2, 'the iterator left the ring: the reader and the poller remain')
  t.is(seq, 0)
  // A bad event is refused before anything is claimed.
  t.throws(() => a.emitEvent({ price: 'x' } as never), { code: 'ERR_INVALID_ARG_TYPE' })
  t.is(a.stats().cursor, 0)
  const open = named(t, 'mode')
  ProcessRing.create({ name: open, size: 8, slotSize: 8, mode: 0o640 }).close()
  t.is(statSync(fileOf(open)).mode & 0o777, 0o640)
  a.close()
  b.close()
})

test('bad names, foreign, truncated and other-version files, and misuse get coded errors', async (t) => {
  for (const bad of ['', 'a/b', '../etc', '.x', 'x..y', 'é', 'n'.repeat(201)]) {
    t.throws(() => ProcessRing.open(bad), { code: 'ERR_INVALID_ARG_VALUE' }, bad)
    t.throws(() => ProcessRing.create({ name: bad, size: 8, slotSize: 8 }), { code: 'ERR_INVALID_ARG_VALUE' }, bad)
  }
  t.throws(() => ProcessRing.open(`spec-missing-${process.pid}`), { code: 'ERR_DISRUPTOR_NOT_FOUND' })
  t.throws(() => ProcessRing.open(42 as never), { code: 'ERR_INVALID_ARG_TYPE' })
  t.throws(() => new Disruptor({ size: 8, slotSize: 8, name: 'x', waitStrategy: 'yielding' } as never), {
    code: 'ERR_INVALID_ARG_VALUE',
    message: /waitStrategy does not apply/,
  })
  t.throws(() => new Disruptor({ size: 8, slotSize: 8, name: 7 } as never), { code: 'ERR_INVALID_ARG_TYPE' })
  t.throws(() => new Disruptor({ size: 8, slotSize: 8, name: '../x' }), { code: 'ERR_INVALID_ARG_VALUE' })
  // A subclass is a ring of threads: it cannot become a named one.
  class Mine extends (Disruptor as DisruptorClass) {}
  t.throws(() => new Mine({ size: 8, slotSize: 8, name: 'x' } as never), {
    code: 'ERR_INVALID_ARG_VALUE',
    message: /ProcessRing/,
  })
  t.throws(() => ProcessRing.create({ name: 'x', size: 3, slotSize: 8 }), { code: 'ERR_INVALID_ARG_VALUE' })
  t.throws(() => ProcessRing.create({ name: 'x', size: 8, slotSize: 12 }), { code: 'ERR_INVALID_ARG_VALUE' })

  const name = named(t, 'files')
  const file = fileOf(name)
  writeFileSync(file, Buffer.alloc(8192, 7))
  t.throws(() => ProcessRing.open(name), { code: 'ERR_DISRUPTOR_FOREIGN' })
  ProcessRing.unlink(name)
  const ring = ProcessRing.create({ name, size: 64, slotSize: 8 })
  t.throws(() => ProcessRing.create({ name, size: 64, slotSize: 8 }), { code: 'ERR_DISRUPTOR_EXISTS' })
  const whole = readFileSync(file)
  writeFileSync(file, whole.subarray(0, whole.length - 8))
  t.throws(() => ProcessRing.open(name), { code: 'ERR_DISRUPTOR_FOREIGN', message: /truncated/ })
  const other = Buffer.from(whole)
  other.writeUInt32LE(99, 8)
  writeFileSync(file, other)
  t.throws(() => ProcessRing.open(name), { code: 'ERR_DISRUPTOR_VERSION' })
  // The layout record (length at 52, text at 1024): opaque text means no event layout; an
  // event schema defineEvent refuses is a foreign ring.
  const withLayout = (text: string) => {
    const b = Buffer.from(whole)
    b.writeUInt32LE(Buffer.byteLength(text), 52)
    b.write(text, 1024)
    writeFileSync(file, b)
  }
  withLayout('{not json')
  t.is(ProcessRing.open(name).eventType, undefined)
  withLayout('{"event":{"x":"nope"}}')
  t.throws(() => ProcessRing.open(name), { code: 'ERR_DISRUPTOR_FOREIGN', message: /defineEvent/ })
  writeFileSync(file, whole)

  // Misuse of a good ring: coded, and the ring goes on.
  const r = ProcessRing.open(name)
  const c = r.consumer('c')
  t.throws(() => r.tryNext(0), { code: 'ERR_INVALID_ARG_VALUE' })
  t.throws(() => r.tryNext(65), { code: 'ERR_INVALID_ARG_VALUE' })
  t.throws(() => r.next('1' as never), { code: 'ERR_INVALID_ARG_TYPE' })
  t.throws(() => r.consumer('n'.repeat(49)), { code: 'ERR_INVALID_ARG_VALUE' })
  const hi = r.next(2)
  t.throws(() => r.next(1), { code: 'ERR_DISRUPTOR_CLAIM_OPEN' })
  t.throws(() => r.publish(0, 0), { code: 'ERR_DISRUPTOR_NOT_CLAIMED' })
  r.publish(0, hi)
  t.throws(() => r.publish(), { code: 'ERR_DISRUPTOR_NOT_CLAIMED' })
  t.is(r.tryNext(62), 63)
  r.abandon()
  t.is(r.tryNext(1), -1, 'full: the consumer has not moved')
  // A nextAsync waiting for room ends at once when aborted (the pool's wait goes on alone).
  const abort = new AbortController()
  const waiting = r.nextAsync(1, { signal: abort.signal })
  abort.abort()
  await t.throwsAsync(waiting, { name: 'AbortError', code: 'ABORT_ERR' })
  const runs: number[][] = []
  c.poll((lo, h) => runs.push([lo, h]))
  t.deepEqual(runs, [[0, 1]], 'the abandoned claim is skipped')
  t.is(r.stats().abandoned, 62)
  ring.closeIntake()
  t.throws(() => r.next(1), { code: 'ERR_DISRUPTOR_CLOSED' })
  t.is(
    c.poll(() => t.fail()),
    'closed',
  )
  r.close()
  t.throws(() => r.tryNext(1), { code: 'ERR_DISRUPTOR_CLOSED' })
  ring.close()
})

test.serial("an idle consumer waiting on a ring keeps the process's CPU low", async (t) => {
  const name = named(t, 'idle')
  const ring = ProcessRing.create({ name, size: 64, slotSize: 8 })
  const consumer = ring.consumer('idle')
  let seen = 0
  const done = consumer.run((lo, hi) => {
    seen += hi - lo + 1
  })
  ring.next(3)
  ring.publish()
  while (seen < 3) await new Promise((r) => setTimeout(r, 5))
  const before = process.cpuUsage()
  const t0 = process.hrtime.bigint()
  await new Promise((r) => setTimeout(r, 600))
  const cpu = process.cpuUsage(before)
  const wallMs = Number(process.hrtime.bigint() - t0) / 1e6
  const cpuMs = (cpu.user + cpu.system) / 1000
  // A generous bound: this checks that nothing spins, it is not a speed test.
  t.true(cpuMs < 0.25 * wallMs, `${cpuMs} ms of CPU in ${wallMs} ms`)
  ring.closeIntake()
  await done
  t.is(seen, 3)
  ring.close()
})

for (const producer of ['multi', 'single'] as const) {
  test.serial(
    `worker.terminate() ends a worker blocked in next() on a full ring; its entry is freed (${producer} producer)`,
    async (t) => {
      const name = named(t, `terminate-${producer}`)
      const ring = ProcessRing.create({ name, size: 8, slotSize: 8, producer })
      const consumer = ring.consumer('slow')
      const w = new Worker(join(__dirname, 'fixtures', 'process-blocked-producer.js'), { workerData: name })
      const said: unknown[] = []
      w.on('message', (m) => said.push(m))
      while (!said.includes('full')) await new Promise((r) => setTimeout(r, 5))
      await new Promise((r) => setTimeout(r, 100)) // blocked in next() by now
      await w.terminate() // returns: the native wait came back to JavaScript within its slice
      t.is(said[0], 'full')
      let got = 0
      consumer.poll((lo, hi) => {
        got += hi - lo + 1
      })
      t.is(got, 8, 'everything it published arrives')
      t.deepEqual(ring.stats().producers, [], 'its producer entry was freed when its thread went away')
      // A producer of this thread goes on after what the worker published.
      t.is(ring.tryNext(1), 8)
      ring.publish()
      ring.close()
    },
  )
}
