// The package's entry points: the ES module wrapper exports exactly what the CommonJS build does,
// and every file package.json "exports" names is built and listed in "files" (so it ships).
// scripts/pack-test.sh (CI) installs the packed tarballs in a temporary project and uses them.
import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import test from 'ava'

const root = path.join(__dirname, '..')
const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'))

for (const [esmFile, cjsFile, name] of [
  ['./index.mjs', './dist/index.js', 'Disruptor'],
  ['./journal.mjs', './dist/journal/index.js', 'journal'],
  ['./nats.mjs', './dist/nats/index.js', 'toJetStream'],
]) {
  test(`${esmFile} exports the same names as ${cjsFile}, bound to the same objects`, (t) => {
    // A plain node child: the built package, as a user loads it.
    const script = `
      import { createRequire } from 'node:module'
      import * as esm from '${esmFile}'
      const cjs = createRequire(import.meta.url)('${cjsFile}')
      const named = Object.keys(esm).filter((k) => k !== 'default').sort()
      const same = named.filter((k) => esm[k] === cjs[k])
      console.log(JSON.stringify({ named, cjs: Object.keys(cjs).sort(), same, def: esm.default === cjs }))
    `
    const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], { cwd: root, encoding: 'utf8' })
    const r = JSON.parse(out)
    t.true(r.cjs.includes(name))
    t.deepEqual(r.named, r.cjs)
    t.deepEqual(r.same, r.cjs)
    t.true(r.def)
  })
}

test('every file package.json "exports" names exists and ships in "files"', (t) => {
  const targets: string[] = []
  const walk = (v: unknown) => {
    if (typeof v === 'string') targets.push(v)
    else if (v !== null && typeof v === 'object') for (const x of Object.values(v)) walk(x)
  }
  walk(pkg.exports)
  t.true(targets.length >= 5)
  for (const target of targets) {
    const file = target.replace(/^\.\//, '')
    t.true(fs.existsSync(path.join(root, file)), `${target} exists`)
    // "files" lists files and folders: a folder ships everything under it.
    const ships = pkg.files.some((f: string) => file === f || file.startsWith(`${f}/`))
    if (file !== 'package.json') t.true(ships, `${target} is in "files"`)
  }
  t.is(pkg.exports['.'].import.types, './index.d.mts')
  t.is(pkg.exports['.'].require.types, './dist/index.d.ts')
  t.is(pkg.exports['./journal'].require.default, './dist/journal/index.js')
})
