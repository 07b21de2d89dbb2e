/**
 * `ProcessRing`: one multi-producer ring in named shared memory, opened by several processes
 * (Node or Rust, through `disruptor-core`'s `shm` module). Slots, cursor, availability flags and
 * the producer and consumer tables all live in the file; this class is the facade over the
 * binding's handles: a producer registered on first use and the consumers this process made.
 */

import type { Readable, Writable } from 'node:stream'
import { closedError, coded, rangeChecked, rangeError, typeError } from '../errors'
import { EventCodec } from '../event/codec'
import { type EventInput, type EventOf, type EventType, isEventType, layoutFromRecord } from '../event/layout'
import type { MessageKind } from '../message/frames'
import { NativeSharedRing, type NativeSharedRing as NativeSharedRingT, type NativeSharedStats } from '../native'
import { deadlineOf } from '../producer/deadline'

import { readableOf, type StreamRing, writableOf } from '../stream'
import type { Batch } from '../types'
import { fn, integer, timeoutOption } from '../validate'
import { type Claims, EngineClaims, SingleClaims } from './claims'
import { checkConsumerName, ProcessConsumer } from './consumer'
import { type ProcessHandler, ProcessHandlers } from './handlers'
import { ProcessMessages } from './messages'
import { whenRoom } from './room'

/** Options of `ProcessRing.create`. */
export interface ProcessRingOptions<E = number> {
  /** The ring's name: 1 .. 200 of ASCII letters, digits, '.', '_', '-', not starting with '.'. */
  name: string
  /** Slots: a power of two, 2 .. 2**30. */
  size: number
  /** Bytes per slot, a multiple of 8 (default with `event`: the layout's size). */
  slotSize?: number
  /** A typed event layout; it is recorded in the ring, so `open` gets it back. */
  event?: EventType & EventOf<E>
  /** File mode (default 0o600: this user only). */
  mode?: number
  /** Producer handles at once, over all processes (default 16; each process uses one per ring it produces into). */
  maxProducers?: number
  /** Consumers at once, over all processes (default 16). */
  maxConsumers?: number
  /**
   * 'multi' (default: any number of producers, in any processes) or 'single': one producer at a
   * time (another process may take over when it leaves or dies), which claims and publishes
   * with two atomic swaps and no native call.
   */
  producer?: 'single' | 'multi'
}

/** `stats()` of a process ring: read from the file, the same in every process. */
export type ProcessRingStats = NativeSharedStats

/** How long one native wait of `next()` lasts before JavaScript runs again (ms). */
const SLICE_MS = 50

/** The binding's class, or ERR_DISRUPTOR_UNSUPPORTED where this platform has none. */
function nativeClass(): NonNullable<typeof NativeSharedRing> {
  if (NativeSharedRing === undefined) {
    throw coded(
      new Error(`rings shared between processes are not available on ${process.platform}`),
      'ERR_DISRUPTOR_UNSUPPORTED',
    )
  }
  return NativeSharedRing
}

export class ProcessRing<E = number> {
  /** The ring's name. */
  readonly name: string
  /** Slots in the ring. */
  readonly size: number
  /** Bytes per slot. */
  readonly slotSize: number
  /** The event layout, if the ring has one. */
  readonly eventType: EventType | undefined
  /** This process's ArrayBuffer over the slots (zero-copy: the shared memory itself). */
  readonly buffer: ArrayBuffer
  /** 'single' (one producer at a time) or 'multi'. */
  readonly producer: 'single' | 'multi'

  /** This process's producer, registered on first use. */
  private claims: Claims | undefined
  private readonly consumers = new Set<ProcessConsumer>()
  private codec: EventCodec | undefined
  private fly: unknown
  /** This process's message framing (made on first use). */
  private messages: ProcessMessages | undefined
  private closed = false
  /** Consumers this instance named itself. */
  private made = 0
  /** Callback consumers (`handleEventsWith`), run from `start()`. */
  private readonly handlers = new ProcessHandlers((name, after) =>
    this.consumer(name ?? this.nextName('consumer'), { after }),
  )

