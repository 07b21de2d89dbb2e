#!/usr/bin/env node
// Folds the two halves of `npm run bench` into one report: the criterion benches of
// crates/disruptor-core (benchmark/results/cargo.json, from cargo-summary.mjs) and the
// JavaScript benchmarks (benchmark/results/js.json, from js-bench.mjs), with the process bench
// (benchmark/results/processes.json, from processes.mjs) when it ran. Writes
// benchmark/results/report.md and benchmark/results/report.json and prints the bars and the
// paired rounds against the SAB ring (the checked and the light-consumer series).
//
//   node benchmark/report.mjs [--cargo FILE] [--js FILE] [--processes FILE] [--out DIR]
//
// No dependencies. A missing half is reported as missing, not an error; the exit code is 1
// only when none is there or when the JS half recorded failed runs.

import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

import { fmtRate, fmtRatio } from './js/common.mjs'

const here = path.dirname(fileURLToPath(import.meta.url))

function parseArgs(argv) {
  const a = {
    cargo: path.join(here, 'results', 'cargo.json'),
    js: path.join(here, 'results', 'js.json'),
    processes: path.join(here, 'results', 'processes.json'),
    out: path.join(here, 'results'),
  }
  for (let i = 0; i < argv.length; i++) {
    const value = () => {
      if (i + 1 >= argv.length) throw new Error(`${argv[i]} needs a value`)
      return argv[++i]
    }
    if (argv[i] === '--cargo') a.cargo = path.resolve(value())
    else if (argv[i] === '--js') a.js = path.resolve(value())
    else if (argv[i] === '--processes') a.processes = path.resolve(value())
    else if (argv[i] === '--out') a.out = path.resolve(value())
    else throw new Error(`unknown argument ${argv[i]} (flags for the benchmarks go to benchmark/run.mjs)`)
  }
  return a
}

function read(file) {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8'))
  } catch {
    return null
  }
}

function cargoTables(cargo) {
  const out = [
    '## Rust core (criterion, crates/disruptor-core/benches)',
    '',
    `- rustc: ${cargo.rustc}; commit ${cargo.git?.commit ?? 'unknown'}${cargo.git?.dirty ? ' (dirty)' : ''}; generated ${cargo.generated_at}`,
    '- ratio: events/s of the system ÷ disruptor-core events/s, same variant (> 1: faster than disruptor-core)',
    '',
  ]
  if (cargo.results.length === 0) {
    out.push(`No criterion benchmark matched --only ${cargo.only ?? ''}.`, '')
    return out
  }
  const topologies = [...new Set(cargo.results.map((r) => r.topology))]
  for (const t of topologies) {
    out.push(
      `### ${t}`,
      '',
      '| system | variant | events/s (median) | 95% CI | ratio vs disruptor-core |',
      '| --- | --- | ---: | ---: | ---: |',
    )
    for (const r of cargo.results.filter((x) => x.topology === t)) {
      const ratio = r.ratio === null || r.ratio === undefined ? 'n/a' : `${r.ratio.toFixed(2)}x`
      out.push(
        `| ${r.system} | ${r.variant} | ${fmtRate(r.events_per_sec)} | ${fmtRate(r.events_per_sec_low)} - ${fmtRate(r.events_per_sec_high)} | ${ratio} |`,
      )
    }
    out.push('')
  }
  return out
}

function main() {
  const args = parseArgs(process.argv.slice(2))
  const cargo = read(args.cargo)
  const js = read(args.js)
  const processes = read(args.processes)
  if (!cargo && !js && !processes) {
    console.error(
      `none of ${args.cargo}, ${args.js}, ${args.processes} exists: run \`npm run bench\` (or bench:js) first`,
    )
    process.exit(1)
  }
  const md = ['# napi-disruptor benchmark report', '']
  const m = js?.machine ?? cargo?.machine ?? processes.machine
  md.push(`- machine: ${m.cpu}, ${m.cores} cores${m.memory_gib ? `, ${m.memory_gib} GiB` : ''} (${m.os})`)
  if (js) md.push(`- node ${js.node}, ${js.rustc}, commit ${js.git.commit}${js.git.dirty ? ' (dirty)' : ''}`)
  if (cargo && !js) md.push(`- ${cargo.rustc}, commit ${cargo.git.commit}`)
  if (processes && !js && !cargo) md.push(`- node ${processes.node}, commit ${processes.git.commit}`)
  md.push(
    `- JavaScript half: ${js ? `${js.generated_at}${js.quick ? ' (--quick: figures meaningless)' : ''}` : 'missing'}`,
  )
  md.push(`- Rust half: ${cargo ? cargo.generated_at : 'missing'}`)
  md.push(
    `- processes: ${processes ? `${processes.generated_at}${processes.quick ? ' (--quick: figures meaningless)' : ''}` : 'not run'}`,
    '',
  )
  if (js) {
    // js.markdown starts with its own header (machine, versions): keep only its tables
    const body = js.markdown.split('\n')
    const first = body.findIndex((l) => l.startsWith('### '))
    md.push('## JavaScript (benchmark/js-bench.mjs)', '', ...(first >= 0 ? body.slice(first) : body), '')
  }
  if (cargo) md.push(...cargoTables(cargo))
  if (processes) md.push('## Process to process (benchmark/processes.mjs)', '', processes.markdown, '')

  fs.mkdirSync(args.out, { recursive: true })
  const mdFile = path.join(args.out, 'report.md')
  fs.writeFileSync(mdFile, `${md.join('\n')}\n`)
  fs.writeFileSync(
    path.join(args.out, 'report.json'),
    `${JSON.stringify({ generated_at: new Date().toISOString(), js, cargo, processes }, null, 2)}\n`,
  )

  if (js) {
    console.log('\nbars (JavaScript, this run):')
    for (const b of js.bars) console.log(`  ${b.met === null ? 'n/a ' : b.met ? 'met ' : 'NOT '} ${b.bar}: ${b.figure}`)
    const paired = (js.paired ?? []).filter((r) => r.pairs > 0)
    if (paired.length > 0)
      console.log('\npaired rounds against the pure-JS SAB ring (ratio = napi-disruptor / SAB ring):')
    for (const r of paired) {
      console.log(
        `  ${r.series ?? 'checked'} batch ${r.batch} ${r.label ?? 'napi-disruptor (callback)'}: ${r.verdict}, ` +
          `faster in ${r.wins} of ${r.pairs} (p = ${r.sign_test_p.toFixed(3)}), median ${fmtRatio(r.median_ratio)}` +
          (r.median_rate ? ` (${fmtRate(r.median_rate)} / ${fmtRate(r.against_median_rate)} events/s)` : ''),
      )
    }
  }
  if (processes) {
    console.log('\nbars (process to process, benchmark/processes.mjs):')
    for (const b of processes.bars) console.log(`  ${b.met ? 'met ' : 'NOT '} ${b.bar}: ${b.figure}`)
  }
  console.log(
    `\nwrote ${path.relative(process.cwd(), mdFile)} (${[js && 'JS', cargo && 'Rust', processes && 'processes'].filter(Boolean).join(' + ')}) and report.json beside it`,
  )
  if (js && js.failures.length > 0) process.exitCode = 1
}

main()
