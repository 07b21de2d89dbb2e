/**
 * Replay: the records of a journal directory from a position, in order, each checked (length,
 * CRC-32C, position), as an async iterator or published back into a ring. A torn tail of the
 * last segment (a crash mid-write) ends the replay and is counted; damage anywhere else is an
 * error (ERR_DISRUPTOR_JOURNAL_CORRUPT), never a record.
 */

import fs from 'node:fs'
import path from 'node:path'

import { coded, typeError } from '../errors'
import { KIND_BITS, Kind } from '../message/frames'
import type { RingSource } from '../types'
import { integer } from '../validate'
import { checkSegmentHeader, corrupt, Mode, scanSegment, segmentName } from './format'
import { listSegments } from './journal'

export interface ReplayOptions {
  /** The journal's directory. */
  dir: string
  /** The first position to replay (default 0). */
  from?: number
}

/**
 * One journaled event: its position and its slot's bytes (a view of the segment read); from a
 * journal of messages, the message's bytes and its kind.
 */
export interface ReplayRecord {
  position: number
  data: Buffer
  /** Messages journals only: whether the message was written as a string or as bytes. */
  kind?: 'text' | 'bytes'
}

/** Where a replay into a ring (or an iteration) ended. */
export interface ReplayResult {
  /** Records replayed. */
  records: number
  /** The position after the last record replayed (where a new journal goes on). */
  position: number
  /** Bytes of a torn tail after the last record (a write cut short), not replayed. */
  tornBytes: number
}

/** The ring a replay publishes into (a `Disruptor` whose slots are the records' size). */
export interface ReplayTarget {
  readonly slotSize: number
  readonly buffer: ArrayBuffer
  readonly size: number
  nextAsync(n?: number): Promise<number>
  publish(lo: number, hi?: number): void
  offset(seq: number): number
  /** For a journal of messages: writes one message (the Disruptor's `writeAsync`). */
  writeAsync?(data: string | Uint8Array): Promise<number>
}

/** The records of a journal as an async iterator; `result` says where it ended once it is done. */
export class Replay implements AsyncIterable<ReplayRecord> {
  readonly result: ReplayResult = { records: 0, position: 0, tornBytes: 0 }
  private readonly dir: string
  private readonly from: number
  private stopped = false

  constructor(options: ReplayOptions) {
    if (options === null || typeof options !== 'object') throw typeError('replay options must be an object')
    if (typeof options.dir !== 'string' || options.dir === '') throw typeError('dir must be a non-empty string')
    this.dir = path.resolve(options.dir)
    this.from = options.from === undefined ? 0 : integer('from', options.from, 0, Number.MAX_SAFE_INTEGER)
  }

  [Symbol.asyncIterator](): AsyncIterator<ReplayRecord> {
    // Not an async generator: its machinery cost about as much per record as reading it.
    const segments = this.segments()
    let batch: ReplayRecord[] = []
    let i = 0
    let started = false
    return {
      next: async (): Promise<IteratorResult<ReplayRecord>> => {
        while (i >= batch.length) {
          // Between segments: let the event loop run (a replay of many segments is long).
          if (started) await new Promise((resolve) => setImmediate(resolve))
          started = true
          const r = segments.next()
          if (r.done === true) return { value: undefined, done: true }
          batch = r.value
          i = 0
        }
        return { value: batch[i++], done: false }
      },
      return: async (): Promise<IteratorResult<ReplayRecord>> => {
        segments.return(undefined)
        return { value: undefined, done: true }
      },
    }
  }

