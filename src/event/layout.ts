/**
 * Typed event layouts (`defineEvent`): a schema of named fields turned into byte offsets any
 * reader can follow, C-struct style: fields in the order given, each at its natural
 * alignment, the whole rounded up to 8 bytes (a slot size). `disruptor_core::EventLayout`
 * computes the same offsets from the same schema, so a Rust program and JavaScript agree.
 */

import { coded, rangeError, typeError } from '../errors'

/** A scalar field type. 64-bit integers are bigints (`{ u64: 'number' }`: exact numbers). */
export type ScalarType = 'i8' | 'u8' | 'i16' | 'u16' | 'i32' | 'u32' | 'f32' | 'f64' | 'i64' | 'u64' | 'bool'

/** An array element type. */
export type ElementType = Exclude<ScalarType, 'bool'>

/** One field of a schema. */
export type FieldSpec =
  | ScalarType
  /** A 64-bit integer read and written as an exact JavaScript number (|value| <= 2**53 - 1). */
  | { i64: 'number' }
  | { u64: 'number' }
  /** Up to `utf8` bytes of UTF-8, after a 16-bit length. */
  | { utf8: number }
  /** Up to `bytes` bytes, after a 16-bit length. */
  | { bytes: number }
  /** A fixed array of numbers: a typed-array view. */
  | readonly [ElementType, number]

/** What `defineEvent` takes: field names to types, in layout order. */
export type EventSchema = Readonly<Record<string, FieldSpec>>

/** How a field is stored and what JavaScript sees of it. */
export type FieldKind = 'number' | 'bigint' | 'boolean' | 'int-number' | 'utf8' | 'bytes' | 'array'

/** One field as laid out. */
export interface EventField {
  readonly name: string
  /** The stored type: a scalar type, 'utf8', 'bytes' or an array's element type. */
  readonly type: ScalarType | 'utf8' | 'bytes'
  readonly kind: FieldKind
  /** Byte offset in the slot. */
  readonly offset: number
  /** Bytes it takes (a string or byte field: 2 for its length, then its capacity). */
  readonly size: number
  /** Elements of an array, bytes of a string or byte field (1 for a scalar). */
  readonly length: number
}

/** The typed array a fixed array of each element type reads as. */
interface ArrayOf {
  i8: Int8Array
  u8: Uint8Array
  i16: Int16Array
  u16: Uint16Array
  i32: Int32Array
  u32: Uint32Array
  f32: Float32Array
  f64: Float64Array
  i64: BigInt64Array
  u64: BigUint64Array
}

/** The value JavaScript reads from a field spec. */
export type FieldValue<F> = F extends 'i64' | 'u64'
  ? bigint
  : F extends 'bool'
    ? boolean
    : F extends { utf8: number }
      ? string
      : F extends { bytes: number }
        ? Uint8Array
        : F extends readonly [infer T extends ElementType, number]
          ? ArrayOf[T]
          : number

/** An event's fields as JavaScript reads them (a flyweight, `read`). */
export type EventValues<S extends EventSchema> = { -readonly [K in keyof S]: FieldValue<S[K]> }

/** What `emitEvent` takes for an event `E`: any field may be left out; arrays as any array-like. */
export type EventInput<E> = {
  [K in keyof E]?: E[K] extends BigInt64Array | BigUint64Array
    ? ArrayLike<bigint>
    : E[K] extends ArrayBufferView
      ? ArrayLike<number> | ArrayBufferView | ArrayBuffer
      : E[K]
}

/** Carries, in types only, what an event is to JavaScript (`E`), from a layout to its ring. */
declare const eventValues: unique symbol
export interface EventOf<E> {
  /** Types only: never set. */
  readonly [eventValues]?: E
}

/** A typed event layout (`defineEvent`). */
export interface EventType<S extends EventSchema = EventSchema> extends EventOf<EventValues<S>> {
  /** Bytes per event: every field, 8-aligned (the ring's slot size). */
  readonly size: number
  readonly fields: readonly EventField[]
  /** The schema, as given (what `share()` carries to another thread). */
  readonly schema: S
}

/** Bytes per element of each stored type. */
const WIDTH: Readonly<Record<ScalarType, number>> = {
  i8: 1,
  u8: 1,
  bool: 1,
  i16: 2,
  u16: 2,
  i32: 4,
  u32: 4,
  f32: 4,
  f64: 8,
  i64: 8,
  u64: 8,
}

/** Largest capacity of a string or byte field (its length is a u16). */
const MAX_CAPACITY = 65535
/** A slot is at most 64 KiB. */
const MAX_SIZE = 65536
/** Field names a flyweight cannot take as own accessors. */
const RESERVED = new Set(['constructor', '__proto__', 'prototype', 'toJSON', 'toString', 'valueOf', 'then'])

