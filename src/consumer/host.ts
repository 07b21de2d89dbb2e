/**
 * What a consumer needs from its ring on this thread, as a small interface: consumers never
 * reach into the Disruptor. `Consumers` (consumers.ts) implements it.
 */

/** Something `close()`/`halt()` must stop on this thread. */
export interface Stoppable {
  /** 'removed': this consumer alone leaves (`removeConsumer`); the ring goes on. */
  stop(reason: 'closed' | 'halted' | 'removed'): void
  /** Delivers pending events now; true if it did something. */
  kick?(): boolean
}

/** A consumer that can leave the running ring alone (`removeConsumer`). */
export interface Retirable extends Stoppable {
  /**
   * Stops it ('removed'), and resolves once nothing of it reads slots any more: then it may
   * stop gating producers.
   */
  retire(): Promise<void>
}

export interface ConsumerHost {
  /** Slots in the ring. */
  readonly size: number
  /**
   * A consumer or iterator of this thread started (+1) or stopped (-1) waiting for its waker:
   * while any waits, a publish on this thread delivers to it from the event loop.
   */
  countWaiting(delta: 1 | -1): void
  /**
   * Whether a callback consumer that found nothing may poll on for a few microseconds: not when
   * this thread produces on the ring, nor when it has pollers or iterators (they need the loop).
   */
  mayPollOn(): boolean
  /** Consumer `cid` halted on `error`: drain() and close() report it. */
  failed(name: string, error: unknown, cid: number): void
  /** An error to report to 'error' listeners (a throwing onShutdown, a native failure). */
  report(name: string, error: unknown): void
  /** A poller or iterator ended: it no longer gates producers. */
  remove(consumer: Stoppable, cid: number): void
}
