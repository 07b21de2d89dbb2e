/**
 * A consumer of a ring shared between processes: it receives every event published after it
 * joined, in order, in batches, skipping claims abandoned by producers that died. Its sequence
 * lives in the ring file and gates every producer of every process.
 */

import { isThenable } from '../consumer/runner'
import { coded, rangeError, typeError } from '../errors'
import type { NativeSharedConsumer, NativeSharedRing } from '../native'
import type { Batch } from '../types'
import { fn } from '../validate'

/**
 * What `poll` did: handled a batch, found nothing, found events its upstream consumers have not
 * handled yet (`after`), or found the ring closed and drained.
 */
export type ProcessPollResult = 'processing' | 'idle' | 'gating' | 'closed'

/** How long one wait on libuv's pool lasts before the consumer looks again (ms): bounds how long `stop()` takes. */
const WAIT_SLICE_MS = 200
/** A busy consumer gives the event loop a turn this often (ms), as the thread consumers do. */
const YIELD_EVERY_MS = 2

const turn = () => new Promise<void>((resolve) => setImmediate(resolve))

/** The consumer's fast calls (crates/binding/src/shm.rs `fast_calls`). */
type ConsumerCalls = ReturnType<NativeSharedConsumer['fastCalls']>

export class ProcessConsumer {
  private stopped = false
  private closed = false
  private readonly fast: ConsumerCalls
  /** The next sequence to receive (kept here: asking the native handle costs a call). */
  private next: number
  /** When the loops last gave the event loop a turn (or woke). */
  private since = performance.now()
  /** Batches since the clock was last read, and the size of the last one: a loop of small batches reads it every 16, of large ones every batch. */
  private batchesSinceClock = 0
  private lastBatch = 0
  /** Whether the batch `available()` last gave holds abandoned sequences. */
  private skipping = false
  /** Whether `available()` last stopped short of what is published, at an upstream consumer. */
  private heldBack = false
  /** The consumers that follow this one (`after`): told when it commits or closes. */
  private readonly dependents = new Set<ProcessConsumer>()
  /** Ends `waitForUpstream`'s wait, while one runs. */
  private wakeUp: (() => void) | null = null

  /** @internal Made by `ProcessRing.consumer`. */
  constructor(
    /** The consumer's name, as `stats()` shows it. */
    readonly name: string,
    private readonly ring: NativeSharedRing,
    private readonly native: NativeSharedConsumer,
    private readonly onClose: (c: ProcessConsumer) => void,
    /** The consumers of this process it follows (`after`): it never passes any of them. */
    private readonly upstream: readonly ProcessConsumer[] = [],
  ) {
    this.fast = native.fastCalls()
    this.next = native.sequence() + 1
    for (const u of upstream) u.dependents.add(this)
  }

  /** Whether it took over the entry of a dead process's consumer of its name (`consumer(name, { resume: true })`). */
  get resumed(): boolean {
    return this.native.resumed
  }

  /** The last sequence handled (it receives `sequence + 1` next). */
  get sequence(): number {
    return this.next - 1
  }

  /**
   * Hands what is published now to `handler(lo, hi)`, one call per run of sequences that were
   * not abandoned, then frees those slots for producers. Never waits. If `handler` throws,
   * nothing is freed and the same batch comes again on the next poll.
   */
  poll(handler: (lo: number, hi: number) => void): ProcessPollResult {
    fn('handler', handler)
    const lo = this.next
    const hi = this.available()
    if (hi < lo) return this.heldBack ? 'gating' : this.ring.isDrained(lo) ? 'closed' : 'idle'
    this.eachRun(lo, hi, handler)
    this.commit(hi)
    return 'processing'
  }

  /**
   * Batches as they come, waiting on libuv's pool (never on the event loop) while there are
   * none; ends when intake is closed and everything was received, or on `stop()`. A batch's
   * slots are freed when the loop asks for the next one.
   */
  async *batches(): AsyncGenerator<Batch, void, undefined> {
    let held = -1
    try {
      for (;;) {
        const hi = this.readyNow() ?? (await this.ready())
        if (hi < 0) return
        const runs: Batch[] = []
        this.eachRun(this.next, hi, (a, b) => runs.push({ lo: a, hi: b }))
        held = hi
        for (const r of runs) yield r
        held = -1
        this.commit(hi)
      }
    } finally {
      // A loop that breaks out during a batch has handled it.
      if (held >= 0 && !this.closed) this.commit(held)
    }
  }

  /**
   * Runs `handler(lo, hi)` on every batch until intake is closed and drained, or `stop()`.
   * Slots are freed after the handler returns (or its Promise settles). A handler that throws
   * or rejects stops the consumer: the returned Promise rejects with its error, and the
   * consumer leaves the ring (it no longer gates producers).
   */
  async run(handler: (lo: number, hi: number) => unknown): Promise<void> {
    fn('handler', handler)
    try {
      for (;;) {
        const hi = this.readyNow() ?? (await this.ready())
        if (hi < 0) return
        if (!this.skipping) {
          // The usual batch, one run: no closure or array per batch.
          const r = handler(this.next, hi)
          if (isThenable(r)) await r
        } else {
          const pending: Promise<unknown>[] = []
          this.eachRun(this.next, hi, (a, b) => {
            const r = handler(a, b)
            if (isThenable(r)) pending.push(Promise.resolve(r))
          })
          if (pending.length > 0) await Promise.all(pending)
        }
        this.commit(hi)
      }
    } catch (e) {
      // Closed meanwhile (by its owner, or the ring's close()): what failed is the close's
      // doing (a commit after it), not the handler's.
      if (this.closed) return
      this.close()
      throw e
    }
  }

