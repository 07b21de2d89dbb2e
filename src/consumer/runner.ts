/**
 * Runs a callback consumer on the JavaScript thread that registered it: LMAX's
 * BatchEventProcessor (one handler) and worker pool (several handlers sharing one sequence),
 * driven by the event loop instead of a thread of their own.
 */

import { performance } from 'node:perf_hooks'

import { message } from '../errors'
import type { NativeRing } from '../native'
import { Availability } from '../protocol'
import type { DisruptorError } from '../types'
import type { Gate } from './gate'
import { decide, type Worker } from './handler'
import type { ConsumerHost, Retirable } from './host'

/** How long a consumer drains batches before yielding to the event loop. */
const SLICE_MS = 2
/**
 * How long a callback consumer that found nothing polls on (with growing pauses) before it
 * arms its native waker: under load the next event is usually that close, and a wake-up costs
 * a native call, a thread switch and a trip through the event loop (~10 µs on a 2-core VM).
 * Bounded, once per idle transition: an idle ring still uses no CPU.
 */
const SPIN_MS = 0.02
/**
 * Iterations of `ConsumerRunner.pause` (about 5 ns each) between the polls of a consumer that
 * polls on: first, and at most (doubling in between). Each poll of the line the producer
 * writes makes the producer's next store wait for that line, so polls are spaced.
 */
const SPIN_PAUSE_FIRST = 64
const SPIN_PAUSE_MAX = 256
/** A consumer paces its polls (`ConsumerRunner.adaptPace`) until batches reach this size... */
const PACE_BATCH = 256
/** ...pausing at most this many iterations (about 5 µs) before a poll. */
const PACE_MAX = 1024

/** Callback consumers started and not stopped on this thread (of any ring). */
let runningConsumers = 0

/**
 * Whether a handler's result is to be awaited. Never throws: a result whose `then` cannot even
 * be read (a throwing getter, a revoked Proxy) counts as a thenable, so that `Promise.resolve`
 * turns the same error into a rejection that the consumer's exception policy handles.
 */
export function isThenable(value: unknown): value is PromiseLike<unknown> {
  if (value === null || (typeof value !== 'object' && typeof value !== 'function')) return false
  try {
    return typeof (value as { then?: unknown }).then === 'function'
  } catch {
    return true
  }
}

interface InFlight {
  lo: number
  hi: number
  done: boolean
  /** An abandoned range skipped, not a batch handed to a worker. */
  skipped: boolean
  /** Times it was rewound (handed to its worker again after an error). */
  rewinds: number
}

/**
 * Runs one consumer (one handler, or a worker pool sharing one sequence) on this thread: woken
 * by its native waker when it goes from idle to busy, then drains every available batch in a
 * loop through shared memory (no native call), yielding to the event loop every couple of
 * milliseconds; when it finds nothing it polls on for a few microseconds (`SPIN_MS`) before it
 * arms the waker again.
 */
export class ConsumerRunner implements Retirable {
  private dispatched: number
  private readonly inflight: InFlight[] = []
  private readonly idle: number[]
  private pumping = false
  private scheduled = false
  /** Waiting for its waker (counted by the host's `countWaiting`). */
  private armed = false
  private stopped = false
  private started = false
  /** Highest available sequence last seen (or -1/-2: none). */
  private available = -1
  /** How far ahead to look for available sequences (the largest batch a worker takes). */
  private readonly scan: number
  /** Whether it follows other consumers (which run on this thread too). */
  private readonly hasDeps: boolean
  /** Batches between two reads of the clock (adapted to how long batches take). */
  private clockEvery = 1
  /** Where `pause` puts its result (so that it is not optimised away). */
  spinSink = 0
  /** Iterations of `pause` before each poll (see `adaptPace`). */
  private pace = 0
  /** Asked to leave (`retire`): resolved once it stopped, nothing in flight. */
  private retiring: { done: Promise<void>; resolve: () => void } | null = null

  constructor(
    private readonly host: ConsumerHost,
    private readonly native: NativeRing,
    readonly cid: number,
    readonly name: string,
    private readonly workers: Worker[],
    private readonly gate: Gate,
    hasDeps: boolean,
  ) {
    this.dispatched = native.consumerSequence(cid)
    this.idle = workers.map((_, i) => workers.length - 1 - i)
    this.scan = Math.min(host.size, Math.max(...workers.map((w) => w.maxBatchSize)))
    this.hasDeps = hasDeps
  }

