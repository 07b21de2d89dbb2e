// A pure-JavaScript single-producer single-consumer ring over SharedArrayBuffer: the baseline a
// Node user could write by hand in an afternoon, tuned as far as JavaScript allows.
//
// - Power-of-two ring of Float64 slots (8-byte events, as in every JS benchmark here).
// - Two counters in an Int32Array, on separate 128-byte lines so that the producer's and the
//   consumer's stores do not share a cache line: HEAD (events published) and TAIL (events
//   consumed). Atomics.store/load are sequentially consistent, so a slot written before HEAD is
//   stored is visible to a consumer that loaded that HEAD.
// - The producer caches the consumer's TAIL and reads it again only when the cache says the ring
//   is full (one Atomics.load per lap, not per event); it spins while the ring is really full
//   (both threads have a core; spinning beats Atomics.wait's wake-up cost here).
// - The consumer loads HEAD once and drains everything available in one call, then stores TAIL
//   once (one Atomics.store per batch, not per event).
// - Publishing batch n is n plain slot stores and one Atomics.store of HEAD.
// Counters are Int32: one ring carries at most 2**31 - 1 events (the benchmarks make a ring per
// run and stay far below).

export const HEAD = 0
export const TAIL = 32 // 128 bytes after HEAD
const CTRL_BYTES = 256

/** A new ring of `size` (power of two) Float64 slots: plain data, structured-cloneable. */
export function createSabRing(size) {
  if (size < 2 || (size & (size - 1)) !== 0) throw new RangeError('size must be a power of two')
  return { size, data: new SharedArrayBuffer(size * 8), ctrl: new SharedArrayBuffer(CTRL_BYTES) }
}

export class SabProducer {
  constructor(ring) {
    this.f64 = new Float64Array(ring.data)
    this.ctrl = new Int32Array(ring.ctrl)
    this.size = ring.size
    this.mask = ring.size - 1
    this.head = 0 // next sequence to claim = events published so far
    this.limit = ring.size // sequences below this can be claimed (cached TAIL + size)
  }

  /** Claims n slots; returns the first sequence. Spins while the ring is full. */
  claim(n) {
    const hi = this.head + n
    if (hi > this.limit) this.waitForRoom(hi)
    return this.head
  }

  waitForRoom(hi) {
    for (;;) {
      this.limit = Atomics.load(this.ctrl, TAIL) + this.size
      if (hi <= this.limit) return
    }
  }

  /** Publishes everything claimed up to (not including) `end`. */
  publish(end) {
    this.head = end
    Atomics.store(this.ctrl, HEAD, end)
  }
}

export class SabConsumer {
  constructor(ring) {
    this.f64 = new Float64Array(ring.data)
    this.ctrl = new Int32Array(ring.ctrl)
    this.mask = ring.size - 1
    this.tail = 0 // events consumed
  }

  /**
   * Calls handler(lo, hi) with every available sequence (inclusive range), then marks them
   * consumed. Returns false when nothing was available.
   */
  poll(handler) {
    const head = Atomics.load(this.ctrl, HEAD)
    const lo = this.tail
    if (head === lo) return false
    handler(lo, head - 1)
    this.tail = head
    Atomics.store(this.ctrl, TAIL, head)
    return true
  }
}

// A pure-JavaScript multi-producer single-consumer ring, the peer of the three-to-one rows: what
// a skilled Node user would write for several producer threads.
//
// - CLAIM: the next sequence to claim, an Int32 that producers take ranges from with
//   Atomics.compareExchange (a number, no BigInt), after checking room against a cached TAIL.
// - One published flag per claim, not per slot: the producer that claimed [lo, end) stores `end`
//   into the flag of slot lo (one SeqCst Atomics.store per batch, after its slot stores). The
//   consumer reads the flag of its next sequence s: a value above s is this lap's claim starting
//   at s (an older lap's claim starting there ended at most a ring before), so it jumps to it and
//   reads on. Flags start at 0 (no claim ends at 0).
// - The consumer drains everything published in order, then stores TAIL once.
// Sequences are Int32: one ring carries at most 2**31 - 1 events (the benchmarks stay far below).

const CLAIM = 0

/** A new multi-producer ring of `size` (power of two) Float64 slots, structured-cloneable. */
export function createMpSabRing(size) {
  const ring = createSabRing(size)
  return { ...ring, mp: true, flags: new SharedArrayBuffer(size * 4) }
}

/** The views both ends of a multi-producer ring make. */
class MpSabViews {
  constructor(ring) {
    this.f64 = new Float64Array(ring.data)
    this.flags = new Int32Array(ring.flags)
    this.ctrl = new Int32Array(ring.ctrl)
    this.size = ring.size
    this.mask = ring.size - 1
  }
}

export class MpSabProducer extends MpSabViews {
  constructor(ring) {
    super(ring)
    this.limit = ring.size // sequences below this can be claimed (cached TAIL + size)
  }

  /** Claims n slots; returns the first sequence. Spins while the ring is full. */
  claim(n) {
    for (;;) {
      const lo = Atomics.load(this.ctrl, CLAIM)
      const end = lo + n
      if (end > this.limit) {
        this.limit = Atomics.load(this.ctrl, TAIL) + this.size
        continue
      }
      if (Atomics.compareExchange(this.ctrl, CLAIM, lo, end) === lo) return lo
    }
  }

  /** Publishes the claim [lo, end) (its slots written). */
  publish(lo, end) {
    Atomics.store(this.flags, lo & this.mask, end)
  }
}

export class MpSabConsumer extends MpSabViews {
  constructor(ring) {
    super(ring)
    this.tail = 0 // events consumed
  }

  /** As SabConsumer.poll: every published sequence in order, then TAIL. */
  poll(handler) {
    const lo = this.tail
    let s = lo
    for (;;) {
      const end = Atomics.load(this.flags, s & this.mask)
      if (end <= s) break
      s = end
      if (s - lo >= this.size) break
    }
    if (s === lo) return false
    handler(lo, s - 1)
    this.tail = s
    Atomics.store(this.ctrl, TAIL, s)
    return true
  }
}
