/**
 * Errors with Node-style `code`s (README "Error codes"): every error this package throws is made
 * here or carries a code made with `coded`.
 */

import type { DisruptorError } from './types'

/** Gives `error` an enumerable `code`, as Node's own errors have. */
export function coded<E extends Error>(error: E, code: string): E & DisruptorError {
  Object.defineProperty(error, 'code', { value: code, enumerable: true, writable: true, configurable: true })
  return error as E & DisruptorError
}

/** An argument of the wrong type: ERR_INVALID_ARG_TYPE. */
export function typeError(message: string): DisruptorError {
  return coded(new TypeError(message), 'ERR_INVALID_ARG_TYPE')
}

/** An argument of the right type and a wrong value: ERR_INVALID_ARG_VALUE. */
export function rangeError(message: string): DisruptorError {
  return coded(new RangeError(message), 'ERR_INVALID_ARG_VALUE')
}

/**
 * Runs a binding call whose argument checks live in Rust: its ERR_INVALID_ARG_VALUE (a plain
 * Error from napi) comes back as the RangeError the rest of the API throws.
 */
export function rangeChecked<T>(call: () => T): T {
  try {
    return call()
  } catch (e) {
    if ((e as DisruptorError).code === 'ERR_INVALID_ARG_VALUE') throw rangeError((e as Error).message)
    throw e
  }
}

/** The ring (or this thread's part of it) is closed: ERR_DISRUPTOR_CLOSED. */
export function closedError(): DisruptorError {
  return coded(new Error('the disruptor is closed'), 'ERR_DISRUPTOR_CLOSED')
}

/** A consumer others depend on cannot leave before them (LMAX's rule): ERR_DISRUPTOR_HAS_DEPENDENTS. */
export function dependentsError(name: string, dependents: readonly string[]): DisruptorError {
  return coded(
    new Error(`consumer '${name}' cannot be removed before the consumers that depend on it: ${dependents.join(', ')}`),
    'ERR_DISRUPTOR_HAS_DEPENDENTS',
  )
}

/** A poller was removed (`removeConsumer`, possibly from another thread): ERR_DISRUPTOR_CONSUMER_REMOVED. */
export function removedError(): DisruptorError {
  return coded(new Error('this consumer was removed from the ring'), 'ERR_DISRUPTOR_CONSUMER_REMOVED')
}

/** What an aborted `nextAsync` rejects with, as Node's own abortable calls do. */
export function abortError(signal: AbortSignal): Error {
  const e = coded(new Error('the operation was aborted', { cause: signal.reason }), 'ABORT_ERR')
  e.name = 'AbortError'
  return e
}

/** A consumer halted on `error`: what `drain()`, `close()` and waiting producers report. */
export function haltedError(name: string, error: unknown): DisruptorError {
  return coded(
    new Error(`consumer '${name}' halted on an error: ${message(error)}`, { cause: error }),
    'ERR_DISRUPTOR_CONSUMER_HALTED',
  )
}

/** An error's message for the engine's records; never throws, whatever was thrown. */
export function message(error: unknown): string {
  if (error instanceof Error) return error.message
  try {
    return String(error)
  } catch {
    return 'unprintable error'
  }
}
