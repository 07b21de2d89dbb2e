// Named channels (issue 18): the seeds' Go dispatcher scenario. 256 producers, in-thread
// producers registered on 2 worker threads (128 each), emit 16-byte messages; the main thread
// routes every channel and checks counts and a checksum:
//
//   worker 0: 128 producers --\
//                              >-- [one ring, channel id in each frame] --> main: routes by channel
//   worker 1: 128 producers --/
//
// Two designs, same framing code (message/frames.ts), paired rounds (order alternating):
//   one ring   : the Dispatcher (one multi-producer ring; each thread's one consumer routes)
//   per channel: a multi-producer ring per channel, one consumer per channel on the main thread
//                (the producers look the ring up by name, as the Dispatcher looks up the id)
// Cases: the seed's "single" (1,000 single emits per producer, then one on 'completed') and
// "batch 16" (100,000 per producer in batches of 16; the seed's laptop: 400k+ single, up to 20M
// batched), and the batch case spread over 8 channels. `--quick`: fewer events and rounds.

import { createRequire } from 'node:module'
import { Worker } from 'node:worker_threads'
import { machine, median } from './js/common.mjs'

const quick = process.argv.includes('--quick')
const ROUNDS = quick ? 1 : 5
const PRODUCERS = 256
const THREADS = 2
const BYTES = 16
const require = createRequire(import.meta.url)
const dist = require.resolve('../dist/index.js')
const framesModule = require.resolve('../dist/message/frames.js')
const { Dispatcher, Disruptor } = require(dist)

const CASES = [
  { name: 'single, 2 channels', channels: 1, perProducer: 1000, batch: 1 },
  { name: 'batch 16, 2 channels', channels: 1, perProducer: quick ? 4000 : 100_000, batch: 16 },
  { name: 'batch 16, 8 channels', channels: 8, perProducer: quick ? 4000 : 40_000, batch: 16 },
]

const WORKER = `
const { parentPort, workerData } = require('node:worker_threads')
const { Dispatcher, Disruptor } = require(workerData.dist)
const { Frames } = require(workerData.frames)
const { design, handle, producers, perProducer, batch, channels, first } = workerData
const go = new Int32Array(workerData.go)

// The ring-per-channel design: a ring and its framing per channel, found by name.
class PerChannel {
  constructor(handles) {
    this.rings = new Map()
    for (const [name, h] of Object.entries(handles)) {
      const d = Disruptor.attach(h)
      this.rings.set(name, { d, frames: new Frames(d) })
    }
  }
  emit(channel, data) {
    const r = this.rings.get(channel)
    return r.frames.send(r.d, r.frames.measure(data), 0, true)
  }
  batch(channel, items) {
    const r = this.rings.get(channel)
    return r.frames.sendAll(r.d, items.map((x) => r.frames.measure(x)), new Array(items.length).fill(0), true)
  }
  async close() {
    for (const r of this.rings.values()) await r.d.close()
  }
}

const router = design === 'one ring' ? Dispatcher.attach(handle) : new PerChannel(handle)
const names = Array.from({ length: channels }, (_, c) => 'emit' + c)
parentPort.postMessage('ready')
while (Atomics.load(go, 0) === 0) Atomics.wait(go, 0, 0, 100)
for (let p = 0; p < producers; p++) {
  const id = first + p
  const data = new Uint8Array(${BYTES})
  data[0] = id & 0xff
  const items = Array.from({ length: batch }, () => data)
  const work = () => {
    for (let i = 0; i < perProducer; i += batch) {
      const channel = names[(id + i / batch) % channels]
      if (batch === 1) router.emit(channel, data)
      else router.batch(channel, items)
    }
    router.emit('completed', 'worker ' + id)
  }
  if (design === 'one ring') router.register(work)
  else work()
}
;(design === 'one ring' ? router.join() : Promise.resolve())
  .then(() => router.close())
  .then(() => parentPort.postMessage('done'))
`

