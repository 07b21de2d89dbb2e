#!/usr/bin/env node
// Soak test of napi-disruptor: a long run of a busy multi-producer ring with every kind of
// consumer, checking every event everywhere, and the process's memory and CPU over time.
//
//   node scripts/soak.mjs [--seconds N] [--kill-every S]
//
// N seconds of producing (default 10); with --kill-every S, every S seconds one producer, picked
// at random, is terminated wherever it is (between claim and publish, in the middle of a batch's
// writes, blocked on a full ring) and replaced by a new one with a new id.
//
//   producer 0 --\                        /--> main-callback (main thread) ----\
//   producer 1 ---\                      +---> main-batched (main thread) ------+--> diamond (main thread)
//   producer 2 ----+--> ring 1024 x 32 B -+---> worker-callback (worker thread)
//   producer 3 ---/    (multi producer)   \--> poller (main thread, polled in a loop)
//
// - 4 producers, each in its own worker thread (Disruptor.attach), write (producer, counter,
//   checksum, sequence) as four f64 into each 32-byte slot, through every publishing path in a
//   random mix: next()/publish, next(n) batches, publishEvent, tryNext() and tryNext(n) with
//   retry, and nextAsync(n). The ring is small (1024 slots) so that wrap-around and
//   backpressure happen all the time.
// - Consumers: a callback on the main thread, a callback in a worker thread (reports back by
//   postMessage), a poller on the main thread, and a diamond stage joining two main-thread
//   callback consumers. The diamond joins 'main-callback' and a second callback consumer,
//   'main-batched' (maxBatchSize 100, every 32nd batch returns a Promise), and not the poller:
//   after() takes EventHandlerGroups only, and a Poller is not one (ERR_INVALID_ARG_TYPE).
// - Every consumer checks every event: per producer the counters arrive 0, 1, 2, ... (no gap,
//   no duplicate), the checksum matches, the slot holds the sequence it was delivered as
//   (never a slot from another lap), batches are contiguous; at the end each consumer saw
//   exactly the events the producers report having published. The diamond checks that it
//   never sees a sequence before both its upstream consumers finished it.
// - Every second: a progress line (events, rate, RSS, main thread's heap, CPU of the whole
//   process, 100% = one core). At the end: a one-line JSON summary, then "soak ok" (exit code
//   0) or "soak FAILED: ..." (exit code 1).
// - Memory: RSS at the end of producing must be at most 1.5 x RSS after warm-up (N/10 s, 1 to
//   10 s) + 50 MiB, both measured right after a full GC in every thread (while producing), so
//   that a leak that grows with events fails a long run while garbage V8 has merely not
//   collected yet does not. The summary also has RSS before that last GC and the maximum of
//   the per-second samples.
// - Shutdown: stop producers, drain, let the worker consumer report and detach, close the
//   ring; the process then exits by itself (it is an error if it does not within 15 s).
// - Killed producers: their claims are abandoned (skipped by every consumer, never delivered).
//   Each consumer may then see gaps in the sequences: every gap must be a range the ring
//   reported abandoned (the 'abandoned' event), and for each consumer the events it saw plus the
//   ring's abandoned events must account for every sequence. A sentinel event from the main
//   thread, after every producer stopped, marks the end for every consumer.
//
// --inject-fault makes producer 0 write one bad checksum and skip one counter: the run must
// then fail (this checks the checker).

import { createRequire } from 'node:module'
import { availableParallelism } from 'node:os'
import { performance } from 'node:perf_hooks'
import v8 from 'node:v8'
import vm from 'node:vm'
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads'

const require = createRequire(import.meta.url)
const { Disruptor } = require('../dist/index.js')

const PRODUCERS = 4
const RING_SIZE = 1024
const SLOT_SIZE = 32 // f64 producer, f64 counter, f64 checksum, f64 sequence
/** Indices of the control words shared with the producers. */
const GO = 0
const STOP = 1
/** A full garbage collection requested in every thread (a round number), and the producers' acknowledgements. */
const GC = 2
const GC_DONE = 3
const MAX_KEPT_VIOLATIONS = 50
/** The producer id of the event the main thread publishes last, after every producer stopped. */
const SENTINEL = -1

