/**
 * How a `ProcessRing` claims and publishes: through the engine's producer (a multi-producer
 * ring: a compare-and-exchange on the shared cursor), or, on a single-producer ring, in the
 * producer's own words of the file with `Atomics` (crates/disruptor-core/src/shm/single.rs: no
 * native call and no BigInt per event).
 */

import { closedError, coded, rangeChecked } from '../errors'
import type { NativeSharedProducer, NativeSharedRing } from '../native'
import { SplitCursorLayout } from '../protocol'
import { integer } from '../validate'

/** A producer of this process: one claim at a time. */
export interface Claims {
  /** Claims `n` slots if there is room now: the highest sequence, or -1. */
  tryNext(n: number): number
  /** Claims `n` slots, waiting at most `ms` for room: the highest sequence, or -1. */
  nextWithin(n: number, ms: number): number
  /** Publishes the claim (ERR_DISRUPTOR_NOT_CLAIMED without one). */
  publish(): void
  /** Gives the claim up, if there is one. */
  abandon(): void
  /** The claim, `[lo, hi]`, or null. */
  claim(): [number, number] | null
  /** Gives up the claim and frees the producer's entry. */
  close(): void
}

/** The engine's producer: its fast calls on the hot path (about 20 ns a call). */
export class EngineClaims implements Claims {
  private readonly fast: ReturnType<NativeSharedProducer['fastCalls']>

  constructor(private readonly producer: NativeSharedProducer) {
    this.fast = producer.fastCalls()
  }

  tryNext(n: number): number {
    return rangeChecked(() => this.fast.tryNext(n)) // a non-number is the fast call's ERR_INVALID_ARG_TYPE
  }

  nextWithin(n: number, ms: number): number {
    try {
      return rangeChecked(() => this.producer.next(n, ms))
    } catch (e) {
      if ((e as { code?: string }).code === 'ERR_DISRUPTOR_TIMEOUT') return -1
      throw e
    }
  }

  publish(): void {
    this.fast.publish()
  }

  abandon(): void {
    this.producer.abandon()
  }

  /** The claim, `[lo, hi]`, or null (a reservation without a claim is none). */
  claim(): [number, number] | null {
    const c = this.producer.claim()
    return c === null ? null : [c[0], c[1]]
  }

  close(): void {
    this.producer.close()
  }
}

/**
 * How far past a claim the claim word reserves: later claims of the same turn of the event loop
 * up to there need no swap (shm/single.rs). Far below 2**30, so the word never aliases the cursor.
 */
const RESERVE = 2 ** 20

/**
 * The single producer of a single-producer ring, in JavaScript. The first claim of a turn of
 * the event loop is a SeqCst `Atomics.exchange` of a reservation (its end plus RESERVE) into
 * the claim word, then a load of the closed flag; later claims of the turn are the load alone,
 * and a microtask puts the word back to the cursor when the turn ends (consumers that find
 * intake closed wait while it differs: shm/single.rs). A publish is an exchange of the
 * cursor's low word whose old value, when negative, says a consumer sleeps and wants a wake-up
 * or intake was closed (one native call then, and the reservation is given back). The engine's
 * producer handle stays registered (it owns the table entry, and frees it on close or when the
 * process dies).
 */
export class SingleClaims implements Claims {
  /** The published cursor (only this producer moves it). */
  private published: number
  /** The end of the open claim (`published` when none). */
  private claimed: number
  /** The epoch as last stored. */
  private epoch: number
  /** The end the claim word holds: claims up to it need no swap (`published` when none is held). */
  private reserved: number
  /** Whether a microtask will give the reservation back. */
  private releasing = false
  private readonly release = () => {
    this.releasing = false
    this.withdraw(false)
  }
  /** A lower bound of the slowest consumer's sequence. */
  private gating = Number.NEGATIVE_INFINITY
  private readonly i32: Int32Array
  private readonly i64: BigInt64Array
  private readonly low: number
  private readonly claimWord: number
  private readonly closedWord: number
  private readonly epochWord: number
  private readonly fast: ReturnType<NativeSharedRing['fastCalls']>

