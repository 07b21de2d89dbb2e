/**
 * Handlers as the runner uses them: a function or a handler object, checked once and normalised
 * (methods bound, defaults filled in) when it is registered.
 */

import { rangeError, typeError } from '../errors'
import type { BatchHandler, ErrorDecision, Handler, HandlerObject } from '../types'
import { fn, integer } from '../validate'

/** Normalised handler. */
export interface Worker {
  onBatch: BatchHandler
  name?: string
  maxBatchSize: number
  onStart?: () => void
  onShutdown?: () => void
  onTimeout?: (sequence: number) => void
  onError: HandlerObject['onError']
  maxRewinds: number
  rewindDelayMs: number
}

export function toWorker(h: Handler, what: string): Worker {
  if (typeof h === 'function') {
    return {
      onBatch: h,
      name: h.name || undefined,
      maxBatchSize: Number.MAX_SAFE_INTEGER,
      onError: 'halt',
      maxRewinds: 3,
      rewindDelayMs: 0,
    }
  }
  if (h === null || typeof h !== 'object') {
    throw typeError(`${what} must be a function or an object with onBatch, got ${h === null ? 'null' : typeof h}`)
  }
  fn(`${what}.onBatch`, h.onBatch)
  if (h.name !== undefined && typeof h.name !== 'string') throw typeError(`${what}.name must be a string`)
  const maxBatchSize =
    h.maxBatchSize === undefined
      ? Number.MAX_SAFE_INTEGER
      : integer(`${what}.maxBatchSize`, h.maxBatchSize, 1, Number.MAX_SAFE_INTEGER)
  if (h.onStart !== undefined) fn(`${what}.onStart`, h.onStart)
  if (h.onShutdown !== undefined) fn(`${what}.onShutdown`, h.onShutdown)
  if (h.onTimeout !== undefined) fn(`${what}.onTimeout`, h.onTimeout)
  const onError = h.onError ?? 'halt'
  if (onError !== 'halt' && onError !== 'skip' && onError !== 'rewind' && typeof onError !== 'function') {
    throw rangeError(`${what}.onError must be 'halt', 'skip', 'rewind' or a function, got ${String(onError)}`)
  }
  const maxRewinds = h.maxRewinds === undefined ? 3 : integer(`${what}.maxRewinds`, h.maxRewinds, 0, 1_000_000)
  const rewindDelayMs =
    h.rewindDelayMs === undefined ? 0 : integer(`${what}.rewindDelayMs`, h.rewindDelayMs, 0, 2 ** 31 - 1)
  return {
    onBatch: h.onBatch.bind(h),
    name: h.name,
    maxBatchSize,
    onStart: h.onStart?.bind(h),
    onShutdown: h.onShutdown?.bind(h),
    onTimeout: h.onTimeout?.bind(h),
    onError: typeof onError === 'function' ? onError.bind(h) : onError,
    maxRewinds,
    rewindDelayMs,
  }
}

/**
 * What `worker.onError` decides for `error` in the batch `[lo, hi]`, already rewound `rewinds`
 * times in a row, and the error to report: 'skip', 'rewind', or 'halt' (the default; also a
 * rewind past `maxRewinds`, and a decider that throws, with its own error).
 */
export function decide(
  worker: Worker,
  error: unknown,
  lo: number,
  hi: number,
  rewinds: number,
): [ErrorDecision, unknown] {
  let decision: ErrorDecision = 'halt'
  let cause = error
  if (worker.onError === 'skip' || worker.onError === 'rewind') {
    decision = worker.onError
  } else if (typeof worker.onError === 'function') {
    try {
      const d = worker.onError(error, lo, hi)
      decision = d === 'halt' || d === 'rewind' ? d : 'skip'
    } catch (e) {
      cause = e
    }
  }
  // Rewound too often in a row: the usual default, halt.
  if (decision === 'rewind' && rewinds >= worker.maxRewinds) decision = 'halt'
  return [decision, cause]
}
