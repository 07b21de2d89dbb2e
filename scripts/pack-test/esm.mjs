// ES module user of the installed package (run by scripts/pack-test.sh in a temporary project).
import assert from 'node:assert/strict'
import { createRequire } from 'node:module'
import { Worker } from 'node:worker_threads'
import napiDisruptor, { Disruptor, engineVersion } from 'napi-disruptor'

const require = createRequire(import.meta.url)
// `import` and `require` share one instance: one class, one loaded addon.
assert.equal(require('napi-disruptor').Disruptor, Disruptor)
assert.equal(napiDisruptor.Disruptor, Disruptor)
assert.ok(import.meta.resolve('napi-disruptor').endsWith('/node_modules/napi-disruptor/index.mjs'))

// A worker thread producer (itself an ES module) and a consumer on this thread: multi producer.
const d = new Disruptor({ size: 1024, slotSize: 8, producer: 'multi' })
const f64 = new Float64Array(d.buffer)
const N = 20_000
let sum = 0
let count = 0
d.handleEventsWith((lo, hi) => {
  for (let s = lo; s <= hi; s++) {
    sum += f64[d.offset(s) / 8]
    count++
  }
})
d.start()
const w = new Worker(new URL('./esm-producer.mjs', import.meta.url), {
  workerData: { handle: d.share(), n: N },
})
const code = await new Promise((resolve, reject) => {
  w.once('exit', resolve)
  w.once('error', reject)
})
assert.equal(code, 0)
await d.close()
assert.equal(count, N)
assert.equal(sum, (N * (N + 1)) / 2)
// The subpath modules as ES modules: the same objects as their CommonJS builds.
const journalModule = await import('napi-disruptor/journal')
const natsModule = await import('napi-disruptor/nats')
assert.equal(typeof journalModule.journal, 'function')
assert.equal(typeof journalModule.replay, 'function')
assert.equal(typeof natsModule.toJetStream, 'function')
console.log(`esm ok: ${count} events from a worker, engine ${engineVersion()}`)
