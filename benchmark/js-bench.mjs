#!/usr/bin/env node
// The JavaScript benchmarks of napi-disruptor, side by side with what a Node user would use
// otherwise: producers in worker_threads publishing 8-byte events, consumers on the main thread.
//
//   node benchmark/js-bench.mjs            # full run (a few minutes), writes benchmark/chart.svg
//   node benchmark/js-bench.mjs --quick    # smoke run (CI): every system, tiny counts, 1 run
//
// Options: --runs N, --events N (a multiple of 192), --size N (ring slots), --wait-strategy S,
// --only TEXT (cases whose "topology system mode" contains TEXT; topologies 1p1c, 1p1c-light,
// 1p3c, 3p1c, diamond; latency cases "latency system mode"), --pairs N (paired rounds per batch
// against the SAB ring, of each series: default 20, 1 with --quick, 0: none), --no-latency,
// --no-resources, --json FILE (default benchmark/results/js.json), --chart FILE (default
// benchmark/chart.svg; written by full runs only, or when given), --quiet-wait S (before each
// measured run, wait up to S seconds while other processes use >= 10% of a core; default 30,
// 0 with --quick; 300 s in all at most). Environment: BENCH_IDLE_SPIN (pull-mode consumers' pause when a poll finds
// nothing, default 100 iterations; see js/common.mjs).
//
// Throughput, per topology: every system carries the same number of events, each run is checked
// (count, sum, order per producer: a run that loses events fails), one run at a time, a warm-up
// run per case first, then N runs interleaved across cases (so that drift of a noisy machine
// spreads over all systems), reported as median and min-max. Ratios are napi-disruptor's median
// over the system's median in the same invocation: "30x" means napi-disruptor moved 30 times as
// many events per second. The "ahead of the SAB ring" bars are decided on paired rounds instead
// (see pairedRounds): medians of a few runs on a machine that flips between modes decide
// nothing when the two systems are close.
//
// The light rows (topology `1p1c-light`) carry the one-to-one events to a consumer that only
// adds each to a sum, instead of the order checker that caps every system near the same rate;
// pull consumers there never pause when a poll finds nothing, the SAB ring is the greedy one,
// and a run carries 5x the events. The count and the sum are still checked: a run that loses
// an event fails. They get their own paired series against the greedy SAB ring.

import fs from 'node:fs'
import path from 'node:path'
import { barChart } from './js/chart.mjs'
import {
  benchDir,
  fmtInt,
  fmtRate,
  fmtRatio,
  fmtUs,
  machine,
  median,
  progress,
  progressDone,
  waitQuiet,
} from './js/common.mjs'
import { LATENCY_ROWS, latencyRun } from './js/latency.mjs'
import { idleCpu, memoryOverLongRun, publishPathAllocation } from './js/resources.mjs'
import { available, eventsFor, LIGHT_EVENTS_FACTOR, rowLabel, runOnce, TOPOLOGIES } from './js/throughput.mjs'

const BATCHES = [1, 64]
const BASELINE = { system: 'napi-disruptor', mode: 'callback' }

function parseArgs(argv) {
  const a = {
    quick: false,
    runs: null,
    events: null,
    size: 65536,
    waitStrategy: 'blocking',
    only: null,
    latency: true,
    resources: true,
    json: path.join(benchDir, 'results', 'js.json'),
    chart: null,
    quietWaitS: null,
    pairs: null,
  }
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]
    const value = () => {
      if (i + 1 >= argv.length) throw new Error(`${arg} needs a value`)
      return argv[++i]
    }
    if (arg === '--quick') a.quick = true
    else if (arg === '--runs') a.runs = Number(value())
    else if (arg === '--events') a.events = Number(value())
    else if (arg === '--size') a.size = Number(value())
    else if (arg === '--wait-strategy') a.waitStrategy = value()
    else if (arg === '--only') a.only = value()
    else if (arg === '--no-latency') a.latency = false
    else if (arg === '--no-resources') a.resources = false
    else if (arg === '--json') a.json = path.resolve(value())
    else if (arg === '--chart') a.chart = path.resolve(value())
    else if (arg === '--quiet-wait') a.quietWaitS = Number(value())
    else if (arg === '--pairs') a.pairs = Number(value())
    else if (arg === '-h' || arg === '--help') {
      const lines = fs
        .readFileSync(new URL(import.meta.url), 'utf8')
        .split('\n')
        .slice(1)
      console.log(
        lines
          .slice(
            0,
            lines.findIndex((l) => !l.startsWith('//')),
          )
          .map((l) => l.replace(/^\/\/ ?/, ''))
          .join('\n'),
      )
      process.exit(0)
    } else throw new Error(`unknown argument ${arg}`)
  }
  a.runs ??= a.quick ? 1 : 5
  a.quietWaitS ??= a.quick ? 0 : 30
  a.events ??= a.quick ? 192_000 : 7_680_000
  if (!Number.isInteger(a.events) || a.events % 192 !== 0) throw new Error('--events must be a multiple of 192')
  if (!Number.isInteger(a.runs) || a.runs < 1) throw new Error('--runs must be a positive integer')
  a.pairs ??= a.quick ? 1 : 20
  if (!Number.isInteger(a.pairs) || a.pairs < 0) throw new Error('--pairs must be a non-negative integer')
  a.latencyRates = { low: 1_000, load: 1_000_000 }
  a.latencySeconds = a.quick ? 0.25 : 2
  a.latencyRepeats = a.quick ? 1 : 3
  a.longRunEvents = a.quick ? 1_920_000 : 40_000_000
  a.allocEvents = a.quick ? 500_000 : 4_000_000
  a.idleSeconds = a.quick ? 0.3 : 2
  a.quietWaits = []
  a.quietWaitedMs = 0
  a.fullRun = !a.quick && a.only === null && a.latency && a.resources
  if (a.chart === null && a.fullRun) a.chart = path.join(benchDir, 'chart.svg')
  return a
}

