// What a call into the binding costs, and what it buys a multi producer's publish.
//
//   1. one call, one thread: a `#[napi]` method of NativeRing against the same call as a fast
//      function (crates/binding/src/fast.rs: raw N-API, its ring in the callback's data pointer)
//   2. next(n) + publish(lo, hi) on a multi-producer ring, one thread, no consumer: the publish as
//      an Atomics.store per sequence in JavaScript (DISRUPTOR_PUBLISH_THROUGH_ENGINE=0) against the
//      default (from src/producer/multi.ts's threshold on, one fast call into the engine)
//
// Each case runs in a child process per setting, in paired rounds (order alternating); the
// median ns per call / per claim is printed with the ratio. `--quick`: fewer calls and rounds.

import { execFileSync } from 'node:child_process'
import { machine, median } from './js/common.mjs'

const quick = process.argv.includes('--quick')
const ROUNDS = quick ? 1 : 5
const CALLS = quick ? 200_000 : 2_000_000
const CLAIMS = quick ? 100_000 : 1_000_000
const SIZES = [1, 2, 4, 6, 8, 16, 64]

const CHILD = `
const { Disruptor } = require(process.argv[1])
const [calls, claims] = [Number(process.argv[2]), Number(process.argv[3])]
const sizes = JSON.parse(process.argv[4])
const time = (f, n) => {
  for (let i = 0; i < 10; i++) f(Math.max(1, n / 50))
  const t = []
  for (let r = 0; r < 3; r++) {
    const t0 = process.hrtime.bigint()
    f(n)
    t.push(Number(process.hrtime.bigint() - t0) / n)
  }
  return t.sort((a, b) => a - b)[1]
}
const out = {}
const d = new Disruptor({ size: 65536, slotSize: 8, producer: 'multi' })
const native = d.native
const fast = native.fastCalls()
let x = 0
out['isHalted() method'] = time((n) => { for (let i = 0; i < n; i++) x += native.isHalted() ? 1 : 0 }, calls)
out['isHalted() fast'] = time((n) => { for (let i = 0; i < n; i++) x += fast.isHalted() ? 1 : 0 }, calls)
out['gatingMinimum() fast'] = time((n) => { for (let i = 0; i < n; i++) x += fast.gatingMinimum() }, calls)
d.close()
for (const b of sizes) {
  const r = new Disruptor({ size: 65536, slotSize: 8, producer: 'multi' })
  let last = -1
  const f = (n) => { for (let i = 0; i < n; i++) { last = r.next(b); r.publish(last - b + 1, last) } }
  out['next(' + b + ')+publish()'] = time(f, claims)
  if (r.cursor !== last) throw new Error('cursor ' + r.cursor + ', last claim ' + last)
  r.close()
}
console.log(JSON.stringify(out))
`

const dist = new URL('../dist/index.js', import.meta.url).pathname
const run = (jsStores) =>
  JSON.parse(
    execFileSync(process.execPath, ['-e', CHILD, dist, `${CALLS}`, `${CLAIMS}`, JSON.stringify(SIZES)], {
      env: { ...process.env, DISRUPTOR_PUBLISH_THROUGH_ENGINE: jsStores ? '0' : '' },
      encoding: 'utf8',
    }),
  )

const rounds = { js: [], engine: [] }
for (let r = 0; r < ROUNDS; r++) {
  const order = r % 2 === 0 ? ['js', 'engine'] : ['engine', 'js']
  for (const k of order) rounds[k].push(run(k === 'js'))
}
const med = (k, name) => median(rounds[k].map((o) => o[name]))

const m = machine()
console.log(
  `native calls: ${m.cpu}, ${m.cores} cores, node ${m.node}, commit ${m.commit.slice(0, 7)}${m.dirty ? '+' : ''}; ${ROUNDS} paired round(s)`,
)
console.log('\n1. one call, ns (median)')
const all = (name) => median([...rounds.js, ...rounds.engine].map((o) => o[name]))
const method = all('isHalted() method')
const fast = all('isHalted() fast')
console.log(
  `  isHalted()       method ${method.toFixed(1).padStart(6)}   fast ${fast.toFixed(1).padStart(5)}   ${(method / fast).toFixed(1)}x`,
)
// gatingMinimum has no method any more (only the fast function): its fast figure alone.
console.log(`  gatingMinimum()  fast ${all('gatingMinimum() fast').toFixed(1).padStart(5)}`)
console.log('\n2. multi producer next(n)+publish(), one thread, ns per claim (median)')
console.log('  n    Atomics.store each   default (engine from the threshold on)   ratio')
for (const b of SIZES) {
  const name = `next(${b})+publish()`
  const js = med('js', name)
  const engine = med('engine', name)
  console.log(
    `  ${String(b).padEnd(4)} ${js.toFixed(1).padStart(10)}           ${engine.toFixed(1).padStart(10)}                        ${(js / engine).toFixed(2)}x`,
  )
}
