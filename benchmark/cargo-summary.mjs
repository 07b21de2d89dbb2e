#!/usr/bin/env node
// Summarises the criterion results of `cargo bench -p disruptor-core` (the topology benches in
// crates/disruptor-core/benches) as one markdown table per topology, and writes them as JSON to
// benchmark/results/cargo.json.
//
//   cargo bench -p disruptor-core          # or BENCH_QUICK=1 cargo bench ... for a smoke run
//   node benchmark/cargo-summary.mjs [criterion-dir] [--json out.json] [--only REGEX]
//
// --only REGEX keeps the benchmarks whose id (one_to_one/disruptor-core/batch1, ...) matches it,
// as `cargo bench -- REGEX` (criterion's filter) runs only those; when none does, it says so and
// writes an empty result instead of failing (`benchmark/run.mjs --only` hands the same text to
// both halves, and a JS-only pattern selects no criterion benchmark).
//
// criterion-dir defaults to $CARGO_TARGET_DIR/criterion or target/criterion. Criterion 0.8
// writes, per benchmark, <group>/<function>/<value>/new/benchmark.json (ids and throughput)
// and new/estimates.json (nanoseconds per iteration: mean, median, ... with confidence
// intervals). One iteration here is one burst of `Elements` events, so events/s is
// Elements / median * 1e9. Results of benchmarks that were not re-run stay on disk: the
// "burst" and "measured" columns show which run they come from.
//
// No dependencies: Node >= 18.

import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

import { machine } from './js/common.mjs'

const here = path.dirname(fileURLToPath(import.meta.url))
const root = path.resolve(here, '..')

const TOPOLOGIES = ['one_to_one', 'one_to_three', 'three_to_one', 'pipeline', 'diamond']
const BASELINE = 'disruptor-core'
const SYSTEM_ORDER = [BASELINE, 'disruptor', 'crossbeam-channel', 'spsc-ring']
const VARIANT_ORDER = ['batch1', 'batch64', 'busy-spin', 'yield', 'blocking', 'phased-blocking']

function parseArgs(argv) {
  const args = { dir: null, json: path.join(here, 'results', 'cargo.json'), only: null }
  for (let i = 0; i < argv.length; i++) {
    const value = () => {
      if (i + 1 >= argv.length) throw new Error(`${argv[i]} needs a value`)
      return argv[++i]
    }
    if (argv[i] === '--json') args.json = path.resolve(value())
    else if (argv[i] === '--only') args.only = new RegExp(value())
    else if (argv[i] === '-h' || argv[i] === '--help') {
      console.log('usage: node benchmark/cargo-summary.mjs [criterion-dir] [--json out.json] [--only REGEX]')
      process.exit(0)
    } else if (argv[i].startsWith('-')) throw new Error(`unknown argument ${argv[i]}`)
    else args.dir = path.resolve(argv[i])
  }
  if (!args.dir) {
    const target = process.env.CARGO_TARGET_DIR
      ? path.resolve(root, process.env.CARGO_TARGET_DIR)
      : path.join(root, 'target')
    args.dir = path.join(target, 'criterion')
  }
  return args
}

/** Every directory named `new` holding both files, below `dir`. */
function findResults(dir) {
  const found = []
  const walk = (d) => {
    let entries
    try {
      entries = fs.readdirSync(d, { withFileTypes: true })
    } catch {
      return
    }
    for (const e of entries) {
      if (!e.isDirectory()) continue
      const p = path.join(d, e.name)
      if (e.name === 'new') {
        const bench = path.join(p, 'benchmark.json')
        const est = path.join(p, 'estimates.json')
        if (fs.existsSync(bench) && fs.existsSync(est)) found.push({ bench, est })
      } else if (e.name !== 'report' && e.name !== 'base' && e.name !== 'change') {
        walk(p)
      }
    }
  }
  walk(dir)
  return found
}

function elementsOf(throughput) {
  if (!throughput) return null
  return throughput.Elements ?? throughput.ElementsAndBytes?.elements ?? null
}

function load(dir) {
  const rows = []
  for (const { bench, est } of findResults(dir)) {
    const b = JSON.parse(fs.readFileSync(bench, 'utf8'))
    const e = JSON.parse(fs.readFileSync(est, 'utf8'))
    const events = elementsOf(b.throughput)
    const median = e.median?.point_estimate
    if (!events || !median) continue // not a throughput benchmark of ours
    const ci = e.median.confidence_interval
    rows.push({
      topology: b.group_id,
      system: b.function_id ?? b.group_id,
      variant: b.value_str ?? '',
      id: b.full_id,
      events_per_burst: events,
      median_ns_per_burst: median,
      events_per_sec: (events / median) * 1e9,
      // a longer burst time means fewer events/s: the bounds swap
      events_per_sec_low: (events / ci.upper_bound) * 1e9,
      events_per_sec_high: (events / ci.lower_bound) * 1e9,
      measured_at: fs.statSync(est).mtime.toISOString(),
    })
  }
  return rows
}