  /** Every segment's records in order, read and checked a segment at a time. */
  *segments(): Generator<ReplayRecord[]> {
    const firsts = listSegments(this.dir)
    this.result.position = this.from
    if (firsts.length === 0) return
    if (this.from < firsts[0]) {
      throw coded(
        new RangeError(`position ${this.from} is no longer in the journal (it starts at ${firsts[0]})`),
        'ERR_OUT_OF_RANGE',
      )
    }
    let expected = firsts[0]
    for (let i = 0; i < firsts.length; i++) {
      const first = firsts[i]
      const last = i === firsts.length - 1
      const file = path.join(this.dir, segmentName(first))
      if (first !== expected) {
        throw corrupt(file, {
          offset: 0,
          position: expected,
          reason: `records ${expected} to ${first - 1} are missing`,
        })
      }
      // Segments wholly before `from` are skipped unread (the next one says where this one ends).
      if (!last && firsts[i + 1] <= this.from) {
        expected = firsts[i + 1]
        continue
      }
      const b = fs.readFileSync(file)
      // The last segment, made and its header never written (a crash right after a roll): empty.
      if (last && b.length < 16 && b.every((x) => x === 0)) {
        this.result.tornBytes = b.length
        continue
      }
      const mode = checkSegmentHeader(b, file, first)
      const records: ReplayRecord[] = []
      const end = scanSegment(b, first, this.from, (position, offset, length) => {
        if (mode === Mode.Slots) records.push({ position, data: b.subarray(offset, offset + length) })
        else {
          const kind = (b.readUInt32LE(offset) & KIND_BITS) === Kind.Text ? 'text' : 'bytes'
          records.push({ position, data: b.subarray(offset + 4, offset + length), kind })
        }
      })
      if (end.kind === 'corrupt') throw corrupt(file, end)
      if (end.kind === 'torn' && !last) {
        throw corrupt(file, { offset: end.offset, position: end.next, reason: 'a sealed segment ends mid-record' })
      }
      if (records.length > 0) {
        this.result.records += records.length
        this.result.position = records[records.length - 1].position + 1
        yield records
      }
      if (end.kind === 'torn') this.result.tornBytes = end.bytes
      expected = end.next
    }
    if (this.from > expected) {
      throw coded(new RangeError(`position ${this.from} is past the journal's end (${expected})`), 'ERR_OUT_OF_RANGE')
    }
  }

  /** Publishes every record into `target`, in order, a segment's run at a time. */
  async into(target: ReplayTarget): Promise<ReplayResult> {
    const slot = target.slotSize
    const ring = Buffer.from(target.buffer)
    for (const records of this.segments()) {
      if (records[0].kind !== undefined) {
        // Messages: written again as messages (their slots and framing are the new ring's).
        if (typeof target.writeAsync !== 'function') throw typeError('a journal of messages replays into a Disruptor')
        for (const r of records) {
          if (this.stopped) break
          await target.writeAsync(r.kind === 'text' ? r.data.toString('utf8') : r.data)
        }
        if (this.stopped) break
        continue
      }
      let i = 0
      while (i < records.length && !this.stopped) {
        const n = Math.min(records.length - i, Math.max(1, target.size >> 2))
        const hi = await target.nextAsync(n)
        const lo = hi - n + 1
        try {
          for (let k = 0; k < n; k++) {
            const data = records[i + k].data
            if (data.length !== slot) {
              throw coded(
                new RangeError(
                  `journal record ${records[i + k].position} holds ${data.length} bytes; the ring's slots hold ${slot}`,
                ),
                'ERR_INVALID_ARG_VALUE',
              )
            }
            data.copy(ring, target.offset(lo + k))
          }
        } finally {
          // A claim is always published (a record that did not fit leaves its slot as it was).
          target.publish(lo, hi)
        }
        i += n
      }
      if (this.stopped) break
    }
    return this.result
  }

  /**
   * This replay as a `RingSource` of ring `target` (what `fromJetStream` is too): `start()`
   * publishes the records (`into`), `stop()` ends it after the run in progress.
   */
  source(target: ReplayTarget): RingSource {
    let running: Promise<ReplayResult> | null = null
    return {
      acknowledge: null,
      start: async () => {
        running ??= this.into(target)
        await running
      },
      stop: async () => {
        this.stopped = true
        await running?.catch(() => {})
      },
    }
  }
}

/**
 * The records of the journal in `dir` from position `from`: `for await (const r of replay(...))`,
 * or `await replay(...).into(d)` to publish them into ring `d`.
 */
export function replay(options: ReplayOptions): Replay {
  return new Replay(options)
}
