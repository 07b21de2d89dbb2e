/**
 * Named channels over one ring (the seeds' Go dispatcher): producers emit messages to a
 * channel by name, route functions subscribe to channels on any thread, `join()` waits for
 * every producer and every delivery. One multi-producer message ring carries every channel:
 * a frame's kind word holds its channel's id (message/frames.ts), and each thread with routes
 * runs one consumer that hands each frame to that thread's routes for its channel. README
 * "Named channels" says why one ring and not a ring per channel (benchmark/channels.mjs).
 */

import { setTimeout as delay } from 'node:timers/promises'
import { Disruptor } from '../disruptor'
import { coded, rangeError, typeError } from '../errors'
import type { EventHandlerGroup } from '../graph'
import { Frames, KIND_BITS, Kind, type Measured, type MessageKind } from '../message/frames'
import type { SharedDisruptor, WaitStrategyName, WaitStrategyOptions } from '../types'
import { fn, timeoutOption } from '../validate'
import { ChannelTable, FIGURES, Figure, MAX_CHANNELS } from './table'

/** A route: `view` is the message's bytes in place, valid until it returns (or its Promise settles). */
export type Route = (view: Uint8Array, seq: number, kind: MessageKind, channel: string) => unknown

/** A producer `register` runs: a function, or an object with `start` (and `stop`, called by `close`). */
export type DispatcherProducer =
  | ((dispatcher: Dispatcher, signal: AbortSignal) => unknown)
  | { start(dispatcher: Dispatcher, signal: AbortSignal): unknown; stop?(): void }

/** Options of `new Dispatcher()`. */
export interface DispatcherOptions {
  /** Slots in the ring: a power of two. Default 65,536. */
  size?: number
  /** Bytes per slot (a message takes 12 bytes of header and as many slots as it needs). Default 32. */
  slotSize?: number
  /** Default 'blocking'. */
  waitStrategy?: WaitStrategyName | WaitStrategyOptions
  /** Channels to declare at once (more with `channel()`, from any thread). */
  channels?: readonly string[]
  /**
   * Called with what a route of this thread threw or rejected with (the dispatcher goes on).
   * Without it such an error halts this thread's routing, and `join` rejects.
   */
  onError?: (error: unknown, where: { channel: string; seq: number }) => void
}

/** What `share()` returns: structured-cloneable, for `Dispatcher.attach()` in another thread. */
export interface SharedDispatcher {
  readonly kind: 'napi-disruptor-dispatcher'
  readonly ring: SharedDisruptor
  readonly channels: SharedArrayBuffer
}

/** One channel's figures, from every thread. */
export interface ChannelMetrics {
  /** Events emitted to it. */
  events: number
  /** Deliveries to its routes: an event counts once per thread that had a route for it. */
  delivered: number
  /** Routes that threw or rejected (each delivery once). */
  errors: number
  /** Routes subscribed now, on every thread. */
  subscribers: number
  /** When its first event was emitted (null: none yet). */
  started: Date | null
  /** When its latest delivery was counted (null: none yet). */
  lastDelivered: Date | null
  /** Deliveries per second from its first emit to its latest delivery. */
  eventsPerSecond: number
  /** Nanoseconds per delivery over that span (the seed's "nanos per event"). */
  nsPerEvent: number
}

/** The dispatcher's figures: totals over its channels, and each channel's. */
export interface DispatcherMetrics {
  /** When the first event was emitted on any channel (null: none yet). */
  started: Date | null
  /** When `join()` last resolved or `close()` finished on this thread (null: not yet). */
  stopped: Date | null
  /** Ms from `started` to `stopped` (or now). */
  elapsedMs: number
  totalEvents: number
  processed: number
  errors: number
  /** `processed` per second over `elapsedMs`. */
  eventsPerSecond: number
  /** `elapsedMs` in nanoseconds per processed event. */
  nsPerEvent: number
  channels: Record<string, ChannelMetrics>
}

/** A route subscribed with `route()`. */
export interface Subscription {
  readonly channel: string
  /** Resolves once the route receives what is emitted after it (at once unless a removal was under way). */
  readonly ready: Promise<void>
  /** Stops the route. Resolves once this thread's consumer left the ring, when it was its last route. */
  unsubscribe(): Promise<void>
}

/** Pending figures are added to the shared table after this many events, or 2 ms. */
const FLUSH_EVENTS = 4096
const FLUSH_MS = 2

