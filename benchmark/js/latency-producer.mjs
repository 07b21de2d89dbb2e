// The producer side of the latency benchmarks, in a worker_thread: publishes `count` events at
// a steady `rate` (events/s, paced by the clock), one event per publish, each event's 8 bytes
// being the time it was published (microseconds on the process-wide monotonic clock, see
// makeClockUs), taken once the slot is claimed, as LMAX's latency tests stamp the event in the
// translator: the hop measured is write + publish + the consumer seeing and reading it, not
// waiting for room. The consumer on the main thread subtracts the stamp from the time it reads
// the event. The sum of the stamps is the checksum.

import { parentPort, workerData } from 'node:worker_threads'
import { CTRL_T0, CTRL_T1, loadDisruptor, makeClockUs, readyAndWait } from './common.mjs'
import { SabProducer } from './sab-ring.mjs'

const { system, rate, count } = workerData
const i32 = new Int32Array(workerData.ctrl)
const ctrlF64 = new Float64Array(workerData.ctrl)
const clock = makeClockUs()
const interval = 1e6 / rate // microseconds between events
/** Fallen this far behind the schedule (the consumer held the producer up), start afresh
 * instead of publishing the backlog as a burst. */
const MAX_BEHIND_US = 1000
/** Gaps longer than this are slept through (Atomics.wait) but for the last SPIN_US, which is
 * spun: at low rates the producer then leaves its core to the consumer's threads (2 cores). */
const SLEEP_ABOVE_US = 300
const SPIN_US = 150
const nap = new Int32Array(new SharedArrayBuffer(4))

function paced(publish) {
  let sum = 0
  let next = clock()
  for (let i = 0; i < count; i++) {
    next += interval
    let now = clock()
    if (next - now > SLEEP_ABOVE_US) {
      Atomics.wait(nap, 0, 0, (next - now - SPIN_US) / 1000)
      now = clock()
    }
    while (now < next) now = clock()
    if (now - next > MAX_BEHIND_US) next = now
    sum += publish()
  }
  return sum
}

function run() {
  if (system === 'napi-disruptor') {
    const d = loadDisruptor().attach(workerData.handle)
    const f64 = new Float64Array(d.buffer)
    const mask = d.size - 1
    readyAndWait(i32)
    return paced(() => {
      const s = d.next()
      const stamp = clock()
      f64[s & mask] = stamp
      d.publish(s)
      return stamp
    })
  }
  if (system === 'sab-ring') {
    const ring = new SabProducer(workerData.ring)
    const f64 = ring.f64
    const mask = ring.mask
    readyAndWait(i32)
    return paced(() => {
      const s = ring.claim(1)
      const stamp = clock()
      f64[s & mask] = stamp
      ring.publish(s + 1)
      return stamp
    })
  }
  if (system === 'postMessage') {
    const port = workerData.port
    readyAndWait(i32)
    return paced(() => {
      const stamp = clock()
      port.postMessage(stamp)
      return stamp
    })
  }
  throw new Error(`unknown system ${system}`)
}

try {
  ctrlF64[CTRL_T0] = run()
  ctrlF64[CTRL_T1] = 1 // done
} catch (e) {
  parentPort.postMessage({ error: e instanceof Error ? `${e.stack}` : String(e) })
}
