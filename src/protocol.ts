/**
 * The memory protocol JavaScript shares with the engine: typed views over native atomics, the
 * split cursor's layout, the sentinels native calls return, and the sleeper check that follows
 * every store that may let a sleeping thread go on. The Rust half is crates/binding/src/views.rs
 * and protocol.rs; the layouts are the engine's (sequencer/split_cursor.rs, multi_producer.rs).
 */

import type { NativeRing } from './native'

export { ClaimSentinel, RoomWaitOutcome, SplitCursorLayout, StatsLayout } from './native'

/**
 * What `Gate.available` returns instead of a sequence. A const enum: tsc writes the numbers in
 * place (an imported const is a property load on every poll that finds nothing).
 */
// biome-ignore lint/suspicious/noConstEnum: built by tsc (no isolatedModules); tsx makes it an object
export const enum Availability {
  /** Nothing is claimed after the consumer's position. */
  Idle = -1,
  /** The next sequence is claimed, but a producer or an upstream consumer is not done with it. */
  Gating = -2,
  /** The next sequence starts an abandoned range (claimed, never published): skip to `Gate.holeEnd`. */
  Hole = -3,
}

/**
 * The binding's fast functions for one ring on this thread (crates/binding/src/fast.rs): the
 * calls of the hot paths as raw N-API functions, about 20 ns each where a method costs ~280 ns.
 */
export type FastCalls = ReturnType<NativeRing['fastCalls']>

/** One thread's views of one ring's atomics (see `openViews`; its fast functions: `fastCallsOf`). */
export interface RingViews {
  /** The claim cursor (multi producers), or the split cursor's 64-bit epoch (a single producer). */
  readonly cursor: BigInt64Array
  /** A single producer's split-cursor low word: what is published modulo 2**31, a flag in the sign bit. */
  readonly low: Int32Array | null
  /** Multi producers: each slot's published lap (the availability flags). */
  readonly flags: Int32Array | null
  /** The blocking strategies' sleeper count (null for strategies that never sleep). */
  readonly sleepers: Int32Array | null
  /** The sequencer's closed flag: non-zero once claims are refused (`close()` began, or halted). */
  readonly closed: Uint8Array
  /** The ring's halted flag: non-zero once consumers stop and publishes are refused. */
  readonly halted: Uint8Array
  /**
   * Abandoned ranges: [0] how many the engine still records (non-zero: ask it which), [1] how
   * many were ever marked (a cached "none from here on" holds while it does not change).
   */
  readonly abandoned: Int32Array
}

/**
 * The views of a ring for this thread. Each is an external ArrayBuffer over a native atomic of
 * the same width, accessed only with Atomics of that width (the SAFETY argument of views.rs).
 */
export function openViews(native: NativeRing, multi: boolean): RingViews {
  const sleepers = native.sleepersView()
  return {
    cursor: new BigInt64Array(native.cursorView()),
    low: multi ? null : new Int32Array(native.publishedLowView()),
    flags: multi ? new Int32Array(native.flagsView()) : null,
    sleepers: sleepers ? new Int32Array(sleepers) : null,
    closed: new Uint8Array(native.closedView()),
    halted: new Uint8Array(native.haltedView()),
    abandoned: new Int32Array(native.abandonedView()),
  }
}

/** Each instance's fast functions, made on first use. */
const instanceCalls = new WeakMap<NativeRing, FastCalls>()

/**
 * The fast functions of `native`, this thread's instance of a ring. Per instance, not per ring
 * like the views: `claim` records into, `publish` and `arm` check against, the instance that
 * made them, and one thread may hold two instances of a ring (`attach` of its own `share()`).
 */
export function fastCallsOf(native: NativeRing): FastCalls {
  let calls = instanceCalls.get(native)
  if (calls === undefined) {
    calls = native.fastCalls()
    instanceCalls.set(native, calls)
  }
  return calls
}

/**
 * After a SeqCst store that may let a sleeping thread go on (a publish, a consumer's progress):
 * the SeqCst load of the blocking strategy's sleeper count, and a native signal only when
 * someone sleeps. The store-then-load is the publisher's half of the engine's no-lost-wake-up
 * handshake (`WaitStrategy::sleeper_count`).
 */
export function wakeSleepers(sleepers: Int32Array | null, fast: FastCalls): void {
  if (sleepers !== null && Atomics.load(sleepers, 0) !== 0) fast.signal()
}
