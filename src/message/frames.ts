/**
 * Variable-length messages in a ring of byte slots: a message takes as many consecutive slots as
 * it needs (a 12-byte header, then its bytes), claimed and published at once, and never wraps
 * around the ring's end: a claim that would is published as padding and claimed again after it.
 * So a message is always one contiguous view, read in place.
 *
 * Header (little-endian u32s): the sequence of its first slot modulo 2**32 (a stamp: a slot is
 * a frame's start only if it holds its own sequence, so a consumer that starts mid-frame, a
 * worker of a pool or after an abandoned claim, skips the rest of that frame), the length in
 * bytes (in slots for padding), and the kind.
 */

import { isThenable } from '../consumer/runner'
import { rangeError, typeError } from '../errors'
import { outOfRange, writeUtf8 } from '../event/values'
import type { HandlerObject } from '../types'
import { fn } from '../validate'

/** Bytes of a frame's header. */
export const HEADER = 12
/** Frame kinds. */
export enum Kind {
  Bytes = 1,
  Text = 2,
  Padding = 0xffffffff,
}

/** What a message handler is told a message is. */
export type MessageKind = 'bytes' | 'text'

/** A message handler: `view` is the message's bytes in place, valid until it returns (or settles). */
export type MessageHandler = (view: Uint8Array, seq: number, kind: MessageKind) => unknown

/** A message handler with options (as a handler object's, `onMessage` for `onBatch`). */
export interface MessageHandlerObject extends Omit<HandlerObject, 'onBatch' | 'maxBatchSize'> {
  onMessage: MessageHandler
}

/** The ring as messages need it. */
export interface FrameRing {
  readonly size: number
  readonly slotSize: number
  readonly buffer: ArrayBuffer
}

/** Views over one thread's buffer of the ring. */
export class Frames {
  readonly u8: Uint8Array
  readonly u32: Uint32Array
  /** The longest message: it and its header take at most half the ring (see `slotsFor`). */
  readonly maxBytes: number
  private readonly mask: number

  constructor(private readonly ring: FrameRing) {
    this.u8 = new Uint8Array(ring.buffer)
    this.u32 = new Uint32Array(ring.buffer)
    this.mask = ring.size - 1
    // (A ring of 2 slots of 8 bytes holds no message at all: 0, and every write is refused.)
    this.maxBytes = Math.max(0, Math.floor(ring.size / 2) * ring.slotSize - HEADER)
  }

  /**
   * `data` as `[bytes, kind, length]` checked: a string (UTF-8) or bytes, at most `maxBytes`.
   * ERR_INVALID_ARG_TYPE / ERR_OUT_OF_RANGE; nothing is claimed before this passes.
   */
  measure(data: unknown): [Uint8Array | string, Kind, number] {
    let length: number
    let kind: Kind
    let bytes: Uint8Array | string
    if (typeof data === 'string') {
      bytes = data
      kind = Kind.Text
      length = Buffer.byteLength(data, 'utf8')
    } else if (data instanceof ArrayBuffer) {
      bytes = new Uint8Array(data)
      kind = Kind.Bytes
      length = bytes.byteLength
    } else if (ArrayBuffer.isView(data)) {
      bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength)
      kind = Kind.Bytes
      length = bytes.byteLength
    } else {
      throw typeError('a message must be a string, a Buffer, a typed array or an ArrayBuffer')
    }
    if (length > this.maxBytes) {
      throw outOfRange(`a message of this ring holds at most ${this.maxBytes} bytes, got ${length}`)
    }
    return [bytes, kind, length]
  }

  /**
   * Slots a message of `length` bytes takes. At most half the ring: a claim that would wrap is
   * padded and claimed again, which then fits.
   */
  slotsFor(length: number): number {
    return Math.ceil((HEADER + length) / this.ring.slotSize)
  }

  /** Whether `n` slots from `lo` run past the ring's end. */
  wraps(lo: number, n: number): boolean {
    return (lo & this.mask) + n > this.ring.size
  }

  /** Writes a message frame at `lo` (its claim, not wrapping). */
  write(lo: number, bytes: Uint8Array | string, kind: Kind, length: number): void {
    const at = (lo & this.mask) * this.ring.slotSize
    if (typeof bytes === 'string') writeUtf8(this.u8, at + HEADER, bytes, length)
    else this.u8.set(bytes, at + HEADER)
    this.header(at, lo, length, kind)
  }

  /** Marks the claim `[lo, lo + n - 1]` as padding (consumers skip it). */
  pad(lo: number, n: number): void {
    this.header((lo & this.mask) * this.ring.slotSize, lo, n, Kind.Padding)
  }

  private header(at: number, seq: number, length: number, kind: Kind): void {
    const i = at >>> 2
    this.u32[i] = seq >>> 0
    this.u32[i + 1] = length
    this.u32[i + 2] = kind
  }

  /**
   * Calls `handler(view, seq, kind)` for every message that starts in `[from, hi]`, in order (a
   * frame is whole in memory once its first slot is published: it was written before any of
   * it was published). When the handler returns a Promise, the messages after it wait for it:
   * the result is then a Promise that settles once all did.
   */
  deliver(from: number, hi: number, handler: MessageHandler): unknown {
    const { u8, u32, mask } = this
    const slotSize = this.ring.slotSize
    let s = from
    while (s <= hi) {
      const at = (s & mask) * slotSize
      const i = at >>> 2
      if (u32[i] !== s >>> 0) {
        s++ // not a frame's start: the rest of a frame that started before this batch
        continue
      }
      const length = u32[i + 1]
      const kind = u32[i + 2]
      if (kind === Kind.Padding) {
        s += length
        continue
      }
      const result = handler(u8.subarray(at + HEADER, at + HEADER + length), s, kind === Kind.Text ? 'text' : 'bytes')
      s += Math.ceil((HEADER + length) / slotSize)
      if (isThenable(result)) {
        const next = s
        return Promise.resolve(result).then(() => this.deliver(next, hi, handler))
      }
    }
    return undefined
  }
}

/** A message handler (function or object) as a handler of batches (object), checked. */
export function messageHandler(h: MessageHandler | MessageHandlerObject, frames: Frames): HandlerObject {
  if (typeof h === 'function') return { name: h.name || undefined, onBatch: (lo, hi) => frames.deliver(lo, hi, h) }
  if (h === null || typeof h !== 'object') {
    throw typeError('a message handler must be a function or an object with onMessage')
  }
  fn('onMessage', h.onMessage)
  if ('onBatch' in h || 'maxBatchSize' in h) {
    throw rangeError('a message handler takes onMessage, not onBatch or maxBatchSize')
  }
  const { onMessage, ...options } = h
  return { ...options, onBatch: (lo, hi) => frames.deliver(lo, hi, onMessage) }
}
