/**
 * The public `Disruptor`: options, sharing, the graph DSL and lifecycle. Producing is its base
 * class, the Sequencer (producer/sequencer.ts); consuming is delegated to this thread's
 * Consumers (consumer/consumers.ts) and the graph (graph.ts).
 */

import { performance } from 'node:perf_hooks'
import type { Readable, Writable } from 'node:stream'
import { Consumers } from './consumer/consumers'
import type { Poller } from './consumer/poller'
import { closedError, coded, haltedError, rangeChecked, rangeError, typeError } from './errors'
import { EventCodec, type Flyweight } from './event/codec'
import { defineEvent, type EventInput, type EventOf, type EventType } from './event/layout'
import { type EventHandlerGroup, StageBuilder, stageAfter } from './graph'
import {
  Frames,
  type FrameVisitor,
  type MessageHandler,
  type MessageHandlerObject,
  messageHandler,
} from './message/frames'
import { NativeRing, type WaitConfig } from './native'
import { ProcessRing } from './process/ring'
import { Sequencer } from './producer/sequencer'
import { StatsWindow } from './stats'
import { readableOf, type StreamRing, writableOf } from './stream'
import { flushThread, neverStartedOnThread, threadBuffer, track, untrack } from './thread'
import type {
  Batch,
  DisruptorOptions,
  DisruptorStats,
  Handler,
  PollerOptions,
  SharedDisruptor,
  WaitStrategyName,
  WaitStrategyOptions,
} from './types'
import { fn, integer, ringOptions, sequenceArg, timeoutOption } from './validate'

/** A fill function as `fillAndPublish` calls it (with up to three translator arguments). */
type Fill<E> = (event: E, seq: number, a?: unknown, b?: unknown, c?: unknown) => void

/**
 * How long `close()` waits for claims granted before it to be published. A claim still
 * unpublished then is never delivered (nor what is published after it on a multi-producer
 * ring); its publish throws ERR_DISRUPTOR_CLOSED once the ring is halted.
 */
const CLOSE_GRACE_MS = 1000

const delay = (ms: number) =>
  new Promise<void>((resolve) => (ms <= 0 ? setImmediate(resolve) : setTimeout(resolve, ms)))

/**
 * A ring of fixed-size byte slots shared by producers and consumers on any threads. See
 * README for every call with examples.
 *
 * Events: 'error' (a handler on this thread halted on an error: `(error, consumerName)`);
 * 'abandoned', on the creating thread (another thread went away between claim and publish:
 * `(lo, hi)`, sequences every consumer skips; see `stats().abandonedEvents`).
 */
export class Disruptor<E = number> extends Sequencer {
  /** Bytes per slot. */
  readonly slotSize: number
  /** The event layout of the slots (`defineEvent`), or null: slots are bytes. */
  readonly eventType: EventType | null
  /** 'single' or 'multi'. */
  readonly producer: 'single' | 'multi'
  /** The wait strategy. */
  readonly waitStrategy: WaitStrategyName
  /** The wait strategy with every parameter (defaults filled in). */
  readonly waitStrategyOptions: Readonly<WaitStrategyOptions>

  private readonly mask: number
  private readonly id: number
  private readonly attached: boolean
  private readonly consumers: Consumers
  /** The stage with no consumers before it: what `handleEventsWith` and friends register on. */
  private readonly root: StageBuilder
  private arrayBuffer: ArrayBuffer | null = null
  private closed = false
  private closing: Promise<void> | null = null
  /** Where the rates of the next `stats()` start. */
  private readonly window: StatsWindow
  /** This thread's reader and writer of typed events (made on first use). */
  private eventCodec: EventCodec | null = null
  /** The flyweight `publishEvent` fills, and the one `event(seq)` returns. */
  private fillFly: Flyweight | null = null
  private readFly: Flyweight | null = null
  /** This thread's message framing (made on first use). */
  private messageFrames: Frames | null = null

