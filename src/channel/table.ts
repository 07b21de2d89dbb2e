/**
 * The channels of a dispatcher, shared by every thread that attached it: one SharedArrayBuffer
 * holding the channel names (a channel's id is its index + 1, the same on every thread), the
 * count of running producers (for `join`) and each channel's figures. Names are appended and
 * figures added under one spin lock: both happen rarely (a declaration; a flush every 4,096
 * events or 2 ms per thread), so the hot paths never touch it.
 */

import { coded, rangeError, typeError } from '../errors'

/** Channels one dispatcher can hold. */
export const MAX_CHANNELS = 1024
/** Longest channel name, in UTF-8 bytes. */
export const MAX_NAME_BYTES = 64

// Int32 words of the header.
const LOCK = 0
const COUNT = 1
const PRODUCERS = 2
const HEADER_BYTES = 16
/** A name entry: its length (u32), then its bytes. */
const ENTRY_BYTES = 4 + MAX_NAME_BYTES
const NAMES_AT = HEADER_BYTES
const SUBSCRIBERS_AT = NAMES_AT + MAX_CHANNELS * ENTRY_BYTES
const FIGURES_AT = SUBSCRIBERS_AT + MAX_CHANNELS * 4

/** A channel's figures, in this order (Float64 each). */
export enum Figure {
  Emitted = 0,
  Delivered = 1,
  Errors = 2,
  /** Epoch ms (`performance.timeOrigin + performance.now()`) of its first emitted event; 0: none. */
  FirstEmitted = 3,
  /** Epoch ms of the flush that counted its latest delivery; 0: none. */
  LastDelivered = 4,
}
export const FIGURES = 5
const BYTES = FIGURES_AT + MAX_CHANNELS * FIGURES * 8

const encoder = new TextEncoder()
const decoder = new TextDecoder()

/** One thread's view of the shared channel table. */
export class ChannelTable {
  readonly buffer: SharedArrayBuffer
  private readonly i32: Int32Array
  private readonly u8: Uint8Array
  private readonly f64: Float64Array
  /** Names this thread has read, by id (index 0 unused). */
  private readonly names: string[] = ['']
  private readonly ids = new Map<string, number>()

  constructor(buffer?: SharedArrayBuffer) {
    if (buffer !== undefined && (!(buffer instanceof SharedArrayBuffer) || buffer.byteLength !== BYTES)) {
      throw rangeError('handle is not a handle from Dispatcher.share()')
    }
    this.buffer = buffer ?? new SharedArrayBuffer(BYTES)
    this.i32 = new Int32Array(this.buffer)
    this.u8 = new Uint8Array(this.buffer)
    this.f64 = new Float64Array(this.buffer, FIGURES_AT, MAX_CHANNELS * FIGURES)
  }

  /** The id of `name`, declared by any thread; 0 if it is not (yet) declared. */
  idOf(name: string): number {
    const id = this.ids.get(name)
    if (id !== undefined) return id
    this.sync()
    return this.ids.get(name) ?? 0
  }

  /** The id of `name`; ERR_DISRUPTOR_UNKNOWN_CHANNEL when no thread declared it. */
  require(name: unknown): number {
    if (typeof name !== 'string') throw typeError('a channel name must be a string')
    const id = this.idOf(name)
    if (id === 0) {
      throw coded(
        new Error(`no channel named '${name}' (declare it first: channel())`),
        'ERR_DISRUPTOR_UNKNOWN_CHANNEL',
      )
    }
    return id
  }

  /** The name of channel `id` (read from the table when another thread declared it since). */
  nameOf(id: number): string {
    if (id >= this.names.length) this.sync()
    return this.names[id]
  }

  /** Every declared channel's name, by id order. */
  all(): string[] {
    this.sync()
    return this.names.slice(1)
  }

