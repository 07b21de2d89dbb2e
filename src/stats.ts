/**
 * `stats()`: the engine's cumulative figures in the public shape, with rates over a window
 * (events/s and ns per event per consumer, published/s and producer wait per claim for the
 * ring) taken against the previous call on the same Disruptor object.
 */

import type { NativeRingStats } from './native'
import type { ConsumerStats, DisruptorStats } from './types'

/** What a window starts from: the figures of the previous call. */
interface Mark {
  at: number
  cursor: number
  waitNanos: number
  claims: number
  /** Events per consumer, by its ring-wide serial (names may repeat). */
  events: Map<number, number>
}

/** The rates one Disruptor object reports: each `take` closes a window and opens the next. */
export class StatsWindow {
  private mark: Mark

  /** A first window from `at` (ms, `performance.now()`), with the figures of then. */
  constructor(at: number, start: NativeRingStats) {
    this.mark = markOf(at, start)
  }

  /** `s`, taken at `at`, in the public shape with the rates since the previous call. */
  take(at: number, s: NativeRingStats): DisruptorStats {
    const from = this.mark
    this.mark = markOf(at, s)
    const ms = Math.max(at - from.at, 0)
    const perSecond = (n: number) => (ms > 0 ? (n * 1000) / ms : 0)
    const claims = s.claims - from.claims
    return {
      cursor: s.cursor,
      remainingCapacity: s.remainingCapacity,
      producerWaitNanos: s.producerWaitNanos,
      claims: s.claims,
      abandonedEvents: s.abandonedEvents,
      windowMs: ms,
      publishedPerSecond: perSecond(Math.max(s.cursor - from.cursor, 0)),
      producerWaitNanosPerClaim: claims > 0 ? (s.producerWaitNanos - from.waitNanos) / claims : 0,
      consumers: s.consumers.map((c) => {
        // A consumer that joined within the window counts from zero.
        const events = c.events - (from.events.get(c.serial) ?? 0)
        return {
          name: c.name,
          sequence: c.sequence,
          lag: c.lag,
          batches: c.batches,
          events: c.events,
          largestBatch: c.largestBatch,
          waitNanos: c.waitNanos,
          errors: c.errors,
          skipped: c.skipped,
          state: c.state as ConsumerStats['state'],
          ...(c.lastError === undefined || c.lastError === null ? {} : { lastError: c.lastError }),
          batchSizes: c.batchSizes,
          eventsPerSecond: perSecond(events),
          nsPerEvent: events > 0 ? (ms * 1e6) / events : null,
        }
      }),
    }
  }
}

function markOf(at: number, s: NativeRingStats): Mark {
  return {
    at,
    cursor: s.cursor,
    waitNanos: s.producerWaitNanos,
    claims: s.claims,
    events: new Map(s.consumers.map((c) => [c.serial, c.events])),
  }
}
