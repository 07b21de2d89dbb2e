/**
 * Callback consumers of a `ProcessRing`, as `Disruptor.handleEventsWith`: each handler is a
 * consumer in the ring's file (it gates every producer of every process), run on this
 * process's event loop (`ProcessConsumer.run`) from `start()` on. A handler that throws or
 * rejects halts its consumer (it leaves the ring); `drain()` then rejects with
 * ERR_DISRUPTOR_CONSUMER_HALTED and the handler's error as `cause`.
 */

import { isThenable } from '../consumer/runner'
import { rangeError, typeError } from '../errors'
import type { BatchHandler, HandlerObject } from '../types'
import { fn, integer } from '../validate'
import type { ProcessConsumer } from './consumer'

/** A handler of a ring shared between processes: a function, or an object with these options. */
export type ProcessHandler =
  | BatchHandler
  | Pick<HandlerObject, 'onBatch' | 'name' | 'maxBatchSize' | 'onStart' | 'onShutdown'>

/** What a handler object may hold here (the thread API's error policies are not there yet). */
const OPTIONS = new Set(['onBatch', 'name', 'maxBatchSize', 'onStart', 'onShutdown'])

interface Checked {
  name: string | undefined
  onBatch: BatchHandler
  onStart?: () => void
  onShutdown?: () => void
}

/** `handler` checked, with `maxBatchSize` folded into its `onBatch`. */
function checked(handler: ProcessHandler): Checked {
  if (typeof handler === 'function') return { name: handler.name || undefined, onBatch: handler }
  if (handler === null || typeof handler !== 'object')
    throw typeError('a handler must be a function or an object with onBatch')
  for (const key of Object.keys(handler)) {
    if (!OPTIONS.has(key)) throw rangeError(`'${key}' is not a handler option of a ring shared between processes`)
  }
  const onBatch = fn('onBatch', handler.onBatch)
  if (handler.onStart !== undefined) fn('onStart', handler.onStart)
  if (handler.onShutdown !== undefined) fn('onShutdown', handler.onShutdown)
  if (handler.name !== undefined && typeof handler.name !== 'string') throw typeError('name must be a string')
  const max = handler.maxBatchSize === undefined ? 0 : integer('maxBatchSize', handler.maxBatchSize, 1, 2 ** 30)
  return {
    name: handler.name,
    onBatch: max === 0 ? onBatch : (lo, hi) => inSlices(onBatch, lo, hi, max),
    onStart: handler.onStart,
    onShutdown: handler.onShutdown,
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

  /** `consumerOf(name)`: a new consumer of the ring (a name of its own when undefined). */
  constructor(private readonly consumerOf: (name: string | undefined) => ProcessConsumer) {}

  /** Registers a consumer per handler (all checked first: none on bad input); they run from `start()`. */
  add(handlers: readonly ProcessHandler[]): ProcessConsumer[] {
    if (handlers.length === 0) throw rangeError('handleEventsWith needs at least one handler')
    const all = handlers.map(checked)
    return all.map((h) => {
      const c = this.consumerOf(h.name)
      if (this.started) this.run(c, h)
      else this.waiting.push([c, h])
      return c
    })
  }

  start(): void {
    this.started = true
    for (const [c, h] of this.waiting.splice(0)) this.run(c, h)
  }

  /** Whether handlers wait for a `start()` that has not come. */
  notStarted(): boolean {
    return !this.started && this.waiting.length > 0
  }

  /** The first failure, if any. */
  failed(): { name: string; error: unknown } | null {
    return this.failure
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
