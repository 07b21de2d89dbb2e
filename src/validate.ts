/**
 * Argument checks of the public API. Each failure is a coded TypeError or RangeError and
 * happens before anything is claimed, published or registered.
 */

import { constants as bufferConstants } from 'node:buffer'

import { rangeError, typeError } from './errors'
import type { DisruptorOptions, PollerOptions, WaitStrategyName } from './types'

const MAX_SIZE = 2 ** 30
const MAX_SLOT = 65536

/** Every wait strategy by name: a record over the type, so the compiler keeps the two equal. */
const STRATEGIES: Readonly<Record<WaitStrategyName, true>> = {
  blocking: true,
  sleeping: true,
  yielding: true,
  'busy-spin': true,
  'phased-backoff': true,
}

/** `new Disruptor(options)` after its checks, with defaults filled in. */
export interface RingOptions {
  size: number
  slotSize: number
  producer: 'single' | 'multi'
  waitStrategy: WaitStrategyName
}

/** An integer `min ..= max`. */
export function integer(name: string, value: unknown, min: number, max: number): number {
  if (typeof value !== 'number') {
    throw typeError(`${name} must be a number, got ${value === null ? 'null' : typeof value}`)
  }
  if (!Number.isInteger(value) || value < min || value > max) {
    throw rangeError(`${name} must be an integer between ${min} and ${max}, got ${value}`)
  }
  return value
}

/** A sequence: an integer JavaScript numbers hold exactly. */
export function sequenceArg(name: string, value: unknown): number {
  return integer(name, value, 0, Number.MAX_SAFE_INTEGER)
}

/** A function. */
export function fn<T>(name: string, value: T): T {
  if (typeof value !== 'function') {
    throw typeError(`${name} must be a function, got ${value === null ? 'null' : typeof value}`)
  }
  return value
}

/** The options of `new Disruptor()`. */
export function ringOptions(options: DisruptorOptions): RingOptions {
  if (options === null || typeof options !== 'object') throw typeError('options must be an object')
  const size = integer('size', options.size, 2, MAX_SIZE)
  if ((size & (size - 1)) !== 0) throw rangeError(`size must be a power of two, got ${size}`)
  const slotSize = integer('slotSize', options.slotSize, 8, MAX_SLOT)
  if (slotSize % 8 !== 0) throw rangeError(`slotSize must be a multiple of 8, got ${slotSize}`)
  if (size * slotSize > bufferConstants.MAX_LENGTH) {
    throw rangeError(`size * slotSize must be at most ${bufferConstants.MAX_LENGTH} bytes, got ${size * slotSize}`)
  }
  const producer = options.producer ?? 'multi'
  if (producer !== 'single' && producer !== 'multi') {
    if (typeof producer !== 'string') throw typeError('producer must be a string')
    throw rangeError(`producer must be 'single' or 'multi', got '${producer}'`)
  }
  const waitStrategy = options.waitStrategy ?? 'blocking'
  if (typeof waitStrategy !== 'string') throw typeError('waitStrategy must be a string')
  if (!Object.hasOwn(STRATEGIES, waitStrategy)) {
    throw rangeError(`waitStrategy must be one of ${Object.keys(STRATEGIES).join(', ')}, got '${waitStrategy}'`)
  }
  return { size, slotSize, producer, waitStrategy }
}

/** The options of a poller or a `batches()` iterator. */
export function pollerOptions(
  options: PollerOptions | undefined,
  what: string,
): { name?: string; maxBatchSize: number } {
  if (options === undefined) return { maxBatchSize: Number.MAX_SAFE_INTEGER }
  if (options === null || typeof options !== 'object') throw typeError(`${what} options must be an object`)
  if (options.name !== undefined && typeof options.name !== 'string') throw typeError(`${what} name must be a string`)
  const maxBatchSize =
    options.maxBatchSize === undefined
      ? Number.MAX_SAFE_INTEGER
      : integer(`${what} maxBatchSize`, options.maxBatchSize, 1, Number.MAX_SAFE_INTEGER)
  return { name: options.name, maxBatchSize }
}

/** The `{ timeout }` of a claim (`next`, `nextAsync`), in ms: a number >= 0, Infinity when absent. */
export function claimTimeout(options: { timeout?: number }): number {
  if (options === null || typeof options !== 'object') throw typeError('options must be an object')
  const timeout = options.timeout
  if (timeout === undefined) return Infinity
  if (typeof timeout !== 'number')
    throw typeError(`timeout must be a number, got ${timeout === null ? 'null' : typeof timeout}`)
  if (!(timeout >= 0)) throw rangeError(`timeout must be a number of ms >= 0, got ${timeout}`)
  return timeout
}

/** The `{ timeout }` of `drain()` and `close()`, in ms (Infinity when absent). */
export function timeoutOption(options?: { timeout?: number }): number {
  if (options === undefined) return Infinity
  if (options === null || typeof options !== 'object') throw typeError('options must be an object')
  if (options.timeout === undefined) return Infinity
  if (typeof options.timeout !== 'number') throw typeError('timeout must be a number')
  if (!(options.timeout >= 0)) throw rangeError(`timeout must be >= 0, got ${options.timeout}`)
  return options.timeout
}
