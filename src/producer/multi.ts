/**
 * A multi producer in JavaScript: the JavaScript half of the engine's MultiProducerSequencer
 * (crates/disruptor-core/src/sequencer/multi_producer.rs), on one thread.
 */

import type { NativeRing } from '../native'
import { ClaimSentinel, type FastCalls, fastCallsOf, type RingViews, wakeSleepers } from '../protocol'
import type { Deadline } from './deadline'

/**
 * From this many sequences on, a publish goes through the engine (one fast call whose Rust
 * Release stores cost about a nanosecond each) instead of an `Atomics.store` per sequence here
 * (a SeqCst store, about 7.4 ns on the 2-core VM). Measured by benchmark/native-calls.mjs,
 * which sets DISRUPTOR_PUBLISH_THROUGH_ENGINE to compare both ways (0 or less: never).
 */
const PUBLISH_THROUGH_ENGINE = publishThreshold(process.env.DISRUPTOR_PUBLISH_THROUGH_ENGINE)

function publishThreshold(setting: string | undefined): number {
  const n = Number(setting)
  if (setting === undefined || setting === '' || !Number.isInteger(n)) return 6
  return n <= 0 ? Number.POSITIVE_INFINITY : n
}

/**
 * The claim state of a multi-producer ring on one thread: claims are a compare-and-exchange on
 * the engine's cursor, made by a fast call (when a cached gating minimum says there is room:
 * never claim-then-wait), publishes are `Atomics.store`s of each sequence's lap into the engine's availability flags,
 * the same protocol as `MultiProducerSequencer` in Rust. Ranges this thread did not claim
 * itself are published through the engine, which checks them.
 */
export class MultiProducer {
  /** A lower bound of the slowest consumer's sequence. */
  private gating = -Infinity
  /** This thread's latest claim, `[next, hi]` still to publish (in order). */
  private next = 0
  private hi = -1
  private readonly flags: Int32Array
  private readonly sleepers: Int32Array | null
  private readonly fast: FastCalls
  /** Non-zero once claims are refused (by any thread: `close()` began, or halted). */
  readonly closed: Uint8Array
  /** Non-zero once the ring is halted (by any thread): publishes are refused. */
  private readonly halted: Uint8Array
  /** `[next, hi]` mirrored for the engine, which publishes it if this thread goes away first. */
  private readonly mirror: Float64Array

  constructor(
    private readonly native: NativeRing,
    views: RingViews,
    private readonly size: number,
  ) {
    this.flags = views.flags as Int32Array
    this.sleepers = views.sleepers
    this.fast = fastCallsOf(native)
    this.closed = views.closed
    this.halted = views.halted
    this.mirror = new Float64Array(native.claimsView())
  }

  /**
   * Claims `n` after refreshing the gating minimum through the engine, waiting for room if
   * `wait` until `deadline` (else -1 when there is none).
   */
  claim(n: number, wait: boolean, deadline: Deadline): number {
    this.gating = this.fast.gatingMinimum()
    const claimed = this.claimShared(n)
    if (claimed >= 0 || !wait) return claimed
    // The native wait returns StillWaiting every 50 ms (or when the deadline's slice ends) so
    // that this thread can be terminated, and time out.
    for (;;) {
      const hi = this.native.next(n, deadline.left())
      if (hi !== ClaimSentinel.StillWaiting) {
        this.record(hi - n + 1, hi)
        return hi
      }
      if (deadline.expired()) throw deadline.error(n)
    }
  }

  /** A claim while the cached gating minimum shows room (the Sequencer's fast claim); -1 when it does not. */
  claimShared(n: number): number {
    // A claim still open (claimed again before publishing it): the mirror will hold only the
    // new one, so the engine keeps this one for a detach (before the exchange: no call may
    // come between the exchange and the mirror's stores).
    if (this.next <= this.hi) this.native.keepClaim(this.next, this.hi)
    // The engine's compare-and-exchange on the 64-bit claim cursor, as a fast call: here it
    // took a BigInt per load and per exchange (about 40 ns and a collection every 30 thousand
    // claims). The call records the claim in the mirror before it returns: a thread terminated
    // on the way back leaves it recorded, and its detach abandons it.
    let hi = this.fast.claim(n, this.gating)
    if (hi < 0) {
      if (hi !== ClaimSentinel.InMirror) return -1
      // Past 2**31 - 1: read from the mirror, not returned (a heap number per claim). Not
      // always: a Float64Array read is a double to V8, which then publishes with float `%`.
      hi = this.mirror[1]
    }
    this.next = hi - n + 1
    this.hi = hi
    return hi
  }

  /** Whether `[lo, hi]` is the next part of this thread's claim (and the ring not halted): what `publish` takes. */
  owns(lo: number, hi: number): boolean {
    return lo === this.next && hi >= lo && hi <= this.hi && Number.isInteger(hi) && this.halted[0] === 0
  }

  /** Publishes `[lo, hi]` (`owns` held): each sequence's lap into its availability flag. */
  publish(lo: number, hi: number): void {
    if (hi - lo >= PUBLISH_THROUGH_ENGINE - 1) {
      // The engine checks the range (ours: it passes) and signals sleepers itself.
      this.fast.publish(lo, hi)
      this.published(hi)
      return
    }
    const size = this.size
    for (let s = lo; s <= hi; s++) {
      const index = s % size
      // Each sequence's lap, as the engine's flags hold it ((s >> log2(size)) as i32).
      Atomics.store(this.flags, index, ((s - index) / size) | 0)
    }
    // After the stores: a thread terminated part-way through them leaves its claim mirrored,
    // and the engine abandons the part it did not publish.
    this.published(hi)
    wakeSleepers(this.sleepers, this.fast)
  }

  /** Publishes `[lo, hi]` (valid sequences, any thread's claim) through the engine, which checks it. */
  publishChecked(lo: number, hi: number): void {
    this.fast.publish(lo, hi)
    if (lo <= this.next && hi >= this.next) this.published(Math.min(hi, this.hi))
  }

  /** Records this thread's claim `[lo, hi]` (all of it still to publish). */
  private record(lo: number, hi: number): void {
    this.next = lo
    this.hi = hi
    this.mirror[0] = lo
    this.mirror[1] = hi
  }

  /** Records that the claim is published up to `hi`. */
  private published(hi: number): void {
    this.next = hi + 1
    this.mirror[0] = hi + 1
  }
}
