/**
 * Reading and writing typed events in a ring's slots: flyweights (an object whose accessors
 * read and write one slot in place, moved from slot to slot: no allocation per event), plain
 * objects (`read`), and whole events copied in after every field was checked (`emitEvent`).
 *
 * The accessors, the check and the copy are generated per layout (`new Function`), with each
 * field's offset and typed array written into the code: one generic accessor shared by every
 * field sees every field's type at one call site and cannot be inlined (it measured about 100 ns
 * per 4-field event against 15 for hand-written offsets). The generated code takes only
 * numbers and escaped names from the layout (`defineEvent` checked both).
 */

import { rangeError, typeError } from '../errors'
import type { EventField, EventType } from './layout'
import { decoder, invalid, outOfRange, putUtf8, shortAscii, TWO_32, Views, writeUtf8 } from './values'

/** A flyweight's ring and place in it: symbols, so that every string name is free for a field. */
const kViews = Symbol('views')
const kBase = Symbol('base')

/** A flyweight: the event's fields as accessors on the slot it was last moved to. */
export interface Flyweight {
  [kViews]: Views
  /** The slot's byte offset. */
  [kBase]: number
}

/** What the generated code is made of, per layout and buffer. */
interface Generated {
  Fly: new (views: Views) => Flyweight
  check(values: unknown): void
  write(views: Views, base: number, values: Record<string, unknown>): void
  read(views: Views, base: number): Record<string, unknown>
  /** Array fields (each has a view cache in `Views`). */
  arrays: number
}

/** Typed array of each numeric type, and log2 of its width. */
const ARRAY: Readonly<Record<string, [string, number]>> = {
  i8: ['i8', 0],
  u8: ['u8', 0],
  bool: ['u8', 0],
  i16: ['i16', 1],
  u16: ['u16', 1],
  i32: ['i32', 2],
  u32: ['u32', 2],
  f32: ['f32', 2],
  f64: ['f64', 3],
  i64: ['i64', 3],
  u64: ['u64', 3],
}

/** The fast check of a value `v` for each numeric type (`invalid` says why one fails). */
const NUMBER_CHECK: Readonly<Record<string, string>> = {
  u8: `typeof v === 'number' && (v & 0xff) === v`,
  i8: `typeof v === 'number' && ((v << 24) >> 24) === v`,
  u16: `typeof v === 'number' && (v & 0xffff) === v`,
  i16: `typeof v === 'number' && ((v << 16) >> 16) === v`,
  u32: `typeof v === 'number' && v >>> 0 === v`,
  i32: `typeof v === 'number' && (v | 0) === v`,
  f32: `typeof v === 'number'`,
  f64: `typeof v === 'number'`,
}

/**
 * The code of one field: a check of `v`, a read and a write at byte base `b` in the views `V`
 * (a local of the generated function: the flyweight's, or the one `write`/`read` take).
 */
