import { type SpawnSyncReturns, spawnSync } from 'node:child_process'
import { join } from 'node:path'
import type { ExecutionContext } from 'ava'
import test from 'ava'

import { Disruptor, type DisruptorError } from '../src'
import { ask, claim, sleep, WorkerProbe } from './helpers'

// Child processes and workers run plain-JS fixtures, which load the compiled API (dist/index.js).
const fixture = (name: string) => join(__dirname, 'fixtures', name)

/** Runs a fixture script in a fresh Node process; a hang ends in SIGKILL after `timeout` ms. */
function runChild(script: string, args: string[] = [], timeout = 30_000): SpawnSyncReturns<string> {
  return spawnSync(process.execPath, [fixture(script), ...args], {
    timeout,
    killSignal: 'SIGKILL',
    encoding: 'utf8',
    maxBuffer: 1 << 20,
  })
}

/** Asserts how the child ended; returns the JSON it printed last. */
function ended(t: ExecutionContext, r: SpawnSyncReturns<string>, status: number): any {
  const hung = (r.error as NodeJS.ErrnoException | undefined)?.code === 'ETIMEDOUT'
  const report = `status ${r.status}, signal ${r.signal}${hung ? ' (hung: killed at the timeout)' : ''}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`
  t.false(hung, report)
  t.is(r.signal, null, report)
  t.is(r.status, status, report)
  const lines = (r.stdout ?? '').trim().split('\n').filter(Boolean)
  try {
    return JSON.parse(lines[lines.length - 1] ?? 'null')
  } catch {
    t.fail(`no JSON on stdout: ${report}`)
    return null
  }
}

/** Messages a worker posted, and a way to wait for one of a given type. */

function code(f: () => unknown): string | undefined {
  try {
    f()
  } catch (e) {
    return (e as DisruptorError).code
  }
  return undefined
}

// --- whole processes -------------------------------------------------------------------------

test.serial('a process that publishes to consumers and awaits close() exits by itself with code 0', (t) => {
  const out = ended(t, runChild('child-close.js'), 0)
  t.deepEqual(out, { N: 5000, seen: [5000, 5000], errors: [], cursor: 4999 })
})

for (const mode of ['drained', 'pending', 'not-started', 'worker'] as const) {
  test.serial(`a process that never calls close() exits with code 0 when its main script ends (${mode})`, (t) => {
    const out = ended(t, runChild('child-no-close.js', [mode]), 0)
    t.is(out.mode, mode)
    t.is(out.cursor, 39)
    if (mode === 'drained' || mode === 'worker') t.is(out.seen, 40)
  })
}

for (const mode of ['streaming', 'blocked'] as const) {
  test.serial(
    `process.exit(3) with a worker producing on a full ring (${mode}) exits with code 3, no signal, no hang`,
    (t) => {
      const out = ended(t, runChild('child-exit-mid-stream.js', [mode], 15_000), 3)
      t.is(out?.mode, mode)
    },
  )
}

for (const how of ['natural', 'exit', 'throw'] as const) {
  test.serial(
    `a worker that attaches a consumer and leaves without closing (${how}) while the main thread keeps producing: the process finishes with code 0`,
    (t) => {
      const out = ended(t, runChild('child-worker-leaves.js', [how]), 0)
      t.is(out.seen, out.N)
      t.deepEqual(out.errors, [])
      t.is(out.workerExit, how === 'throw' ? 1 : 0)
      t.is(out.workerError, how === 'throw' ? 'worker leaves by an uncaught exception' : null)
      t.true(out.leaving.count >= 2000)
      t.deepEqual(out.leaving.errors, [])
    },
  )
}

for (const mode of ['main', 'worker'] as const) {
  test.serial(
    `an idle ring with a blocking wait strategy and armed consumers (${mode}) keeps the process's CPU low`,
    (t) => {
      const out = ended(t, runChild('child-idle-cpu.js', [mode]), 0)
      t.is(out.seen, 100)
      t.is(out.iterated, 100)
      t.true(out.wallMs >= 450)
      // A generous bound: this checks that nothing spins, it is not a speed test.
      t.true(out.cpuMs < 0.25 * out.wallMs, `${out.cpuMs} ms of CPU in ${out.wallMs} ms`)
    },
  )
}