const rank = (list, x) => {
  const i = list.indexOf(x)
  return i < 0 ? list.length : i
}
const byOrder = (a, b) =>
  rank(VARIANT_ORDER, a.variant) - rank(VARIANT_ORDER, b.variant) ||
  a.variant.localeCompare(b.variant) ||
  rank(SYSTEM_ORDER, a.system) - rank(SYSTEM_ORDER, b.system) ||
  a.system.localeCompare(b.system)

/** Ratio to disruptor-core of the same variant, or of its first listed variant when ours has
 * no such variant (the table then says which one it was compared with). */
function addRatios(rows) {
  for (const topology of new Set(rows.map((r) => r.topology))) {
    const group = rows.filter((r) => r.topology === topology)
    const ours = group.filter((r) => r.system === BASELINE).sort(byOrder)
    for (const r of group) {
      const base = ours.find((o) => o.variant === r.variant) ?? ours[0]
      r.baseline = base ? base.id : null
      r.baseline_variant = base ? base.variant : null
      r.ratio = base ? r.events_per_sec / base.events_per_sec : null
    }
  }
}

function fmtRate(x) {
  if (x >= 1e9) return `${(x / 1e9).toFixed(2)} G`
  if (x >= 1e6) return `${(x / 1e6).toFixed(2)} M`
  if (x >= 1e3) return `${(x / 1e3).toFixed(1)} K`
  return x.toFixed(0)
}

function table(rows) {
  const lines = [
    '| system | variant | events/s (median) | 95% CI | ratio vs disruptor-core | burst | measured |',
    '| --- | --- | ---: | ---: | ---: | ---: | --- |',
  ]
  for (const r of rows) {
    let ratio = r.ratio === null ? 'n/a' : `${r.ratio.toFixed(2)}x`
    if (r.baseline_variant !== null && r.baseline_variant !== r.variant) {
      ratio += ` (vs ${r.baseline_variant})`
    }
    lines.push(
      `| ${r.system} | ${r.variant} | ${fmtRate(r.events_per_sec)} | ` +
        `${fmtRate(r.events_per_sec_low)} - ${fmtRate(r.events_per_sec_high)} | ${ratio} | ` +
        `${r.events_per_burst} | ${r.measured_at.slice(0, 19).replace('T', ' ')} |`,
    )
  }
  return lines.join('\n')
}

function main() {
  const args = parseArgs(process.argv.slice(2))
  const rows = load(args.dir).filter((r) => args.only === null || args.only.test(r.id))
  if (rows.length === 0 && args.only !== null) {
    // not an error: the pattern named JS cases only (criterion ran nothing either)
    console.log(`no criterion result matches --only ${args.only.source}: no Rust table`)
    writeJson(args, machine(), [])
    return
  }
  if (rows.length === 0) {
    console.error(`no criterion results under ${args.dir}: run \`cargo bench -p disruptor-core\` first`)
    process.exit(1)
  }
  addRatios(rows)
  const m = machine()
  const topologies = [
    ...TOPOLOGIES.filter((t) => rows.some((r) => r.topology === t)),
    ...[...new Set(rows.map((r) => r.topology))].filter((t) => !TOPOLOGIES.includes(t)).sort(),
  ]

  const out = [
    '# disruptor-core benchmarks (criterion)',
    '',
    `- machine: ${m.cpu}, ${m.cores} cores (${m.os})`,
    `- rustc: ${m.rustc}`,
    `- commit: ${m.commit}${m.dirty ? ' (dirty working tree)' : ''}`,
    `- results: ${path.relative(root, args.dir) || args.dir}`,
    '- events/s: burst size / median time per burst; ratio = events/s / disruptor-core events/s ' +
      '(same variant, else the first one listed); > 1 is faster than disruptor-core',
  ]
  const sorted = []
  for (const t of topologies) {
    const group = rows.filter((r) => r.topology === t).sort(byOrder)
    sorted.push(...group)
    out.push('', `## ${t}`, '', table(group))
  }
  console.log(out.join('\n'))

  writeJson(args, m, sorted)
}

function writeJson(args, m, results) {
  fs.mkdirSync(path.dirname(args.json), { recursive: true })
  const json = {
    generated_at: new Date().toISOString(),
    machine: { cpu: m.cpu, cores: m.cores, os: m.os },
    rustc: m.rustc,
    git: { commit: m.commit, dirty: m.dirty },
    criterion_dir: args.dir,
    only: args.only?.source ?? null,
    results,
  }
  fs.writeFileSync(args.json, `${JSON.stringify(json, null, 2)}\n`)
  console.error(`\nwrote ${path.relative(process.cwd(), args.json)}`)
}

main()
