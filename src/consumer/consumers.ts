/**
 * This thread's consumers of one ring: it registers them with the engine (each with its gate),
 * starts and stops them, and is the host they report to (host.ts) instead of the Disruptor.
 */

import type { EventEmitter } from 'node:events'

import { closedError, coded, rangeError } from '../errors'
import type { NativeRing } from '../native'
import type { OpenRing } from '../thread'
import { threadViews } from '../thread'
import type { Batch, Handler, PollerOptions } from '../types'
import { pollerOptions } from '../validate'
import { BatchIterator } from './batches'
import { Gate } from './gate'
import { toWorker, type Worker } from './handler'
import type { ConsumerHost, Stoppable } from './host'
import { Poller } from './poller'
import { ConsumerRunner } from './runner'

/** The ring as its consumers on this thread need it. */
export interface ConsumerRing {
  readonly native: NativeRing
  readonly token: string
  /** The ring's id, in default consumer names. */
  readonly id: number
  readonly size: number
  readonly multi: boolean
  /** Where 'error' events go (the Disruptor). */
  readonly events: EventEmitter
  /** This thread's producing side of the ring (the Disruptor's Sequencer). */
  readonly producer: ProducerState
}

/** What consumers share with this thread's producing side of the ring. */
export interface ProducerState {
  /** Consumers of this thread waiting for their waker: a publish here delivers to them too. */
  waiting: number
  /** Whether this thread produces on the ring (then its callback consumers do not poll on). */
  readonly producing: boolean
}

export class Consumers implements ConsumerHost, OpenRing {
  readonly token: string
  readonly size: number
  /** A consumer of this thread that halted on an error: the first one. */
  failure: { name: string; error: unknown } | null = null
  private started = false
  private closed = false
  private readonly native: NativeRing
  private readonly runners: ConsumerRunner[] = []
  /** The shared-memory gate of each consumer of this thread, by consumer id. */
  private readonly gates = new Map<number, Gate>()
  private readonly stoppables = new Set<Stoppable>()
  private deliveryScheduled = false
  private count = 0

  constructor(private readonly ring: ConsumerRing) {
    this.native = ring.native
    this.token = ring.token
    this.size = ring.size
  }

  /** Whether `drain()` would wait forever: this thread has callback consumers and never started them. */
  get neverStarted(): boolean {
    return !this.started && this.runners.length > 0
  }

  checkOpen(): void {
    if (this.closed || this.native.isClosed()) throw closedError()
  }

  /** One callback consumer per handler after the consumers `after`; their ids. */
  handlers(handlers: Handler[], after: readonly number[]): number[] {
    this.checkOpen()
    if (handlers.length === 0) throw rangeError('at least one handler is needed')
    const workers = handlers.map((h, i) => toWorker(h, `handler ${i}`))
    return workers.map((w) => this.addRunner([w], w.name, after))
  }

  /** A worker pool (one sequence shared by the handlers) after the consumers `after`; its id. */
  pool(handlers: Handler[], after: readonly number[]): number {
    this.checkOpen()
    if (handlers.length === 0) throw rangeError('a worker pool needs at least one handler')
    const workers = handlers.map((h, i) => toWorker(h, `handler ${i}`))
    return this.addRunner(workers, workers[0].name && `${workers[0].name}-pool`, after)
  }

  poller(options: PollerOptions | undefined, after: readonly number[]): Poller {
    return this.pulled(options, after, 'poller', (cid, max, gate) => new Poller(this, this.native, cid, max, gate))
  }

  batches(options: PollerOptions | undefined, after: readonly number[]): AsyncIterableIterator<Batch> {
    return this.pulled(
      options,
      after,
      'batches',
      (cid, max, gate) => new BatchIterator(this, this.native, cid, max, gate),
    )
  }

