// CommonJS user of the installed package (run by scripts/pack-test.sh in a temporary project).
'use strict'
const assert = require('node:assert/strict')
const path = require('node:path')
const { Disruptor, engineVersion } = require('napi-disruptor')

const pkg = require('napi-disruptor/package.json')
assert.equal(engineVersion(), pkg.version, 'the loaded binary is this package version')
// Resolved from this project's node_modules, not from a source tree.
assert.ok(require.resolve('napi-disruptor').startsWith(path.join(__dirname, 'node_modules')))

async function main() {
  const d = new Disruptor({ size: 256, slotSize: 8, producer: 'single' })
  const f64 = new Float64Array(d.buffer)
  let sum = 0
  let count = 0
  d.handleEventsWith((lo, hi) => {
    for (let s = lo; s <= hi; s++) {
      sum += f64[d.offset(s) / 8]
      count++
    }
  })
  d.start()
  // This thread also runs the consumer, so it waits for room with nextAsync (next() would throw
  // ERR_DISRUPTOR_WOULD_DEADLOCK on a full ring).
  for (let i = 1; i <= 10_000; i++) {
    const seq = await d.nextAsync()
    f64[d.offset(seq) / 8] = i
    d.publish(seq)
  }
  await d.close()
  assert.equal(count, 10_000)
  assert.equal(sum, (10_000 * 10_001) / 2)

  // The subpath modules: a journal round trip; the NATS module loads without its peer clients.
  const { journal, replay } = require('napi-disruptor/journal')
  const { toJetStream } = require('napi-disruptor/nats')
  assert.equal(typeof toJetStream, 'function')
  const dir = require('node:fs').mkdtempSync(path.join(require('node:os').tmpdir(), 'pack-journal-'))
  const r = new Disruptor({ size: 16, slotSize: 8 })
  const rf = new Float64Array(r.buffer)
  r.handleEventsWith(journal(r, { dir }))
  r.start()
  for (let i = 0; i < 40; i++) {
    const seq = await r.nextAsync()
    rf[r.offset(seq) / 8] = i
    r.publish(seq)
  }
  await r.close()
  let replayed = 0
  for await (const rec of replay({ dir })) assert.equal(rec.data.readDoubleLE(0), replayed++)
  assert.equal(replayed, 40)
  console.log(`cjs ok: ${count} events, a journal of ${replayed}, engine ${engineVersion()}`)
}

main().catch((e) => {
  console.error(e)
  process.exit(1)
})