// --- in this process -------------------------------------------------------------------------

for (const stop of ['close', 'halt'] as const) {
  test.serial(
    `${stop}() releases a producer blocked on a full ring in a worker thread with ERR_DISRUPTOR_CLOSED`,
    async (t) => {
      const d = new Disruptor({ size: 16, slotSize: 8 })
      // A poller never polled: it gates, so the ring stays full.
      d.poller({ name: 'stuck' })
      const w = new WorkerProbe('blocked-producer.js', { handle: d.share() })
      try {
        const full = await w.type('full')
        t.is(full.cursor, 15)
        await sleep(100)
        // Still blocked in d.next().
        t.deepEqual(
          w.messages.map((m) => m.type),
          ['full'],
        )
        t.is(d.remainingCapacity(), 0)

        if (stop === 'close') {
          // The drain cannot finish (the poller never moves): close rejects at the timeout, and closes anyway.
          const e = await t.throwsAsync(d.close({ timeout: 100 }))
          t.is((e as DisruptorError | undefined)?.code, 'ERR_DISRUPTOR_TIMEOUT')
        } else {
          d.halt()
        }
        const outcome = await w.type('threw')
        t.is(outcome.code, 'ERR_DISRUPTOR_CLOSED')
        t.is(await w.exitWithin(), 0)
        t.is(w.error, null)
        t.is(
          code(() => d.next()),
          'ERR_DISRUPTOR_CLOSED',
        )
      } finally {
        await d.close().catch(() => {})
        await w.worker.terminate()
      }
    },
  )
}

test.serial('drain() resolves only once every consumer, on every thread, has caught up', async (t) => {
  const N = 300
  const d = new Disruptor({ size: 64, slotSize: 8 })
  let fast = 0
  let slow = 0
  d.handleEventsWith(
    { name: 'fast', onBatch: (lo: number, hi: number) => void (fast += hi - lo + 1) },
    {
      name: 'slow-async',
      maxBatchSize: 16,
      async onBatch(lo: number, hi: number) {
        await sleep(1)
        slow += hi - lo + 1
      },
    },
  )
  d.start()
  const counter = new Int32Array(new SharedArrayBuffer(4))
  const w = new WorkerProbe('slow-consumer.js', { handle: d.share(), counter })
  try {
    await w.type('ready')
    // Nothing published yet: drained at once.
    await d.drain({ timeout: 5000 })

    for (let round = 1; round <= 2; round++) {
      for (let i = 0; i < N; i++) d.publish(await claim(d))
      const behind = [fast, slow, Atomics.load(counter, 0)]
      await d.drain({ timeout: 20_000 })
      // Checked synchronously at the resolution: nothing could advance in between.
      t.deepEqual(
        [fast, slow, Atomics.load(counter, 0)],
        [N * round, N * round, N * round],
        `round ${round}, before drain: ${behind}`,
      )
      for (const c of d.stats().consumers) {
        t.is(c.lag, 0, c.name)
        t.is(c.sequence, N * round - 1, c.name)
      }
    }
    t.deepEqual(
      d
        .stats()
        .consumers.map((c) => c.name)
        .sort(),
      ['fast', 'slow-async', 'slow-worker'],
    )

    w.worker.postMessage('leave')
    t.like(await w.type('closed'), { type: 'closed' })
    t.is(await w.exitWithin(), 0)
  } finally {
    await d.close()
    await w.worker.terminate()
  }
})

