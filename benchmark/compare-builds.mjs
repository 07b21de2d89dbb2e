#!/usr/bin/env node
// Before/after speed check for a change to the TypeScript layer: paired rounds of two built
// checkouts (base = before, head = after), each run in a fresh `node` child process.
//
//   node benchmark/compare-builds.mjs --base /work/base --head /work/main [--pairs 10] [--only NAME]
//
// Options: --pairs N (rounds, default 10), --only TEXT (cases whose name contains TEXT),
// --events N (per js-bench run, a multiple of 192, default 38,400,000), --iterations N (timed
// claims per next()+publish() run, a multiple of 5, default 20,000,000), --json FILE (default
// benchmark/results/compare-builds.json). A round takes about 7 s on a 2-core machine.
//
// Cases: "one_to_one callback batch 1|64" run each checkout's own benchmark/js-bench.mjs (producer
// worker -> callback consumer on the main thread, 65,536 slots, blocking wait); "next()+publish()
// one thread" and "next(64)+publish() one thread" time claims + publishes on a single-producer
// ring without consumers (it never waits), loading the checkout through its package.json `main`.
//
// Reading the output: each round runs base and head back to back (which one goes first
// alternates), so both see the same machine mood; a ratio is head speed / base speed of one round
// (> 1: head faster). The verdict is a two-sided sign test on how many rounds head won: faster or
// slower only at p < 0.05 (that needs at least 6 pairs), level otherwise. Level is "no change
// detected", not "no change": the median ratio and its min - max say how big a change could hide.

import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const benchDir = path.dirname(fileURLToPath(import.meta.url))

function parseArgs(argv) {
  const a = { base: null, head: null, pairs: 10, only: null, events: 38_400_000, iterations: 20_000_000 }
  a.json = path.join(benchDir, 'results', 'compare-builds.json')
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]
    const value = () => {
      if (i + 1 >= argv.length) throw new Error(`${arg} needs a value`)
      return argv[++i]
    }
    if (arg === '--base') a.base = path.resolve(value())
    else if (arg === '--head') a.head = path.resolve(value())
    else if (arg === '--pairs') a.pairs = Number(value())
    else if (arg === '--only') a.only = value()
    else if (arg === '--events') a.events = Number(value())
    else if (arg === '--iterations') a.iterations = Number(value())
    else if (arg === '--json') a.json = path.resolve(value())
    else throw new Error(`unknown argument ${arg}`)
  }
  if (!a.base || !a.head) throw new Error('usage: compare-builds.mjs --base DIR --head DIR [--pairs N] [--only NAME]')
  if (!Number.isInteger(a.pairs) || a.pairs < 1) throw new Error('--pairs must be a positive integer')
  if (!Number.isInteger(a.events) || a.events % 192 !== 0) throw new Error('--events must be a multiple of 192')
  if (!Number.isInteger(a.iterations) || a.iterations % 5 !== 0) throw new Error('--iterations: a multiple of 5')
  return a
}

/** Runs a child to completion; throws with the tail of its stderr when it fails. */
function run(args, cwd) {
  const r = spawnSync(process.execPath, args, { cwd, encoding: 'utf8', maxBuffer: 64 * 2 ** 20 })
  if (r.error) throw r.error
  if (r.status !== 0) throw new Error(`exit ${r.status ?? r.signal}: ${(r.stderr || r.stdout).trim().slice(-800)}`)
  return r.stdout
}

// The checkout's own js-bench, limited to the one-to-one callback row ("1p1c" is the topology id
// its --only matches against). It does one warm-up run per batch, then the measured one.
function jsBench(dir, args, tmp) {
  const json = path.join(tmp, 'js-bench.json')
  const select = ['--only', '1p1c napi-disruptor callback', '--runs', '1', '--pairs', '0']
  const flags = ['--no-latency', '--no-resources', '--quiet-wait', '0', '--events', `${args.events}`, '--json', json]
  fs.rmSync(json, { force: true }) // never read the other build's figures
  run([path.join(dir, 'benchmark', 'js-bench.mjs'), ...select, ...flags], dir)
  const rows = JSON.parse(fs.readFileSync(json, 'utf8')).throughput
  const rate = (batch) => {
    const r = rows.find((x) => x.topology === '1p1c' && x.mode === 'callback' && x.batch === batch)
    if (!r || r.error || r.runs.length !== 1) throw new Error(`js-bench batch ${batch}: ${r?.error ?? 'no result'}`)
    return r.runs[0]
  }
  return { 'one_to_one callback batch 1': rate(1), 'one_to_one callback batch 64': rate(64) }
}