  /** A new ring. Throws TypeError/RangeError with ERR_INVALID_ARG_TYPE/VALUE on bad options. */
  constructor(options: DisruptorOptions<E>)
  /** @internal */
  constructor(options: DisruptorOptions<E>, native: NativeRing)
  constructor(options: DisruptorOptions<E>, native?: NativeRing) {
    const { size, slotSize, producer, waitStrategy, wait, event } = ringOptions(options)
    const ring = native ?? rangeChecked(() => new NativeRing(size, slotSize, producer === 'multi', wait))
    const info = ring.describe()
    super(ring, info.token, size, producer === 'multi')
    this.slotSize = slotSize
    this.eventType = event
    this.producer = producer
    this.waitStrategy = waitStrategy
    this.waitStrategyOptions = Object.freeze(strategyOptions(info.wait))
    this.mask = size - 1
    this.attached = native !== undefined
    this.id = info.id
    this.consumers = new Consumers({
      native: ring,
      token: info.token,
      id: info.id,
      size,
      multi: producer === 'multi',
      events: this,
      producer: this,
    })
    this.root = new StageBuilder(this.consumers, [])
    this.window = new StatsWindow(performance.now(), ring.stats())
    track(this.consumers)
    if (!this.attached) this.native.onAbandoned((range) => this.emit('abandoned', range[0], range[1]))
  }

  /**
   * Opens a ring another process created in named shared memory (`ProcessRing.create`): see
   * `ProcessRing` and README "Processes".
   */
  static open<E = number>(name: string): ProcessRing<E> {
    return ProcessRing.open<E>(name)
  }

  /**
   * A Disruptor over the ring another thread `share()`d: same slots, same sequences. In a
   * worker_thread it can produce (multi-producer rings) and register consumers whose callbacks
   * run in that worker. Its `close()` detaches this thread (its consumers stop gating) and
   * leaves the ring running.
   */
  static attach<E = number>(handle: SharedDisruptor<E>): Disruptor<E> {
    if (handle === null || typeof handle !== 'object') throw typeError('handle must be an object from share()')
    if (
      handle.kind !== 'napi-disruptor' ||
      typeof handle.id !== 'number' ||
      !Number.isInteger(handle.id) ||
      handle.id < 1 ||
      handle.id > 0xffffffff ||
      typeof handle.token !== 'string'
    ) {
      throw rangeError('handle is not a handle from share()')
    }
    // The layout first: a bad one must not leave this thread attached.
    const event = handle.event === undefined ? undefined : defineEvent(handle.event)
    const native = rangeChecked(() => NativeRing.attach(handle.id, handle.token))
    const info = native.describe()
    return new Disruptor<E>(
      {
        size: info.size,
        slotSize: info.slotSize,
        producer: info.multi ? 'multi' : 'single',
        waitStrategy: strategyOptions(info.wait),
        ...(event === undefined ? {} : { event: event as EventType & EventOf<E> }),
      },
      native,
    )
  }

  /** A structured-cloneable handle for `Disruptor.attach()` in another thread. */
  share(): SharedDisruptor<E> {
    this.checkOpen()
    return {
      kind: 'napi-disruptor',
      id: this.id,
      token: this.token,
      size: this.size,
      slotSize: this.slotSize,
      producer: this.producer,
      waitStrategy: this.waitStrategy,
      ...(this.eventType === null ? {} : { event: this.eventType.schema }),
    }
  }

  /** An ArrayBuffer over the ring's native memory (zero-copy), `size * slotSize` bytes. */
  get buffer(): ArrayBuffer {
    if (this.arrayBuffer === null) this.arrayBuffer = threadBuffer(this.token, this.native)
    return this.arrayBuffer
  }

  /** Byte offset of `seq`'s slot in `buffer`: `(seq % size) * slotSize`. */
  offset(seq: number): number {
    if (seq >>> 0 === seq) return (seq & this.mask) * this.slotSize
    return (sequenceArg('seq', seq) % this.size) * this.slotSize
  }

  /**
   * Claims one slot, calls `fill(event, seq)` to write it, and publishes it even if `fill`
   * throws (the error then propagates). Returns the sequence. `event` is the slot's byte
   * offset, or, on a ring with an event layout, this thread's flyweight on the slot: its
   * fields are the slot's, checked as they are set; those not set keep what the slot held
   * (LMAX's preallocated events). Up to three arguments `a, b, c` are passed on to `fill`
   * (LMAX's translators with arguments): a fill that needs no closure allocates nothing.
   */
  publishEvent<A = undefined, B = undefined, C = undefined>(
    fill: (event: E, seq: number, a: A, b: B, c: C) => void,
    a?: A,
    b?: B,
    c?: C,
  ): number {
    const fly = this.fillFly
    if (fly === null || typeof fill !== 'function') return this.publishEventFirst(fill as Fill<E>, a, b, c)
    const seq = this.nextOne()
    this.fillIn(fly, seq, fill as Fill<E>, a, b, c)
    return seq
  }