test.serial(
  'close({ timeout }) on the main thread reports a worker consumer whose handler never returns; terminate() ends that worker',
  async (t) => {
    const d = new Disruptor({ size: 16, slotSize: 8 })
    let seen = 0
    d.handleEventsWith(() => {
      seen++
    })
    d.start()
    const w = new WorkerProbe('stuck-handler.js', { handle: d.share(), mode: 'sync-loop' })
    try {
      await w.type('ready')
      d.publish(d.next())
      t.like(await w.type('stuck'), { lo: 0, hi: 0 })
      const e = (await t.throwsAsync(d.close({ timeout: 100 }))) as DisruptorError
      t.is(e.code, 'ERR_DISRUPTOR_TIMEOUT')
      t.regex(e.message, /stuck-sync-loop/)
      t.is(seen, 1)
      t.is(
        code(() => d.next()),
        'ERR_DISRUPTOR_CLOSED',
      )
      // The stuck thread is JavaScript in a loop: terminate() interrupts it.
      await w.worker.terminate()
      t.is(await w.exitWithin(), 1)
    } finally {
      await w.worker.terminate()
    }
    // This thread goes on working with a new ring.
    const d2 = new Disruptor({ size: 16, slotSize: 8 })
    let sum = 0
    d2.handleEventsWith((lo, hi) => {
      for (let s = lo; s <= hi; s++) sum += s
    })
    d2.start()
    for (let i = 0; i < 10; i++) d2.publish(d2.next())
    await d2.close()
    t.is(sum, 45)
  },
)

test.serial(
  'close({ timeout }) in a worker whose own handler never settles rejects with ERR_DISRUPTOR_TIMEOUT, closes, and the worker exits',
  async (t) => {
    const d = new Disruptor({ size: 16, slotSize: 8 })
    const w = new WorkerProbe('stuck-handler.js', { handle: d.share(), mode: 'never-settles' })
    try {
      await w.type('ready')
      d.publish(d.next())
      d.publish(d.next())
      const closed = await w.type('closed')
      t.like(closed, { code: 'ERR_DISRUPTOR_TIMEOUT', batches: 1, after: 'ERR_DISRUPTOR_CLOSED' })
      t.true(closed.ms >= 90, `closed after ${closed.ms} ms`)
      t.is(await w.exitWithin(), 0)
      t.is(w.error, null)
      // The worker's close detached only its own consumer: this thread's ring goes on.
      t.is(d.tryNext(), 2)
    } finally {
      await w.worker.terminate()
      await d.close({ timeout: 1000 }).catch(() => {})
    }
  },
)

test.serial(
  'close({ timeout }) with a handler whose Promise never settles rejects with ERR_DISRUPTOR_TIMEOUT and still closes',
  async (t) => {
    const d = new Disruptor({ size: 16, slotSize: 8 })
    let batches = 0
    let shutdowns = 0
    d.handleEventsWith({
      name: 'forever',
      onBatch() {
        batches++
        return new Promise(() => {})
      },
      onShutdown() {
        shutdowns++
      },
    })
    d.start()
    d.publish(d.next())
    d.publish(d.next())
    const started = Date.now()
    const closing = d.close({ timeout: 50 })
    // A second call returns the first call's promise.
    t.is(d.close(), closing)
    const e = (await t.throwsAsync(closing)) as DisruptorError
    t.is(e.code, 'ERR_DISRUPTOR_TIMEOUT')
    t.true(Date.now() - started >= 40)
    t.is(batches, 1)
    t.is(shutdowns, 1)

    // Closed for good.
    t.is(
      code(() => d.next()),
      'ERR_DISRUPTOR_CLOSED',
    )
    t.is(
      code(() => d.tryNext()),
      'ERR_DISRUPTOR_CLOSED',
    )
    t.is(
      code(() => d.publish(2)),
      'ERR_DISRUPTOR_CLOSED',
    )
    t.is(
      code(() => d.publishEvent(() => {})),
      'ERR_DISRUPTOR_CLOSED',
    )
    t.is(
      code(() => d.handleEventsWith(() => {})),
      'ERR_DISRUPTOR_CLOSED',
    )
    t.is(
      code(() => d.poller()),
      'ERR_DISRUPTOR_CLOSED',
    )
    t.is(
      code(() => d.share()),
      'ERR_DISRUPTOR_CLOSED',
    )
    t.is(
      code(() => d.start()),
      'ERR_DISRUPTOR_CLOSED',
    )
    t.is(((await t.throwsAsync(d.drain())) as DisruptorError).code, 'ERR_DISRUPTOR_CLOSED')
    t.is(((await t.throwsAsync(d.nextAsync())) as DisruptorError).code, 'ERR_DISRUPTOR_CLOSED')
    t.is(((await t.throwsAsync(d.close())) as DisruptorError).code, 'ERR_DISRUPTOR_TIMEOUT')
    t.notThrows(() => d.halt())
  },
)

