/**
 * The JavaScript side of a consumer's `SequenceBarrier` (crates/disruptor-core/src/sequence_barrier.rs)
 * and of its sequence: what it may process, read from shared memory, and its progress, stored there.
 */

import { closedError } from '../errors'
import type { NativeRing } from '../native'
import {
  Availability,
  type FastCalls,
  fastCallsOf,
  type RingViews,
  SplitCursorLayout,
  StatsLayout,
  wakeSleepers,
} from '../protocol'

/** A consumer hands its figures to the engine at least once per this many events. */
const REPORT_EVENTS = 16384
/** An idle poller's figures are at most this stale (ms), as a callback consumer's slice. */
const REPORT_MS = 2
/**
 * Availability flags a multi-producer consumer reads itself before it asks the engine to scan
 * the rest (one fast call, about 20 ns): measured with 3P1C at batch 1 and 64.
 */
const SCAN_HERE = 4

/**
 * What one consumer may process and where it got to, read and written through shared memory
 * with the engine (no native call): available sequences come from the cursor (a single
 * producer), the availability flags (multi producers) or the sequences of the consumers it
 * depends on, exactly as the engine's `SequenceBarrier` computes them; progress is an
 * `Atomics.store` into the consumer's own sequence, then the blocking strategy's sleeper check
 * (producers waiting for room and downstream wakers sleep there).
 */
export class Gate {
  private readonly own: BigInt64Array
  private readonly deps: BigInt64Array[]
  private readonly cursor: BigInt64Array
  /** A single producer's split-cursor low word (null for multi producers). */
  private readonly low: Int32Array | null
  private readonly flags: Int32Array | null
  private readonly sleepers: Int32Array | null
  /** This thread's fast functions for the ring (the runner and iterator arm their waker through it). */
  readonly fast: FastCalls
  private readonly halted: Uint8Array
  /** Abandoned ranges recorded and ever marked (`RingViews.abandoned`). */
  private readonly abandoned: Int32Array
  /** The engine said no recorded range ends after `clearAfter` when `clearMarks` were marked. */
  private clearAfter = Infinity
  private clearMarks = -1
  /** After `available` returned `Availability.Hole`: the last sequence to skip. */
  holeEnd = -1
  private readonly size: number
  /** `finish` stores progress once this many events are finished and not yet stored. */
  private readonly flushEvery: number
  /** The sequence last stored into `own`. */
  private stored: number
  /** The highest finished sequence (at least `stored`; above it until `flush`). */
  private finished: number
  private batches = 0
  private events = 0
  private largest = 0
  /** Batches by size: bucket `k` counts batches of `2**k ..= 2**(k+1) - 1` events. */
  private readonly sizes = new Float64Array(StatsLayout.BatchSizeBuckets)
  private lastIdleReport = Number.NEGATIVE_INFINITY
  private skipped = 0
  /** Events and skipped sequences as last handed to the engine (`report`). */
  private reported = 0
  private reportedSkipped = 0

  constructor(
    private readonly native: NativeRing,
    private readonly cid: number,
    views: RingViews,
    size: number,
    deps: BigInt64Array[],
  ) {
    this.own = new BigInt64Array(native.sequenceView(cid))
    this.deps = deps
    this.cursor = views.cursor
    this.low = views.low
    this.flags = views.flags
    this.sleepers = views.sleepers
    this.fast = fastCallsOf(native)
    this.halted = views.halted
    this.abandoned = views.abandoned
    this.size = size
    this.flushEvery = Math.max(1, Math.min(size >>> 3, 1024))
    this.stored = native.consumerSequence(cid)
    this.finished = this.stored
  }

  /** The view of this consumer's sequence (for consumers that depend on it). */
  get view(): BigInt64Array {
    return this.own
  }

  /**
   * The ring's cursor, for a consumer whose next sequence is `next`. On a single-producer ring
   * that is the split cursor's low word (an Int32 `Atomics.load`, no BigInt: the cursor
   * modulo 2**31, and a waiter's flag in the sign bit) extended against `next - 1`: the cursor
   * is never below it (nothing is handed out unpublished) nor more than a ring above it (this
   * consumer, or one after it, gates the producer), and the ring is at most 2**30 slots, so
   * the difference modulo 2**31 is exact.
   */
  private cursorFrom(next: number): number {
    const low = this.low
    if (low === null) return Number(Atomics.load(this.cursor, 0))
    const base = next - 1
    const bits = SplitCursorLayout.LowBits
    const ahead = ((Atomics.load(low, 0) & bits) - (base & bits)) & bits
    // Never true while the invariant above holds; if it ever did not, read it exactly.
    return ahead <= this.size ? base + ahead : this.native.cursor()
  }

