// The journal's write path (issue 20): the same batches of 32-byte events written by
//
//   journal      Journal.onBatch on a ring of 32-byte slots (frames each event: length, CRC-32C,
//                position; one write per batch), with each fsync policy, on this thread or
//                `async` (written and synced in libuv's pool, each batch awaited)
//   write stream fs.createWriteStream, one write(Buffer) per batch, awaiting 'drain'
//   sonic-boom   pino's writer (contentMode 'buffer'), one write per batch; with fsync: true
//                beside the journal's 'batch' (synced before the next batch)
//
// The peers write the bytes the journal writes (the framed batch, built once), so each row moves
// the same MB. Every row writes to a fresh file in one temporary directory; rows alternate in
// paired rounds. The journal is called as its consumer would call it (no ring traffic), so the
// figures are the write path's, not a producer's. `--quick`: fewer batches and rounds.

import fs from 'node:fs'
import { createRequire } from 'node:module'
import os from 'node:os'
import path from 'node:path'
import { machine, median } from './js/common.mjs'

const quick = process.argv.includes('--quick')
const ROUNDS = quick ? 1 : 5
const SLOT = 32
const BATCH = 256
const BATCHES = quick ? 200 : 4000 // unsynced rows
const SYNCED_BATCHES = quick ? 20 : 300 // rows that sync every batch
const require = createRequire(import.meta.url)
const { Disruptor } = require('../dist/index.js')
const { journal } = require('../dist/journal/index.js')
const SonicBoom = require('sonic-boom')

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'journal-bench-'))
let serial = 0
const fresh = () => path.join(root, `run-${++serial}`)

// One ring whose slots hold the events every batch carries (the journal copies them out).
const ring = new Disruptor({ size: 4096, slotSize: SLOT })
const u8 = new Uint8Array(ring.buffer)
for (let i = 0; i < u8.length; i++) u8[i] = (i * 131) & 255

/** The batch as the journal frames it, for the peers (built by a journal, read back). */
function framedBatch() {
  const dir = fresh()
  const j = journal(ring, { dir, fsync: 'none' })
  j.onBatch(0, BATCH - 1)
  j.close()
  const file = path.join(
    dir,
    fs.readdirSync(dir).find((f) => f.endsWith('.ndj')),
  )
  return fs.readFileSync(file).subarray(16)
}
const FRAMED = framedBatch()

async function journalRow(fsync, batches, async = false) {
  const j = journal(ring, { dir: fresh(), fsync, async })
  const t0 = process.hrtime.bigint()
  for (let b = 0; b < batches; b++) {
    const lo = (b * BATCH) % 4096
    // async: awaited as its consumer would (the next batch once this one settled)
    const done = j.onBatch(lo, lo + BATCH - 1)
    if (async) await done
  }
  await j.close() // includes the final sync
  return Number(process.hrtime.bigint() - t0)
}

async function streamRow(batches) {
  const file = path.join(fresh())
  const ws = fs.createWriteStream(file)
  await new Promise((r) => ws.once('open', r))
  const t0 = process.hrtime.bigint()
  for (let b = 0; b < batches; b++) {
    if (!ws.write(FRAMED)) await new Promise((r) => ws.once('drain', r))
  }
  await new Promise((r) => ws.end(r))
  const fd = fs.openSync(file, 'r')
  fs.fdatasyncSync(fd) // as the journal's close: what was written reaches the disk
  fs.closeSync(fd)
  return Number(process.hrtime.bigint() - t0)
}

async function sonicRow(batches, fsyncEach) {
  const dest = path.join(fresh())
  const sb = new SonicBoom({ dest, contentMode: 'buffer', sync: fsyncEach, fsync: fsyncEach, mkdir: true })
  await new Promise((r) => sb.once('ready', r))
  const t0 = process.hrtime.bigint()
  for (let b = 0; b < batches; b++) {
    if (!sb.write(FRAMED)) await new Promise((r) => sb.once('drain', r))
  }
  if (!fsyncEach) {
    await new Promise((r) => sb.flush(r))
    sb.flushSync()
    sb.fsyncSync?.()
  }
  await new Promise((r) => {
    sb.once('close', r)
    sb.end()
  })
  return Number(process.hrtime.bigint() - t0)
}

const ROWS = [
  { name: "journal, fsync 'none'", batches: BATCHES, run: (n) => journalRow('none', n) },
  { name: 'journal, fsync { everyMs: 10 }', batches: BATCHES, run: (n) => journalRow({ everyMs: 10 }, n) },
  { name: "journal async, fsync 'none'", batches: BATCHES, run: (n) => journalRow('none', n, true) },
  { name: 'fs.createWriteStream', batches: BATCHES, run: (n) => streamRow(n) },
  { name: 'sonic-boom', batches: BATCHES, run: (n) => sonicRow(n, false) },
  { name: "journal, fsync 'batch'", batches: SYNCED_BATCHES, run: (n) => journalRow('batch', n) },
  { name: "journal async, fsync 'batch'", batches: SYNCED_BATCHES, run: (n) => journalRow('batch', n, true) },
  { name: 'sonic-boom, fsync: true', batches: SYNCED_BATCHES, run: (n) => sonicRow(n, true) },
]

const ns = new Map(ROWS.map((r) => [r.name, []]))
for (let round = 0; round < ROUNDS; round++) {
  const order = round % 2 === 0 ? ROWS : [...ROWS].reverse()
  for (const row of order) ns.get(row.name).push(await row.run(row.batches))
}
fs.rmSync(root, { recursive: true, force: true })
ring.halt()

const m = machine()
console.log(
  `journal write path: ${m.cpu}, ${m.cores} cores, node ${m.node}, commit ${m.commit.slice(0, 7)}${m.dirty ? '+' : ''}, ${os.tmpdir()}; ` +
    `batches of ${BATCH} events of ${SLOT} bytes (${FRAMED.length} bytes framed); ${ROUNDS} round(s), medians`,
)
const rate = (row) => {
  const t = median(ns.get(row.name)) / 1e9
  return { events: (row.batches * BATCH) / t, mb: (row.batches * FRAMED.length) / t / 1e6 }
}
const base = rate(ROWS.find((r) => r.name === 'fs.createWriteStream'))
for (const row of ROWS) {
  const r = rate(row)
  const vs = row.batches === BATCHES ? `  ${(r.events / base.events).toFixed(2)}x the write stream` : ''
  console.log(
    `  ${row.name.padEnd(32)} ${(r.events / 1e6).toFixed(2).padStart(7)} M events/s  ${r.mb.toFixed(0).padStart(5)} MB/s  (${row.batches} batches)${vs}`,
  )
}
const synced = rate(ROWS.find((r) => r.name === "journal, fsync 'batch'"))
const sonicSynced = rate(ROWS.find((r) => r.name === 'sonic-boom, fsync: true'))
console.log(`  synced per batch: journal / sonic-boom fsync ${(synced.events / sonicSynced.events).toFixed(2)}x`)
