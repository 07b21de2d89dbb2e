/**
 * The journal's files: segments named by the first position they hold, each a header and then
 * records. All little-endian.
 *
 *   segment header (16 bytes): magic "NDJ1" | version u16 (1) | mode u16 | first position u64
 *   record (16-byte header + payload): length u32 | crc32c u32 | position u64 | payload
 *
 * Mode 0 (slots): a record's payload is one slot's bytes. Mode 1 (messages): a kind u32 (text or
 * bytes) and then the message's bytes.
 *
 * The CRC-32C covers the position and the payload, so a record moved or copied to another
 * place does not pass. Positions count the events ever journaled in a directory, from 0,
 * across restarts (a ring's sequences start again at 0 in each process).
 */

import { coded } from '../errors'
import { crc32cRanges } from '../native'

export const MAGIC = 0x314a444e // "NDJ1" read as a little-endian u32
export const VERSION = 1
/** What a journal's records hold (the segment header says which). */
// biome-ignore lint/suspicious/noConstEnum: built by tsc (no isolatedModules), as protocol.ts's
export const enum Mode {
  Slots = 0,
  Messages = 1,
}
export const SEGMENT_HEADER = 16
export const RECORD_HEADER = 16
/** The largest payload a record may claim: larger lengths are garbage, not records. */
export const MAX_PAYLOAD = 64 * 1024 * 1024
const SUFFIX = '.ndj'
const TWO_32 = 2 ** 32

/** A segment's file name: its first position, zero-padded so that names sort as positions. */
export const segmentName = (first: number): string => `${String(first).padStart(16, '0')}${SUFFIX}`

/** The first position a segment file name stands for, or null for a file that is not a segment. */
export function segmentFirst(name: string): number | null {
  if (!/^\d{16}\.ndj$/.test(name)) return null
  return Number(name.slice(0, 16))
}

export function segmentHeader(first: number, mode: Mode): Buffer {
  const b = Buffer.alloc(SEGMENT_HEADER)
  b.writeUInt32LE(MAGIC, 0)
  b.writeUInt16LE(VERSION, 4)
  b.writeUInt16LE(mode, 6)
  writePosition(b, 8, first)
  return b
}

/**
 * ERR_DISRUPTOR_JOURNAL_FOREIGN unless `b` starts with a segment header of this version for
 * `first` (and of `mode`, when given); returns the segment's mode.
 */
export function checkSegmentHeader(b: Buffer, file: string, first: number, mode?: Mode): Mode {
  if (b.length < SEGMENT_HEADER || b.readUInt32LE(0) !== MAGIC) throw foreign(`${file} is not a journal segment`)
  const version = b.readUInt16LE(4)
  if (version !== VERSION) {
    throw foreign(`${file} is a journal segment of version ${version}; this is version ${VERSION}`)
  }
  const found = b.readUInt16LE(6)
  if (found !== Mode.Slots && found !== Mode.Messages) throw foreign(`${file} holds records of unknown mode ${found}`)
  if (mode !== undefined && found !== mode) {
    const what = (m: Mode) => (m === Mode.Messages ? 'messages' : 'slots')
    throw foreign(`${file} holds ${what(found)}; this journal writes ${what(mode)}`)
  }
  if (readPosition(b, 8) !== first) throw foreign(`${file}'s header says it starts at ${readPosition(b, 8)}`)
  return found
}

export function writePosition(b: Uint8Array, at: number, position: number): void {
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength)
  v.setUint32(at, position % TWO_32, true)
  v.setUint32(at + 4, Math.floor(position / TWO_32), true)
}

export function readPosition(b: Buffer, at: number): number {
  return b.readUInt32LE(at + 4) * TWO_32 + b.readUInt32LE(at)
}

/** What a scan found at the end of the records it could read. */
export type ScanEnd =
  /** Every byte belongs to a whole, valid record. */
  | { kind: 'clean' }
  /**
   * A write cut short: the last record runs past the end of the file, or is damaged with only
   * zeros after it (a file extended before its data reached the disk). Never acknowledged
   * under 'batch' (a damaged last record that was is indistinguishable, and counted the same).
   */
  | { kind: 'torn'; offset: number; bytes: number }
  /** A record whose length or checksum is wrong with data after it: damage, not a torn write. */
  | { kind: 'corrupt'; offset: number; position: number; reason: string }

