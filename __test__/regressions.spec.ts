// Regressions found by review, each shown failing before its fix.
import { spawnSync } from 'node:child_process'
import { join } from 'node:path'
import { Worker } from 'node:worker_threads'

import test from 'ava'

import { Disruptor } from '../src'

const fixture = (name: string) => join(__dirname, 'fixtures', name)

test('multi producer + async worker pool + publishes from two threads: nothing stalls (a waker waiting for a lapped sequence hung)', async (t) => {
  const total = 60_000
  const d = new Disruptor({ size: 64, slotSize: 16, producer: 'multi' })
  const seen = new Uint8Array(total + 1000)
  let count = 0
  let dup = 0
  const work = async (lo: number, hi: number) => {
    if ((lo & 7) === 0) await new Promise((r) => setImmediate(r))
    for (let s = lo; s <= hi; s++) {
      if (seen[s]) dup++
      seen[s] = 1
      count++
    }
  }
  d.handleEventsWithWorkerPool(work, work)
  d.start()
  const w = new Worker(fixture('mp-producer.js'), {
    workerData: { handle: d.share(), producer: 1, count: total, mode: 'batch' },
  })
  // The main thread publishes too (its local delivery path races with the wakers).
  let mine = 0
  const local = setInterval(() => {
    const s = d.tryNext()
    if (s >= 0) {
      d.publish(s)
      mine++
    }
  }, 1)
  await new Promise((resolve, reject) => {
    w.once('exit', resolve)
    w.once('error', reject)
  })
  clearInterval(local)
  const deadline = Date.now() + 20_000
  while (count < total + mine && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5))
  t.is(count, total + mine, `stalled at ${count} of ${total + mine}`)
  t.is(dup, 0)
  if (count === total + mine) await d.close()
  else d.halt() // a stalled consumer would never drain
})

test('single producer: claims never run more than a ring past the published cursor, so a consumer joining later never reads overwritten slots', async (t) => {
  const d = new Disruptor({ size: 4, slotSize: 8, producer: 'single' })
  const f64 = new Float64Array(d.buffer)
  const write = (hi: number, n: number) => {
    for (let s = hi - n + 1; s <= hi; s++) f64[d.offset(s) / 8] = s
  }
  write(d.next(2), 2)
  write(d.next(2), 2) // four claimed, none published: a full ring of this thread's own claims
  t.is(d.tryNext(2), -1)
  const e = t.throws(() => d.next(2)) as Error & { code: string }
  t.is(e.code, 'ERR_DISRUPTOR_WOULD_DEADLOCK')
  const p = d.poller({ name: 'late' }) // joins at the published cursor, -1
  d.publish(0, 3)
  const read: number[] = []
  t.is(
    p.poll((lo, hi) => {
      for (let s = lo; s <= hi; s++) read.push(f64[d.offset(s) / 8])
    }),
    'processing',
  )
  t.deepEqual(read, [0, 1, 2, 3])
  await d.close()
})

test('a consumer name with a NUL character does not abort the process', async (t) => {
  const d = new Disruptor({ size: 8, slotSize: 8 })
  let got = 0
  d.handleEventsWith({ name: 'a\0b', onBatch: (lo, hi) => void (got += hi - lo + 1) })
  d.start()
  d.publish(d.next())
  await d.drain()
  t.is(got, 1)
  t.is(d.stats().consumers[0].name, 'a\0b')
  await d.close()
})

test('a worker that dies between claim and publish on a multi-producer ring does not stop the ring; its claim is skipped, counted and reported', async (t) => {
  const d = new Disruptor({ size: 8, slotSize: 8, producer: 'multi' })
  const seen: number[] = []
  const reported: Array<[number, number]> = []
  d.on('abandoned', (lo: number, hi: number) => reported.push([lo, hi]))
  d.handleEventsWith((lo, hi) => {
    for (let s = lo; s <= hi; s++) seen.push(s)
  })
  d.start()
  const w = new Worker(fixture('die-mid-claim.js'), { workerData: d.share() })
  const exited = new Promise((r) => w.once('exit', r))
  const error = await new Promise<Error>((resolve) => w.once('error', resolve))
  t.regex(error.message, /died between claim and publish of 1/)
  await exited
  for (let i = 0; i < 20; i++) d.publish(await d.nextAsync())
  await d.drain({ timeout: 5_000 })
  t.deepEqual(
    seen,
    [0, ...Array.from({ length: 20 }, (_, i) => i + 2)],
    'its published event and the 20 published after; never its abandoned claim (1)',
  )
  const stats = d.stats()
  t.is(stats.abandonedEvents, 1)
  t.is(stats.consumers[0].skipped, 1)
  t.is(stats.consumers[0].events, 21)
  t.deepEqual(reported, [[1, 1]])
  await d.close()
})

