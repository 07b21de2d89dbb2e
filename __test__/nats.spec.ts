// The JetStream sink (napi-disruptor/nats) against a real nats-server with JetStream, started,
// stopped and restarted by the tests (no mocks).
import { spawn } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'

import { AckPolicy, type JetStreamClient, jetstream, jetstreamManager } from '@nats-io/jetstream'
import { connect, type NatsConnection } from '@nats-io/transport-node'
import test from 'ava'

import { Disruptor, type RingSource, type SinkStage } from '../src'
import { journal, replay } from '../src/journal'
import { fromJetStream, toJetStream } from '../src/nats'
import { NatsServer } from './nats-server'

test.serial.before(async (t) => {
  const server = await NatsServer.start()
  ;(t.context as { server: NatsServer }).server = server
})
test.serial.after.always(async (t) => {
  await (t.context as { server?: NatsServer }).server?.dispose()
})
const serverOf = (t: { context: unknown }) => (t.context as { server: NatsServer }).server

/** A Promise and the function that resolves it. */
function deferred(): [Promise<void>, () => void] {
  let resolve: () => void = () => {}
  const promise = new Promise<void>((r) => {
    resolve = r
  })
  return [promise, resolve]
}

let streams = 0
/** A connection that reconnects for ever, its JetStream client, and a new stream of its own. */
async function setup(server: NatsServer) {
  const nc = await connect({ servers: server.url, maxReconnectAttempts: -1, reconnectTimeWait: 50 })
  const js = jetstream(nc)
  const name = `RING${++streams}`
  await (await jetstreamManager(nc)).streams.add({ name, subjects: [`${name}.events`] })
  return { nc, js, name, subject: `${name}.events` }
}

/** Every message of stream `name`, in stream order: its message id and the two f64 of its payload. */
async function storedMessages(nc: NatsConnection, js: JetStreamClient, name: string) {
  const jsm = await jetstreamManager(nc)
  const count = (await jsm.streams.info(name)).state.messages
  const out: { id: string; value: number; check: number }[] = []
  if (count === 0) return out
  const consumer = await js.consumers.get(name)
  const messages = await consumer.consume()
  for await (const m of messages) {
    const view = new DataView(m.data.buffer, m.data.byteOffset, m.data.byteLength)
    out.push({
      id: m.headers?.get('Nats-Msg-Id') ?? '',
      value: view.getFloat64(0, true),
      check: view.getFloat64(8, true),
    })
    if (out.length === count) break
  }
  await messages.close()
  return out
}

/** Publishes values 0 .. count - 1 (and a check, 3x) into a 16-byte-slot ring; `each` runs after every event. */
async function produce(d: Disruptor, count: number, each?: (i: number) => Promise<void> | void) {
  const f64 = new Float64Array(d.buffer)
  for (let i = 0; i < count; i++) {
    const s = await d.nextAsync()
    f64[d.offset(s) / 8] = i
    f64[d.offset(s) / 8 + 1] = i * 3
    d.publish(s)
    await each?.(i)
  }
}

test.serial('every event lands in the stream once, in order, before the stages after the sink see it', async (t) => {
  const { nc, js, name, subject } = await setup(serverOf(t))
  const d = new Disruptor({ size: 256, slotSize: 16 })
  const sink = toJetStream(d, { js, subject })
  let early = 0
  let seen = 0
  d.handleEventsWith(sink).andThen((lo, hi) => {
    if (sink.stats.published < hi + 1) early++
    if (lo !== seen) early++
    seen = hi + 1
  })
  d.start()
  await produce(d, 3000)
  await d.close()
  t.is(seen, 3000)
  t.is(early, 0)
  t.deepEqual(sink.stats, { published: 3000, duplicates: 0, retries: 0 })
  const stored = await storedMessages(nc, js, name)
  t.is(stored.length, 3000)
  t.true(stored.every((m, i) => m.id === `${sink.id}:${i}` && m.value === i && m.check === i * 3))
  await nc.close()
})