  start(): void {
    if (this.started) return
    this.started = true
    runningConsumers++
    this.native.setWaker(this.cid, (timedOut) => (timedOut ? this.timedOut() : this.pump()))
    for (const w of this.workers) {
      if (w.onStart) {
        try {
          w.onStart()
        } catch (e) {
          this.fail(this.dispatched + 1, e)
          return
        }
      }
    }
    this.pump()
  }

  /**
   * Lets this consumer leave the ring alone (live removal): it takes no new batch, lets the
   * batches in flight settle (their progress stored), then stops as on close (`onShutdown`).
   * Resolves then; the host removes it from the engine after.
   */
  retire(): Promise<void> {
    if (this.retiring === null) {
      let resolve = () => {}
      const done = new Promise<void>((r) => {
        resolve = r
      })
      this.retiring = { done, resolve }
      this.retireIfIdle()
    }
    return this.retiring.done
  }

  /** A retiring consumer with nothing running or in flight stops now (one halted already has). */
  private retireIfIdle(): void {
    if (this.retiring === null) return
    if (this.stopped || (!this.pumping && this.inflight.length === 0)) this.stop()
  }

  stop(): void {
    // Whatever stops it (a retirement, a failure, the ring closing) ends a retirement too.
    this.retiring?.resolve()
    if (this.stopped) return
    this.stopped = true
    this.gate.report()
    if (this.armed) {
      this.armed = false
      this.host.countWaiting(-1)
    }
    if (!this.started) return
    runningConsumers--
    for (const w of this.workers) {
      try {
        w.onShutdown?.()
      } catch (e) {
        this.host.report(this.name, e)
      }
    }
  }

  /**
   * A timeout-blocking wait timed out while this consumer waited for events (its waker waits
   * on): each worker's `onTimeout` gets the last sequence handed out. A throw is reported, as
   * an `onShutdown`'s is.
   */
  private timedOut(): void {
    if (!this.started || this.stopped) return
    try {
      this.native.timeoutSeen(this.cid)
    } catch {
      return // removed or closed meanwhile
    }
    if (!this.armed) return
    for (const w of this.workers) {
      try {
        w.onTimeout?.(this.dispatched)
      } catch (e) {
        this.host.report(this.name, e)
      }
    }
  }

  /**
   * Delivers what is waiting now, if anything (before the process would exit: the waker's call
   * does not keep the event loop alive, so it might never run).
   */
  kick(): boolean {
    if (!this.started || this.stopped || this.retiring !== null || this.pumping || this.idle.length === 0) {
      return false
    }
    try {
      const available = this.gate.available(this.dispatched + 1, 1)
      if (available < 0 && available !== Availability.Hole) return false
    } catch {
      return false
    }
    this.pump()
    return true
  }

  private pump = (): void => {
    if (this.armed) {
      this.armed = false
      this.host.countWaiting(-1)
    }
    if (this.pumping || this.stopped) return
    this.scheduled = false
    this.pumping = true
    try {
      this.drainBatches()
    } catch (e) {
      // Only native calls throw here: the ring was closed by another thread.
      if ((e as DisruptorError).code !== 'ERR_DISRUPTOR_CLOSED') this.host.report(this.name, e)
      this.stop()
    } finally {
      this.pumping = false
    }
    this.retireIfIdle()
  }

