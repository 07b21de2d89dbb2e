// Do the rates stats() reports agree with what producers and consumers count themselves?
//
//   producer worker --(ring)--> consumer worker        main thread: calls stats() twice, 2 s
//   (counts claims, events,      (counts events,       apart, and reads the workers' own
//    time inside next())          batches by size)     counts at the same moments
//
// For each scenario it prints stats()'s figure, the independent one and their ratio; a ratio
// outside 0.95 ..= 1.05 fails the run (exit code 1), except with `--quick` (shorter windows, a
// smoke run: it reports only).

import { Worker } from 'node:worker_threads'
import { loadDisruptor, machine } from './js/common.mjs'

const quick = process.argv.includes('--quick')
const WINDOW_MS = quick ? 700 : 2000
const WARMUP_MS = quick ? 200 : 400
const SCENARIOS = [
  { name: 'one_to_one batch 64, light consumer', size: 65536, batch: 64, work: 0 },
  { name: 'one_to_one batch 1, light consumer', size: 65536, batch: 1, work: 0 },
  { name: 'one_to_one batch 16, slow consumer (producer waits)', size: 1024, batch: 16, work: 400 },
]
const Disruptor = loadDisruptor()
const sleep = (ms) => new Promise((r) => setTimeout(r, ms))

function start(role, data) {
  const w = new Worker(new URL('./js/stats-side.mjs', import.meta.url), { workerData: { role, ...data } })
  const messages = []
  w.on('message', (m) => messages.push(m))
  w.on('error', (e) => {
    console.error(`${role} failed:`, e)
    process.exit(2)
  })
  const next = async (what) => {
    while (!messages.some((m) => m === what)) await sleep(1)
  }
  return { w, messages, next }
}

async function scenario({ name, size, batch, work }) {
  const d = new Disruptor({ size, slotSize: 8 })
  const own = new Float64Array(new SharedArrayBuffer(8 * 48))
  const control = new SharedArrayBuffer(4)
  const data = { handle: d.share(), own: own.buffer, control, batch, work }
  const consumer = start('consumer', data)
  await consumer.next('ready')
  const producer = start('producer', data)
  await producer.next('ready')
  await sleep(WARMUP_MS)
  const s0 = d.stats()
  const o0 = Float64Array.from(own)
  const t0 = performance.now()
  await sleep(WINDOW_MS)
  const s1 = d.stats()
  const o1 = Float64Array.from(own)
  const t1 = performance.now()
  Atomics.store(new Int32Array(control), 0, 1)
  await producer.next('done')
  await d.drain()
  // The consumer reports its last figures when it goes idle: wait for them.
  const deadline = Date.now() + 5000
  let last = d.stats()
  while (last.consumers[0].events !== own[4] && Date.now() < deadline) {
    await sleep(5)
    last = d.stats()
  }
  consumer.w.postMessage('leave')
  await new Promise((r) => consumer.w.once('exit', r))
  await d.close()

  const seconds = (t1 - t0) / 1000
  const c = s1.consumers[0]
  const ownHistogram = Array.from(own.subarray(8, 40))
  while (ownHistogram.length > 0 && ownHistogram[ownHistogram.length - 1] === 0) ownHistogram.pop()
  const rows = [
    ['consumer events/s', c.eventsPerSecond, (o1[4] - o0[4]) / seconds],
    ['consumer ns/event', c.nsPerEvent ?? 0, (seconds * 1e9) / (o1[4] - o0[4])],
    ['published/s', s1.publishedPerSecond, (o1[1] - o0[1]) / seconds],
    ['claims', s1.claims - s0.claims, o1[0] - o0[0]],
    ['batches (all, at the end)', last.consumers[0].batches, own[5]],
    [
      'histogram buckets equal',
      JSON.stringify(last.consumers[0].batchSizes) === JSON.stringify(ownHistogram) ? 1 : 0,
      1,
    ],
  ]
  if (work > 0) {
    rows.push(['producer wait ns/claim', s1.producerWaitNanosPerClaim, (o1[2] - o0[2]) / (o1[0] - o0[0])])
  }
  return { name, windowMs: s1.windowMs, rows }
}

const m = machine()
console.log(
  `stats() against independent counts: ${m.cpu}, ${m.cores} cores, node ${m.node}, commit ${m.commit.slice(0, 7)}${m.dirty ? '+' : ''}`,
)
let failed = 0
for (const sc of SCENARIOS) {
  const r = await scenario(sc)
  console.log(`\n${r.name} (window ${r.windowMs.toFixed(0)} ms)`)
  console.log('  figure                       stats()         own count       ratio')
  for (const [what, reported, counted] of r.rows) {
    const ratio = counted === 0 ? (reported === 0 ? 1 : Number.POSITIVE_INFINITY) : reported / counted
    const ok = ratio >= 0.95 && ratio <= 1.05
    if (!ok) failed++
    const fmt = (x) => (Math.abs(x) >= 1e4 ? x.toExponential(4) : x.toFixed(2)).padStart(14)
    console.log(
      `  ${what.padEnd(28)} ${fmt(reported)}  ${fmt(counted)}  ${ratio.toFixed(4)}${ok ? '' : '  OUTSIDE 5%'}`,
    )
  }
}
console.log(failed === 0 ? '\nall within 5%' : `\n${failed} figure(s) outside 5%`)
// A quick run is a smoke run (CI's bench:quick on a busy machine): it reports, it does not fail.
process.exit(failed === 0 || quick ? 0 : 1)
