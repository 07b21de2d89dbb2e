// ES module entry point of `napi-disruptor/nats` (package.json "exports"): the CommonJS build of
// src/nats/ (dist/nats/index.js), loaded once, as index.mjs does for the main entry.
// __test__/package.spec.ts checks that this list matches dist/nats/index.js's exports.
import { createRequire } from 'node:module'

const require = createRequire(import.meta.url)
const cjs = require('./dist/nats/index.js')

export const { JetStreamSink, JetStreamSource, fromJetStream, toJetStream } = cjs
export default cjs
