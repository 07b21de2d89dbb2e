/**
 * A single producer in JavaScript: the JavaScript half of the engine's SingleProducerSequencer
 * and its split cursor (crates/disruptor-core/src/sequencer/single_producer.rs, split_cursor.rs).
 */

import { coded } from '../errors'
import type { NativeRing } from '../native'
import { ClaimSentinel, type FastCalls, fastCallsOf, type RingViews, SplitCursorLayout } from '../protocol'
import type { Deadline } from './deadline'

/**
 * The claim state of a single-producer ring, on the thread that produces: claims are counted
 * here against a cached gating minimum (no native call while there is room), and a publish is
 * one `Atomics.exchange` of the low 31 bits into the engine's split cursor (`SplitCursor`: no
 * BigInt, no garbage; the 64-bit epoch is stored once every 2**29 sequences); only when the
 * old value carries a waiter's flag does it load the wait strategy's sleeper count (and call
 * the engine when a thread sleeps). The engine reads the same cursor.
 */
export class SingleProducer {
  /** Highest claimed sequence (the Sequencer's fast claim counts it up). */
  claimed: number
  /** Highest published sequence. */
  published: number
  /** A lower bound of the slowest consumer's sequence (refreshed by `claim`). */
  gating = -Infinity
  /** The split cursor's epoch as stored (only this thread stores it while it produces). */
  private epoch: number
  /** The split cursor's 64-bit epoch. */
  private readonly cursor: BigInt64Array
  /** The split cursor's low word. */
  private readonly low: Int32Array
  private readonly sleepers: Int32Array | null
  private readonly fast: FastCalls
  /** Non-zero once claims are refused (by any thread: `close()` began, or halted). */
  readonly closed: Uint8Array
  /** Non-zero once the ring is halted (by any thread): publishes are refused. */
  private readonly halted: Uint8Array

  /**
   * Makes this thread the ring's producer: ERR_DISRUPTOR_SINGLE_PRODUCER if another thread is
   * (checked before this thread's views are made).
   */
  constructor(
    private readonly native: NativeRing,
    openViews: () => RingViews,
    private readonly size: number,
  ) {
    const cursor = native.acquireProducer()
    const views = openViews()
    this.claimed = cursor
    this.published = cursor
    this.cursor = views.cursor
    this.low = views.low as Int32Array
    this.sleepers = views.sleepers
    this.fast = fastCallsOf(native)
    this.closed = views.closed
    this.halted = views.halted
    // A thread that produced before this one (and went away) may have stored it.
    this.epoch = Number(Atomics.load(this.cursor, 0))
  }

  /**
   * Claims `n` after refreshing the gating minimum through the engine, waiting for room if
   * `wait` until `deadline` (else -1 when there is none). `claims` (this thread's claims not yet
   * reported to the engine, for `stats()`) are reported with the first engine call, or alone
   * when there is none: one native call per ring of claims, not two (about 2% of a streaming
   * next(64) + publish()).
   */
  claim(n: number, wait: boolean, deadline: Deadline, claims: number): number {
    let unreported = claims
    try {
      const hi = this.claimed + n
      if (hi > Number.MAX_SAFE_INTEGER) {
        throw coded(
          new RangeError('sequences would pass 2**53 - 1, the largest exact JavaScript integer'),
          'ERR_OUT_OF_RANGE',
        )
      }
      while (hi - this.size > this.gating) {
        // Zeroed before the call: the engine adds them first, whatever the call then throws.
        const report = unreported
        unreported = 0
        const min = this.native.reserve(hi - this.size, this.claimed, wait, deadline.left(), report)
        if (min === ClaimSentinel.NoRoom) return -1
        if (min === ClaimSentinel.StillWaiting) {
          if (deadline.expired()) throw deadline.error(n)
          continue
        }
        // Never cache a bound above the published cursor: a consumer that joins later starts
        // there, and claims beyond it plus the ring size would overwrite what it has not read.
        const bound = Math.min(min, this.published)
        if (hi - this.size > bound) {
          // Only this thread's own claims, not yet published, are in the way.
          if (!wait) return -1
          throw coded(
            new Error('the ring is full of sequences this thread claimed and has not published'),
            'ERR_DISRUPTOR_WOULD_DEADLOCK',
          )
        }
        this.gating = bound
      }
      this.claimed = hi
      return hi
    } finally {
      if (unreported !== 0) this.native.reportClaims(unreported)
    }
  }

  /** Whether `[lo, hi]` is the next part of this thread's claim: what `publish` takes. */
  owns(lo: number, hi: number): boolean {
    return lo === this.published + 1 && hi >= lo && hi <= this.claimed && Number.isInteger(hi)
  }

  /**
   * Publishes up to `hi` (`owns` held). False when another thread halted the ring: the events
   * will not be consumed, and the caller throws ERR_DISRUPTOR_CLOSED. (A `close()` that only
   * stopped intake leaves what was claimed before publishable: its drain takes it.)
   */
  publish(hi: number): boolean {
    this.published = hi
    // The split cursor's rule (`SplitCursor::set`): the epoch before the low word that needs it.
    if (hi - this.epoch >= SplitCursorLayout.EpochSpan) this.storeEpoch(hi)
    // The low 31 bits (`hi & LowBits` is hi modulo 2**31, exact for any sequence below 2**53),
    // with a SeqCst exchange (the cost of a SeqCst store) whose old value has its sign bit
    // (`SplitCursor::WAITING`) set when a waiter asked for a signal or another thread closed
    // or halted the ring: only then does the publish read anything else.
    if (Atomics.exchange(this.low, 0, hi & SplitCursorLayout.LowBits) < 0) return this.flagged()
    return true
  }

  /**
   * Once per 2**30 sequences: out of `publish`, whose bytecode V8 inlines into its callers
   * against a budget that the fill of a `publishEvent` needs too.
   */
  private storeEpoch(hi: number): void {
    this.epoch = hi
    Atomics.store(this.cursor, 0, BigInt(hi))
  }

  /**
   * The exchange returned the WAITING flag. Either a waiter asked for a signal: the SeqCst load
   * of the sleeper count after the exchange is the publisher's half of the no-lost-wake-up
   * protocol (the waiter's half is in the engine: it flags, then sleeps). Or another thread
   * closed the ring's intake (nothing to do: this claim was granted before) or halted it: the
   * binding sets the halted flag before the engine flags, so the exchange that returned the
   * flag makes the halted flag visible.
   */
  private flagged(): boolean {
    if (Atomics.load(this.halted, 0) !== 0) return false
    if (this.sleepers !== null && Atomics.load(this.sleepers, 0) !== 0) this.fast.signal()
    return true
  }

  /** Free slots: the engine counts from the published cursor, this thread's open claims aside. */
  remaining(free: number): number {
    return free - (this.claimed - this.published)
  }

  /** Why `[lo, hi]` (valid sequences, not what `owns` takes) cannot be published. */
  refuse(lo: number, hi: number): never {
    if (hi > this.claimed) {
      const first = Math.max(lo, this.claimed + 1)
      throw coded(new Error(`sequence ${first} was not claimed`), 'ERR_DISRUPTOR_NOT_CLAIMED')
    }
    if (lo <= this.published) {
      throw coded(new Error(`sequence ${lo} is already published`), 'ERR_DISRUPTOR_ALREADY_PUBLISHED')
    }
    throw coded(
      new Error(`single producer must publish in claim order: expected ${this.published + 1}, got ${lo}`),
      'ERR_DISRUPTOR_SINGLE_PRODUCER',
    )
  }
}