const sameRow = (a, b) => a.system === b.system && a.mode === b.mode

/** Whether `--only` selects this throughput row (its "topology system mode" contains the text). */
const selected = (args, topology, row) =>
  args.only === null || `${topology.id} ${row.system} ${row.mode}`.includes(args.only)

/** One measured throughput run of `row` with the invocation's event count, ring and strategy. */
const measure = (args, topology, row, batch) =>
  runOnce({
    topology,
    row,
    batch,
    events: eventsFor(topology, args.events),
    size: args.size,
    waitStrategy: args.waitStrategy,
  })

// ---------------------------------------------------------------- throughput

/**
 * Before each measured run: wait (up to --quiet-wait s) until other processes are quiet. All
 * the waits of one invocation together stop at QUIET_BUDGET_S: past that, runs go ahead and
 * the "busy elsewhere" column tells how contended they were.
 */
const QUIET_BUDGET_S = 300
async function quiet(args, what) {
  if (args.quietWaitS <= 0 || args.quietWaitedMs >= QUIET_BUDGET_S * 1000) return
  const t0 = Date.now()
  const first = await waitQuiet(250, 10)
  if (first >= 0) return
  const maxS = Math.min(args.quietWaitS, QUIET_BUDGET_S - args.quietWaitedMs / 1000)
  progress(`${what}: waiting up to ${maxS.toFixed(0)} s for other processes to quiet down`)
  const waited = await waitQuiet(maxS * 1000, 10)
  args.quietWaitedMs += Date.now() - t0
  args.quietWaits.push(waited)
}

async function throughput(args, failures) {
  const cases = []
  for (const topology of TOPOLOGIES) {
    for (const batch of BATCHES) {
      for (const row of topology.rows) {
        if (!selected(args, topology, row)) continue
        const c = {
          topology,
          batch,
          row,
          label: rowLabel(row, batch),
          runs: [],
          producerShare: [],
          others: [],
          error: null,
        }
        if (!available(row)) {
          // skipped, not failed: nothing was lost, the package is just absent (npm install
          // --ignore-scripts, or a platform it does not build on)
          c.error = 'skipped: not installed (its native build runs on npm install)'
          console.error(`SKIPPED ${topology.id} batch ${batch} ${c.label}: shared-memory-disruptor is not installed`)
        }
        cases.push(c)
      }
    }
  }
  const live = () => cases.filter((c) => c.error === null)
  const total = live().length * (args.runs + 1)
  let done = 0
  const once = async (c, what) => {
    done++
    progress(`[${done}/${total}] ${c.topology.id} batch ${c.batch} ${c.label}: ${what}`)
    await quiet(args, `[${done}/${total}] ${c.topology.id} batch ${c.batch} ${c.label}: ${what}`)
    try {
      return await measure(args, c.topology, c.row, c.batch)
    } catch (e) {
      c.error = e instanceof Error ? e.message : String(e)
      failures.push(`${c.topology.id} batch ${c.batch} ${c.label}: ${c.error}`)
      progressDone()
      console.error(`FAILED ${c.topology.id} batch ${c.batch} ${c.label}: ${c.error}`)
      return null
    }
  }
  for (const c of live()) await once(c, 'warm-up')
  for (let r = 1; r <= args.runs; r++) {
    for (const c of live()) {
      const res = await once(c, `run ${r}/${args.runs}`)
      if (res !== null) {
        c.runs.push(res.eventsPerSec)
        c.producerShare.push(res.producerNs / res.ns)
        if (res.othersCpu !== null) c.others.push(res.othersCpu)
        progress(
          `[${done}/${total}] ${c.topology.id} batch ${c.batch} ${c.label}: run ${r}/${args.runs} ${fmtRate(res.eventsPerSec)} events/s`,
        )
      }
    }
  }
  progressDone()

  const results = []
  for (const c of cases) {
    const ok = c.error === null && c.runs.length > 0
    results.push({
      topology: c.topology.id,
      topology_title: c.topology.title,
      producers: c.topology.producers,
      consumers: c.topology.consumers,
      batch: c.batch,
      system: c.row.system,
      mode: c.row.mode,
      label: c.label,
      events: eventsFor(c.topology, args.events),
      runs: c.runs,
      median: ok ? median(c.runs) : null,
      min: ok ? Math.min(...c.runs) : null,
      max: ok ? Math.max(...c.runs) : null,
      producer_share_median: ok ? median(c.producerShare) : null,
      // CPU other processes used during each measured run, % of one core (null: run too short)
      others_cpu_percent: c.others,
      error: c.error,
    })
  }
  for (const r of results) {
    const base = results.find((b) => b.topology === r.topology && b.batch === r.batch && sameRow(b, BASELINE))
    r.baseline_over_this = base?.median && r.median ? base.median / r.median : null
  }
  return results
}

