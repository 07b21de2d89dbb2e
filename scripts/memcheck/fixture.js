'use strict'
// The Node.js workload of scripts/memcheck.sh: run under valgrind memcheck, it exercises the
// native addon's allocations and frees (rings, consumers and their waker threads, pollers,
// iterators, room waits, shared handles, worker threads attaching and leaving, external
// ArrayBuffers) so that a leak that grows with events or with open/close cycles shows up as a
// bigger loss in a run with more of them.
//
//   node --expose-gc scripts/memcheck/fixture.js EVENTS CYCLES [teardown|exit]
//
// Each cycle (EVENTS events per ring):
// - a single-producer ring (blocking or sleeping) produced from this thread with tryNext,
//   tryNext(n), publishEvent, consumed by a callback, a pipeline stage after it and a poller;
// - a multi-producer ring produced by a worker thread (which closes, or simply exits: the
//   env-cleanup-hook path) and, in even cycles, by this thread with nextAsync,
//   consumed on this thread by a callback, a worker pool after it and a batches() iterator
//   (odd cycles: this thread only consumes, as in README's Threads example);
// - churn: a ring attached twice on this thread and halted; a nextAsync aborted by its signal
//   and one released by close;
// - a ring shared between processes (ProcessRing, in this process, multi and single producer
//   in turn): a consumer's run() waiting on libuv's pool, a poller, a producer with fast calls
//   (or Atomics on the file), a nextAsync aborted, closeIntake, close, unlink.
// Plus one ring per run that is never closed (alive until exit, by design).
// Every consumer checks the sum of what it saw. Full GCs after every cycle (finalizers run),
// then one JSON line, then the end the last argument asks for (see the end of main()). Exit
// code 1 on a wrong result.

const { isMainThread, parentPort, workerData, Worker } = require('node:worker_threads')
const { join } = require('node:path')

// MEMCHECK_INDEX: another build of the API to load (e.g. a patched dist/index.js one folder below binding.js).
const { Disruptor, ProcessRing } = require(
  process.env.MEMCHECK_INDEX || join(__dirname, '..', '..', 'dist', 'index.js'),
)

const SIZE = 64
const SLOT = 16
const tick = () => new Promise((resolve) => setImmediate(resolve))

if (!isMainThread) {
  // Producer 1 of a multi-producer ring: publishes workerData.events values 1..n.
  const { handle, events, close } = workerData
  const d = Disruptor.attach(handle)
  const f64 = new Float64Array(d.buffer)
  let v = 1
  while (v <= events) {
    if (v % 5 === 0 && v + 2 <= events) {
      const hi = d.next(3)
      for (let s = hi - 2; s <= hi; s++) f64[d.offset(s) / 8 + 1] = v++
      d.publish(hi - 2, hi)
    } else {
      const value = v++
      d.publishEvent((offset) => {
        f64[offset / 8] = 1
        f64[offset / 8 + 1] = value
      })
    }
  }
  if (close) {
    d.close().then(() => parentPort.postMessage('closed'))
  } else {
    parentPort.postMessage('leaving') // exits without close: detached by the env cleanup hook
  }
} else {
  main().catch((e) => {
    console.error('memcheck fixture FAILED:', e)
    process.exitCode = 1
  })
}

function expect(what, got, want) {
  if (got !== want) throw new Error(`${what}: got ${got}, expected ${want}`)
}

/** Sum of 1..n. */
const total = (n) => (n * (n + 1)) / 2