  private drainBatches(): void {
    const gate = this.gate
    const start = performance.now()
    let last = start
    let sinceClock = 0
    let available = this.available
    while (!this.stopped && this.retiring === null && this.idle.length > 0) {
      let streaming = true
      if (available <= this.dispatched) {
        if (this.pace > 0) this.pause(this.pace)
        available = gate.available(this.dispatched + 1, this.scan)
        if (available <= this.dispatched) {
          if (available !== Availability.Hole) {
            streaming = false
            available = this.pollOn()
          }
          if (available === Availability.Hole) {
            this.skipHole()
            continue
          }
        }
        if (available <= this.dispatched) {
          // Nothing new: ask the waker for a call once the next sequence is there.
          this.available = -1
          gate.report()
          gate.fast.arm(this.cid, this.dispatched + 1)
          if (!this.armed) {
            this.armed = true
            this.host.countWaiting(1)
          }
          return
        }
      }
      const w = this.idle.pop() as number
      const worker = this.workers[w]
      const lo = this.dispatched + 1
      const hi = Math.min(available, lo + worker.maxBatchSize - 1)
      this.dispatched = hi
      if (this.inflight.length === 0) {
        // Nothing in flight before it (the common case): a synchronous batch is finished at
        // once, with no bookkeeping object.
        let result: unknown
        try {
          result = worker.onBatch(lo, hi)
        } catch (e) {
          const batch: InFlight = { lo, hi, done: false, skipped: false, rewinds: 0 }
          this.inflight.push(batch)
          this.failed(w, batch, e)
          available = this.available
          continue
        }
        if (isThenable(result)) {
          const batch: InFlight = { lo, hi, done: false, skipped: false, rewinds: 0 }
          this.inflight.push(batch)
          this.awaitBatch(w, batch, result)
        } else {
          this.idle.push(w)
          gate.finish(hi, hi - lo + 1)
          this.adaptPace(hi - lo + 1, streaming)
        }
      } else {
        const batch: InFlight = { lo, hi, done: false, skipped: false, rewinds: 0 }
        this.inflight.push(batch)
        let result: unknown
        try {
          result = worker.onBatch(lo, hi)
        } catch (e) {
          this.failed(w, batch, e)
          available = this.available
          continue
        }
        if (isThenable(result)) {
          this.awaitBatch(w, batch, result)
        } else {
          batch.done = true
          this.idle.push(w)
          this.releaseDone()
        }
      }
      // The clock is read every `clockEvery` batches, adapted so that reads come about every
      // 0.1 ms (a read costs about as much as a small batch).
      if (++sinceClock >= this.clockEvery) {
        const now = performance.now()
        if (now - start > SLICE_MS) {
          this.available = available
          // Its figures too (one native call per slice): another thread's stats() sees a
          // busy consumer's rates at most a slice stale.
          gate.report()
          this.schedule()
          return
        }
        const perBatch = (now - last) / sinceClock
        this.clockEvery = perBatch > 0 ? Math.max(1, Math.min(64, Math.floor(0.1 / perBatch))) : 64
        last = now
        sinceClock = 0
      }
    }
    this.available = available
    gate.flush()
  }

  /**
   * Found nothing: polls on with growing pauses for up to `SPIN_MS`. Returns the highest
   * available sequence, or -1 (the caller then stores its progress and arms the waker). The
   * progress not stored yet is stored after the first microsecond or so: a producer streaming
   * batches is back sooner (no store needed), one that waits for room gets it then.
   */
  private pollOn(): number {
    const gate = this.gate
    // Polling on only pays when what it waits for comes from another thread (not from
    // consumers it follows, nor from a single producer on this thread), and when nothing else
    // on this thread waits for the event loop meanwhile (another callback consumer, a poller
    // or an iterator of this ring).
    if (this.hasDeps || runningConsumers !== 1 || !this.host.mayPollOn()) return -1
    const next = this.dispatched + 1
    const deadline = performance.now() + SPIN_MS
    let pause = SPIN_PAUSE_FIRST
    for (let round = 1; ; round++) {
      // Each poll of the line the producer writes makes its next store wait for that line:
      // growing pauses between them.
      this.pause(pause)
      const available = gate.available(next, this.scan)
      if (available >= next || available === Availability.Hole) return available
      if (pause < SPIN_PAUSE_MAX) pause *= 2
      if ((round & 3) === 0) {
        if (round === 4) gate.flush()
        if (performance.now() > deadline) return -1
      }
    }
  }

  /** About `n` * 5 ns of local work (no memory traffic). */
  private pause(n: number): void {
    let x = n
    for (let i = 0; i < n; i++) x = (x * 31 + i) | 0
    this.spinSink = x
  }