/** Median CPU other processes used during the runs, in % of one core. */
function fmtBusy(list) {
  if (!list || list.length === 0) return 'n/a'
  return `${median(list).toFixed(0)} %`
}

function throughputTables(results) {
  const out = []
  for (const topology of TOPOLOGIES) {
    const rows = results.filter((r) => r.topology === topology.id)
    if (rows.length === 0) continue
    out.push(`### ${topology.title}`, '')
    if (topology.light) {
      out.push(
        `Each event is added to a sum, nothing else (no order check; the count and the sum are checked at the end); ` +
          `${fmtInt(rows[0].events)} events per run (${LIGHT_EVENTS_FACTOR}x); pull consumers never pause, ` +
          'the SAB ring is the greedy one (load the head, sum everything available, store the tail, loop).',
        '',
      )
    }
    out.push('| system | batch | events/s (median) | min - max | napi-disruptor (callback) ÷ system | busy elsewhere |')
    out.push('| --- | ---: | ---: | ---: | ---: | ---: |')
    for (const batch of BATCHES) {
      for (const r of rows.filter((x) => x.batch === batch)) {
        if (r.median === null) {
          const what = r.error?.startsWith('skipped') ? 'skipped' : 'FAILED'
          out.push(`| ${r.label} | ${batch} | ${what} | ${r.error ?? ''} | | |`)
          continue
        }
        const name = sameRow(r, BASELINE) ? `**${r.label}**` : r.label
        const ratio = sameRow(r, BASELINE) ? '1.00x' : fmtRatio(r.baseline_over_this)
        out.push(
          `| ${name} | ${batch} | ${fmtRate(r.median)} | ${fmtRate(r.min)} - ${fmtRate(r.max)} | ${ratio} | ${fmtBusy(r.others_cpu_percent)} |`,
        )
      }
    }
    out.push('')
  }
  return out
}

// ---------------------------------------------------------------- paired rounds

/**
 * The paired series: napi-disruptor against the pure-JS SAB ring, one-to-one. `checked`: the
 * callback consumer against the SAB ring, both running the order checker (the SAB ring bars come
 * from it). `light`: the callback and poller consumers against the greedy SAB ring, all three
 * only summing the events.
 */
const PAIRED_SERIES = [
  {
    id: 'checked',
    topology: '1p1c',
    subjects: [BASELINE],
    against: { system: 'sab-ring', mode: 'poll' },
    title: 'napi-disruptor (callback) against the pure-JS SharedArrayBuffer ring, one-to-one',
  },
  {
    id: 'light',
    topology: '1p1c-light',
    subjects: [BASELINE, { system: 'napi-disruptor', mode: 'poller' }],
    against: { system: 'sab-ring', mode: 'greedy' },
    title:
      'light consumer (sums the events): napi-disruptor (callback, poller) against the greedy pure-JS ' +
      'SharedArrayBuffer ring, one-to-one',
  },
]

/**
 * Two-sided sign test: the probability of a split at least as uneven as `wins` of `n` if
 * either system were equally likely to win each pair.
 */
function signTestP(wins, n) {
  if (n === 0) return 1
  const k = Math.max(wins, n - wins)
  let tail = 0
  let c = 1 // C(n, 0)
  for (let i = 0; i <= n; i++) {
    if (i >= k) tail += c
    c = (c * (n - i)) / (i + 1)
  }
  return Math.min(1, (2 * tail) / 2 ** n)
}