// Runs with `node -e SCRIPT DIR ITERATIONS`. Each variant gets its own ring and function. Warm-up
// is 10 calls, not one long loop, so the function itself gets optimized (a single call is only
// OSR-compiled and the next call starts over). The timed part is 5 calls of ITERATIONS / 5 and
// the median call counts: a burst of other work on this 2-core machine then skews one call, not
// the figure. The last claimed sequence is checked so that every claim really happened.
const PUBLISH_CHILD = `
const fs = require('node:fs')
const path = require('node:path')
const [dir, iterations] = [process.argv[1], Number(process.argv[2])]
const main = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')).main
const { Disruptor } = require(path.join(dir, main))
const ring = () => new Disruptor({ size: 65536, slotSize: 8, producer: 'single' })
function one(d, n) {
  let s = -1
  for (let i = 0; i < n; i++) {
    s = d.next()
    d.publish(s)
  }
  return s
}
function batch64(d, n) {
  let hi = -1
  for (let i = 0; i < n; i++) {
    hi = d.next(64)
    d.publish(hi - 63, hi)
  }
  return hi
}
const out = {}
for (const [name, f, per] of [['next()+publish() one thread', one, 1], ['next(64)+publish() one thread', batch64, 64]]) {
  const d = ring()
  for (let i = 0; i < 10; i++) f(d, 200_000)
  const ns = []
  let last = -1
  for (let i = 0; i < 5; i++) {
    const t0 = process.hrtime.bigint()
    last = f(d, iterations / 5)
    ns.push(Number(process.hrtime.bigint() - t0))
  }
  if (last !== (2_000_000 + iterations) * per - 1) throw new Error(name + ': last sequence ' + last)
  out[name] = ((iterations / 5) * per * 1e9) / ns.sort((a, b) => a - b)[2]
  d.close()
}
console.log(JSON.stringify(out))
`

const nextPublish = (dir, args) => JSON.parse(run(['-e', PUBLISH_CHILD, dir, `${args.iterations}`], dir))

// One child per build per round gives both cases of a job.
const JOBS = [
  {
    name: 'js-bench one-to-one',
    cases: ['one_to_one callback batch 1', 'one_to_one callback batch 64'],
    measure: jsBench,
  },
  {
    name: 'next()+publish()',
    cases: ['next()+publish() one thread', 'next(64)+publish() one thread'],
    measure: nextPublish,
  },
]

/** The checkout's entry (package.json `main`, which must be built) and its git state. */
function describe(dir) {
  const pkg = path.join(dir, 'package.json')
  if (!fs.existsSync(pkg)) throw new Error(`${dir}: no package.json`)
  const entry = JSON.parse(fs.readFileSync(pkg, 'utf8')).main
  if (!fs.existsSync(path.join(dir, entry))) throw new Error(`${path.join(dir, entry)} is missing: build it first`)
  const g = (...a) => spawnSync('git', ['-C', dir, ...a], { encoding: 'utf8' }).stdout?.trim() ?? ''
  const lines = g('status', '--porcelain').split('\n').filter(Boolean)
  const untracked = lines.filter((l) => l.startsWith('??')).map((l) => l.slice(3))
  return {
    dir,
    entry,
    commit: g('rev-parse', '--short', 'HEAD') || 'unknown',
    modified: lines.length - untracked.length,
    untracked,
  }
}

/** Two-sided exact binomial (sign) test: P(a split at least as uneven as wins : n - wins | p = 1/2). */
function signTestP(wins, n) {
  if (n === 0) return 1
  const k = Math.max(wins, n - wins)
  let tail = 0
  let c = 1 // C(n, i)
  for (let i = 0; i <= n; i++) {
    if (i >= k) tail += c
    c = (c * (n - i)) / (i + 1)
  }
  return Math.min(1, (2 * tail) / 2 ** n)
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2
}
const fmtRate = (x) => (x >= 1e9 ? `${(x / 1e9).toFixed(2)} G` : `${(x / 1e6).toFixed(1)} M`)

