/**
 * The journaller: a consumer stage that appends every batch it is given to segment files before
 * it returns, placed like LMAX's journaller: stages after it (`andThen`) see an event only once
 * the journal has written it (and, with `fsync: 'batch'`, synced it).
 */

import { randomUUID } from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'

import { coded, rangeError, typeError } from '../errors'
import { KIND_BITS } from '../message/frames'
import { crc32cRanges, crc32cRecords } from '../native'
import type { SinkStage } from '../types'
import { integer } from '../validate'
import {
  checkSegmentHeader,
  corrupt,
  Mode,
  RECORD_HEADER,
  SEGMENT_HEADER,
  scanSegment,
  segmentFirst,
  segmentHeader,
  segmentName,
} from './format'

/** When the journal asks the disk to keep what it wrote (`fdatasync`). */
export type FsyncPolicy = 'none' | 'batch' | { everyMs: number }

export interface JournalOptions {
  /** The directory of the segment files (made if missing). One journal writes to it at a time. */
  dir: string
  /**
   * 'batch' (the default): every batch is synced before the stage returns, so a stage after it
   * acts only on what survives a crash of the machine. `{ everyMs }`: synced at most that long
   * after it was written (a crash of the machine may lose that much; a crash of the process
   * loses nothing written). 'none': left to the operating system (and synced at close).
   */
  fsync?: FsyncPolicy
  /** A segment is closed and a new one begun once it would pass this size (default 64 MiB). */
  segmentBytes?: number
  /** The consumer's name in `stats()` (default 'journal'). */
  name?: string
  /**
   * Write and sync off this thread (libuv's pool) and return a Promise from each batch, which
   * holds the stages after the journal until it settles: the event loop never waits for the
   * disk. Default false: the batch is written (and synced) before `onBatch` returns, which is
   * faster per batch but blocks this thread for each write and sync.
   */
  async?: boolean
  /**
   * Journal messages (`write`, `handleMessagesWith`) instead of slots: one record per message,
   * its kind (text or bytes) and its bytes, whatever slots it took. Default false (one record
   * per slot: raw and typed events). A directory holds one or the other.
   */
  messages?: boolean
}

/** What opening the directory found. */
export interface JournalRecovery {
  /** The position the next record gets: records journaled in this directory so far. */
  position: number
  /** Segment files found. */
  segments: number
  /** Bytes of a torn tail (a write cut short by a crash) cut off the last segment; 0 if none. */
  truncatedBytes: number
}

/** The ring a journal reads slots from (a `Disruptor`, typed or not). */
export interface JournalSource {
  readonly buffer: ArrayBuffer
  readonly slotSize: number
  readonly size: number
  /** @internal A ring with an event layout has no messages. */
  readonly eventType?: unknown
  /** @internal Messages mode: each message starting in `[lo, hi]` (the Disruptor has it). */
  eachFrame?(lo: number, hi: number, visit: (view: Uint8Array, seq: number, kind: number) => unknown): void
}

const DEFAULT_SEGMENT_BYTES = 64 * 1024 * 1024

const write = (fd: number, b: Buffer, offset: number, length: number) =>
  new Promise<number>((resolve, reject) =>
    fs.write(fd, b, offset, length, null, (e, n) => (e === null ? resolve(n) : reject(e))),
  )
const fdatasync = (fd: number) =>
  new Promise<void>((resolve, reject) => fs.fdatasync(fd, (e) => (e === null ? resolve() : reject(e))))
const TWO_32 = 2 ** 32

/**
 * A journal stage for ring `source`: register it as a consumer (`d.handleEventsWith(j)`) and put
 * what must see only journaled events after it (`.andThen(...)`). Each event is one record
 * holding its slot's bytes, numbered by position (see `format.ts`).
 */
export class Journal implements SinkStage {
  readonly name: string
  /** What opening the directory found (torn tail cut, next position). */
  readonly recovered: JournalRecovery
  readonly dir: string
  private readonly fsyncPolicy: FsyncPolicy
  private readonly segmentBytes: number
  private readonly slotSize: number
  private readonly ring: Buffer
  private readonly mask: number
  private fd: number
  private segmentSize: number
  private next: number
  private synced: number
  private scratch: Buffer = Buffer.alloc(0)
  private timer: NodeJS.Timeout | null = null
  private closed = false
  /** A sync failed (EIO: what the disk holds is unknown): every later batch fails with it. */
  private failed: Error | null = null
  private readonly async: boolean
  private readonly mode: Mode
  /** Messages mode: the ring's frames (the Disruptor's). */
  private readonly eachFrame: JournalSource['eachFrame']
  /** Positions given to framed records (ahead of `next` while async writes are in flight). */
  private assigned: number
  /** The async writes, chained in order (each batch's Promise is its link). */
  private tail: Promise<void> = Promise.resolve()
  private readonly lock: string

