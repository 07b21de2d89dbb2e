import test from 'ava'

import { Disruptor, defineEvent } from '../src'
import { deferred, WorkerProbe } from './helpers'

// Variable-length messages: as many consecutive slots as a message needs, never wrapping, read
// in place; exactly once and in order from several producer threads.

const decoder = new TextDecoder()

test('messages of every size up to the maximum arrive whole, in order, read in place (the ring wraps many times)', async (t) => {
  const d = new Disruptor({ size: 16, slotSize: 16 })
  t.is(d.maxMessageBytes, 8 * 16 - 12)
  const sent: string[] = []
  const got: string[] = []
  d.handleMessagesWith((view, _seq, kind) => {
    got.push(`${kind}:${kind === 'text' ? decoder.decode(view) : [...view].join(',')}`)
  })
  d.start()
  for (let i = 0; i <= 400; i++) {
    const length = (i * 37) % (d.maxMessageBytes + 1)
    if (i % 4 === 0) {
      const bytes = Uint8Array.from({ length: Math.min(length, 40) }, (_, k) => (i + k) & 0xff)
      sent.push(`bytes:${[...bytes].join(',')}`)
      await d.writeAsync(bytes)
    } else {
      // Cut by code points (a cut surrogate pair would travel as U+FFFD).
      const text = [...`${i}:${'ü€😀x'.repeat(40)}`].slice(0, Math.floor(length / 4)).join('')
      sent.push(`text:${text}`)
      await d.writeAsync(text)
    }
  }
  await d.drain()
  t.deepEqual(got, sent)
  await d.close()
})

test('too long or not bytes: coded errors, nothing claimed; a ring of typed events has no messages', async (t) => {
  const d = new Disruptor({ size: 8, slotSize: 8 })
  t.is(d.maxMessageBytes, 20)
  t.throws(() => d.write('x'.repeat(21)), { code: 'ERR_OUT_OF_RANGE' })
  t.throws(() => d.write('€'.repeat(7)), { code: 'ERR_OUT_OF_RANGE' }) // 21 bytes of UTF-8
  t.throws(() => d.write(new Uint8Array(21)), { code: 'ERR_OUT_OF_RANGE' })
  for (const bad of [42, null, undefined, {}, [1, 2]])
    t.throws(() => d.write(bad as never), { code: 'ERR_INVALID_ARG_TYPE' })
  await t.throwsAsync(d.writeAsync(7 as never), { code: 'ERR_INVALID_ARG_TYPE' })
  t.throws(() => d.handleMessagesWith({ onBatch() {} } as never), { code: 'ERR_INVALID_ARG_TYPE' })
  t.throws(() => d.handleMessagesWith({ onMessage() {}, maxBatchSize: 2 } as never), { code: 'ERR_INVALID_ARG_VALUE' })
  t.is(d.cursor, -1)
  t.is(d.stats().claims, 0)
  t.is(d.write(''), 0) // an empty message takes one frame
  t.is(d.write('x'.repeat(20)), 2)
  await d.close()
  const typed = new Disruptor({ size: 8, event: defineEvent({ a: 'u8' }) })
  t.throws(() => typed.write('x'), { code: 'ERR_DISRUPTOR_HAS_EVENT_LAYOUT' })
  t.throws(() => typed.handleMessagesWith(() => {}), { code: 'ERR_DISRUPTOR_HAS_EVENT_LAYOUT' })
  await typed.close()
})

test('tryWrite: -1 when there is no room, nothing written', async (t) => {
  const d = new Disruptor({ size: 8, slotSize: 8 })
  const p = d.poller()
  t.is(d.tryWrite('x'.repeat(20)), 0) // 4 slots
  t.is(d.tryWrite('y'.repeat(20)), 4)
  t.is(d.tryWrite('z'), -1)
  t.is(d.cursor, 7)
  p.poll(() => {})
  t.is(d.tryWrite('z'), 8)
  p.poll(() => {})
  await d.close()
})

test('an async message handler holds its view until it settles; messages stay in order', async (t) => {
  const d = new Disruptor({ size: 16, slotSize: 16 })
  const gate = deferred()
  const got: string[] = []
  d.handleMessagesWith(async (view) => {
    const text = decoder.decode(view)
    if (text === 'first') await gate.promise
    got.push(`${text}=${decoder.decode(view)}`) // the view still holds it
  })
  d.start()
  d.write('first')
  d.write('second')
  await new Promise((resolve) => setTimeout(resolve, 10))
  t.deepEqual(got, [])
  gate.resolve()
  await d.drain()
  t.deepEqual(got, ['first=first', 'second=second'])
  await d.close()
})

test('three producer threads: every message exactly once, in order per producer; a worker pool gets each once', async (t) => {
  const N = 3000
  const d = new Disruptor({ size: 256, slotSize: 32, producer: 'multi' })
  const next = [0, 0, 0]
  const errors: string[] = []
  d.handleMessagesWith((view) => {
    const text = decoder.decode(view)
    const m = /^p(\d):(\d+):(é*)$/.exec(text)
    if (m === null) return void errors.push(`bad message ${text}`)
    const [p, i] = [Number(m[1]), Number(m[2])]
    if (i !== next[p] || m[3].length !== i % 97) errors.push(`producer ${p}: ${i}, expected ${next[p]}`)
    next[p] = i + 1
  })
  const pooled = new Map<string, number>()
  const worker = {
    onMessage: (view: Uint8Array) => {
      const key = decoder.decode(view).split(':').slice(0, 2).join(':')
      pooled.set(key, (pooled.get(key) ?? 0) + 1)
    },
  }
  d.handleMessagesWithWorkerPool({ ...worker, name: 'a' }, { ...worker, name: 'b' })
  d.start()
  const producers = [0, 1, 2].map(
    (producer) => new WorkerProbe('message-producer.js', { handle: d.share(), producer, count: N }),
  )
  try {
    await Promise.all(producers.map((w) => w.type('done', 60_000)))
    await d.drain()
    t.deepEqual(errors.slice(0, 5), [])
    t.deepEqual(next, [N, N, N])
    t.is(pooled.size, 3 * N)
    t.true([...pooled.values()].every((n) => n === 1))
  } finally {
    await Promise.all(producers.map((w) => w.worker.terminate()))
    await d.close()
  }
})