  private constructor(private readonly native: NativeSharedRingT) {
    this.name = native.name
    this.size = native.size
    this.slotSize = native.slotSize
    this.buffer = native.buffer()
    this.eventType = layoutFromRecord(native.layout)
    this.producer = native.singleProducer ? 'single' : 'multi'
  }

  /**
   * Creates ring `name` (ERR_DISRUPTOR_EXISTS if the name is taken), mode 0600 unless told
   * otherwise.
   */
  static create<E = number>(options: ProcessRingOptions<E>): ProcessRing<E> {
    if (options === null || typeof options !== 'object') throw typeError('options must be an object')
    const { name, size, event, mode, maxProducers, maxConsumers, producer } = options
    if (producer !== undefined && producer !== 'single' && producer !== 'multi')
      throw rangeError(`producer must be 'single' or 'multi', got ${String(producer)}`)
    if (typeof name !== 'string') throw typeError('name must be a string')
    if (event !== undefined && !isEventType(event)) throw typeError('event must be a layout made by defineEvent')
    const slotSize = options.slotSize ?? event?.size
    if (slotSize === undefined) throw typeError('slotSize (or an event layout) is required')
    if (event !== undefined && slotSize < event.size)
      throw rangeError(`slotSize ${slotSize} is smaller than the event (${event.size} bytes)`)
    const layout = event === undefined ? undefined : JSON.stringify({ event: event.schema })
    const Native = nativeClass()
    const native = rangeChecked(() =>
      Native.create({
        name,
        size: integer('size', size, 1, 2 ** 30),
        slotSize: integer('slotSize', slotSize, 1, 65536),
        mode,
        maxProducers,
        maxConsumers,
        layout,
        singleProducer: producer === 'single',
      }),
    )
    return new ProcessRing<E>(native)
  }

  /**
   * Opens ring `name`, made by any process: its header is checked first (ERR_DISRUPTOR_NOT_FOUND,
   * ERR_DISRUPTOR_PERMISSION, ERR_DISRUPTOR_FOREIGN for a file that is not a whole ring,
   * ERR_DISRUPTOR_VERSION for another layout version). The event layout comes with it.
   */
  static open<E = number>(name: string): ProcessRing<E> {
    if (typeof name !== 'string') throw typeError('name must be a string')
    const Native = nativeClass()
    return new ProcessRing<E>(rangeChecked(() => Native.open(name)))
  }

  /** Removes ring `name`'s file: processes that have it open go on; new `open`s fail. */
  static unlink(name: string): void {
    if (typeof name !== 'string') throw typeError('name must be a string')
    rangeChecked(() => nativeClass().unlink(name))
  }

  /** Removes this ring's name (see `ProcessRing.unlink`). */
  unlink(): void {
    this.native.remove()
  }

  /** Byte offset of `seq`'s slot in `buffer`. */
  offset(seq: number): number {
    return (seq & (this.size - 1)) * this.slotSize
  }

  /** Claims `n` slots (default 1), blocking this thread while the ring is full; the highest sequence. */
  next(n = 1, options?: { timeout?: number }): number {
    const claims = this.claimsOf()
    const hi = claims.tryNext(n)
    if (hi >= 0) return hi
    const deadline = deadlineOf(options)
    // The native wait comes back every SLICE_MS, so that worker.terminate() and process.exit()
    // never wait on a thread blocked here (as the thread ring's waits do).
    for (;;) {
      const got = claims.nextWithin(n, Math.min(SLICE_MS, deadline.left() ?? SLICE_MS))
      if (got >= 0) return got
      if (deadline.expired()) throw deadline.error(n)
    }
  }

  /** Claims `n` slots if there is room now: the highest sequence, or -1. */
  tryNext(n = 1): number {
    return (this.claims ?? this.claimsOf()).tryNext(n)
  }

