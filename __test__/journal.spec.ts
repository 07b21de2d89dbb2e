// The journal (napi-disruptor/journal): a consumer stage that writes every batch to segment files
// before later stages see it; replay reads the records back, checked. Real files, real processes
// killed with SIGKILL.
import { spawn, spawnSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'

import test from 'ava'

import { Disruptor } from '../src'
import { journal, replay } from '../src/journal'

const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'ndj-'))
const segments = (dir: string) =>
  fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.ndj'))
    .sort()

/** Publishes values `from, from + 1, ...` (`count` of them) into a 16-byte-slot ring, one event each. */
async function publish(d: Disruptor, from: number, count: number) {
  const f64 = new Float64Array(d.buffer)
  for (let i = 0; i < count; i++) {
    const s = await d.nextAsync()
    f64[d.offset(s) / 8] = from + i
    f64[d.offset(s) / 8 + 1] = (from + i) * 3
    d.publish(s)
  }
}

/** A started 16-slot ring journaling into `dir` (segments of 4 KiB) with `count` events published. */
async function journaled(dir: string, count: number) {
  const d = new Disruptor({ size: 16, slotSize: 16 })
  const j = journal(d, { dir, segmentBytes: 4096 })
  d.handleEventsWith(j)
  d.start()
  await publish(d, 0, count)
  await d.drain()
  return { d, j }
}

async function records(dir: string, from = 0) {
  const out: { position: number; value: number; check: number }[] = []
  const r = replay({ dir, from })
  for await (const rec of r)
    out.push({ position: rec.position, value: rec.data.readDoubleLE(0), check: rec.data.readDoubleLE(8) })
  return { out, result: r.result }
}

for (const async of [false, true]) {
  test(`stages after the journal see only journaled events; replay gives them back in order, from any position${async ? ' (async)' : ''}`, async (t) => {
    const dir = tmp()
    const d = new Disruptor({ size: 64, slotSize: 16 })
    const j = journal(d, { dir, segmentBytes: 4096, async })
    t.deepEqual(j.recovered, { position: 0, segments: 0, truncatedBytes: 0 })
    let seen = 0
    let early = 0
    d.handleEventsWith(j).andThen((_lo, hi) => {
      if (j.syncedPosition < hi + 1) early++ // 'batch': synced before the stage returned
      seen = hi + 1
    })
    d.start()
    await publish(d, 0, 1000)
    await d.close()
    t.is(seen, 1000)
    t.is(early, 0)
    t.is(j.position, 1000)
    t.true(segments(dir).length > 1, 'rolled by size')
    t.false(fs.existsSync(path.join(dir, 'journal.lock')), 'closed with the ring')

    const all = await records(dir)
    t.is(all.out.length, 1000)
    t.true(all.out.every((r, i) => r.position === i && r.value === i && r.check === i * 3))
    t.deepEqual(all.result, { records: 1000, position: 1000, tornBytes: 0 })
    const tail = await records(dir, 777)
    t.deepEqual(
      tail.out.map((r) => r.position),
      Array.from({ length: 223 }, (_, i) => 777 + i),
    )
  })
}

test('async: close() while writes are in flight resolves once they are written and synced', async (t) => {
  const dir = tmp()
  const d = new Disruptor({ size: 64, slotSize: 16 })
  const j = journal(d, { dir, async: true, fsync: 'none' })
  const f64 = new Float64Array(d.buffer)
  for (let s = 0; s < 40; s++) f64[d.offset(s) / 8] = s
  const writes = [j.onBatch(0, 9), j.onBatch(10, 39)]
  const closed = j.close()
  t.throws(() => j.onBatch(40, 40), { code: 'ERR_DISRUPTOR_CLOSED' })
  await Promise.all([...writes, closed])
  t.is(j.position, 40)
  t.is(j.syncedPosition, 40)
  t.false(fs.existsSync(path.join(dir, 'journal.lock')))
  t.deepEqual(
    (await records(dir)).out.map((r) => r.value),
    Array.from({ length: 40 }, (_, i) => i),
  )
  d.halt()
})

