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
  /** A consumer halted on `error`: drain() and close() report it. */
  failed(name: string, error: unknown): void
  /** An error to report to 'error' listeners (a throwing onShutdown, a native failure). */
  report(name: string, error: unknown): void
  /** A poller or iterator ended: it no longer gates producers. */
  remove(consumer: Stoppable, cid: number): void
}
