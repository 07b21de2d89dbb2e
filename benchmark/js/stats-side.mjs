// One side of benchmark/stats-agreement.mjs, in a worker_thread: the producer or the consumer
// of the ring, each keeping its own count of what it did in a shared Float64Array (`own`), so
// that the main thread can set stats() beside figures the engine never saw.
//   own[0] producer: claims            own[4] consumer: events
//   own[1] producer: published events  own[5] consumer: batches
//   own[2] producer: ns inside next()  own[8 + k] consumer: batches of 2**k .. 2**(k+1) - 1
// i32[0] (the control word): the main thread sets it to 1 to stop the producer.

import { parentPort, workerData } from 'node:worker_threads'
import { loadDisruptor } from './common.mjs'

const { role, handle, batch, work } = workerData
const own = new Float64Array(workerData.own)
const stop = new Int32Array(workerData.control)
const Disruptor = loadDisruptor()
const d = Disruptor.attach(handle)
const f64 = new Float64Array(d.buffer)
const mask = d.size - 1

if (role === 'producer') {
  parentPort.postMessage('ready')
  let claims = 0
  let published = 0
  let waited = 0
  let v = 0
  while (Atomics.load(stop, 0) === 0) {
    // Timed from here: the time next() takes is the producer's wait (plus a claim's few ns).
    const t0 = performance.now()
    const hi = d.next(batch)
    waited += performance.now() - t0
    for (let s = hi - batch + 1; s <= hi; s++) f64[s & mask] = ++v
    d.publish(hi - batch + 1, hi)
    claims++
    published += batch
    own[0] = claims
    own[1] = published
    own[2] = waited * 1e6
  }
  d.close().then(() => parentPort.postMessage('done'))
} else {
  let events = 0
  let batches = 0
  let sink = 0
  d.handleEventsWith({
    name: 'measured',
    onBatch(lo, hi) {
      for (let s = lo; s <= hi; s++) {
        sink += f64[s & mask]
        // Work per event, for the run whose producer waits for a slow consumer.
        for (let i = 0; i < work; i++) sink = (sink * 31 + i) % 1e9
      }
      const n = hi - lo + 1
      events += n
      batches++
      own[8 + 31 - Math.clz32(n)]++
      own[4] = events
      own[5] = batches
    },
  })
  d.start()
  parentPort.on('message', (m) => {
    if (m !== 'leave') return
    parentPort.postMessage({ sink })
    d.close().then(() => parentPort.close())
  })
  parentPort.postMessage('ready')
}