function fieldCode(
  f: EventField,
  i: number,
  arrayIndex: number,
): { check: string; get: (b: string) => string; put: (b: string) => string; set?: (b: string) => string } {
  const o = f.offset
  const at = (b: string) => `(${b} + ${o})`
  switch (f.kind) {
    case 'number': {
      const [a, sh] = ARRAY[f.type]
      return {
        check: NUMBER_CHECK[f.type],
        get: (b) => `V.${a}[${at(b)} >>> ${sh}]`,
        put: (b) => `V.${a}[${at(b)} >>> ${sh}] = v`,
      }
    }
    case 'boolean':
      return {
        check: `typeof v === 'boolean'`,
        get: (b) => `V.u8[${at(b)}] !== 0`,
        put: (b) => `V.u8[${at(b)}] = v ? 1 : 0`,
      }
    case 'bigint': {
      const [a] = ARRAY[f.type]
      const fits = f.type === 'i64' ? 'BigInt.asIntN(64, v) === v' : 'BigInt.asUintN(64, v) === v'
      return {
        check: `typeof v === 'bigint' && ${fits}`,
        get: (b) => `V.${a}[${at(b)} >>> 3]`,
        put: (b) => `V.${a}[${at(b)} >>> 3] = v`,
      }
    }
    case 'int-number': {
      const min = f.type === 'i64' ? -Number.MAX_SAFE_INTEGER : 0
      const hi = f.type === 'i64' ? 'i32' : 'u32'
      return {
        check: `typeof v === 'number' && Number.isSafeInteger(v) && v >= ${min}`,
        get: (b) => `safe(V.${hi}[(${at(b)} >>> 2) + 1] * TWO_32 + V.u32[${at(b)} >>> 2], ${i})`,
        // Two 32-bit halves, no BigInt (no allocation): ToUint32 keeps the low 32 bits of an
        // exact integer, floor division the high ones (two's complement for negatives).
        put: (b) => `V.u32[${at(b)} >>> 2] = v >>> 0; V.u32[(${at(b)} >>> 2) + 1] = Math.floor(v / TWO_32) >>> 0`,
      }
    }
    case 'utf8':
      return {
        // A UTF-16 code unit takes at most 3 bytes of UTF-8: most strings fit on sight.
        check: `typeof v === 'string' && (v.length * 3 <= ${f.length} || Buffer.byteLength(v, 'utf8') <= ${f.length})`,
        get: (b) => `str(V, ${at(b)}, ${f.length})`,
        // Checked: a getter may hand over a longer string than the one `check` saw.
        put: (b) =>
          `if (!putUtf8(V, ${at(b)}, v, ${f.length})) V.u16[${at(b)} >>> 1] = writeUtf8(V.u8, ${at(b)} + 2, v, ${f.length})`,
        // The setter checks as it writes (nothing written if it does not fit): one pass, no call.
        set: (b) => `if (typeof v !== 'string' || !putUtf8(V, ${at(b)}, v, ${f.length})) throw bad(${i}, v)`,
      }
    case 'bytes':
      return {
        check: `invalid(F[${i}], v) === null`,
        get: (b) => `V.u8.subarray(${at(b)} + 2, ${at(b)} + 2 + Math.min(V.u16[${at(b)} >>> 1], ${f.length}))`,
        put: (b) => `putBytes(V, ${at(b)}, v, ${f.length})`,
      }
    case 'array': {
      // One view per slot, made the first time it is asked for: no allocation per event.
      const k = arrayIndex
      return {
        check: `invalid(F[${i}], v) === null`,
        get: (b) => `(V.cache[${k}][${b} / V.size] ??= view(V, ${i}, ${at(b)}))`,
        put: (b) => `(V.cache[${k}][${b} / V.size] ??= view(V, ${i}, ${at(b)})).set(v)`,
      }
    }
  }
}

/** A generated setter's body: the field's own checked write, or its check then its write. */
function setter(code: ReturnType<typeof fieldCode>, i: number): string {
  if (code.set !== undefined) return `const V = this[kV]; ${code.set('this[kB]')}`
  return `if (!(${code.check})) throw bad(${i}, v); const V = this[kV]; ${code.put('this[kB]')}`
}

/** Generated code by layout: made once per layout, shared by every ring of it on this thread. */
const generated = new WeakMap<EventType, Generated>()