  /** Claims `n` slots, waiting for room on libuv's pool: the event loop goes on meanwhile. */
  async nextAsync(n = 1, options?: { signal?: AbortSignal }): Promise<number> {
    return this.whenRoom(n, options, () => this.tryNext(n))
  }

  /** `whenRoom` (./room.ts) on this ring. */
  private whenRoom(n: number, options: { signal?: AbortSignal } | undefined, attempt: () => number): Promise<number> {
    return whenRoom(this.native, n, options, attempt)
  }

  /**
   * Publishes this process's claim (a producer holds one claim at a time: `next` again before
   * `publish` is ERR_DISRUPTOR_CLAIM_OPEN). `lo`/`hi`, if given, must be the claim's.
   */
  publish(lo?: number, hi?: number): void {
    const claims = this.claims ?? this.claimsOf()
    if (lo !== undefined) {
      const claim = claims.claim()
      if (claim === null || claim[0] !== lo || claim[1] !== (hi ?? lo)) {
        throw coded(
          new Error(
            `[${lo}, ${hi ?? lo}] is not this process's claim (${claim === null ? 'none' : `[${claim[0]}, ${claim[1]}]`})`,
          ),
          'ERR_DISRUPTOR_NOT_CLAIMED',
        )
      }
    }
    claims.publish()
  }

  /** Gives up this process's claim: consumers skip it (a single producer claims those sequences again). */
  abandon(): void {
    this.claims?.abandon()
  }

  /**
   * Claims one slot, fills it with `fill(eventOrOffset, seq)` and publishes it; a fill that
   * throws abandons the slot (never delivered) and the error propagates.
   */
  publishEvent(fill: (event: E, seq: number) => void): number {
    fn('fill', fill)
    const seq = this.next(1)
    try {
      fill((this.eventType === undefined ? this.offset(seq) : this.event(seq)) as E, seq)
    } catch (e) {
      this.abandon()
      throw e
    }
    this.claimsOf().publish()
    return seq
  }

  /**
   * Claims `n` slots at once, calls `fill(eventOrOffset, seq)` for each in order and publishes
   * them together; returns the highest sequence. A fill that throws abandons the whole claim
   * (none of it is delivered) and the error propagates.
   */
  publishEvents(n: number, fill: (event: E, seq: number) => void): number {
    fn('fill', fill)
    const hi = this.next(integer('n', n, 1, this.size))
    this.fillAndPublish(hi - n + 1, hi, fill)
    return hi
  }

  /** Like `publishEvents`, but -1 at once when there is not room for `n` (nothing claimed, `fill` not called). */
  tryPublishEvents(n: number, fill: (event: E, seq: number) => void): number {
    fn('fill', fill)
    const hi = this.tryNext(integer('n', n, 1, this.size))
    if (hi >= 0) this.fillAndPublish(hi - n + 1, hi, fill)
    return hi
  }

  /** `publishEvent` waiting for room as `nextAsync` does (an abort rejects with an AbortError, nothing claimed). */
  async publishEventAsync(fill: (event: E, seq: number) => void, options?: { signal?: AbortSignal }): Promise<number> {
    fn('fill', fill)
    return this.whenRoom(1, options, () => this.tryPublishEvents(1, fill))
  }

  /** Fills the claim `[lo, hi]` and publishes it; abandons it if a fill throws. */
  private fillAndPublish(lo: number, hi: number, fill: (event: E, seq: number) => void): void {
    try {
      for (let s = lo; s <= hi; s++) fill((this.eventType === undefined ? this.offset(s) : this.event(s)) as E, s)
    } catch (e) {
      this.abandon()
      throw e
    }
    this.claimsOf().publish()
  }

  /** Typed rings: claims one slot, writes `values` (checked first: nothing claimed on bad input) and publishes it. */
  emitEvent(values: EventInput<E>): number {
    const codec = this.eventCodec()
    codec.check(values)
    const seq = this.next(1)
    codec.write(seq & (this.size - 1), values as Record<string, unknown>)
    this.claimsOf().publish()
    return seq
  }