/**
 * A typed event layout from a schema: `defineEvent({ price: 'f64', qty: 'u32', symbol:
 * { utf8: 12 }, levels: ['f64', 4] })`. Throws ERR_INVALID_ARG_TYPE / _VALUE on a bad schema.
 */
export function defineEvent<const S extends EventSchema>(schema: S): EventType<S> {
  if (schema === null || typeof schema !== 'object' || Array.isArray(schema)) {
    throw typeError('defineEvent takes an object of field names to types')
  }
  const names = Object.keys(schema)
  if (names.length === 0) throw rangeError('an event needs at least one field')
  const fields: EventField[] = []
  let offset = 0
  for (const name of names) {
    if (RESERVED.has(name) || name.length === 0) throw rangeError(`'${name}' cannot be a field name`)
    // Object.keys lists array-index names first, whatever the order written: the layout would
    // not follow the schema as written (nor a Rust EventLayout of the same fields).
    if (/^(0|[1-9][0-9]*)$/.test(name)) throw rangeError(`'${name}' cannot be a field name: it is an array index`)
    const field = fieldOf(name, (schema as Record<string, unknown>)[name])
    const align = field.kind === 'utf8' || field.kind === 'bytes' ? 2 : WIDTH[field.type as ScalarType]
    offset = Math.ceil(offset / align) * align
    fields.push(Object.freeze({ ...field, offset }))
    offset += field.size
    if (offset > MAX_SIZE) throw rangeError(`the event takes more than ${MAX_SIZE} bytes`)
  }
  const size = Math.max(8, Math.ceil(offset / 8) * 8)
  const frozen = Object.freeze(structuredClone(schema)) as S
  const type = Object.freeze({ size, fields: Object.freeze(fields), schema: frozen })
  made.add(type)
  return type
}

/** Layouts `defineEvent` made: the only ones code is generated from (their numbers are checked). */
const made = new WeakSet<object>()

/** Whether `value` is an event layout made by `defineEvent` on this thread. */
export function isEventType(value: unknown): value is EventType {
  return typeof value === 'object' && value !== null && made.has(value)
}

function fieldOf(name: string, spec: unknown): Omit<EventField, 'offset'> {
  if (typeof spec === 'string') {
    if (!Object.hasOwn(WIDTH, spec)) throw rangeError(`field '${name}': unknown type '${spec}'`)
    const type = spec as ScalarType
    const kind: FieldKind = type === 'bool' ? 'boolean' : type === 'i64' || type === 'u64' ? 'bigint' : 'number'
    return { name, type, kind, size: WIDTH[type], length: 1 }
  }
  if (Array.isArray(spec)) {
    const [type, length] = spec
    if (spec.length !== 2 || typeof type !== 'string' || !Object.hasOwn(WIDTH, type) || type === 'bool') {
      throw rangeError(`field '${name}': an array is [elementType, length] of a numeric type`)
    }
    if (!Number.isInteger(length) || length < 1 || length > MAX_SIZE) {
      throw rangeError(`field '${name}': an array length must be an integer from 1, got ${length}`)
    }
    return { name, type: type as ElementType, kind: 'array', size: WIDTH[type as ElementType] * length, length }
  }
  if (spec !== null && typeof spec === 'object') {
    const keys = Object.keys(spec)
    const key = keys[0]
    const value = (spec as Record<string, unknown>)[key]
    if (keys.length === 1 && (key === 'i64' || key === 'u64') && value === 'number') {
      return { name, type: key, kind: 'int-number', size: 8, length: 1 }
    }
    if (keys.length === 1 && (key === 'utf8' || key === 'bytes')) {
      if (!Number.isInteger(value) || (value as number) < 1 || (value as number) > MAX_CAPACITY) {
        throw rangeError(`field '${name}': a ${key} capacity must be an integer from 1 to ${MAX_CAPACITY}`)
      }
      return { name, type: key, kind: key, size: 2 + (value as number), length: value as number }
    }
  }
  throw typeError(
    `field '${name}': expected a type name, { utf8: n }, { bytes: n }, { i64|u64: 'number' } or [type, n]`,
  )
}

/**
 * The event layout a ring's header records (`JSON.stringify({ event: schema })`, written by
 * `ProcessRing.create`). A ring made without one, or by a program that
 * records something else there (the engine keeps it opaque), has none; a `{ event }` record
 * whose schema `defineEvent` refuses is ERR_DISRUPTOR_FOREIGN.
 */
export function layoutFromRecord(layout: string): EventType | undefined {
  let parsed: unknown
  try {
    parsed = JSON.parse(layout)
  } catch {
    return undefined
  }
  if (parsed === null || typeof parsed !== 'object' || !('event' in parsed)) return undefined
  try {
    return defineEvent((parsed as { event: Record<string, never> }).event)
  } catch (cause) {
    throw coded(
      new Error(`the ring's event layout is not one defineEvent accepts: ${(cause as Error).message}`, { cause }),
      'ERR_DISRUPTOR_FOREIGN',
    )
  }
}