test.serial('await using / [Symbol.asyncDispose]() closes the ring after draining it', async (t) => {
  let seen = 0
  let outer: Disruptor | undefined
  {
    await using d = new Disruptor({ size: 16, slotSize: 8 })
    outer = d
    d.handleEventsWith({
      async onBatch(lo: number, hi: number) {
        await sleep(1)
        seen += hi - lo + 1
      },
    })
    d.start()
    for (let i = 0; i < 10; i++) d.publish(d.next())
  }
  t.is(seen, 10)
  t.is(
    code(() => outer?.next()),
    'ERR_DISRUPTOR_CLOSED',
  )

  const d2 = new Disruptor({ size: 16, slotSize: 8 })
  let seen2 = 0
  d2.handleEventsWith((lo: number, hi: number) => void (seen2 += hi - lo + 1))
  d2.start()
  for (let i = 0; i < 5; i++) d2.publish(d2.next())
  const disposing = d2[Symbol.asyncDispose]()
  t.true(disposing instanceof Promise)
  await disposing
  t.is(seen2, 5)
  t.is(
    code(() => d2.next()),
    'ERR_DISRUPTOR_CLOSED',
  )
})

test.serial('stats() reports per consumer name, sequence, lag, batches, events and largest batch', async (t) => {
  const d = new Disruptor({ size: 64, slotSize: 8 })
  try {
    d.handleEventsWith(function all() {}, { name: 'limited', maxBatchSize: 4, onBatch() {} })
    const p = d.poller({ name: 'puller', maxBatchSize: 3 })

    let s = d.stats()
    t.is(s.cursor, -1)
    t.is(s.remainingCapacity, 64)
    t.deepEqual(
      s.consumers.map((c) => [c.name, c.sequence, c.lag, c.batches, c.events, c.largestBatch]),
      [
        ['all', -1, 0, 0, 0, 0],
        ['limited', -1, 0, 0, 0, 0],
        ['puller', -1, 0, 0, 0, 0],
      ],
    )

    // Ten events published before start(): 'all' takes them in one batch, 'limited' in 4 + 4 + 2.
    for (let i = 0; i < 10; i++) d.publish(d.next())
    d.start()
    t.is(
      p.poll(() => {}),
      'processing',
    )
    const deadline = Date.now() + 10_000
    while (d.stats().consumers.some((c) => c.name !== 'puller' && c.sequence < 9) && Date.now() < deadline)
      await sleep(2)

    s = d.stats()
    t.is(s.cursor, 9)
    t.is(s.remainingCapacity, 64 - 10 + 3)
    t.is(typeof s.producerWaitNanos, 'number')
    const by = Object.fromEntries(s.consumers.map((c) => [c.name, c]))
    t.deepEqual(Object.keys(by), ['all', 'limited', 'puller'])
    t.like(by.all, { sequence: 9, lag: 0, batches: 1, events: 10, largestBatch: 10, errors: 0 })
    t.like(by.limited, { sequence: 9, lag: 0, batches: 3, events: 10, largestBatch: 4, errors: 0 })
    t.like(by.puller, { sequence: 2, lag: 7, batches: 1, events: 3, largestBatch: 3, errors: 0 })
    for (const c of s.consumers) {
      t.true(['idle', 'running'].includes(c.state), `${c.name}: ${c.state}`)
      t.true(Number.isSafeInteger(c.waitNanos) && c.waitNanos >= 0, `${c.name}: waitNanos ${c.waitNanos}`)
      t.false('lastError' in c)
    }
    while (p.poll(() => {}) === 'processing') {
      // catch up, so that close() drains
    }
    t.like(
      d.stats().consumers.find((c) => c.name === 'puller'),
      { sequence: 9, lag: 0, batches: 4, events: 10, largestBatch: 3 },
    )
    await d.close()
  } finally {
    await d.close({ timeout: 100 }).catch(() => {})
  }
})