/** Epoch ms, the same clock on every thread. */
const now = () => performance.timeOrigin + performance.now()

export class Dispatcher {
  private readonly ring: Disruptor
  private readonly frames: Frames
  private readonly table: ChannelTable
  /** This thread's routes by channel id (each list replaced, never changed: a delivery may be iterating it). */
  private routes: (readonly Route[] | undefined)[] = []
  private routeCount = 0
  /** This thread's routing consumer, while it has one; its removal, while under way. */
  private group: EventHandlerGroup | null = null
  private leaving: Promise<void> | null = null
  private rejoin: Promise<void> | null = null
  /** Figures not yet added to the table: a row per channel, and which rows hold any. */
  private readonly pending = new Float64Array(MAX_CHANNELS * FIGURES)
  private readonly touched: number[] = []
  private readonly marked = new Uint8Array(MAX_CHANNELS + 1)
  private unflushed = 0
  private timer: NodeJS.Timeout | null = null
  /** This thread's registered producers, and how they are told to stop. */
  private readonly running = new Set<Promise<void>>()
  private readonly stops = new Set<() => void>()
  private readonly abort = new AbortController()
  private producerError: { error: unknown } | null = null
  private stopped: number | null = null
  private closing: Promise<void> | null = null
  private readonly onError: ((error: unknown, where: { channel: string; seq: number }) => void) | null

  /** A dispatcher with its ring. ERR_INVALID_ARG_TYPE/VALUE for bad options (as `new Disruptor`). */
  constructor(options?: DispatcherOptions)
  /** @internal */
  constructor(options: DispatcherOptions | undefined, attached: { ring: Disruptor; table: ChannelTable })
  constructor(options: DispatcherOptions = {}, attached?: { ring: Disruptor; table: ChannelTable }) {
    if (options === null || typeof options !== 'object') throw typeError('options must be an object')
    this.onError = options.onError === undefined ? null : fn('onError', options.onError)
    if (attached === undefined) {
      const { size = 65536, slotSize = 32, waitStrategy = 'blocking', channels = [] } = options
      if (!Array.isArray(channels)) throw typeError('channels must be an array of names')
      this.table = new ChannelTable()
      for (const name of channels) this.table.declare(name)
      this.ring = new Disruptor({ size, slotSize, producer: 'multi', waitStrategy })
    } else {
      this.ring = attached.ring
      this.table = attached.table
    }
    this.frames = new Frames(this.ring)
    // Started at once: routes subscribed later add consumers that start as they are added.
    this.ring.start()
  }

  /** A dispatcher over the one another thread `share()`d: same ring, same channels. */
  static attach(handle: SharedDispatcher, options?: Pick<DispatcherOptions, 'onError'>): Dispatcher {
    if (handle === null || typeof handle !== 'object' || handle.kind !== 'napi-disruptor-dispatcher') {
      throw rangeError('handle is not a handle from Dispatcher.share()')
    }
    const table = new ChannelTable(handle.channels)
    return new Dispatcher(options, { ring: Disruptor.attach(handle.ring), table })
  }

  /** A structured-cloneable handle for `Dispatcher.attach()` in another thread. */
  share(): SharedDispatcher {
    return { kind: 'napi-disruptor-dispatcher', ring: this.ring.share(), channels: this.table.buffer }
  }

  /**
   * Declares a channel (idempotent; seen by every thread). ERR_INVALID_ARG_TYPE / _VALUE for a
   * name that is not a string of 1 to 64 UTF-8 bytes, ERR_DISRUPTOR_TOO_MANY_CHANNELS past 1,024.
   */
  channel(name: string): this {
    this.table.declare(name)
    return this
  }

  /** The declared channels' names. */
  get channels(): string[] {
    return this.table.all()
  }

  /** The longest message `emit` takes, in bytes. */
  get maxMessageBytes(): number {
    return this.frames.maxBytes
  }

  /**
   * Emits `data` (a string, as UTF-8, or bytes) to `channel`, waiting while the ring is full;
   * returns its sequence. ERR_DISRUPTOR_UNKNOWN_CHANNEL, ERR_INVALID_ARG_TYPE, ERR_OUT_OF_RANGE
   * (longer than `maxMessageBytes`): nothing is emitted.
   */
  emit(channel: string, data: string | ArrayBufferView | ArrayBuffer): number {
    const id = this.table.require(channel)
    const seq = this.frames.send(this.ring, this.frames.measure(data), id << 2, true)
    this.count(id, 1)
    return seq
  }