  /** `publishEvent` without a flyweight to spare (no layout, the first typed fill, a nested fill) or a fill to call. */
  private publishEventFirst(fill: Fill<E>, a: unknown, b: unknown, c: unknown): number {
    fn('fill', fill)
    const seq = this.nextOne()
    this.fillOne(seq, fill, a, b, c)
    return seq
  }

  /** Like `publishEvent`, but returns -1 at once when the ring is full (nothing claimed, `fill` not called). */
  tryPublishEvent<A = undefined, B = undefined, C = undefined>(
    fill: (event: E, seq: number, a: A, b: B, c: C) => void,
    a?: A,
    b?: B,
    c?: C,
  ): number {
    fn('fill', fill)
    const seq = this.tryNext(1)
    if (seq >= 0) this.fillOne(seq, fill as Fill<E>, a, b, c)
    return seq
  }

  /**
   * Claims `n` slots at once, calls `fill(offset, seq)` for each in order, and publishes them
   * together, even if a fill throws (the slots after it are published unfilled, then the error
   * propagates). Returns the highest sequence.
   */
  publishEvents(n: number, fill: (event: E, seq: number) => void): number {
    fn('fill', fill)
    const hi = this.next(integer('n', n, 1, this.size))
    this.fillAndPublish(hi - n + 1, hi, fill)
    return hi
  }

  /** Like `publishEvents`, but returns -1 at once when there is not room for `n` (nothing claimed). */
  tryPublishEvents(n: number, fill: (event: E, seq: number) => void): number {
    fn('fill', fill)
    const hi = this.tryNext(integer('n', n, 1, this.size))
    if (hi >= 0) this.fillAndPublish(hi - n + 1, hi, fill)
    return hi
  }

  /**
   * Like `publishEvent` without blocking the event loop: waits for room as `nextAsync` does
   * (rejects with an AbortError when `signal` aborts, nothing claimed), then fills and publishes.
   */
  async publishEventAsync(fill: (event: E, seq: number) => void, options?: { signal?: AbortSignal }): Promise<number> {
    fn('fill', fill)
    const seq = await this.nextAsync(1, options)
    this.fillOne(seq, fill)
    return seq
  }

  /**
   * Fills the slot of `seq` (this thread's claim) and publishes it, whatever the fill throws:
   * `fillAndPublish` for one slot, without its loop (a single publishEvent is the common case,
   * and the loop cost about 12 ns of 48 on a typed ring).
   */
  private fillOne(seq: number, fill: Fill<E>, a?: unknown, b?: unknown, c?: unknown): void {
    const fly = this.fillFly
    if (fly === null) this.fillFirst(seq, fill, a, b, c)
    else this.fillIn(fly, seq, fill, a, b, c)
  }

  /**
   * Fills the slot of `seq` through `fly` (this thread's spare flyweight, taken while the fill
   * runs: a fill that publishes on this ring gets one of its own) and publishes it.
   */
  private fillIn(fly: Flyweight, seq: number, fill: Fill<E>, a: unknown, b: unknown, c: unknown): void {
    this.fillFly = null
    ;(this.eventCodec as EventCodec).moveTo(fly, seq & this.mask)
    // Caught and rethrown after one publish, not `finally` (about 4 ns of 19 per publishEvent in
    // TurboFan) nor a publish in the catch too: V8 inlines callees into a caller up to a bytecode
    // budget, and every byte here is one the fill's setters cannot have (README, typed events).
    let failed = false
    let error: unknown
    try {
      fill(fly as E, seq, a, b, c)
    } catch (e) {
      failed = true
      error = e
    }
    this.fillFly = fly
    this.publishOne(seq)
    if (failed) throw error
  }

  /** `fillOne` on a ring without a layout, or without a flyweight to spare (the first typed fill, or one nested in another's). */
  private fillFirst(seq: number, fill: Fill<E>, a?: unknown, b?: unknown, c?: unknown): void {
    if (this.eventType !== null) {
      this.fillFly = this.codec().flyweight()
      this.fillOne(seq, fill, a, b, c)
      return
    }
    try {
      fill(((seq & this.mask) * this.slotSize) as E, seq, a, b, c)
    } finally {
      this.publish(seq, seq)
    }
  }

