// Resources: memory over a long run, allocation in the publish path, and the CPU an idle ring
// costs per wait strategy.

import { PerformanceObserver, constants as perfConstants } from 'node:perf_hooks'
import v8 from 'node:v8'
import vm from 'node:vm'
import { loadDisruptor } from './common.mjs'
import { runOnce, TOPOLOGIES } from './throughput.mjs'

const MiB = 2 ** 20
export const WAIT_STRATEGIES = ['blocking', 'sleeping', 'yielding', 'busy-spin', 'phased-backoff']

/**
 * RSS and heap before and after a long one-to-one run (napi-disruptor, callback consumer on the
 * main thread, producer worker), sampled every 100 ms during it. "before" is taken after a
 * warm-up run of the same kind (code compiled, pools allocated).
 */
export async function memoryOverLongRun({ events, size }) {
  const topology = TOPOLOGIES.find((t) => t.id === '1p1c')
  const row = { system: 'napi-disruptor', mode: 'callback' }
  await runOnce({ topology, row, batch: 1, events: Math.min(events, 1_920_000), size })
  const before = process.memoryUsage()
  const samples = []
  const timer = setInterval(() => samples.push(process.memoryUsage().rss), 100)
  let result
  try {
    result = await runOnce({ topology, row, batch: 1, events, size })
  } finally {
    clearInterval(timer)
  }
  const after = process.memoryUsage()
  const maxRss = Math.max(before.rss, after.rss, ...samples)
  return {
    events,
    seconds: result.ns / 1e9,
    eventsPerSec: result.eventsPerSec,
    rssBeforeMiB: before.rss / MiB,
    rssAfterMiB: after.rss / MiB,
    rssMaxMiB: maxRss / MiB,
    heapUsedBeforeMiB: before.heapUsed / MiB,
    heapUsedAfterMiB: after.heapUsed / MiB,
    samples: samples.length,
  }
}

/**
 * Allocation during `events` single-producer claims + publishes on this thread (a poller drains
 * in between): garbage collections while they run, and the heap's growth in bytes per event
 * after a full collection first (so that garbage left by earlier benchmarks cannot trigger a
 * collection here). Allocating one object per event would cost at least 16 bytes per event
 * (the smallest heap object) and a scavenge every few hundred thousand events; a publish path
 * that allocates nothing per event shows no collection and a small fraction of a byte (compiled
 * code and feedback). The checksum is summed in a local and kept in a Float64Array: a double
 * in a closure variable is a heap number, one allocation per `sum +=` once it leaves the small
 * integer range (an earlier version of this harness measured its own drain that way).
 */
export async function publishPathAllocation({ events, producer = 'single' }) {
  const Disruptor = loadDisruptor()
  const size = 65536
  const d = new Disruptor({ size, slotSize: 8, producer })
  const f64 = new Float64Array(d.buffer)
  const mask = size - 1
  const p = d.poller()
  const sum = new Float64Array(1)
  const drain = (lo, hi) => {
    let acc = sum[0]
    for (let s = lo; s <= hi; s++) acc += f64[s & mask]
    sum[0] = acc
  }
  const produce = (n) => {
    for (let i = 0; i < n; i += 1024) {
      for (let k = 0; k < 1024; k++) {
        const s = d.next()
        f64[s & mask] = k
        d.publish(s)
      }
      while (p.poll(drain) === 'processing');
    }
  }
  produce(262144) // warm up: compiled, views and claim state made
  fullGc()
  const gcs = { minor: 0, major: 0, other: 0 }
  const obs = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      const kind = e.detail?.kind ?? e.kind
      if (kind === perfConstants.NODE_PERFORMANCE_GC_MINOR) gcs.minor++
      else if (kind === perfConstants.NODE_PERFORMANCE_GC_MAJOR) gcs.major++
      else gcs.other++
    }
  })
  obs.observe({ entryTypes: ['gc'] })
  const heapBefore = process.memoryUsage().heapUsed
  const t0 = performance.now()
  produce(events)
  const ms = performance.now() - t0
  const heapAfter = process.memoryUsage().heapUsed
  await new Promise((r) => setTimeout(r, 50)) // gc entries are delivered asynchronously
  obs.disconnect()
  await d.close()
  if (!(sum[0] > 0)) throw new Error('nothing consumed')
  return {
    events,
    nsPerEvent: (ms * 1e6) / events,
    gcMinor: gcs.minor,
    gcMajor: gcs.major,
    gcOther: gcs.other,
    heapGrowthKiB: (heapAfter - heapBefore) / 1024,
  }
}

/** A full garbage collection now (V8's `gc`, exposed for this call without a command-line flag). */
function fullGc() {
  v8.setFlagsFromString('--expose-gc')
  vm.runInNewContext('gc')()
}

/**
 * CPU used by this process while a ring with a started callback consumer (its waker thread
 * waiting in the strategy) has nothing to do, in % of one core, per wait strategy; and the same
 * with no ring (the baseline of an idle Node process).
 */
export async function idleCpu({ seconds }) {
  const measure = async () => {
    await new Promise((r) => setTimeout(r, 100)) // let the ring settle into its wait
    const c0 = process.cpuUsage()
    const t0 = process.hrtime.bigint()
    await new Promise((r) => setTimeout(r, seconds * 1000))
    const c = process.cpuUsage(c0)
    const wallUs = Number(process.hrtime.bigint() - t0) / 1000
    return (100 * (c.user + c.system)) / wallUs
  }
  const Disruptor = loadDisruptor()
  const rows = [{ strategy: 'none (no ring)', cpuPercent: await measure() }]
  for (const strategy of WAIT_STRATEGIES) {
    const d = new Disruptor({ size: 1024, slotSize: 8, producer: 'single', waitStrategy: strategy })
    d.handleEventsWith(() => {})
    d.start()
    // one event first, so that the consumer went through a delivery and re-armed its waker
    d.publish(d.next())
    await d.drain()
    const cpuPercent = await measure()
    await d.close()
    rows.push({ strategy, cpuPercent })
  }
  return rows
}