for (const producer of ['single', 'multi'] as const) {
  test(`${producer} producer: after another thread halts the ring, claims and publishes through shared memory throw ERR_DISRUPTOR_CLOSED`, async (t) => {
    const d = new Disruptor({ size: 64, slotSize: 8, producer })
    const w = new Worker(fixture('halt-elsewhere.js'), { workerData: d.share() })
    await new Promise((r) => w.once('message', r))
    d.halt()
    w.postMessage('halted')
    const codes = await new Promise((r) => w.once('message', r))
    t.deepEqual(codes, Array(5).fill('ERR_DISRUPTOR_CLOSED'))
    await w.terminate()
    // Its claim from before the halt stays unpublished: its thread's exit does not publish it
    // into the closed ring as abandoned.
    t.is(d.stats().abandonedEvents, 0)
  })
}

// How a thread uses each ring before closing it. Each use makes the thread cache views of the
// ring's memory (external ArrayBuffers that hold the native ring alive) that close must drop.
const RING_USES: Record<string, string> = {
  produce: 'new Float64Array(d.buffer).fill(1); d.publish(d.next())',
  'consume only': 'd.handleEventsWith(() => {}); d.start()',
  'poller only': 'd.poller()',
  'batches only': 'd.batches()',
  'poller, then halt': 'd.poller(); d.halt()',
}

for (const [use, code] of Object.entries(RING_USES)) {
  test(`closed rings are freed once collected: their memory and ids are reused (${use}; a cleanup hook, then a consume-only thread's cached views, kept every ring alive)`, (t) => {
    const script = `
    const { Disruptor } = require(${JSON.stringify(join(__dirname, '..', 'dist', 'index.js'))})
    ;(async () => {
      const rss0 = process.memoryUsage().rss
      for (let i = 0; i < 40; i++) {
        const d = new Disruptor({ size: 2 ** 20, slotSize: 8, producer: i % 2 ? 'single' : 'multi' }) // 8 MiB of slots (+ 4 MiB of flags)
        ${code}
        await d.close()
        global.gc()
        await new Promise((r) => setTimeout(r, 5))
      }
      for (let i = 0; i < 10; i++) {
        global.gc()
        await new Promise((r) => setTimeout(r, 10))
      }
      const next = new Disruptor({ size: 8, slotSize: 8 }).share().id
      console.log(JSON.stringify({ next, grewMiB: (process.memoryUsage().rss - rss0) / 2 ** 20 }))
    })()`
    const run = spawnSync(process.execPath, ['--expose-gc', '-e', script], { encoding: 'utf8', timeout: 60_000 })
    t.is(run.status, 0, run.stderr)
    const { next, grewMiB } = JSON.parse(run.stdout) as { next: number; grewMiB: number }
    t.true(next < 10, `ring ids are reused once rings are gone (next id ${next})`)
    // 40 leaked rings would be 400 MiB.
    t.true(grewMiB < 120, `RSS grew ${grewMiB.toFixed(0)} MiB over 40 open/close cycles`)
  })
}

test('a multi-producer ring too big for the memory limit is a coded error, not an abort', (t) => {
  const script = `
    const { Disruptor } = require(${JSON.stringify(join(__dirname, '..', 'dist', 'index.js'))})
    try { new Disruptor({ size: 2 ** 28, slotSize: 8, producer: 'multi' }); console.log('created') }
    catch (e) { console.log(e.code) }`
  // 3.5 GB of address space: enough for node, not for 2 GiB of slots plus 1 GiB of flags.
  const run = spawnSync('bash', ['-c', `ulimit -v 3600000; exec "${process.execPath}" -e "$0"`, script], {
    encoding: 'utf8',
    timeout: 60_000,
  })
  t.is(run.signal, null, run.stderr)
  t.is(run.status, 0, run.stderr)
  t.is(run.stdout.trim(), 'ERR_DISRUPTOR_OUT_OF_MEMORY')
})