  /**
   * The highest sequence available from `next` on (looking at most `limit` ahead on a
   * multi-producer ring), or `Availability.Idle` when nothing is claimed there yet,
   * `Availability.Gating` when it is claimed but not available yet (a producer or an upstream
   * consumer is not done with it), and `Availability.Hole` when `next` starts an abandoned range
   * (to skip up to `holeEnd`, see `skip`). A batch never contains an abandoned sequence.
   * Throws ERR_DISRUPTOR_CLOSED once the ring is halted (a `close()` that only stopped intake
   * leaves consumers draining).
   */
  available(next: number, limit: number): number {
    if (this.halted[0] !== 0) throw closedError()
    const deps = this.deps
    if (deps.length > 0) {
      // Upstream consumers only pass published sequences: their minimum is available.
      let min = Infinity
      for (let i = 0; i < deps.length; i++) {
        const v = Number(Atomics.load(deps[i], 0))
        if (v < min) min = v
      }
      if (min >= next) return this.flags === null ? min : this.withoutAbandoned(next, min)
      return this.cursorFrom(next) >= next ? Availability.Gating : Availability.Idle
    }
    const flags = this.flags
    if (flags === null) {
      const cursor = this.cursorFrom(next)
      return cursor >= next ? cursor : Availability.Idle
    }
    // Multi producers: scan the flags for published laps. As in the engine's
    // MultiProducerSequencer::poll_published, the claim cursor (the producers' contended line)
    // is read only when laps reach 2^31 (truncated, a flag could match an unclaimed sequence)
    // and, below, to tell idle from claimed-but-unpublished.
    const size = this.size
    // A consumer is never a whole ring behind what can be published for it.
    let last = next + Math.min(limit, size) - 1
    if (Math.floor(last / size) >= 0x7fffffff) last = Math.min(last, this.cursorFrom(next))
    // The first few here (an empty or short poll makes no native call), the rest in the engine:
    // V8 calls a builtin for each `Atomics.load` (about 5 ns), where the engine reads the flags
    // relaxed and fences once (3P1C batch 64: the consumer's scan set the pace).
    let s = next
    const here = Math.min(last, next + SCAN_HERE - 1)
    while (s <= here) {
      const index = s % size
      if (Atomics.load(flags, index) !== (((s - index) / size) | 0)) break
      s++
    }
    if (s > here && s <= last) s += this.fast.scan(s, last)
    if (s > next) return this.withoutAbandoned(next, s - 1)
    return this.cursorFrom(next) >= next ? Availability.Gating : Availability.Idle
  }

  /**
   * `[next, hi]`, available on a multi-producer ring (only multi producers abandon claims), up
   * to its first abandoned sequence. A plain read after the Atomics loads that found `hi`: a
   * range is recorded before it is published (`AbandonedRanges::mark`), so it is seen here.
   */
  private withoutAbandoned(next: number, hi: number): number {
    const abandoned = this.abandoned
    if (abandoned[0] === 0) return hi
    // None ends at or after a sequence below `next`, and none was marked since.
    if (next > this.clearAfter && abandoned[1] === this.clearMarks) return hi
    return this.clip(next, hi)
  }

  /** `[next, hi]` without abandoned sequences: up to the first one, or `Availability.Hole`. */
  private clip(next: number, hi: number): number {
    // Read before asking: a range marked meanwhile changes it, so the answer is not cached past it.
    const marks = this.abandoned[1]
    const range = this.native.abandonedIn(next, hi)
    if (range === null) return hi
    if (range.length === 0) {
      this.clearAfter = next - 1
      this.clearMarks = marks
      return hi
    }
    if (range[0] > next) return range[0] - 1
    this.holeEnd = Math.min(range[1], hi)
    return Availability.Hole
  }

  /**
   * Marks everything up to `hi` processed, of which `count` abandoned sequences were skipped
   * (not events), storing it at once if `now`, else as `finish` does.
   */
  skip(hi: number, count: number, now: boolean): void {
    this.skipped += count
    this.finished = hi
    if (now || hi - this.stored >= this.flushEvery) this.store(hi)
  }

  /** Counts `count` abandoned sequences skipped within what `release` is given next. */
  countSkipped(count: number): void {
    this.skipped += count
  }

  /** Marks everything up to `hi` processed (`count` events in this batch), at once. */
  release(hi: number, count: number): void {
    this.tally(count)
    this.releaseCounted(hi)
  }

  /** Counts a batch of `count` events finished, to be released with others (`releaseCounted`). */
  count(count: number): void {
    this.tally(count)
  }

  /** Marks everything up to `hi` processed, at once: batches `count`ed before. */
  releaseCounted(hi: number): void {
    this.finished = hi
    this.store(hi)
  }

  /**
   * Marks everything up to `hi` processed (`count` events in this batch), storing it only
   * every `flushEvery` events: a callback consumer that drains batch after batch records its
   * progress once per run of batches (`flush`, before it waits or yields, and before a
   * failure is reported) rather than with one 64-bit store and sleeper check per batch.
   * Producers still get room at least every `flushEvery` events (at most an eighth of the ring).
   */
  finish(hi: number, count: number): void {
    this.tally(count)
    this.finished = hi
    if (hi - this.stored >= this.flushEvery) this.store(hi)
  }

  /** Stores what `finish` recorded and has not stored yet. */
  flush(): void {
    if (this.finished > this.stored) this.store(this.finished)
  }

  private tally(count: number): void {
    this.batches++
    this.events += count
    this.sizes[31 - Math.clz32(count)]++
    if (count > this.largest) this.largest = count
    // By events, not batches: another thread's stats() (its rates) sees figures at most this
    // stale, at one native call per REPORT_EVENTS events at most.
    if (this.events - this.reported >= REPORT_EVENTS) this.report()
  }

  private store(hi: number): void {
    this.stored = hi
    Atomics.store(this.own, 0, BigInt(hi))
    wakeSleepers(this.sleepers, this.fast)
  }

  /**
   * `report` from a poll that found nothing, at most once per REPORT_MS: a loop that polls an
   * idle ring must not make a native call per poll (nor per few events, between bursts).
   */
  reportIdle(): void {
    const now = performance.now()
    if (now - this.lastIdleReport < REPORT_MS) return
    this.lastIdleReport = now
    this.report()
  }

  /** Hands the statistics kept here to the engine (what `stats()` shows, on every thread). */
  report(): void {
    this.flush()
    if (this.reported === this.events && this.reportedSkipped === this.skipped) return
    this.reported = this.events
    this.reportedSkipped = this.skipped
    try {
      this.native.report(this.cid, this.batches, this.events, this.largest, this.skipped, this.sizes)
    } catch {
      // removed or closed meanwhile: nothing left to report to
    }
  }
}
