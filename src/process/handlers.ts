/**
 * Callback consumers of a `ProcessRing`, as `Disruptor.handleEventsWith`: each handler is a
 * consumer in the ring's file (it gates every producer of every process), run on this
 * process's event loop (`ProcessConsumer.run`) from `start()` on. A handler that halts (its
 * `onError` policy, 'halt' by default) leaves the ring; `drain()` (every consumer of every process)
 * then rejects with ERR_DISRUPTOR_CONSUMER_HALTED and the handler's error as `cause`.
 */

import { decide, toWorker, type Worker } from '../consumer/handler'
import { isThenable } from '../consumer/runner'
import { closedError, coded, haltedError, rangeError } from '../errors'
import type { NativeSharedRing } from '../native'
import type { BatchHandler, HandlerObject } from '../types'
import { checkConsumerName, type ProcessConsumer } from './consumer'

/** A handler of a ring shared between processes: a function, or an object with these options. */
export type ProcessHandler =
  | BatchHandler
  | Pick<
      HandlerObject,
      'onBatch' | 'name' | 'maxBatchSize' | 'onStart' | 'onShutdown' | 'onError' | 'maxRewinds' | 'rewindDelayMs'
    >

/** What a handler object may hold here (all the thread API's options but `onTimeout`). */
const OPTIONS = new Set([
  'onBatch',
  'name',
  'maxBatchSize',
  'onStart',
  'onShutdown',
  'onError',
  'maxRewinds',
  'rewindDelayMs',
])

interface Checked {
  name: string | undefined
  onBatch: BatchHandler
  onStart?: () => void
  onShutdown?: () => void
}

/**
 * `handler` checked and normalised as on threads (`toWorker`), with its error policy and
 * `maxBatchSize` folded into its `onBatch`.
 */
function checked(handler: ProcessHandler): Checked {
  if (handler !== null && typeof handler === 'object') {
    for (const key of Object.keys(handler)) {
      if (!OPTIONS.has(key)) throw rangeError(`'${key}' is not a handler option of a ring shared between processes`)
    }
  }
  const worker = toWorker(handler, 'handler')
  let name = worker.name
  if (typeof handler === 'function') {
    // A function's own name, when it can be a consumer's (1 .. 48 bytes); else one is made.
    if (name !== undefined && Buffer.byteLength(name) > 48) name = undefined
  } else if (name !== undefined) {
    checkConsumerName(name)
  }
  const onBatch = withPolicy(worker)
  const max = worker.maxBatchSize
  return {
    name,
    onBatch: max === Number.MAX_SAFE_INTEGER ? onBatch : (lo, hi) => inSlices(onBatch, lo, hi, max),
    onStart: worker.onStart,
    onShutdown: worker.onShutdown,
  }
}

/**
 * The worker's `onBatch` under its `onError` (`decide`, as on threads): a skipped batch counts
 * as done, a rewound one comes again after `rewindDelayMs`, a halt rejects (the consumer
 * leaves the ring).
 */
function withPolicy(worker: Worker): BatchHandler {
  const { onBatch } = worker
  if (worker.onError === 'halt') return onBatch
  return (lo, hi) => {
    const failed = (error: unknown, rewinds: number): unknown => {
      const [decision, cause] = decide(worker, error, lo, hi, rewinds)
      if (decision === 'halt') throw cause
      if (decision === 'skip') return undefined
      return new Promise((resolve) => setTimeout(resolve, worker.rewindDelayMs)).then(() => attempt(rewinds + 1))
    }
    const attempt = (rewinds: number): unknown => {
      let r: unknown
      try {
        r = onBatch(lo, hi)
      } catch (e) {
        return failed(e, rewinds)
      }
      return isThenable(r) ? Promise.resolve(r).catch((e: unknown) => failed(e, rewinds)) : r
    }
    return attempt(0)
  }
}

/** `onBatch` over `[lo, hi]` in slices of at most `max`, each after the last one's Promise. */
function inSlices(onBatch: BatchHandler, lo: number, hi: number, max: number): unknown {
  for (let a = lo; a <= hi; a += max) {
    const r = onBatch(a, Math.min(hi, a + max - 1))
    if (isThenable(r)) return Promise.resolve(r).then(() => inSlices(onBatch, a + max, hi, max))
  }
  return undefined
}

export class ProcessHandlers {
  private started = false
  private readonly waiting: [ProcessConsumer, Checked][] = []
  /** The first handler that failed, and its error. */
  private failure: { name: string; error: unknown } | null = null

  /** `consumerOf(name, after)`: a new consumer of the ring (a name of its own when undefined). */
  constructor(
    private readonly consumerOf: (name: string | undefined, after: readonly ProcessConsumer[]) => ProcessConsumer,
  ) {}

  /**
   * Registers a consumer per handler, following `after` (all checked first: none on bad
   * input); they run from `start()`.
   */
  add(handlers: readonly ProcessHandler[], after: readonly ProcessConsumer[] = []): ProcessConsumer[] {
    if (handlers.length === 0) throw rangeError('handleEventsWith needs at least one handler')
    const all = handlers.map(checked)
    const made: ProcessConsumer[] = []
    try {
      for (const h of all) made.push(this.consumerOf(h.name, after))
    } catch (e) {
      // All or none: a full consumer table (or a name taken meanwhile) undoes the others.
      for (const c of made) c.close()
      throw e
    }
    made.forEach((c, i) => {
      if (this.started) this.run(c, all[i])
      else this.waiting.push([c, all[i]])
    })
    return made
  }

  start(): void {
    this.started = true
    for (const [c, h] of this.waiting.splice(0)) this.run(c, h)
  }

  /**
   * `ProcessRing.drain`: until every live consumer of the ring, in every process, reached what
   * was claimed at the call (read from the file's consumer table).
   */
  async drain(ring: NativeSharedRing, timeout: number, closed: () => boolean): Promise<void> {
    if (!this.started && this.waiting.length > 0) {
      throw coded(new Error("drain() before start(): this process's handlers never run"), 'ERR_DISRUPTOR_NOT_STARTED')
    }
    const target = ring.cursor()
    const deadline = performance.now() + timeout
    for (let round = 0; ; round++) {
      if (this.failure !== null) throw haltedError(this.failure.name, this.failure.error)
      if (closed()) throw closedError()
      const behind = ring.stats().consumers.filter((c) => c.alive && c.sequence < target)
      if (behind.length === 0) return
      if (performance.now() >= deadline) {
        const who = behind.map((c) => `'${c.name}' (pid ${c.pid}) at ${c.sequence}`).join(', ')
        throw coded(
          new Error(`drain to sequence ${target} did not finish within ${timeout} ms; behind: ${who}`),
          'ERR_DISRUPTOR_TIMEOUT',
        )
      }
      await new Promise((resolve) => setTimeout(resolve, round < 16 ? 0 : 1))
    }
  }

  private run(c: ProcessConsumer, h: Checked): void {
    const fail = (error: unknown) => {
      this.failure ??= { name: c.name, error }
      c.close()
    }
    try {
      h.onStart?.()
    } catch (e) {
      fail(e)
      return
    }
    c.run(h.onBatch)
      .catch(fail)
      .finally(() => {
        try {
          h.onShutdown?.()
        } catch (e) {
          fail(e)
        }
      })
  }
}