test('two instances of a multi-producer ring on one thread: a claim made through the second is its own (abandoned when it closes, never handed out twice)', async (t) => {
  const d = new Disruptor({ size: 8, slotSize: 8, producer: 'multi' })
  const seen: number[] = []
  const p = d.poller()
  const drain = () =>
    p.poll((lo, hi) => {
      for (let s = lo; s <= hi; s++) seen.push(s)
    })
  const first = d.next()
  d.publish(first, first)
  const other = Disruptor.attach(d.share())
  t.is(other.next(), 1) // claimed, never published
  drain()
  await other.close()
  const s = d.next()
  d.publish(s, s)
  drain()
  t.deepEqual(seen, [0, 2], 'the second instance claim was abandoned when it closed')
  // Both instances claim in turn: distinct, consecutive sequences, each published by its claimer.
  const again = Disruptor.attach(d.share())
  const claims: number[] = []
  for (let i = 0; i < 3; i++) {
    const a = d.next()
    const b = again.next()
    claims.push(a, b)
    again.publish(b, b)
    d.publish(a, a)
    drain()
  }
  t.deepEqual(claims, [3, 4, 5, 6, 7, 8])
  t.deepEqual(seen, [0, 2, 3, 4, 5, 6, 7, 8])
  await again.close()
  d.halt()
})

test('two instances of a multi-producer ring on one thread, past 2**31 - 1: each claim once', async (t) => {
  const size = 2 ** 20
  const d = new Disruptor({ size, slotSize: 8, producer: 'multi' })
  for (let i = 0; i < 2 ** 31 / size; i++) {
    const hi = d.next(size)
    d.publish(hi - size + 1, hi)
  }
  const other = Disruptor.attach(d.share())
  const a = other.next()
  const b = other.next()
  const c = d.next()
  t.deepEqual([a, b, c], [2 ** 31, 2 ** 31 + 1, 2 ** 31 + 2])
  other.publish(a, a)
  other.publish(b, b)
  d.publish(c, c)
  t.is(d.cursor, 2 ** 31 + 2)
  await other.close()
  d.halt()
})

test('a callback consumer of the second instance on a thread is woken (its waker armed for itself)', async (t) => {
  const d = new Disruptor({ size: 8, slotSize: 8, producer: 'multi' })
  // The first instance's views and fast functions come first.
  const first = d.next()
  d.publish(first, first)
  const other = Disruptor.attach(d.share())
  const got: number[] = []
  let done: () => void = () => {}
  const all = new Promise<void>((r) => {
    done = r
  })
  other.handleEventsWith((lo, hi) => {
    for (let s = lo; s <= hi; s++) got.push(s)
    if (got.length === 3) done()
  })
  other.start()
  // A wake-up does not keep the process alive (README, threading model): this timer does.
  const alive = setInterval(() => {}, 1000)
  // Published later, from a timer: the consumer found nothing first and armed its waker.
  for (let i = 0; i < 3; i++) {
    await new Promise((r) => setTimeout(r, 20))
    const s = d.next()
    d.publish(s, s)
  }
  await all
  clearInterval(alive)
  t.deepEqual(got, [1, 2, 3], 'from where it joined on')
  await other.close()
  d.halt()
})

