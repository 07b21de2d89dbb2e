// Shared pieces of the JS benchmarks: clocks, the control block workers and the main thread
// share, event values and checksums, machine facts, statistics and formatting.

import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import { createRequire } from 'node:module'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { Worker } from 'node:worker_threads'

export const here = path.dirname(fileURLToPath(import.meta.url))
export const benchDir = path.resolve(here, '..')
export const root = path.resolve(benchDir, '..')
export const require = createRequire(import.meta.url)

/** The napi-disruptor API of this checkout (dist/index.js, built by `npm run build`). */
export function loadDisruptor() {
  return require(path.join(root, 'dist', 'index.js')).Disruptor
}

/** shared-memory-disruptor's Disruptor class, or null when the package is not installed/built. */
export function loadSharedMemoryDisruptor() {
  try {
    return require('shared-memory-disruptor').Disruptor
  } catch {
    return null
  }
}

/** Nanoseconds on the process-wide monotonic clock (uv_hrtime): comparable across threads. */
export function nowNs() {
  return Number(process.hrtime.bigint())
}

/**
 * Microseconds on the same monotonic clock as nowNs, but cheap: performance.now() plus an offset
 * measured once per thread (performance.now() is uv_hrtime minus this thread's time origin, so
 * the offset is constant). Used to stamp events for the latency benchmarks.
 */
export function makeClockUs() {
  const samples = []
  for (let i = 0; i < 21; i++) {
    const a = performance.now()
    const ns = Number(process.hrtime.bigint())
    const b = performance.now()
    samples.push({ spread: b - a, offset: ns / 1e3 - ((a + b) / 2) * 1e3 })
  }
  samples.sort((x, y) => x.spread - y.spread)
  const offset = samples[0].offset
  return () => performance.now() * 1e3 + offset
}

// ---- control block (SharedArrayBuffer) shared by the main thread and the producer workers ----
// Int32 indices, each on its own 64-byte line where it matters.
export const CTRL_READY = 0 // workers increment when set up
export const CTRL_GO = 16 // main stores 1 (and notifies) to start
export const CTRL_STOP = 48 // latency runs: main asks the producer to stop
export const CTRL_T0 = 16 // Float64 index (byte 128): per-producer start time, ns (slots 16..31)
export const CTRL_T1 = 32 // Float64 index (byte 256): per-producer end of publishing, ns (32..47)
// postMessage flow control: producer p's messages consumed, at CTRL_ACK + ACK_STRIDE * p (byte
// 512 on; it was Int32 index 32 once, the low half of producer 0's start time in CTRL_T0)
export const CTRL_ACK = 128
export const ACK_STRIDE = 16
export const CTRL_BYTES = 1024

export function newControl() {
  const sab = new SharedArrayBuffer(CTRL_BYTES)
  return { sab, i32: new Int32Array(sab), f64: new Float64Array(sab) }
}

/** Worker side: count in as ready, wait for the go signal. */
export function readyAndWait(i32) {
  Atomics.add(i32, CTRL_READY, 1)
  Atomics.notify(i32, CTRL_READY)
  while (Atomics.load(i32, CTRL_GO) === 0) Atomics.wait(i32, CTRL_GO, 0, 1000)
}

/** Main side: wait (without blocking the event loop for long) until `n` workers are ready. */
export async function waitReady(i32, n, workers) {
  const deadline = Date.now() + 30_000
  while (Atomics.load(i32, CTRL_READY) < n) {
    for (const w of workers) if (w.failed) throw w.failed
    if (Date.now() > deadline) throw new Error('workers did not get ready within 30 s')
    await new Promise((r) => setTimeout(r, 1))
  }
}

export function go(i32) {
  Atomics.store(i32, CTRL_GO, 1)
  Atomics.notify(i32, CTRL_GO)
}

// ---- pull-mode consumers on the main thread ----
/** Pull-mode consumers (pollers, the SAB ring, shared-memory-disruptor) return to the event
 * loop after this long, as napi-disruptor's callback consumers do (src/consumer/runner.ts SLICE_MS). */
export const SLICE_MS = 2

/**
 * Calls `step` in a tight loop on this thread (spinning while there is nothing), checking
 * `isDone` after each call, in slices of SLICE_MS with a setImmediate between slices so that
 * the event loop (timers, messages) still runs. Calls `finish` once done. `step` returns
 * whether it found something; when it did not, `idleSpin` iterations of local work pass before
 * the next call (the latency benchmarks use 0: pure spinning).
 */
/** When a poll finds nothing, this many iterations of local work before polling again: fewer
 * reads of the line the producer is writing (each read makes its next store miss). Measured on
 * the 2-core VM: the napi-disruptor poller at batch 1 went from 15-22M to ~32M events/s, the
 * SAB ring stayed within its noise (16-50M without, 37-49M with); it applies to every
 * pull-mode consumer alike. BENCH_IDLE_SPIN=0 turns it off. */
const IDLE_SPIN = Number(process.env.BENCH_IDLE_SPIN ?? 100)
let sink = 0
function idlePause(n) {
  let x = sink
  for (let i = 0; i < n; i++) x = (x * 31 + i) | 0
  sink = x
}