  /** Fills `[lo, hi]` (this thread's claim) in order and publishes it, whatever a fill throws. */
  private fillAndPublish(lo: number, hi: number, fill: Fill<E>, a?: unknown, b?: unknown, c?: unknown): void {
    if (this.eventType === null) {
      try {
        for (let s = lo; s <= hi; s++) fill(this.offset(s) as E, s, a, b, c)
      } finally {
        this.publish(lo, hi)
      }
      return
    }
    const codec = this.eventCodec ?? this.codec()
    // Taken while the fills run, as in fillOne.
    const fly = this.fillFly ?? codec.flyweight()
    this.fillFly = null
    try {
      for (let s = lo; s <= hi; s++) {
        // `&`, not `%`: exact for any sequence (ToInt32 keeps it modulo 2**32, a multiple of size).
        codec.moveTo(fly, s & this.mask)
        fill(fly as E, s, a, b, c)
      }
    } finally {
      this.fillFly = fly
      this.publish(lo, hi)
    }
  }

  /**
   * Typed events: this thread's flyweight moved to `seq`'s slot (the same object each call: no
   * allocation per event; read it before the next call). Its fields read the slot in place
   * (a fixed array is a typed-array view, a byte field a view valid until the slot is
   * reused). ERR_DISRUPTOR_NO_EVENT_LAYOUT on a ring without a layout.
   */
  event(seq: number): E {
    const codec = this.eventCodec ?? this.codec()
    const fly = (this.readFly ??= codec.flyweight())
    codec.moveTo(fly, seq >>> 0 === seq ? seq & this.mask : sequenceArg('seq', seq) % this.size)
    return fly as E
  }

  /** Typed events: the event at `seq` as a plain object (arrays and bytes copied; allocates). */
  read(seq: number): E {
    return this.codec().read(seq >>> 0 === seq ? seq & this.mask : sequenceArg('seq', seq) % this.size) as E
  }

  /**
   * Typed events: claims a slot, copies `values` in (fields not given are zero or empty) and
   * publishes it; returns the sequence. (Not `emit`, as DESIGN.md has it: a Disruptor is an
   * EventEmitter, whose `emit` delivers its 'error' and 'abandoned' events.) Every field is checked before the claim: a value of
   * the wrong type (ERR_INVALID_ARG_TYPE), out of range or too long (ERR_OUT_OF_RANGE), or an
   * unknown field (ERR_INVALID_ARG_VALUE) throws and nothing is claimed or published.
   */
  emitEvent(values: EventInput<E>): number {
    const codec = this.codec()
    codec.check(values)
    const seq = this.next(1)
    this.writeAndPublish(codec, seq, seq, values)
    return seq
  }

  /** Like `emitEvent`, but returns -1 at once when the ring is full (nothing claimed). */
  tryEmitEvent(values: EventInput<E>): number {
    const codec = this.codec()
    codec.check(values)
    const seq = this.tryNext(1)
    if (seq >= 0) this.writeAndPublish(codec, seq, seq, values)
    return seq
  }

  /** Like `emitEvent` without blocking the event loop (waits for room as `nextAsync` does). */
  async emitEventAsync(values: EventInput<E>, options?: { signal?: AbortSignal }): Promise<number> {
    const codec = this.codec()
    codec.check(values)
    const seq = await this.nextAsync(1, options)
    this.writeAndPublish(codec, seq, seq, values)
    return seq
  }

  /**
   * A Writable stream into the ring: typed events (object mode: each chunk goes through
   * `emitEvent`) or messages (each chunk, a Buffer or a string, through `write`). Back-pressure
   * comes from the ring: a chunk with no room waits for it (`highWaterMark` chunks buffer in
   * the stream meanwhile, then `write()` returns false). A bad chunk errors the stream, with
   * nothing published. Ending the stream leaves the ring open.
   */
  writable(options?: { highWaterMark?: number }): Writable {
    return writableOf(this as unknown as StreamRing, this.eventType !== null, options)
  }

