// The soak test (scripts/soak.mjs) in its short form, in a child process as `npm run soak`
// runs it: 4 producer threads, a multi-producer ring, consumers on the main thread, in a
// worker and polled, a diamond; every event checked everywhere, RSS and CPU sampled. It must
// end by itself with exit code 0 and "soak ok" after a JSON summary. A second run with an
// injected fault shows that the checks are not vacuous.
import { spawnSync } from 'node:child_process'
import { join } from 'node:path'

import test from 'ava'

const soak = join(__dirname, '..', 'scripts', 'soak.mjs')

interface Summary {
  events: number
  rate: number
  seconds: number
  perProducer: number[]
  kills: number
  abandoned: number
  paths: Record<string, number>
  consumers: { name: string; events: number }[]
  diamondEarly: number
  rssMiB: { start: number; afterWarmup: number; end: number; max: number; limit: number }
  cpuPercent: number
  violationCount: number
  violations: string[]
}

function runSoak(args: string[]) {
  const run = spawnSync(process.execPath, [soak, ...args], {
    encoding: 'utf8',
    timeout: 90_000,
    killSignal: 'SIGKILL',
  })
  const lines = run.stdout.trim().split('\n')
  const output = `exit ${run.status}, signal ${run.signal}\n${run.stdout}${run.stderr}`
  return { run, lines, output }
}

function parseSummary(line: string | undefined): Summary {
  return JSON.parse(line ?? 'null') as Summary
}

test.serial('a 3 s soak sees every event exactly once, in order and intact, everywhere, and exits 0', (t) => {
  const { run, lines, output } = runSoak(['--seconds', '3'])
  t.is(run.signal, null, `killed (hung?): ${output}`)
  t.is(run.status, 0, output)
  t.is(run.stderr, '', output)
  t.is(lines.at(-1), 'soak ok', output)

  const s = parseSummary(lines.at(-2))
  t.is(s.violationCount, 0, output)
  t.deepEqual(s.violations, [])
  t.true(s.events > 0, output)
  t.is(s.perProducer.length, 4)
  t.is(
    s.perProducer.reduce((a, b) => a + b, 0),
    s.events,
  )
  t.deepEqual(s.consumers.map((c) => c.name).sort(), [
    'diamond',
    'main-batched',
    'main-callback',
    'poller',
    'worker-callback',
  ])
  for (const c of s.consumers) t.is(c.events, s.events, c.name)
  t.is(s.diamondEarly, 0)
  for (const [path, n] of Object.entries(s.paths)) t.true(n > 0, `publishing path ${path} unused`)
  t.is(Object.keys(s.paths).length, 6)
  t.true(s.rate > 0)
  t.true(s.rssMiB.end <= s.rssMiB.limit, output)
  t.true(s.cpuPercent > 0)
  // one progress line per second
  t.true(lines.filter((l) => /^\[\s*\d+ s\] /.test(l)).length >= 2, output)
})

test.serial(
  'a 4 s soak with a producer killed and replaced every 0.5 s: every event published is seen once everywhere, nothing abandoned is',
  (t) => {
    const { run, lines, output } = runSoak(['--seconds', '4', '--kill-every', '0.5'])
    t.is(run.signal, null, `killed (hung?): ${output}`)
    t.is(run.status, 0, output)
    t.is(lines.at(-1), 'soak ok', output)
    const s = parseSummary(lines.at(-2))
    t.deepEqual(s.violations, [])
    t.true(s.kills >= 3, output)
    t.true(s.events > 0, output)
    for (const c of s.consumers) t.is(c.events, s.events, c.name)
  },
)

test.serial('an injected fault (a bad checksum, a skipped counter) fails the soak', (t) => {
  const { run, lines, output } = runSoak(['--seconds', '1', '--inject-fault'])
  t.is(run.signal, null, `killed (hung?): ${output}`)
  t.is(run.status, 1, output)
  t.regex(lines.at(-1) ?? '', /^soak FAILED: \d+ violations$/, output)
  const s = parseSummary(lines.at(-2))
  t.true(s.violationCount > 0)
  for (const consumer of ['main-callback', 'main-batched', 'diamond', 'poller', 'worker-callback']) {
    t.true(
      s.violations.some((v) => v.startsWith(`${consumer}: `) && v.includes('producer 0 counter 1000: checksum')),
      `${consumer} missed the bad checksum`,
    )
    t.true(
      s.violations.some((v) => v.startsWith(`${consumer}: `) && v.includes('producer 0 counter 2001, expected 2000')),
      `${consumer} missed the skipped counter`,
    )
  }
})