  constructor(source: JournalSource, options: JournalOptions) {
    if (options === null || typeof options !== 'object') throw typeError('journal options must be an object')
    if (typeof options.dir !== 'string' || options.dir === '') throw typeError('dir must be a non-empty string')
    this.fsyncPolicy = fsyncOption(options.fsync)
    this.segmentBytes =
      options.segmentBytes === undefined
        ? DEFAULT_SEGMENT_BYTES
        : integer('segmentBytes', options.segmentBytes, 4096, 2 ** 40)
    if (options.name !== undefined && typeof options.name !== 'string') throw typeError('name must be a string')
    this.name = options.name ?? 'journal'
    if (options.async !== undefined && typeof options.async !== 'boolean') throw typeError('async must be a boolean')
    this.async = options.async === true
    if (options.messages !== undefined && typeof options.messages !== 'boolean') {
      throw typeError('messages must be a boolean')
    }
    this.mode = options.messages === true ? Mode.Messages : Mode.Slots
    if (this.mode === Mode.Messages && typeof source.eachFrame !== 'function') {
      throw typeError('messages: true needs a Disruptor (its message framing)')
    }
    if (this.mode === Mode.Messages && source.eventType !== undefined && source.eventType !== null) {
      throw coded(
        new Error('messages need a ring of byte slots (this one has an event layout)'),
        'ERR_DISRUPTOR_HAS_EVENT_LAYOUT',
      )
    }
    this.eachFrame = source.eachFrame?.bind(source)
    this.dir = path.resolve(options.dir)
    this.slotSize = source.slotSize
    // A Buffer over the ring's memory (no copy), for Buffer.copy: no view object per record.
    this.ring = Buffer.from(source.buffer)
    this.mask = source.size - 1
    fs.mkdirSync(this.dir, { recursive: true })
    this.lock = takeLock(this.dir)
    try {
      const opened = openLast(this.dir, this.mode)
      this.fd = opened.fd
      this.segmentSize = opened.size
      this.next = opened.recovery.position
      this.recovered = opened.recovery
    } catch (e) {
      releaseLock(this.lock)
      throw e
    }
    this.synced = this.next
    this.assigned = this.next
    if (typeof this.fsyncPolicy === 'object') {
      // A failure is kept (the next batch fails with it), never thrown from the timer.
      this.timer = setInterval(() => {
        try {
          this.sync()
        } catch {}
      }, this.fsyncPolicy.everyMs)
      this.timer.unref()
    }
  }

  /** The position the next event gets (records journaled in this directory, ever). */
  get position(): number {
    return this.next
  }

  /** Records known to be on disk (synced): with 'batch', every record written. */
  get syncedPosition(): number {
    return this.synced
  }

  /**
   * The consumer's batch: one write of every slot in `[lo, hi]`, then the fsync policy; with
   * `async`, a Promise of that (batches are written in the order they come).
   */
  onBatch(lo: number, hi: number): void | Promise<void> {
    if (this.closed) throw coded(new Error('the journal is closed'), 'ERR_DISRUPTOR_CLOSED')
    if (this.failed !== null) throw this.failed
    let n: number
    let bytes: number
    let b: Buffer
    if (this.mode === Mode.Messages) {
      ;[b, n, bytes] = this.frameMessages(lo, hi)
      if (n === 0) return // only the rest of messages that started before this batch
    } else {
      n = hi - lo + 1
      bytes = n * (RECORD_HEADER + this.slotSize)
      if (this.async) b = Buffer.allocUnsafe(bytes)
      else {
        if (this.scratch.length < bytes) this.scratch = Buffer.allocUnsafe(Math.max(bytes, this.scratch.length * 2))
        b = this.scratch
      }
      this.frame(b, lo, n)
    }
    if (!this.async) {
      try {
        this.write(b, bytes, n)
      } catch (e) {
        this.undo()
        throw e
      }
      if (this.fsyncPolicy === 'batch') this.sync()
      return
    }
    // Framed above, while the slots are this stage's; written after the writes before it.
    const link = this.tail.then(async () => {
      if (this.failed !== null) throw this.failed
      try {
        if (this.full(bytes)) {
          await this.guardSync(fdatasync(this.fd))
          this.synced = this.next
          this.rollTo(this.next)
        }
        let done = 0
        while (done < bytes) done += await write(this.fd, b, done, bytes - done)
      } catch (e) {
        this.undo()
        throw e
      }
      this.segmentSize += bytes
      this.next += n
      if (this.fsyncPolicy === 'batch') {
        const written = this.next
        await this.guardSync(fdatasync(this.fd))
        this.synced = written
      }
    })
    // The next batch waits for this one, not for its success (a rewound batch is framed again).
    this.tail = link.catch(() => {})
    return link
  }