  constructor(
    private readonly ring: NativeSharedRing,
    private readonly producer: NativeSharedProducer,
    private readonly size: number,
  ) {
    const words = ring.singleWords()
    if (words === null) throw new Error('not a single-producer ring')
    const control = ring.control()
    this.i32 = new Int32Array(control)
    this.i64 = new BigInt64Array(control)
    this.low = words.low / 4
    this.claimWord = words.claim / 4
    this.closedWord = words.closed / 4
    this.epochWord = words.epoch / 8
    this.fast = ring.fastCalls()
    // The engine set the claim word to the cursor when it registered this producer.
    this.published = ring.cursor()
    this.claimed = this.published
    this.reserved = this.published
    this.epoch = Number(Atomics.load(this.i64, this.epochWord))
  }

  tryNext(n: number): number {
    integer('n', n, 1, this.size)
    if (this.claimed !== this.published) {
      throw coded(
        new Error(`the claim from sequence ${this.published + 1} is not published yet: publish it first`),
        'ERR_DISRUPTOR_CLAIM_OPEN',
      )
    }
    const hi = this.published + n
    if (hi - this.size > this.gating) {
      this.gating = this.fast.gating(this.published)
      if (hi - this.size > this.gating) {
        if (Atomics.load(this.i32, this.closedWord) !== 0) {
          this.withdraw(true)
          throw closedError()
        }
        return -1
      }
    }
    // The claim (or the reservation that covers it), then the closed flag: either a consumer
    // that finds intake closed sees the word differ from the cursor (and drains what comes), or
    // this load sees the ring closed (shm/single.rs).
    if (hi > this.reserved) {
      // Below 2**30 past the cursor, so that readers extending the word (stats) get it back.
      this.reserved = Math.max(hi, Math.min(hi + RESERVE, this.published + 2 ** 30 - 1))
      Atomics.exchange(this.i32, this.claimWord, this.reserved & SplitCursorLayout.LowBits)
      if (!this.releasing) {
        this.releasing = true
        queueMicrotask(this.release)
      }
    }
    if (Atomics.load(this.i32, this.closedWord) !== 0) {
      this.withdraw(true)
      throw closedError()
    }
    this.claimed = hi
    return hi
  }

  nextWithin(n: number, ms: number): number {
    const hi = this.tryNext(n)
    if (hi >= 0) return hi
    const code = this.ring.waitForRoom(n, ms)
    if (code !== '' && code !== 'ERR_DISRUPTOR_TIMEOUT')
      throw coded(new Error(`waiting for room failed: ${code}`), code)
    return this.tryNext(n)
  }

  publish(): void {
    const hi = this.claimed
    if (hi === this.published) throw coded(new Error('there is no claim to publish'), 'ERR_DISRUPTOR_NOT_CLAIMED')
    // SplitCursor's writer rule: the epoch before the low word that needs it.
    if (hi - this.epoch >= SplitCursorLayout.EpochSpan) {
      this.epoch = hi
      Atomics.store(this.i64, this.epochWord, BigInt(hi))
    }
    this.published = hi
    if (Atomics.exchange(this.i32, this.low, hi & SplitCursorLayout.LowBits) < 0) {
      // A sleeping consumer, or a close: wake, and give the reservation back if closed.
      this.fast.signal()
      if (Atomics.load(this.i32, this.closedWord) !== 0) this.withdraw(false)
    }
  }

  abandon(): void {
    this.claimed = this.published
    // Within the turn that reserved, the reservation stays (the sequences are claimed again)
    // and its microtask gives it back; a claim held across turns is withdrawn now, or a close
    // would wait on it forever.
    if (!this.releasing) this.withdraw(false)
  }

  claim(): [number, number] | null {
    return this.claimed === this.published ? null : [this.published + 1, this.claimed]
  }

  close(): void {
    this.abandon()
    this.withdraw(false)
    this.producer.close()
  }

  /**
   * The claim word back to the end of the open claim (the cursor when none: nothing held),
   * and, when that ends a wait, a wake for consumers that wait on it to drain (`always`: the
   * ring was found closed).
   */
  private withdraw(always: boolean): void {
    if (this.reserved === this.claimed && !always) return
    this.reserved = this.claimed
    Atomics.exchange(this.i32, this.claimWord, this.claimed & SplitCursorLayout.LowBits)
    if (always || Atomics.load(this.i32, this.closedWord) !== 0) this.fast.signal()
  }
}
