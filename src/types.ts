/**
 * The public types of napi-disruptor: options, handlers, results and statistics. Types only: no
 * code runs from this file.
 */

import type { EventOf, EventSchema, EventType } from './event/layout'

/** How consumers (and producers on a full ring) wait. See README "Choosing a wait strategy". */
export type WaitStrategyName =
  | 'blocking'
  | 'sleeping'
  | 'yielding'
  | 'busy-spin'
  | 'phased-backoff'
  | 'timeout-blocking'

/**
 * A wait strategy with its parameters (a name alone takes the defaults shown). See README
 * "Choosing a wait strategy".
 */
export type WaitStrategyOptions =
  | { type: 'blocking' | 'yielding' | 'busy-spin' }
  /** Spins `spinTries` times (100), yields `yieldTries` times (100), then sleeps `sleepMicros` µs (100) at a time. */
  | { type: 'sleeping'; spinTries?: number; yieldTries?: number; sleepMicros?: number }
  /** Spins for `spinMicros` µs (1), yields for `yieldMicros` µs (100), then blocks. */
  | { type: 'phased-backoff'; spinMicros?: number; yieldMicros?: number }
  /** Blocks, and times out every `timeoutMs` ms (1000; at least 1): handlers' `onTimeout` is called. */
  | { type: 'timeout-blocking'; timeoutMs?: number }

/**
 * Options of `new Disruptor(options)`. `E` is what a slot is to `publishEvent`'s fill: its
 * byte offset, or, with an `event` layout, the event's fields (a flyweight).
 */
export interface DisruptorOptions<E = number> {
  /** Slots in the ring: a power of two, 2 .. 2**30. */
  size: number
  /**
   * Bytes per slot: a multiple of 8, 8 .. 65536. `size * slotSize` at most
   * buffer.constants.MAX_LENGTH. Default with `event`: the layout's size (at least that).
   */
  slotSize?: number
  /** A typed event layout (`defineEvent`): slots hold such events. */
  event?: EventType & EventOf<E>
  /** 'single' (one producing thread) or 'multi' (any number, any thread). Default 'multi'. */
  producer?: 'single' | 'multi'
  /** Default 'blocking' (an idle ring uses no CPU); a name, or a strategy with its parameters. */
  waitStrategy?: WaitStrategyName | WaitStrategyOptions
}

/**
 * A batch consumer: called with the inclusive range `[lo, hi]` of sequences to read. Returning
 * a Promise holds those sequences (and so the producers, once the ring is full) until it
 * settles.
 */
export type BatchHandler = (lo: number, hi: number) => unknown

/**
 * What a handler's `onError` decides: halt the handler, skip the batch and go on, or rewind:
 * hand it the same batch again (after `rewindDelayMs`, at most `maxRewinds` times in a row,
 * then it halts), for a failure that may pass (a full disk, a dropped connection).
 */
export type ErrorDecision = 'halt' | 'skip' | 'rewind'

/** A handler with options. */
export interface HandlerObject {
  /** Called once per batch, on the thread that registered the handler. */
  onBatch: BatchHandler
  /** Name in `stats()` and errors. Default: the function's name, else `consumer-<n>`. */
  name?: string
  /** Largest batch passed to one call (default: everything available). */
  maxBatchSize?: number
  /** Called once when the handler starts (at `start()`, or when added to a started ring). */
  onStart?: () => void
  /** Called once when the handler stops (`close()`, `halt()`, or its own failure). */
  onShutdown?: () => void
  /**
   * With the 'timeout-blocking' wait strategy: called with the last sequence handed to this
   * consumer each time it waited `timeoutMs` for an event and none came (LMAX's onTimeout).
   */
  onTimeout?: (sequence: number) => void
  /** How many times in a row one batch may be rewound before the handler halts (default 3). */
  maxRewinds?: number
  /** Ms to wait before a rewound batch is handed over again (default 0: the next turn of the event loop). */
  rewindDelayMs?: number
  /**
   * What a throw or rejection does: 'halt' (default: the handler stops, the error surfaces
   * from `drain()`/`close()` and as an 'error' event), 'skip' (the batch counts as done),
   * 'rewind' (the same batch again, see `maxRewinds`), or a function deciding per error
   * (returning 'halt' halts, 'rewind' rewinds; anything else skips).
   */
  // biome-ignore lint/suspicious/noConfusingVoidType: a decider that returns nothing (skips) must type-check
  onError?: ErrorDecision | ((error: unknown, lo: number, hi: number) => ErrorDecision | void)
}

