// Process -> process (issue: ProcessRing): events/s and one-way latency from one producer process
// to one consumer process, through
//
//   ProcessRing              a ring in named shared memory (/dev/shm/napi-disruptor.<name>):
//                            producer next(B), fill ring.buffer, publish(); consumer a tight
//                            poll() loop (and, as a second row, `await consumer.run()`, which
//                            waits on libuv's pool); both again on a ring created with
//                            producer: 'single' (claims and publishes are Atomics swaps in
//                            the producer process, no native call)
//   ProcessRing messages     the same ring's message API: write() per event, writeAll() per
//                            batch (one slot of size + 12 bytes each), consumer poll() +
//                            eachMessage; not compared
//                            with the bars (the raw-slot rows are), shown beside them
//   shared-memory-disruptor  4.2.1, a POSIX shm ring: produceClaimSync / produceClaimManySync(B)
//                            (retried while full) and produceCommitSync, consumeNewSync and
//                            consumeCommit in a poll loop
//   process.send()           the fork's IPC channel: one message per batch, with whichever
//                            serialization is faster for the shape (JSON or 'advanced')
//   Unix socket              net over a socket file: one Buffer of B length-prefixed frames per
//                            write, the consumer parsing frames out of the stream
//
//   parent (this script) --fork--> consumer process --fork--> producer process
//        ^                          | sets up its end       | opens/connects
//        +------ IPC: { result } ---+ <==== the system ==== + sends `events` events
//
// The parent names every ring, shm object and socket file; the consumer removes the name once
// the producer has attached, the parent again after each run and on any failure or signal.
//
// Shapes: 8-byte events and 100-byte messages, batches of 1 and 64 (events claimed/published,
// sent or written per operation). Throughput: the producer sends
// 1, 2, ..., N as fast as it can; the consumer checks the order (and the last byte of each
// message) and times the events after the first tenth (JIT, start-up) on its own clock; N is set
// per system and shape by a calibration run so that a run takes about RUN_S. Latency (8-byte
// events, batch 1, LAT_RATE events/s: the hop, not a queue): the producer writes
// process.hrtime (CLOCK_MONOTONIC, the same clock in every process) taken before each send, the
// consumer subtracts it from its own clock on receipt; percentiles of all rounds' samples.
//
// Systems alternate within each round (the order reversed every other round); ratios are the
// median of the per-round ratios, of the faster ProcessRing row of each shape (a user picks the
// consumer that suits), both rows' own ratios beside it. Bars: the issue's. Writes benchmark/results/processes.json (folded into
// results/report.md by report.mjs). `--quick`: one round of small runs (figures meaningless).

import { execFileSync, fork } from 'node:child_process'
import fs from 'node:fs'
import { createRequire } from 'node:module'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { barChart } from './js/chart.mjs'
import { fmtRate, fmtRatio, fmtUs, machine, median, waitQuiet } from './js/common.mjs'

const here = path.dirname(fileURLToPath(import.meta.url))
const require = createRequire(import.meta.url)
const { ProcessRing } = require('../dist/index.js')
const PEER = path.join(here, 'js', 'process-peer.mjs')
const JSON_OUT = path.join(here, 'results', 'processes.json')
const CHART_OUT = path.join(here, 'chart-processes.svg') // full runs only

const quick = process.argv.includes('--quick')
const ROUNDS = quick ? 1 : 7
const RUN_S = quick ? 0 : 0.4 // timed seconds per throughput run (quick: the calibration size)
const RING_SIZE = 8192
const LAT_RATE = 10_000 // events/s
const LAT_EVENTS = quick ? 2_000 : 10_000 // per run, the first tenth dropped
const RUN_TIMEOUT_MS = 60_000
const SMD_VERSION = require('shared-memory-disruptor/package.json').version

