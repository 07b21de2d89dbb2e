// Every example of README.md's "Using it from Node.js" section runs as a program, with
// `napi-disruptor` resolved to this checkout, and prints what the README says it prints.
import { spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

import test from 'ava'

import { NatsServer } from './nats-server'

const root = join(__dirname, '..')
const readme = readFileSync(join(root, 'README.md'), 'utf8')
const section = readme.slice(
  readme.indexOf('## Using it from Node.js'),
  readme.indexOf('## Quick start for contributors'),
)
const examples = [...section.matchAll(/```js\n([\s\S]*?)```\n(?:<!-- output: (.*?) -->)?/g)].map((m) => ({
  code: m[1],
  output: m[2],
}))

test('the README has runnable examples, each with its output', (t) => {
  t.true(examples.length >= 7, `found ${examples.length}`)
  for (const e of examples) t.not(e.output, undefined, `example without an output comment:\n${e.code}`)
})

const dir = mkdtempSync(join(tmpdir(), 'napi-disruptor-readme-'))
// The NATS example needs a server: a real one, started for these tests (NATS_URL in its env).
let nats: NatsServer | null = null
test.before(async () => {
  if (examples.some((e) => e.code.includes('NATS_URL'))) nats = await NatsServer.start()
})
test.after.always(async () => {
  rmSync(dir, { recursive: true, force: true })
  await nats?.dispose()
})

examples.forEach((example, i) => {
  const title = example.code.split('\n').find((l) => l.includes('new Disruptor')) ?? ''
  test(`README example ${i + 1} prints what the README says (${title.trim()})`, (t) => {
    const file = join(dir, `example-${i + 1}.js`)
    const code = example.code
      .replaceAll("require('napi-disruptor')", `require(${JSON.stringify(join(root, 'dist', 'index.js'))})`)
      .replaceAll(
        /require\('napi-disruptor\/(journal|nats)'\)/g,
        (_, sub) => `require(${JSON.stringify(join(root, 'dist', sub, 'index.js'))})`,
      )
      .replaceAll(/require\('(@nats-io\/[a-z-]+)'\)/g, (_, pkg) => `require(${JSON.stringify(require.resolve(pkg))})`)
    writeFileSync(file, code)
    const env = nats === null ? process.env : { ...process.env, NATS_URL: nats.url }
    const run = spawnSync(process.execPath, [file], { encoding: 'utf8', timeout: 30_000, killSignal: 'SIGKILL', env })
    t.is(run.signal, null, `killed by ${run.signal}: ${run.stderr}`)
    t.is(run.status, 0, run.stderr)
    t.is(run.stderr, '')
    t.deepEqual(run.stdout.trim().split('\n'), (example.output ?? '').split('|'))
  })
})