async function singleProducer(events, waitStrategy) {
  const d = new Disruptor({ size: SIZE, slotSize: SLOT, producer: 'single', waitStrategy })
  const f64 = new Float64Array(d.buffer)
  const value = (s) => f64[d.offset(s) / 8 + 1]
  const sums = { first: 0, second: 0, poller: 0 }
  const first = d.handleEventsWith({
    name: 'first',
    onBatch: (lo, hi) => {
      for (let s = lo; s <= hi; s++) sums.first += value(s)
    },
  })
  first.andThen((lo, hi) => {
    for (let s = lo; s <= hi; s++) sums.second += value(s)
  })
  const p = d.poller({ name: 'poller' })
  const poll = () =>
    p.poll((lo, hi) => {
      for (let s = lo; s <= hi; s++) sums.poller += value(s)
    })
  d.start()
  let v = 1
  while (v <= events) {
    if (v % 7 === 0) {
      const value = v
      d.publishEvent((offset) => {
        f64[offset / 8 + 1] = value
      })
      v++
      continue
    }
    const n = v % 3 === 0 ? Math.min(4, events - v + 1) : 1
    const hi = d.tryNext(n)
    if (hi === -1) {
      poll()
      await tick()
      continue
    }
    for (let s = hi - n + 1; s <= hi; s++) f64[d.offset(s) / 8 + 1] = v++
    d.publish(hi - n + 1, hi)
  }
  while (p.sequence < events - 1) {
    poll()
    await tick()
  }
  await d.close()
  const want = total(events)
  expect('single producer: first', sums.first, want)
  expect('single producer: second', sums.second, want)
  expect('single producer: poller', sums.poller, want)
}

async function multiProducer(events, waitStrategy, workerCloses, mainProduces) {
  const d = new Disruptor({ size: SIZE, slotSize: SLOT, producer: 'multi', waitStrategy })
  const f64 = new Float64Array(d.buffer)
  const value = (s) => f64[d.offset(s) / 8 + 1]
  const sums = { callback: 0, pool: 0, iterator: 0 }
  const cb = d.handleEventsWith((lo, hi) => {
    for (let s = lo; s <= hi; s++) sums.callback += value(s)
  })
  const worker = async (lo, hi) => {
    for (let s = lo; s <= hi; s++) sums.pool += value(s)
  }
  cb.andThenWorkerPool(worker, worker)
  const it = d.batches({ name: 'iterator' })
  d.start()
  const last = (mainProduces ? 2 : 1) * events - 1 // the worker's events (and this thread's)
  const iterating = (async () => {
    for await (const { lo, hi } of it) {
      for (let s = lo; s <= hi; s++) sums.iterator += value(s)
      if (hi >= last) break
    }
  })()
  const w = new Worker(__filename, { workerData: { handle: d.share(), events, close: workerCloses } })
  const exited = new Promise((resolve, reject) => {
    w.once('error', reject)
    w.once('exit', resolve)
  })
  for (let v = 1; mainProduces && v <= events; v++) {
    const seq = await d.nextAsync()
    f64[d.offset(seq) / 8] = 0
    f64[d.offset(seq) / 8 + 1] = v
    d.publish(seq)
  }
  expect('worker exit code', await exited, 0)
  await iterating
  await d.close()
  const want = (mainProduces ? 2 : 1) * total(events)
  expect('multi producer: callback', sums.callback, want)
  expect('multi producer: pool', sums.pool, want)
  expect('multi producer: iterator', sums.iterator, want)
}

/** 'room' or the code a claim's Promise rejects with. */
const outcome = (claim) =>
  claim.then(
    () => 'room',
    (err) => err.code,
  )

/** A nextAsync on the full `ring`, aborted by its signal once it waits. */
async function abortedWait(what, ring) {
  const ac = new AbortController()
  const waiting = outcome(ring.nextAsync(1, { signal: ac.signal }))
  await tick()
  ac.abort()
  expect(what, await waiting, 'ABORT_ERR')
}

async function churn() {
  // Attached twice on this thread, then halted (not closed) by the creator.
  const d = new Disruptor({ size: 8, slotSize: 8, producer: 'multi' })
  const a = Disruptor.attach(d.share())
  const b = Disruptor.attach(d.share())
  void a.buffer
  void b.buffer
  const p = a.poller()
  b.publish(b.next())
  expect(
    'attached poll',
    p.poll(() => {}),
    'processing',
  )
  await a.close()
  d.halt()
  await b.close()

  // A wait for room aborted by its signal, and one released by close().
  const e = new Disruptor({ size: 2, slotSize: 8, producer: 'multi' })
  e.poller() // never polled: gates the ring once it is full
  e.publish(e.next())
  e.publish(e.next())
  const released = outcome(e.nextAsync(1))
  await abortedWait('aborted nextAsync', e)
  e.halt()
  expect('nextAsync at close', await released, 'ERR_DISRUPTOR_CLOSED')
}

