// Every program in examples/ runs in its short form (--quick), as a newcomer would run it
// after `npm install napi-disruptor` (the package name resolves to this checkout), and ends
// with "ok" after checking its own results.
import { spawnSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

import test from 'ava'

const root = join(__dirname, '..')
const modules = join(mkdtempSync(join(tmpdir(), 'napi-disruptor-examples-')), 'node_modules')
mkdirSync(modules)
symlinkSync(root, join(modules, 'napi-disruptor'), 'dir')
test.after.always(() => rmSync(join(modules, '..'), { recursive: true, force: true }))

const examples = readdirSync(join(root, 'examples')).filter((f) => f.endsWith('.js'))

test('there are at least three examples', (t) => {
  t.true(examples.length >= 3, examples.join(', '))
})

for (const example of examples) {
  test(`examples/${example} --quick checks its results and prints ok`, (t) => {
    const run = spawnSync(process.execPath, [join(root, 'examples', example), '--quick'], {
      encoding: 'utf8',
      timeout: 60_000,
      killSignal: 'SIGKILL',
      env: { ...process.env, NODE_PATH: modules },
    })
    t.is(run.signal, null, `killed by ${run.signal}: ${run.stdout}${run.stderr}`)
    t.is(run.status, 0, run.stdout + run.stderr)
    t.is(run.stderr, '')
    t.is(run.stdout.trim().split('\n').pop(), 'ok', run.stdout)
  })
}
