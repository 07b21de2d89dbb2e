// The producer side of every throughput benchmark, run in a worker_thread: it sets its system
// up, counts in as ready, waits for the go signal, stamps its start time (the first publish)
// into the control block, and publishes `perProducer` 8-byte events in claims of `batch`.
//
// Values: with one producer 1, 2, ..., perProducer; producer p of several: 4i + p (see
// common.mjs), written as Float64 so that every system carries the same 8-byte event. The light
// rows (`light`, one producer) write i itself: the same values, without the multiply-add on
// module-level constants, which alone cut the SAB ring's one-to-one batch-64 rate about 3x on the
// 2-core VM (~180M against ~500M events/s) and would cap both systems as the order checker does.

import { parentPort, workerData } from 'node:worker_threads'
import {
  ACK_STRIDE,
  CTRL_ACK,
  CTRL_T0,
  CTRL_T1,
  loadDisruptor,
  loadSharedMemoryDisruptor,
  nowNs,
  readyAndWait,
} from './common.mjs'
import { MpSabProducer, SabProducer } from './sab-ring.mjs'

const { system, batch, producers, p, perProducer: m, light } = workerData
const i32 = new Int32Array(workerData.ctrl)
const ctrlF64 = new Float64Array(workerData.ctrl)
const mul = producers === 1 ? 1 : 4
const add = producers === 1 ? 0 : p

if (m % batch !== 0) throw new Error(`perProducer ${m} is not a multiple of batch ${batch}`)
if (light && producers !== 1) throw new Error('light runs have one producer')

function napiDisruptor() {
  const Disruptor = loadDisruptor()
  const d = Disruptor.attach(workerData.handle)
  const f64 = new Float64Array(d.buffer) // one view, made once
  const mask = d.size - 1
  readyAndWait(i32)
  ctrlF64[CTRL_T0 + p] = nowNs()
  if (light && batch === 1) {
    for (let i = 1; i <= m; i++) {
      const s = d.next()
      f64[s & mask] = i
      d.publish(s)
    }
  } else if (light) {
    for (let i = 1; i <= m; i += batch) {
      const hi = d.next(batch)
      const lo = hi - batch + 1
      for (let s = lo, v = i; s <= hi; s++, v++) f64[s & mask] = v
      d.publish(lo, hi)
    }
  } else if (batch === 1) {
    for (let i = 1; i <= m; i++) {
      const s = d.next()
      f64[s & mask] = i * mul + add
      d.publish(s)
    }
  } else {
    for (let i = 1; i <= m; i += batch) {
      const hi = d.next(batch)
      const lo = hi - batch + 1
      for (let s = lo, v = i; s <= hi; s++, v++) f64[s & mask] = v * mul + add
      d.publish(lo, hi)
    }
  }
}

function mpSabRing() {
  const ring = new MpSabProducer(workerData.ring)
  const f64 = ring.f64
  const mask = ring.mask
  readyAndWait(i32)
  ctrlF64[CTRL_T0 + p] = nowNs()
  if (batch === 1) {
    for (let i = 1; i <= m; i++) {
      const s = ring.claim(1)
      f64[s & mask] = i * mul + add
      ring.publish(s, s + 1)
    }
  } else {
    for (let i = 1; i <= m; i += batch) {
      const lo = ring.claim(batch)
      const end = lo + batch
      for (let s = lo, v = i; s < end; s++, v++) f64[s & mask] = v * mul + add
      ring.publish(lo, end)
    }
  }
}