test('a journal opened again goes on from the last position; replay into a ring publishes the records', async (t) => {
  const dir = tmp()
  for (const from of [0, 300]) {
    const d = new Disruptor({ size: 32, slotSize: 16 })
    // The second session writes off the thread (async), through two segment rolls.
    const j = journal(d, { dir, fsync: from === 0 ? 'none' : 'batch', segmentBytes: 8192, async: from > 0 })
    t.is(j.recovered.position, from)
    d.handleEventsWith(j)
    d.start()
    await publish(d, from, 300)
    await d.close()
  }
  const target = new Disruptor({ size: 16, slotSize: 16 })
  const f64 = new Float64Array(target.buffer)
  const got: number[] = []
  target.handleEventsWith((lo, hi) => {
    for (let s = lo; s <= hi; s++) got.push(f64[target.offset(s) / 8])
  })
  target.start()
  const result = await replay({ dir, from: 100 }).into(target)
  await target.close()
  t.deepEqual(result, { records: 500, position: 600, tornBytes: 0 })
  t.deepEqual(
    got,
    Array.from({ length: 500 }, (_, i) => 100 + i),
  )
  // Records of another size do not go into a ring: a coded error.
  const small = new Disruptor({ size: 16, slotSize: 8 })
  small.poller()
  await t.throwsAsync(replay({ dir }).into(small), { code: 'ERR_INVALID_ARG_VALUE' })
  small.halt()
})

