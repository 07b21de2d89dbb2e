/**
 * Waiting for room in a `ProcessRing` without holding a claim: the asynchronous producers
 * (`nextAsync`, `publishEventAsync`, `emitEventAsync`, `writeAsync`) try to claim, fill and
 * publish in one synchronous step, and between tries wait on libuv's pool. A claim is never
 * held across an `await`, where another producer of this process would find it open
 * (ERR_DISRUPTOR_CLAIM_OPEN: a process holds one claim at a time per ring handle).
 */

import { abortError, coded } from '../errors'
import type { NativeSharedRing } from '../native'

/** A Promise of '' once `signal` aborts (the caller then throws its AbortError), and the listener's removal. */
function abortedOf(signal: AbortSignal): { promise: Promise<string>; dispose: () => void } {
  let onAbort = () => {}
  const promise = new Promise<string>((resolve) => {
    onAbort = () => resolve('')
    signal.addEventListener('abort', onAbort, { once: true })
  })
  return { promise, dispose: () => signal.removeEventListener('abort', onAbort) }
}

/**
 * `attempt()` (a claim of `n` slots that gives -1 without room) until it succeeds, waiting on
 * libuv's pool for room between tries (in slices of 200 ms); an abort rejects with an
 * AbortError.
 */
export async function whenRoom(
  ring: NativeSharedRing,
  n: number,
  options: { signal?: AbortSignal } | undefined,
  attempt: () => number,
): Promise<number> {
  const signal = options?.signal
  // The pool's wait cannot be cancelled: an abort stops waiting for it instead.
  const aborted = signal === undefined ? undefined : abortedOf(signal)
  try {
    for (;;) {
      if (signal?.aborted) throw abortError(signal)
      const hi = attempt()
      if (hi >= 0) return hi
      const waited = ring.waitForRoomAsync(n, 200)
      const code = aborted === undefined ? await waited : await Promise.race([waited, aborted.promise])
      if (code !== '' && code !== 'ERR_DISRUPTOR_TIMEOUT')
        throw coded(new Error(`waiting for room failed: ${code}`), code)
    }
  } finally {
    aborted?.dispose()
  }
}
