// Throughput: producers in worker_threads, consumers on the main thread, one run at a time.
//
// A run: the main thread sets up the system and its consumer(s), starts the producer
// worker(s), waits until they are set up, gives the go signal, and measures from the first
// publish (the earliest start stamp a producer wrote into the control block, on the
// process-wide monotonic clock) to the moment the main thread consumed the last event. Worker
// start-up and teardown are outside the measurement. Every consumer checks every event
// (count, sum, order per producer): a run that loses, duplicates or reorders an event fails.
// The light rows (`1p1c-light`) only sum the events, and check the count and the sum at the end.

import fs from 'node:fs'
import path from 'node:path'
import { MessageChannel, Worker } from 'node:worker_threads'
import {
  ACK_STRIDE,
  CTRL_ACK,
  CTRL_T0,
  CTRL_T1,
  contentionMeter,
  go,
  here,
  loadDisruptor,
  loadSharedMemoryDisruptor,
  makeChecker,
  newControl,
  nowNs,
  pullLoop,
  SumOnly,
  waitReady,
} from './common.mjs'
import { createMpSabRing, createSabRing, MpSabConsumer, SabConsumer } from './sab-ring.mjs'

const PRODUCER = path.join(here, 'producer.mjs')
/** A run fails when no event arrived for this long. */
const STALL_MS = 15_000

let runCounter = 0

/**
 * Rows of the report: what runs, per topology. `mode` says how the main thread consumes.
 * Each row runs at every batch size of its topology.
 */
export const TOPOLOGIES = [
  {
    id: '1p1c',
    title: 'one-to-one (1 producer worker -> 1 consumer on the main thread)',
    producers: 1,
    consumers: 1,
    rows: [
      { system: 'napi-disruptor', mode: 'callback' },
      { system: 'napi-disruptor', mode: 'poller' },
      { system: 'sab-ring', mode: 'poll' },
      { system: 'shared-memory-disruptor', mode: 'poll' },
      { system: 'postMessage', mode: 'message' },
    ],
  },
  {
    // The same one-to-one pipe with a consumer that does one thing per event (adds its value to a
    // sum) instead of the order check, which caps every system near the same rate and hides what
    // the delivery itself costs. Pull consumers here never pause when a poll finds nothing
    // (whatever BENCH_IDLE_SPIN says), and the SAB ring's consumer is the greedy one: load the
    // head, sum everything available, store the tail, loop. The count and the sum are checked at
    // the end of every run. Runs carry LIGHT_EVENTS_FACTOR times the events of the other rows,
    // so that a run lasts long enough to time at these rates.
    id: '1p1c-light',
    title: 'one-to-one, light consumer (1 producer worker -> 1 main-thread consumer that only sums the events)',
    producers: 1,
    consumers: 1,
    light: true,
    rows: [
      { system: 'napi-disruptor', mode: 'callback' },
      { system: 'napi-disruptor', mode: 'poller' },
      { system: 'sab-ring', mode: 'greedy' },
    ],
  },
  {
    id: '1p3c',
    title: 'one-to-three multicast (1 producer worker -> 3 consumers on the main thread)',
    producers: 1,
    consumers: 3,
    rows: [
      { system: 'napi-disruptor', mode: 'callback' },
      { system: 'napi-disruptor', mode: 'poller' },
    ],
  },
  {
    id: '3p1c',
    title: 'three-to-one (3 producer workers -> 1 consumer on the main thread)',
    producers: 3,
    consumers: 1,
    rows: [
      { system: 'napi-disruptor', mode: 'callback' },
      { system: 'napi-disruptor', mode: 'poller' },
      // the peers a user would pick for several producers: a hand-written multi-producer SAB ring
      // (compare-and-swap claim, a published flag per claim) and a MessagePort per producer
      { system: 'sab-ring', mode: 'mp' },
      { system: 'postMessage', mode: 'message' },
    ],
  },
  {
    id: 'diamond',
    title: 'diamond (1 producer worker -> 2 consumers -> 1 consumer after both, main thread)',
    producers: 1,
    consumers: 3,
    rows: [{ system: 'napi-disruptor', mode: 'callback' }],
  },
]

/** The light rows' runs carry this many times the events of a run of the other rows. */
export const LIGHT_EVENTS_FACTOR = 5

/** Events per run of `topology`'s rows when a run of the (checked) rows carries `events`. */
export const eventsFor = (topology, events) => (topology.light ? events * LIGHT_EVENTS_FACTOR : events)