  /** Typed rings: `emitEvent`, or -1 at once when the ring is full (nothing written). */
  tryEmitEvent(values: EventInput<E>): number {
    const codec = this.eventCodec()
    codec.check(values)
    const seq = this.tryNext(1)
    if (seq < 0) return -1
    codec.write(seq & (this.size - 1), values as Record<string, unknown>)
    this.claimsOf().publish()
    return seq
  }

  /** Typed rings: `emitEvent` waiting for room as `nextAsync` does. */
  async emitEventAsync(values: EventInput<E>, options?: { signal?: AbortSignal }): Promise<number> {
    this.eventCodec().check(values)
    return this.whenRoom(1, options, () => this.tryEmitEvent(values))
  }

  /**
   * Typed rings: several events in one claim, published together; the highest sequence. All
   * are checked first: one bad event and none is claimed.
   */
  emitEvents(events: readonly EventInput<E>[]): number {
    const codec = this.eventCodec()
    if (!Array.isArray(events)) throw typeError('events must be an array')
    const n = integer('events.length', events.length, 1, this.size)
    for (const e of events) codec.check(e)
    const hi = this.next(n)
    for (let s = hi - n + 1; s <= hi; s++) {
      codec.write(s & (this.size - 1), events[s - hi + n - 1] as Record<string, unknown>)
    }
    this.claimsOf().publish()
    return hi
  }

  /**
   * Messages, as `Disruptor.write`: `data` (a string, as UTF-8, or bytes) as one message in as
   * many consecutive slots as it needs, claimed and published at once (blocking while the ring
   * is full); the sequence of its first slot. At most `maxMessageBytes` (ERR_OUT_OF_RANGE; a
   * wrong type: ERR_INVALID_ARG_TYPE; nothing is claimed either way).
   */
  write(data: string | ArrayBufferView | ArrayBuffer): number {
    const messages = this.messagesOf()
    return messages.send(messages.frames.measure(data), true)
  }

  /**
   * Several messages in as few claims as possible (each at most half the ring, its messages
   * published at once; blocking while full), all checked first: one bad message and none is
   * written. Returns the first sequence of the last claim (-1 for none).
   */
  writeAll(messages: readonly (string | ArrayBufferView | ArrayBuffer)[]): number {
    return this.messagesOf().sendAll(messages)
  }

  /** Like `write`, but -1 at once when there is no room for it (nothing written). */
  tryWrite(data: string | ArrayBufferView | ArrayBuffer): number {
    const messages = this.messagesOf()
    return messages.send(messages.frames.measure(data), false)
  }

  /** Like `write`, waiting for room on libuv's pool (as `nextAsync`). */
  async writeAsync(data: string | ArrayBufferView | ArrayBuffer, options?: { signal?: AbortSignal }): Promise<number> {
    const messages = this.messagesOf()
    const measured = messages.frames.measure(data)
    return this.whenRoom(messages.frames.slotsFor(measured[2]), options, () => messages.send(measured, false))
  }

  /** The longest message `write` takes, in bytes (half the ring, less a 12-byte header). */
  get maxMessageBytes(): number {
    return this.messagesOf().frames.maxBytes
  }

  /**
   * Calls `each(view, seq, kind)` for every message that starts in `[lo, hi]` (a consumer's
   * batch), in order: `view` is the message in place, valid until the batch is committed (copy
   * what you keep). When `each` returns a Promise, the messages after it wait for it, and the
   * result is a Promise (return it from a `run()` handler to hold the batch).
   */
  eachMessage(lo: number, hi: number, each: (view: Uint8Array, seq: number, kind: MessageKind) => unknown): unknown {
    return this.messagesOf().each(lo, hi, each)
  }

  /** Typed rings: this process's flyweight moved to `seq` (no allocation). */
  event(seq: number): E {
    const codec = this.eventCodec()
    if (this.fly === undefined) this.fly = codec.flyweight()
    codec.moveTo(this.fly as never, seq & (this.size - 1))
    return this.fly as E
  }