test('retention deletes whole segments below a position; replay from a deleted position is refused', async (t) => {
  const dir = tmp()
  const { d, j } = await journaled(dir, 600)
  const before = segments(dir)
  const deleted = j.deleteBelow(300)
  const after = segments(dir)
  t.true(deleted > 0)
  t.is(after.length, before.length - deleted)
  const first = Number(after[0].slice(0, 16))
  t.true(first <= 300 && first > 0)
  await t.throwsAsync(records(dir, 0), { code: 'ERR_OUT_OF_RANGE' })
  await t.throwsAsync(records(dir, 601), { code: 'ERR_OUT_OF_RANGE', message: /past the journal's end/ })
  t.is((await records(dir, 600)).out.length, 0, 'from the end: nothing, no error')
  t.is((await records(dir, first)).out.length, 600 - first)
  t.is(j.deleteBelow(10_000), after.length - 1, 'the segment being written stays')
  t.throws(() => j.deleteBelow(-1), { code: 'ERR_INVALID_ARG_VALUE' })
  await d.close()
})

test('a torn tail is cut and counted when the journal opens; damage is an error, never a record', async (t) => {
  const dir = tmp()
  const { d } = await journaled(dir, 400)
  await d.close()
  const files = segments(dir)
  const last = path.join(dir, files[files.length - 1])
  const size = fs.statSync(last).size

  // A write cut short: half a record header, then zeros (a file extended before its data landed).
  fs.appendFileSync(last, Buffer.from([32, 0, 0, 0, 1, 2, 3, 4, 5, 6]))
  t.is((await records(dir)).result.tornBytes, 10, 'replay stops before the torn tail')
  fs.appendFileSync(last, Buffer.alloc(100))
  const d2 = new Disruptor({ size: 16, slotSize: 16 })
  const j2 = journal(d2, { dir })
  t.deepEqual(j2.recovered, { position: 400, segments: files.length, truncatedBytes: 110 })
  t.is(fs.statSync(last).size, size)
  j2.close()
  d2.halt()

  // A roll cut short: the next segment made, its header never written. Made again at open.
  const next = path.join(dir, `${String(400).padStart(16, '0')}.ndj`)
  fs.writeFileSync(next, '')
  t.is((await records(dir)).out.length, 400)
  const d5 = new Disruptor({ size: 16, slotSize: 16 })
  const j5 = journal(d5, { dir })
  t.is(j5.recovered.position, 400)
  await j5.close()
  t.is(fs.statSync(next).size, 16)
  fs.rmSync(next)
  d5.halt()

  // A flipped byte in a sealed segment: replay refuses it.
  const sealed = path.join(dir, files[0])
  const bytes = fs.readFileSync(sealed)
  bytes[16 + 16 + 3] ^= 0x40 // inside the first record's payload
  fs.writeFileSync(sealed, bytes)
  await t.throwsAsync(records(dir), { code: 'ERR_DISRUPTOR_JOURNAL_CORRUPT' })
  t.is((await records(dir, Number(files[1].slice(0, 16)))).out.length > 0, true, 'later segments still replay')

  // A damaged length that points past the end, with records after it: damage, not a torn tail.
  const lengthBytes = fs.readFileSync(last)
  lengthBytes.writeUInt32LE(1 << 20, 16 + 32 * 3) // the fourth record's length
  fs.writeFileSync(last, lengthBytes)
  const d4 = new Disruptor({ size: 16, slotSize: 16 })
  t.throws(() => journal(d4, { dir }), { code: 'ERR_DISRUPTOR_JOURNAL_CORRUPT', message: /record length/ })
  t.is(fs.statSync(last).size, size, 'nothing cut')
  d4.halt()

  // In the last segment, damage followed by data is not a torn tail: opening refuses it too.
  const lastBytes = fs.readFileSync(last)
  lastBytes[16 + 4] ^= 0x01 // the first record's checksum
  fs.writeFileSync(last, lastBytes)
  const d3 = new Disruptor({ size: 16, slotSize: 16 })
  t.throws(() => journal(d3, { dir }), { code: 'ERR_DISRUPTOR_JOURNAL_CORRUPT' })
  t.false(fs.existsSync(path.join(dir, 'journal.lock')), 'a refused open leaves no lock')
  d3.halt()
})

test('messages: one record per message (text or bytes, any length), replayed into a ring as the same messages', async (t) => {
  const dir = tmp()
  const messages: (string | Buffer)[] = []
  for (let i = 0; i < 300; i++) {
    if (i % 3 === 0) messages.push(`message ${i} ${'é€𝄞'.repeat(i % 17)}`)
    else messages.push(Buffer.alloc(1 + ((i * 37) % 200), i & 255))
  }
  for (const async of [false, true]) {
    const d = new Disruptor({ size: 64, slotSize: 16 })
    const j = journal(d, { dir, messages: true, async, segmentBytes: 4096 })
    d.handleEventsWith(j)
    d.start()
    for (const m of messages) await d.writeAsync(m)
    await d.close()
  }
  const recs: { position: number; kind?: string; text: string }[] = []
  for await (const r of replay({ dir }))
    recs.push({ position: r.position, kind: r.kind, text: r.data.toString('latin1') })
  t.is(recs.length, 600)
  const expected = [...messages, ...messages]
  t.true(
    recs.every(
      (r, i) =>
        r.position === i &&
        r.kind === (typeof expected[i] === 'string' ? 'text' : 'bytes') &&
        r.text === Buffer.from(expected[i]).toString('latin1'),
    ),
  )
  // Into a ring of another slot size: the same messages, kinds included.
  const target = new Disruptor({ size: 128, slotSize: 32 })
  const got: (string | Buffer)[] = []
  target.handleMessagesWith((view, _seq, kind) => {
    got.push(kind === 'text' ? Buffer.from(view).toString('utf8') : Buffer.from(view))
  })
  target.start()
  const result = await replay({ dir, from: 300 }).into(target)
  await target.close()
  t.is(result.records, 300)
  t.deepEqual(got, messages)
  // A journal of messages is not one of slots, and the other way round.
  const d2 = new Disruptor({ size: 16, slotSize: 16 })
  t.throws(() => journal(d2, { dir }), { code: 'ERR_DISRUPTOR_JOURNAL_FOREIGN', message: /holds messages/ })
  t.throws(() => journal({ buffer: d2.buffer, slotSize: 16, size: 16 }, { dir: tmp(), messages: true }), {
    code: 'ERR_INVALID_ARG_TYPE',
  })
  d2.halt()
})

test('locks: a lock of a dead process, or of an earlier process with this pid, is taken over; a live one is refused', (t) => {
  const dir = tmp()
  const d = new Disruptor({ size: 16, slotSize: 16 })
  const lock = path.join(dir, 'journal.lock')
  // An earlier process with this very pid (a container's node is often pid 1): another token.
  fs.writeFileSync(lock, `${process.pid} 00000000-earlier-process\n`)
  journal(d, { dir }).close()
  t.false(fs.existsSync(lock))
  // A process that no longer exists.
  const gone = spawnSync(process.execPath, ['-e', 'console.log(process.pid)'], { encoding: 'utf8' })
  fs.writeFileSync(lock, `${gone.stdout.trim()} some-token\n`)
  journal(d, { dir }).close()
  // A live one (the test runner's parent process is alive).
  fs.writeFileSync(lock, `${process.ppid} its-token\n`)
  t.throws(() => journal(d, { dir }), { code: 'ERR_DISRUPTOR_JOURNAL_LOCKED' })
  t.true(fs.existsSync(lock), 'left alone')
  fs.rmSync(lock)
  d.halt()
})

test('bad input: options, foreign files, a second writer', (t) => {
  const dir = tmp()
  const d = new Disruptor({ size: 16, slotSize: 16 })
  t.throws(() => journal(d, { dir: '' }), { code: 'ERR_INVALID_ARG_TYPE' })
  t.throws(() => journal(d, { dir, fsync: 'always' as never }), { code: 'ERR_INVALID_ARG_VALUE' })
  t.throws(() => journal(d, { dir, fsync: { everyMs: 0 } }), { code: 'ERR_INVALID_ARG_VALUE' })
  t.throws(() => journal(d, { dir, segmentBytes: 100 }), { code: 'ERR_INVALID_ARG_VALUE' })
  t.throws(() => replay({ dir, from: -1 }), { code: 'ERR_INVALID_ARG_VALUE' })

  const j = journal(d, { dir, fsync: { everyMs: 5 } })
  t.throws(() => journal(d, { dir }), { code: 'ERR_DISRUPTOR_JOURNAL_LOCKED' })
  j.close()
  journal(d, { dir }).close() // free again

  const stranger = tmp()
  fs.writeFileSync(path.join(stranger, '0000000000000000.ndj'), 'not a journal at all, just text')
  t.throws(() => journal(d, { dir: stranger }), { code: 'ERR_DISRUPTOR_JOURNAL_FOREIGN' })
  t.throws(() => [...replay({ dir: stranger }).segments()], { code: 'ERR_DISRUPTOR_JOURNAL_FOREIGN' })
  // A file of a later version is refused the same way.
  const later = tmp()
  const header = Buffer.alloc(16)
  header.writeUInt32LE(0x314a444e, 0)
  header.writeUInt16LE(2, 4)
  fs.writeFileSync(path.join(later, '0000000000000000.ndj'), header)
  t.throws(() => journal(d, { dir: later }), { code: 'ERR_DISRUPTOR_JOURNAL_FOREIGN', message: /version 2/ })
  d.halt()
})

test('kill -9 at random points, many times: replay yields every acknowledged record, in order, once', async (t) => {
  const dir = tmp()
  const fixture = path.join(__dirname, 'fixtures', 'journal-writer.js')
  let acked = 0
  for (let run = 0; run < 8; run++) {
    // Writes on the consumer's thread in even runs, off it (async) in odd ones: one directory.
    const mode = run % 2 === 0 ? 'sync' : 'async'
    const child = spawn(process.execPath, [fixture, dir, String(run), mode], { stdio: ['ignore', 'pipe', 'inherit'] })
    let out = ''
    let opened = -1
    let lastAck = -1
    const firstAck = new Promise<void>((resolve, reject) => {
      child.on('exit', (code) => reject(new Error(`writer exited with ${code} before an ack`)))
      child.stdout.on('data', (chunk: Buffer) => {
        out += chunk.toString()
        const lines = out.split('\n')
        out = lines.pop() as string
        for (const line of lines) {
          const [kind, n] = line.split(' ')
          if (kind === 'open') opened = Number(n)
          if (kind === 'ack') lastAck = Number(n)
        }
        if (lastAck >= 0) resolve()
      })
    })
    await firstAck
    await new Promise((r) => setTimeout(r, 20 + Math.floor(Math.random() * 150)))
    const exited = new Promise((r) => child.once('exit', r))
    child.kill('SIGKILL')
    await exited
    t.true(opened >= acked, `run ${run} opened at ${opened}, after ${acked} acknowledged`)
    acked = lastAck

    // Every acknowledged record is there; each run's counters follow each other from 0.
    const { out: recs } = await records(dir)
    t.true(recs.length >= acked, `run ${run}: ${recs.length} records, ${acked} acknowledged`)
    let ok = true
    const counters = new Map<number, number>()
    for (const [i, r] of recs.entries()) {
      const expected = counters.get(r.value) ?? 0
      if (r.position !== i || r.check !== expected) ok = false
      counters.set(r.value, expected + 1)
    }
    t.true(ok, `run ${run}: positions and per-run counters contiguous`)
    if (run === 7) t.log(`${recs.length} records from ${counters.size} runs, ${acked} acknowledged`)
    const runs = [...counters.keys()]
    t.deepEqual(
      runs,
      [...runs].sort((a, b) => a - b),
      'runs follow each other',
    )
  }
})