  /** Like `emit`, but returns -1 at once when the ring has no room (nothing emitted). */
  tryEmit(channel: string, data: string | ArrayBufferView | ArrayBuffer): number {
    const id = this.table.require(channel)
    const seq = this.frames.send(this.ring, this.frames.measure(data), id << 2, false)
    if (seq >= 0) this.count(id, 1)
    return seq
  }

  /** Like `emit` without blocking the event loop while the ring is full. */
  async emitAsync(
    channel: string,
    data: string | ArrayBufferView | ArrayBuffer,
    options?: { signal?: AbortSignal },
  ): Promise<number> {
    const id = this.table.require(channel)
    const seq = await this.frames.sendAsync(this.ring, this.frames.measure(data), id << 2, options)
    this.count(id, 1)
    return seq
  }

  /**
   * Emits every item of `items` to `channel` in order, claimed and published together (in
   * claims of at most half the ring each); returns the first sequence of the last claim. Every
   * item is checked first: on a bad one nothing is emitted.
   */
  batch(channel: string, items: readonly (string | ArrayBufferView | ArrayBuffer)[]): number {
    const [id, measured, tags] = this.measureAll(channel, items)
    if (measured.length === 0) return -1
    const seq = this.frames.sendAll(this.ring, measured, tags, true)
    this.count(id, measured.length)
    return seq
  }

  /** Like `batch` without blocking the event loop while the ring is full. */
  async batchAsync(
    channel: string,
    items: readonly (string | ArrayBufferView | ArrayBuffer)[],
    options?: { signal?: AbortSignal },
  ): Promise<number> {
    const [id, measured, tags] = this.measureAll(channel, items)
    if (measured.length === 0) return -1
    const seq = await this.frames.sendAllAsync(this.ring, measured, tags, options)
    this.count(id, measured.length)
    return seq
  }

  /** A batch's channel id, its items measured (all checked before any is sent) and their tags. */
  private measureAll(channel: string, items: readonly unknown[]): [number, Measured[], number[]] {
    const id = this.table.require(channel)
    if (!Array.isArray(items)) throw typeError('items must be an array')
    const measured: Measured[] = new Array(items.length)
    for (let i = 0; i < items.length; i++) measured[i] = this.frames.measure(items[i])
    return [id, measured, new Array(items.length).fill(id << 2)]
  }

  /**
   * Calls `handler(view, seq, kind, channel)` on this thread for every message emitted to
   * `channel` from now on. What a route throws (or rejects with) goes to the `onError`
   * option, or without one halts this thread's routing (`join` rejects).
   * A Promise holds the messages after it. Do not await `unsubscribe()` inside a route.
   */
  route(channel: string, handler: Route): Subscription {
    this.checkOpen()
    const id = this.table.require(channel)
    fn('handler', handler)
    this.routes[id] = [...(this.routes[id] ?? []), handler]
    this.routeCount++
    this.table.subscribers(id, 1)
    const ready = this.ensureConsumer()
    let gone: Promise<void> | null = null
    return {
      channel,
      ready,
      unsubscribe: () => {
        gone ??= this.unroute(id, handler)
        return gone
      },
    }
  }

  /**
   * Runs `producer` (from a microtask, so `register` returns first): a function called with
   * this dispatcher and an AbortSignal that `close()` aborts, or an object whose `start` is
   * called so and whose `stop` `close()` calls. `join()` waits for it, on any thread.
   */
  register(producer: DispatcherProducer): this {
    this.checkOpen()
    const start = typeof producer === 'function' ? producer : producer?.start
    if (typeof start !== 'function') throw typeError('a producer must be a function or an object with start()')
    const stop = typeof producer === 'object' ? producer.stop : undefined
    if (stop !== undefined) fn('stop', stop)
    this.table.producers(1)
    const signal = this.abort.signal
    const stopper = () => stop?.call(producer)
    this.stops.add(stopper)
    const run: Promise<void> = (async () => {
      await null
      await start.call(producer, this, signal)
    })().then(
      () => this.producerDone(run, stopper),
      (error) => {
        this.producerError ??= { error }
        this.producerDone(run, stopper)
      },
    )
    this.running.add(run)
    return this
  }

