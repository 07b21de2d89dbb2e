/**
 * This thread's producing side of one ring, LMAX's Sequencer as JavaScript sees it: claims
 * (`next`, `tryNext`, `nextAsync`) and publishes, each with a fast path through shared memory
 * (single.ts, multi.ts: no native call) and a slow path through the engine.
 */

import { EventEmitter } from 'node:events'

import { abortError, closedError, coded, rangeError, typeError } from '../errors'
import type { NativeRing } from '../native'
import { RoomWaitOutcome } from '../protocol'
import { threadViews } from '../thread'
import { integer, sequenceArg } from '../validate'
import { type Deadline, deadlineOf, FOREVER } from './deadline'
import { MultiProducer } from './multi'
import { SingleProducer } from './single'

/** A `nextAsync` waiting on a native thread for room. */
interface PendingRoomWait {
  cancel(): void
  reject(e: Error): void
}

/**
 * The producing half of a Disruptor on this thread: LMAX's Sequencer role (claims and
 * publishes). `Disruptor` extends it rather than holding one, so that `next()` and `publish()`
 * find their state on the object the caller holds: a delegating field cost about 0.6 ns of the
 * 12.5 ns of a `next()` + `publish()` (benchmark/compare-builds.mjs).
 */
export abstract class Sequencer extends EventEmitter {
  /** Slots in the ring. */
  readonly size: number
  /**
   * @internal Consumers of this thread waiting for their waker (kept by its `Consumers`): a
   * publish here then delivers to them from the event loop.
   */
  waiting = 0
  /** @internal */
  protected readonly native: NativeRing
  /** @internal */
  protected readonly token: string
  private readonly multi: boolean
  /** Single-producer claim state, once this thread claimed (null: not the producer yet). */
  private sp: SingleProducer | null = null
  /** Multi-producer claim state of this thread (null until it claims, or single producer). */
  private mp: MultiProducer | null = null
  /** This thread stopped producing (closed or detached). */
  private stopped = false
  private readonly roomWaits = new Set<PendingRoomWait>()
  /** Claims this thread made, and how many of them the engine was told of (`reportClaims`). */
  private claims = 0
  private reportedClaims = 0

  /** @internal */
  constructor(native: NativeRing, token: string, size: number, multi: boolean) {
    super()
    this.native = native
    this.token = token
    this.size = size
    this.multi = multi
  }

  /** @internal Stores the progress this thread's consumers finished and deferred (before asking for room). */
  protected abstract flushConsumers(): void
  /** @internal Delivers to this thread's consumers from the event loop (a waker's call does not keep it alive). */
  protected abstract deliverSoon(): void

  /** @internal Whether this thread produces on the ring (claimed at least once, not closed since). */
  get producing(): boolean {
    return this.sp !== null || this.mp !== null
  }

  /** Highest published sequence (-1 before any). */
  get cursor(): number {
    return this.sp !== null ? this.sp.published : this.native.cursor()
  }

  /** Slots that can be claimed now without waiting. */
  remainingCapacity(): number {
    this.flushConsumers()
    const free = this.native.remainingCapacity()
    return this.sp !== null ? this.sp.remaining(free) : free
  }

  /**
   * Claims `n` slots and returns the highest claimed sequence (the claim is `[hi - n + 1, hi]`),
   * blocking this thread while the ring is full: at most `timeout` ms, then
   * ERR_DISRUPTOR_TIMEOUT (nothing claimed). ERR_DISRUPTOR_WOULD_DEADLOCK instead of blocking
   * when only consumers run by this thread could make room; ERR_DISRUPTOR_CLOSED if the ring
   * closes meanwhile.
   */
  next(n = 1, options?: { timeout?: number }): number {
    // Without options no Deadline is made: `deadlineOf` on every claim cost about 2% of a
    // one-thread next() + publish() (benchmark/compare-builds.mjs against a9fe788).
    if (options !== undefined) return this.nextWithin(n, deadlineOf(options))
    const hi = this.claimFast(n)
    return hi >= 0 ? hi : this.claimSlow(n, true, FOREVER)
  }

  /**
   * `next(1)` for the ring's own publish paths (`publishEvent`): no options to look at, so that
   * less of V8's inlining budget goes to the claim and more to the fill's setters.
   */
  protected nextOne(): number {
    const sp = this.sp
    if (
      sp !== null &&
      sp.closed[0] === 0 &&
      sp.claimed - this.size < sp.gating &&
      sp.claimed < Number.MAX_SAFE_INTEGER
    ) {
      this.claims++
      return ++sp.claimed
    }
    return this.next(1)
  }

