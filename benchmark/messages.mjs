// Variable-length messages (issue 18), worker -> main thread, 100-byte and 10 KiB messages:
//
//   worker: d.write(bytes) | port.postMessage(bytes)  -->  main: reads every message (its
//   length and first and last byte), checks the count and a checksum
//
// Paired rounds (each runs both back to back, order alternating); the bar: 100-byte messages
// >= 10x postMessage(Uint8Array). `--quick`: fewer messages and rounds.

import { goWorker, loadDisruptor, machine, median } from './js/common.mjs'

const quick = process.argv.includes('--quick')
const ROUNDS = quick ? 3 : 7
const Disruptor = loadDisruptor()
const require = (await import('node:module')).createRequire(import.meta.url)

const WORKER = `
const { parentPort, workerData } = require('node:worker_threads')
const { Disruptor } = require(workerData.dist)
const { mode, n, bytes } = workerData
const ack = new Int32Array(workerData.ack)
const message = new Uint8Array(bytes)
const d = mode === 'ring' ? Disruptor.attach(workerData.handle) : null
parentPort.postMessage('ready')
while (Atomics.load(ack, 2) === 0) Atomics.wait(ack, 2, 0, 100)
for (let i = 0; i < n; i++) {
  message[0] = i & 0xff
  message[bytes - 1] = (i * 7) & 0xff
  if (d !== null) d.write(message)
  else {
    parentPort.postMessage(message) // a structured clone of the bytes, as a user sends them
    while (i - Atomics.load(ack, 0) > 2048) Atomics.wait(ack, 1, 0, 1)
  }
}
parentPort.postMessage('done')
`

const expected = (n, bytes) => {
  let sum = 0
  for (let i = 0; i < n; i++) sum += bytes + (i & 0xff) + ((i * 7) & 0xff)
  return sum
}

async function run(mode, n, bytes) {
  const ack = new SharedArrayBuffer(12)
  let sum = 0
  let count = 0
  let finish
  const finished = new Promise((r) => {
    finish = r
  })
  const data = { mode, n, bytes, ack, dist: require.resolve('../dist/index.js') }
  let d = null
  if (mode === 'ring') {
    d = new Disruptor({ size: 65536, slotSize: 128, producer: 'single' })
    data.handle = d.share()
    d.handleMessagesWith((view) => {
      sum += view.length + view[0] + view[view.length - 1]
      if (++count === n) finish()
    })
    d.start()
  }
  const ms = await goWorker(
    WORKER,
    data,
    (m, took) => {
      sum += m.length + m[0] + m[m.length - 1]
      took()
      if (++count === n) finish()
    },
    finished,
  )
  if (d !== null) await d.close()
  if (sum !== expected(n, bytes)) throw new Error(`${mode} ${bytes} B: checksum ${sum}, expected ${expected(n, bytes)}`)
  return n / (ms / 1000)
}

const m = machine()
console.log(
  `messages, worker -> main: ${m.cpu}, ${m.cores} cores, node ${m.node}, commit ${m.commit.slice(0, 7)}${m.dirty ? '+' : ''}; ${ROUNDS} paired rounds`,
)
for (const bytes of [100, 10240]) {
  const n = (mode) =>
    (quick ? 1 : 4) * (bytes === 100 ? (mode === 'ring' ? 500_000 : 100_000) : mode === 'ring' ? 40_000 : 20_000)
  const ring = []
  const post = []
  const ratios = []
  for (let r = 0; r < ROUNDS; r++) {
    const order = r % 2 === 0 ? ['ring', 'post'] : ['post', 'ring']
    const rates = {}
    for (const mode of order) rates[mode] = await run(mode, n(mode), bytes)
    ring.push(rates.ring)
    post.push(rates.post)
    ratios.push(rates.ring / rates.post)
  }
  const ratio = median(ratios)
  const mb = (x) => ((x * bytes) / 2 ** 20).toFixed(0)
  console.log(
    `${bytes} B: write ${(median(ring) / 1e6).toFixed(2)} M msgs/s (${mb(median(ring))} MiB/s), postMessage(Uint8Array) ${(median(post) / 1e6).toFixed(3)} M (${mb(median(post))} MiB/s): ${ratio.toFixed(1)}x (${ratios.map((x) => x.toFixed(1)).join(' ')})${bytes === 100 ? `; bar >= 10x: ${ratio >= 10 ? 'met' : 'NOT met'}` : ''}`,
  )
}