  private producerDone(run: Promise<void>, stopper: () => void): void {
    this.running.delete(run)
    this.stops.delete(stopper)
    this.table.producers(-1)
    this.flush()
  }

  /**
   * Resolves once every registered producer (on every thread) finished and every message
   * emitted by then reached every route (on every thread). Rejects with the first error a
   * producer of this thread threw, ERR_DISRUPTOR_CONSUMER_HALTED when a route halted its
   * thread's routing, ERR_DISRUPTOR_TIMEOUT after `timeout` ms.
   */
  async join(options?: { timeout?: number }): Promise<void> {
    const timeout = timeoutOption(options)
    const deadline = performance.now() + timeout
    const left = () => Math.max(0, deadline - performance.now())
    const late = () => coded(new Error(`producers did not finish within ${timeout} ms`), 'ERR_DISRUPTOR_TIMEOUT')
    // This thread's producers (their promises never reject: errors are kept for the end).
    while (this.running.size > 0) {
      if (timeout === Infinity) await Promise.race(this.running)
      else if (left() === 0) throw late()
      else await Promise.race([...this.running, delay(Math.min(left(), 2 ** 31 - 1), undefined, { ref: false })])
    }
    // Other threads' producers.
    for (let round = 0; this.table.producers() > 0; round++) {
      if (left() === 0) throw late()
      await delay(round < 16 ? 0 : 1)
    }
    this.flush()
    await this.ring.drain(timeout === Infinity ? undefined : { timeout: left() })
    this.flush()
    this.stopped = now()
    if (this.producerError !== null) {
      const { error } = this.producerError
      this.producerError = null
      throw error
    }
  }

  /** The figures of every channel, from every thread (another thread's are at most 2 ms or 4,096 events behind). */
  metrics(): DispatcherMetrics {
    this.flush()
    const channels: Record<string, ChannelMetrics> = {}
    let totalEvents = 0
    let processed = 0
    let errors = 0
    let started = 0
    const names = this.table.all()
    for (let i = 0; i < names.length; i++) {
      const f = this.table.figures(i + 1)
      const first = f[Figure.FirstEmitted]
      const last = f[Figure.LastDelivered]
      const span = first !== 0 && last > first ? last - first : 0
      const delivered = f[Figure.Delivered]
      channels[names[i]] = {
        events: f[Figure.Emitted],
        delivered,
        errors: f[Figure.Errors],
        subscribers: this.table.subscribers(i + 1),
        started: first === 0 ? null : new Date(first),
        lastDelivered: last === 0 ? null : new Date(last),
        eventsPerSecond: span > 0 ? (delivered * 1000) / span : 0,
        nsPerEvent: delivered > 0 ? (span * 1e6) / delivered : 0,
      }
      totalEvents += f[Figure.Emitted]
      processed += delivered
      errors += f[Figure.Errors]
      if (first !== 0 && (started === 0 || first < started)) started = first
    }
    const elapsedMs = started === 0 ? 0 : Math.max(0, (this.stopped ?? now()) - started)
    return {
      started: started === 0 ? null : new Date(started),
      stopped: this.stopped === null ? null : new Date(this.stopped),
      elapsedMs,
      totalEvents,
      processed,
      errors,
      eventsPerSecond: elapsedMs > 0 ? (processed * 1000) / elapsedMs : 0,
      nsPerEvent: processed > 0 ? (elapsedMs * 1e6) / processed : 0,
      channels,
    }
  }

  /**
   * Stops this thread's producers (aborts their signal, calls `stop()`), waits for them, then
   * closes the ring as `Disruptor.close()` does: on the thread that created the dispatcher it
   * drains and stops every thread's routing; on an attached one it detaches that thread.
   */
  close(options?: { timeout?: number }): Promise<void> {
    if (this.closing !== null) return this.closing
    const timeout = timeoutOption(options)
    this.abort.abort()
    for (const stop of this.stops) stop()
    this.closing = (async () => {
      const all = Promise.allSettled([...this.running])
      await (timeout === Infinity
        ? all
        : Promise.race([all, delay(Math.min(timeout, 2 ** 31 - 1), undefined, { ref: false })]))
      this.flush()
      try {
        await this.ring.close(timeout === Infinity ? undefined : { timeout })
      } finally {
        if (this.timer !== null) clearTimeout(this.timer)
        this.timer = null
        this.stopped ??= now()
      }
    })()
    return this.closing
  }