/**
 * napi-disruptor against the pure-JS SAB ring, one-to-one, in `--pairs` rounds per batch and
 * series (PAIRED_SERIES): each round runs napi-disruptor and the SAB ring back to back (which
 * one goes first alternates) and gives one ratio. With two napi-disruptor consumers (the light
 * series) a round is three runs, the SAB ring's in the middle, and its order reverses every
 * round: each consumer runs right before the SAB ring in one round and right after it in the
 * next, and both ratios of a round share the SAB ring's run. Two runs a second apart share the
 * machine's mode (this 2-core VM flips between modes that differ by 2-3x, on a scale of seconds
 * to minutes), so a ratio of a pair measures the two systems and not the machine, where a ratio
 * of medians of a few runs may not. The verdict is a two-sided sign test on the pairs: ahead
 * when napi-disruptor won significantly more pairs than it lost (p < 0.05), behind when
 * significantly fewer, level otherwise.
 */
async function pairedRounds(args, failures) {
  if (args.pairs === 0) return []
  const plans = []
  for (const series of PAIRED_SERIES) {
    const topology = TOPOLOGIES.find((t) => t.id === series.topology)
    const subjects = series.subjects.filter((row) => selected(args, topology, row))
    if (subjects.length > 0 && selected(args, topology, series.against)) plans.push({ series, topology, subjects })
  }
  const out = []
  const total = plans.reduce((n, p) => n + BATCHES.length * args.pairs * (p.subjects.length + 1), 0)
  let done = 0
  for (const { series, topology, subjects } of plans) {
    const { against } = series
    for (const batch of BATCHES) {
      const rates = subjects.map(() => [])
      const againstRates = []
      let error = null
      for (let k = 0; k < args.pairs && error === null; k++) {
        const forward = [subjects[0], against, ...subjects.slice(1)]
        const order = k % 2 === 0 ? forward : forward.reverse()
        const rate = new Map()
        for (const row of order) {
          done++
          const what = `[pairs ${done}/${total}] ${topology.id} batch ${batch} ${rowLabel(row, batch)}, pair ${k + 1}/${args.pairs}`
          progress(what)
          await quiet(args, what)
          try {
            const res = await measure(args, topology, row, batch)
            rate.set(row, res.eventsPerSec)
          } catch (e) {
            error = e instanceof Error ? e.message : String(e)
            failures.push(`pairs ${topology.id} batch ${batch} ${rowLabel(row, batch)}: ${error}`)
            break
          }
        }
        if (error !== null) break
        againstRates.push(rate.get(against))
        for (let i = 0; i < subjects.length; i++) rates[i].push(rate.get(subjects[i]))
      }
      subjects.forEach((row, i) => {
        const ratios = rates[i].map((r, j) => r / againstRates[j])
        const n = ratios.length
        const wins = ratios.filter((r) => r > 1).length
        const losses = ratios.filter((r) => r < 1).length
        const p = signTestP(wins, wins + losses)
        out.push({
          series: series.id,
          topology: topology.id,
          batch,
          system: row.system,
          mode: row.mode,
          label: rowLabel(row, batch),
          against: against.system,
          against_mode: against.mode,
          against_label: rowLabel(against, batch),
          events: eventsFor(topology, args.events),
          pairs: n,
          ratios,
          rates: rates[i],
          against_rates: againstRates,
          median_rate: n ? median(rates[i]) : null,
          against_median_rate: n ? median(againstRates) : null,
          wins,
          losses,
          median_ratio: n ? median(ratios) : null,
          min_ratio: n ? Math.min(...ratios) : null,
          max_ratio: n ? Math.max(...ratios) : null,
          sign_test_p: p,
          verdict: n === 0 ? null : p < 0.05 ? (wins > losses ? 'ahead' : 'behind') : 'level',
          error,
        })
      })
    }
  }
  progressDone()
  return out
}

function pairedTable(paired) {
  const out = []
  for (const series of PAIRED_SERIES) {
    const rows = paired.filter((r) => r.series === series.id)
    if (rows.length === 0) continue
    out.push(
      `### paired rounds: ${series.title}`,
      '',
      '| napi-disruptor | batch | pairs | napi-disruptor faster in | median ratio | min - max | sign test p | verdict | ' +
        'events/s, median (napi-disruptor / SAB ring) |',
      '| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: |',
    )
    for (const r of rows) {
      if (r.pairs === 0) {
        out.push(`| ${r.label} | ${r.batch} | 0 | FAILED: ${r.error} | | | | | |`)
        continue
      }
      out.push(
        `| ${r.label} | ${r.batch} | ${r.pairs} | ${r.wins} | ${fmtRatio(r.median_ratio)} | ` +
          `${fmtRatio(r.min_ratio)} - ${fmtRatio(r.max_ratio)} | ${r.sign_test_p.toFixed(3)} | ${r.verdict} | ` +
          `${fmtRate(r.median_rate)} / ${fmtRate(r.against_median_rate)} |`,
      )
    }
    out.push('')
  }
  if (out.length > 0) {
    out.push(
      'Each pair: napi-disruptor and the SAB ring back to back (alternating which goes first), ratio = napi-disruptor ' +
        "events/s over the SAB ring's. Verdict: a two-sided sign test on how many pairs each system won; ahead or " +
        'behind only at p < 0.05. Light consumer: each event is only added to a sum (count and sum checked at the end), ' +
        'pull consumers never pause, the SAB ring is the greedy one; the two napi-disruptor consumers share the SAB ' +
        "ring's run of each round.",
      '',
    )
  }
  return out
}