/** One run: events per second from the go signal to the last delivery on the main thread. */
async function run(design, c) {
  const names = Array.from({ length: c.channels }, (_, i) => `emit${i}`)
  const total = PRODUCERS * c.perProducer
  let count = 0
  let sum = 0
  let completed = 0
  let finish
  const finished = new Promise((r) => {
    finish = r
  })
  const check = () => {
    if (count === total && completed === PRODUCERS) finish()
  }
  const onEmit = (view) => {
    count++
    sum += view[0]
  }
  const onCompleted = () => {
    completed++
    check()
  }
  const onEmitChecked = (view) => {
    onEmit(view)
    if (count === total) check()
  }
  let router
  let handle
  let rings = []
  if (design === 'one ring') {
    router = new Dispatcher({ size: 262144, slotSize: 32, channels: [...names, 'completed'] })
    for (const n of names) router.route(n, onEmitChecked)
    router.route('completed', onCompleted)
    handle = router.share()
  } else {
    handle = {}
    for (const n of [...names, 'completed']) {
      const d = new Disruptor({ size: n === 'completed' ? 4096 : 262144 / c.channels, slotSize: 32 })
      d.handleMessagesWith(n === 'completed' ? onCompleted : onEmitChecked)
      d.start()
      rings.push(d)
      handle[n] = d.share()
    }
  }
  const go = new Int32Array(new SharedArrayBuffer(4))
  const perThread = PRODUCERS / THREADS
  const workers = []
  let ready = 0
  const allReady = new Promise((resolve) => {
    for (let t = 0; t < THREADS; t++) {
      const w = new Worker(WORKER, {
        eval: true,
        workerData: {
          design,
          handle,
          dist,
          frames: framesModule,
          go: go.buffer,
          producers: perThread,
          first: t * perThread,
          perProducer: c.perProducer,
          batch: c.batch,
          channels: c.channels,
        },
      })
      w.on('message', (m) => {
        if (m === 'ready' && ++ready === THREADS) resolve()
      })
      w.on('error', (e) => {
        console.error(e)
        process.exit(2)
      })
      workers.push(new Promise((r) => w.once('exit', r)))
    }
  })
  await allReady
  const t0 = performance.now()
  Atomics.store(go, 0, 1)
  Atomics.notify(go, 0)
  await finished
  const ms = performance.now() - t0
  await Promise.all(workers)
  let expected = 0
  for (let id = 0; id < PRODUCERS; id++) expected += (id & 0xff) * c.perProducer
  if (sum !== expected) throw new Error(`${design} ${c.name}: checksum ${sum}, expected ${expected}`)
  let reported = null
  if (design === 'one ring') {
    await router.join()
    const m = router.metrics()
    if (m.totalEvents !== total + PRODUCERS)
      throw new Error(`metrics: ${m.totalEvents} events, expected ${total + PRODUCERS}`)
    reported = m.eventsPerSecond
    await router.close()
  } else {
    for (const d of rings) await d.close()
    rings = []
  }
  return { rate: (total + PRODUCERS) / (ms / 1000), reported }
}

const m = machine()
console.log(
  `channels, ${PRODUCERS} in-thread producers on ${THREADS} worker threads -> main: ${m.cpu}, ${m.cores} cores, node ${m.node}, commit ${m.commit.slice(0, 7)}${m.dirty ? '+' : ''}; ${ROUNDS} paired rounds, ${BYTES}-byte messages`,
)
for (const c of CASES) {
  const one = []
  const per = []
  const ratios = []
  const reported = []
  for (let r = 0; r < ROUNDS; r++) {
    const order = r % 2 === 0 ? ['one ring', 'per channel'] : ['per channel', 'one ring']
    const rates = {}
    for (const design of order) {
      const x = await run(design, c)
      rates[design] = x.rate
      if (x.reported !== null) reported.push(x.reported)
    }
    one.push(rates['one ring'])
    per.push(rates['per channel'])
    ratios.push(rates['one ring'] / rates['per channel'])
  }
  console.log(
    `${c.name} (${((PRODUCERS * c.perProducer) / 1e6).toFixed(2)}M events): one ring ${(median(one) / 1e6).toFixed(2)} M events/s (metrics() says ${(median(reported) / 1e6).toFixed(2)} M), ring per channel ${(median(per) / 1e6).toFixed(2)} M: one/per ${median(ratios).toFixed(2)} (${ratios.map((x) => x.toFixed(2)).join(' ')})`,
  )
}
