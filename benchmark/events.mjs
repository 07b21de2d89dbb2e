// Typed events (issue 18): the 4-field Trade event (f64 price, u32 qty, u8 side, utf8 symbol of
// up to 12 bytes), worker -> main thread.
//
//   worker: hand offsets | flyweight (publishEvent) | emitEvent({...}) | postMessage({...})
//      --> main thread: reads all four fields of every event, checks the count and a checksum
//
// Rows, in alternating paired rounds (each round runs both sides of a pair back to back):
//   flyweight / hand offsets   (bar: within 1.3x, i.e. ratio >= 0.77)
//   emitEvent / postMessage    (bar: >= 10x)
// and the publish path's allocation on one thread (flyweight and emitEvent with a reused
// object): collections and heap bytes per event, as js-bench's publish-path check measures it.
// `--quick`: fewer events and rounds (figures only indicative).

import { PerformanceObserver, constants as perfConstants } from 'node:perf_hooks'
import v8 from 'node:v8'
import vm from 'node:vm'
import { goWorker, loadDisruptor, machine, median } from './js/common.mjs'

const quick = process.argv.includes('--quick')
const ROUNDS = quick ? 3 : 9
const N_RING = quick ? 400_000 : 3_000_000
const N_MSG = quick ? 100_000 : 400_000
const SYMBOLS = ['AAPL', 'MSFT', 'GOOG', 'AMZN', 'NVDA', 'META', 'TSLA', 'BRK.B']
const require = (await import('node:module')).createRequire(import.meta.url)
const { defineEvent } = require('../dist/index.js')
const Disruptor = loadDisruptor()
const Trade = defineEvent({ price: 'f64', qty: 'u32', side: 'u8', symbol: { utf8: 12 } })
const [, , , SYM] = Trade.fields // symbol's offset, for the hand-written path

/** The checksum both sides compute: price + qty + side + symbol length, over every event. */
const expected = (n) => {
  let sum = 0
  for (let i = 0; i < n; i++) sum += i * 0.5 + (i & 1023) + (i & 1) + SYMBOLS[i & 7].length
  return sum
}

const WORKER = `
const { parentPort, workerData } = require('node:worker_threads')
const { Disruptor } = require(workerData.dist)
const { mode, n, SYM, SYMBOLS } = workerData
const ack = new Int32Array(workerData.ack)
// Set up (attached, views made), then wait for the go: the clock starts there, not at the
// worker's start-up (tens of ms, more than a short run takes).
const go = () => {
  parentPort.postMessage('ready')
  while (Atomics.load(ack, 2) === 0) Atomics.wait(ack, 2, 0, 100)
}
if (mode === 'postMessage') {
  go()
  for (let i = 0; i < n; i++) {
    parentPort.postMessage({ price: i * 0.5, qty: i & 1023, side: i & 1, symbol: SYMBOLS[i & 7] })
    // Flow control, as js-bench's postMessage peer: at most 8192 messages in flight.
    while (i - Atomics.load(ack, 0) > 8192) Atomics.wait(ack, 1, 0, 1)
  }
} else {
  const d = Disruptor.attach(workerData.handle)
  const size = d.slotSize, mask = d.size - 1
  const f64 = new Float64Array(d.buffer), u32 = new Uint32Array(d.buffer), u8 = new Uint8Array(d.buffer)
  const u16 = new Uint16Array(d.buffer)
  go()
  if (mode === 'hand') {
    for (let i = 0; i < n; i++) {
      const s = d.next()
      const base = (s & mask) * size
      f64[base >> 3] = i * 0.5
      u32[(base + 8) >> 2] = i & 1023
      u8[base + 12] = i & 1
      const sym = SYMBOLS[i & 7]
      const at = base + SYM
      for (let k = 0; k < sym.length; k++) u8[at + 2 + k] = sym.charCodeAt(k) // ASCII
      u16[at >> 1] = sym.length
      d.publish(s)
    }
  } else if (mode === 'flyweight') {
    // A translator with an argument (no closure per event), as LMAX's EventTranslatorOneArg.
    const fill = (e, seq, i) => {
      e.price = i * 0.5
      e.qty = i & 1023
      e.side = i & 1
      e.symbol = SYMBOLS[i & 7]
    }
    for (let i = 0; i < n; i++) d.publishEvent(fill, i)
  } else {
    for (let i = 0; i < n; i++) d.emitEvent({ price: i * 0.5, qty: i & 1023, side: i & 1, symbol: SYMBOLS[i & 7] })
  }
}
parentPort.postMessage('done')
`

