'use strict'
// An asynchronous handler writing batches to a file, with backpressure: the handler returns a
// Promise (one write per batch), its sequences stay held until the write completes, and once the
// ring is full the producer's `await d.nextAsync()` waits: a fast producer never outruns the
// disk, and memory stays bounded by the ring.
//
//   producer (main thread, nextAsync) --> ring --> writer (async, one fs write per batch)
//
// Run: node examples/async-file-writer.js [--quick] [file]

const { open, readFile, rm } = require('node:fs/promises')
const { tmpdir } = require('node:os')
const { join } = require('node:path')
const { Disruptor } = require('napi-disruptor')

const EVENTS = process.argv.includes('--quick') ? 5_000 : 200_000
const file =
  process.argv.slice(2).find((a) => !a.startsWith('--')) ?? join(tmpdir(), `napi-disruptor-${process.pid}.log`)
const SLOT = 32 // one fixed-width text line per slot

async function main() {
  const out = await open(file, 'w')
  const d = new Disruptor({ size: 1024, slotSize: SLOT, producer: 'single' })
  const slots = Buffer.from(d.buffer) // a Buffer view over the ring's memory: no copy
  let written = 0
  let writes = 0
  d.handleEventsWith({
    name: 'file-writer',
    maxBatchSize: 256,
    async onBatch(lo, hi) {
      // The slots of [lo, hi] may wrap around the end of the ring: write one or two runs.
      const first = d.offset(lo)
      const last = d.offset(hi) + SLOT
      const runs = last > first ? [slots.subarray(first, last)] : [slots.subarray(first), slots.subarray(0, last)]
      for (const run of runs) await out.write(run)
      written += hi - lo + 1
      writes++
    },
  })
  d.start()

  let maxAhead = 0
  for (let i = 0; i < EVENTS; i++) {
    const seq = await d.nextAsync() // waits (without blocking the event loop) while the ring is full
    maxAhead = Math.max(maxAhead, seq - written)
    slots.write(`event ${String(i).padStart(SLOT - 7, '0')}\n`, d.offset(seq), 'latin1') // exactly SLOT bytes
    d.publish(seq)
  }
  await d.close() // drains: every event is written
  await out.close()

  const lines = (await readFile(file, 'latin1')).split('\n').filter(Boolean)
  const inOrder = lines.every((l, i) => Number(l.split(' ').pop()) === i)
  console.log(
    `${written} events in ${writes} writes (${(written / writes).toFixed(1)} per write), producer at most ${maxAhead} ahead of the disk`,
  )
  const ok = lines.length === EVENTS && inOrder && maxAhead <= d.size
  console.log(ok ? 'ok' : 'MISMATCH')
  if (!process.argv.slice(2).some((a) => !a.startsWith('--'))) await rm(file)
  if (!ok) process.exitCode = 1
}

main().catch((e) => {
  console.error(e)
  process.exitCode = 1
})
