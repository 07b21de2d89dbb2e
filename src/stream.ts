/**
 * Node streams over a ring (`d.writable()`, `d.readable()`): back-pressure through the ring, not
 * beside it. A Writable waits for room before it takes the next chunk; a Readable is a gating
 * consumer that takes a batch only when the stream wants more, so an unread stream stops the
 * producers once the ring is full.
 */

import { Readable, Writable } from 'node:stream'

import { rangeError } from './errors'
import type { Batch, DisruptorError, PollerOptions } from './types'
import { integer } from './validate'

/** What the streams use of a Disruptor. */
export interface StreamRing {
  readonly size: number
  tryEmitEvent(values: unknown): number
  emitEventAsync(values: unknown): Promise<number>
  tryWrite(data: unknown): number
  writeAsync(data: unknown): Promise<number>
  read(seq: number): unknown
  batches(options?: PollerOptions): AsyncIterableIterator<Batch>
  eachMessage(lo: number, hi: number, each: (view: Uint8Array) => void): void
}

/** A stream's highWaterMark option (`fallback` when not given), its options checked to be an object. */
function highWaterMark(options: { highWaterMark?: number } | undefined, fallback: number): number {
  if (options !== undefined && (options === null || typeof options !== 'object')) {
    throw rangeError('options must be an object')
  }
  if (options === undefined || options.highWaterMark === undefined) return fallback
  return integer('highWaterMark', options.highWaterMark, 1, 2 ** 30)
}

export function writableOf(ring: StreamRing, typed: boolean, options?: { highWaterMark?: number }): Writable {
  return new Writable({
    objectMode: typed,
    decodeStrings: false, // a string is a text message
    highWaterMark: highWaterMark(options, typed ? 1024 : 64 * 1024),
    write(chunk: unknown, _encoding, callback: (error?: Error | null) => void) {
      try {
        if ((typed ? ring.tryEmitEvent(chunk) : ring.tryWrite(chunk)) >= 0) return callback()
        const wait = typed ? ring.emitEventAsync(chunk) : ring.writeAsync(chunk)
        wait.then(() => callback(), callback)
      } catch (e) {
        callback(e as Error)
      }
    },
  })
}

export function readableOf(
  ring: StreamRing,
  typed: boolean,
  options?: { highWaterMark?: number; objectMode?: boolean; name?: string },
): Readable {
  const hwm = highWaterMark(options, (options?.objectMode ?? typed) ? 1024 : 64 * 1024)
  const objectMode = options?.objectMode ?? typed
  // Batches of at most highWaterMark events: the stream's buffer overshoots it by one batch at most.
  const it = ring.batches({ name: options?.name, maxBatchSize: Math.min(objectMode ? hwm : ring.size, ring.size) })
  let pulling = false
  return new Readable({
    objectMode,
    highWaterMark: hwm,
    read() {
      if (pulling) return
      pulling = true
      const pull = (): void => {
        it.next().then(
          ({ value, done }) => {
            if (done) {
              pulling = false
              this.push(null)
              return
            }
            let pushed = 0
            let more = true
            if (typed) {
              for (let s = value.lo; s <= value.hi; s++, pushed++) more = this.push(ring.read(s))
            } else {
              ring.eachMessage(value.lo, value.hi, (view) => {
                pushed++
                more = this.push(Buffer.from(view))
              })
            }
            // A batch of padding only pushed nothing: the stream still waits, take the next.
            if (pushed === 0 || more) return pull()
            pulling = false
          },
          (e: DisruptorError) => {
            pulling = false
            if (e.code === 'ERR_DISRUPTOR_CLOSED') this.push(null)
            else this.destroy(e)
          },
        )
      }
      pull()
    },
    destroy(error, callback) {
      it.return?.().then(
        () => callback(error),
        () => callback(error),
      )
    },
  })
}