// ---------------------------------------------------------------- latency

async function latency(args, failures) {
  const out = []
  const scenarios = [
    { id: 'low', rate: args.latencyRates.low },
    { id: 'load', rate: args.latencyRates.load },
  ]
  const rows = LATENCY_ROWS.filter((r) => args.only === null || `latency ${r.system} ${r.mode}`.includes(args.only))
  const total = rows.length * scenarios.length * args.latencyRepeats
  let done = 0
  for (const sc of scenarios) {
    for (const row of rows) {
      const reps = []
      let error = null
      for (let k = 0; k < args.latencyRepeats && error === null; k++) {
        done++
        progress(
          `[latency ${done}/${total}] ${row.label}, ${fmtInt(sc.rate)} events/s, run ${k + 1}/${args.latencyRepeats}`,
        )
        await quiet(args, `[latency ${done}/${total}] ${row.label}, ${fmtInt(sc.rate)} events/s`)
        try {
          reps.push(
            await latencyRun({
              row,
              rate: sc.rate,
              seconds: args.latencySeconds,
              size: args.size,
              waitStrategy: args.waitStrategy,
            }),
          )
        } catch (e) {
          error = e instanceof Error ? e.message : String(e)
          failures.push(`latency ${sc.id} ${row.label}: ${error}`)
        }
      }
      const pick = (key) => (reps.length ? median(reps.map((r) => r[key])) : null)
      out.push({
        scenario: sc.id,
        rate: sc.rate,
        system: row.system,
        mode: row.mode,
        label: row.label,
        runs: reps.length,
        recorded_per_run: reps.length ? reps[0].recorded : 0,
        p50_us: pick('p50'),
        p90_us: pick('p90'),
        p99_us: pick('p99'),
        p999_us: pick('p999'),
        max_us: pick('max'),
        delivered_per_sec: reps.length ? median(reps.map((r) => r.delivered ?? 0)) : null,
        per_run: reps,
        error,
      })
    }
  }
  progressDone()
  return out
}

/** Events/s the consumer took in, first to last event of a run (stalls included). */
function delivered(r) {
  return r.delivered_per_sec ? fmtRate(r.delivered_per_sec) : 'n/a'
}

function latencyTables(lat, args) {
  const out = []
  for (const sc of ['low', 'load']) {
    const rows = lat.filter((r) => r.scenario === sc)
    if (rows.length === 0) continue
    const rate = fmtInt(rows[0].rate)
    out.push(
      sc === 'low'
        ? `### one-way latency at a low steady rate (${rate} events/s: the consumer is idle between events)`
        : `### one-way latency under load (a steady ${rate} events/s)`,
      '',
    )
    out.push('| system | p50 | p90 | p99 | p99.9 | max | events recorded per run | delivered/s | busy elsewhere |')
    out.push('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |')
    for (const r of rows) {
      if (r.error !== null && r.runs === 0) {
        out.push(`| ${r.label} | FAILED: ${r.error} | | | | | | | |`)
        continue
      }
      out.push(
        `| ${r.label} | ${fmtUs(r.p50_us)} | ${fmtUs(r.p90_us)} | ${fmtUs(r.p99_us)} | ${fmtUs(r.p999_us)} | ${fmtUs(r.max_us)} | ` +
          `${fmtInt(r.recorded_per_run)} | ${delivered(r)} | ${fmtBusy(r.per_run.map((x) => x.othersCpu).filter((x) => x !== null))} |`,
      )
    }
    out.push('')
  }
  if (out.length > 0) {
    out.push(
      `Producer in a worker stamps each event (monotonic clock) once its slot is claimed, writes and publishes it; the main thread subtracts the stamp when it reads the event. ` +
        `Low rate: the producer sleeps between events (Atomics.wait) and spins the last 150 µs; the consumer is a spinning poll loop, or for callback mode the event loop woken by the engine. ` +
        `delivered/s well below the offered rate with a p50 in milliseconds means the consumer could not keep up and events queued. ` +
        `Medians over ${args.latencyRepeats} run(s) of ${args.latencySeconds} s each (first 10% of each run not recorded); wait strategy ${args.waitStrategy}.`,
      '',
    )
  }
  return out
}

// ---------------------------------------------------------------- resources

