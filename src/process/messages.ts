/**
 * Messages in a `ProcessRing` (`write`, `eachMessage`): `Disruptor`'s frames (src/message/
 * frames.ts) over the ring's slots in the file, claimed and published through the ring.
 */

import { typeError } from '../errors'
import {
  asVisitor,
  type FrameRing,
  Frames,
  type Measured,
  type MessageKind,
  type SyncFrameProducer,
} from '../message/frames'
import { fn, integer } from '../validate'

/** What messages need of the ring: its slots, and claims as `FrameProducer` makes them. */
export type MessageRing = FrameRing & Omit<SyncFrameProducer, 'publish'>

export class ProcessMessages {
  readonly frames: Frames
  /**
   * The ring as the framing claims through it, except that a publish goes straight to the
   * claim: the framing publishes exactly what it claimed, so the check of `publish(lo, hi)`
   * (a native call on a multi-producer ring) is not needed.
   */
  private readonly producer: SyncFrameProducer

  constructor(
    private readonly ring: MessageRing,
    publish: () => void,
  ) {
    this.frames = new Frames(ring)
    this.producer = {
      next: (n) => ring.next(n),
      tryNext: (n) => ring.tryNext(n),
      publish,
    }
  }

  /** One measured message, waiting for room (`wait`) or -1 without it; its first sequence. */
  send(measured: Measured, wait: boolean): number {
    return this.frames.send(this.producer, measured, 0, wait)
  }

  /**
   * Messages in as few claims as possible (each at most half the ring, its messages published
   * at once), all checked first; the first sequence of the last claim, or -1 for none.
   */
  sendAll(items: readonly (string | ArrayBufferView | ArrayBuffer)[]): number {
    if (!Array.isArray(items)) throw typeError('messages must be an array')
    const measured = items.map((m) => this.frames.measure(m))
    if (measured.length === 0) return -1
    return this.frames.sendAll(this.producer, measured, new Array<number>(measured.length).fill(0), true)
  }

  /** `each(view, seq, kind)` for every message starting in the batch `[lo, hi]` (see `ProcessRing.eachMessage`). */
  each(lo: number, hi: number, each: (view: Uint8Array, seq: number, kind: MessageKind) => unknown): unknown {
    fn('each', each)
    integer('lo', lo, 0, Number.MAX_SAFE_INTEGER)
    integer('hi', hi, lo - 1, lo + this.ring.size - 1) // a batch is at most a ring long
    return this.frames.deliver(lo, hi, asVisitor(each))
  }
}
