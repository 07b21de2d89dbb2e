'use strict'
// Market data, the LMAX way: a feed thread (a worker) publishes price ticks into the ring; on
// the main thread a journal and a replicator handle every tick in parallel, and the business
// logic (a moving average per instrument) sees a tick only after both have: the diamond.
//
//   feed (worker) --> ring --> journal ---\
//                          \-> replicate --+--> business logic
//
// Run: node examples/market-data.js [--quick]
//
// Each slot holds a typed event (defineEvent): the layout travels to the feed with share().

const { Worker, isMainThread, workerData } = require('node:worker_threads')
const { Disruptor, defineEvent } = require('napi-disruptor')

const TICKS = process.argv.includes('--quick') ? 20_000 : 2_000_000
const INSTRUMENTS = 8
const Tick = defineEvent({ price: 'f64', instrument: 'u32', tick: 'u32', fedAt: 'f64' })

if (isMainThread) {
  main()
} else {
  feed()
}

function main() {
  const d = new Disruptor({ size: 4096, event: Tick, producer: 'single', waitStrategy: 'blocking' })

  let journaled = 0
  let journalChecksum = 0
  const journal = d.handleEventsWith({
    name: 'journal',
    onBatch(lo, hi) {
      // A real journal would write [lo, hi] to disk in one call here.
      for (let s = lo; s <= hi; s++) journalChecksum += d.event(s).tick
      journaled += hi - lo + 1
    },
  })
  let replicated = 0
  const replicate = d.handleEventsWith({
    name: 'replicate',
    onBatch(lo, hi) {
      // A real replicator would send [lo, hi] to a standby here.
      replicated += hi - lo + 1
    },
  })

  const average = new Float64Array(INSTRUMENTS)
  let processed = 0
  let orderViolations = 0
  journal.and(replicate).andThen({
    name: 'business-logic',
    onBatch(lo, hi) {
      // The diamond's promise: journal and replicate are done with everything up to hi.
      if (journaled < hi + 1 || replicated < hi + 1) orderViolations++
      for (let s = lo; s <= hi; s++) {
        const tick = d.event(s) // a flyweight moved to s: no allocation per tick
        average[tick.instrument] = average[tick.instrument] * 0.99 + tick.price * 0.01
      }
      processed += hi - lo + 1
    },
  })
  d.on('error', (error, name) => console.error(`${name} failed:`, error))
  d.start()

  const started = process.hrtime.bigint()
  const worker = new Worker(__filename, { workerData: { handle: d.share(), ticks: TICKS } })
  worker.on('error', (e) => {
    console.error('feed failed:', e)
    process.exitCode = 1
  })
  worker.on('exit', async () => {
    await d.close()
    const seconds = Number(process.hrtime.bigint() - started) / 1e9
    const expected = (TICKS * (TICKS - 1)) / 2
    console.log(`${processed} ticks in ${seconds.toFixed(2)} s (${(processed / seconds / 1e6).toFixed(1)}M/s)`)
    console.log(`journal ${journaled}, replicate ${replicated}, business logic ${processed}`)
    console.log(`averages: ${[...average].map((a) => a.toFixed(2)).join(' ')}`)
    const ok =
      processed === TICKS &&
      journaled === TICKS &&
      replicated === TICKS &&
      journalChecksum === expected &&
      orderViolations === 0
    console.log(ok ? 'ok' : 'MISMATCH')
    if (!ok) process.exitCode = 1
  })
}

/** Fills a claimed slot (a translator with arguments: no closure per tick). */
function fillTick(e, _seq, price, instrument, tick) {
  e.price = price
  e.instrument = instrument
  e.tick = tick
  e.fedAt = performance.now()
}

function feed() {
  const d = Disruptor.attach(workerData.handle)
  const price = new Float64Array(INSTRUMENTS).fill(100)
  for (let tick = 0; tick < workerData.ticks; tick++) {
    const instrument = tick % INSTRUMENTS
    price[instrument] += Math.sin(tick) * 0.01
    d.publishEvent(fillTick, price[instrument], instrument, tick)
  }
}