/**
 * Calls `each(position, payloadOffset, length)` for every valid record of segment `b` (its
 * header already checked), in order, from the first at or after `from`; returns how the records
 * end. Positions must follow each other from `first`: a gap is damage.
 */
export function scanSegment(
  b: Buffer,
  first: number,
  from: number,
  each: (position: number, offset: number, length: number) => void,
): ScanEnd & { next: number; end: number } {
  type End = ScanEnd & { next: number; end: number }
  // A bad record with only zeros after it is a torn write (the last write persisted in part,
  // the rest of the file zero-filled); with data after it, damage.
  const bad = (at: number, expected: number, reason: string, extent: number): End => {
    if (zerosFrom(b, Math.min(extent, b.length))) {
      return { kind: 'torn', offset: at, bytes: b.length - at, next: expected, end: at }
    }
    return { kind: 'corrupt', offset: at, position: expected, reason, next: expected, end: at }
  }
  const torn = (at: number, expected: number): End => ({
    kind: 'torn',
    offset: at,
    bytes: b.length - at,
    next: expected,
    end: at,
  })
  // Pass 1: the records' extents, from their lengths, up to the first that cannot be whole
  // (the checksummed ranges: position and payload).
  const most = Math.max(0, Math.floor((b.length - SEGMENT_HEADER) / RECORD_HEADER))
  const starts = new Float64Array(most)
  const spans = new Float64Array(most)
  let count = 0
  let at = SEGMENT_HEADER
  let stop: End | null = null
  while (at < b.length) {
    const expected = first + count
    if (at + RECORD_HEADER > b.length) {
      stop = torn(at, expected)
      break
    }
    const length = b.readUInt32LE(at)
    if (length > MAX_PAYLOAD) {
      stop = bad(at, expected, `a record length of ${length} bytes`, at + RECORD_HEADER)
      break
    }
    if (at + RECORD_HEADER + length > b.length) {
      // Past the end: a write cut short, unless a whole record of a later position follows
      // (then this length is damaged, and cutting here would drop what was written after).
      stop = laterRecord(b, at + 1, expected)
        ? bad(at, expected, `a record length of ${length} bytes`, at + RECORD_HEADER)
        : torn(at, expected)
      break
    }
    starts[count] = at + 8
    spans[count] = length + 8
    count++
    at += RECORD_HEADER + length
  }
  // Pass 2: every checksum in one native call, then the records in order.
  const crcs = crc32cRanges(b, starts.subarray(0, count), spans.subarray(0, count))
  for (let k = 0; k < count; k++) {
    const rec = starts[k] - 8
    const length = spans[k] - 8
    const expected = first + k
    if (crcs[k] !== b.readUInt32LE(rec + 4))
      return bad(rec, expected, 'a checksum mismatch', rec + RECORD_HEADER + length)
    const position = readPosition(b, rec + 8)
    if (position !== expected) {
      return bad(rec, expected, `position ${position} where ${expected} was due`, rec + RECORD_HEADER + length)
    }
    if (position >= from) each(position, rec + RECORD_HEADER, length)
  }
  return stop ?? { kind: 'clean', next: first + count, end: at }
}

/** Whether a whole, valid record of a position after `expected` starts at or after `from`. */
function laterRecord(b: Buffer, from: number, expected: number): boolean {
  const most = expected + Math.ceil((b.length - from) / RECORD_HEADER)
  for (let at = from; at + RECORD_HEADER <= b.length; at++) {
    const position = readPosition(b, at + 8)
    if (position <= expected || position > most) continue
    const length = b.readUInt32LE(at)
    if (length > MAX_PAYLOAD || at + RECORD_HEADER + length > b.length) continue
    if (crc32cRanges(b, Float64Array.of(at + 8), Float64Array.of(length + 8))[0] === b.readUInt32LE(at + 4)) return true
  }
  return false
}

function zerosFrom(b: Buffer, at: number): boolean {
  for (let i = at; i < b.length; i++) if (b[i] !== 0) return false
  return true
}

function foreign(message: string) {
  return coded(new Error(message), 'ERR_DISRUPTOR_JOURNAL_FOREIGN')
}

export function corrupt(file: string, end: { offset: number; position: number; reason: string }) {
  return coded(
    new Error(`journal segment ${file} is damaged at byte ${end.offset} (position ${end.position}): ${end.reason}`),
    'ERR_DISRUPTOR_JOURNAL_CORRUPT',
  )
}
