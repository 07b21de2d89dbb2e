#!/usr/bin/env node
// The one entry of `npm run bench` and `npm run bench:quick`: runs every step of the benchmarks
// in order and hands each the flags it understands (`npm run bench -- --quick` used to reach
// only the last step of an `&&` chain).
//
//   node benchmark/run.mjs [--quick] [--only TEXT] [--pairs N] [--no-cargo] [--dry-run]
//   npm run bench -- --only light --pairs 6
//
// Steps: 1. cargo bench -p disruptor-core --benches (the criterion benches; BENCH_QUICK=1 with
// --quick), 2. node benchmark/cargo-summary.mjs (their tables, results/cargo.json),
// 3. node benchmark/js-bench.mjs (results/js.json), then the feature benches (FEATURE_BENCHES
// below: typed events, messages, streams, channels, stats() agreement, native calls, journal, NATS sink,
// process rings; with no --only, or an --only their name contains), 4. node benchmark/report.mjs
// (both halves, and results/processes.json, folded into results/report.md). It stops at the first
// step that fails, with its exit code.
//
// Flags:
//   --quick      smoke run (figures meaningless): BENCH_QUICK=1 for cargo bench, --quick for js-bench
//   --only TEXT  cargo bench: criterion's filter (a regex over ids such as
//                one_to_one/disruptor-core/batch1), and cargo-summary keeps the same rows;
//                js-bench: the cases whose "topology system mode" contains TEXT (1p1c, 1p1c-light,
//                1p3c, 3p1c, diamond; "latency ..."). Each half matches in its own names: a
//                pattern that names nothing in one half runs nothing there (--only light: the
//                light-consumer rows of js-bench, no criterion benchmark)
//   --pairs N    js-bench's paired rounds against the SAB ring per batch and series (default 20,
//                1 with --quick, 0: none); the cargo benches have none
//   --no-cargo   skip steps 1 and 2 (report.mjs then folds the cargo.json already there, if any)
//   --dry-run    print the steps, run nothing

import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const here = path.dirname(fileURLToPath(import.meta.url))
const root = path.resolve(here, '..')

function usage() {
  const lines = fs
    .readFileSync(fileURLToPath(import.meta.url), 'utf8')
    .split('\n')
    .slice(1)
  return lines
    .slice(
      0,
      lines.findIndex((l) => !l.startsWith('//')),
    )
    .map((l) => l.replace(/^\/\/ ?/, ''))
    .join('\n')
}

function parseArgs(argv) {
  const a = { quick: false, only: null, pairs: null, cargo: true, dryRun: false }
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]
    const value = () => {
      if (i + 1 >= argv.length || argv[i + 1].startsWith('--')) throw new Error(`${arg} needs a value`)
      return argv[++i]
    }
    if (arg === '--quick') a.quick = true
    else if (arg === '--only') a.only = value()
    else if (arg === '--pairs') {
      const v = value()
      a.pairs = Number(v)
      if (!/^\d+$/.test(v)) throw new Error(`--pairs must be a non-negative integer, not ${v}`)
    } else if (arg === '--no-cargo') a.cargo = false
    else if (arg === '--dry-run') a.dryRun = true
    else if (arg === '-h' || arg === '--help') {
      console.log(usage())
      process.exit(0)
    } else throw new Error(`unknown argument ${arg} (accepted: --quick, --only TEXT, --pairs N, --no-cargo, --dry-run)`)
  }
  if (a.only !== null && a.cargo) {
    try {
      new RegExp(a.only) // criterion and cargo-summary take it as a regex
    } catch (e) {
      throw new Error(`--only ${a.only}: not a valid regex for the cargo half (${e.message})`)
    }
  }
  return a
}

/**
 * Feature benches, each its own script taking --quick: typed events (against hand-written
 * offsets and postMessage), messages (against postMessage(Uint8Array)), a stream pipeline through
 * the ring (against one without it), and stats() against independent counts (the run fails when
 * a rate is more than 5% off), and the others below; processes: ProcessRing from one process to
 * another against shared-memory-disruptor, process.send() and a Unix socket (it writes
 * results/processes.json, which report.mjs folds in).
 */
const FEATURE_BENCHES = [
  ['events', 'events.mjs'],
  ['messages', 'messages.mjs'],
  ['streams', 'streams.mjs'],
  ['channels', 'channels.mjs'],
  ['stats-agreement', 'stats-agreement.mjs'],
  ['native-calls', 'native-calls.mjs'],
  ['journal', 'journal.mjs'],
  ['nats', 'nats.mjs'],
  ['processes', 'processes.mjs'],
]

function steps(a) {
  const only = a.only === null ? [] : ['--only', a.only]
  const list = []
  if (a.cargo) {
    list.push({
      name: 'cargo bench',
      cmd: 'cargo',
      args: ['bench', '-p', 'disruptor-core', '--benches', ...(a.only === null ? [] : ['--', a.only])],
      env: a.quick ? { BENCH_QUICK: '1' } : {},
    })
    list.push({ name: 'cargo-summary', cmd: process.execPath, args: [path.join(here, 'cargo-summary.mjs'), ...only] })
  }
  list.push({
    name: 'js-bench',
    cmd: process.execPath,
    args: [
      path.join(here, 'js-bench.mjs'),
      ...(a.quick ? ['--quick'] : []),
      ...only,
      ...(a.pairs === null ? [] : ['--pairs', String(a.pairs)]),
    ],
  })
  // The benches of one feature each, run with no --only or an --only their name contains.
  for (const [name, file] of FEATURE_BENCHES) {
    if (a.only === null || name.includes(a.only)) {
      list.push({ name, cmd: process.execPath, args: [path.join(here, file), ...(a.quick ? ['--quick'] : [])] })
    }
  }
  list.push({ name: 'report', cmd: process.execPath, args: [path.join(here, 'report.mjs')] })
  return list
}

const shown = (s) =>
  [
    ...Object.entries(s.env ?? {}).map(([k, v]) => `${k}=${v}`),
    s.cmd === process.execPath ? 'node' : s.cmd,
    ...s.args.map((x) => (x.startsWith(here) ? path.relative(root, x) : x)),
  ]
    .map((x) => (/^[\w@%+=:,./-]+$/.test(x) ? x : `'${x.replace(/'/g, "'\\''")}'`))
    .join(' ')

function main() {
  let a
  try {
    a = parseArgs(process.argv.slice(2))
  } catch (e) {
    console.error(`benchmark/run.mjs: ${e.message}`)
    process.exit(2)
  }
  const list = steps(a)
  for (const [i, s] of list.entries()) {
    console.error(`\n== [${i + 1}/${list.length}] ${shown(s)}`)
    if (a.dryRun) continue
    const r = spawnSync(s.cmd, s.args, { cwd: root, stdio: 'inherit', env: { ...process.env, ...s.env } })
    if (r.error) {
      console.error(`benchmark/run.mjs: ${s.name} could not start: ${r.error.message}`)
      process.exit(1)
    }
    if (r.status !== 0) {
      console.error(
        `benchmark/run.mjs: ${s.name} failed (${r.status === null ? `signal ${r.signal}` : `exit ${r.status}`})`,
      )
      process.exit(r.status || 1)
    }
  }
}

main()