test.serial(
  'the server stopped and restarted mid-stream (store kept): every event once in the stream, none lost or repeated in the ring',
  async (t) => {
    const server = serverOf(t)
    const { nc, js, name, subject } = await setup(server)
    const d = new Disruptor({ size: 256, slotSize: 16 })
    const retries: number[] = []
    const sink = toJetStream(d, {
      js,
      subject,
      timeoutMs: 500,
      retry: { attempts: 200, delayMs: 20 },
      onRetry: (_e, attempt) => retries.push(attempt),
    })
    const downstream: number[] = []
    d.handleEventsWith(sink).andThen((lo, hi) => {
      for (let s = lo; s <= hi; s++) downstream.push(s)
    })
    d.start()
    const N = 8000
    await produce(d, N, async (i) => {
      if (i === 2500) {
        await server.stop()
        setTimeout(() => void server.restart(), 400)
      }
    })
    await d.close({ timeout: 60_000 })
    t.true(retries.length > 0, 'the sink retried while the server was away')
    t.deepEqual(
      downstream,
      Array.from({ length: N }, (_, i) => i),
    )
    t.is(sink.stats.published + sink.stats.duplicates, N)
    const stored = await storedMessages(nc, js, name)
    const ids = new Set(stored.map((m) => m.id))
    t.is(stored.length, N, 'stored once each')
    t.is(ids.size, N)
    for (let i = 0; i < N; i++) if (!ids.has(`${sink.id}:${i}`)) t.fail(`event ${i} is not in the stream`)
    t.true(stored.every((m) => m.check === m.value * 3 && m.id === `${sink.id}:${m.value}`))
    await nc.close()
  },
)

test.serial('retries are bounded and reported: with the server gone, the stage halts with a coded error', async (t) => {
  const server = serverOf(t)
  const { nc, js, subject } = await setup(server)
  const d = new Disruptor({ size: 16, slotSize: 16 })
  const attempts: number[] = []
  const sink = toJetStream(d, {
    js,
    subject,
    timeoutMs: 200,
    retry: { attempts: 3, delayMs: 10 },
    onRetry: (_e, attempt) => attempts.push(attempt),
  })
  const errors: { code?: string }[] = []
  d.on('error', (e) => errors.push(e))
  d.handleEventsWith(sink)
  d.start()
  await server.stop()
  try {
    await produce(d, 4)
    await t.throwsAsync(d.drain({ timeout: 30_000 }), { code: 'ERR_DISRUPTOR_CONSUMER_HALTED' })
    t.deepEqual(attempts, [1, 2])
    t.is(errors[0]?.code, 'ERR_DISRUPTOR_NATS_PUBLISH')
  } finally {
    d.halt()
    await server.restart()
    await nc.close()
  }
})

test.serial('bad options get coded errors', async (t) => {
  const { nc, js, subject } = await setup(serverOf(t))
  const d = new Disruptor({ size: 16, slotSize: 16 })
  t.throws(() => toJetStream(d, { js: {} as never, subject }), { code: 'ERR_INVALID_ARG_TYPE' })
  t.throws(() => toJetStream(d, { js, subject: '' }), { code: 'ERR_INVALID_ARG_TYPE' })
  t.throws(() => toJetStream(d, { js, subject, id: '' }), { code: 'ERR_INVALID_ARG_TYPE' })
  t.throws(() => toJetStream(d, { js, subject, timeoutMs: 0 }), { code: 'ERR_INVALID_ARG_VALUE' })
  t.throws(() => toJetStream(d, { js, subject, retry: { attempts: 0 } }), { code: 'ERR_INVALID_ARG_VALUE' })
  t.throws(() => toJetStream(d, { js, subject, onRetry: 5 as never }), { code: 'ERR_INVALID_ARG_TYPE' })
  d.halt()
  await nc.close()
})

/** Messages value 0 .. count - 1 (16 bytes: value, value * 3) in stream `name`, and a durable consumer. */
async function filled(nc: NatsConnection, js: JetStreamClient, name: string, subject: string, count: number) {
  const f64 = new Float64Array(2)
  const pubs: Promise<unknown>[] = []
  for (let i = 0; i < count; i++) {
    f64[0] = i
    f64[1] = i * 3
    pubs.push(js.publish(subject, new Uint8Array(f64.buffer.slice(0))))
  }
  await Promise.all(pubs)
  const jsm = await jetstreamManager(nc)
  // Redelivery after 1 s without an acknowledgement (the default is 30 s).
  await jsm.consumers.add(name, { durable_name: 'feed', ack_policy: AckPolicy.Explicit, ack_wait: 1_000_000_000 })
  return jsm
}

