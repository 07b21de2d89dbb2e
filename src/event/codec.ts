/**
 * Reading and writing typed events in a ring's slots: flyweights (an object whose accessors
 * read and write one slot in place, moved from slot to slot: no allocation per event), plain
 * objects (`read`), and whole events copied in after every field was checked (`emit`).
 */

import { coded, rangeError, typeError } from '../errors'
import type { DisruptorError } from '../types'
import type { EventField, EventType } from './layout'

/** Where a flyweight is: symbols, so that every string name is free for a field. */
const kSlot = Symbol('slot')
const kBase = Symbol('base')

/** A flyweight's position. */
interface At {
  [kSlot]: number
  [kBase]: number
}

/** A flyweight: the event's fields as accessors on the slot it was last moved to. */
export interface Flyweight {
  [kSlot]: number
  [kBase]: number
}

/** A value out of a field's range, or a string or byte field overflowing: ERR_OUT_OF_RANGE. */
function outOfRange(message: string): DisruptorError {
  return coded(new RangeError(message), 'ERR_OUT_OF_RANGE')
}

const TWO_32 = 2 ** 32

/** The typed-array views of one ring buffer, each over the whole of it. */
class Views {
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
  constructor(readonly buffer: ArrayBuffer) {
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
function invalid(f: EventField, v: unknown): DisruptorError | null {
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
      const n = utf8Length(v)
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

/** Bytes of `s` in UTF-8 (a lone surrogate counts as U+FFFD, 3 bytes, as TextEncoder writes it). */
function utf8Length(s: string): number {
  let n = s.length
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    if (c < 0x80) continue
    if (c < 0x800) n += 1
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      n += 2 // a pair: 2 code units, 4 bytes
      i++
    } else n += 2
  }
  return n
}

/** Writes `s` as UTF-8 at `at` (its length checked before); returns the bytes written. */
function writeUtf8(u8: Uint8Array, at: number, s: string): number {
  let p = at
  for (let i = 0; i < s.length; i++) {
    let c = s.charCodeAt(i)
    if (c < 0x80) {
      u8[p++] = c
      continue
    }
    if (c < 0x800) {
      u8[p++] = 0xc0 | (c >> 6)
      u8[p++] = 0x80 | (c & 0x3f)
      continue
    }
    if (c >= 0xd800 && c <= 0xdfff) {
      const d = i + 1 < s.length ? s.charCodeAt(i + 1) : 0
      if (c <= 0xdbff && (d & 0xfc00) === 0xdc00) {
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
    u8[p++] = 0xe0 | (c >> 12)
    u8[p++] = 0x80 | ((c >> 6) & 0x3f)
    u8[p++] = 0x80 | (c & 0x3f)
  }
  return p - at
}

const decoder = new TextDecoder()

interface Accessor {
  get(this: At): unknown
  /** Writes a value `invalid` accepted. */
  put(base: number, slot: number, v: unknown): void
  /** Whether `invalid` would accept `v`: a fast check, one per field type (`invalid` says why not). */
  ok(v: unknown): boolean
}

/** The fast check of each numeric type (`fitsInteger`, inlined per field). */
const NUMBER_OK: Readonly<Record<string, (v: unknown) => boolean>> = {
  u8: (v) => typeof v === 'number' && (v & 0xff) === v,
  i8: (v) => typeof v === 'number' && ((v << 24) >> 24) === v,
  u16: (v) => typeof v === 'number' && (v & 0xffff) === v,
  i16: (v) => typeof v === 'number' && ((v << 16) >> 16) === v,
  u32: (v) => typeof v === 'number' && v >>> 0 === v,
  i32: (v) => typeof v === 'number' && (v | 0) === v,
  f32: (v) => typeof v === 'number',
  f64: (v) => typeof v === 'number',
}

const fromCharCode = String.fromCharCode

/**
 * `n` (at most 16) bytes at `p` as a string if they are all ASCII, else null: without the
 * subarray and the decoder call, which cost more than the string itself for short fields
 * (symbols, codes), the common case.
 */
function shortAscii(u8: Uint8Array, p: number, n: number): string | null {
  let bits = 0
  for (let i = 0; i < n; i++) bits |= u8[p + i]
  if (bits >= 0x80) return null
  const b = (i: number) => u8[p + i]
  switch (n) {
    case 0:
      return ''
    case 1:
      return fromCharCode(b(0))
    case 2:
      return fromCharCode(b(0), b(1))
    case 3:
      return fromCharCode(b(0), b(1), b(2))
    case 4:
      return fromCharCode(b(0), b(1), b(2), b(3))
    case 5:
      return fromCharCode(b(0), b(1), b(2), b(3), b(4))
    case 6:
      return fromCharCode(b(0), b(1), b(2), b(3), b(4), b(5))
    case 7:
      return fromCharCode(b(0), b(1), b(2), b(3), b(4), b(5), b(6))
    case 8:
      return fromCharCode(b(0), b(1), b(2), b(3), b(4), b(5), b(6), b(7))
    default: {
      let s = fromCharCode(b(0), b(1), b(2), b(3), b(4), b(5), b(6), b(7))
      for (let i = 8; i < n; i++) s += fromCharCode(b(i))
      return s
    }
  }
}

/**
 * One event type over one ring buffer (one per thread: each thread has its own ArrayBuffer
 * over the ring's memory): its flyweights, `read`, `check` and `write`.
 */
export class EventCodec {
  private readonly views: Views
  private readonly accessors: Accessor[]
  private readonly byName: Map<string, number>
  private readonly proto: object

  constructor(
    readonly type: EventType,
    buffer: ArrayBuffer,
    private readonly slotSize: number,
  ) {
    this.views = new Views(buffer)
    this.accessors = type.fields.map((f) => this.accessor(f))
    this.byName = new Map(type.fields.map((f, i) => [f.name, i]))
    const proto: Record<string, unknown> = {}
    const accessors = this.accessors
    type.fields.forEach((f, i) => {
      const a = accessors[i]
      Object.defineProperty(proto, f.name, {
        enumerable: true,
        get: a.get,
        set(this: At, v: unknown) {
          if (!a.ok(v)) throw invalid(f, v) ?? typeError(`field '${f.name}': invalid value`)
          a.put(this[kBase], this[kSlot], v)
        },
      })
    })
    this.proto = proto
  }

  /** A new flyweight (at slot 0 until moved). */
  flyweight(): Flyweight {
    const fly = Object.create(this.proto)
    fly[kSlot] = 0
    fly[kBase] = 0
    return fly
  }

  /** Moves `fly` to `slot` (a slot index, `seq % size`). */
  moveTo(fly: Flyweight, slot: number): void {
    fly[kSlot] = slot
    fly[kBase] = slot * this.slotSize
  }

  /** The event in `slot` as a plain object (arrays and bytes copied out). */
  read(slot: number): Record<string, unknown> {
    const at: At = { [kBase]: slot * this.slotSize, [kSlot]: slot }
    const out: Record<string, unknown> = {}
    this.type.fields.forEach((f, i) => {
      const v = this.accessors[i].get.call(at)
      out[f.name] = f.kind === 'array' || f.kind === 'bytes' ? (v as Uint8Array).slice() : v
    })
    return out
  }

  /**
   * Throws the first invalid thing about `values` (not an object, an unknown field, a value of
   * the wrong type or out of range); writes nothing.
   */
  check(values: unknown): void {
    if (values === null || typeof values !== 'object') throw typeError('an event must be an object')
    const v = values as Record<string, unknown>
    for (const key in v) {
      if (!this.byName.has(key)) throw rangeError(`the event has no field '${key}'`)
    }
    const fields = this.type.fields
    const accessors = this.accessors
    for (let i = 0; i < fields.length; i++) {
      const value = v[fields[i].name]
      if (value === undefined || accessors[i].ok(value)) continue
      throw invalid(fields[i], value) ?? typeError(`field '${fields[i].name}': invalid value`)
    }
  }

  /** Writes `values` (`check`ed) into `slot`: every field, those not given as zero or empty. */
  write(slot: number, values: Record<string, unknown>): void {
    const base = slot * this.slotSize
    const fields = this.type.fields
    for (let i = 0; i < fields.length; i++) {
      const f = fields[i]
      const value = values[f.name]
      if (value === undefined) this.views.u8.fill(0, base + f.offset, base + f.offset + f.size)
      else this.accessors[i].put(base, slot, value)
    }
  }

  private accessor(f: EventField): Accessor {
    const o = f.offset
    const v = this.views
    switch (f.kind) {
      case 'number':
      case 'boolean':
        return scalar(f, v, o)
      case 'bigint': {
        const a = f.type === 'i64' ? v.i64 : v.u64
        return {
          ok: (x) => invalid(f, x) === null,
          get() {
            return a[(this[kBase] + o) >>> 3]
          },
          put(base, _slot, x) {
            a[(base + o) >>> 3] = x as bigint
          },
        }
      }
      case 'int-number': {
        const { u32, i32 } = v
        const signed = f.type === 'i64'
        const name = f.name
        const min = signed ? -Number.MAX_SAFE_INTEGER : 0
        return {
          ok: (x) => typeof x === 'number' && Number.isSafeInteger(x) && x >= min,
          get() {
            const i = (this[kBase] + o) >>> 2
            const hi = signed ? i32[i + 1] : u32[i + 1]
            const x = hi * TWO_32 + u32[i]
            if (!Number.isSafeInteger(x)) throw outOfRange(`field '${name}' holds a value past 2**53 - 1`)
            return x
          },
          put(base, _slot, x) {
            const n = x as number
            const i = (base + o) >>> 2
            // Two 32-bit halves, no BigInt (no allocation): ToUint32 keeps the low 32 bits of an
            // exact integer, and floor division the high ones, two's complement for negatives.
            u32[i] = n >>> 0
            u32[i + 1] = Math.floor(n / TWO_32) >>> 0
          },
        }
      }
      case 'utf8': {
        const { u8, u16 } = v
        const capacity = f.length
        return {
          // A UTF-16 code unit takes at most 3 bytes of UTF-8: most strings fit on sight.
          ok: (x) => typeof x === 'string' && (x.length * 3 <= capacity || utf8Length(x) <= capacity),
          get() {
            const at = this[kBase] + o
            // Clamped: a foreign writer's length never reads past the field.
            const n = Math.min(u16[at >>> 1], capacity)
            return (n <= 16 ? shortAscii(u8, at + 2, n) : null) ?? decoder.decode(u8.subarray(at + 2, at + 2 + n))
          },
          put(base, _slot, x) {
            const at = base + o
            u16[at >>> 1] = writeUtf8(u8, at + 2, x as string)
          },
        }
      }
      case 'bytes': {
        const { u8, u16 } = v
        const capacity = f.length
        return {
          ok: (x) => invalid(f, x) === null,
          get() {
            const at = this[kBase] + o
            return u8.subarray(at + 2, at + 2 + Math.min(u16[at >>> 1], capacity))
          },
          put(base, _slot, x) {
            const at = base + o
            const src = x instanceof ArrayBuffer ? new Uint8Array(x) : (x as ArrayBufferView)
            u8.set(new Uint8Array(src.buffer, src.byteOffset, src.byteLength), at + 2)
            u16[at >>> 1] = src.byteLength
          },
        }
      }
      case 'array': {
        const make = arrayView(f, v.buffer)
        // One view per slot, made the first time it is asked for: no allocation per event.
        const cache: (ArrayLike<unknown> & { set(a: ArrayLike<unknown>): void })[] = []
        const size = this.slotSize
        return {
          ok: (x) => invalid(f, x) === null,
          get() {
            return (cache[this[kSlot]] ??= make(this[kSlot] * size + o))
          },
          put(_base, slot, x) {
            ;(cache[slot] ??= make(slot * size + o)).set(x as ArrayLike<unknown>)
          },
        }
      }
    }
  }
}

function scalar(f: EventField, v: Views, o: number): Accessor {
  const bool = f.kind === 'boolean'
  const [a, shift] = {
    i8: [v.i8, 0],
    u8: [v.u8, 0],
    bool: [v.u8, 0],
    i16: [v.i16, 1],
    u16: [v.u16, 1],
    i32: [v.i32, 2],
    u32: [v.u32, 2],
    f32: [v.f32, 2],
    f64: [v.f64, 3],
  }[f.type as 'u8'] as [Float64Array, number]
  if (bool) {
    return {
      ok: (x) => typeof x === 'boolean',
      get() {
        return a[this[kBase] + o] !== 0
      },
      put(base, _slot, x) {
        a[base + o] = x ? 1 : 0
      },
    }
  }
  return {
    ok: NUMBER_OK[f.type],
    get() {
      return a[(this[kBase] + o) >>> shift]
    },
    put(base, _slot, x) {
      a[(base + o) >>> shift] = x as number
    },
  }
}

function arrayView(f: EventField, buffer: ArrayBuffer) {
  const C = {
    i8: Int8Array,
    u8: Uint8Array,
    i16: Int16Array,
    u16: Uint16Array,
    i32: Int32Array,
    u32: Uint32Array,
    f32: Float32Array,
    f64: Float64Array,
    i64: BigInt64Array,
    u64: BigUint64Array,
  }[f.type as 'u8']
  return (at: number) => new C(buffer, at, f.length)
}