  /**
   * `publish(seq)` of this thread's `nextOne()` claim, for the same paths and the same reason:
   * the single producer's case first, in less bytecode than `publish` takes.
   */
  protected publishOne(seq: number): void {
    const sp = this.sp
    if (sp !== null && seq === sp.published + 1) {
      if (!sp.publish(seq)) this.closedElsewhere()
      if (this.waiting !== 0) this.deliverSoon()
      return
    }
    this.publish(seq, seq)
  }

  /** `next` with a deadline, checked before the claim: bad options fail even when there is room. */
  private nextWithin(n: number, deadline: Deadline): number {
    const hi = this.claimFast(n)
    return hi >= 0 ? hi : this.claimSlow(n, true, deadline)
  }

  /** Like `next`, but returns -1 at once when there is not room for `n` (nothing claimed). */
  tryNext(n = 1): number {
    const hi = this.claimFast(n)
    return hi >= 0 ? hi : this.claimSlow(n, false, FOREVER)
  }

  /**
   * A claim without a native call (this thread is a producer, the cached gating minimum shows
   * room, `n` is a plain count), or -1. After a close `sp` and `mp` are null; a close made by
   * another thread shows in the shared closed flag. The single producer's claim is counted here
   * rather than in a method of its own: when the caller's ring is not a constant, the extra
   * inlined call cost about 0.3 ns of 13 per next() + publish().
   */
  private claimFast(n: number): number {
    if (n >>> 0 !== n || n === 0 || n > this.size) return -1
    const sp = this.sp
    if (sp !== null && sp.closed[0] === 0) {
      const hi = sp.claimed + n
      if (hi - this.size > sp.gating || hi > Number.MAX_SAFE_INTEGER) return -1
      sp.claimed = hi
      this.claims++
      return hi
    }
    const mp = this.mp
    if (mp === null || mp.closed[0] !== 0) return -1
    const hi = mp.claimShared(n)
    if (hi >= 0) this.claims++
    return hi
  }

  private claimSlow(n: number, wait: boolean, deadline: Deadline): number {
    if (this.stopped || this.closedNow()) throw closedError()
    integer('n', n, 1, this.size)
    // A handler of this thread that claims (republishing into its own ring) must see the room
    // its consumer's finished batches made, which `Gate.finish` may not have stored yet.
    this.flushConsumers()
    // Claims are reported on the slow path only, which asks the engine anyway (it comes at least
    // once per ring of claims when the producer streams, and before each wait): another
    // thread's stats() sees this thread's claims that fresh.
    let hi: number
    if (this.multi) {
      this.reportClaims()
      this.mp ??= new MultiProducer(this.native, threadViews(this.token, this.native, true), this.size)
      hi = this.mp.claim(n, wait, deadline)
    } else {
      this.sp ??= new SingleProducer(this.native, () => threadViews(this.token, this.native, false), this.size)
      const claims = this.claims - this.reportedClaims
      this.reportedClaims = this.claims
      hi = this.sp.claim(n, wait, deadline, claims)
    }
    if (hi >= 0) this.claims++
    return hi
  }

  /**
   * Whether the ring's intake is closed, by any thread: the shared closed flag this thread's
   * producer already holds a view of, else the engine (a native call costs about 290 ns, and
   * the slow path comes once per ring of claims).
   */
  private closedNow(): boolean {
    const flag = this.sp?.closed ?? this.mp?.closed
    return flag !== undefined ? flag[0] !== 0 : this.native.isClosed()
  }

  /** @internal Tells the engine of the claims made here since the last report (for `stats()`). */
  protected reportClaims(): void {
    const delta = this.claims - this.reportedClaims
    if (delta === 0) return
    this.reportedClaims = this.claims
    try {
      this.native.reportClaims(delta)
    } catch {
      // the ring is gone: nothing left to report to
    }
  }