async function resources(args, failures) {
  const res = {}
  try {
    progress('[resources] publish-path allocation')
    res.publish_allocation = await publishPathAllocation({ events: args.allocEvents })
  } catch (e) {
    failures.push(`resources publish allocation: ${e.message}`)
  }
  try {
    progress('[resources] publish-path allocation, multi producer')
    res.publish_allocation_multi = await publishPathAllocation({ events: args.allocEvents, producer: 'multi' })
  } catch (e) {
    failures.push(`resources publish allocation (multi producer): ${e.message}`)
  }
  try {
    progress(`[resources] idle CPU per wait strategy (${args.idleSeconds} s each)`)
    res.idle_cpu = await idleCpu({ seconds: args.idleSeconds })
  } catch (e) {
    failures.push(`resources idle CPU: ${e.message}`)
  }
  try {
    progress(`[resources] RSS over a long run (${fmtInt(args.longRunEvents)} events)`)
    res.long_run_memory = await memoryOverLongRun({ events: args.longRunEvents, size: args.size })
  } catch (e) {
    failures.push(`resources long run: ${e.message}`)
  }
  progressDone()
  return res
}

function resourceTables(res) {
  const out = []
  const m = res.long_run_memory
  if (m) {
    out.push('### memory over a long run (napi-disruptor one-to-one, callback consumer, batch 1)', '')
    out.push('| events | seconds | RSS before | RSS after | RSS max during | heap used before / after |')
    out.push('| ---: | ---: | ---: | ---: | ---: | ---: |')
    out.push(
      `| ${fmtInt(m.events)} | ${m.seconds.toFixed(2)} | ${m.rssBeforeMiB.toFixed(1)} MiB | ${m.rssAfterMiB.toFixed(1)} MiB | ` +
        `${m.rssMaxMiB.toFixed(1)} MiB | ${m.heapUsedBeforeMiB.toFixed(1)} / ${m.heapUsedAfterMiB.toFixed(1)} MiB |`,
      '',
    )
  }
  if (res.publish_allocation || res.publish_allocation_multi) {
    out.push('### allocation in the publish path (`next()` + `publish()` on one thread)', '')
    out.push(
      '| producer | events | ns/event (with a poller draining) | minor GCs | major GCs | heap growth | bytes/event |',
    )
    out.push('| --- | ---: | ---: | ---: | ---: | ---: | ---: |')
    for (const [kind, a] of [
      ['single', res.publish_allocation],
      ['multi', res.publish_allocation_multi],
    ]) {
      if (!a) continue
      out.push(
        `| ${kind} | ${fmtInt(a.events)} | ${a.nsPerEvent.toFixed(1)} | ${a.gcMinor} | ${a.gcMajor} | ${a.heapGrowthKiB.toFixed(0)} KiB | ${heapBytesPerEvent(a).toFixed(3)} |`,
      )
    }
    out.push('')
  }
  if (res.idle_cpu) {
    out.push('### CPU of an idle ring (a started callback consumer, nothing published), whole process', '')
    out.push('| wait strategy | CPU, % of one core |')
    out.push('| --- | ---: |')
    for (const r of res.idle_cpu) out.push(`| ${r.strategy} | ${r.cpuPercent.toFixed(2)} % |`)
    out.push('')
  }
  return out
}

// ---------------------------------------------------------------- bars