  /**
   * A Readable stream out of the ring, a gating consumer of its own (`batches()`): typed
   * events as plain objects (`read`), or messages as Buffers (copies; object mode keeps one
   * chunk per message, byte mode does not). It reads a batch only when the stream wants more:
   * an unread stream holds the ring, and so its producers. It ends when the ring closes;
   * destroying it removes its consumer.
   */
  readable(options?: { highWaterMark?: number; objectMode?: boolean; name?: string }): Readable {
    return readableOf(this as unknown as StreamRing, this.eventType !== null, options)
  }

  /**
   * Typed events: `emitEvent` for several, in one claim published together; returns the highest
   * sequence. All are checked first: one bad event and none is claimed or published.
   */
  emitEvents(events: readonly EventInput<E>[]): number {
    const codec = this.codec()
    if (!Array.isArray(events)) throw typeError('events must be an array')
    const n = integer('events.length', events.length, 1, this.size)
    for (const e of events) codec.check(e)
    const hi = this.next(n)
    this.writeAndPublish(codec, hi - n + 1, hi, events)
    return hi
  }

  /**
   * Writes checked events into `[lo, hi]` (this thread's claim) and publishes it: `events`, one
   * per slot, or one event (`check` refuses arrays as events, so the two cannot be mistaken).
   */
  private writeAndPublish(
    codec: EventCodec,
    lo: number,
    hi: number,
    events: EventInput<E> | readonly EventInput<E>[],
  ): void {
    try {
      for (let s = lo; s <= hi; s++) {
        const values = Array.isArray(events) ? events[s - lo] : events
        codec.write(s & this.mask, values as Record<string, unknown>)
      }
    } finally {
      this.publish(lo, hi)
    }
  }

  /** This thread's codec of the ring's event layout; ERR_DISRUPTOR_NO_EVENT_LAYOUT without one. */
  private codec(): EventCodec {
    if (this.eventCodec !== null) return this.eventCodec
    if (this.eventType === null) {
      throw coded(
        new Error('this ring has no event layout (new Disruptor({ event }))'),
        'ERR_DISRUPTOR_NO_EVENT_LAYOUT',
      )
    }
    this.eventCodec = new EventCodec(this.eventType, this.buffer, this.slotSize)
    return this.eventCodec
  }

  /** One consumer per handler, each seeing every sequence; callbacks run on this thread. */
  handleEventsWith(...handlers: Handler[]): EventHandlerGroup {
    return this.root.handleEventsWith(...handlers)
  }

  /**
   * Messages: writes `data` (a string, as UTF-8, or bytes) as one message taking as many
   * consecutive slots as it needs, claimed and published at once (blocking while the ring is
   * full, as `next` does); returns the sequence of its first slot. At most `maxMessageBytes`
   * (ERR_OUT_OF_RANGE; a wrong type: ERR_INVALID_ARG_TYPE; nothing is claimed either way).
   */
  write(data: string | ArrayBufferView | ArrayBuffer): number {
    return this.writeMessage(data, true)
  }

  /** Like `write`, but returns -1 at once when there is no room for it (nothing written). */
  tryWrite(data: string | ArrayBufferView | ArrayBuffer): number {
    return this.writeMessage(data, false)
  }

  /** `write` (waiting for room) or `tryWrite` (-1 without it). */
  private writeMessage(data: string | ArrayBufferView | ArrayBuffer, wait: boolean): number {
    const frames = this.frames()
    return frames.send(this, frames.measure(data), 0, wait)
  }

  /** Like `write` without blocking the event loop (waits for room as `nextAsync` does). */
  async writeAsync(data: string | ArrayBufferView | ArrayBuffer, options?: { signal?: AbortSignal }): Promise<number> {
    const frames = this.frames()
    return frames.sendAsync(this, frames.measure(data), 0, options)
  }

  /** The longest message `write` takes, in bytes (half the ring, less a 12-byte header). */
  get maxMessageBytes(): number {
    return this.frames().maxBytes
  }

  /**
   * Messages: one consumer per handler, each called with every message (`view`: its bytes in
   * place, valid until the handler returns or its Promise settles; copy what you keep).
   */
  handleMessagesWith(...handlers: (MessageHandler | MessageHandlerObject)[]): EventHandlerGroup {
    const frames = this.frames()
    return this.root.handleEventsWith(...handlers.map((h) => messageHandler(h, frames)))
  }

  /** @internal For the journal: every message starting in `[lo, hi]`, in place, with its kind word. */
  eachFrame(lo: number, hi: number, visit: FrameVisitor): void {
    this.frames().deliver(lo, hi, visit)
  }