// close() stops intake first: claims fail at once on every thread, waiting ones are released,
// then the drain takes everything published, claims granted before close() included.

/** A ring whose one callback consumer records [sequence, value] and holds its batches until `held` resolves. */
function heldRing(size: number, producer: 'single' | 'multi') {
  const d = new Disruptor({ size, slotSize: 8, producer })
  const f64 = new Float64Array(d.buffer)
  const seen: Array<[number, number]> = []
  let held: Promise<void> | null = null
  let release = () => {}
  d.handleEventsWith((lo, hi) => {
    for (let s = lo; s <= hi; s++) seen.push([s, f64[d.offset(s) / 8]])
    return held ?? undefined
  })
  d.start()
  const hold = () => {
    held = new Promise((resolve) => {
      release = () => {
        held = null
        resolve()
      }
    })
  }
  const put = (seq: number, value: number) => {
    f64[d.offset(seq) / 8] = value
  }
  return { d, seen, hold, release: () => release(), put }
}

/** Settles within `ms` or says it did not. */
async function within<T>(p: Promise<T>, ms: number): Promise<T | 'pending'> {
  let timer: NodeJS.Timeout | undefined
  const pending = new Promise<'pending'>((resolve) => {
    timer = setTimeout(() => resolve('pending'), ms)
  })
  try {
    return await Promise.race([p, pending])
  } finally {
    clearTimeout(timer)
  }
}

test('close() releases a nextAsync() waiting for room at once, although a handler holds the drain (the drain then ends)', async (t) => {
  const r = heldRing(4, 'multi')
  r.hold()
  for (let i = 0; i < 4; i++) {
    const s = r.d.next()
    r.put(s, 100 + s)
    r.d.publish(s)
  }
  const waiting = r.d.nextAsync().then(
    () => 'claimed',
    (e: DisruptorError) => e.code,
  )
  t.is(await within(waiting, 50), 'pending', 'the ring is full: nextAsync waits')
  const closing = r.d.close()
  // Before the handler lets go: the wait cannot depend on the drain.
  t.is(await within(waiting, 10_000), 'ERR_DISRUPTOR_CLOSED')
  r.release()
  await closing
  t.deepEqual(r.seen, [
    [0, 100],
    [1, 101],
    [2, 102],
    [3, 103],
  ])
})

for (const producer of ['single', 'multi'] as const) {
  test(`${producer} producer: once close() began, every claim form fails at once with ERR_DISRUPTOR_CLOSED; a claim granted before is still published and delivered`, async (t) => {
    const r = heldRing(16, producer)
    const granted = r.d.next()
    const closing = r.d.close()
    for (const [what, call] of [
      ['tryNext()', () => r.d.tryNext()],
      ['next()', () => r.d.next()],
      ['next(2)', () => r.d.next(2)],
      ['publishEvent()', () => r.d.publishEvent(() => {})],
    ] as const) {
      t.is(code(call), 'ERR_DISRUPTOR_CLOSED', what)
    }
    await t.throwsAsync(r.d.nextAsync(), { code: 'ERR_DISRUPTOR_CLOSED' }, 'nextAsync()')
    r.put(granted, 7)
    r.d.publish(granted)
    await closing
    t.deepEqual(r.seen, [[0, 7]])
    t.is(
      code(() => r.d.publish(granted)),
      'ERR_DISRUPTOR_CLOSED',
    )
  })
}

test('once close() began on the creating thread, a worker cannot claim, and publishes what it claimed before', async (t) => {
  const r = heldRing(16, 'multi')
  const w = new WorkerProbe('claim-on-cue.js', { handle: r.d.share() })
  try {
    await w.type('ready')
    const before = await ask(w, 'next', 1)
    t.is(before.type, 'done')
    const closing = r.d.close()
    for (const cmd of ['tryNext', 'next', 'nextAsync', 'publishEvent']) {
      const answer = await ask(w, cmd, cmd === 'publishEvent' ? 9 : 1)
      t.is(answer.code, 'ERR_DISRUPTOR_CLOSED', cmd)
    }
    t.is((await ask(w, 'write', [before.value, 42])).type, 'done')
    const published = await ask(w, 'publish', [before.value, before.value])
    t.is(published.type, 'done', published.message)
    await closing
    t.deepEqual(r.seen, [[before.value, 42]])
    t.is((await ask(w, 'close')).type, 'done')
    t.is(await w.exitWithin(), 0)
  } finally {
    await w.worker.terminate()
  }
})