function bars(tp, lat, res, paired) {
  const find = (batch, system, mode) =>
    tp.find(
      (r) =>
        r.topology === '1p1c' && r.batch === batch && r.system === system && (mode === undefined || r.mode === mode),
    )
  const out = []
  const ratioBar = (name, batch, system, min, source) => {
    const r = find(batch, system)
    const base = find(batch, 'napi-disruptor', 'callback')
    if (!r || !base || r.median === null || base.median === null) {
      out.push({ bar: name, source, met: null, figure: 'not measured' })
      return
    }
    const ratio = base.median / r.median
    out.push({
      bar: name,
      source,
      met: min === 1 ? ratio > 1 : ratio >= min,
      figure: `${fmtRatio(ratio)} (${fmtRate(base.median)} vs ${fmtRate(r.median)} events/s)`,
    })
  }
  ratioBar('batch 1: >= 30x MessagePort.postMessage (1 event/message)', 1, 'postMessage', 30, 'issue')
  ratioBar('batch 1: >= 10x shared-memory-disruptor', 1, 'shared-memory-disruptor', 10, 'issue')
  const pairedBar = (name, batch) => {
    const r = paired.find((x) => x.series === 'checked' && x.batch === batch && x.pairs > 0)
    if (!r) {
      // no paired rounds (--pairs 0, --only): the ratio of medians, for what it is worth
      ratioBar(name, batch, 'sab-ring', 1, 'issue')
      return
    }
    out.push({
      bar: name,
      source: 'issue',
      met: r.verdict === 'ahead',
      figure:
        `${r.verdict} over ${r.pairs} pairs: faster in ${r.wins} (sign test p = ${r.sign_test_p.toFixed(3)}), ` +
        `median paired ratio ${fmtRatio(r.median_ratio)}`,
    })
  }
  pairedBar('batch 1: ahead of the pure-JS SAB ring', 1)
  pairedBar('batch 64: ahead of the pure-JS SAB ring', 64)
  ratioBar('batch 64: >= 30x MessagePort.postMessage (64 events/message)', 64, 'postMessage', 30, 'DESIGN.md')
  ratioBar('batch 64: ahead of shared-memory-disruptor', 64, 'shared-memory-disruptor', 1, 'DESIGN.md')
  // Three-to-one (issue 17 part 2), ratios of medians.
  const three = (batch, system) =>
    tp.find((r) => r.topology === '3p1c' && r.batch === batch && r.system === system && r.mode !== 'poller')
  const threeBar = (name, batch, system, min) => {
    const r = three(batch, system)
    const base = three(batch, 'napi-disruptor')
    if (!r || !base || r.median === null || base.median === null) {
      out.push({ bar: name, source: 'issue', met: null, figure: 'not measured' })
      return
    }
    const ratio = base.median / r.median
    out.push({
      bar: name,
      source: 'issue',
      met: min === 1 ? ratio > 1 : ratio >= min,
      figure: `${fmtRatio(ratio)} (${fmtRate(base.median)} vs ${fmtRate(r.median)} events/s)`,
    })
  }
  threeBar('3P1C batch 1: ahead of the multi-producer SAB ring', 1, 'sab-ring', 1)
  threeBar('3P1C batch 64: ahead of the multi-producer SAB ring', 64, 'sab-ring', 1)
  threeBar('3P1C batch 1: >= 30x MessagePort.postMessage', 1, 'postMessage', 30)
  const latBar = (name, scenario, mode, maxUs) => {
    const r = lat.find((x) => x.scenario === scenario && x.system === 'napi-disruptor' && x.mode === mode)
    if (!r || r.p50_us === null) {
      out.push({ bar: name, source: 'issue', met: null, figure: 'not measured' })
      return
    }
    out.push({
      bar: name,
      source: 'issue',
      met: r.p50_us <= maxUs,
      figure: `p50 ${fmtUs(r.p50_us)}, p99 ${fmtUs(r.p99_us)}`,
    })
  }
  latBar('poller one-way latency p50 <= 0.5 µs, low rate', 'low', 'poller', 0.5)
  latBar('poller one-way latency p50 <= 0.5 µs, under load', 'load', 'poller', 0.5)
  latBar('callback one-way latency p50 <= 5 µs, under load', 'load', 'callback', 5)
  const idle = res.idle_cpu?.find((r) => r.strategy === 'blocking')
  out.push({
    bar: 'idle ring, blocking strategy: < 1% of a core',
    source: 'DESIGN.md',
    met: idle ? idle.cpuPercent < 1 : null,
    figure: idle ? `${idle.cpuPercent.toFixed(2)} %` : 'not measured',
  })
  // One object per event would be >= 16 bytes per event and a scavenge every few hundred
  // thousand events: no collection and under a byte per event (code, feedback) is none.
  const allocationBar = (bar, source, a) =>
    out.push({
      bar,
      source,
      met: a ? a.gcMinor === 0 && a.gcMajor === 0 && heapBytesPerEvent(a) < 1 : null,
      figure: a
        ? `${a.gcMinor} minor GCs, ${heapBytesPerEvent(a).toFixed(3)} bytes/event in ${fmtInt(a.events)} publishes`
        : 'not measured',
    })
  allocationBar('no per-event allocation in the publish path', 'DESIGN.md', res.publish_allocation)
  allocationBar('multi producer: no allocation per claim', 'issue', res.publish_allocation_multi)
  const m = res.long_run_memory
  out.push({
    bar: 'no memory growth over a long run (RSS after - before < 16 MiB)',
    source: 'DESIGN.md',
    met: m ? m.rssAfterMiB - m.rssBeforeMiB < 16 : null,
    figure: m ? `${(m.rssAfterMiB - m.rssBeforeMiB).toFixed(1)} MiB over ${fmtInt(m.events)} events` : 'not measured',
  })
  return out
}

/** Heap growth per event of the publish-path allocation run. */
function heapBytesPerEvent(a) {
  return (a.heapGrowthKiB * 1024) / a.events
}

function barTable(list) {
  const out = [
    '### bars (napi-disruptor callback mode unless said; ratios of medians in this run, the SAB ring bars from the paired rounds)',
    '',
  ]
  out.push('| bar | from | met | figure |')
  out.push('| --- | --- | --- | --- |')
  for (const b of list)
    out.push(`| ${b.bar} | ${b.source} | ${b.met === null ? 'n/a' : b.met ? 'yes' : '**no**'} | ${b.figure} |`)
  out.push('')
  return out
}

// ---------------------------------------------------------------- main