/** A checksum of (producer, counter), exact in a double (below 2**35). */
function checksum(p, c) {
  const lo = c >>> 0
  const hi = (c / 4294967296) >>> 0
  let h = Math.imul(lo ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul((hi + 0x632be5ab + p) | 0, 0xc2b2ae35)
  h ^= h >>> 15
  h = Math.imul(h, 0x27d4eb2f)
  h ^= h >>> 13
  return (h >>> 0) + p * 4294967296
}

/**
 * The check every consumer runs over its batches: contiguous batches, each slot holding the
 * sequence it is delivered as, per producer counters in order, checksums right.
 */
function makeChecker(name, d, producers, gapsAllowed) {
  const f64 = new Float64Array(d.buffer)
  const next = new Float64Array(producers) // the counter expected next from each producer
  const violations = []
  const gaps = [] // [first, last] sequences never delivered (abandoned, when producers are killed)
  const state = { name, events: 0, expectSeq: 0, violationCount: 0, lastHi: -1 }
  const bad = (text) => {
    state.violationCount++
    if (violations.length < MAX_KEPT_VIOLATIONS) violations.push(`${name}: ${text}`)
  }
  const onBatch = (lo, hi) => {
    if (gapsAllowed && lo > state.expectSeq && hi >= lo) {
      gaps.push([state.expectSeq, lo - 1])
    } else if (lo !== state.expectSeq || !(hi >= lo)) {
      bad(`batch [${lo}, ${hi}] after sequence ${state.expectSeq - 1} (gap, duplicate or bad range)`)
    }
    for (let s = lo; s <= hi; s++) {
      const i = d.offset(s) / 8
      const p = f64[i]
      const c = f64[i + 1]
      const k = f64[i + 2]
      const q = f64[i + 3]
      if (q !== s) {
        bad(`sequence ${s}: slot holds sequence ${q} (producer ${p}, counter ${c})`)
        continue
      }
      if (p === SENTINEL) {
        state.events-- // not an event: the end
        continue
      }
      if (!(p >= 0 && p < producers && Number.isInteger(p))) {
        bad(`sequence ${s}: bad producer id ${p}`)
        continue
      }
      if (c !== next[p]) bad(`sequence ${s}: producer ${p} counter ${c}, expected ${next[p]}`)
      if (k !== checksum(p, c))
        bad(`sequence ${s}: producer ${p} counter ${c}: checksum ${k}, expected ${checksum(p, c)}`)
      next[p] = c + 1
    }
    state.events += hi - lo + 1
    state.expectSeq = hi + 1
    state.lastHi = hi
  }
  const result = () => ({
    name,
    events: state.events,
    lastSequence: state.expectSeq - 1,
    perProducer: Array.from(next),
    gaps: gaps.slice(),
    violationCount: state.violationCount,
    violations: violations.slice(),
  })
  return { onBatch, bad, state, result }
}

/**
 * A full garbage collection of this thread's heap, for the memory check: RSS is compared right
 * after one in every thread, at warm-up and at the end, so that garbage V8 has not collected yet
 * (it lets old-generation garbage pile up for minutes in the producers) does not read as a
 * leak, while memory still referenced (JavaScript or native) does. null if unavailable.
 */
function loadGc() {
  try {
    v8.setFlagsFromString('--expose-gc')
    const gc = vm.runInNewContext('gc')
    return typeof gc === 'function' ? gc : null
  } catch {
    return null
  }
}
const gc = loadGc()

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

/** Waits until `position()` reaches `target`, or until it has not moved for 10 s. */
async function caughtUp(position, target) {
  let last = position()
  let still = performance.now()
  while (last < target) {
    await sleep(2)
    const now = position()
    if (now !== last) {
      last = now
      still = performance.now()
    } else if (performance.now() - still > 10_000) return false
  }
  return true
}

function describe(e) {
  return e instanceof Error ? `${e.code ? `${e.code}: ` : ''}${e.stack}` : String(e)
}

// ---------------------------------------------------------------------------------- producers

async function producer({ handle, id, ctl: ctlBuffer, fault }) {
  const ctl = new Int32Array(ctlBuffer)
  const nap = new Int32Array(new SharedArrayBuffer(4))
  const d = Disruptor.attach(handle)
  const f64 = new Float64Array(d.buffer)
  const paths = { next: 0, nextBatch: 0, publishEvent: 0, tryNext: 0, tryNextBatch: 0, nextAsync: 0 }
  let counter = 0
  let seed = 0x2545f491 ^ Math.imul(id + 1, 0x9e3779b9)
  const random = () => {
    seed ^= seed << 13
    seed ^= seed >>> 17
    seed ^= seed << 5
    return seed >>> 0
  }

  let write = (i, seq) => {
    const c = counter++
    f64[i] = id
    f64[i + 1] = c
    f64[i + 2] = checksum(id, c)
    f64[i + 3] = seq
  }
  if (fault && id === 0) {
    write = (i, seq) => {
      let c = counter++
      if (c === 2000) c = counter++ // skips counter 2000
      f64[i] = id
      f64[i + 1] = c
      f64[i + 2] = checksum(id, c) + (c === 1000 ? 1 : 0) // a bad checksum at counter 1000
      f64[i + 3] = seq
    }
  }
  const fill = (offset, seq) => write(offset / 8, seq)
  /** tryNext(n) until it claims: spin a little, then nap 50 us between tries. */
  const tryClaim = (n) => {
    let tries = 0
    for (;;) {
      const hi = d.tryNext(n)
      if (hi !== -1) return hi
      if (++tries > 8) Atomics.wait(nap, 0, 0, 0.05)
    }
  }

  let gcRound = 0
  parentPort.postMessage({ type: 'ready' })
  Atomics.wait(ctl, GO, 0)
  while (Atomics.load(ctl, STOP) === 0) {
    if (Atomics.load(ctl, GC) !== gcRound) {
      gcRound = Atomics.load(ctl, GC)
      gc?.()
      Atomics.add(ctl, GC_DONE, 1)
    }
    const mode = random() % 16
    const n = 1 + (random() % 64)
    if (mode < 4) {
      for (let k = 0; k < n; k++) {
        const seq = d.next()
        write(d.offset(seq) / 8, seq)
        d.publish(seq)
      }
      paths.next += n
    } else if (mode < 8) {
      const hi = d.next(n)
      for (let s = hi - n + 1; s <= hi; s++) write(d.offset(s) / 8, s)
      d.publish(hi - n + 1, hi)
      paths.nextBatch += n
    } else if (mode < 11) {
      for (let k = 0; k < n; k++) d.publishEvent(fill)
      paths.publishEvent += n
    } else if (mode < 14) {
      for (let k = 0; k < n; k++) {
        const seq = tryClaim(1)
        write(d.offset(seq) / 8, seq)
        d.publish(seq)
      }
      paths.tryNext += n
    } else if (mode < 15) {
      const hi = tryClaim(n)
      for (let s = hi - n + 1; s <= hi; s++) write(d.offset(s) / 8, s)
      d.publish(hi - n + 1, hi)
      paths.tryNextBatch += n
    } else {
      const hi = await d.nextAsync(n)
      for (let s = hi - n + 1; s <= hi; s++) write(d.offset(s) / 8, s)
      d.publish(hi - n + 1, hi)
      paths.nextAsync += n
    }
  }
  let published = 0
  for (const k in paths) published += paths[k]
  // `counter` is the counter its next event would carry: equal to `published` unless a fault skipped one.
  parentPort.postMessage({ type: 'done', published, counter, paths })
  // Drains (every consumer, every thread, has what this thread published), then detaches.
  await d.close({ timeout: 60_000 })
}

// ------------------------------------------------------------------ consumer in a worker thread

function consumer({ handle, producers, gapsAllowed }) {
  const d = Disruptor.attach(handle)
  const check = makeChecker('worker-callback', d, producers, gapsAllowed)
  d.handleEventsWith({ name: 'worker-callback', onBatch: check.onBatch })
  d.on('error', (e, name) => check.bad(`handler '${name}' failed: ${describe(e)}`))
  d.start()
  const onMessage = async (m) => {
    if (m.type === 'gc') {
      gc?.()
      parentPort.postMessage({ type: 'gc-done', round: m.round })
    }
    if (m.type !== 'finish') return
    parentPort.off('message', onMessage) // the worker may exit once this is done
    await caughtUp(() => check.state.expectSeq, m.total)
    parentPort.postMessage({ type: 'result', result: check.result() })
    try {
      await d.close({ timeout: 30_000 }) // detaches this thread
    } catch (e) {
      parentPort.postMessage({ type: 'error', error: describe(e) })
    }
  }
  parentPort.on('message', onMessage) // keeps this worker alive until 'finish'
  parentPort.postMessage({ type: 'ready' })
}

// ------------------------------------------------------------------------------- main thread

function parseArgs(argv) {
  const opts = { seconds: 10, fault: false, killEvery: 0 }
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]
    let value
    let key = 'seconds'
    if (a === '--seconds') value = argv[++i]
    else if (a.startsWith('--seconds=')) value = a.slice('--seconds='.length)
    else if (a === '--kill-every') {
      key = 'killEvery'
      value = argv[++i]
    } else if (a === '--inject-fault') {
      opts.fault = true
      continue
    } else if (a === '--help' || a === '-h') {
      console.log('usage: node scripts/soak.mjs [--seconds N] [--kill-every S] [--inject-fault]')
      process.exit(0)
    } else {
      console.error(
        `soak: unknown argument '${a}' (usage: node scripts/soak.mjs [--seconds N] [--kill-every S] [--inject-fault])`,
      )
      process.exit(2)
    }
    const seconds = Number(value)
    if (value === undefined || !Number.isFinite(seconds) || seconds <= 0) {
      console.error(`soak: --${key === 'seconds' ? 'seconds' : 'kill-every'} needs a positive number, got '${value}'`)
      process.exit(2)
    }
    opts[key] = seconds
  }
  return opts
}