const SHAPES = [
  { size: 8, batch: 1 },
  { size: 8, batch: 64 },
  { size: 100, batch: 1 },
  { size: 100, batch: 64 },
]
const shapeName = (s) => `${s.size === 8 ? '8-byte events' : '100-byte messages'}, batch ${s.batch}`
const SYSTEMS = [
  { id: 'ring', label: 'ProcessRing (poll loop)' },
  { id: 'ring-run', label: 'ProcessRing (run())' },
  { id: 'ring-single', label: "ProcessRing, producer: 'single' (poll loop)" },
  { id: 'ring-single-run', label: "ProcessRing, producer: 'single' (run())" },
  { id: 'ring-msg', label: "ProcessRing messages: write()/writeAll() + eachMessage ('single', poll loop)" },
  { id: 'smd', label: `shared-memory-disruptor ${SMD_VERSION}` },
  { id: 'send', label: 'process.send()' },
  { id: 'socket', label: 'Unix socket (net)' },
]
const OURS = ['ring', 'ring-run', 'ring-single', 'ring-single-run'] // the best per shape is the one compared
/** Short names of OURS, for the ratio cells. */
const OURS_SHORT = {
  ring: 'poll',
  'ring-run': 'run()',
  'ring-single': 'single poll',
  'ring-single-run': 'single run()',
}
const PEERS = ['smd', 'send', 'socket']
const label = (id) => SYSTEMS.find((s) => s.id === id).label

/** process.send's serialization per shape: measured, JSON is faster for numbers, arrays of numbers
 * and one base64 message; 'advanced' (a Buffer as is) for 64 messages of 100 bytes. */
const sendSerialization = (shape) => (shape.size > 8 && shape.batch > 1 ? 'advanced' : 'json')

// ---- names made, removed after each run and on exit ----
const made = new Map() // name -> remover
const live = new Set() // child pids
let serial = 0

function remove(name) {
  const rm = made.get(name)
  if (rm === undefined) return
  made.delete(name)
  try {
    rm()
  } catch {}
}

function cleanUp() {
  for (const pid of live) {
    try {
      process.kill(pid, 'SIGKILL')
    } catch {}
  }
  live.clear()
  for (const name of [...made.keys()]) remove(name)
}
process.on('exit', cleanUp)
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(sig, () => {
    cleanUp()
    process.exit(128 + os.constants.signals[sig])
  })
}

function nameFor(system) {
  const k = ++serial
  if (system.startsWith('ring')) {
    const name = `processes-bench-${process.pid}-${k}`
    made.set(name, () => ProcessRing.unlink(name))
    return name
  }
  if (system === 'smd') {
    const name = `processes-bench-smd-${process.pid}-${k}`
    made.set(name, () => fs.rmSync(path.join('/dev/shm', name), { force: true }))
    return name
  }
  if (system === 'socket') {
    const name = path.join(os.tmpdir(), `processes-bench-${process.pid}-${k}.sock`)
    made.set(name, () => fs.rmSync(name, { force: true }))
    return name
  }
  return ''
}

