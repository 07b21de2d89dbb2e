// Every example of README.md's "Using it from Node.js" section runs as a program, with
// `napi-disruptor` resolved to this checkout, and prints what the README says it prints.
import { spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

import test from 'ava'

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
test.after.always(() => rmSync(dir, { recursive: true, force: true }))

examples.forEach((example, i) => {
  const title = example.code.split('\n').find((l) => l.includes('new Disruptor')) ?? ''
  test(`README example ${i + 1} prints what the README says (${title.trim()})`, (t) => {
    const file = join(dir, `example-${i + 1}.js`)
    const code = example.code
      .replaceAll("require('napi-disruptor')", `require(${JSON.stringify(join(root, 'dist', 'index.js'))})`)
      .replaceAll(
        "require('napi-disruptor/journal')",
        `require(${JSON.stringify(join(root, 'dist', 'journal', 'index.js'))})`,
      )
    writeFileSync(file, code)
    const run = spawnSync(process.execPath, [file], { encoding: 'utf8', timeout: 30_000, killSignal: 'SIGKILL' })
    t.is(run.signal, null, `killed by ${run.signal}: ${run.stderr}`)
    t.is(run.status, 0, run.stderr)
    t.is(run.stderr, '')
    t.deepEqual(run.stdout.trim().split('\n'), (example.output ?? '').split('|'))
  })
})
