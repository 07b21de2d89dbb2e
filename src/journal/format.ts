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
import { crc32c } from '../native'

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

export function readPosition(b: Uint8Array, at: number): number {
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength)
  return v.getUint32(at + 4, true) * TWO_32 + v.getUint32(at, true)
}

/** Fills the header of the record at `at` whose payload (already in place) is `length` bytes. */
export function sealRecord(b: Buffer, at: number, length: number, position: number): void {
  b.writeUInt32LE(length, at)
  writePosition(b, at + 8, position)
  b.writeUInt32LE(crc32c(b.subarray(at + 8, at + RECORD_HEADER + length)), at + 4)
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
  let at = SEGMENT_HEADER
  let expected = first
  while (at < b.length) {
    // A bad record with only zeros after it is a torn write (the last write persisted in
    // part, the rest of the file zero-filled); with data after it, damage.
    const bad = (reason: string, extent: number): ScanEnd & { next: number; end: number } => {
      if (zerosFrom(b, Math.min(extent, b.length))) {
        return { kind: 'torn', offset: at, bytes: b.length - at, next: expected, end: at }
      }
      return { kind: 'corrupt', offset: at, position: expected, reason, next: expected, end: at }
    }
    if (at + RECORD_HEADER > b.length)
      return { kind: 'torn', offset: at, bytes: b.length - at, next: expected, end: at }
    const length = b.readUInt32LE(at)
    if (length > MAX_PAYLOAD) return bad(`a record length of ${length} bytes`, at + RECORD_HEADER)
    if (at + RECORD_HEADER + length > b.length) {
      // Past the end: a write cut short, unless a whole record of a later position follows
      // (then this length is damaged, and cutting here would drop what was written after).
      if (laterRecord(b, at + 1, expected)) return bad(`a record length of ${length} bytes`, at + RECORD_HEADER)
      return { kind: 'torn', offset: at, bytes: b.length - at, next: expected, end: at }
    }
    const crc = crc32c(b.subarray(at + 8, at + RECORD_HEADER + length))
    if (crc !== b.readUInt32LE(at + 4)) return bad('a checksum mismatch', at + RECORD_HEADER + length)
    const position = readPosition(b, at + 8)
    if (position !== expected) return bad(`position ${position} where ${expected} was due`, at + RECORD_HEADER + length)
    if (position >= from) each(position, at + RECORD_HEADER, length)
    expected++
    at += RECORD_HEADER + length
  }
  return { kind: 'clean', next: expected, end: at }
}

/** Whether a whole, valid record of a position after `expected` starts at or after `from`. */
function laterRecord(b: Buffer, from: number, expected: number): boolean {
  const most = expected + Math.ceil((b.length - from) / RECORD_HEADER)
  for (let at = from; at + RECORD_HEADER <= b.length; at++) {
    const position = readPosition(b, at + 8)
    if (position <= expected || position > most) continue
    const length = b.readUInt32LE(at)
    if (length > MAX_PAYLOAD || at + RECORD_HEADER + length > b.length) continue
    if (crc32c(b.subarray(at + 8, at + RECORD_HEADER + length)) === b.readUInt32LE(at + 4)) return true
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