/** One run: a consumer process (which forks its producer); resolves with its result. */
async function runOnce(system, shape, mode, events) {
  const name = nameFor(system)
  const cfg = {
    role: 'consume',
    system,
    size: shape.size,
    // ProcessRing slots are multiples of 8 bytes: a 100-byte message takes 104 (and its 12-byte
    // frame header, written with write(), 112: one slot per message)
    slot:
      system === 'ring-msg'
        ? Math.ceil((shape.size + 12) / 8) * 8
        : system.startsWith('ring')
          ? Math.ceil(shape.size / 8) * 8
          : shape.size,
    batch: shape.batch,
    events,
    warm: Math.floor(events / 10),
    ringSize: RING_SIZE,
    name,
    mode,
    rate: LAT_RATE,
    serialization: sendSerialization(shape),
    parent: process.pid,
  }
  const child = fork(PEER, [JSON.stringify(cfg)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
  live.add(child.pid)
  let producer = null
  let result = null
  try {
    await new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`${system}: no result within ${RUN_TIMEOUT_MS} ms`)),
        RUN_TIMEOUT_MS,
      )
      child.on('message', (m) => {
        if (m.pid !== undefined) live.add((producer = m.pid))
        else if (m.result !== undefined) result = m.result
      })
      child.on('exit', (code, signal) => {
        clearTimeout(timer)
        live.delete(child.pid)
        if (code === 0 && result !== null) resolve()
        else reject(new Error(`${system} ${shapeName(shape)}: the consumer exited with ${code ?? signal}`))
      })
    })
    live.delete(producer) // the consumer reports only once its producer exited
  } finally {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
    if (live.has(producer)) {
      try {
        process.kill(producer, 'SIGKILL')
      } catch {}
      live.delete(producer)
    }
    remove(name)
  }
  if (result.count !== events || result.bad !== 0)
    throw new Error(
      `${system} ${shapeName(shape)}: ${result.count} of ${events} events, ${result.bad} out of order or torn`,
    )
  return result
}

const rateOf = (r) => ((r.count - r.cWarm) / (r.tEnd - r.tWarm)) * 1e9
const align = (n) => Math.ceil(n / 64) * 64

// ---- calibration: events per run, per system and shape ----
const t0 = Date.now()
const events = new Map()
const key = (system, shape) => `${system}/${shape.size}/${shape.batch}`
for (const shape of SHAPES) {
  for (const { id } of SYSTEMS) {
    const slow = id === 'send' || shape.batch === 1
    const first = align((slow ? 16_384 : 131_072) * (quick ? 1 : 2))
    if (quick) {
      events.set(key(id, shape), first)
      continue
    }
    const r = await runOnce(id, shape, 'throughput', first)
    events.set(key(id, shape), align(Math.min(2 ** 27, Math.max(first, (rateOf(r) * RUN_S) / 0.9))))
  }
}

// ---- rounds ----
const tp = new Map() // key -> events/s per round
const per = new Map() // key -> events per delivery (poll that found something, message, chunk) per round
const lat = new Map(SYSTEMS.map((s) => [s.id, { p50: [], samples: [] }]))
const quietWaits = []
for (let round = 0; round < ROUNDS; round++) {
  quietWaits.push(await waitQuiet(quick ? 0 : 3000))
  const order = round % 2 === 0 ? SYSTEMS : [...SYSTEMS].reverse()
  for (const shape of SHAPES) {
    for (const { id } of order) {
      const k = key(id, shape)
      const r = await runOnce(id, shape, 'throughput', events.get(k))
      if (!tp.has(k)) tp.set(k, [])
      tp.get(k).push(rateOf(r))
      if (!per.has(k)) per.set(k, [])
      per.get(k).push(r.count / r.batches)
      process.stderr.write(
        `round ${round + 1}/${ROUNDS} ${label(id)}, ${shapeName(shape)}: ${fmtRate(rateOf(r))} events/s\n`,
      )
    }
  }
  for (const { id } of order) {
    const r = await runOnce(id, { size: 8, batch: 1 }, 'latency', LAT_EVENTS)
    const l = lat.get(id)
    l.p50.push(median(r.latUs))
    l.samples.push(...r.latUs)
    process.stderr.write(`round ${round + 1}/${ROUNDS} latency ${label(id)}: p50 ${fmtUs(median(r.latUs))}\n`)
  }
}
cleanUp()