export function pullLoop(step, isDone, finish, idleSpin = IDLE_SPIN) {
  const slice = () => {
    const end = performance.now() + SLICE_MS
    for (;;) {
      for (let k = 0; k < 64; k++) {
        if (!step() && idleSpin > 0) idlePause(idleSpin)
        if (isDone()) {
          finish()
          return
        }
      }
      if (performance.now() > end) break
    }
    setImmediate(slice)
  }
  slice()
}

// ---- event values and checksums ----
// One producer publishes 1, 2, ..., n: the consumer checks each value is the previous one + 1
// (no loss, no duplicate, in order) and the sum. Producer p of several publishes 4i + p for
// i = 1..m: the consumer checks per-producer order (each value is that producer's previous
// one + 4) and the sum.
export function expectedSum(producers, perProducer) {
  const m = perProducer
  if (producers === 1) return (m * (m + 1)) / 2
  let s = 0
  for (let p = 0; p < producers; p++) s += 4 * ((m * (m + 1)) / 2) + p * m
  return s
}

export function valueAt(producers, p, i) {
  return producers === 1 ? i : 4 * i + p
}

/** Checks one consumer's events from a single producer: 1, 2, 3, ... in order, and their sum. */
export class Checker1 {
  constructor(expected) {
    this.expected = expected // events to receive
    this.sum = 0
    this.count = 0
    this.bad = 0
    this.next = 1
  }

  one(v) {
    this.sum += v
    if (v !== this.next) this.bad++
    this.next = v + 1
  }

  /** Events lo..hi of a Float64Array ring (index = sequence & mask). */
  range(f64, mask, lo, hi) {
    for (let s = lo; s <= hi; s++) this.one(f64[s & mask])
    this.count += hi - lo + 1
  }

  get done() {
    return this.count >= this.expected
  }

  verdict(producers, perProducer) {
    return verdict(this, producers, perProducer)
  }
}

/** Checks one consumer's events from several producers: per-producer order, and the sum. */
export class CheckerN {
  constructor(expected) {
    this.expected = expected
    this.sum = 0
    this.count = 0
    this.bad = 0
    this.last = [0, 1, 2, 3]
  }

  one(v) {
    this.sum += v
    const p = v & 3
    if (v !== this.last[p] + 4) this.bad++
    this.last[p] = v
  }

  range(f64, mask, lo, hi) {
    for (let s = lo; s <= hi; s++) this.one(f64[s & mask])
    this.count += hi - lo + 1
  }

  get done() {
    return this.count >= this.expected
  }

  verdict(producers, perProducer) {
    return verdict(this, producers, perProducer)
  }
}

/**
 * The light consumer of the `1p1c-light` rows: one thing per event, adding its value to a sum,
 * with no order check (Checker1 compares each value with the previous one, which caps every
 * system near the same rate). It still cannot lose an event silently: the verdict compares the
 * count and the sum with what the single producer published (1 + 2 + ... + n).
 */
export class SumOnly {
  constructor(expected) {
    this.expected = expected
    this.sum = 0
    this.count = 0
    this.bad = 0 // no order check: stays 0
  }

  range(f64, mask, lo, hi) {
    let s = this.sum
    for (let q = lo; q <= hi; q++) s += f64[q & mask]
    this.sum = s
    this.count += hi - lo + 1
  }

  get done() {
    return this.count >= this.expected
  }

  verdict(producers, perProducer) {
    return verdict(this, producers, perProducer)
  }
}

export function makeChecker(producers, perProducer) {
  return producers === 1 ? new Checker1(perProducer) : new CheckerN(producers * perProducer)
}

/** null when the consumer saw exactly what was published, else what went wrong. */
function verdict(c, producers, perProducer) {
  const want = expectedSum(producers, perProducer)
  const n = producers * perProducer
  if (c.count !== n) return `received ${c.count} events, published ${n}`
  if (c.sum !== want) return `checksum ${c.sum}, expected ${want}`
  if (c.bad !== 0) return `${c.bad} events out of order or duplicated`
  return null
}

