// Variable-length messages (issue 18), worker -> main thread, 100-byte and 10 KiB messages:
//
//   worker: d.write(bytes) | port.postMessage(bytes) | shared-memory-disruptor's stream  -->
//   main: reads every message (its length and first and last byte), checks the count and a
//   checksum (the stream peer keeps no message boundaries: it sums every byte it reads)
//
// Paired rounds (each runs every system back to back, order rotating); the bars: 100-byte
// messages >= 10x postMessage(Uint8Array) and ahead of shared-memory-disruptor's stream
// (DisruptorWriteStream -> DisruptorReadStream over 1-byte elements, its streaming API; each
// message a fresh Buffer, as a Writable keeps what it is given). `--quick`: fewer messages and
// rounds.

import fs from 'node:fs'
import { goWorker, loadDisruptor, loadSharedMemoryDisruptor, machine, median } from './js/common.mjs'

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
let stream = null
if (mode === 'smd') {
  const { Disruptor: SMD, DisruptorWriteStream } = require('shared-memory-disruptor')
  // (shm name, elements, element size 1, consumers, -1: producer only, no init, no spin)
  stream = new DisruptorWriteStream(new SMD(workerData.shmName, workerData.elements, 1, 1, -1, false, false))
}
parentPort.postMessage('ready')
while (Atomics.load(ack, 2) === 0) Atomics.wait(ack, 2, 0, 100)
;(async () => {
  for (let i = 0; i < n; i++) {
    if (stream !== null) {
      const m = Buffer.alloc(bytes)
      m[0] = i & 0xff
      m[bytes - 1] = (i * 7) & 0xff
      if (!stream.write(m)) await new Promise((r) => stream.once('drain', r))
      continue
    }
    message[0] = i & 0xff
    message[bytes - 1] = (i * 7) & 0xff
    if (d !== null) d.write(message)
    else {
      parentPort.postMessage(message) // a structured clone of the bytes, as a user sends them
      while (i - Atomics.load(ack, 0) > 2048) Atomics.wait(ack, 1, 0, 1)
    }
  }
  parentPort.postMessage('done')
})()
`

const expected = (n, bytes) => {
  let sum = 0
  for (let i = 0; i < n; i++) sum += bytes + (i & 0xff) + ((i * 7) & 0xff)
  return sum
}

let runs = 0
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
  let smd = null
  if (mode === 'smd') {
    const { Disruptor: SMD, DisruptorReadStream } = require('shared-memory-disruptor')
    data.shmName = `/napi-disruptor-messages-${process.pid}-${++runs}`
    data.elements = 65536 * 128 // the same bytes as the ring
    smd = new SMD(data.shmName, data.elements, 1, 1, 0, true, false)
    const rs = new DisruptorReadStream(smd)
    let read = 0
    rs.on('data', (buf) => {
      for (let i = 0; i < buf.length; i++) sum += buf[i]
      read += buf.length
      if (read === n * bytes) {
        sum += read
        finish()
      }
    })
    finished.then(() => rs.destroy())
  }
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
  if (smd !== null) fs.rmSync(`/dev/shm/${data.shmName.slice(1)}`, { force: true })
  if (sum !== expected(n, bytes)) throw new Error(`${mode} ${bytes} B: checksum ${sum}, expected ${expected(n, bytes)}`)
  return n / (ms / 1000)
}

const m = machine()
console.log(
  `messages, worker -> main: ${m.cpu}, ${m.cores} cores, node ${m.node}, commit ${m.commit.slice(0, 7)}${m.dirty ? '+' : ''}; ${ROUNDS} paired rounds`,
)
const withSmd = loadSharedMemoryDisruptor() !== null
if (!withSmd) console.log('shared-memory-disruptor is not installed: its row is skipped')
const MODES = withSmd ? ['ring', 'post', 'smd'] : ['ring', 'post']
for (const bytes of [100, 10240]) {
  const n = (mode) =>
    (quick ? 1 : 4) * (bytes === 100 ? (mode === 'ring' ? 500_000 : 100_000) : mode === 'ring' ? 40_000 : 20_000)
  const rates = Object.fromEntries(MODES.map((mode) => [mode, []]))
  const ratios = { post: [], smd: [] }
  for (let r = 0; r < ROUNDS; r++) {
    const order = MODES.map((_, k) => MODES[(k + r) % MODES.length])
    const round = {}
    for (const mode of order) round[mode] = await run(mode, n(mode), bytes)
    for (const mode of MODES) rates[mode].push(round[mode])
    for (const peer of MODES.slice(1)) ratios[peer].push(round.ring / round[peer])
  }
  const mb = (x) => ((x * bytes) / 2 ** 20).toFixed(0)
  const row = (label, mode) =>
    `${label} ${(median(rates[mode]) / 1e6).toFixed(3)} M (${mb(median(rates[mode]))} MiB/s): ${median(ratios[mode]).toFixed(1)}x (${ratios[mode].map((x) => x.toFixed(1)).join(' ')})`
  const post = median(ratios.post)
  const bars =
    bytes === 100
      ? `; bars: >= 10x postMessage ${post >= 10 ? 'met' : 'NOT met'}${withSmd ? `, ahead of shared-memory-disruptor's stream ${median(ratios.smd) > 1 ? 'met' : 'NOT met'}` : ''}`
      : ''
  console.log(
    `${bytes} B: write ${(median(rates.ring) / 1e6).toFixed(2)} M msgs/s (${mb(median(rates.ring))} MiB/s); ${row('postMessage(Uint8Array)', 'post')}${withSmd ? `; ${row("shared-memory-disruptor's stream", 'smd')}` : ''}${bars}`,
  )
}