function main() {
  const args = parseArgs(process.argv.slice(2))
  const started = Date.now()
  const builds = { base: describe(args.base), head: describe(args.head) }
  console.log(`machine: ${os.cpus()[0]?.model?.trim()}, ${os.cpus().length} cores, node ${process.version}`)
  for (const [name, b] of Object.entries(builds)) {
    const changes =
      b.modified + b.untracked.length === 0 ? 'clean' : `${b.modified} modified, ${b.untracked.length} untracked`
    const names = b.untracked.length > 0 && b.untracked.length <= 3 ? ` (${b.untracked.join(', ')})` : ''
    console.log(`${name}: ${b.dir} (${b.entry}) at ${b.commit}, ${changes}${names}`)
  }
  const selected = (c) => args.only === null || c.includes(args.only)
  const jobs = JOBS.filter((j) => j.cases.some(selected))
  if (jobs.length === 0) throw new Error(`--only ${args.only} matches no case`)
  const results = new Map(jobs.flatMap((j) => j.cases.filter(selected).map((c) => [c, { pairs: [] }])))
  const errors = new Map()
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'compare-builds-'))
  try {
    for (let k = 0; k < args.pairs; k++) {
      // alternate the order: whichever runs second may find the machine warmer (or throttled)
      const order = k % 2 === 0 ? ['base', 'head'] : ['head', 'base']
      for (const job of jobs.filter((j) => !errors.has(j))) {
        const got = {}
        try {
          for (const which of order) {
            process.stderr.write(`pair ${k + 1}/${args.pairs}: ${job.name}, ${which}\n`)
            got[which] = job.measure(builds[which].dir, args, tmp)
          }
        } catch (e) {
          errors.set(job, e.message)
          console.error(`FAILED ${job.cases.join(', ')}: ${e.message}`)
          continue
        }
        for (const c of job.cases.filter(selected)) {
          const base = got.base[c]
          const head = got.head[c]
          results.get(c).pairs.push({ first: order[0], base, head, ratio: head / base })
        }
      }
    }
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true })
  }

  const cases = []
  for (const [name, r] of results) {
    const ratios = r.pairs.map((p) => p.ratio)
    const wins = ratios.filter((x) => x > 1).length
    const losses = ratios.filter((x) => x < 1).length
    const p = signTestP(wins, wins + losses)
    const verdict = ratios.length === 0 ? null : p < 0.05 ? (wins > losses ? 'faster' : 'slower') : 'level'
    const error = errors.get(jobs.find((j) => j.cases.includes(name))) ?? null
    const summary = ratios.length
      ? { median_ratio: median(ratios), min_ratio: Math.min(...ratios), max_ratio: Math.max(...ratios) }
      : { median_ratio: null, min_ratio: null, max_ratio: null }
    cases.push({ name, unit: 'events/s', ...summary, wins, losses, sign_test_p: p, verdict, pairs: r.pairs, error })
  }

  console.log('\nratio = head speed / base speed per pair (> 1: head faster)\n')
  for (const c of cases) {
    console.log(c.name)
    if (c.pairs.length === 0) {
      console.log(`  FAILED: ${c.error}\n`)
      continue
    }
    console.log(
      `  base ${fmtRate(median(c.pairs.map((p) => p.base)))} ${c.unit}, head ${fmtRate(median(c.pairs.map((p) => p.head)))} (medians)`,
    )
    console.log(`  ratios: ${c.pairs.map((p) => p.ratio.toFixed(3)).join(' ')}`)
    console.log(
      `  median ${c.median_ratio.toFixed(3)} (${c.min_ratio.toFixed(3)} - ${c.max_ratio.toFixed(3)}), ` +
        `head faster in ${c.wins}/${c.pairs.length}, sign test p = ${c.sign_test_p.toFixed(3)}: ${c.verdict}\n`,
    )
  }
  const seconds = (Date.now() - started) / 1000
  console.log(`took ${seconds.toFixed(0)} s, ${(seconds / args.pairs).toFixed(1)} s per pair`)

  const json = {
    generated_at: new Date(started).toISOString(),
    machine: { cpu: os.cpus()[0]?.model?.trim(), cores: os.cpus().length, node: process.version },
    builds,
    config: { pairs: args.pairs, only: args.only, events: args.events, iterations: args.iterations },
    seconds,
    cases,
  }
  fs.mkdirSync(path.dirname(args.json), { recursive: true })
  fs.writeFileSync(args.json, `${JSON.stringify(json, null, 2)}\n`)
  console.error(`wrote ${path.relative(process.cwd(), args.json)}`)
  if (errors.size > 0) process.exitCode = 1
}

try {
  main()
} catch (e) {
  console.error(e.message)
  process.exitCode = 1
}
