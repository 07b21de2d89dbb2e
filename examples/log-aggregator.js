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
// Each slot holds a typed log record (defineEvent), its message up to 48 bytes of UTF-8.

const { Worker, isMainThread, workerData } = require('node:worker_threads')
const { Disruptor, defineEvent } = require('napi-disruptor')

const WORKERS = 3
const RECORDS = process.argv.includes('--quick') ? 10_000 : 500_000
const LEVELS = ['debug', 'info', 'warn', 'error']
const LogRecord = defineEvent({ worker: 'u32', record: 'u32', level: 'u8', message: { utf8: 48 } })

if (isMainThread) {
  main()
} else {
  work()
}

function main() {
  const d = new Disruptor({ size: 8192, event: LogRecord, producer: 'multi' })
  const perLevel = new Map(LEVELS.map((l) => [l, 0]))
  const next = new Array(WORKERS).fill(0)
  let broken = 0
  let lastError = ''

  d.handleEventsWith({
    name: 'aggregator',
    onBatch(lo, hi) {
      for (let s = lo; s <= hi; s++) {
        const e = d.event(s)
        const level = LEVELS[e.level]
        if (e.record !== next[e.worker]) broken++
        next[e.worker] = e.record + 1
        perLevel.set(level, perLevel.get(level) + 1)
        if (level === 'error') lastError = e.message // strings are read only where needed
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
  const d = Disruptor.attach(handle) // the layout comes with the handle
  for (let record = 0; record < records; record++) {
    const level = record % 97 === 0 ? 3 : record % 13 === 0 ? 2 : record % 3 === 0 ? 0 : 1
    const message = level === 3 ? `worker ${id}: request ${record} failed` : `worker ${id}: request ${record}`
    d.emitEvent({ worker: id, record, level, message }) // checked (a message over 48 bytes throws), then copied in
  }
}