// ---- figures ----
const pct = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]
const throughput = []
const best = new Map() // shape name -> the ProcessRing row compared with the peers
for (const shape of SHAPES) {
  const ourId = OURS.reduce((a, b) => (median(tp.get(key(b, shape))) > median(tp.get(key(a, shape))) ? b : a))
  best.set(shapeName(shape), ourId)
  const ours = tp.get(key(ourId, shape))
  for (const { id, label: system } of SYSTEMS) {
    const rates = tp.get(key(id, shape))
    const row = {
      system,
      id,
      size: shape.size,
      batch: shape.batch,
      events_per_run: events.get(key(id, shape)),
      events_per_sec: median(rates),
      per_round: rates,
      events_per_delivery: median(per.get(key(id, shape))),
    }
    if (PEERS.includes(id)) {
      const ratios = rates.map((x, i) => ours[i] / x)
      row.ratio = median(ratios) // the better ProcessRing row / this system, paired by round
      row.ratios = ratios
      row.ratio_of = label(ourId)
      // each ProcessRing row's own ratio
      row.ratio_each = Object.fromEntries(
        OURS.map((o) => [o, median(tp.get(key(o, shape)).map((x, i) => x / rates[i]))]),
      )
    }
    throughput.push(row)
  }
}
const latency = SYSTEMS.map(({ id, label: system }) => {
  const s = Float64Array.from(lat.get(id).samples).sort()
  return {
    system,
    id,
    rate: LAT_RATE,
    samples: s.length,
    p50_us: pct(s, 50),
    p90_us: pct(s, 90),
    p99_us: pct(s, 99),
    max_us: s[s.length - 1],
    p50_per_round_us: lat.get(id).p50,
  }
})

const ratioAt = (peer, shape) =>
  throughput.find((r) => r.id === peer && r.size === shape.size && r.batch === shape.batch)
const bars = []
const bar = (name, peer, shape, min) => {
  const r = ratioAt(peer, shape)
  bars.push({
    bar: `${name}, ${shapeName(shape)}`,
    source: 'issue',
    met: min === 1 ? r.ratio > 1 : r.ratio >= min,
    figure:
      `${fmtRatio(r.ratio)} (${r.ratio_of} ${fmtRate(ratioAt(best.get(shapeName(shape)), shape).events_per_sec)} / ` +
      `${fmtRate(r.events_per_sec)} events/s; ${OURS.map((o) => `${OURS_SHORT[o]} ${fmtRatio(r.ratio_each[o])}`).join(', ')})`,
  })
}
for (const shape of SHAPES) {
  if (shape.batch === 1) bar('>= 10x shared-memory-disruptor', 'smd', shape, 10)
  else bar('ahead of shared-memory-disruptor', 'smd', shape, 1)
}
for (const shape of SHAPES) bar('>= 50x process.send()', 'send', shape, 50)
for (const shape of SHAPES) bar('ahead of the Unix socket', 'socket', shape, 1)