test.serial(
  'fromJetStream: every message reaches the ring in stream order and is acknowledged only after the last stage',
  async (t) => {
    const { nc, js, name, subject } = await setup(serverOf(t))
    const N = 2000
    const jsm = await filled(nc, js, name, subject, N)
    const d = new Disruptor({ size: 64, slotSize: 16 })
    const f64 = new Float64Array(d.buffer)
    const source = fromJetStream(d, { consumer: await js.consumers.get(name, 'feed'), batch: 50 })
    const seen: number[] = []
    let early = 0
    const [all, done] = deferred()
    d.handleEventsWith((lo, hi) => {
      // Not acknowledged before the stage after this one ran: at most what it has seen.
      if (source.stats.acknowledged > seen.length) early++
      for (let s = lo; s <= hi; s++) seen.push(f64[d.offset(s) / 8])
    })
      .andThen(source.acknowledge)
      .andThen(() => {
        if (source.stats.acknowledged === N) done()
      })
    d.start()
    const running = source.start()
    await all
    await source.stop()
    await running
    await d.close()
    t.is(early, 0)
    t.deepEqual(
      seen,
      Array.from({ length: N }, (_, i) => i),
    )
    t.deepEqual(source.stats, { received: N, acknowledged: N, redelivered: 0, terminated: 0 })
    const info = await jsm.consumers.info(name, 'feed')
    t.is(info.num_ack_pending, 0)
    t.is(info.num_pending, 0)
    await nc.close()
  },
)

test.serial(
  'fromJetStream: the feeding process killed and restarted: every message processed at least once, an acknowledged one never again',
  async (t) => {
    const server = serverOf(t)
    const { nc, js, name, subject } = await setup(server)
    const N = 1500
    await filled(nc, js, name, subject, N)
    const fixture = path.join(__dirname, 'fixtures', 'jetstream-feeder.js')
    /** Runs the feeder until `enough(processed)`, then kills it (SIGKILL); what it printed. */
    const feed = async (enough: (processed: Set<number>) => boolean) => {
      const child = spawn(process.execPath, [fixture, server.url, name, 'feed'], {
        stdio: ['ignore', 'pipe', 'inherit'],
      })
      const processed = new Set<number>()
      const acked = new Set<number>()
      let repeats = 0
      let rest = ''
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`feeder stalled at ${processed.size}`)), 60_000)
        child.once('exit', (code) => reject(new Error(`feeder exited with ${code}`)))
        child.stdout.on('data', (chunk: Buffer) => {
          const lines = (rest + chunk.toString()).split('\n')
          rest = lines.pop() as string
          for (const line of lines) {
            const [tag, v] = line.split(' ')
            if (tag === 'p') {
              if (processed.has(Number(v))) repeats++
              processed.add(Number(v))
            } else if (tag === 'a') acked.add(Number(v))
          }
          if (enough(processed)) {
            clearTimeout(timer)
            resolve()
          }
        })
      })
      child.removeAllListeners('exit')
      const exited = new Promise((r) => child.once('exit', r))
      child.kill('SIGKILL')
      await exited
      return { processed, acked, repeats }
    }
    const first = await feed((p) => p.size >= 400)
    t.true(first.acked.size > 0 && first.acked.size < N)
    const second = await feed((p) => {
      for (let i = 0; i < N; i++) if (!p.has(i) && !first.processed.has(i)) return false
      return true
    })
    for (let i = 0; i < N; i++) {
      if (!first.processed.has(i) && !second.processed.has(i)) t.fail(`message ${i} was never processed`)
    }
    const again = [...first.acked].filter((v) => second.processed.has(v))
    t.deepEqual(again, [], 'acknowledged in the first run, delivered again in the second')
    t.log(
      `first run: ${first.processed.size} processed, ${first.acked.size} acknowledged; second: ${second.processed.size}`,
    )
    await nc.close()
  },
)