async function processRing(events, cycle) {
  const name = `memcheck-${process.pid}-${cycle}`
  // Every other cycle single-producer: its claims and publishes are Atomics on the file.
  const producer = cycle % 2 === 0 ? 'multi' : 'single'
  const ring = ProcessRing.create({ name, size: SIZE, slotSize: SLOT, producer })
  const f64 = new Float64Array(ring.buffer)
  let sum = 0
  const ran = ring.consumer('run').run((lo, hi) => {
    for (let s = lo; s <= hi; s++) sum += f64[ring.offset(s) / 8]
  })
  const poller = ring.poller()
  for (let v = 1; v <= events; v++) {
    let hi = ring.tryNext(1)
    while (hi < 0) {
      poller.poll(() => {})
      await tick()
      hi = ring.tryNext(1)
    }
    f64[ring.offset(hi) / 8] = v
    ring.publish()
  }
  while (poller.poll(() => {}) === 'processing');
  // Once run() has everything, a poller that never polls is the one that gates: the ring is
  // made full, and nothing frees room before a wait for room is aborted by its signal.
  const cursor = ring.stats().cursor
  while (ring.stats().consumers.find((x) => x.name === 'run').sequence < cursor) await tick()
  const stuck = ring.poller()
  for (let hi = ring.tryNext(1); hi >= 0; hi = ring.tryNext(1)) {
    f64[ring.offset(hi) / 8] = 0 // adds nothing to run()'s sum
    ring.publish()
  }
  await abortedWait('process ring: aborted nextAsync', ring)
  ring.closeIntake()
  poller.close()
  stuck.close()
  await ran
  expect('process ring: run()', sum, (events * (events + 1)) / 2)
  ring.close()
  ring.unlink()
}

async function main() {
  const events = Number(process.argv[2] ?? 200)
  const cycles = Number(process.argv[3] ?? 2)
  const ending = process.argv[4] ?? 'teardown'
  if (
    !Number.isInteger(events) ||
    events < 1 ||
    !Number.isInteger(cycles) ||
    cycles < 1 ||
    (ending !== 'teardown' && ending !== 'exit')
  ) {
    throw new Error('usage: fixture.js EVENTS CYCLES [teardown|exit]')
  }
  const collect = async () => {
    if (typeof globalThis.gc !== 'function') return
    for (let i = 0; i < 3; i++) {
      globalThis.gc()
      await tick() // finalizers of collected objects run from the event loop
    }
  }
  const started = Date.now()
  // Never closed: an open ring stays alive until the process ends (as an open file would), so
  // there is one per run, not one per cycle; the environment teardown deals with it.
  const open = new Disruptor({ size: 16, slotSize: 8, producer: 'single' })
  open.handleEventsWith(() => {})
  open.start()
  open.publish(open.next())
  for (let c = 0; c < cycles; c++) {
    const strategy = c % 2 === 0 ? 'blocking' : 'sleeping'
    await singleProducer(events, strategy)
    // The worker closes in cycles 0, 3, 4, 7, ... and leaves without closing in the others; this
    // thread produces too in even cycles, and in odd ones only consumes (README's Threads example).
    await multiProducer(events, strategy, c % 4 === 0 || c % 4 === 3, c % 2 === 0)
    await churn()
    await processRing(events, c)
    // Collected every cycle: what is still allocated at the end is what is kept alive, not
    // garbage that the GC happened not to reach yet.
    await collect()
  }
  // The registry of rings drops the entries of rings that are gone when the next ring is made:
  // one more ring, so that what is left at exit does not depend on when the GC last ran.
  new Disruptor({ size: 2, slotSize: 8 }).halt()
  await collect()
  const summary = {
    events,
    cycles,
    published: 1 + cycles * 3 + Math.ceil(cycles / 2) * 3 * events + Math.floor(cycles / 2) * 2 * events,
    ms: Date.now() - started,
    rssMiB: Math.round(process.memoryUsage().rss / 1048576),
  }
  console.log(`memcheck fixture ok ${JSON.stringify(summary)}`)
  // 'exit': end here, without the environment teardown, so that valgrind's leak check sees
  // everything this thread still keeps alive after the cycles (a teardown would free rings that
  // a module-level map keeps, hiding that they pile up while the process runs). 'teardown':
  // exit by running out of work, so that the teardown itself (finalizers, env cleanup hooks)
  // runs under memcheck.
  if (ending === 'exit') process.exit(0)
}