// ---- report ----
const m = machine()
const short = (() => {
  try {
    return execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: here, encoding: 'utf8' }).trim()
  } catch {
    return m.commit.slice(0, 7)
  }
})()
const cpu = os.cpus()[0]?.model?.trim() ?? m.cpu
const md = [
  `processes: ${cpu}, ${os.cpus().length} cores, node ${process.version}, commit ${short}${m.dirty ? '+' : ''}; ` +
    `${ROUNDS} round(s), medians; ring size ${RING_SIZE}${quick ? '; --quick: figures meaningless' : ''}`,
  '',
  '### throughput, one producer process -> one consumer process (events/s)',
  '',
  `| shape | ${SYSTEMS.map((s) => s.label).join(' | ')} | ${PEERS.map((p) => `ratio vs ${p}`).join(' | ')} |`,
  `| --- | ${SYSTEMS.map(() => '---:').join(' | ')} | ${PEERS.map(() => '---:').join(' | ')} |`,
]
const ratioCell = (r) => `${fmtRatio(r.ratio)} (${OURS.map((o) => fmtRatio(r.ratio_each[o])).join(' / ')})`
for (const shape of SHAPES) {
  const cells = SYSTEMS.map(({ id }) => fmtRate(ratioAt(id, shape).events_per_sec))
  const ratios = PEERS.map((p) => ratioCell(ratioAt(p, shape)))
  md.push(`| ${shapeName(shape)} | ${cells.join(' | ')} | ${ratios.join(' | ')} |`)
}
md.push(
  '',
  'ratio: the faster ProcessRing row of the shape (by median) / the system, the median of the per-round ratios; ' +
    `in brackets each ProcessRing row's own (${OURS.map((o) => OURS_SHORT[o]).join(' / ')})`,
  '',
  `### one-way latency, 8-byte events, batch 1, ${fmtRate(LAT_RATE)} events/s`,
  '',
  '| system | p50 | p90 | p99 | max | samples | p50 per round |',
  '| --- | ---: | ---: | ---: | ---: | ---: | --- |',
  ...latency.map(
    (l) =>
      `| ${l.system} | ${fmtUs(l.p50_us)} | ${fmtUs(l.p90_us)} | ${fmtUs(l.p99_us)} | ${fmtUs(l.max_us)} | ${l.samples} | ${l.p50_per_round_us.map(fmtUs).join(', ')} |`,
  ),
  '',
  '### bars',
  '',
  '| bar | met | figure |',
  '| --- | --- | --- |',
  ...bars.map((b) => `| ${b.bar} | ${b.met ? 'met' : 'not met'} | ${b.figure} |`),
  '',
)
// waitQuiet samples 250 ms at least: a round that found the machine quiet at once waited that
const waited = quietWaits.filter((w) => w < 0 || w > 300)
if (waited.length > 0)
  md.push(
    `Rounds that first waited for other processes to use < 10% of a core: ${waited.map((w) => (w < 0 ? 'gave up after 3 s' : `${w} ms`)).join(', ')}.`,
    '',
  )
console.log(md.join('\n'))
console.log(`(${((Date.now() - t0) / 1000).toFixed(0)} s)`)

fs.mkdirSync(path.dirname(JSON_OUT), { recursive: true })
fs.writeFileSync(
  JSON_OUT,
  `${JSON.stringify(
    {
      generated_at: new Date(t0).toISOString(),
      finished_at: new Date().toISOString(),
      quick,
      machine: { cpu, cores: os.cpus().length, memory_gib: m.memory_gib, os: m.os },
      node: process.version,
      git: { commit: m.commit, short, dirty: m.dirty },
      config: {
        rounds: ROUNDS,
        run_seconds: RUN_S,
        ring_size: RING_SIZE,
        latency_rate: LAT_RATE,
        latency_events: LAT_EVENTS,
        send_serialization: Object.fromEntries(SHAPES.map((s) => [shapeName(s), sendSerialization(s)])),
      },
      quiet_waits_ms: quietWaits,
      throughput,
      latency,
      bars,
      markdown: md.join('\n'),
    },
    null,
    2,
  )}\n`,
)
console.error(`wrote ${path.relative(process.cwd(), JSON_OUT)}`)

// The chart: one bar per system and shape, beside benchmark/chart.svg (the threads' chart).
if (!quick) {
  const color = {
    ...Object.fromEntries(OURS.map((o) => [o, 'napi-disruptor'])),
    smd: 'shared-memory-disruptor',
  }
  const groups = SHAPES.map((shape) => ({
    title: shapeName(shape),
    bars: throughput
      .filter((r) => r.size === shape.size && r.batch === shape.batch)
      .map((r) => ({
        label: r.system,
        system: color[r.id] ?? (r.id === 'send' ? 'postMessage' : r.id),
        value: r.events_per_sec,
        min: Math.min(...r.per_round),
        max: Math.max(...r.per_round),
      })),
  }))
  const svg = barChart({
    title: 'One producer process -> one consumer process, events/s (log scale)',
    subtitle: `${cpu}, ${os.cpus().length} cores, node ${process.version}, commit ${short}; medians of ${ROUNDS} rounds, whiskers min..max`,
    groups,
  })
  fs.writeFileSync(CHART_OUT, svg)
  console.error(`wrote ${path.relative(process.cwd(), CHART_OUT)}`)
}
