/**
 * The dependency graph DSL (LMAX's EventHandlerGroup): groups of consumers and the stages after
 * them, for pipelines and diamonds. Consumers are registered by the graph's host (Consumers).
 */

import type { Poller } from './consumer/poller'
import { rangeError, typeError } from './errors'
import type { Batch, Handler, PollerOptions } from './types'

/** What the graph registers consumers with. */
export interface GraphHost {
  /** One callback consumer per handler after the consumers `after`; their ids. */
  handlers(handlers: Handler[], after: readonly number[]): number[]
  /** A worker pool after the consumers `after`; its id. */
  pool(handlers: Handler[], after: readonly number[]): number
  poller(options: PollerOptions | undefined, after: readonly number[]): Poller
  batches(options: PollerOptions | undefined, after: readonly number[]): AsyncIterableIterator<Batch>
  /** Throws ERR_DISRUPTOR_CLOSED once the ring (or this thread's part of it) is closed. */
  checkOpen(): void
  /** Removes the consumers `ids` from the running ring (see `Consumers.retire`). */
  retire(ids: readonly number[]): Promise<void>
}

/** A group's consumers and the host they belong to; a symbol keeps it out of the public type. */
const kStage = Symbol('napi-disruptor.stage')

interface Stage {
  readonly host: GraphHost
  readonly ids: readonly number[]
}

/** A group of consumers, to make later consumers depend on (`andThen`, `after`). */
export class EventHandlerGroup {
  /** @internal */
  readonly [kStage]: Stage

  /** @internal */
  constructor(host: GraphHost, ids: readonly number[]) {
    this[kStage] = { host, ids }
  }

  /** Consumers that see a sequence only after every consumer of this group finished it. */
  andThen(...handlers: Handler[]): EventHandlerGroup {
    const { host, ids } = this[kStage]
    return new EventHandlerGroup(host, host.handlers(handlers, ids))
  }

  /** A worker pool after this group: each sequence to exactly one of the handlers. */
  andThenWorkerPool(...handlers: Handler[]): EventHandlerGroup {
    const { host, ids } = this[kStage]
    return new EventHandlerGroup(host, [host.pool(handlers, ids)])
  }

  /**
   * Removes this group's consumers from the running ring: each finishes the batches it has in
   * flight, stops (`onShutdown` runs) and no longer gates producers; the ring and the other
   * consumers go on. Rejects with ERR_DISRUPTOR_HAS_DEPENDENTS, changing nothing, while a
   * consumer outside the group depends on it (remove that first), and with
   * ERR_DISRUPTOR_CLOSED once the ring is closed. Removing it again does nothing. Not to be
   * awaited inside one of its own async handlers: the removal waits for that handler's batch.
   */
  remove(): Promise<void> {
    const { host, ids } = this[kStage]
    return host.retire(ids)
  }

  /** This group and `others` as one group (the join of a diamond). */
  and(...others: EventHandlerGroup[]): EventHandlerGroup {
    const { host, ids } = this[kStage]
    return new EventHandlerGroup(host, union(host, ids, others))
  }
}

/** Registers consumers after a set of groups; returned by `Disruptor.after()`. */
export class StageBuilder {
  /** @internal */
  constructor(
    private readonly host: GraphHost,
    private readonly ids: readonly number[],
  ) {}

  /** Consumers after the stage (one per handler, each seeing every sequence). */
  handleEventsWith(...handlers: Handler[]): EventHandlerGroup {
    return new EventHandlerGroup(this.host, this.host.handlers(handlers, this.ids))
  }

  /** A worker pool after the stage. */
  handleEventsWithWorkerPool(...handlers: Handler[]): EventHandlerGroup {
    return new EventHandlerGroup(this.host, [this.host.pool(handlers, this.ids)])
  }

  /** A poller after the stage. */
  poller(options?: PollerOptions): Poller {
    return this.host.poller(options, this.ids)
  }

  /** An async iterator of batches after the stage. */
  batches(options?: PollerOptions): AsyncIterableIterator<Batch> {
    return this.host.batches(options, this.ids)
  }
}

/** The stage after every consumer of `groups` (`Disruptor.after`). */
export function stageAfter(host: GraphHost, groups: EventHandlerGroup[]): StageBuilder {
  host.checkOpen()
  if (groups.length === 0) throw rangeError('after() needs at least one group')
  return new StageBuilder(host, union(host, [], groups))
}

/** The consumer ids of `ids` and of every group, each group checked to belong to `host`. */
function union(host: GraphHost, ids: readonly number[], groups: EventHandlerGroup[]): number[] {
  const all = new Set(ids)
  for (const g of groups) {
    if (!(g instanceof EventHandlerGroup)) throw typeError('expected an EventHandlerGroup')
    // A group made without the constructor has no stage: it belongs to no Disruptor either.
    const stage = g[kStage] as Stage | undefined
    if (stage?.host !== host) throw rangeError('the group belongs to another Disruptor')
    for (const id of stage.ids) all.add(id)
  }
  return [...all]
}