test('a worker blocked in next() on a full ring is released when close() begins, although a handler holds the drain', async (t) => {
  const r = heldRing(4, 'multi')
  r.hold()
  const w = new WorkerProbe('blocked-producer.js', { handle: r.d.share() })
  try {
    const full = await w.type('full')
    t.is(full.cursor, 3)
    const closing = r.d.close()
    const outcome = await w.type('threw', 10_000)
    t.is(outcome.code, 'ERR_DISRUPTOR_CLOSED')
    r.release()
    await closing
    t.deepEqual(
      r.seen.map(([s]) => s),
      [0, 1, 2, 3],
    )
    t.is(await w.exitWithin(), 0)
    t.is(w.error, null)
  } finally {
    await w.worker.terminate()
  }
})

test('a claim granted before close() and never published is not delivered, nor what follows it, and close() still ends', async (t) => {
  const r = heldRing(16, 'multi')
  const w = new WorkerProbe('claim-on-cue.js', { handle: r.d.share() })
  try {
    await w.type('ready')
    const first = r.d.next()
    r.put(first, 1)
    r.d.publish(first)
    const orphan = (await ask(w, 'next', 1)).value
    const after = r.d.next()
    r.put(after, 3)
    r.d.publish(after)
    await r.d.close()
    t.deepEqual(r.seen, [[first, 1]])
    const late = await ask(w, 'publish', [orphan, orphan])
    t.is(late.code, 'ERR_DISRUPTOR_CLOSED')
  } finally {
    await w.worker.terminate()
  }
})

test("the 'timeout-blocking' wait strategy: an idle handler's onTimeout gets the last sequence handed to it, and events still arrive", async (t) => {
  const d = new Disruptor({ size: 8, slotSize: 8, waitStrategy: { type: 'timeout-blocking', timeoutMs: 5 } })
  t.deepEqual(d.waitStrategyOptions, { type: 'timeout-blocking', timeoutMs: 5 })
  const timeouts: number[] = []
  const seen: number[] = []
  d.handleEventsWith({
    onBatch: (lo, hi) => {
      for (let s = lo; s <= hi; s++) seen.push(s)
    },
    onTimeout: (sequence) => timeouts.push(sequence),
  })
  d.start()
  for (let i = 0; i < 3; i++) d.publish(d.next())
  await d.drain()
  const deadline = Date.now() + 10_000
  while (timeouts.length < 2 && Date.now() < deadline) await sleep(5)
  t.true(timeouts.length >= 2, `onTimeout calls: ${timeouts}`)
  t.true(
    timeouts.every((s) => s === 2),
    `${timeouts}`,
  )
  d.publish(d.next())
  await d.drain()
  t.deepEqual(seen, [0, 1, 2, 3])
  // An attached thread sees the same strategy, with its parameters.
  const attached = Disruptor.attach(d.share())
  t.deepEqual(attached.waitStrategyOptions, { type: 'timeout-blocking', timeoutMs: 5 })
  await attached.close()
  await d.close()
})

test('wait strategies given by name report their default parameters', async (t) => {
  const cases = [
    ['sleeping', { type: 'sleeping', spinTries: 100, yieldTries: 100, sleepMicros: 100 }],
    ['phased-backoff', { type: 'phased-backoff', spinMicros: 1, yieldMicros: 100 }],
    ['timeout-blocking', { type: 'timeout-blocking', timeoutMs: 1000 }],
    ['blocking', { type: 'blocking' }],
  ] as const
  for (const [name, options] of cases) {
    const d = new Disruptor({ size: 4, slotSize: 8, waitStrategy: name })
    t.is(d.waitStrategy, name)
    t.deepEqual(d.waitStrategyOptions, options)
    d.halt()
  }
})