  /**
   * Messages mode: a record per message starting in `[lo, hi]` (kind word, then its bytes), in a
   * new buffer; returns it, the count and the bytes.
   */
  private frameMessages(lo: number, hi: number): [Buffer, number, number] {
    const found: [Uint8Array, number][] = []
    let bytes = 0
    ;(this.eachFrame as NonNullable<JournalSource['eachFrame']>)(lo, hi, (view, _seq, kind) => {
      found.push([view, kind & KIND_BITS])
      bytes += RECORD_HEADER + 4 + view.length
    })
    const b = Buffer.allocUnsafe(bytes)
    const starts = new Float64Array(found.length)
    const spans = new Float64Array(found.length)
    let at = 0
    for (let k = 0; k < found.length; k++) {
      const [view, kind] = found[k]
      const position = this.assigned++
      const length = 4 + view.length
      b.writeUInt32LE(length, at)
      b.writeUInt32LE(position % TWO_32, at + 8)
      b.writeUInt32LE(Math.floor(position / TWO_32), at + 12)
      b.writeUInt32LE(kind, at + RECORD_HEADER)
      b.set(view, at + RECORD_HEADER + 4)
      starts[k] = at + 8
      spans[k] = length + 8
      at += RECORD_HEADER + length
    }
    // The checksums (position and payload) in one native call for the batch.
    const crcs = crc32cRanges(b, starts, spans)
    for (let k = 0; k < found.length; k++) b.writeUInt32LE(crcs[k], starts[k] - 4)
    return [b, found.length, bytes]
  }

  /** Frames the `n` slots from sequence `lo` as records at the start of `b`, checksums included. */
  private frame(b: Buffer, lo: number, n: number): void {
    const slot = this.slotSize
    const stride = RECORD_HEADER + slot
    const ring = this.ring
    for (let i = 0, at = 0; i < n; i++, at += stride) {
      const from = ((lo + i) & this.mask) * slot
      const position = this.assigned + i
      b.writeUInt32LE(slot, at)
      b.writeUInt32LE(position % TWO_32, at + 8)
      b.writeUInt32LE(Math.floor(position / TWO_32), at + 12)
      // Small slots byte by byte: a Buffer.copy is a native call (~60 ns) per record.
      if (slot <= 64) for (let k = 0, to = at + RECORD_HEADER; k < slot; k++) b[to + k] = ring[from + k]
      else ring.copy(b, at + RECORD_HEADER, from, from + slot)
    }
    // The checksums in one native call (position and payload of each record).
    crc32cRecords(b, 0, n, stride, 8, 8 + slot, 4)
    this.assigned += n
  }

  /** Whether `bytes` more would pass the segment size (a segment holds at least one batch). */
  private full(bytes: number): boolean {
    return this.segmentSize > SEGMENT_HEADER && this.segmentSize + bytes > this.segmentBytes
  }

  /** Writes `bytes` of framed records (`n` of them), rolling to a new segment first if full. */
  private write(b: Buffer, bytes: number, n: number): void {
    if (this.full(bytes)) {
      this.syncNow()
      this.rollTo(this.next)
    }
    writeAll(this.fd, b, bytes)
    this.segmentSize += bytes
    this.next += n
  }

  /** Syncs what was written (the `{ everyMs }` timer calls it; so does `close`). */
  sync(): void {
    if (this.closed || this.failed !== null || this.synced === this.next) return
    this.syncNow()
  }

