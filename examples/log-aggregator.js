'use strict'
// A log aggregator: several worker threads (request handlers, say) write log records into one
// multi-producer ring; the main thread aggregates them (counts per level and per worker) and
// checks that every worker's records arrive complete and in order.
//
//   worker 0 --\
//   worker 1 ---+--> ring --> aggregator (main thread)
//   worker 2 --/
//
// Run: node examples/log-aggregator.js [--quick]
//
// Slot layout (64 bytes): u32 worker, u32 record number, u32 level, u32 message length,
// then up to 48 bytes of UTF-8 message.

const { Worker, isMainThread, workerData } = require('node:worker_threads')
const { Disruptor } = require('napi-disruptor')

const WORKERS = 3
const RECORDS = process.argv.includes('--quick') ? 10_000 : 500_000
const LEVELS = ['debug', 'info', 'warn', 'error']
const SLOT = 64
const TEXT = 48

if (isMainThread) {
  main()
} else {
  work()
}

function main() {
  const d = new Disruptor({ size: 8192, slotSize: SLOT, producer: 'multi' })
  const u32 = new Uint32Array(d.buffer)
  const bytes = new Uint8Array(d.buffer)
  const decoder = new TextDecoder()
  const perLevel = new Map(LEVELS.map((l) => [l, 0]))
  const next = new Array(WORKERS).fill(0)
  let broken = 0
  let lastError = ''

  d.handleEventsWith({
    name: 'aggregator',
    onBatch(lo, hi) {
      for (let s = lo; s <= hi; s++) {
        const at = d.offset(s)
        const worker = u32[at / 4]
        const record = u32[at / 4 + 1]
        const level = LEVELS[u32[at / 4 + 2]]
        if (record !== next[worker]) broken++
        next[worker] = record + 1
        perLevel.set(level, perLevel.get(level) + 1)
        if (level === 'error') {
          const length = u32[at / 4 + 3]
          lastError = decoder.decode(bytes.subarray(at + 16, at + 16 + length))
        }
      }
    },
  })
  d.start()

  let running = WORKERS
  for (let id = 0; id < WORKERS; id++) {
    const w = new Worker(__filename, { workerData: { handle: d.share(), id, records: RECORDS } })
    w.on('error', (e) => {
      console.error(`worker ${id} failed:`, e)
      process.exitCode = 1
    })
    w.on('exit', async () => {
      if (--running > 0) return
      await d.close()
      console.log([...perLevel].map(([l, n]) => `${l} ${n}`).join(', '))
      console.log(`last error: ${lastError}`)
      const ok = broken === 0 && next.every((n) => n === RECORDS)
      console.log(ok ? 'ok' : `MISMATCH: ${broken} out of order, per worker ${next.join(' ')}`)
      if (!ok) process.exitCode = 1
    })
  }
}

function work() {
  const { handle, id, records } = workerData
  const d = Disruptor.attach(handle)
  const u32 = new Uint32Array(d.buffer)
  const bytes = new Uint8Array(d.buffer)
  const encoder = new TextEncoder()
  for (let record = 0; record < records; record++) {
    const level = record % 97 === 0 ? 3 : record % 13 === 0 ? 2 : record % 3 === 0 ? 0 : 1
    const message = level === 3 ? `worker ${id}: request ${record} failed` : `worker ${id}: request ${record}`
    d.publishEvent((at) => {
      u32[at / 4] = id
      u32[at / 4 + 1] = record
      u32[at / 4 + 2] = level
      const { written } = encoder.encodeInto(message, bytes.subarray(at + 16, at + 16 + TEXT))
      u32[at / 4 + 3] = written
    })
  }
}