  /** @internal For `readable()`: the messages that start in `[lo, hi]`, in place. */
  eachMessage(lo: number, hi: number, each: (view: Uint8Array) => void): void {
    this.frames().deliver(lo, hi, each)
  }

  /** Messages: a worker pool, each message to exactly one of the handlers. */
  handleMessagesWithWorkerPool(...handlers: (MessageHandler | MessageHandlerObject)[]): EventHandlerGroup {
    const frames = this.frames()
    return this.root.handleEventsWithWorkerPool(...handlers.map((h) => messageHandler(h, frames)))
  }

  /** This thread's message framing; ERR_DISRUPTOR_HAS_EVENT_LAYOUT on a ring of typed events. */
  private frames(): Frames {
    if (this.messageFrames !== null) return this.messageFrames
    if (this.eventType !== null) {
      throw coded(
        new Error('messages need a ring of byte slots (this one has an event layout)'),
        'ERR_DISRUPTOR_HAS_EVENT_LAYOUT',
      )
    }
    this.messageFrames = new Frames(this)
    return this.messageFrames
  }

  /** A worker pool: each sequence goes to exactly one of the handlers. */
  handleEventsWithWorkerPool(...handlers: Handler[]): EventHandlerGroup {
    return this.root.handleEventsWithWorkerPool(...handlers)
  }

  /** Registers what follows after every consumer of `groups` (pipelines and diamonds). */
  after(...groups: EventHandlerGroup[]): StageBuilder {
    return stageAfter(this.consumers, groups)
  }

  /** A poller: a gating consumer driven by `poll()` calls on this thread. */
  poller(options?: PollerOptions): Poller {
    return this.root.poller(options)
  }

  /** An async iterator of batches; the batch last yielded is processed when the next is asked for. */
  batches(options?: PollerOptions): AsyncIterableIterator<Batch> {
    return this.root.batches(options)
  }

  /**
   * Removes the consumer named `name` (a callback consumer, a worker pool, a poller or a
   * `batches()` iterator) from the running ring, whichever thread registered it: that thread
   * lets it finish the batches it has in flight and stops it (`onShutdown` runs; a poller's
   * `poll` then throws ERR_DISRUPTOR_CONSUMER_REMOVED, an iterator ends), and it no longer
   * gates producers. Resolves once it is gone (another thread's removal waits for that
   * thread's event loop). Rejects with ERR_DISRUPTOR_UNKNOWN_CONSUMER (no such name),
   * ERR_DISRUPTOR_AMBIGUOUS_CONSUMER (several: remove them through their groups) or
   * ERR_DISRUPTOR_HAS_DEPENDENTS (consumers after it must be removed first), changing nothing.
   */
  async removeConsumer(name: string): Promise<void> {
    if (typeof name !== 'string') throw typeError('name must be a string')
    return this.consumers.removeByName(name)
  }

  /** Starts this thread's consumers (consumers added later start at once). */
  start(): this {
    this.checkOpen()
    this.consumers.start()
    return this
  }

  /**
   * Resolves once every consumer (on every thread) processed everything published before the
   * call. Rejects with ERR_DISRUPTOR_CONSUMER_HALTED if a consumer halted on an error (its
   * error as `cause` when it ran on this thread), ERR_DISRUPTOR_TIMEOUT after `timeout` ms,
   * ERR_DISRUPTOR_NOT_STARTED if this thread has consumers and `start()` was not called.
   */
  async drain(options?: { timeout?: number }): Promise<void> {
    this.checkOpen()
    const target = this.native.cursor()
    return this.drainUntil(timeoutOption(options), () => target)
  }

  /** Waits until every consumer reached `targetNow()` (asked again each round). */
  private async drainUntil(timeout: number, targetNow: () => number): Promise<void> {
    if (neverStartedOnThread(this.token)) {
      throw coded(new Error("drain() before start(): this thread's consumers never run"), 'ERR_DISRUPTOR_NOT_STARTED')
    }
    const deadline = performance.now() + timeout
    for (let round = 0; ; round++) {
      this.throwIfFailed()
      const target = targetNow()
      try {
        if (this.native.drained(target)) return
      } catch (e) {
        this.throwIfFailed()
        throw e
      }
      if (performance.now() >= deadline) {
        throw coded(
          new Error(`drain to sequence ${target} did not finish within ${timeout} ms${this.behind(target)}`),
          'ERR_DISRUPTOR_TIMEOUT',
        )
      }
      await delay(round < 16 ? 0 : Math.min(5, (round - 15) * 0.5))
    }
  }