  /** `close()`, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close()
  }

  /** Delivers one frame to this thread's routes for its channel. */
  private readonly visit = (view: Uint8Array, seq: number, word: number): unknown => {
    const id = word >>> 2
    const routes = this.routes[id]
    if (routes === undefined || routes.length === 0) return undefined
    this.count(id, 1, Figure.Delivered)
    const kind: MessageKind = (word & KIND_BITS) === Kind.Text ? 'text' : 'bytes'
    const channel = this.table.nameOf(id)
    if (routes.length === 1) return this.call(routes[0], view, seq, kind, channel, id)
    let waits: unknown[] | null = null
    for (const r of routes) {
      const result = this.call(r, view, seq, kind, channel, id)
      if (result !== undefined) (waits ??= []).push(result)
    }
    return waits === null ? undefined : Promise.all(waits)
  }

  /** Calls one route; what it threw or rejected with goes to `failed`. */
  private call(r: Route, view: Uint8Array, seq: number, kind: MessageKind, channel: string, id: number): unknown {
    let result: unknown
    try {
      result = r(view, seq, kind, channel)
    } catch (e) {
      return this.failed(e, channel, seq, id)
    }
    if (result !== null && typeof (result as PromiseLike<unknown>)?.then === 'function') {
      return Promise.resolve(result).then(undefined, (e) => this.failed(e, channel, seq, id))
    }
    return undefined
  }

  /** A route failed: to `onError`, or without it the error halts this thread's routing. */
  private failed(error: unknown, channel: string, seq: number, id: number): undefined {
    this.count(id, 1, Figure.Errors)
    if (this.onError === null) throw error
    this.onError(error, { channel, seq })
    return undefined
  }

  /** Adds `n` to channel `id`'s pending figure (emitted by default); flushes every 4,096 or 2 ms. */
  private count(id: number, n: number, figure: Figure = Figure.Emitted): void {
    const at = (id - 1) * FIGURES
    if (this.marked[id] === 0) {
      this.marked[id] = 1
      this.touched.push(id)
    }
    if (figure === Figure.Emitted && this.pending[at + Figure.FirstEmitted] === 0) {
      this.pending[at + Figure.FirstEmitted] = now()
    }
    this.pending[at + figure] += n
    this.unflushed += n
    if (this.unflushed >= FLUSH_EVENTS) this.flush()
    else if (this.timer === null) {
      this.timer = setTimeout(() => {
        this.timer = null
        this.flush()
      }, FLUSH_MS)
      this.timer.unref()
    }
  }

  /** Adds this thread's pending figures to the shared table. */
  private flush(): void {
    if (this.touched.length === 0) return
    const t = now()
    for (const id of this.touched) {
      const at = (id - 1) * FIGURES
      if (this.pending[at + Figure.Delivered] !== 0) this.pending[at + Figure.LastDelivered] = t
    }
    this.table.add(this.touched, this.pending)
    for (const id of this.touched) {
      this.marked[id] = 0
      this.pending.fill(0, (id - 1) * FIGURES, id * FIGURES)
    }
    this.touched.length = 0
    this.unflushed = 0
  }

  /** This thread's routing consumer exists (or will once a removal under way ended). */
  private ensureConsumer(): Promise<void> {
    if (this.leaving !== null) {
      this.rejoin ??= this.leaving.then(() => {
        this.rejoin = null
        if (this.routeCount > 0 && this.group === null && this.closing === null) this.addConsumer()
      })
      return this.rejoin
    }
    if (this.group === null) this.addConsumer()
    return Promise.resolve()
  }

  private addConsumer(): void {
    this.group = this.ring.handleEventsWith({
      name: 'dispatcher',
      onBatch: (lo, hi) => this.frames.deliver(lo, hi, this.visit),
    })
  }

  private unroute(id: number, handler: Route): Promise<void> {
    this.routes[id] = (this.routes[id] ?? []).filter((r) => r !== handler)
    this.routeCount--
    this.table.subscribers(id, -1)
    if (this.routeCount > 0 || this.group === null || this.leaving !== null || this.closing !== null) {
      return this.leaving ?? Promise.resolve()
    }
    const group = this.group
    this.leaving = group.remove().finally(() => {
      this.group = null
      this.leaving = null
    })
    return this.leaving
  }

  private checkOpen(): void {
    if (this.closing !== null) throw coded(new Error('the dispatcher is closed'), 'ERR_DISRUPTOR_CLOSED')
  }
}
