import { join } from 'node:path'
import { Worker } from 'node:worker_threads'

import type { Disruptor } from '../src'

// Helpers shared by the specs (not a spec itself: ava runs only `*.spec.ts`).

/** Waits (bounded) until `cond()` holds; throws `message` otherwise. */
export async function waitFor(cond: () => boolean, message: string, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting: ${message}`)
    await new Promise((resolve) => setTimeout(resolve, 1))
  }
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

/** One turn of the event loop. */
export const tick = () => new Promise<void>((resolve) => setImmediate(resolve))

/** A promise with its resolve and reject. */
export function deferred() {
  let resolve: () => void = () => {}
  let reject: (e: unknown) => void = () => {}
  const promise = new Promise<void>((res, rej) => {
    resolve = res
    reject = rej
  })
  return { promise, resolve, reject }
}

/** Publishes `total` events in claims of 1..`maxClaim` (`nextAsync`), writing each sequence into its slot. */
export async function produce(d: Disruptor, total: number, maxClaim: number): Promise<void> {
  const f64 = new Float64Array(d.buffer)
  let published = 0
  let chunk = 0
  while (published < total) {
    const n = Math.min(1 + (chunk++ % maxClaim), total - published)
    const hi = await d.nextAsync(n)
    for (let s = hi - n + 1; s <= hi; s++) f64[d.offset(s) / 8] = s
    d.publish(hi - n + 1, hi)
    published += n
  }
}

/** Claims one slot on the main thread without blocking its event loop (its consumers may have to run to make room); fails after `ms`. */
export async function claim(d: Disruptor, ms = 10_000): Promise<number> {
  const deadline = Date.now() + ms
  for (;;) {
    const seq = d.tryNext()
    if (seq >= 0) return seq
    if (Date.now() > deadline) throw new Error(`no room in the ring within ${ms} ms (cursor ${d.cursor})`)
    await tick()
  }
}

/** A worker running a fixture of __test__/fixtures, with the messages it posted. */
export class WorkerProbe {
  readonly worker: Worker
  readonly messages: any[] = []
  readonly exited: Promise<number>
  error: unknown = null

  constructor(file: string, workerData: unknown) {
    this.worker = new Worker(join(__dirname, 'fixtures', file), { workerData })
    this.worker.on('message', (m) => this.messages.push(m))
    this.worker.on('error', (e) => {
      this.error = e
    })
    this.exited = new Promise((resolve) => this.worker.once('exit', resolve))
  }

  /** The first message of `type`, polled for up to `ms`. */
  async type(type: string, ms = 20_000): Promise<any> {
    const deadline = Date.now() + ms
    for (;;) {
      const m = this.messages.find((x) => x !== null && typeof x === 'object' && x.type === type)
      if (m !== undefined) return m
      if (Date.now() > deadline) throw new Error(`no '${type}' message from the worker within ${ms} ms`)
      await sleep(2)
    }
  }

  async exitWithin(ms = 20_000): Promise<number> {
    let timer: NodeJS.Timeout | undefined
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`worker did not exit within ${ms} ms`)), ms)
    })
    try {
      return await Promise.race([this.exited, timeout])
    } finally {
      clearTimeout(timer)
    }
  }
}

let asked = 0

/** Runs `cmd` in a claim-on-cue.js worker and returns its answer. */
export function ask(w: WorkerProbe, cmd: string, arg?: unknown): Promise<any> {
  const id = ++asked
  return new Promise((resolve) => {
    const onMessage = (m: any) => {
      if (m?.id !== id) return
      w.worker.off('message', onMessage)
      resolve(m)
    }
    w.worker.on('message', onMessage)
    w.worker.postMessage({ id, cmd, arg })
  })
}
