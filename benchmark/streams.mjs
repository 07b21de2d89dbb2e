// Node streams over a ring (issue 18): pipeline(readable, transform, writable) of typed events
// (the 4-field Trade event), all on the main thread:
//
//   ring:     Readable.from(gen) -> d.writable() -> [ring] -> d.readable() -> Transform -> sink
//   baseline: Readable.from(gen) -------------------------------------------> Transform -> sink
//
// The ring row carries every event through the ring (checked, copied in, read back out as a
// plain object); the ratio says what that hop costs a stream pipeline. Paired rounds.

import { createRequire } from 'node:module'
import { Readable, Transform, Writable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { loadDisruptor, machine, median } from './js/common.mjs'

const quick = process.argv.includes('--quick')
const N = quick ? 300_000 : 10_000_000
const ROUNDS = quick ? 3 : 5
const require = createRequire(import.meta.url)
const { defineEvent } = require('../dist/index.js')
const Disruptor = loadDisruptor()
const Trade = defineEvent({ price: 'f64', qty: 'u32', side: 'u8', symbol: { utf8: 12 } })
const SYMBOLS = ['AAPL', 'MSFT', 'GOOG', 'AMZN']

const source = () =>
  Readable.from(
    (function* () {
      for (let i = 0; i < N; i++) yield { price: i * 0.5, qty: i & 1023, side: i & 1, symbol: SYMBOLS[i & 3] }
    })(),
  )
const transform = () =>
  new Transform({
    objectMode: true,
    transform(e, _enc, cb) {
      cb(null, e.qty)
    },
  })
function sink(state) {
  return new Writable({
    objectMode: true,
    highWaterMark: 1024,
    write(qty, _enc, cb) {
      state.sum += qty
      state.count++
      cb()
    },
  })
}

async function run(mode) {
  const state = { sum: 0, count: 0 }
  const t0 = performance.now()
  if (mode === 'baseline') {
    await pipeline(source(), transform(), sink(state))
  } else {
    const d = new Disruptor({ size: 4096, event: Trade, producer: 'single' })
    const out = pipeline(d.readable(), transform(), sink(state))
    await pipeline(source(), d.writable())
    await d.close()
    await out
  }
  const ms = performance.now() - t0
  if (state.count !== N) throw new Error(`${mode}: ${state.count} of ${N}`)
  return N / (ms / 1000)
}

const m = machine()
console.log(
  `streams (${N} typed events, main thread): ${m.cpu}, ${m.cores} cores, node ${m.node}, commit ${m.commit.slice(0, 7)}${m.dirty ? '+' : ''}`,
)
const ring = []
const base = []
const ratios = []
for (let r = 0; r < ROUNDS; r++) {
  const order = r % 2 === 0 ? ['ring', 'baseline'] : ['baseline', 'ring']
  const rates = {}
  for (const mode of order) rates[mode] = await run(mode)
  ring.push(rates.ring)
  base.push(rates.baseline)
  ratios.push(rates.ring / rates.baseline)
}
console.log(
  `pipeline through the ring ${(median(ring) / 1e6).toFixed(2)} M events/s, Readable.from + object streams ${(median(base) / 1e6).toFixed(2)} M: ratio ${median(ratios).toFixed(2)} (${ratios.map((x) => x.toFixed(2)).join(' ')})`,
)