// ---- machine facts ----
function run(cmd, args) {
  try {
    return execFileSync(cmd, args, { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim()
  } catch {
    return null
  }
}

export function machine() {
  let cpu = os.cpus()[0]?.model?.trim() || 'unknown'
  let cores = os.cpus().length
  try {
    const info = fs.readFileSync('/proc/cpuinfo', 'utf8')
    const model = info.match(/^model name\s*:\s*(.+)$/m)
    if (model) cpu = model[1].trim()
    const processors = info.match(/^processor\s*:/gm)
    if (processors) cores = processors.length
  } catch {
    // not Linux
  }
  const commit = run('git', ['rev-parse', 'HEAD'])
  const dirty = commit !== null && (run('git', ['status', '--porcelain']) ?? '') !== ''
  return {
    cpu,
    cores,
    memory_gib: Math.round(os.totalmem() / 2 ** 30),
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    node: process.version,
    v8: process.versions.v8,
    rustc: run('rustc', ['--version']) ?? 'unknown',
    commit: commit ?? 'unknown',
    dirty,
  }
}

// ---- contention: what the rest of the machine did meanwhile ----
function procStatBusyUs() {
  try {
    const line = fs.readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]
    const f = line.trim().split(/\s+/).slice(1).map(Number)
    // user nice system idle iowait irq softirq steal ...: busy = all but idle and iowait
    const total = f.slice(0, 8).reduce((a, b) => a + b, 0)
    return ((total - f[3] - f[4]) * 1e6) / 100 // USER_HZ = 100
  } catch {
    return null // not Linux
  }
}

/**
 * Starts measuring the CPU that other processes use (machine busy time from /proc/stat minus
 * this process's own CPU time); `stop()` returns it in % of one core over the interval (null
 * where /proc/stat is missing). Benchmarks on a shared 2-core machine are only meaningful when
 * this stays near 0.
 */
export function contentionMeter() {
  const busy0 = procStatBusyUs()
  const self0 = process.cpuUsage()
  const t0 = process.hrtime.bigint()
  return {
    stop() {
      const busy1 = procStatBusyUs()
      if (busy0 === null || busy1 === null) return null
      const self = process.cpuUsage(self0)
      const wallUs = Number(process.hrtime.bigint() - t0) / 1000
      // /proc/stat ticks are 10 ms: intervals shorter than ~50 ms are too coarse to say much
      if (wallUs < 50_000) return null
      return Math.max(0, (100 * (busy1 - busy0 - self.user - self.system)) / wallUs)
    },
  }
}

/**
 * Waits until other processes use less than `maxPercent` of a core (sampled over 250 ms), for
 * at most `maxWaitMs`; resolves with the milliseconds waited (or -1 when it gave up).
 */
export async function waitQuiet(maxWaitMs, maxPercent = 10) {
  if (maxWaitMs <= 0) return 0
  const start = Date.now()
  for (;;) {
    const m = contentionMeter()
    await new Promise((r) => setTimeout(r, 250))
    const busy = m.stop()
    if (busy === null || busy < maxPercent) return Date.now() - start
    if (Date.now() - start > maxWaitMs) return -1
  }
}

// ---- statistics and formatting ----
export function median(xs) {
  const s = [...xs].sort((a, b) => a - b)
  const n = s.length
  if (n === 0) return NaN
  return n % 2 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2
}

export function fmtRate(x) {
  if (!Number.isFinite(x)) return 'n/a'
  if (x >= 1e9) return `${(x / 1e9).toFixed(2)} G`
  if (x >= 1e8) return `${(x / 1e6).toFixed(0)} M`
  if (x >= 1e6) return `${(x / 1e6).toFixed(1)} M`
  if (x >= 1e3) return `${(x / 1e3).toFixed(0)} K`
  return x.toFixed(0)
}

export function fmtRatio(x) {
  if (!Number.isFinite(x)) return 'n/a'
  if (x >= 100) return `${x.toFixed(0)}x`
  if (x >= 10) return `${x.toFixed(1)}x`
  return `${x.toFixed(2)}x`
}

export function fmtUs(x) {
  if (!Number.isFinite(x)) return 'n/a'
  if (x >= 1000) return `${(x / 1000).toFixed(2)} ms`
  if (x >= 10) return `${x.toFixed(1)} µs`
  return `${x.toFixed(2)} µs`
}

export function fmtInt(x) {
  return Math.round(x).toLocaleString('en-US')
}

/** Progress on stderr: one line, rewritten in place on a terminal, else one line per update. */
export function progress(text) {
  if (process.stderr.isTTY) {
    process.stderr.write(`\r\x1b[K${text}`)
  } else {
    process.stderr.write(`${text}\n`)
  }
}

export function progressDone() {
  if (process.stderr.isTTY) process.stderr.write('\r\x1b[K')
}

/**
 * A producer worker (eval'd `source`) that sets itself up, posts 'ready' and waits for the go
 * in `workerData.ack` (an Int32Array of 3 over a SharedArrayBuffer: [messages taken, wake word,
 * go]): the clock starts at the go, not at the worker's start-up. Every other message but 'done'
 * goes to `onData`, which acknowledges it (`took`) for the worker's postMessage flow control.
 * Resolves with the milliseconds from the go to `until` settling, the worker terminated.
 */
export async function goWorker(source, workerData, onData, until) {
  const acks = new Int32Array(workerData.ack)
  let t0 = 0
  let taken = 0
  const took = () => {
    Atomics.store(acks, 0, ++taken)
    Atomics.notify(acks, 1)
  }
  const w = new Worker(source, { eval: true, workerData })
  w.on('message', (m) => {
    if (m === 'ready') {
      t0 = performance.now()
      Atomics.store(acks, 2, 1)
      Atomics.notify(acks, 2)
    } else if (m !== 'done') onData(m, took)
  })
  w.on('error', (e) => {
    console.error(e)
    process.exit(2)
  })
  await until
  const ms = performance.now() - t0
  await w.terminate()
  return ms
}