export function rowLabel(row, batch) {
  if (row.system === 'napi-disruptor') return `napi-disruptor (${row.mode})`
  if (row.system === 'postMessage') {
    return batch === 1
      ? 'MessagePort.postMessage (1 event/message)'
      : `MessagePort.postMessage (${batch} events/message)`
  }
  if (row.system === 'sab-ring') {
    if (row.mode === 'mp') return 'pure-JS SharedArrayBuffer ring (multi-producer)'
    return row.mode === 'greedy' ? 'pure-JS SharedArrayBuffer ring (greedy)' : 'pure-JS SharedArrayBuffer ring'
  }
  return row.system
}

export function available(row) {
  if (row.system === 'shared-memory-disruptor') return loadSharedMemoryDisruptor() !== null
  return true
}

/**
 * The main-thread side of one run: sets the system up and returns
 * { checkers, workerData (system-specific part), transferList, start(finish), close() }.
 */
function consumerSide(topology, row, batch, perProducer, size, waitStrategy) {
  const { producers } = topology
  const nCheckers = topology.consumers
  const checkers = Array.from({ length: nCheckers }, () =>
    topology.light ? new SumOnly(perProducer) : makeChecker(producers, perProducer),
  )
  // pull consumers of the light rows poll again at once when a poll found nothing
  const idleSpin = topology.light ? 0 : undefined
  const allDone = () => {
    for (const c of checkers) if (!c.done) return false
    return true
  }

  if (row.system === 'napi-disruptor') {
    const Disruptor = loadDisruptor()
    const d = new Disruptor({ size, slotSize: 8, producer: producers === 1 ? 'single' : 'multi', waitStrategy })
    const f64 = new Float64Array(d.buffer)
    const mask = size - 1
    const handlers = checkers.map((c) => (lo, hi) => c.range(f64, mask, lo, hi))
    let start
    if (row.mode === 'callback') {
      let finish = null
      const wrapped = handlers.map((h) => (lo, hi) => {
        h(lo, hi)
        if (finish !== null && allDone()) {
          finish()
          finish = null
        }
      })
      if (topology.id === 'diamond') d.handleEventsWith(wrapped[0], wrapped[1]).andThen(wrapped[2])
      else d.handleEventsWith(...wrapped)
      d.start()
      start = (f) => {
        finish = f
      }
    } else {
      const pollers = handlers.map(() => d.poller())
      const step =
        pollers.length === 1
          ? () => pollers[0].poll(handlers[0]) === 'processing'
          : () => {
              let any = false
              for (let i = 0; i < pollers.length; i++) if (pollers[i].poll(handlers[i]) === 'processing') any = true
              return any
            }
      start = (f) => pullLoop(step, allDone, f, idleSpin)
    }
    return {
      checkers,
      data: { handle: d.share() },
      transferList: [],
      start,
      close: () => d.close(),
    }
  }

  if (row.system === 'sab-ring') {
    const ring = row.mode === 'mp' ? createMpSabRing(size) : createSabRing(size)
    const consumer = row.mode === 'mp' ? new MpSabConsumer(ring) : new SabConsumer(ring)
    const c = checkers[0]
    const f64 = consumer.f64
    const mask = consumer.mask
    const handler = (lo, hi) => c.range(f64, mask, lo, hi)
    return {
      checkers,
      data: { ring },
      transferList: [],
      start: (f) => pullLoop(() => consumer.poll(handler), allDone, f, idleSpin),
      close: async () => {},
    }
  }

  if (row.system === 'shared-memory-disruptor') {
    const SMD = loadSharedMemoryDisruptor()
    const shmName = `/napi-disruptor-bench-${process.pid}-${++runCounter}`
    // (name, elements, element size, consumers, this consumer's index, init: yes, spin: no:
    //  consumeNewSync returns [] at once when there is nothing, so the main thread can yield)
    const d = new SMD(shmName, size, 8, 1, 0, true, false)
    const c = checkers[0]
    const step = () => {
      const bufs = d.consumeNewSync() // one Buffer per contiguous run of new events (<= 2)
      if (bufs.length === 0) return false
      for (let b = 0; b < bufs.length; b++) {
        const buf = bufs[b]
        const n = buf.length
        for (let j = 0; j < n; j += 8) c.one(buf.readDoubleLE(j))
        c.count += n / 8
      }
      d.consumeCommit()
      return true
    }
    return {
      checkers,
      data: { shmName, size },
      transferList: [],
      start: (f) => pullLoop(step, allDone, f),
      close: async () => {
        d.release()
        fs.rmSync(path.join('/dev/shm', shmName.slice(1)), { force: true })
      },
    }
  }

  if (row.system === 'postMessage') {
    // A MessageChannel per producer, all received on this thread by one checker.
    const channels = Array.from({ length: producers }, () => new MessageChannel())
    const c = checkers[0]
    // messages in flight: a ring's worth of events, shared by the producers
    const window = Math.max(1, Math.floor(size / batch / producers))
    const ackEvery = Math.max(1, Math.floor(window / 256))
    let finish = null
    let ctrl = null
    const listen = (port, slot) => {
      let messages = 0
      const ack = () => {
        if (++messages % ackEvery === 0) {
          Atomics.store(ctrl, slot, messages)
          Atomics.notify(ctrl, slot)
        }
        if (finish !== null && c.done) {
          finish()
          finish = null
        }
      }
      if (batch === 1) {
        port.on('message', (v) => {
          c.one(v)
          c.count++
          ack()
        })
      } else {
        port.on('message', (events) => {
          for (let k = 0; k < events.length; k++) c.one(events[k])
          c.count += events.length
          ack()
        })
      }
    }
    for (const [p, { port1 }] of channels.entries()) listen(port1, CTRL_ACK + ACK_STRIDE * p)
    return {
      checkers,
      dataFor: (p) => ({ data: { port: channels[p].port2, window }, transferList: [channels[p].port2] }),
      setControl: (i32) => {
        ctrl = i32
      },
      start: (f) => {
        finish = f
      },
      close: async () => {
        for (const { port1 } of channels) port1.close()
      },
    }
  }
  throw new Error(`unknown system ${row.system}`)
}