  /**
   * Paces the polls of a lone consumer that keeps finding small batches as soon as it looks
   * (`streaming`: the producer publishes faster than the consumer polls): each poll costs the
   * producer a cache-line transfer (its next store has to take the line back), so it waits a
   * little longer before the next poll (up to `PACE_MAX` iterations, a few µs) until batches
   * grow to `PACE_BATCH`. A batch it had to wait for (the producer is slower than the
   * consumer: latency matters, not transfers) or a big one shortens the pause again.
   */
  private adaptPace(events: number, streaming: boolean): void {
    if (!streaming || events >= PACE_BATCH) {
      this.pace >>= 1
    } else if (this.pace < PACE_MAX && !this.hasDeps && runningConsumers === 1 && this.host.mayPollOn()) {
      this.pace = this.pace === 0 ? 8 : this.pace * 2
    }
  }

  private awaitBatch(w: number, batch: InFlight, result: PromiseLike<unknown>): void {
    // Promise.resolve: a foreign thenable that calls back twice settles this batch once.
    Promise.resolve(result).then(
      () => this.settled(w, batch),
      (e: unknown) => this.failed(w, batch, e),
    )
  }

  private schedule(): void {
    if (this.scheduled || this.stopped) return
    this.scheduled = true
    setImmediate(this.pump)
  }

  /**
   * Skips the abandoned range `available` found at the next sequence (up to `gate.holeEnd`):
   * done at once, stored in order after the batches still in flight before it.
   */
  private skipHole(): void {
    const lo = this.dispatched + 1
    const hi = this.gate.holeEnd
    this.dispatched = hi
    if (this.inflight.length === 0) this.gate.skip(hi, hi - lo + 1, false)
    else this.inflight.push({ lo, hi, done: true, skipped: true, rewinds: 0 })
  }

  /** Releases the finished prefix of the in-flight batches. */
  private releaseDone(): void {
    let hi = -1
    let events = false
    while (this.inflight.length > 0 && this.inflight[0].done) {
      const batch = this.inflight.shift() as InFlight
      hi = batch.hi
      if (batch.skipped) this.gate.countSkipped(batch.hi - batch.lo + 1)
      else {
        // Each batch counted as one (the histogram, the largest batch), stored together.
        this.gate.count(batch.hi - batch.lo + 1)
        events = true
      }
    }
    if (hi < 0) return
    if (events) this.gate.releaseCounted(hi)
    else this.gate.skip(hi, 0, true)
  }

  private settled(w: number, batch: InFlight): void {
    if (this.stopped) return
    batch.done = true
    this.idle.push(w)
    try {
      this.releaseDone()
    } catch (e) {
      if ((e as DisruptorError).code !== 'ERR_DISRUPTOR_CLOSED') this.host.report(this.name, e)
      this.stop()
      return
    }
    if (this.retiring !== null) this.retireIfIdle()
    else this.schedule()
  }

  private failed(w: number, batch: InFlight, error: unknown): void {
    if (this.stopped) return
    const worker = this.workers[w]
    const [decision, cause] = decide(worker, error, batch.lo, batch.hi, batch.rewinds)
    if (decision === 'rewind') {
      batch.rewinds++
      this.recordError(batch.lo, cause)
      const again = () => this.rerun(w, batch)
      if (worker.rewindDelayMs > 0) setTimeout(again, worker.rewindDelayMs)
      else setImmediate(again)
      return
    }
    if (decision === 'halt') {
      this.fail(batch.lo, cause)
      return
    }
    this.recordError(batch.lo, cause)
    this.settled(w, batch)
  }

  /** Hands a rewound batch to its worker again (it stayed in flight, its worker busy). */
  private rerun(w: number, batch: InFlight): void {
    if (this.stopped) return
    let result: unknown
    try {
      result = this.workers[w].onBatch(batch.lo, batch.hi)
    } catch (e) {
      this.failed(w, batch, e)
      return
    }
    if (isThenable(result)) this.awaitBatch(w, batch, result)
    else this.settled(w, batch)
  }

  /** An error handled by skipping or rewinding: counted, kept as the last error. */
  private recordError(sequence: number, error: unknown): void {
    try {
      this.native.recordError(this.cid, sequence, message(error))
    } catch {
      // closed meanwhile: nothing left to record
    }
  }

  private fail(sequence: number, error: unknown): void {
    try {
      // What finished before the failure is stored first: consumers after this one see it.
      this.gate.flush()
      this.native.fail(this.cid, sequence, message(error))
    } catch {
      // already closed
    }
    this.stop()
    this.host.failed(this.name, error, this.cid)
  }
}
