// The JetStream sink (issue 20): events/s into a stream through a ring and `toJetStream`, against
// a plain `@nats-io/jetstream` publish loop of the same batches, on a local nats-server -js.
//
//   ring:  main thread publishes N 16-byte events -> [ring] -> toJetStream (batches of <= 256,
//          every publish awaited, message ids) ; timed until every event is acknowledged
//   plain: for each batch of 256: Promise.all of js.publish(subject, payload, { msgID })
//
// Both use one connection, a fresh stream per run, the same payloads and message ids, paired
// rounds (order alternating). Needs nats-server (README "Quick start for contributors").
// `--quick`: fewer events and rounds.

import { spawn, spawnSync } from 'node:child_process'
import fs from 'node:fs'
import { createRequire } from 'node:module'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { machine, median } from './js/common.mjs'

const quick = process.argv.includes('--quick')
const ROUNDS = quick ? 1 : 5
const N = quick ? 2048 : 40_960
const BATCH = 256
const require = createRequire(import.meta.url)
const { Disruptor } = require('../dist/index.js')
const { toJetStream } = require('../dist/nats/index.js')
const { connect } = require('@nats-io/transport-node')
const { jetstream, jetstreamManager } = require('@nats-io/jetstream')

const binary = [process.env.NATS_SERVER, 'nats-server', '/usr/sbin/nats-server'].find(
  (b) => b !== undefined && spawnSync(b, ['--version']).status === 0,
)
if (binary === undefined) throw new Error('nats-server not found (apt-get install nats-server, or NATS_SERVER)')
const port = await new Promise((resolve) => {
  const s = net.createServer().listen(0, '127.0.0.1', () => {
    const p = s.address().port
    s.close(() => resolve(p))
  })
})
const store = fs.mkdtempSync(path.join(os.tmpdir(), 'nats-bench-'))
const server = spawn(binary, ['-js', '-a', '127.0.0.1', '-p', String(port), '-sd', store], { stdio: 'ignore' })
const nc = await (async () => {
  for (let i = 0; ; i++) {
    try {
      return await connect({ servers: `nats://127.0.0.1:${port}`, maxReconnectAttempts: -1 })
    } catch (e) {
      if (i > 100) throw e
      await new Promise((r) => setTimeout(r, 100))
    }
  }
})()
const js = jetstream(nc)
const jsm = await jetstreamManager(nc)
let streams = 0
const freshStream = async () => {
  const name = `BENCH${++streams}`
  await jsm.streams.add({ name, subjects: [`${name}.e`] })
  return { name, subject: `${name}.e` }
}

async function ringRun() {
  const { name, subject } = await freshStream()
  const d = new Disruptor({ size: 4096, slotSize: 16 })
  const f64 = new Float64Array(d.buffer)
  const sink = toJetStream(d, { js, subject, maxBatchSize: BATCH })
  d.handleEventsWith(sink)
  d.start()
  const t0 = process.hrtime.bigint()
  for (let i = 0; i < N; i++) {
    const s = await d.nextAsync()
    f64[d.offset(s) / 8] = i
    d.publish(s)
  }
  await d.close()
  const ns = Number(process.hrtime.bigint() - t0)
  const stored = (await jsm.streams.info(name)).state.messages
  if (stored !== N || sink.stats.published !== N) throw new Error(`ring: ${stored} stored of ${N}`)
  return ns
}

async function plainRun() {
  const { name, subject } = await freshStream()
  const payload = new Float64Array(2)
  const id = `plain-${streams}`
  const t0 = process.hrtime.bigint()
  for (let lo = 0; lo < N; lo += BATCH) {
    const acks = []
    for (let i = lo; i < lo + BATCH; i++) {
      payload[0] = i
      acks.push(js.publish(subject, new Uint8Array(payload.buffer), { msgID: `${id}:${i}` }))
    }
    await Promise.all(acks)
  }
  const ns = Number(process.hrtime.bigint() - t0)
  const stored = (await jsm.streams.info(name)).state.messages
  if (stored !== N) throw new Error(`plain: ${stored} stored of ${N}`)
  return ns
}

const times = { ring: [], plain: [] }
const ratios = []
try {
  await ringRun() // warm-up (JIT, connection, the server's first stream)
  for (let r = 0; r < ROUNDS; r++) {
    const order = r % 2 === 0 ? ['ring', 'plain'] : ['plain', 'ring']
    for (const k of order) times[k].push(await (k === 'ring' ? ringRun() : plainRun()))
    ratios.push(times.plain[r] / times.ring[r])
  }
} finally {
  await nc.close()
  server.kill('SIGTERM')
  await new Promise((r) => server.once('exit', r))
  fs.rmSync(store, { recursive: true, force: true })
}
const m = machine()
const rate = (k) => (N / median(times[k])) * 1e9
console.log(
  `JetStream sink: ${m.cpu}, ${m.cores} cores, node ${m.node}, commit ${m.commit.slice(0, 7)}${m.dirty ? '+' : ''}; ` +
    `${N} events of 16 bytes, batches of ${BATCH}, ${ROUNDS} paired round(s), nats-server on 127.0.0.1`,
)
console.log(
  `ring + toJetStream ${(rate('ring') / 1e3).toFixed(0)} k events/s, plain publish loop ${(rate('plain') / 1e3).toFixed(0)} k: ` +
    `ratio ${median(ratios).toFixed(2)} (${ratios.map((x) => x.toFixed(2)).join(' ')})`,
)