/**
 * One measured run. Resolves { eventsPerSec, ns, events } or rejects (lost events, a producer
 * error, a stall).
 */
export async function runOnce({ topology, row, batch, events, size, waitStrategy = 'blocking' }) {
  const producers = topology.producers
  const perProducer = events / producers
  if (!Number.isInteger(perProducer) || perProducer % batch !== 0) {
    throw new Error(`events ${events} must split into ${producers} producers of whole batches of ${batch}`)
  }
  const side = consumerSide(topology, row, batch, perProducer, size, waitStrategy)
  const ctrl = newControl()
  side.setControl?.(ctrl.i32)
  const workers = []
  let closed = false
  try {
    for (let p = 0; p < producers; p++) {
      const own = side.dataFor ? side.dataFor(p) : { data: side.data, transferList: side.transferList }
      const w = new Worker(PRODUCER, {
        workerData: {
          system: row.system,
          batch,
          producers,
          p,
          perProducer,
          light: topology.light === true,
          ctrl: ctrl.sab,
          ...own.data,
        },
        transferList: own.transferList,
      })
      w.failed = null
      w.exited = new Promise((resolve) => w.once('exit', resolve))
      w.on('error', (e) => {
        w.failed = e
      })
      w.on('message', (m) => {
        if (m?.error) w.failed = new Error(`producer ${p}: ${m.error}`)
      })
      workers.push(w)
    }
    await waitReady(ctrl.i32, producers, workers)

    let tEnd = 0
    const finished = new Promise((resolve, reject) => {
      let lastCount = -1
      let lastChange = Date.now()
      const timer = setInterval(() => {
        for (const w of workers) {
          if (w.failed) {
            clearInterval(timer)
            reject(w.failed)
            return
          }
        }
        const count = side.checkers.reduce((a, c) => a + c.count, 0)
        if (count !== lastCount) {
          lastCount = count
          lastChange = Date.now()
        } else if (Date.now() - lastChange > STALL_MS) {
          clearInterval(timer)
          const got = side.checkers.map((c) => c.count).join(', ')
          reject(new Error(`stalled: consumers received ${got} of ${events} events, nothing for ${STALL_MS / 1000} s`))
        }
      }, 200)
      side.start(() => {
        tEnd = nowNs()
        clearInterval(timer)
        resolve()
      })
    })
    const meter = contentionMeter()
    go(ctrl.i32)
    await finished
    const othersCpu = meter.stop()

    await Promise.all(workers.map((w) => w.exited))
    let t0 = Infinity
    let t1 = 0
    for (let p = 0; p < producers; p++) {
      t0 = Math.min(t0, ctrl.f64[CTRL_T0 + p])
      t1 = Math.max(t1, ctrl.f64[CTRL_T1 + p])
    }
    for (const w of workers) if (w.failed) throw w.failed
    const problems = side.checkers.map((c) => c.verdict(producers, perProducer)).filter((x) => x !== null)
    if (problems.length > 0) throw new Error(`checksum failed: ${problems.join('; ')}`)
    await side.close()
    closed = true
    const ns = tEnd - t0
    // producerNs: first publish to the last producer's last publish (a diagnostic: when it is
    // close to ns, the producers were the bottleneck)
    return { events, ns, eventsPerSec: (events / ns) * 1e9, producerNs: t1 - t0, othersCpu }
  } finally {
    for (const w of workers) await w.terminate()
    if (!closed) await side.close().catch(() => {})
  }
}