  /** Typed rings: the event at `seq` as a plain object. */
  read(seq: number): E {
    return this.eventCodec().read(seq & (this.size - 1)) as E
  }

  /**
   * A consumer of this process named `name` (1 .. 48 bytes): it gates every producer and
   * receives everything published after it joined. With `resume`, it first looks for a
   * consumer of that name whose process died and whose entry is still in the ring (a producer
   * short of room reaps it after 50 ms): it takes that entry over and goes on where it stopped
   * (nothing published since is lost; the batch that consumer died handling comes again), and
   * its `resumed` says so. With `after` (consumers of this ring made by this process), it never
   * passes any of them: a stage of a pipeline or diamond.
   */
  consumer(name: string, options?: { resume?: boolean; after?: readonly ProcessConsumer[] }): ProcessConsumer {
    this.checkOpen()
    const checked = checkConsumerName(name)
    const resume = options?.resume ?? false
    if (typeof resume !== 'boolean') throw typeError('resume must be a boolean')
    const upstream = this.upstreamOf(options?.after ?? [])
    const native = rangeChecked(() => this.native.consumer(checked, resume))
    const c = new ProcessConsumer(checked, this.native, native, (gone) => this.consumers.delete(gone), upstream)
    this.consumers.add(c)
    return c
  }

  /** A pull consumer, as `Disruptor.poller()`: `consumer(name)`, named `poller-<pid>-<n>` unless told. */
  poller(options?: { name?: string }): ProcessConsumer {
    return this.consumer(options?.name ?? this.nextName('poller'))
  }

  /**
   * Consumers that follow `upstream` (consumers of this ring made by this process), as
   * `Disruptor.after(...)`: each never passes any of them (a pipeline, a diamond).
   */
  after(...upstream: ProcessConsumer[]): {
    handleEventsWith(...handlers: ProcessHandler[]): ProcessConsumer[]
    poller(options?: { name?: string }): ProcessConsumer
  } {
    const checked = this.upstreamOf(upstream)
    return {
      handleEventsWith: (...handlers) => {
        this.checkOpen()
        return this.handlers.add(handlers, checked)
      },
      poller: (options) => this.consumer(options?.name ?? this.nextName('poller'), { after: checked }),
    }
  }

  /** `after` checked: open consumers of this ring instance. */
  private upstreamOf(after: readonly ProcessConsumer[]): readonly ProcessConsumer[] {
    if (!Array.isArray(after)) throw typeError('after must be an array of consumers')
    for (const u of after) {
      if (!(u instanceof ProcessConsumer) || !this.consumers.has(u))
        throw rangeError('after takes open consumers of this ring made by this process')
    }
    return [...after]
  }

  /**
   * Callback consumers, as `Disruptor.handleEventsWith`: one consumer in the ring per handler
   * (a function `(lo, hi)`, or an object with `onBatch` and the thread API's options but
   * `onTimeout`), joining now, called on this process's event loop from `start()` on (a Promise
   * holds its batch). One that halts leaves the ring, and `drain()` rejects with its error.
   */
  handleEventsWith(...handlers: ProcessHandler[]): ProcessConsumer[] {
    this.checkOpen()
    return this.handlers.add(handlers)
  }

  /** Starts the handlers of `handleEventsWith` (later ones start at once). */
  start(): this {
    this.checkOpen()
    this.handlers.start()
    return this
  }

  /**
   * Resolves once every live consumer of the ring, in every process, has handled everything
   * claimed before the call (a dead producer's claim is skipped once it is found dead).
   * Rejects with ERR_DISRUPTOR_CONSUMER_HALTED when a handler of this process failed,
   * ERR_DISRUPTOR_CLOSED when this process leaves the ring meanwhile (`close()`), and
   * ERR_DISRUPTOR_TIMEOUT after `timeout` ms (default: none).
   */
  async drain(options?: { timeout?: number }): Promise<void> {
    this.checkOpen()
    return this.handlers.drain(this.native, timeoutOption(options), () => this.closed)
  }

