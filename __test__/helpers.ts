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
