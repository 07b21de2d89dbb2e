/**
 * Argument checks of the public API. Each failure is a coded TypeError or RangeError and
 * happens before anything is claimed, published or registered.
 */

import { constants as bufferConstants } from 'node:buffer'

import { rangeError, typeError } from './errors'
import { type EventType, isEventType } from './event/layout'
import type { WaitConfig } from './native'
import type { DisruptorOptions, PollerOptions, WaitStrategyName, WaitStrategyOptions } from './types'

const MAX_SIZE = 2 ** 30
const MAX_SLOT = 65536

/**
 * Every wait-strategy parameter the binding takes (a record over its `WaitConfig`, so the
 * compiler keeps the two equal). Which strategy has which, and their ranges, the binding checks
 * (crates/binding/src/wait.rs): one place for them.
 */
const PARAMETERS: Readonly<Record<Exclude<keyof WaitConfig, 'name'>, true>> = {
  spinTries: true,
  yieldTries: true,
  sleepMicros: true,
  spinMicros: true,
  yieldMicros: true,
  timeoutMs: true,
}

/** `new Disruptor(options)` after its checks, with defaults filled in. */
export interface RingOptions {
  size: number
  slotSize: number
  producer: 'single' | 'multi'
  waitStrategy: WaitStrategyName
  /** The strategy with the parameters given, as the binding takes it. */
  wait: WaitConfig
  event: EventType | null
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
export function ringOptions(options: DisruptorOptions<unknown>): RingOptions {
  if (options === null || typeof options !== 'object') throw typeError('options must be an object')
  // `new Disruptor({ name })` itself is a ProcessRing (src/named.ts); a subclass cannot be one,
  // and must not silently become a ring of this process only.
  if ((options as { name?: unknown }).name !== undefined) {
    throw rangeError(
      "a ring shared between processes is a ProcessRing: new Disruptor({ name, ... }) or ProcessRing.create (README 'Processes')",
    )
  }
  const size = integer('size', options.size, 2, MAX_SIZE)
  if ((size & (size - 1)) !== 0) throw rangeError(`size must be a power of two, got ${size}`)
  const event = options.event
  if (event !== undefined && !isEventType(event)) throw typeError('event must be a layout from defineEvent()')
  const slotSize = integer('slotSize', options.slotSize ?? event?.size, 8, MAX_SLOT)
  if (slotSize % 8 !== 0) throw rangeError(`slotSize must be a multiple of 8, got ${slotSize}`)
  if (event !== undefined && slotSize < event.size) {
    throw rangeError(`slotSize ${slotSize} is smaller than the event layout (${event.size} bytes)`)
  }
  // Typed events index the ring with 32-bit byte offsets.
  if (event !== undefined && size * slotSize > 2 ** 32) {
    throw rangeError(`a ring of typed events holds at most 4 GiB, got ${size * slotSize} bytes`)
  }
  if (size * slotSize > bufferConstants.MAX_LENGTH) {
    throw rangeError(`size * slotSize must be at most ${bufferConstants.MAX_LENGTH} bytes, got ${size * slotSize}`)
  }
  const producer = options.producer ?? 'multi'
  if (producer !== 'single' && producer !== 'multi') {
    if (typeof producer !== 'string') throw typeError('producer must be a string')
    throw rangeError(`producer must be 'single' or 'multi', got '${producer}'`)
  }
  const wait = waitConfig(options.waitStrategy ?? 'blocking')
  return { size, slotSize, producer, waitStrategy: wait.name as WaitStrategyName, wait, event: event ?? null }
}

/** A wait strategy option: a name, or `{ type, ...parameters }` (each checked). */
function waitConfig(option: WaitStrategyName | WaitStrategyOptions): WaitConfig {
  const given = typeof option === 'object' && option !== null
  const name: unknown = given ? option.type : option
  if (typeof name !== 'string') {
    throw typeError(given ? 'waitStrategy.type must be a string' : 'waitStrategy must be a string or an object')
  }
  const config: WaitConfig = { name }
  if (!given) return config
  for (const [key, value] of Object.entries(option)) {
    if (key === 'type' || value === undefined) continue
    if (!Object.hasOwn(PARAMETERS, key)) throw rangeError(`waitStrategy.${key} is not a wait-strategy parameter`)
    if (typeof value !== 'number') throw typeError(`waitStrategy.${key} must be a number, got ${typeof value}`)
    ;(config as unknown as Record<string, number>)[key] = value
  }
  return config
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

/** The `{ timeout }` of `drain()`, `close()`, `next()` and `nextAsync()`, in ms (Infinity when absent). */
export function timeoutOption(options?: { timeout?: number }): number {
  if (options === undefined) return Infinity
  if (options === null || typeof options !== 'object') throw typeError('options must be an object')
  if (options.timeout === undefined) return Infinity
  if (typeof options.timeout !== 'number') throw typeError('timeout must be a number')
  if (!(options.timeout >= 0)) throw rangeError(`timeout must be >= 0, got ${options.timeout}`)
  return options.timeout
}