  /**
   * Batches as they come, as `Disruptor.batches()`, through a consumer of their own that leaves
   * the ring when the loop ends (see `ProcessConsumer.batches`).
   */
  batches(options?: { name?: string; maxBatchSize?: number }): AsyncGenerator<Batch, void, undefined> {
    const max =
      options?.maxBatchSize === undefined ? Infinity : integer('maxBatchSize', options.maxBatchSize, 1, 2 ** 30)
    const c = this.poller(options)
    return (async function* () {
      try {
        // Slices of a batch: its slots are freed when the loop asks for the next batch.
        for await (const b of c.batches()) {
          for (let lo = b.lo; lo <= b.hi; lo += max) yield { lo, hi: Math.min(b.hi, lo + max - 1) }
        }
      } finally {
        c.close()
      }
    })()
  }

  /**
   * A Writable stream into the ring, as `Disruptor.writable()`: typed events (object mode) or
   * messages (strings, Buffers); it takes the next chunk once there is room.
   */
  writable(options?: { highWaterMark?: number }): Writable {
    return writableOf(this as unknown as StreamRing, this.eventType !== undefined, options)
  }

  /**
   * A Readable stream out of the ring, as `Disruptor.readable()`: a consumer of its own in the
   * ring (it gates every producer of every process), typed events as plain objects or messages
   * as Buffers; it ends when intake is closed and drained; destroying it leaves the ring.
   */
  readable(options?: { highWaterMark?: number; objectMode?: boolean; name?: string }): Readable {
    return readableOf(this as unknown as StreamRing, this.eventType !== undefined, options)
  }

  /** The ring as the file says: cursor, abandoned sequences, dead processes reaped, every producer and consumer entry. */
  stats(): ProcessRingStats {
    return this.native.stats()
  }

  /** Closes intake for every process: claims fail with ERR_DISRUPTOR_CLOSED; consumers drain and end. */
  closeIntake(): void {
    this.native.closeIntake()
  }

  /**
   * Leaves the ring: abandons this process's claim, frees its producer entry, closes its
   * consumers. The ring itself stays for the other processes (`closeIntake` ends it for all,
   * `unlink` removes its name).
   */
  close(): void {
    if (this.closed) return
    this.closed = true
    this.claims?.close()
    this.claims = undefined
    for (const c of [...this.consumers]) c.close()
  }

  /** This process's producer (registered now if it is not: ERR_DISRUPTOR_SINGLE_PRODUCER when a single-producer ring has one elsewhere). */
  private claimsOf(): Claims {
    if (this.claims !== undefined) return this.claims
    this.checkOpen()
    const handle = rangeChecked(() => this.native.producer())
    this.claims =
      this.producer === 'single' ? new SingleClaims(this.native, handle, this.size) : new EngineClaims(handle)
    return this.claims
  }

  /** This process's message framing; ERR_DISRUPTOR_HAS_EVENT_LAYOUT on a ring of typed events. */
  private messagesOf(): ProcessMessages {
    if (this.messages !== undefined) return this.messages
    if (this.eventType !== undefined) {
      throw coded(
        new Error('messages need a ring of byte slots (this one has an event layout)'),
        'ERR_DISRUPTOR_HAS_EVENT_LAYOUT',
      )
    }
    this.messages = new ProcessMessages(this, () => this.claimsOf().publish())
    return this.messages
  }

  /** A consumer name of this process: `<what>-<pid>-<n>`. */
  private nextName(what: string): string {
    return `${what}-${process.pid}-${++this.made}`
  }

  private eventCodec(): EventCodec {
    if (this.eventType === undefined)
      throw coded(
        new Error('this ring has no event layout (new Disruptor({ name, event }))'),
        'ERR_DISRUPTOR_NO_EVENT_LAYOUT',
      )
    if (this.codec === undefined) this.codec = new EventCodec(this.eventType, this.buffer, this.slotSize)
    return this.codec
  }

  private checkOpen(): void {
    if (this.closed) throw closedError()
  }
}
