// ES module entry point of `napi-disruptor/journal` (package.json "exports"): the CommonJS build
// of src/journal/ (dist/journal/index.js), loaded once, as index.mjs does for the main entry.
// __test__/package.spec.ts checks that this list matches dist/journal/index.js's exports.
import { createRequire } from 'node:module'

const require = createRequire(import.meta.url)
const cjs = require('./dist/journal/index.js')

export const { Journal, journal, Replay, replay } = cjs
export default cjs
