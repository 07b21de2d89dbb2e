/**
 * Waiting for room in a `ProcessRing` without holding a claim: the asynchronous producers
 * (`nextAsync`, `publishEventAsync`, `emitEventAsync`, `writeAsync`) try to claim, fill and
 * publish in one synchronous step, and between tries wait on libuv's pool. A claim is never
 * held across an `await`, where another producer of this process would find it open
 * (ERR_DISRUPTOR_CLAIM_OPEN: a process holds one claim at a time per ring handle).
 */

import { abortError, coded } from '../errors'
import type { NativeSharedRing } from '../native'

/**
 * One wait slice of the pool (200 ms at most): its code, or '' as soon as `signal` aborts.
 * The listener lives as long as the slice (one per slice, removed after it: a producer that
 * waits for hours with a signal holds nothing more than one that does not).
 */
function slice(ring: NativeSharedRing, n: number, signal: AbortSignal | undefined): Promise<string> {
  const waited = ring.waitForRoomAsync(n, 200)
  if (signal === undefined) return waited
  return new Promise<string>((resolve, reject) => {
    const onAbort = () => resolve('')
    signal.addEventListener('abort', onAbort, { once: true })
    waited.then(
      (code) => {
        signal.removeEventListener('abort', onAbort)
        resolve(code)
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort)
        reject(error)
      },
    )
  })
}

/**
 * `attempt()` (a claim of `n` slots that gives -1 without room) until it succeeds, waiting on
 * libuv's pool for room between tries; an abort rejects with an AbortError. (The pool's wait
 * cannot be cancelled: an abort stops waiting for it instead.)
 */
export async function whenRoom(
  ring: NativeSharedRing,
  n: number,
  options: { signal?: AbortSignal } | undefined,
  attempt: () => number,
): Promise<number> {
  const signal = options?.signal
  for (;;) {
    if (signal?.aborted) throw abortError(signal)
    const hi = attempt()
    if (hi >= 0) return hi
    const code = await slice(ring, n, signal)
    if (code !== '' && code !== 'ERR_DISRUPTOR_TIMEOUT')
      throw coded(new Error(`waiting for room failed: ${code}`), code)
  }
}
