/**
 * Field values of typed events: what each field type accepts (`invalid`, which says why not),
 * and UTF-8 written and read without allocating where it can (short ASCII strings).
 */

import { coded, typeError } from '../errors'
import type { DisruptorError } from '../types'
import type { EventField } from './layout'

/** A value out of a field's range, or a string or byte field overflowing: ERR_OUT_OF_RANGE. */
export function outOfRange(message: string): DisruptorError {
  return coded(new RangeError(message), 'ERR_OUT_OF_RANGE')
}

export const TWO_32 = 2 ** 32

/** The typed-array views of one ring buffer, each over the whole of it. */
export class Views {
  readonly u8: Uint8Array
  readonly i8: Int8Array
  readonly u16: Uint16Array
  readonly i16: Int16Array
  readonly u32: Uint32Array
  readonly i32: Int32Array
  readonly f32: Float32Array
  readonly f64: Float64Array
  readonly i64: BigInt64Array
  readonly u64: BigUint64Array
  /** Per array field, its typed-array view of each slot, made the first time it is asked for. */
  readonly cache: unknown[][]
  constructor(
    readonly buffer: ArrayBuffer,
    /** Bytes per slot. */
    readonly size: number,
    arrayFields: number,
  ) {
    this.cache = Array.from({ length: arrayFields }, () => [])
    this.u8 = new Uint8Array(buffer)
    this.i8 = new Int8Array(buffer)
    this.u16 = new Uint16Array(buffer)
    this.i16 = new Int16Array(buffer)
    this.u32 = new Uint32Array(buffer)
    this.i32 = new Int32Array(buffer)
    this.f32 = new Float32Array(buffer)
    this.f64 = new Float64Array(buffer)
    this.i64 = new BigInt64Array(buffer)
    this.u64 = new BigUint64Array(buffer)
  }
}

/** The first invalid thing about `v` for field `f`, or null. Never writes. */
export function invalid(f: EventField, v: unknown): DisruptorError | null {
  const what = `field '${f.name}'`
  switch (f.kind) {
    case 'number': {
      if (typeof v !== 'number') return typeError(`${what} must be a number, got ${typeof v}`)
      if (f.type === 'f32' || f.type === 'f64') return null
      if (!fitsInteger(f.type, v)) return outOfRange(`${what} must be a ${f.type} integer, got ${v}`)
      return null
    }
    case 'boolean':
      return typeof v === 'boolean' ? null : typeError(`${what} must be a boolean, got ${typeof v}`)
    case 'bigint': {
      if (typeof v !== 'bigint') return typeError(`${what} must be a bigint, got ${typeof v}`)
      const fits = f.type === 'i64' ? BigInt.asIntN(64, v) === v : BigInt.asUintN(64, v) === v
      return fits ? null : outOfRange(`${what} must fit in ${f.type}, got ${v}`)
    }
    case 'int-number': {
      if (typeof v !== 'number') return typeError(`${what} must be a number, got ${typeof v}`)
      if (!Number.isSafeInteger(v) || (f.type === 'u64' && v < 0)) {
        return outOfRange(
          `${what} must be an integer from ${f.type === 'u64' ? 0 : '-(2**53 - 1)'} to 2**53 - 1, got ${v}`,
        )
      }
      return null
    }
    case 'utf8': {
      if (typeof v !== 'string') return typeError(`${what} must be a string, got ${typeof v}`)
      const n = Buffer.byteLength(v, 'utf8')
      return n <= f.length ? null : outOfRange(`${what} holds ${f.length} bytes of UTF-8, got ${n}`)
    }
    case 'bytes': {
      if (!ArrayBuffer.isView(v) && !(v instanceof ArrayBuffer)) {
        return typeError(`${what} must be a Uint8Array, Buffer or ArrayBuffer`)
      }
      return v.byteLength <= f.length ? null : outOfRange(`${what} holds ${f.length} bytes, got ${v.byteLength}`)
    }
    case 'array': {
      const a = v as ArrayLike<unknown> | null
      if (a === null || typeof a !== 'object' || typeof a.length !== 'number') {
        return typeError(`${what} must be an array or typed array of ${f.length}`)
      }
      if (a.length !== f.length) return outOfRange(`${what} has ${f.length} elements, got ${a.length}`)
      const element: EventField = { ...f, kind: f.type === 'i64' || f.type === 'u64' ? 'bigint' : 'number' }
      for (let i = 0; i < a.length; i++) {
        const e = invalid(element, a[i])
        if (e !== null) {
          e.message = e.message.replace(what, `${what}[${i}]`)
          return e
        }
      }
      return null
    }
  }
}

function fitsInteger(type: string, v: number): boolean {
  switch (type) {
    case 'u8':
      return (v & 0xff) === v
    case 'i8':
      return (v << 24) >> 24 === v
    case 'u16':
      return (v & 0xffff) === v
    case 'i16':
      return (v << 16) >> 16 === v
    case 'u32':
      return v >>> 0 === v
    default:
      return (v | 0) === v
  }
}

