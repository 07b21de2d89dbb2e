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
/** Frame kinds (the low two bits of a frame's kind word; a channel's id sits above them). */
export enum Kind {
  Bytes = 1,
  Text = 2,
  Padding = 0xffffffff,
}
/** The bits of a kind word that hold the `Kind` (the rest, shifted by 2, a channel's id). */
export const KIND_BITS = 3

/** A message checked by `measure`: its bytes (or string), kind and length in bytes. */
export type Measured = [bytes: Uint8Array | string, kind: Kind, length: number]

/** What `send` needs of a ring's producing side (a Disruptor). */
export interface FrameProducer {
  next(n: number): number
  tryNext(n: number): number
  nextAsync(n: number, options?: { signal?: AbortSignal }): Promise<number>
  publish(lo: number, hi: number): void
}

/** What the synchronous sends need (`send`, `sendAll`). */
export type SyncFrameProducer = Omit<FrameProducer, 'nextAsync'>

/** Visits a frame: its bytes in place, its first sequence, its kind word. */
export type FrameVisitor = (view: Uint8Array, seq: number, kind: number) => unknown

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
  measure(data: unknown): Measured {
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
      // A Uint8Array (a Buffer too) as it is: a new view per message was 15% of a batch's cost.
      bytes = data instanceof Uint8Array ? data : new Uint8Array(data.buffer, data.byteOffset, data.byteLength)
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

  /** Writes a message frame at `lo` (its claim, not wrapping) with its kind word. */
  write(lo: number, bytes: Uint8Array | string, kind: number, length: number): void {
    const at = (lo & this.mask) * this.ring.slotSize
    if (typeof bytes === 'string') writeUtf8(this.u8, at + HEADER, bytes, length)
    else this.u8.set(bytes, at + HEADER)
    this.header(at, lo, length, kind)
  }

  /**
   * Claims, writes and publishes one measured message; `tag` is or-ed into its kind word (a
   * channel's id). Waits for room (`wait`) or returns -1 without it; else its first sequence.
   */
  send(p: SyncFrameProducer, [bytes, kind, length]: Measured, tag: number, wait: boolean): number {
    const n = this.slotsFor(length)
    for (;;) {
      const hi = wait ? p.next(n) : p.tryNext(n)
      if (hi < 0) return -1
      if (this.publishFrame(p, hi - n + 1, hi, bytes, kind | tag, length)) return hi - n + 1
    }
  }

  /** `send` waiting for room without blocking the event loop (as `nextAsync` does). */
  async sendAsync(
    p: FrameProducer,
    [bytes, kind, length]: Measured,
    tag: number,
    options?: { signal?: AbortSignal },
  ): Promise<number> {
    const n = this.slotsFor(length)
    for (;;) {
      const hi = await p.nextAsync(n, options)
      if (this.publishFrame(p, hi - n + 1, hi, bytes, kind | tag, length)) return hi - n + 1
    }
  }

  /**
   * Sends measured messages, each with its tag, in as few claims as possible (each at most half
   * the ring, its messages published at once); returns the last claim's first sequence, or -1
   * when `wait` is false and the first claim found no room (then nothing was sent). Later
   * claims wait for room even then: what was measured is never half sent.
   */
  sendAll(p: SyncFrameProducer, messages: readonly Measured[], tags: readonly number[], wait: boolean): number {
    let lo = -1
    for (let first = 0; first < messages.length; ) {
      const [end, n] = this.chunk(messages, first)
      for (;;) {
        const hi = wait || first > 0 ? p.next(n) : p.tryNext(n)
        if (hi < 0) return -1
        lo = hi - n + 1
        if (this.publishChunk(p, lo, n, messages, tags, first, end)) break
      }
      first = end
    }
    return lo
  }

  /** `sendAll` waiting for room without blocking the event loop. */
  async sendAllAsync(
    p: FrameProducer,
    messages: readonly Measured[],
    tags: readonly number[],
    options?: { signal?: AbortSignal },
  ): Promise<number> {
    let lo = -1
    for (let first = 0; first < messages.length; ) {
      const [end, n] = this.chunk(messages, first)
      do lo = (await p.nextAsync(n, options)) - n + 1
      while (!this.publishChunk(p, lo, n, messages, tags, first, end))
      first = end
    }
    return lo
  }

  /** The messages from `first` that fit one claim (half the ring): `[end, slots]`. */
  private chunk(messages: readonly Measured[], first: number): [number, number] {
    const limit = Math.floor(this.ring.size / 2)
    let n = 0
    let end = first
    while (end < messages.length && n + this.slotsFor(messages[end][2]) <= limit) {
      n += this.slotsFor(messages[end][2])
      end++
    }
    return [end, n]
  }

  /**
   * Writes `messages[first, end)` into the claim of `n` from `lo` and publishes it, or pads it
   * when it would wrap around the ring's end (then false: claim again).
   */
  private publishChunk(
    p: SyncFrameProducer,
    lo: number,
    n: number,
    messages: readonly Measured[],
    tags: readonly number[],
    first: number,
    end: number,
  ): boolean {
    if (this.wraps(lo, n)) return this.publishFrame(p, lo, lo + n - 1, '', Kind.Padding, 0)
    try {
      let s = lo
      for (let i = first; i < end; i++) {
        const [bytes, kind, length] = messages[i]
        this.write(s, bytes, kind | tags[i], length)
        s += this.slotsFor(length)
      }
    } finally {
      p.publish(lo, lo + n - 1)
    }
    return true
  }

  /**
   * Writes and publishes the claim `[lo, hi]` as a message, or, when it would wrap around the
   * ring's end, as padding (then false: claim again, after it).
   */
  private publishFrame(
    p: SyncFrameProducer,
    lo: number,
    hi: number,
    bytes: Uint8Array | string,
    kind: number,
    length: number,
  ): boolean {
    const wraps = kind === Kind.Padding || this.wraps(lo, hi - lo + 1)
    try {
      if (wraps) this.pad(lo, hi - lo + 1)
      else this.write(lo, bytes, kind, length)
    } finally {
      p.publish(lo, hi)
    }
    return !wraps
  }

  /**
   * Marks the claim `[lo, lo + n - 1]` as padding (consumers skip it). In the ring's last slot
   * of 8 bytes the header has no room for its kind word: the stamp and length alone say
   * padding there (`deliver`), since no message can start where its header does not fit.
   */
  pad(lo: number, n: number): void {
    const at = (lo & this.mask) * this.ring.slotSize
    if (at + HEADER <= this.u8.length) this.header(at, lo, n, Kind.Padding)
    else this.u32.set([lo >>> 0, n], at >>> 2)
  }

  private header(at: number, seq: number, length: number, kind: Kind): void {
    const i = at >>> 2
    this.u32[i] = seq >>> 0
    this.u32[i + 1] = length
    this.u32[i + 2] = kind
  }

  /**
   * Calls `visit(view, seq, kind)` for every message that starts in `[from, hi]`, in order (a
   * frame is whole in memory once its first slot is published: it was written before any of
   * it was published). When it returns a Promise, the messages after it wait for it: the
   * result is then a Promise that settles once all did.
   */
  deliver(from: number, hi: number, visit: FrameVisitor): unknown {
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
      // A header that does not fit before the ring's end is padding's (see `pad`).
      const kind = at + HEADER <= u8.length ? u32[i + 2] : Kind.Padding
      // Lengths no frame written here has (a slot's bytes that merely look like a header, or a
      // hostile process's) make it no frame: never a stuck loop or a view past the ring's end.
      if (kind === Kind.Padding) {
        s += length >= 1 && length <= this.ring.size ? length : 1
        continue
      }
      if (length > this.maxBytes || at + HEADER + length > u8.length) {
        s++
        continue
      }
      const result = visit(u8.subarray(at + HEADER, at + HEADER + length), s, kind)
      s += Math.ceil((HEADER + length) / slotSize)
      if (isThenable(result)) {
        const next = s
        return Promise.resolve(result).then(() => this.deliver(next, hi, visit))
      }
    }
    return undefined
  }
}

/** A message handler (function or object) as a handler of batches (object), checked. */
export function messageHandler(h: MessageHandler | MessageHandlerObject, frames: Frames): HandlerObject {
  if (typeof h === 'function')
    return { name: h.name || undefined, onBatch: (lo, hi) => frames.deliver(lo, hi, asVisitor(h)) }
  if (h === null || typeof h !== 'object') {
    throw typeError('a message handler must be a function or an object with onMessage')
  }
  fn('onMessage', h.onMessage)
  if ('onBatch' in h || 'maxBatchSize' in h) {
    throw rangeError('a message handler takes onMessage, not onBatch or maxBatchSize')
  }
  const { onMessage, ...options } = h
  const visit = asVisitor(onMessage)
  return { ...options, onBatch: (lo, hi) => frames.deliver(lo, hi, visit) }
}

/** A message handler as a frame visitor (the kind word named). */
export function asVisitor(h: MessageHandler): FrameVisitor {
  return (view, seq, kind) => h(view, seq, (kind & KIND_BITS) === Kind.Text ? 'text' : 'bytes')
}
