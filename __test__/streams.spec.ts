import { Readable, Transform, Writable } from 'node:stream'
import { pipeline } from 'node:stream/promises'

import test from 'ava'

import { Disruptor, defineEvent } from '../src'
import { waitFor } from './helpers'

// Node streams over a ring: pipeline and async iteration end to end, back-pressure through the
// ring, errors and teardown.

const Trade = defineEvent({ price: 'f64', qty: 'u32', symbol: { utf8: 8 } })

test('pipeline(source, d.writable()) and pipeline(d.readable(), transform, sink): every event once, in order; the readable ends with the ring', async (t) => {
  const N = 20_000
  const d = new Disruptor({ size: 64, event: Trade })
  const out: { price: number; qty: number; symbol: string }[] = []
  const reading = pipeline(
    d.readable({ highWaterMark: 16 }),
    new Transform({
      objectMode: true,
      transform(e, _enc, cb) {
        cb(null, { ...e, price: e.price * 2 })
      },
    }),
    new Writable({
      objectMode: true,
      write(e, _enc, cb) {
        out.push(e)
        cb()
      },
    }),
  )
  const source = Readable.from(
    (function* () {
      for (let i = 0; i < N; i++) yield { price: i, qty: i, symbol: `S${i % 10}` }
    })(),
  )
  await pipeline(source, d.writable())
  await d.close()
  await reading
  t.is(out.length, N)
  t.true(out.every((e, i) => e.price === 2 * i && e.qty === i && e.symbol === `S${i % 10}`))
})

test('back-pressure: an unread readable holds the ring, and the writable stops taking chunks', async (t) => {
  const d = new Disruptor({ size: 16, event: Trade })
  const readable = d.readable({ highWaterMark: 4 })
  readable.pause()
  const w = d.writable({ highWaterMark: 8 })
  let accepted = 0
  let refusedAt = -1
  for (let i = 0; i < 200; i++) {
    if (!w.write({ price: i, qty: i, symbol: 'x' })) {
      refusedAt = i
      break
    }
    accepted++
  }
  t.true(refusedAt >= 0, 'write() returned false')
  await new Promise((resolve) => setTimeout(resolve, 50))
  // Published: at most the ring plus the readable's buffer (a batch of at most its highWaterMark).
  t.true(d.cursor + 1 <= 16 + 4 + 4, `cursor ${d.cursor}`)
  t.true(accepted <= 16 + 8 + 8, `accepted ${accepted}`)
  const got: number[] = []
  readable.on('data', (e) => got.push(e.qty))
  readable.resume()
  w.end()
  await new Promise((resolve) => w.on('finish', resolve))
  await d.close()
  await waitFor(() => readable.readableEnded, 'the readable ended')
  t.deepEqual(
    got,
    Array.from({ length: refusedAt + 1 }, (_, i) => i),
  )
})

test('async iteration of a readable; messages as Buffers through a writable of strings and Buffers', async (t) => {
  const d = new Disruptor({ size: 32, slotSize: 16 })
  const iterate = (async () => {
    const got: string[] = []
    for await (const chunk of d.readable({ objectMode: true })) got.push(String(chunk))
    return got
  })()
  const w = d.writable()
  for (let i = 0; i < 300; i++) w.write(i % 2 ? `text ${i}` : Buffer.from(`buffer ${i}`))
  w.end()
  await new Promise((resolve) => w.on('finish', resolve))
  await d.close()
  const got = await iterate
  t.is(got.length, 300)
  t.deepEqual(got.slice(0, 3), ['buffer 0', 'text 1', 'buffer 2'])
})

test('a bad chunk errors the writable, nothing published; destroying a readable removes its consumer', async (t) => {
  const d = new Disruptor({ size: 8, event: Trade })
  const r = d.readable({ name: 'reader' })
  t.deepEqual(
    d.stats().consumers.map((c) => c.name),
    ['reader'],
  )
  const w = d.writable()
  const failed = new Promise<NodeJS.ErrnoException>((resolve) => w.on('error', resolve))
  w.write({ qty: -1 })
  t.is((await failed).code, 'ERR_OUT_OF_RANGE')
  t.is(d.cursor, -1)
  r.destroy()
  await waitFor(() => d.stats().consumers.length === 0, 'the readable consumer removed')
  t.throws(() => d.readable({ highWaterMark: 0 }), { code: 'ERR_INVALID_ARG_VALUE' })
  t.throws(() => d.writable({ highWaterMark: 'x' as never }), { code: 'ERR_INVALID_ARG_TYPE' })
  await d.close()
})
