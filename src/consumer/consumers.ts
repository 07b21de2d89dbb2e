/**
 * This thread's consumers of one ring: it registers them with the engine (each with its gate),
 * starts and stops them, and is the host they report to (host.ts) instead of the Disruptor.
 */

import type { EventEmitter } from 'node:events'

import { closedError, coded, dependentsError, message, rangeError } from '../errors'
import type { NativeRing } from '../native'
import type { OpenRing } from '../thread'
import { threadViews } from '../thread'
import type { Batch, DisruptorError, Handler, PollerOptions } from '../types'
import { pollerOptions } from '../validate'
import { BatchIterator } from './batches'
import { Gate } from './gate'
import { toWorker, type Worker } from './handler'
import type { ConsumerHost, Retirable, Stoppable } from './host'
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
  failure: { name: string; error: unknown; cid: number } | null = null
  private started = false
  private closed = false
  private readonly native: NativeRing
  private readonly runners: ConsumerRunner[] = []
  /** The shared-memory gate of each consumer of this thread, by consumer id. */
  private readonly gates = new Map<number, Gate>()
  private readonly stoppables = new Set<Stoppable>()
  /** Every consumer of this thread by id, with its name (for removal). */
  private readonly byId = new Map<number, { name: string; consumer: Retirable }>()
  /** Removals under way, by consumer id: none may come to depend on those consumers meanwhile. */
  private readonly removals = new Map<number, Promise<void>>()
  private deliveryScheduled = false
  private count = 0

  constructor(private readonly ring: ConsumerRing) {
    this.native = ring.native
    this.token = ring.token
    this.size = ring.size
    this.native.onRemoveRequest((cid) => this.removeRequested(cid))
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
  private pulled<T extends Retirable>(
    options: PollerOptions | undefined,
    after: readonly number[],
    kind: 'poller' | 'batches',
    make: (cid: number, maxBatchSize: number, gate: Gate) => T,
  ): T {
    this.checkOpen()
    const o = pollerOptions(options, kind)
    const name = this.name(o.name, kind)
    const { cid, gate } = this.addConsumer(name, after)
    const consumer = make(cid, o.maxBatchSize, gate)
    this.stoppables.add(consumer)
    this.byId.set(cid, { name, consumer })
    return consumer
  }

  /**
   * Removes this thread's consumers `ids` (a group) from the running ring, newest first: each
   * takes no new batch, lets what it has in flight settle and stops (`onShutdown`), then stops
   * gating producers; the ring and every other consumer go on. Refused with
   * ERR_DISRUPTOR_HAS_DEPENDENTS, before anything changes, while a consumer outside `ids`
   * depends on one of them (LMAX's rule). Ids already removed are skipped.
   */
  async retire(ids: readonly number[]): Promise<void> {
    this.checkOpen()
    const mine = ids.filter((id) => this.byId.has(id))
    // By id: names may repeat (two handlers of one function).
    const inGroup = new Set(mine)
    for (const id of mine) {
      const outside = this.native.dependentsOf(id).filter((d) => !inGroup.has(d))
      if (outside.length > 0) {
        const nameOf = (d: number) => this.byId.get(d)?.name ?? String(d)
        throw dependentsError(nameOf(id), outside.map(nameOf))
      }
    }
    // Newest first (a consumer depends only on older ones), each after the one before.
    let previous: Promise<void> = Promise.resolve()
    for (const id of [...mine].sort((a, b) => b - a)) previous = this.retireOne(id, previous)
    await previous
  }

  /**
   * Removes the consumer named `name`, of any thread: this thread's at once (`retire`),
   * another's by asking it (it removes its consumer on its event loop); resolves once it is
   * gone.
   */
  async removeByName(name: string): Promise<void> {
    this.checkOpen()
    const ticket = this.native.requestRemove(name)
    if (ticket.localId != null) return this.retire([ticket.localId])
    for (let pause = 1; ; pause = Math.min(pause * 2, 16)) {
      const state = this.native.removalState(ticket.serial)
      if (state.removed) return
      if (state.code != null) throw coded(new Error(state.message ?? 'removal refused'), state.code)
      await new Promise((resolve) => setTimeout(resolve, pause))
    }
  }

  /** Another thread asked (by name) to remove consumer `cid` of this thread. */
  private removeRequested(cid: number): void {
    this.retire([cid]).catch((e: unknown) => {
      try {
        this.native.refuseRemoval(cid, (e as DisruptorError).code ?? 'ERR_DISRUPTOR_NATIVE', message(e))
      } catch {
        // the ring is gone: so is the request
      }
    })
  }

  /**
   * Consumer `id`'s removal, once `after` is done; a second call (another group, another
   * thread) shares the first. While it is under way no consumer may come to depend on it.
   */
  private retireOne(id: number, after: Promise<void>): Promise<void> {
    let removal = this.removals.get(id)
    if (removal === undefined) {
      removal = after.then(() => this.removeNow(id)).finally(() => this.removals.delete(id))
      this.removals.set(id, removal)
    }
    return removal
  }

  private async removeNow(id: number): Promise<void> {
    const entry = this.byId.get(id)
    if (entry === undefined) return
    const { consumer } = entry
    // Each waits until nothing of the consumer's reads slots any more: a runner for its batches
    // in flight, an iterator for the batch its loop body holds (a poller holds none).
    await consumer.retire()
    if (this.byId.get(id) !== entry) return // removed meanwhile (the ring closed, say)
    this.drop(id, consumer)
  }

  /** Forgets consumer `id` of this thread, then removes it from the engine: it stops gating. */
  private drop(id: number, consumer: Stoppable): void {
    this.byId.delete(id)
    if (consumer instanceof ConsumerRunner) this.runners.splice(this.runners.indexOf(consumer), 1)
    else this.stoppables.delete(consumer)
    this.gates.delete(id)
    // A consumer that halted on an error and is removed no longer fails drain() and close().
    if (this.failure?.cid === id) this.failure = null
    if (!this.closed) this.native.removeConsumer(id)
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

  failed(name: string, error: unknown, cid: number): void {
    if (this.failure === null) this.failure = { name, error, cid }
    this.report(name, error)
  }

  report(name: string, error: unknown): void {
    const events = this.ring.events
    if (events.listenerCount('error') > 0) events.emit('error', error, name)
  }

  remove(consumer: Stoppable, cid: number): void {
    try {
      this.drop(cid, consumer)
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
    const leaving = after.find((id) => this.removals.has(id))
    if (leaving !== undefined) {
      const name = this.byId.get(leaving)?.name
      throw coded(new Error(`consumer '${name}' is being removed`), 'ERR_DISRUPTOR_CONSUMER_REMOVED')
    }
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
    this.byId.set(cid, { name: n, consumer: runner })
    if (this.started) runner.start()
    return cid
  }
}