  /**
   * Declares `name` (idempotent) and returns its id. ERR_INVALID_ARG_TYPE / _VALUE for a name
   * that is not a string of 1 to 64 UTF-8 bytes; ERR_DISRUPTOR_TOO_MANY_CHANNELS past 1,024.
   */
  declare(name: unknown): number {
    if (typeof name !== 'string') throw typeError('a channel name must be a string')
    const bytes = encoder.encode(name)
    if (bytes.length === 0 || bytes.length > MAX_NAME_BYTES) {
      throw rangeError(`a channel name takes 1 to ${MAX_NAME_BYTES} UTF-8 bytes, got ${bytes.length}`)
    }
    const known = this.idOf(name)
    if (known !== 0) return known
    return this.locked(() => {
      this.sync() // another thread may have declared it since
      const again = this.ids.get(name)
      if (again !== undefined) return again
      const count = this.i32[COUNT]
      if (count >= MAX_CHANNELS) {
        throw coded(
          new RangeError(`a dispatcher holds at most ${MAX_CHANNELS} channels`),
          'ERR_DISRUPTOR_TOO_MANY_CHANNELS',
        )
      }
      const at = NAMES_AT + count * ENTRY_BYTES
      new DataView(this.buffer).setUint32(at, bytes.length, true)
      this.u8.set(bytes, at + 4)
      // Release: the entry is written before the count that makes it readable (`sync` loads it with Acquire).
      Atomics.store(this.i32, COUNT, count + 1)
      this.sync()
      return count + 1
    })
  }

  /** Reads the entries declared since this thread last looked. */
  private sync(): void {
    const count = Atomics.load(this.i32, COUNT)
    const view = new DataView(this.buffer)
    for (let i = this.names.length - 1; i < count; i++) {
      const at = NAMES_AT + i * ENTRY_BYTES
      const name = decoder.decode(this.u8.slice(at + 4, at + 4 + view.getUint32(at, true)))
      this.names.push(name)
      this.ids.set(name, i + 1)
    }
  }

  /** Adds `delta` to the routes subscribed to channel `id` (all threads). */
  subscribers(id: number, delta = 0): number {
    const at = SUBSCRIBERS_AT / 4 + id - 1
    return delta === 0 ? Atomics.load(this.i32, at) : Atomics.add(this.i32, at, delta) + delta
  }

  /** Adds `delta` to the producers running (registered, not finished) on every thread. */
  producers(delta = 0): number {
    return delta === 0 ? Atomics.load(this.i32, PRODUCERS) : Atomics.add(this.i32, PRODUCERS, delta) + delta
  }

  /**
   * Adds this thread's pending figures: for each id in `ids`, `pending` holds its row (counts
   * added, FirstEmitted lowered, LastDelivered raised). Under the lock, which orders it against
   * every other thread's flush and read.
   */
  add(ids: Iterable<number>, pending: Float64Array): void {
    this.locked(() => {
      const f = this.f64
      for (const id of ids) {
        const at = (id - 1) * FIGURES
        f[at + Figure.Emitted] += pending[at + Figure.Emitted]
        f[at + Figure.Delivered] += pending[at + Figure.Delivered]
        f[at + Figure.Errors] += pending[at + Figure.Errors]
        const first = pending[at + Figure.FirstEmitted]
        if (first !== 0 && (f[at + Figure.FirstEmitted] === 0 || first < f[at + Figure.FirstEmitted])) {
          f[at + Figure.FirstEmitted] = first
        }
        f[at + Figure.LastDelivered] = Math.max(f[at + Figure.LastDelivered], pending[at + Figure.LastDelivered])
      }
    })
  }

  /** A copy of channel `id`'s figures (read under the lock: a flush is never half seen). */
  figures(id: number): Float64Array {
    const at = (id - 1) * FIGURES
    return this.locked(() => this.f64.slice(at, at + FIGURES))
  }

  /**
   * Runs `f` holding the table's lock. A spin with a 0.05 ms wait between tries: holders do a
   * few hundred stores at most, and `Atomics.wait` is allowed on Node's main thread.
   */
  private locked<T>(f: () => T): T {
    while (Atomics.compareExchange(this.i32, LOCK, 0, 1) !== 0) Atomics.wait(this.i32, LOCK, 1, 0.05)
    try {
      return f()
    } finally {
      // Release: what `f` wrote is seen by the next holder, whose compareExchange is SeqCst.
      Atomics.store(this.i32, LOCK, 0)
      Atomics.notify(this.i32, LOCK, 1)
    }
  }
}