  /**
   * The loops' fast path, without a Promise: the end of the batch to hand out now, or
   * undefined when `ready()` must run (nothing available, the event loop's turn is due, or
   * stopped).
   */
  private readyNow(): number | undefined {
    if (this.stopped) return undefined
    if (++this.batchesSinceClock >= 16 || this.lastBatch >= 64) {
      this.batchesSinceClock = 0
      if (performance.now() - this.since > YIELD_EVERY_MS) return undefined
    }
    const hi = this.available()
    return hi >= this.next ? hi : undefined
  }

  /**
   * The loops' slow path: gives the event loop a turn, or waits on libuv's pool while nothing is
   * available. The end of the next batch, or -1 once stopped, or closed and drained.
   */
  private async ready(): Promise<number> {
    for (;;) {
      if (this.stopped) return -1
      if (performance.now() - this.since > YIELD_EVERY_MS) {
        await turn()
      } else {
        const hi = this.available()
        if (hi >= this.next) return hi
        if (this.heldBack) await this.waitForUpstream()
        else if (this.ring.isDrained(this.next)) return -1
        else await this.waitForEvents()
      }
      this.since = performance.now()
    }
  }

  /** Ends `batches()` and `run()` within one wait slice, without leaving the ring. */
  stop(): void {
    this.stopped = true
  }

  /**
   * Stops and leaves the ring: the consumer no longer gates producers. The stages that follow
   * it (`after`) leave with it.
   */
  close(): void {
    if (this.closed) return
    this.stopped = true
    this.closed = true
    this.native.close()
    this.onClose(this)
    for (const u of this.upstream) u.dependents.delete(this)
    // A stage can never pass this consumer again: it leaves the ring too, or it would gate
    // every producer of every process for good.
    for (const d of [...this.dependents]) d.close()
    this.wakeUp?.() // its own wait for an upstream ends now
  }

  /** The end of the available batch (`next - 1` if none), noting whether it holds abandoned sequences. */
  private available(): number {
    const found = this.fast.available()
    this.skipping = found <= -2
    let hi = this.skipping ? -found - 2 : found
    if (this.upstream.length > 0) {
      const published = hi
      for (const u of this.upstream) hi = Math.min(hi, u.sequence)
      this.heldBack = hi < published
    }
    return hi
  }

  /** `each` over the runs of the batch `available()` gave that were not abandoned (usually one). */
  private eachRun(lo: number, hi: number, each: (lo: number, hi: number) => void): void {
    if (!this.skipping) each(lo, hi)
    else runsBetween(lo, hi, this.native.abandonedIn(lo, hi), each)
  }

  private commit(hi: number): void {
    this.lastBatch = hi - this.next + 1
    this.fast.commit(hi)
    this.next = hi + 1
    if (this.dependents.size > 0) this.notify()
  }

  /** Ends the waits of the consumers that follow this one. */
  private notify(): void {
    for (const d of this.dependents) d.wakeUp?.()
  }

  /**
   * Until an upstream consumer commits or closes, or a wait slice passes (so that `stop()` is
   * seen): they run on this event loop, so a wait on libuv's pool would not see them move.
   */
  private waitForUpstream(): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = setTimeout(() => this.wakeUp?.(), WAIT_SLICE_MS)
      this.wakeUp = () => {
        this.wakeUp = null
        clearTimeout(timer)
        resolve()
      }
    })
  }

  private async waitForEvents(): Promise<void> {
    const code = await this.ring.waitForAsync(this.next, WAIT_SLICE_MS)
    if (code !== '' && code !== 'ERR_DISRUPTOR_TIMEOUT' && code !== 'ERR_DISRUPTOR_CLOSED') {
      throw coded(new Error(`waiting for events failed: ${code}`), code)
    }
  }
}

/** Calls `each(a, b)` for every run of `[lo, hi]` between the (sorted) `skipped` sequences. */
function runsBetween(lo: number, hi: number, skipped: number[], each: (lo: number, hi: number) => void): void {
  let from = lo
  for (const s of skipped) {
    if (s > from) each(from, s - 1)
    from = s + 1
  }
  if (from <= hi) each(from, hi)
}

/** A consumer name: 1 .. 48 bytes of UTF-8. */
export function checkConsumerName(name: unknown): string {
  if (typeof name !== 'string') throw typeError('a consumer name must be a string')
  const bytes = Buffer.byteLength(name)
  if (bytes === 0 || bytes > 48) throw rangeError(`a consumer name takes 1 .. 48 bytes of UTF-8, got ${bytes}`)
  return name
}