  /**
   * Like `next` without blocking the event loop: resolves with the highest claimed sequence
   * once there is room. Rejects with an AbortError when `signal` aborts, ERR_DISRUPTOR_TIMEOUT
   * after `timeout` ms, ERR_DISRUPTOR_CLOSED when the ring closes (nothing claimed in each case).
   */
  async nextAsync(n = 1, options?: { signal?: AbortSignal; timeout?: number }): Promise<number> {
    if (this.stopped) throw closedError()
    integer('n', n, 1, this.size)
    const deadline = deadlineOf(options)
    const signal = options?.signal
    if (signal !== undefined && !(signal instanceof AbortSignal)) throw typeError('signal must be an AbortSignal')
    for (;;) {
      if (signal?.aborted) throw abortError(signal)
      const hi = this.tryNext(n)
      if (hi >= 0) return hi
      if (deadline.expired()) throw deadline.error(n)
      let timedOut = false
      const outcome = await new Promise<RoomWaitOutcome>((resolve, reject) => {
        let timer: NodeJS.Timeout | undefined
        const done = (outcome: RoomWaitOutcome) => {
          this.roomWaits.delete(wait)
          signal?.removeEventListener('abort', onAbort)
          clearTimeout(timer)
          resolve(outcome)
        }
        // A single producer's claims live here: the engine waits for room after them.
        const id =
          this.sp !== null ? this.native.waitForRoom(n, done, this.sp.claimed) : this.native.waitForRoom(n, done)
        const wait: PendingRoomWait = { cancel: () => this.native.cancelWait(id), reject }
        const onAbort = () => wait.cancel()
        this.roomWaits.add(wait)
        signal?.addEventListener('abort', onAbort, { once: true })
        // Set once the wait exists (if starting it throws, nothing is left behind); at most
        // 2**31 - 1 ms at a time (Node turns a longer delay into 1 ms).
        const left = deadline.left()
        if (left !== undefined) {
          timer = setTimeout(
            () => {
              timedOut = true
              wait.cancel()
            },
            Math.min(left, 2 ** 31 - 1),
          )
        }
      })
      if (this.stopped || outcome === RoomWaitOutcome.Closed) throw closedError()
      if (outcome === RoomWaitOutcome.Cancelled && signal?.aborted) throw abortError(signal)
      if (outcome === RoomWaitOutcome.Cancelled && timedOut && deadline.expired()) throw deadline.error(n)
      if (outcome === RoomWaitOutcome.ConsumerHalted) {
        throw coded(
          new Error('a consumer halted on an error; the ring can no longer make room'),
          'ERR_DISRUPTOR_CONSUMER_HALTED',
        )
      }
    }
  }

  /** Makes `[lo, hi]` visible to consumers. ERR_DISRUPTOR_NOT_CLAIMED, _ALREADY_PUBLISHED, _SINGLE_PRODUCER on misuse. */
  publish(lo: number, hi: number = lo): void {
    const sp = this.sp
    // Not `sp?.owns()`: the optional chain cost about 1 ns of 13 per next() + publish() here.
    // biome-ignore lint/complexity/useOptionalChain: measured (benchmark/compare-builds.mjs)
    if (sp !== null && sp.owns(lo, hi)) {
      if (!sp.publish(hi)) this.closedElsewhere()
    } else {
      const mp = this.mp
      // biome-ignore lint/complexity/useOptionalChain: as above
      if (mp !== null && mp.owns(lo, hi)) mp.publish(lo, hi)
      else this.publishSlow(lo, hi)
    }
    if (this.waiting !== 0) this.deliverSoon()
  }

  /** Closed by another thread: so is every later call on this thread (the slow paths ask the engine). */
  private closedElsewhere(): never {
    this.sp = null
    throw closedError()
  }

  private publishSlow(lo: number, hi: number): void {
    // Closed here, or halted by another thread (which the fast path may have found out
    // first). A ring whose intake is closed still takes what was claimed before.
    if (this.stopped || this.native.isHalted()) throw closedError()
    sequenceArg('lo', lo)
    sequenceArg('hi', hi)
    if (lo > hi || hi - lo >= this.size) throw rangeError(`invalid sequence range [${lo}, ${hi}]`)
    if (this.multi) {
      if (this.mp !== null) this.mp.publishChecked(lo, hi)
      else this.native.publish(lo, hi)
      return
    }
    // Not yet the producer: becoming it reports a producer on another thread as such.
    this.sp ??= new SingleProducer(this.native, () => threadViews(this.token, this.native, false), this.size)
    this.sp.refuse(lo, hi)
  }

  /**
   * @internal The highest sequence claimed, as far as this thread can know when `close()`
   * stops intake: the claim cursor on a multi-producer ring; a single producer's claims live on
   * its thread, so elsewhere only what is published.
   */
  protected claimedHere(): number {
    if (this.multi) return Number(Atomics.load(threadViews(this.token, this.native, true).cursor, 0))
    return this.sp !== null ? this.sp.claimed : this.native.cursor()
  }

  /** @internal This thread stops producing: later calls throw ERR_DISRUPTOR_CLOSED, waits for room end. */
  protected stopProducing(): void {
    this.reportClaims()
    this.stopped = true
    this.sp = null
    this.mp = null
    for (const w of this.roomWaits) w.reject(closedError())
  }
}