const mib = (bytes) => Math.round((bytes / 1048576) * 10) / 10
const rssMiB = () => mib(process.memoryUsage.rss())
const cpuMicros = () => {
  const u = process.cpuUsage()
  return u.user + u.system
}
const fmtRate = (r) => (r >= 1e6 ? `${(r / 1e6).toFixed(2)}M/s` : `${(r / 1e3).toFixed(1)}k/s`)

/** A worker with its messages, its exit, and a way to wait for a message of a given type. */
function spawn(role, data, violation) {
  const worker = new Worker(new URL(import.meta.url), { workerData: { role, ...data } })
  const name = role === 'producer' ? `producer ${data.id}` : 'worker-callback'
  const messages = []
  let waiters = []
  const rec = { name, worker, messages, exitCode: null }
  rec.exited = new Promise((resolve) =>
    worker.once('exit', (code) => {
      rec.exitCode = code
      for (const w of waiters) w(null)
      waiters = []
      resolve(code)
    }),
  )
  worker.on('message', (m) => {
    messages.push(m)
    if (m.type === 'error') violation(`${name}: ${m.error}`)
    waiters = waiters.filter((w) => !w(m))
  })
  worker.on('error', (e) => violation(`${name}: uncaught ${describe(e)}`))
  /** The first message of `type` that `match` accepts (null if the worker exits or `ms` passes first). */
  rec.message = (type, ms, match = () => true) => {
    const seen = messages.find((m) => m.type === type && match(m))
    if (seen !== undefined || rec.exitCode !== null) return Promise.resolve(seen ?? null)
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        waiters = waiters.filter((w) => w !== waiter)
        resolve(null)
      }, ms)
      const waiter = (m) => {
        if (m !== null && (m.type !== type || !match(m))) return false
        clearTimeout(timer)
        resolve(m)
        return true
      }
      waiters.push(waiter)
    })
  }
  return rec
}