async function main() {
  const args = parseArgs(process.argv.slice(2))
  const m = machine()
  const startedAt = new Date()
  const header = [
    `## napi-disruptor JavaScript benchmarks${args.quick ? ' (--quick smoke run: figures meaningless)' : ''}`,
    '',
    `- machine: ${m.cpu}, ${m.cores} cores, ${m.memory_gib} GiB (${m.os})`,
    `- node ${m.node} (V8 ${m.v8}), ${m.rustc}`,
    `- commit: ${m.commit}${m.dirty ? ' (dirty working tree)' : ''}`,
    `- ${fmtInt(args.events)} events of 8 bytes per run, ring of ${fmtInt(args.size)} slots, napi-disruptor wait strategy ` +
      `${args.waitStrategy}; ${args.runs} run(s) per case after one warm-up run; producers in worker_threads, consumers on the main thread`,
    '- busy elsewhere: CPU that other processes used during the measured runs (median, % of one core, from /proc/stat); ' +
      'on a 2-core machine the figures mean something only when it stays near 0 %',
    '',
  ]
  console.log(header.join('\n'))

  const failures = []
  const tp = await throughput(args, failures)
  const paired = await pairedRounds(args, failures)
  const lat = args.latency ? await latency(args, failures) : []
  const res = args.resources ? await resources(args, failures) : {}
  const barList = bars(tp, lat, res, paired)

  const body = [
    ...throughputTables(tp),
    ...pairedTable(paired),
    ...latencyTables(lat, args),
    ...resourceTables(res),
    ...barTable(barList),
  ]
  const busy = [
    ...tp.flatMap((r) => r.others_cpu_percent ?? []),
    ...lat.flatMap((r) => r.per_run.map((x) => x.othersCpu).filter((x) => x !== null)),
  ]
  const busyMedian = busy.length ? median(busy) : null
  if (busyMedian !== null && busyMedian > 10) {
    body.push(
      `**Warning**: other processes used a median ${busyMedian.toFixed(0)} % of a core (max ${Math.max(...busy).toFixed(0)} %) ` +
        'during the measured runs: the figures above are distorted by contention.',
      '',
    )
  }
  if (failures.length > 0) body.push('### failures', '', ...failures.map((f) => `- ${f}`), '')
  console.log(body.join('\n'))

  const json = {
    generated_at: startedAt.toISOString(),
    finished_at: new Date().toISOString(),
    quick: args.quick,
    machine: { cpu: m.cpu, cores: m.cores, memory_gib: m.memory_gib, os: m.os },
    node: m.node,
    v8: m.v8,
    rustc: m.rustc,
    git: { commit: m.commit, dirty: m.dirty },
    config: {
      events: args.events,
      runs: args.runs,
      ring_size: args.size,
      wait_strategy: args.waitStrategy,
      only: args.only,
      latency_rates: args.latencyRates,
      latency_seconds: args.latencySeconds,
      latency_repeats: args.latencyRepeats,
      quiet_wait_s: args.quietWaitS,
      pairs: args.pairs,
      idle_spin: Number(process.env.BENCH_IDLE_SPIN ?? 100),
    },
    // runs that had to wait for other processes to quiet down: ms waited, -1 = gave up
    quiet_waits_ms: args.quietWaits,
    quiet_waited_total_ms: args.quietWaitedMs,
    busy_elsewhere_median_percent: busyMedian,
    throughput: tp,
    paired,
    latency: lat,
    resources: res,
    bars: barList,
    failures,
    markdown: [...header, ...body].join('\n'),
  }
  fs.mkdirSync(path.dirname(args.json), { recursive: true })
  fs.writeFileSync(args.json, `${JSON.stringify(json, null, 2)}\n`)
  console.error(`wrote ${path.relative(process.cwd(), args.json)}`)

  if (args.chart !== null && tp.some((r) => r.median !== null)) {
    const groups = []
    for (const topology of TOPOLOGIES) {
      for (const batch of BATCHES) {
        const bars = tp
          .filter((r) => r.topology === topology.id && r.batch === batch && r.median !== null)
          .map((r) => ({ label: r.label, system: r.system, value: r.median, min: r.min, max: r.max }))
        if (bars.length) groups.push({ title: `${topology.title}, batch ${batch}`, bars })
      }
    }
    const svg = barChart({
      title: 'napi-disruptor: JS throughput, worker thread -> main thread, 8-byte events',
      subtitle: `${m.cpu}, ${m.cores} cores; node ${m.node}; commit ${m.commit.slice(0, 10)}${m.dirty ? ' (dirty)' : ''}; ${startedAt.toISOString().slice(0, 10)}; median of ${args.runs} runs of ${fmtInt(args.events)} events (light consumer: ${fmtInt(args.events * LIGHT_EVENTS_FACTOR)})`,
      groups,
    })
    fs.writeFileSync(args.chart, svg)
    console.error(`wrote ${path.relative(process.cwd(), args.chart) || args.chart}`)
  }
  if (failures.length > 0) {
    console.error(`${failures.length} benchmark(s) failed`)
    process.exitCode = 1
  }
}

main().catch((e) => {
  progressDone()
  console.error(e)
  process.exitCode = 1
})