for (const producer of ['single', 'multi'] as const) {
  test(`${producer} producer: a claim that only a consumer of this thread's other instance of the ring could make room for is ERR_DISRUPTOR_WOULD_DEADLOCK, not a wait`, async (t) => {
    const d = new Disruptor({ size: 4, slotSize: 8, producer })
    const other = Disruptor.attach(d.share())
    const p = other.poller()
    for (let i = 0; i < 4; i++) {
      const s = d.next()
      d.publish(s, s)
    }
    // The ring is full; only `p`, polled by this very thread, can make room. (A timeout, so
    // that a regression fails with ERR_DISRUPTOR_TIMEOUT instead of hanging.)
    t.throws(() => d.next(1, { timeout: 2000 }), { code: 'ERR_DISRUPTOR_WOULD_DEADLOCK' })
    const seen: number[] = []
    p.poll((lo, hi) => {
      for (let s = lo; s <= hi; s++) seen.push(s)
    })
    t.deepEqual(seen, [0, 1, 2, 3])
    const s = d.next()
    d.publish(s, s)
    t.is(d.cursor, 4)
    p.poll((lo, hi) => {
      for (let q = lo; q <= hi; q++) seen.push(q)
    })
    t.deepEqual(seen, [0, 1, 2, 3, 4])
    await other.close()
    d.halt()
  })
}

test("a handler of this thread's other instance that republishes into a full ring through this one: the progress of both instances counts (one ERR_DISRUPTOR_WOULD_DEADLOCK, as with one instance)", async (t) => {
  const d = new Disruptor({ size: 64, slotSize: 8, producer: 'multi' })
  const other = Disruptor.attach(d.share())
  const dv = new Float64Array(d.buffer)
  const ov = new Float64Array(other.buffer)
  const got: number[] = []
  const errors: string[] = []
  let done: () => void = () => {}
  const all = new Promise<void>((r) => {
    done = r
  })
  other.handleEventsWith({
    maxBatchSize: 1,
    onBatch(lo, hi) {
      for (let s = lo; s <= hi; s++) {
        const v = ov[s & 63]
        got.push(v)
        if (v < 64) {
          try {
            const q = d.next(1, { timeout: 200 })
            dv[q & 63] = v + 100
            d.publish(q, q)
          } catch (e) {
            errors.push((e as { code: string }).code)
          }
        }
        if (got.length === 127) done()
      }
    },
  })
  other.start()
  for (let i = 0; i < 64; i++) {
    const s = d.next()
    dv[s & 63] = i
    d.publish(s, s)
  }
  // Bounded: before the fix eight claims timed out (200 ms each) and 120 events came.
  const alive = setInterval(() => {}, 1000)
  await Promise.race([all, new Promise((r) => setTimeout(r, 5000))])
  clearInterval(alive)
  t.deepEqual(errors, ['ERR_DISRUPTOR_WOULD_DEADLOCK'])
  t.is(got.length, 127)
  t.is(got.filter((v) => v >= 100).length, 63)
  await other.close()
  d.halt()
})

test("drain() and close() with callback consumers of this thread's other instance never started: ERR_DISRUPTOR_NOT_STARTED at once", async (t) => {
  const d = new Disruptor({ size: 8, slotSize: 8, producer: 'multi' })
  const other = Disruptor.attach(d.share())
  other.handleEventsWith(() => {}) // never started
  const s = d.next()
  d.publish(s, s)
  await t.throwsAsync(d.drain({ timeout: 3000 }), { code: 'ERR_DISRUPTOR_NOT_STARTED' })
  await t.throwsAsync(d.close(), { code: 'ERR_DISRUPTOR_NOT_STARTED' })
})

test("messages in 8-byte slots: padding that starts in the ring's last slot is skipped, not delivered as an empty message (its header's kind word fell past the buffer's end)", async (t) => {
  const d = new Disruptor({ size: 16, slotSize: 8 })
  const got: [number, string, number][] = []
  d.handleMessagesWith((view, seq, kind) => {
    got.push([seq, kind, view.length])
  })
  d.start()
  const five = 'é'.repeat(14) // 28 bytes and a 12-byte header: 5 slots
  for (let i = 0; i < 3; i++) {
    d.write(five) // slots 0-4, 5-9, 10-14
    await d.drain()
  }
  // 6 slots claimed from 15 would wrap: 15-20 become padding, the message goes to 21.
  t.is(d.write('é'.repeat(18)), 21)
  await d.drain()
  t.deepEqual(got, [
    [0, 'text', 28],
    [5, 'text', 28],
    [10, 'text', 28],
    [21, 'text', 36],
  ])
  await d.close()
})