function generate(type: EventType): Generated {
  const done = generated.get(type)
  if (done !== undefined) return done
  const q = JSON.stringify
  const fields = type.fields
  let arrays = 0
  const code = fields.map((f, i) => fieldCode(f, i, f.kind === 'array' ? arrays++ : -1))
  const accessors = fields
    .map(
      (f, i) => `
    get ${q(f.name)}() { const V = this[kV]; return ${code[i].get('this[kB]')} }
    set ${q(f.name)}(v) { ${setter(code[i], i)} }`,
    )
    .join('')
  const checks = fields
    .map((f, i) => `v = values[${q(f.name)}]; if (v !== undefined && !(${code[i].check})) throw bad(${i}, v)`)
    .join('\n    ')
  const writes = fields
    .map(
      (f, i) =>
        `v = values[${q(f.name)}]; if (v === undefined) V.u8.fill(0, b + ${f.offset}, b + ${f.offset + f.size}); else { ${code[i].put('b')} }`,
    )
    .join('\n    ')
  const reads = fields
    .map((f, i) => {
      const get = code[i].get('b')
      return `${q(f.name)}: ${f.kind === 'array' || f.kind === 'bytes' ? `(${get}).slice()` : get}`
    })
    .join(',\n      ')
  const source = `
  'use strict'
  class Fly {
    constructor(V) { this[kV] = V; this[kB] = 0 }${accessors}
  }
  function check(values) {
    if (values === null || typeof values !== 'object') throw typeError('an event must be an object')
    for (const key in values) {
      switch (key) {
        case ${fields.map((f) => q(f.name)).join(': case ')}:
          break
        default:
          throw rangeError('the event has no field ' + JSON.stringify(key))
      }
    }
    let v
    ${checks}
  }
  function write(V, b, values) {
    let v
    ${writes}
  }
  function read(V, b) {
    return {
      ${reads}
    }
  }
  return { Fly, check, write, read, arrays: ${arrays} }`
  const helpers = {
    F: fields,
    kV: kViews,
    kB: kBase,
    TWO_32,
    typeError,
    rangeError,
    invalid,
    writeUtf8,
    putUtf8,
    bad: (i: number, v: unknown) => invalid(fields[i], v) ?? typeError(`field '${fields[i].name}': invalid value`),
    safe: (x: number, i: number) => {
      if (Number.isSafeInteger(x)) return x
      throw outOfRange(`field '${fields[i].name}' holds a value past 2**53 - 1`)
    },
    str: (V: Views, at: number, capacity: number) => {
      // Clamped: a foreign writer's length never reads past the field.
      const n = Math.min(V.u16[at >>> 1], capacity)
      return (n <= 16 ? shortAscii(V.u8, at + 2, n) : null) ?? decoder.decode(V.u8.subarray(at + 2, at + 2 + n))
    },
    putBytes: (V: Views, at: number, x: ArrayBuffer | ArrayBufferView, capacity: number) => {
      const all = x instanceof ArrayBuffer ? new Uint8Array(x) : new Uint8Array(x.buffer, x.byteOffset, x.byteLength)
      // Bounded here too: a getter may hand over something longer than what was checked.
      const src = all.byteLength > capacity ? all.subarray(0, capacity) : all
      V.u8.set(src, at + 2)
      V.u16[at >>> 1] = src.byteLength
    },
    view: (V: Views, i: number, at: number) => arrayView(fields[i], V.buffer, at),
  }
  const make = new Function(...Object.keys(helpers), source)
  const result = make(...Object.values(helpers)) as Generated
  generated.set(type, result)
  return result
}

const ARRAY_CLASS = {
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
}

function arrayView(f: EventField, buffer: ArrayBuffer, at: number) {
  return new ARRAY_CLASS[f.type as 'u8'](buffer, at, f.length)
}

/**
 * One event type over one ring buffer (one per thread: each thread has its own ArrayBuffer
 * over the ring's memory): its flyweights, `read`, `check` and `write`.
 */
export class EventCodec {
  private readonly code: Generated
  private readonly views: Views

  constructor(
    readonly type: EventType,
    buffer: ArrayBuffer,
    private readonly slotSize: number,
  ) {
    this.code = generate(type)
    this.views = new Views(buffer, slotSize, this.code.arrays)
  }

  /** A new flyweight (at slot 0 until moved). */
  flyweight(): Flyweight {
    return new this.code.Fly(this.views)
  }

  /** Moves `fly` to `slot` (a slot index, `seq % size`). */
  moveTo(fly: Flyweight, slot: number): void {
    fly[kBase] = slot * this.slotSize
  }

  /** The event in `slot` as a plain object (arrays and bytes copied out). */
  read(slot: number): Record<string, unknown> {
    return this.code.read(this.views, slot * this.slotSize)
  }

  /**
   * Throws the first invalid thing about `values` (not an object, an unknown field, a value of
   * the wrong type or out of range); writes nothing.
   */
  check(values: unknown): void {
    this.code.check(values)
  }

  /** Writes `values` (`check`ed) into `slot`: every field, those not given as zero or empty. */
  write(slot: number, values: Record<string, unknown>): void {
    this.code.write(this.views, slot * this.slotSize, values)
  }
}
