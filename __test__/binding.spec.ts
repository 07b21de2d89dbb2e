import { readFileSync } from 'node:fs'
import { join } from 'node:path'

import test from 'ava'

import { engineVersion } from '../src'

const pkg = JSON.parse(readFileSync(join(__dirname, '..', 'package.json'), 'utf8')) as {
  version: string
}

test('the native engine loads and its version matches package.json', (t) => {
  t.is(engineVersion(), pkg.version)
})