test.serial(
  'fromJetStream: a message larger than a slot stops the source with a coded error and is not acknowledged',
  async (t) => {
    const { nc, js, name, subject } = await setup(serverOf(t))
    await js.publish(subject, new Uint8Array(64))
    const jsm = await jetstreamManager(nc)
    // Redelivered 1 s after the source that stopped on it let it go (the default is 30 s).
    await jsm.consumers.add(name, { durable_name: 'feed', ack_policy: AckPolicy.Explicit, ack_wait: 1_000_000_000 })
    const d = new Disruptor({ size: 16, slotSize: 16 })
    const source = fromJetStream(d, { consumer: await js.consumers.get(name, 'feed') })
    d.handleEventsWith(source.acknowledge)
    d.start()
    await t.throwsAsync(source.start(), { code: 'ERR_INVALID_ARG_VALUE' })
    t.is(source.stats.acknowledged, 0)
    t.is((await jsm.consumers.info(name, 'feed')).num_ack_pending, 1)
    // onOversize as a function: handed over, then terminated (never delivered again); the source
    // goes on with the message after it.
    await js.publish(subject, new Uint8Array(16).fill(7))
    const seen: number[] = []
    const ring = new Disruptor({ size: 16, slotSize: 16 })
    const terminated = fromJetStream(ring, {
      consumer: await js.consumers.get(name, 'feed'),
      onOversize: (m) => seen.push(m.data.length),
    })
    ring.handleEventsWith(() => {}).andThen(terminated.acknowledge)
    ring.start()
    const feeding = terminated.start()
    while (terminated.stats.terminated + terminated.stats.acknowledged < 2) await new Promise((r) => setTimeout(r, 20))
    await terminated.stop()
    await feeding
    t.deepEqual(seen, [64], 'the oversize one, handed over and terminated')
    t.is(terminated.stats.terminated, 1)
    t.is(terminated.stats.acknowledged, 1, 'the one after it went on')
    await ring.close()
    // term() is not confirmed by the server: its count of pending acknowledgements follows soon.
    let info = await jsm.consumers.info(name, 'feed')
    for (let i = 0; i < 100 && info.num_ack_pending > 0; i++) {
      await new Promise((r) => setTimeout(r, 50))
      info = await jsm.consumers.info(name, 'feed')
    }
    t.is(info.num_ack_pending, 0)
    t.is(info.num_pending, 0)
    t.throws(() => fromJetStream(d, { consumer: {} as never }), { code: 'ERR_INVALID_ARG_TYPE' })
    const consumer = await js.consumers.get(name, 'feed')
    t.throws(() => fromJetStream(d, { consumer, batch: 0 }), { code: 'ERR_INVALID_ARG_VALUE' })
    t.throws(() => fromJetStream(d, { consumer, onOversize: 'drop' as never }), { code: 'ERR_INVALID_ARG_VALUE' })
    await d.close()
    await nc.close()
  },
)

test.serial(
  'the journal and the JetStream bridge are interchangeable: one pipeline with either sink, one consumer fed by either source',
  async (t) => {
    const { nc, js, name, subject } = await setup(serverOf(t))
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'swap-'))
    const N = 300
    const values = Array.from({ length: N }, (_, i) => i)

    /** The same pipeline, whatever the sink: sink -> a stage that reads the values. */
    const pipeline = async (sinkOf: (d: Disruptor) => SinkStage) => {
      const d = new Disruptor({ size: 64, slotSize: 16 })
      const f64 = new Float64Array(d.buffer)
      const seen: number[] = []
      d.handleEventsWith(sinkOf(d)).andThen((lo, hi) => {
        for (let s = lo; s <= hi; s++) seen.push(f64[d.offset(s) / 8])
      })
      d.start()
      await produce(d, N)
      await d.close()
      return seen
    }
    t.deepEqual(await pipeline((d) => journal(d, { dir })), values)
    t.deepEqual(await pipeline((d) => toJetStream(d, { js, subject })), values)

    /** The same consumer, whatever the source. */
    const consume = async (sourceOf: (d: Disruptor) => RingSource) => {
      const d = new Disruptor({ size: 64, slotSize: 16 })
      const f64 = new Float64Array(d.buffer)
      const source = sourceOf(d)
      const seen: number[] = []
      const [all, done] = deferred()
      const group = d.handleEventsWith((lo, hi) => {
        for (let s = lo; s <= hi; s++) seen.push(f64[d.offset(s) / 8])
        if (seen.length === N) done()
      })
      if (source.acknowledge !== null) group.andThen(source.acknowledge)
      d.start()
      const running = source.start()
      await all
      await source.stop()
      await running
      await d.close()
      return seen
    }
    t.deepEqual(await consume((d) => replay({ dir }).source(d)), values)
    await (await jetstreamManager(nc)).consumers.add(name, { durable_name: 'swap', ack_policy: AckPolicy.Explicit })
    const consumer = await js.consumers.get(name, 'swap')
    t.deepEqual(await consume((d) => fromJetStream(d, { consumer })), values)
    await nc.close()
  },
)