  /** fdatasync now; a failure stops the journal (retrying a failed sync is not safe). */
  private syncNow(): void {
    const written = this.next
    try {
      fs.fdatasyncSync(this.fd)
    } catch (e) {
      throw this.fail(e)
    }
    this.synced = written
  }

  private async guardSync(sync: Promise<void>): Promise<void> {
    try {
      await sync
    } catch (e) {
      throw this.fail(e)
    }
  }

  private fail(e: unknown): Error {
    this.failed ??= coded(
      new Error(`journal ${this.dir}: a sync failed; what the disk holds is unknown, so the journal stops`, {
        cause: e,
      }),
      'ERR_DISRUPTOR_JOURNAL_FAILED',
    )
    return this.failed
  }

  /**
   * A write that failed: the segment back to its last whole record (a part written would read as
   * damage), and positions given to the batch taken back (a rewind frames it again).
   */
  private undo(): void {
    this.assigned = this.next
    try {
      fs.ftruncateSync(this.fd, this.segmentSize)
    } catch (e) {
      this.fail(e)
    }
  }

  /** The consumer stops (the ring closed or halted): the journal syncs and closes its files. */
  onShutdown(): void {
    // Async writes have settled by now (the ring waits for a batch's Promise before its
    // consumer stops); a failure to sync or close is reported, as the process would see it.
    this.close().catch((e: Error) =>
      process.emitWarning(`journal ${this.dir}: ${e.message}`, 'DisruptorJournalWarning'),
    )
  }

  /**
   * Syncs and closes the journal (the directory may then be opened again). With `async`
   * writes still in flight, it closes once they are done; the Promise says when.
   */
  close(): Promise<void> {
    if (this.closed) return this.tail.catch(() => {})
    const finish = () => {
      try {
        if (this.failed === null && this.synced !== this.next) this.syncNow()
      } finally {
        fs.closeSync(this.fd)
        releaseLock(this.lock)
      }
    }
    this.closed = true
    if (this.timer !== null) clearInterval(this.timer)
    if (this.assigned === this.next) {
      finish()
      return Promise.resolve()
    }
    this.tail = this.tail.catch(() => {}).then(finish)
    return this.tail
  }

  /**
   * Deletes the segments whose every record is below `position` (retention: what a snapshot
   * or a downstream system already holds). The segment being written is kept. Returns how many
   * files were deleted.
   */
  deleteBelow(position: number): number {
    integer('position', position, 0, Number.MAX_SAFE_INTEGER)
    const firsts = listSegments(this.dir)
    let deleted = 0
    // A segment ends where the next begins: it can go when that is at or below `position`.
    for (let i = 0; i + 1 < firsts.length; i++) {
      if (firsts[i + 1] > position) break
      fs.rmSync(path.join(this.dir, segmentName(firsts[i])))
      deleted++
    }
    if (deleted > 0) syncDir(this.dir)
    return deleted
  }

  /** Closes the segment being written (synced before) and begins the one starting at `first`. */
  private rollTo(first: number): void {
    // The new segment first: if it cannot be made, this one stays open and whole.
    const fd = createSegment(this.dir, first, this.mode)
    fs.closeSync(this.fd)
    this.fd = fd
    this.segmentSize = SEGMENT_HEADER
  }
}

/** `new Journal(source, options)`: the journal stage of ring `source`. */
export function journal(source: JournalSource, options: JournalOptions): Journal {
  return new Journal(source, options)
}

function fsyncOption(v: unknown): FsyncPolicy {
  if (v === undefined) return 'batch'
  if (v === 'none' || v === 'batch') return v
  if (v !== null && typeof v === 'object' && 'everyMs' in v) {
    return { everyMs: integer('fsync.everyMs', (v as { everyMs: unknown }).everyMs, 1, 2 ** 31 - 1) }
  }
  throw rangeError(`fsync must be 'none', 'batch' or { everyMs }, got ${String(v)}`)
}

/** Segment first positions in `dir`, ascending (other files are left alone). */
export function listSegments(dir: string): number[] {
  const out: number[] = []
  for (const name of fs.readdirSync(dir)) {
    const first = segmentFirst(name)
    if (first !== null) out.push(first)
  }
  return out.sort((a, b) => a - b)
}