function sabRing() {
  if (workerData.ring.mp) return mpSabRing()
  const ring = new SabProducer(workerData.ring)
  const f64 = ring.f64
  const mask = ring.mask
  readyAndWait(i32)
  ctrlF64[CTRL_T0 + p] = nowNs()
  if (light && batch === 1) {
    for (let i = 1; i <= m; i++) {
      const s = ring.claim(1)
      f64[s & mask] = i
      ring.publish(s + 1)
    }
  } else if (light) {
    for (let i = 1; i <= m; i += batch) {
      const lo = ring.claim(batch)
      const end = lo + batch
      for (let s = lo, v = i; s < end; s++, v++) f64[s & mask] = v
      ring.publish(end)
    }
  } else if (batch === 1) {
    for (let i = 1; i <= m; i++) {
      const s = ring.claim(1)
      f64[s & mask] = i * mul + add
      ring.publish(s + 1)
    }
  } else {
    for (let i = 1; i <= m; i += batch) {
      const lo = ring.claim(batch)
      const end = lo + batch
      for (let s = lo, v = i; s < end; s++, v++) f64[s & mask] = v * mul + add
      ring.publish(end)
    }
  }
}

function sharedMemoryDisruptor() {
  const SMD = loadSharedMemoryDisruptor()
  // (shm name, elements, element size, consumers, consumer index: -1 = producer only,
  //  init: no (the main thread did), spin: no). Without spin a claim returns an empty result
  // at once when the ring is full and this loop retries, which is what spin does natively, but
  // stays interruptible: worker.terminate() cannot stop a thread spinning in native code.
  const d = new SMD(workerData.shmName, workerData.size, 8, 1, -1, false, false)
  readyAndWait(i32)
  ctrlF64[CTRL_T0 + p] = nowNs()
  if (batch === 1) {
    for (let i = 1; i <= m; i++) {
      let buf = d.produceClaimSync()
      while (buf.length === 0) buf = d.produceClaimSync()
      buf.writeDoubleLE(i * mul + add, 0)
      while (!d.produceCommitSync());
    }
  } else {
    for (let i = 1; i <= m; i += batch) {
      let bufs = d.produceClaimManySync(batch) // one Buffer, or two when the claim wraps
      while (bufs.length === 0) bufs = d.produceClaimManySync(batch)
      let v = i
      for (let b = 0; b < bufs.length; b++) {
        const buf = bufs[b]
        for (let j = 0; j < buf.length; j += 8) buf.writeDoubleLE(v++ * mul + add, j)
      }
      while (!d.produceCommitSync());
    }
  }
  d.release()
}

function postMessageProducer() {
  const port = workerData.port
  // Flow control, so that the producer cannot run away from the consumer by more than a ring's
  // worth of events (the other systems are bounded rings): the consumer stores how many of this
  // producer's messages it has handled into its ack slot every few hundred messages.
  const window = workerData.window
  const ACK = CTRL_ACK + ACK_STRIDE * p
  let acked = 0
  readyAndWait(i32)
  ctrlF64[CTRL_T0 + p] = nowNs()
  if (batch === 1) {
    for (let i = 1; i <= m; i++) {
      if (i - 1 - acked >= window) {
        while (i - 1 - (acked = Atomics.load(i32, ACK)) >= window) Atomics.wait(i32, ACK, acked, 5)
      }
      port.postMessage(i * mul + add)
    }
  } else {
    const events = new Float64Array(batch) // copied by postMessage's structured clone
    for (let i = 1, sent = 0; i <= m; i += batch, sent++) {
      if (sent - acked >= window) {
        while (sent - (acked = Atomics.load(i32, ACK)) >= window) Atomics.wait(i32, ACK, acked, 5)
      }
      for (let k = 0; k < batch; k++) events[k] = (i + k) * mul + add
      port.postMessage(events)
    }
  }
  port.close()
}

const systems = {
  'napi-disruptor': napiDisruptor,
  'sab-ring': sabRing,
  'shared-memory-disruptor': sharedMemoryDisruptor,
  postMessage: postMessageProducer,
}

try {
  systems[system]()
  ctrlF64[CTRL_T1 + p] = nowNs()
} catch (e) {
  parentPort.postMessage({ error: e instanceof Error ? `${e.stack}` : String(e) })
}