  /** A consumer that the caller drives (a poller, an iterator): stopped with the ring. */
  private pulled<T extends Stoppable>(
    options: PollerOptions | undefined,
    after: readonly number[],
    kind: 'poller' | 'batches',
    make: (cid: number, maxBatchSize: number, gate: Gate) => T,
  ): T {
    this.checkOpen()
    const o = pollerOptions(options, kind)
    const { cid, gate } = this.addConsumer(this.name(o.name, kind), after)
    const consumer = make(cid, o.maxBatchSize, gate)
    this.stoppables.add(consumer)
    return consumer
  }

  /** Starts the callback consumers (those added later start at once); once only. */
  start(): void {
    if (this.started) throw coded(new Error('start() was already called'), 'ERR_DISRUPTOR_ALREADY_STARTED')
    this.started = true
    for (const r of this.runners) r.start()
  }

  /** Stores the progress this thread's consumers finished and deferred. */
  flush(): void {
    for (const g of this.gates.values()) g.flush()
  }

  /** Hands the figures this thread's consumers keep in JavaScript to the engine (for `stats()`). */
  reportStats(): void {
    for (const g of this.gates.values()) g.report()
  }

  /** Delivers events waiting for this thread's consumers; true if any were. */
  deliverPending(): boolean {
    let delivered = false
    for (const r of this.runners) delivered = r.kick() || delivered
    for (const s of this.stoppables) delivered = (s.kick?.() ?? false) || delivered
    return delivered
  }

  /**
   * A consumer of this thread waits for what was just published here: deliver it from the
   * event loop directly. (Its waker's call would get there too, but does not keep the loop
   * alive: a script that publishes and ends would exit before its consumers saw the event.)
   */
  deliverSoon(): void {
    if (this.deliveryScheduled) return
    this.deliveryScheduled = true
    setImmediate(() => {
      this.deliveryScheduled = false
      this.deliverPending()
    })
  }

  /** Stops every consumer of this thread (the ring closes, or this thread leaves it). */
  stop(): void {
    this.closed = true
    for (const r of this.runners) r.stop()
    for (const s of this.stoppables) s.stop('closed')
    this.stoppables.clear()
  }

  countWaiting(delta: 1 | -1): void {
    this.ring.producer.waiting += delta
  }

  mayPollOn(): boolean {
    return !this.ring.producer.producing && this.stoppables.size === 0
  }

  failed(name: string, error: unknown): void {
    if (this.failure === null) this.failure = { name, error }
    this.report(name, error)
  }

  report(name: string, error: unknown): void {
    const events = this.ring.events
    if (events.listenerCount('error') > 0) events.emit('error', error, name)
  }

  remove(consumer: Stoppable, cid: number): void {
    this.stoppables.delete(consumer)
    this.gates.delete(cid)
    if (this.closed) return
    try {
      this.native.removeConsumer(cid)
    } catch {
      // already gone with the ring
    }
  }

  private name(name: string | undefined, kind: string): string {
    const n = this.count++
    return name ?? `${kind}-${this.ring.id}-${n}`
  }

  /** A consumer of this thread after the consumers `after`, with its gate. */
  private addConsumer(name: string, after: readonly number[]): { cid: number; gate: Gate } {
    const views = threadViews(this.token, this.native, this.ring.multi)
    const deps = after.map((id) => (this.gates.get(id) as Gate).view)
    const cid = this.native.addConsumer(name, [...after])
    let gate: Gate
    try {
      gate = new Gate(this.native, cid, views, this.size, deps)
    } catch (e) {
      // Its view could not be made: it must not stay behind, gating producers.
      this.native.removeConsumer(cid)
      throw e
    }
    this.gates.set(cid, gate)
    return { cid, gate }
  }

  private addRunner(workers: Worker[], name: string | undefined, after: readonly number[]): number {
    const n = this.name(name, 'consumer')
    const { cid, gate } = this.addConsumer(n, after)
    const runner = new ConsumerRunner(this, this.native, cid, n, workers, gate, after.length > 0)
    this.runners.push(runner)
    if (this.started) runner.start()
    return cid
  }
}
