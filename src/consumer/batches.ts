/**
 * `batches()`: an async iterator of batches over a gating consumer, waiting for events through
 * its native waker without blocking the event loop.
 */

import { closedError } from '../errors'
import type { NativeRing } from '../native'
import { Availability } from '../protocol'
import type { Batch, DisruptorError } from '../types'
import type { Gate } from './gate'
import type { ConsumerHost, Retirable } from './host'

/** `batches()`: an async iterator over a poller that waits without blocking the event loop. */
export class BatchIterator implements AsyncIterableIterator<Batch>, Retirable {
  private seq: number
  private pending: Batch | null = null
  private waiting: { resolve: () => void; reject: (e: Error) => void } | null = null
  private stopped: 'closed' | 'halted' | 'done' | null = null
  /** Removed while its loop body held a batch: called once the body lets go of it. */
  private released: (() => void) | null = null

  constructor(
    private readonly host: ConsumerHost,
    native: NativeRing,
    private readonly cid: number,
    private readonly maxBatchSize: number,
    private readonly gate: Gate,
  ) {
    this.seq = native.consumerSequence(cid)
    native.setWaker(cid, (timedOut) => {
      // A timeout-blocking wait timed out: nothing to yield, and the waker waits on.
      if (timedOut) return
      const w = this.waiting
      this.waiting = null
      w?.resolve()
    })
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<Batch> {
    return this
  }

  /** `next()` calls running; a call made while one runs waits for it (`tail`). */
  private busy = 0
  private tail: Promise<unknown> = Promise.resolve()

  next(): Promise<IteratorResult<Batch>> {
    const start = () => {
      this.busy++
      const r = this.nextBatch()
      // Registered before any caller's reaction, so the count drops before they resume.
      const done = () => {
        this.busy--
      }
      r.then(done, done)
      return r
    }
    // With none running, start at once: the previous batch is released synchronously.
    const result = this.busy === 0 ? start() : this.tail.then(start)
    this.tail = result.then(
      () => undefined,
      () => undefined,
    )
    return result
  }

  private async nextBatch(): Promise<IteratorResult<Batch>> {
    this.letGo()
    for (;;) {
      if (this.stopped === 'done') return { value: undefined, done: true }
      if (this.stopped) throw closedError()
      let available: number
      try {
        if (this.pending) {
          this.gate.release(this.pending.hi, this.pending.hi - this.pending.lo + 1)
          this.seq = this.pending.hi
          this.pending = null
        }
        available = this.gate.available(this.seq + 1, this.maxBatchSize)
        while (available === Availability.Hole) {
          // Abandoned sequences (claimed, never published) are skipped, never yielded.
          const end = this.gate.holeEnd
          this.gate.skip(end, end - this.seq, true)
          this.seq = end
          available = this.gate.available(this.seq + 1, this.maxBatchSize)
        }
      } catch (e) {
        if ((e as DisruptorError).code === 'ERR_DISRUPTOR_CLOSED') this.stopped = 'closed'
        throw e
      }
      if (available > this.seq) {
        const lo = this.seq + 1
        const batch = { lo, hi: Math.min(available, lo + this.maxBatchSize - 1) }
        this.pending = batch
        return { value: batch, done: false }
      }
      this.gate.report() // it waits: its figures to the engine first (as a callback consumer's)
      await new Promise<void>((resolve, reject) => {
        // Armed first: if that throws (closed), the promise rejects and nothing is counted.
        this.gate.fast.arm(this.cid, this.seq + 1)
        this.waiting = {
          resolve: () => {
            this.host.countWaiting(-1)
            resolve()
          },
          reject: (e: Error) => {
            this.host.countWaiting(-1)
            reject(e)
          },
        }
        this.host.countWaiting(1)
      })
    }
  }

  /** Ends the iteration (also on `break`): the batch last yielded counts as processed. */
  async return(): Promise<IteratorResult<Batch>> {
    this.letGo()
    if (!this.stopped) {
      try {
        if (this.pending) this.gate.release(this.pending.hi, this.pending.hi - this.pending.lo + 1)
        this.gate.report()
      } catch {
        // closed meanwhile
      }
      this.pending = null
      this.stopped = 'done'
      this.host.remove(this, this.cid)
      // A next() still waiting ends too (it finds the iterator done).
      const w = this.waiting
      this.waiting = null
      w?.resolve()
    }
    return { value: undefined, done: true }
  }

  /** Resolves a waiting `next()` if a batch is there (see `ConsumerRunner.kick`). */
  kick(): boolean {
    if (this.waiting === null || this.stopped) return false
    try {
      const available = this.gate.available(this.seq + 1, 1)
      if (available < 0 && available !== Availability.Hole) return false
    } catch {
      // closed: next() will find out
    }
    const w = this.waiting
    this.waiting = null
    w.resolve()
    return true
  }

  /**
   * Removed from the ring: the iteration ends (`done`). Resolves once the loop body let go of
   * the batch it was given (it asks for the next one, or breaks): until then it may read it.
   */
  retire(): Promise<void> {
    const holding = this.pending !== null && this.stopped === null
    this.stop('removed')
    if (!holding) return Promise.resolve()
    return new Promise((resolve) => {
      this.released = resolve
    })
  }

  /** The loop body let go of its batch (`next()` or `return()` was called). */
  private letGo(): void {
    const released = this.released
    this.released = null
    released?.()
  }

  /** Closed or halted: a waiting `next()` rejects. Removed: the iteration ends (`done`). */
  stop(reason: 'closed' | 'halted' | 'removed'): void {
    if (this.stopped) return
    this.gate.report()
    this.stopped = reason === 'removed' ? 'done' : reason
    const w = this.waiting
    this.waiting = null
    if (reason === 'removed') w?.resolve()
    else w?.reject(closedError())
  }
}