/**
 * A stage that makes each event safe somewhere else before the stages after it see it: the
 * journal (`napi-disruptor/journal`) and the JetStream sink (`napi-disruptor/nats`) are two, and
 * a third (Kafka, Redis streams) is any handler object of this shape. Register it with
 * `handleEventsWith` and put what acts on the events after it (`andThen`).
 */
export interface SinkStage extends HandlerObject {
  readonly name: string
  /** Makes `[lo, hi]` safe; a Promise holds the later stages (and, once full, the producers) until it settles. */
  onBatch(lo: number, hi: number): void | Promise<void>
}

/**
 * What feeds a ring from outside: `fromJetStream` (`napi-disruptor/nats`) and a journal's
 * `replay(...).source(d)` (`napi-disruptor/journal`) are two. `start()` publishes until there is
 * nothing more or `stop()`; `acknowledge`, when not null, is the stage to put after every
 * consumer of the ring (what it acknowledges is then redelivered if the process dies first).
 */
export interface RingSource {
  start(): Promise<void>
  stop(): Promise<void>
  readonly acknowledge: HandlerObject | null
}

/** A consumer: a batch function or a handler object. */
export type Handler = BatchHandler | HandlerObject

/** What `Poller.poll` found: it called the callback, nothing was published, or the next sequence is not yet available to it. */
export type PollResult = 'processing' | 'idle' | 'gating'

/** Options of a poller or `batches()` iterator. */
export interface PollerOptions {
  /** Name in `stats()`. */
  name?: string
  /** Largest batch handed out at once (default: everything available). */
  maxBatchSize?: number
}

/** A batch, as `batches()` yields it. */
export interface Batch {
  /** First sequence of the batch. */
  lo: number
  /** Last sequence of the batch (inclusive). */
  hi: number
}

/** The structured-cloneable handle `share()` returns and `Disruptor.attach()` takes. */
export interface SharedDisruptor<E = number> extends EventOf<E> {
  readonly kind: 'napi-disruptor'
  readonly id: number
  readonly token: string
  readonly size: number
  readonly slotSize: number
  readonly producer: 'single' | 'multi'
  readonly waitStrategy: WaitStrategyName
  /** The ring's event layout, as `defineEvent` took it (absent without one). */
  readonly event?: EventSchema
}

/** One consumer's figures in `stats()`. */
export interface ConsumerStats {
  name: string
  /** Last sequence it finished. */
  sequence: number
  /** How far it is behind the cursor. */
  lag: number
  batches: number
  events: number
  largestBatch: number
  /** Nanoseconds spent waiting for events. */
  waitNanos: number
  /** Errors (thrown or rejected) so far, skipped ones included. */
  errors: number
  /**
   * Abandoned sequences it skipped: claimed by a thread that went away before publishing
   * them. Never handed to it, not counted in `events`.
   */
  skipped: number
  state: 'idle' | 'running' | 'halted' | 'failed'
  lastError?: string
  /**
   * Batches by size since it joined: element `k` counts batches of `2**k` to `2**(k+1) - 1`
   * events (`[1]`, `[2, 3]`, `[4 .. 7]`, ...); trailing empty buckets are left out.
   */
  batchSizes: number[]
  /** Events it processed per second over the window (see `DisruptorStats.windowMs`). */
  eventsPerSecond: number
  /** Nanoseconds per event over the window (its inverse rate); null if it processed none. */
  nsPerEvent: number | null
}

/** What `stats()` returns: the ring and every consumer of it, on every thread. */
export interface DisruptorStats {
  cursor: number
  remainingCapacity: number
  /** Nanoseconds producers spent waiting for room (blocking `next()`, `nextAsync()`). */
  producerWaitNanos: number
  /**
   * Claims made by every producing thread. Another thread's claims are counted as it
   * reported them: each time it asks the engine for room (at least once per ring of claims,
   * and before it waits), and when it closes or calls `stats()` itself.
   */
  claims: number
  /**
   * The window the rates are over, in milliseconds: since the previous `stats()` call on this
   * Disruptor object (since it was made, for the first call).
   */
  windowMs: number
  /** Sequences published per second over the window. */
  publishedPerSecond: number
  /** Nanoseconds producers waited for room per claim over the window (0 without claims). */
  producerWaitNanosPerClaim: number
  /**
   * Sequences a thread claimed on a multi-producer ring and went away (exit, terminate)
   * without publishing: abandoned when it detached, so that the ring moves on, and skipped by
   * every consumer (each counts them in `skipped`); no consumer ever receives one. The
   * creating thread also gets an `'abandoned'` event `(lo, hi)` for each range.
   */
  abandonedEvents: number
  consumers: ConsumerStats[]
}

/** Errors this package throws carry a Node-style `code` (see README "Error codes"). */
export interface DisruptorError extends Error {
  code: string
}