async function run(mode, n) {
  const ack = new SharedArrayBuffer(12)
  const sum = new Float64Array(1)
  let count = 0
  let d = null
  let finish
  const finished = new Promise((r) => {
    finish = r
  })
  const data = { mode, n, SYM: SYM.offset, SYMBOLS, ack, dist: require.resolve('../dist/index.js') }
  if (mode !== 'postMessage') {
    d = new Disruptor({ size: 65536, event: Trade, producer: 'single' })
    data.handle = d.share()
    const mask = d.size - 1
    if (mode === 'hand') {
      const size = d.slotSize
      const f64 = new Float64Array(d.buffer)
      const u32 = new Uint32Array(d.buffer)
      const u8 = new Uint8Array(d.buffer)
      const u16 = new Uint16Array(d.buffer)
      // The best hand-written read of a short ASCII string: no subarray, no decoder.
      const f = String.fromCharCode
      const ascii = (p, n) => {
        switch (n) {
          case 4:
            return f(u8[p], u8[p + 1], u8[p + 2], u8[p + 3])
          case 5:
            return f(u8[p], u8[p + 1], u8[p + 2], u8[p + 3], u8[p + 4])
          default: {
            let s = ''
            for (let i = 0; i < n; i++) s += f(u8[p + i])
            return s
          }
        }
      }
      d.handleEventsWith((lo, hi) => {
        let acc = sum[0]
        for (let s = lo; s <= hi; s++) {
          const base = (s & mask) * size
          const at = base + SYM.offset
          const symbol = ascii(at + 2, u16[at >> 1])
          acc += f64[base >> 3] + u32[(base + 8) >> 2] + u8[base + 12] + symbol.length
        }
        sum[0] = acc
        count += hi - lo + 1
        if (count === n) finish()
      })
    } else {
      d.handleEventsWith((lo, hi) => {
        let acc = sum[0]
        for (let s = lo; s <= hi; s++) {
          const e = d.event(s)
          acc += e.price + e.qty + e.side + e.symbol.length
        }
        sum[0] = acc
        count += hi - lo + 1
        if (count === n) finish()
      })
    }
    d.start()
  }
  const ms = await goWorker(
    WORKER,
    data,
    (m, took) => {
      sum[0] += m.price + m.qty + m.side + m.symbol.length
      took()
      if (++count === n) finish()
    },
    finished,
  )
  if (d !== null) await d.close()
  if (sum[0] !== expected(n)) throw new Error(`${mode}: checksum ${sum[0]}, expected ${expected(n)}`)
  return n / (ms / 1000)
}

async function pair(a, b, n) {
  const ratios = []
  const rates = { [a]: [], [b]: [] }
  for (let r = 0; r < ROUNDS; r++) {
    const order = r % 2 === 0 ? [a, b] : [b, a]
    for (const m of order) rates[m].push(await run(m, n(m)))
    ratios.push(rates[a][r] / rates[b][r])
  }
  return { a, b, ratio: median(ratios), ratios, rateA: median(rates[a]), rateB: median(rates[b]) }
}

function fullGc() {
  v8.setFlagsFromString('--expose-gc')
  vm.runInNewContext('gc')()
}

/** Publish-path allocation on one thread (a poller drains price only, which allocates nothing). */
async function allocation(mode, events) {
  const d = new Disruptor({ size: 65536, event: Trade, producer: 'single' })
  const p = d.poller()
  const sum = new Float64Array(1)
  const drain = (lo, hi) => {
    let acc = sum[0]
    for (let s = lo; s <= hi; s++) acc += d.event(s).price
    sum[0] = acc
  }
  const reused = { price: 0, qty: 0, side: 0, symbol: '' }
  const fill = (e, _seq, k) => {
    e.price = k
    e.qty = k
    e.side = k & 1
    e.symbol = SYMBOLS[k & 7]
  }
  const produce = (n) => {
    for (let i = 0; i < n; i += 1024) {
      for (let k = 0; k < 1024; k++) {
        if (mode === 'flyweight') {
          d.publishEvent(fill, k)
        } else {
          reused.price = k
          reused.qty = k
          reused.side = k & 1
          reused.symbol = SYMBOLS[k & 7]
          d.emitEvent(reused)
        }
      }
      while (p.poll(drain) === 'processing');
    }
  }
  produce(262144)
  fullGc()
  let minor = 0
  const obs = new PerformanceObserver((list) => {
    for (const e of list.getEntries())
      if ((e.detail?.kind ?? e.kind) === perfConstants.NODE_PERFORMANCE_GC_MINOR) minor++
  })
  obs.observe({ entryTypes: ['gc'] })
  const before = process.memoryUsage().heapUsed
  produce(events)
  const after = process.memoryUsage().heapUsed
  await new Promise((r) => setTimeout(r, 50))
  obs.disconnect()
  await d.close()
  return { mode, minor, bytesPerEvent: (after - before) / events }
}

const m = machine()
console.log(
  `typed events, worker -> main: ${m.cpu}, ${m.cores} cores, node ${m.node}, commit ${m.commit.slice(0, 7)}${m.dirty ? '+' : ''}; ${ROUNDS} paired rounds`,
)
const fw = await pair('flyweight', 'hand', () => N_RING)
console.log(
  `flyweight ${(fw.rateA / 1e6).toFixed(1)} M events/s, hand offsets ${(fw.rateB / 1e6).toFixed(1)} M: ratio ${fw.ratio.toFixed(3)} (${fw.ratios.map((x) => x.toFixed(2)).join(' ')}); bar >= 0.77 (within 1.3x): ${fw.ratio >= 1 / 1.3 ? 'met' : 'NOT met'}`,
)
const em = await pair('emitEvent', 'postMessage', (mode) => (mode === 'emitEvent' ? N_RING : N_MSG))
console.log(
  `emitEvent ${(em.rateA / 1e6).toFixed(2)} M events/s, postMessage ${(em.rateB / 1e6).toFixed(3)} M: ${em.ratio.toFixed(1)}x (${em.ratios.map((x) => x.toFixed(1)).join(' ')}); bar >= 10x: ${em.ratio >= 10 ? 'met' : 'NOT met'}`,
)
for (const mode of ['flyweight', 'emitEvent']) {
  const a = await allocation(mode, quick ? 1_000_000 : 4_000_000)
  console.log(
    `publish path (${mode}, one thread): ${a.minor} minor GCs, ${a.bytesPerEvent.toFixed(3)} heap bytes/event; bar: no allocation per event (< 1 byte/event): ${a.bytesPerEvent < 1 && a.minor === 0 ? 'met' : 'NOT met'}`,
  )
}
