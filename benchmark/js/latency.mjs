// Latency: one one-way JS-to-JS hop, from a producer in a worker_thread publishing a time stamp
// to the consumer on the main thread reading it, per event, as percentiles (node's
// perf_hooks histogram, nanosecond resolution). Two steady rates: a low one (the consumer is
// idle between events: what a wake-up costs) and a loaded one (the consumer is kept busy).
// Every event is checked: the count and the sum of the stamps must match the producer's.

import path from 'node:path'
import { createHistogram } from 'node:perf_hooks'
import { MessageChannel, Worker } from 'node:worker_threads'
import {
  CTRL_T0,
  CTRL_T1,
  contentionMeter,
  go,
  here,
  loadDisruptor,
  makeClockUs,
  newControl,
  pullLoop,
  waitReady,
} from './common.mjs'
import { createSabRing, SabConsumer } from './sab-ring.mjs'

const PRODUCER = path.join(here, 'latency-producer.mjs')
/** Pull-mode consumers spin without pausing here (latency, not throughput, is measured). */
const IDLE_SPIN = Number(process.env.BENCH_LATENCY_IDLE_SPIN ?? 0)

export const LATENCY_ROWS = [
  { system: 'napi-disruptor', mode: 'poller', label: 'napi-disruptor (poller)' },
  { system: 'napi-disruptor', mode: 'callback', label: 'napi-disruptor (callback)' },
  { system: 'sab-ring', mode: 'poll', label: 'pure-JS SharedArrayBuffer ring' },
  { system: 'postMessage', mode: 'message', label: 'MessagePort.postMessage' },
]

/**
 * One latency run: `rate` events/s for `seconds`; the first `warmupFraction` of the events is
 * not recorded. Resolves { count, recorded, p50, p90, p99, p999, max, mean } (microseconds),
 * delivered (events/s consumed) and othersCpu (% of a core other processes used meanwhile).
 */
export async function latencyRun({
  row,
  rate,
  seconds,
  size = 65536,
  waitStrategy = 'blocking',
  warmupFraction = 0.1,
}) {
  const count = Math.max(100, Math.round(rate * seconds))
  const skip = Math.floor(count * warmupFraction)
  const clock = makeClockUs()
  const hist = createHistogram({ lowest: 1, highest: 60e9, figures: 3 })
  let received = 0
  let sum = 0
  let finish = null
  let firstAt = 0
  let lastAt = 0
  const onEvent = (stamp) => {
    const now = clock()
    sum += stamp
    if (++received > skip) hist.record(Math.max(1, Math.round((now - stamp) * 1000)))
    if (received === 1) firstAt = now
    lastAt = now
  }
  const done = () => received >= count

  const ctrl = newControl()
  let othersCpu = null
  let data
  let transferList = []
  let start
  let close = async () => {}

  if (row.system === 'napi-disruptor') {
    const Disruptor = loadDisruptor()
    const d = new Disruptor({ size, slotSize: 8, producer: 'single', waitStrategy })
    const f64 = new Float64Array(d.buffer)
    const mask = size - 1
    const handler = (lo, hi) => {
      for (let s = lo; s <= hi; s++) onEvent(f64[s & mask])
    }
    if (row.mode === 'callback') {
      d.handleEventsWith((lo, hi) => {
        handler(lo, hi)
        if (finish !== null && done()) finish()
      })
      d.start()
      start = () => {}
    } else {
      const p = d.poller()
      start = () =>
        pullLoop(
          () => p.poll(handler) === 'processing',
          done,
          () => finish(),
          IDLE_SPIN,
        )
    }
    data = { handle: d.share() }
    close = () => d.close()
  } else if (row.system === 'sab-ring') {
    const ring = createSabRing(size)
    const consumer = new SabConsumer(ring)
    const f64 = consumer.f64
    const mask = consumer.mask
    const handler = (lo, hi) => {
      for (let s = lo; s <= hi; s++) onEvent(f64[s & mask])
    }
    data = { ring }
    start = () =>
      pullLoop(
        () => consumer.poll(handler),
        done,
        () => finish(),
        IDLE_SPIN,
      )
  } else if (row.system === 'postMessage') {
    const { port1, port2 } = new MessageChannel()
    port1.on('message', (stamp) => {
      onEvent(stamp)
      if (finish !== null && done()) finish()
    })
    data = { port: port2 }
    transferList = [port2]
    start = () => {}
    close = async () => port1.close()
  } else {
    throw new Error(`unknown system ${row.system}`)
  }

  const w = new Worker(PRODUCER, {
    workerData: { system: row.system, rate, count, ctrl: ctrl.sab, ...data },
    transferList,
  })
  w.failed = null
  const exited = new Promise((resolve) => w.once('exit', resolve))
  w.on('error', (e) => {
    w.failed = e
  })
  w.on('message', (m) => {
    if (m?.error) w.failed = new Error(`latency producer: ${m.error}`)
  })
  try {
    await waitReady(ctrl.i32, 1, [w])
    const finished = new Promise((resolve, reject) => {
      const stallMs = Math.max(15_000, seconds * 3000)
      const startedAt = Date.now()
      const timer = setInterval(() => {
        if (w.failed) {
          clearInterval(timer)
          reject(w.failed)
        } else if (Date.now() - startedAt > stallMs) {
          clearInterval(timer)
          reject(new Error(`stalled: received ${received} of ${count} events`))
        }
      }, 100)
      finish = () => {
        finish = null
        clearInterval(timer)
        resolve()
      }
    })
    start()
    const meter = contentionMeter()
    go(ctrl.i32)
    await finished
    othersCpu = meter.stop()
    await exited
    if (w.failed) throw w.failed
    if (ctrl.f64[CTRL_T1] !== 1) throw new Error('latency producer did not finish')
    if (received !== count) throw new Error(`received ${received} events, published ${count}`)
    if (sum !== ctrl.f64[CTRL_T0]) throw new Error(`checksum ${sum}, expected ${ctrl.f64[CTRL_T0]}`)
    await close()
  } finally {
    await w.terminate()
  }
  const us = (ns) => ns / 1000
  return {
    count,
    recorded: hist.count,
    min: us(hist.min),
    p50: us(hist.percentile(50)),
    p90: us(hist.percentile(90)),
    p99: us(hist.percentile(99)),
    p999: us(hist.percentile(99.9)),
    max: us(hist.max),
    mean: us(hist.mean),
    // events/s the consumer actually took in (below `rate`: it could not keep up, and queued)
    delivered: lastAt > firstAt ? ((received - 1) * 1e6) / (lastAt - firstAt) : null,
    othersCpu,
  }
}