/** Opens the last segment for appending, cutting a torn tail off it (made if there is none). */
function openLast(dir: string, mode: Mode): { fd: number; size: number; recovery: JournalRecovery } {
  const firsts = listSegments(dir)
  if (firsts.length === 0) {
    return {
      fd: createSegment(dir, 0, mode),
      size: SEGMENT_HEADER,
      recovery: { position: 0, segments: 0, truncatedBytes: 0 },
    }
  }
  const first = firsts[firsts.length - 1]
  const file = path.join(dir, segmentName(first))
  const b = fs.readFileSync(file)
  if (b.length < SEGMENT_HEADER && b.every((x) => x === 0)) {
    // Made, and its header never reached the disk (a crash right after a roll): made again.
    fs.rmSync(file)
    return {
      fd: createSegment(dir, first, mode),
      size: SEGMENT_HEADER,
      recovery: { position: first, segments: firsts.length, truncatedBytes: b.length },
    }
  }
  checkSegmentHeader(b, file, first, mode)
  const end = scanSegment(b, first, Number.POSITIVE_INFINITY, () => {})
  if (end.kind === 'corrupt') throw corrupt(file, end)
  const fd = fs.openSync(file, 'r+')
  let truncatedBytes = 0
  if (end.kind === 'torn') {
    fs.ftruncateSync(fd, end.end)
    fs.fdatasyncSync(fd)
    truncatedBytes = end.bytes
  }
  fs.closeSync(fd)
  return {
    fd: fs.openSync(file, 'a'),
    size: end.end,
    recovery: { position: end.next, segments: firsts.length, truncatedBytes },
  }
}

function createSegment(dir: string, first: number, mode: Mode): number {
  const fd = fs.openSync(path.join(dir, segmentName(first)), 'wx')
  writeAll(fd, segmentHeader(first, mode), SEGMENT_HEADER)
  fs.fdatasyncSync(fd)
  syncDir(dir)
  return fd
}

function writeAll(fd: number, b: Buffer, bytes: number): void {
  let done = 0
  while (done < bytes) done += fs.writeSync(fd, b, done, bytes - done)
}

/** Makes a new or removed file name durable (the directory's own entry list). */
function syncDir(dir: string): void {
  const fd = fs.openSync(dir, 'r')
  try {
    fs.fsyncSync(fd)
  } finally {
    fs.closeSync(fd)
  }
}

/** Directories this process holds journal locks on. */
const held = new Set<string>()
/** This process's lock token: a pid alone repeats (a container's node is often pid 1). */
const TOKEN = `${process.pid} ${randomUUID()}`

/**
 * One journal per directory: a lock file holding the writer's pid and a token of its process.
 * A lock of a process that no longer exists (killed), or of an earlier process that had this
 * pid, is taken over: renamed away first (one of two processes taking it over at once wins the
 * rename), then made anew with O_EXCL. One held by a live process (or by this one) is refused.
 */
function takeLock(dir: string): string {
  const lock = path.join(dir, 'journal.lock')
  const refuse = () =>
    coded(new Error(`the journal in ${dir} is open elsewhere (${lock})`), 'ERR_DISRUPTOR_JOURNAL_LOCKED')
  if (held.has(lock)) throw refuse()
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      fs.writeFileSync(lock, `${TOKEN}\n`, { flag: 'wx' })
      held.add(lock)
      return lock
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e
    }
    let content: string
    try {
      content = fs.readFileSync(lock, 'utf8')
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') continue // released meanwhile
      throw e
    }
    const [pidText, token] = content.trim().split(' ')
    const pid = Number.parseInt(pidText, 10)
    // Being written (no token yet: unless for seconds, a writer that died there), or a live
    // process other than an earlier one with our pid.
    const young = () => Date.now() - fs.statSync(lock).mtimeMs < 5000
    if (token === undefined && young()) throw refuse()
    if (token !== undefined && pid !== process.pid && Number.isInteger(pid) && alive(pid)) throw refuse()
    try {
      fs.renameSync(lock, `${lock}.stale-${randomUUID()}`)
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e
    }
    for (const f of fs.readdirSync(dir))
      if (f.startsWith('journal.lock.stale-')) fs.rmSync(path.join(dir, f), { force: true })
  }
  throw refuse()
}

function releaseLock(lock: string): void {
  held.delete(lock)
  fs.rmSync(lock, { force: true })
}
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM'
  }
}
