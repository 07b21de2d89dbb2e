/**
 * Pull mode: LMAX's EventPoller on the JavaScript thread. The caller decides when to poll; the
 * poller gates producers like any consumer.
 */

import { closedError, removedError } from '../errors'
import type { NativeRing } from '../native'
import { Availability } from '../protocol'
import type { PollResult } from '../types'
import { fn } from '../validate'
import type { Gate } from './gate'
import type { ConsumerHost } from './host'

// Structurally a Stoppable; not declared so, because `stop` is internal and stripped from
// index.d.ts (a declared `implements` would not type-check there).
/**
 * A gating consumer driven by the caller (pull mode). It gates producers like any consumer: a
 * poller that is never polled eventually stops the ring.
 */
export class Poller {
  private seq: number
  private stopped = false
  private removed = false

  /** @internal */
  constructor(
    private readonly host: ConsumerHost,
    native: NativeRing,
    private readonly cid: number,
    private readonly maxBatchSize: number,
    private readonly gate: Gate,
  ) {
    this.seq = native.consumerSequence(cid)
  }

  /** The last sequence this poller finished. */
  get sequence(): number {
    return this.seq
  }

  /**
   * Calls `handler(lo, hi)` with what is available and marks it processed, synchronously.
   * If the handler throws, nothing is marked processed and the error propagates (poll again to
   * retry). Throws ERR_DISRUPTOR_CLOSED once the ring (or this poller) is closed, and
   * ERR_DISRUPTOR_CONSUMER_REMOVED once it was removed (`removeConsumer`, from any thread).
   */
  poll(handler: (lo: number, hi: number) => unknown): PollResult {
    fn('handler', handler)
    if (this.stopped) throw this.removed ? removedError() : closedError()
    let lo = this.seq + 1
    let available = this.gate.available(lo, this.maxBatchSize)
    while (available === Availability.Hole) {
      // Abandoned sequences (claimed, never published) are skipped, never handed over.
      const end = this.gate.holeEnd
      this.gate.skip(end, end - lo + 1, true)
      this.seq = end
      lo = end + 1
      available = this.gate.available(lo, this.maxBatchSize)
    }
    if (available < 0) {
      // Nothing to do: its figures to the engine (another thread's stats() sees its rates), at
      // most every 2 ms and only if something changed since the last report.
      this.gate.reportIdle()
      return available === Availability.Idle ? 'idle' : 'gating'
    }
    const hi = Math.min(available, lo + this.maxBatchSize - 1)
    handler(lo, hi)
    this.gate.release(hi, hi - lo + 1)
    this.seq = hi
    return 'processing'
  }

  /** Stops polling: the poller no longer gates producers. */
  close(): void {
    if (this.stopped) return
    this.stopped = true
    this.gate.report()
    this.host.remove(this, this.cid)
  }

  /** @internal Removed from the ring: a poll is synchronous, so none holds slots now. */
  retire(): Promise<void> {
    this.stop('removed')
    return Promise.resolve()
  }

  /** @internal */
  stop(reason: 'closed' | 'halted' | 'removed'): void {
    if (this.stopped) return
    this.stopped = true
    this.removed = reason === 'removed'
    this.gate.report()
  }
}