/**
 * Writes `s` as UTF-8 at `at`, at most `capacity` bytes (its length was checked before: the
 * bound holds even if a getter handed over another string since); returns the bytes written.
 * A lone surrogate is written as U+FFFD, as TextEncoder writes it.
 */
export function writeUtf8(u8: Uint8Array, at: number, s: string, capacity: number): number {
  let p = at
  const end = at + capacity
  for (let i = 0; i < s.length; i++) {
    let c = s.charCodeAt(i)
    if (c < 0x80) {
      if (p + 1 > end) break
      u8[p++] = c
      continue
    }
    if (c < 0x800) {
      if (p + 2 > end) break
      u8[p++] = 0xc0 | (c >> 6)
      u8[p++] = 0x80 | (c & 0x3f)
      continue
    }
    if (c >= 0xd800 && c <= 0xdfff) {
      const d = i + 1 < s.length ? s.charCodeAt(i + 1) : 0
      if (c <= 0xdbff && (d & 0xfc00) === 0xdc00) {
        if (p + 4 > end) break
        c = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00)
        i++
        u8[p++] = 0xf0 | (c >> 18)
        u8[p++] = 0x80 | ((c >> 12) & 0x3f)
        u8[p++] = 0x80 | ((c >> 6) & 0x3f)
        u8[p++] = 0x80 | (c & 0x3f)
        continue
      }
      c = 0xfffd
    }
    if (p + 3 > end) break
    u8[p++] = 0xe0 | (c >> 12)
    u8[p++] = 0x80 | ((c >> 6) & 0x3f)
    u8[p++] = 0x80 | (c & 0x3f)
  }
  return p - at
}

/**
 * Writes `s` as a length-prefixed UTF-8 field at byte `at`; returns false, with the field left
 * empty, if it does not fit in `capacity` bytes. Small enough for V8 to inline into a generated
 * setter: an ASCII string (symbols, codes) is written in one loop with no call. (Checking it
 * before writing, so as to leave the field as it was, cost 7 ns of 19 for a 4-character symbol.)
 */
export function putUtf8(V: Views, at: number, s: string, capacity: number): boolean {
  const n = s.length
  // UTF-8 takes at least one byte per UTF-16 code unit.
  if (n > capacity) {
    V.u16[at >>> 1] = 0
    return false
  }
  const u8 = V.u8
  const p = at + 2
  let k = 0
  for (; k < n; k++) {
    const c = s.charCodeAt(k)
    if (c >= 0x80) break
    u8[p + k] = c
  }
  if (k < n) return putUtf8Rest(V, at, s, capacity)
  V.u16[at >>> 1] = n
  return true
}

/** `putUtf8` of a string that is not all ASCII. */
function putUtf8Rest(V: Views, at: number, s: string, capacity: number): boolean {
  if (Buffer.byteLength(s, 'utf8') > capacity) {
    V.u16[at >>> 1] = 0
    return false
  }
  V.u16[at >>> 1] = writeUtf8(V.u8, at + 2, s, capacity)
  return true
}

export const decoder = new TextDecoder()

const fromCharCode = String.fromCharCode

/**
 * `n` (at most 16) bytes at `p` as a string if they are all ASCII, else null: without the
 * subarray and the decoder call, which cost more than the string itself for short fields
 * (symbols, codes), the common case. Up to 4 characters in a function small enough for V8 to
 * inline into a generated getter (about 8 ns of 25 for a 4-character symbol); longer in a call.
 */
export function shortAscii(u8: Uint8Array, p: number, n: number): string | null {
  let bits = 0
  for (let i = 0; i < n; i++) bits |= u8[p + i]
  if (bits >= 0x80) return null
  if (n > 4) return asciiOver4(u8, p, n)
  if (n === 4) return fromCharCode(u8[p], u8[p + 1], u8[p + 2], u8[p + 3])
  if (n === 3) return fromCharCode(u8[p], u8[p + 1], u8[p + 2])
  return n === 2 ? fromCharCode(u8[p], u8[p + 1]) : n === 1 ? fromCharCode(u8[p]) : ''
}

/** `shortAscii` of 5 to 16 bytes, known to be ASCII. */
function asciiOver4(u8: Uint8Array, p: number, n: number): string {
  switch (n) {
    case 5:
      return fromCharCode(u8[p], u8[p + 1], u8[p + 2], u8[p + 3], u8[p + 4])
    case 6:
      return fromCharCode(u8[p], u8[p + 1], u8[p + 2], u8[p + 3], u8[p + 4], u8[p + 5])
    case 7:
      return fromCharCode(u8[p], u8[p + 1], u8[p + 2], u8[p + 3], u8[p + 4], u8[p + 5], u8[p + 6])
    case 8:
      return fromCharCode(u8[p], u8[p + 1], u8[p + 2], u8[p + 3], u8[p + 4], u8[p + 5], u8[p + 6], u8[p + 7])
    default: {
      let s = fromCharCode(u8[p], u8[p + 1], u8[p + 2], u8[p + 3], u8[p + 4], u8[p + 5], u8[p + 6], u8[p + 7])
      for (let i = 8; i < n; i++) s += fromCharCode(u8[p + i])
      return s
    }
  }
}