/** Waits for a worker's exit; false (and a violation) if it has not exited within `ms`. */
async function joined(rec, ms, violation) {
  let timer
  const code = await Promise.race([
    rec.exited,
    new Promise((resolve) => (timer = setTimeout(() => resolve('timeout'), ms))),
  ])
  clearTimeout(timer)
  if (code === 'timeout') {
    violation(`${rec.name}: did not exit within ${ms / 1000} s`)
    return false
  }
  if (code !== 0) violation(`${rec.name}: exit code ${code}`)
  return true
}

async function main() {
  const opts = parseArgs(process.argv.slice(2))
  const wallStart = performance.now()
  const rssStart = rssMiB()
  const violations = []
  let violationCount = 0
  const violation = (text) => {
    violationCount++
    if (violations.length < MAX_KEPT_VIOLATIONS) violations.push(text)
  }
  let phase = 'setup'

  console.log(
    `soak: ${PRODUCERS} producers (worker threads) -> multi-producer ring ${RING_SIZE} x ${SLOT_SIZE} B -> ` +
      `main-callback, main-batched, worker-callback, poller; diamond after main-callback + main-batched; ` +
      `${opts.seconds} s${opts.fault ? ' (fault injected)' : ''}` +
      `${opts.killEvery ? `; a producer killed and replaced every ${opts.killEvery} s` : ''}`,
  )

  const d = new Disruptor({ size: RING_SIZE, slotSize: SLOT_SIZE, producer: 'multi' })
  d.on('error', (e, name) => violation(`consumer '${name}' failed: ${describe(e)}`))
  /** Ranges the ring reported abandoned (by killed producers). */
  const abandonedRanges = []
  d.on('abandoned', (lo, hi) => abandonedRanges.push([lo, hi]))
  const killing = opts.killEvery > 0
  /** Producer ids: the first ones, then one per replacement. */
  const maxIds = PRODUCERS + (killing ? Math.ceil(opts.seconds / opts.killEvery) + 1 : 0)

  // Main-thread consumers: two callbacks, the diamond after both, a poller.
  const mainCheck = makeChecker('main-callback', d, maxIds, killing)
  const batchedCheck = makeChecker('main-batched', d, maxIds, killing)
  const diamondCheck = makeChecker('diamond', d, maxIds, killing)
  const pollCheck = makeChecker('poller', d, maxIds, killing)
  const checks = [mainCheck, batchedCheck, diamondCheck, pollCheck]
  const mainCallback = d.handleEventsWith({ name: 'main-callback', onBatch: mainCheck.onBatch })
  let batchedCalls = 0
  let asyncBatches = 0
  /** The last sequence main-batched finished: at the end of its batch, or when its Promise settles. */
  let batchedDone = -1
  const mainBatched = d.handleEventsWith({
    name: 'main-batched',
    maxBatchSize: 100,
    onBatch(lo, hi) {
      batchedCheck.onBatch(lo, hi)
      // Every 32nd batch settles later: its sequences are held until the Promise resolves.
      if (++batchedCalls % 32 === 0) {
        asyncBatches++
        return Promise.resolve().then(() => {
          batchedDone = hi
        })
      }
      batchedDone = hi
      return undefined
    },
  })
  let diamondEarly = 0
  mainCallback.and(mainBatched).andThen({
    name: 'diamond',
    onBatch(lo, hi) {
      // Upstream handlers record their progress when they finish a batch, before it is released.
      if (hi > mainCheck.state.lastHi || hi > batchedDone) {
        diamondEarly++
        diamondCheck.bad(
          `saw [${lo}, ${hi}] while main-callback was done to ${mainCheck.state.lastHi} and main-batched to ${batchedDone}`,
        )
      }
      diamondCheck.onBatch(lo, hi)
    },
  })
  const poller = d.poller({ name: 'poller', maxBatchSize: 256 })
  d.start()

  let polling = true
  let idlePolls = 0
  const pollLoop = () => {
    if (!polling) return
    const t0 = performance.now()
    let r
    try {
      do r = poller.poll(pollCheck.onBatch)
      while (r === 'processing' && performance.now() - t0 < 2)
    } catch (e) {
      violation(`poller: ${describe(e)}`)
      polling = false
      return
    }
    if (r === 'processing') idlePolls = 0
    else idlePolls++
    if (idlePolls > 64) setTimeout(pollLoop, 1)
    else setImmediate(pollLoop)
  }
  pollLoop()

  // The worker consumer must be registered before anything is published (a consumer that
  // joins a running ring starts at the cursor).
  const consumerWorker = spawn('consumer', { handle: d.share(), producers: maxIds, gapsAllowed: killing }, violation)
  if ((await consumerWorker.message('ready', 30_000)) === null) violation('worker-callback: never became ready')

  const ctl = new Int32Array(new SharedArrayBuffer(16))
  const producers = []
  for (let id = 0; id < PRODUCERS; id++) {
    producers.push(spawn('producer', { handle: d.share(), id, ctl: ctl.buffer, fault: opts.fault }, violation))
  }
  for (const p of producers) if ((await p.message('ready', 30_000)) === null) violation(`${p.name}: never became ready`)

  // Hang watchdog: whatever happens, the run ends (unref: it never keeps the process alive).
  const hangLimit = opts.seconds * 1000 + 180_000
  setTimeout(() => {
    violation(`hang: still in phase '${phase}' ${hangLimit / 1000} s after start`)
    finish('hang')
  }, hangLimit).unref()

  // Go.
  const samples = []
  const warmAt = Math.min(10, Math.max(1, Math.round(opts.seconds / 10)), opts.seconds / 2)
  let rssMax = rssStart
  let gcRounds = 0
  /** RSS (MiB) right after a full garbage collection in every thread (producers, worker, main). */
  const rssAfterGc = async () => {
    const round = ++gcRounds
    // Acknowledgements counted from here: a replaced producer acknowledges the round it finds.
    const acked = Atomics.load(ctl, GC_DONE)
    Atomics.store(ctl, GC, round)
    consumerWorker.worker.postMessage({ type: 'gc', round })
    gc?.()
    const deadline = performance.now() + 10_000
    while (Atomics.load(ctl, GC_DONE) - acked < producers.length && performance.now() < deadline) await sleep(1)
    if (Atomics.load(ctl, GC_DONE) - acked < producers.length)
      violation(`memory: producers did not collect garbage within 10 s (round ${round})`)
    if ((await consumerWorker.message('gc-done', 10_000, (m) => m.round === round)) === null) {
      violation(`memory: worker-callback did not collect garbage within 10 s (round ${round})`)
    }
    return rssMiB()
  }
  const cpuGo = cpuMicros()
  const tGo = performance.now()
  let lastEvents = 0
  let lastT = tGo
  let lastCpu = cpuGo
  let stalledFor = 0
  let producing = true
  phase = 'producing'
  Atomics.store(ctl, GO, 1)
  Atomics.notify(ctl, GO)

  // Killing: a random producer is terminated wherever it is, and a new one takes its place.
  let nextId = PRODUCERS
  let kills = 0
  let killed = Promise.resolve()
  const killer = killing
    ? setInterval(() => {
        killed = killed.then(async () => {
          if (!producing || nextId >= maxIds) return
          const victim = producers.splice(Math.floor(Math.random() * producers.length), 1)[0]
          await victim.worker.terminate()
          kills++
          producers.push(
            spawn('producer', { handle: d.share(), id: nextId++, ctl: ctl.buffer, fault: false }, violation),
          )
        })
      }, opts.killEvery * 1000)
    : null

  const sampler = setInterval(() => {
    const now = performance.now()
    const cpu = cpuMicros()
    const mem = process.memoryUsage()
    const rss = mib(mem.rss)
    const events = mainCheck.state.events
    const second = Math.round((now - tGo) / 1000)
    const rate = ((events - lastEvents) * 1000) / (now - lastT)
    const cpuPct = ((cpu - lastCpu) / 1000 / (now - lastT)) * 100
    rssMax = Math.max(rssMax, rss)
    samples.push({ t: second, events, rss })
    console.log(
      `[${String(second).padStart(4)} s] ${phase.padEnd(9)} events ${events.toLocaleString('en-US').padStart(14)}  ` +
        `rate ${fmtRate(rate).padStart(9)}  rss ${rss.toFixed(1).padStart(6)} MiB (main heap ${mib(mem.heapUsed).toFixed(1)}, external ${mib(mem.external).toFixed(1)})  cpu ${cpuPct.toFixed(0).padStart(3)}%`,
    )
    stalledFor = events === lastEvents && producing ? stalledFor + (now - lastT) : 0
    lastEvents = events
    lastT = now
    lastCpu = cpu
    if (stalledFor >= 15_000) {
      violation(`stall: no event consumed for 15 s while producing; stats ${JSON.stringify(d.stats())}`)
      finish('stall')
    }
  }, 1000)

  await sleep(warmAt * 1000)
  const rssWarm = await rssAfterGc()
  await sleep(Math.max(0, opts.seconds * 1000 - (performance.now() - tGo)))
  const rssEndNatural = rssMiB()
  const rssEnd = await rssAfterGc()

  // Stop producing.
  phase = 'stopping'
  if (killer !== null) clearInterval(killer)
  producing = false
  await killed
  Atomics.store(ctl, STOP, 1)
  const ids = producers.map((p) => Number(p.name.slice('producer '.length)))
  const counts = new Array(producers.length).fill(0) // events each (surviving) producer published
  const counters = new Array(maxIds).fill(-1) // the counter each surviving producer would have written next
  const paths = {}
  for (const p of producers) {
    const done = await p.message('done', 60_000)
    if (done === null) {
      violation(`${p.name}: no 'done' report`)
      continue
    }
    counts[producers.indexOf(p)] = done.published
    counters[ids[producers.indexOf(p)]] = done.counter
    if (done.counter !== done.published)
      violation(`${p.name}: published ${done.published} events but counted to ${done.counter}`)
    for (const [k, v] of Object.entries(done.paths)) paths[k] = (paths[k] ?? 0) + v
  }
  const tStop = performance.now()
  const cpuStop = cpuMicros()
  rssMax = Math.max(rssMax, rssEndNatural, rssEnd)
  for (const p of producers) await joined(p, 60_000, violation)
  const published = counts.reduce((a, b) => a + b, 0)
  // The end, for every consumer: the last sequence of the run.
  const f64 = new Float64Array(d.buffer)
  const last = d.publishEvent((offset, seq) => {
    f64[offset / 8] = SENTINEL
    f64[offset / 8 + 3] = seq
  })
  const total = last + 1
  if (!killing && last !== published) violation(`the sentinel is sequence ${last}, expected ${published}`)
  for (const [k, v] of Object.entries(paths)) if (v === 0) violation(`publishing path ${k} was never used`)

  // Drain: every consumer, on every thread, has everything.
  phase = 'draining'
  try {
    await d.drain({ timeout: 60_000 })
  } catch (e) {
    violation(`drain: ${describe(e)}`)
  }
  if (polling) await caughtUp(() => poller.sequence, total - 1)
  polling = false
  const stats = d.stats()
  const abandoned = stats.abandonedEvents
  if (!killing && abandoned !== 0) violation(`stats: ${abandoned} abandoned events`)
  if (stats.cursor !== total - 1) violation(`stats: cursor ${stats.cursor}, expected ${total - 1}`)
  for (const c of stats.consumers) {
    if (c.sequence !== total - 1)
      violation(`stats: consumer '${c.name}' at sequence ${c.sequence}, expected ${total - 1}`)
    if (c.skipped !== abandoned)
      violation(`stats: consumer '${c.name}' skipped ${c.skipped}, ${abandoned} were abandoned`)
    if (c.errors !== 0 || c.state === 'halted' || c.state === 'failed') {
      violation(
        `stats: consumer '${c.name}' state ${c.state}, ${c.errors} errors${c.lastError ? `: ${c.lastError}` : ''}`,
      )
    }
  }

  // The worker consumer reports, then detaches and exits.
  consumerWorker.worker.postMessage({ type: 'finish', total })
  const reported = await consumerWorker.message('result', 90_000)
  const results = checks.map((c) => c.result())
  if (reported === null) violation('worker-callback: no result')
  else results.push(reported.result)
  await joined(consumerWorker, 60_000, violation)
  poller.close()

  phase = 'closing'
  try {
    await d.close({ timeout: 30_000 })
  } catch (e) {
    violation(`close: ${describe(e)}`)
  }
  clearInterval(sampler)

  // Every consumer saw exactly what was published, in order, intact.
  for (const r of results) {
    for (const v of r.violations) violation(v)
    if (r.violationCount > r.violations.length)
      violation(`${r.name}: ${r.violationCount - r.violations.length} more violations`)
    // Every sequence before the sentinel was delivered once, or abandoned.
    if (r.events + abandoned !== last) {
      violation(`${r.name}: saw ${r.events} events and ${abandoned} were abandoned, ${last} sequences were published`)
    }
    if (r.lastSequence !== total - 1) violation(`${r.name}: last sequence ${r.lastSequence}, expected ${total - 1}`)
    let gapped = 0
    for (const [a, b] of r.gaps) {
      gapped += b - a + 1
      for (let s = a; s <= b; s++) {
        if (!abandonedRanges.some(([lo, hi]) => s >= lo && s <= hi)) {
          violation(`${r.name}: sequence ${s} never delivered, and not reported abandoned`)
          break
        }
      }
    }
    if (gapped !== abandoned) violation(`${r.name}: ${gapped} sequences skipped, ${abandoned} abandoned`)
    for (let p = 0; p < maxIds; p++) {
      if (counters[p] >= 0 && r.perProducer[p] !== counters[p]) {
        violation(
          `${r.name}: producer ${p}: saw counters up to ${r.perProducer[p] - 1}, it wrote up to ${counters[p] - 1}`,
        )
      }
    }
  }

  const seconds = (tStop - tGo) / 1000
  const rssLimit = Math.round((1.5 * rssWarm + 50) * 10) / 10
  if (rssEnd > rssLimit) {
    violation(
      `memory: RSS ${rssEnd} MiB at the end, more than 1.5 x ${rssWarm} MiB (after warm-up) + 50 MiB = ${rssLimit} MiB (both right after a full GC in every thread)`,
    )
  }
  const summary = {
    events: last - abandoned, // delivered to every consumer (the sentinel aside)
    rate: Math.round(total / seconds),
    seconds: Math.round(seconds * 100) / 100,
    wallSeconds: Math.round((performance.now() - wallStart) / 10) / 100,
    perProducer: counts,
    kills,
    abandoned,
    abandonedRanges: abandonedRanges.length,
    paths,
    consumers: results.map((r) => ({ name: r.name, events: r.events })),
    asyncBatches,
    diamondEarly,
    rssMiB: {
      start: rssStart,
      afterWarmup: rssWarm,
      warmupSecond: warmAt,
      end: rssEnd,
      limit: rssLimit,
      endBeforeGc: rssEndNatural,
      max: rssMax,
      afterClose: rssMiB(),
      gcForced: gc !== null,
    },
    cpuPercent: Math.round(((cpuStop - cpuGo) / 1000 / (tStop - tGo)) * 1000) / 10,
    cores: availableParallelism(),
    violationCount,
    violations,
  }
  report(summary)

  /** Prints the summary and the verdict; sets the exit code. */
  function report(s) {
    console.log(JSON.stringify(s))
    if (violationCount === 0) {
      console.log('soak ok')
      process.exitCode = 0
    } else {
      console.log(`soak FAILED: ${violationCount} violation${violationCount === 1 ? '' : 's'}`)
      process.exitCode = 1
    }
  }

  /** Ends a run that cannot finish normally (a stall or a hang). */
  function finish(why) {
    report({
      aborted: why,
      phase,
      events: mainCheck.state.events,
      consumers: checks.map((c) => c.result()),
      violationCount,
      violations,
    })
    process.exit(1)
  }

  // Nothing may keep the process alive now.
  setTimeout(() => {
    console.error('soak: the process did not exit by itself within 15 s of the summary (something keeps it alive)')
    process.exit(3)
  }, 15_000).unref()
}

// ------------------------------------------------------------------------------- entry point

if (isMainThread) {
  main().catch((e) => {
    console.error('soak: crashed:', e)
    process.exit(1)
  })
} else if (workerData.role === 'producer') {
  producer(workerData).catch((e) => {
    parentPort.postMessage({ type: 'error', error: describe(e) })
  })
} else if (workerData.role === 'consumer') {
  consumer(workerData)
}