test.serial(
  'messages both ways: one NATS message per ring message (any length), and back into a ring as messages',
  async (t) => {
    const { nc, js, name, subject } = await setup(serverOf(t))
    const sent: Buffer[] = []
    for (let i = 0; i < 200; i++)
      sent.push(Buffer.from(i % 2 === 0 ? `text ${i} ${'€'.repeat(i % 40)}` : 'b'.repeat(1 + i * 3)))
    // Out: a ring of 16-byte slots, messages of up to 600 bytes (many slots each).
    const d = new Disruptor({ size: 256, slotSize: 16 })
    const sink = toJetStream(d, { js, subject, messages: true })
    d.handleEventsWith(sink)
    d.start()
    for (const [i, m] of sent.entries()) await d.writeAsync(i % 2 === 0 ? m.toString('utf8') : m)
    await d.close()
    t.deepEqual(sink.stats, { published: 200, duplicates: 0, retries: 0 })

    // Back: the stream's messages into another ring as messages, acknowledged after the handler.
    await (await jetstreamManager(nc)).consumers.add(name, { durable_name: 'msgs', ack_policy: AckPolicy.Explicit })
    const target = new Disruptor({ size: 128, slotSize: 32 })
    const source = fromJetStream(target, { consumer: await js.consumers.get(name, 'msgs'), messages: true })
    const got: Buffer[] = []
    const [all, done] = deferred()
    target
      .handleMessagesWith((view) => {
        got.push(Buffer.from(view))
      })
      .andThen(source.acknowledge)
      .andThen(() => {
        if (source.stats.acknowledged === 200) done()
      })
    target.start()
    const running = source.start()
    await all
    await source.stop()
    await running
    await target.close()
    t.deepEqual(got, sent)
    t.is((await (await jetstreamManager(nc)).consumers.info(name, 'msgs')).num_ack_pending, 0)
    t.throws(() => toJetStream({ buffer: d.buffer, slotSize: 16, offset: () => 0 }, { js, subject, messages: true }), {
      code: 'ERR_INVALID_ARG_TYPE',
    })
    await nc.close()
  },
)

test.serial(
  'fromJetStream: stop() ends a source on a quiet stream, and one waiting for room on a full ring',
  async (t) => {
    const { nc, js, name, subject } = await setup(serverOf(t))
    const jsm = await jetstreamManager(nc)
    await jsm.consumers.add(name, { durable_name: 'quiet', ack_policy: AckPolicy.Explicit })
    const d = new Disruptor({ size: 4, slotSize: 16 })
    const quiet = fromJetStream(d, { consumer: await js.consumers.get(name, 'quiet') })
    d.handleEventsWith(quiet.acknowledge)
    d.start()
    const running = quiet.start()
    await quiet.stop() // at once: the consumer may not even be set up yet
    await running
    t.is(quiet.stats.received, 0)
    await d.close()

    // A full ring (its only consumer never finishes a batch) and more messages than slots.
    for (let i = 0; i < 10; i++) await js.publish(subject, new Uint8Array(16))
    await jsm.consumers.add(name, { durable_name: 'full', ack_policy: AckPolicy.Explicit })
    const ring = new Disruptor({ size: 4, slotSize: 16 })
    const full = fromJetStream(ring, { consumer: await js.consumers.get(name, 'full') })
    let release: () => void = () => {}
    ring
      .handleEventsWith(
        () =>
          new Promise<void>((r) => {
            release = r
          }),
      )
      .andThen(full.acknowledge)
    ring.start()
    const feeding = full.start()
    while (full.stats.received < 4) await new Promise((r) => setTimeout(r, 10))
    await full.stop()
    await feeding
    t.is(full.stats.received, 4, 'the fifth waited for room and was given up: not received, not acknowledged')
    release()
    ring.halt()
    await nc.close()
  },
)