  /** A consumer of this thread halted: its error, with its own error as `cause`. */
  private throwIfFailed(): void {
    const f = this.consumers.failure
    if (f !== null) throw haltedError(f.name, f.error)
  }

  /** Which consumers (on any thread) have not reached `target`, for a timeout's message. */
  private behind(target: number): string {
    try {
      const late = this.stats().consumers.filter((c) => c.sequence < target)
      return late.length === 0 ? '' : `; behind: ${late.map((c) => `'${c.name}' at ${c.sequence}`).join(', ')}`
    } catch {
      return ''
    }
  }

  /**
   * Stops intake, drains, then stops: on the thread that created the ring, claims fail at once
   * on every thread (waiting ones too) with ERR_DISRUPTOR_CLOSED, what was claimed before is
   * still taken when published within `CLOSE_GRACE_MS` (1 s), every consumer drains what is
   * published, then native threads end and callbacks are released so the process can exit;
   * waiting pollers get ERR_DISRUPTOR_CLOSED and later calls throw it. On an attached thread it
   * drains what is published and detaches that thread only. Rejects with the drain's error (after closing anyway);
   * `timeout` (ms) bounds the drain. Calling it again returns the first call's promise.
   */
  close(options?: { timeout?: number }): Promise<void> {
    if (this.closing) return this.closing
    const timeout = timeoutOption(options)
    const target = this.closeIntake()
    this.closing = (async () => {
      let error: unknown = null
      if (!this.closed && !this.native.isHalted()) {
        try {
          await this.drainUntil(timeout, target)
        } catch (e) {
          error = e
        }
      }
      this.shutdown(this.attached ? 'detach' : 'halt')
      if (error !== null) throw error
    })()
    return this.closing
  }

  /**
   * `close()`'s first step on the creating thread: claims fail from now on, on every thread,
   * and waiting ones are released, with ERR_DISRUPTOR_CLOSED (intake stops before the drain,
   * or a claim waiting for room could keep the drain from ending). Returns the drain's target:
   * what was claimed before, once published, or after `CLOSE_GRACE_MS` what is published.
   */
  private closeIntake(): () => number {
    if (this.attached || this.closed || this.native.isClosed()) {
      // An attached thread leaves the ring running: it drains what is published now.
      const target = this.native.cursor()
      return () => target
    }
    this.native.closeIntake()
    const granted = this.claimedHere()
    const grace = performance.now() + CLOSE_GRACE_MS
    return () => {
      const cursor = this.native.cursor()
      return cursor >= granted || performance.now() >= grace ? cursor : granted
    }
  }

  /** Stops at once, for every thread, without draining: events not yet consumed stay unconsumed. */
  halt(): void {
    if (this.closed) return
    this.shutdown('halt')
  }

  /** `close()`, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close()
  }

  /** Figures for the ring and every consumer on every thread. */
  stats(): DisruptorStats {
    // This thread's consumers and producer keep their figures in JavaScript: hand them over first.
    this.consumers.reportStats()
    this.reportClaims()
    return this.window.take(performance.now(), this.native.stats())
  }

  private shutdown(how: 'halt' | 'detach'): void {
    this.closed = true
    untrack(this.consumers)
    // First: a consumer's onShutdown that produces must find the ring closed.
    this.stopProducing()
    this.consumers.stop()
    if (how === 'halt') this.native.halt()
    else this.native.detach()
  }

  /** @internal */
  protected flushConsumers(): void {
    flushThread(this.token)
  }

  /** @internal */
  protected deliverSoon(): void {
    this.consumers.deliverSoon()
  }

  private checkOpen(): void {
    if (this.closed || this.native.isClosed()) throw closedError()
  }
}

/** A wait strategy as the binding describes it, in the public shape (parameters it has). */
function strategyOptions(wait: WaitConfig): WaitStrategyOptions {
  const options: Record<string, unknown> = { type: wait.name }
  for (const [key, value] of Object.entries(wait)) if (key !== 'name' && typeof value === 'number') options[key] = value
  return options as WaitStrategyOptions
}
