/**
 * What this JavaScript thread keeps per ring: one ArrayBuffer over the slots and one set of
 * views (two external buffers over one address were reported to abort Node, see README), and
 * the open rings whose consumers must get what was published before the thread exits.
 */

import type { NativeRing } from './native'
import { openViews, type RingViews } from './protocol'

/** A ring open on this thread, as the exit hook sees it. */
export interface OpenRing {
  /** The ring's unique token (the same on every thread). */
  readonly token: string
  /** Delivers events waiting for this thread's consumers; true if any were. */
  deliverPending(): boolean
  /** Stores the progress its consumers finished and deferred. */
  flush(): void
  /** Whether it has callback consumers that were never started. */
  readonly neverStarted: boolean
}

/**
 * Open rings of this thread. Their consumers' wake-ups do not keep the event loop alive (an idle
 * ring must not keep a process from exiting), so before the thread would exit, events already
 * published to its consumers are delivered: the loop then goes on until they are handled.
 */
const open = new Set<OpenRing>()

const buffers = new Map<string, WeakRef<ArrayBuffer>>()
const views = new Map<string, RingViews>()

/** Last chance for events published by other threads (which have exited since). */
function beforeExit(): void {
  for (const ring of open) ring.deliverPending()
}

/** Counts `ring` as open on this thread. */
export function track(ring: OpenRing): void {
  if (open.size === 0) process.on('beforeExit', beforeExit)
  open.add(ring)
}

/**
 * Counts `ring` as closed on this thread. Its views (external buffers that hold the native ring
 * alive) go with the last open instance here that could use them.
 */
export function untrack(ring: OpenRing): void {
  if (open.delete(ring) && open.size === 0) process.removeListener('beforeExit', beforeExit)
  for (const o of open) if (o.token === ring.token) return
  views.delete(ring.token)
}

/**
 * Stores the progress of every consumer of ring `token` on this thread, whichever of the
 * thread's instances of the ring it belongs to (`attach` of its own `share()` makes a second):
 * a claim waiting for room must see all of it.
 */
export function flushThread(token: string): void {
  for (const o of open) if (o.token === token) o.flush()
}

/** Whether an instance of ring `token` on this thread has callback consumers it never started. */
export function neverStartedOnThread(token: string): boolean {
  for (const o of open) if (o.token === token && o.neverStarted) return true
  return false
}

/** This thread's ArrayBuffer over the ring's slots, made once and reused while it lives. */
export function threadBuffer(token: string, native: NativeRing): ArrayBuffer {
  const cached = buffers.get(token)?.deref()
  if (cached !== undefined) return cached
  const b = native.buffer()
  for (const [t, ref] of buffers) if (ref.deref() === undefined) buffers.delete(t)
  buffers.set(token, new WeakRef(b))
  return b
}

/** This thread's views of the ring's atomics, made once per ring. */
export function threadViews(token: string, native: NativeRing, multi: boolean): RingViews {
  let v = views.get(token)
  if (v === undefined) {
    v = openViews(native, multi)
    views.set(token, v)
  }
  return v
}
