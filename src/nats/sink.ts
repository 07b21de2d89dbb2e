/**
 * `toJetStream`: a consumer stage that publishes every event of its batch to a NATS JetStream
 * subject, with a message id made of the ring's identity and the event's sequence, and returns
 * a Promise that settles once the server acknowledged every one. The Promise holds the stages
 * after it and, once the ring is full, the producers: a slow or absent server pushes back
 * instead of losing events. A publish that fails (timeout, disconnection, a server restart) is
 * retried with the same id, so the stream's duplicate window stores it once.
 */

import { randomUUID } from 'node:crypto'

import { coded, typeError } from '../errors'
import type { SinkStage } from '../types'
import { integer } from '../validate'

/** What the sink needs of a JetStream client: `jetstream(nc)` of `@nats-io/jetstream` 3.x. */
export interface JetStreamPublisher {
  publish(
    subject: string,
    payload: Uint8Array,
    options: { msgID: string; timeout: number },
  ): Promise<{ stream: string; seq: number; duplicate: boolean }>
}

/** The ring a sink reads (a `Disruptor`, typed or not). */
export interface SinkSource {
  readonly buffer: ArrayBuffer
  readonly slotSize: number
  offset(seq: number): number
  /** @internal Messages mode: each message starting in `[lo, hi]` (the Disruptor has it). */
  eachFrame?(lo: number, hi: number, visit: (view: Uint8Array, seq: number, kind: number) => unknown): void
}

export interface ToJetStreamOptions {
  /** The JetStream client (`jetstream(nc)`), connected with reconnects on. */
  js: JetStreamPublisher
  /** The subject every event is published to (a subject of the target stream). */
  subject: string
  /**
   * The ring's identity in message ids (`${id}:${sequence}`). Default: a random id made for
   * this sink, which makes every retry of this process land once. Give a stable id only with
   * sequences that do not start again (a ring's do, in each process).
   */
  id?: string
  /** How long one publish waits for the server's acknowledgement (default 5,000 ms). */
  timeoutMs?: number
  /**
   * Publishes that failed are tried again after `delayMs` (doubling up to 5 s), `attempts` times
   * in all (default 20, 250 ms); then the batch fails and the stage halts as its `onError` says.
   */
  retry?: { attempts?: number; delayMs?: number }
  /** Told of every retry: the last error, the attempt that failed (1, 2, ...) and how many events it retries. */
  onRetry?: (error: Error, attempt: number, events: number) => void
  /** The consumer's name in `stats()` (default 'jetstream'). */
  name?: string
  /** The most events one batch publishes (default: everything available). */
  maxBatchSize?: number
  /**
   * Publish messages (`write`) instead of slots: one NATS message per ring message, its bytes
   * (a text message as its UTF-8), with the id of its first sequence. Default false.
   */
  messages?: boolean
}

/** What a sink has done so far. */
export interface JetStreamSinkStats {
  /** Events the server acknowledged as stored. */
  published: number
  /** Events the server acknowledged as duplicates (a retry of one stored before). */
  duplicates: number
  /** Retries (rounds of publishes tried again). */
  retries: number
}

/** Publishes of one batch waiting for their acknowledgement at a time (bounds memory). */
const IN_FLIGHT = 4096

export class JetStreamSink implements SinkStage {
  readonly name: string
  readonly maxBatchSize: number | undefined
  /** The ring's identity in this sink's message ids. */
  readonly id: string
  readonly stats: JetStreamSinkStats = { published: 0, duplicates: 0, retries: 0 }
  private readonly js: JetStreamPublisher
  private readonly subject: string
  private readonly timeout: number
  private readonly attempts: number
  private readonly delayMs: number
  private readonly onRetry: ToJetStreamOptions['onRetry']
  private readonly source: SinkSource
  private readonly messages: boolean

  constructor(source: SinkSource, options: ToJetStreamOptions) {
    if (options === null || typeof options !== 'object') throw typeError('toJetStream options must be an object')
    const js = options.js as JetStreamPublisher | undefined
    if (js === null || typeof js !== 'object' || typeof js.publish !== 'function') {
      throw typeError('js must be a JetStream client (jetstream(nc) of @nats-io/jetstream)')
    }
    if (typeof options.subject !== 'string' || options.subject === '')
      throw typeError('subject must be a non-empty string')
    if (options.id !== undefined && (typeof options.id !== 'string' || options.id === '')) {
      throw typeError('id must be a non-empty string')
    }
    if (options.name !== undefined && typeof options.name !== 'string') throw typeError('name must be a string')
    if (options.onRetry !== undefined && typeof options.onRetry !== 'function')
      throw typeError('onRetry must be a function')
    const retry = options.retry ?? {}
    if (retry === null || typeof retry !== 'object') throw typeError('retry must be an object')
    this.js = js
    this.subject = options.subject
    this.id = options.id ?? randomUUID()
    this.name = options.name ?? 'jetstream'
    this.timeout = options.timeoutMs === undefined ? 5000 : integer('timeoutMs', options.timeoutMs, 1, 2 ** 31 - 1)
    this.attempts = retry.attempts === undefined ? 20 : integer('retry.attempts', retry.attempts, 1, 1_000_000)
    this.delayMs = retry.delayMs === undefined ? 250 : integer('retry.delayMs', retry.delayMs, 0, 60_000)
    this.onRetry = options.onRetry
    this.maxBatchSize =
      options.maxBatchSize === undefined
        ? undefined
        : integer('maxBatchSize', options.maxBatchSize, 1, Number.MAX_SAFE_INTEGER)
    this.source = source
    if (options.messages !== undefined && typeof options.messages !== 'boolean') {
      throw typeError('messages must be a boolean')
    }
    this.messages = options.messages === true
    if (this.messages && typeof source.eachFrame !== 'function') {
      throw typeError('messages: true needs a Disruptor (its message framing)')
    }
  }

  /** Publishes `[lo, hi]`: resolves once every event is acknowledged, rejects once retries ran out. */
  async onBatch(lo: number, hi: number): Promise<void> {
    // The slots are this stage's until the Promise settles: views, no copies.
    const { buffer, slotSize } = this.source
    let pending: [number, Uint8Array][] = []
    if (this.messages) {
      ;(this.source.eachFrame as NonNullable<SinkSource['eachFrame']>)(lo, hi, (view, seq) => {
        pending.push([seq, view])
      })
    } else {
      for (let s = lo; s <= hi; s++) pending.push([s, new Uint8Array(buffer, this.source.offset(s), slotSize)])
    }
    for (let attempt = 1; ; attempt++) {
      const failed: [number, Uint8Array][] = []
      let error: Error | null = null
      // At most IN_FLIGHT publishes wait for their acknowledgement at a time.
      for (let from = 0; from < pending.length; from += IN_FLIGHT) {
        const part = pending.slice(from, from + IN_FLIGHT)
        const results = await Promise.allSettled(
          // async: a client that throws at once rejects like the others (none left unobserved)
          part.map(async ([s, data]) =>
            this.js.publish(this.subject, data, {
              msgID: `${this.id}:${s}`,
              timeout: this.timeout,
            }),
          ),
        )
        for (let i = 0; i < results.length; i++) {
          const r = results[i]
          if (r.status === 'fulfilled') {
            if (r.value.duplicate) this.stats.duplicates++
            else this.stats.published++
          } else {
            // A copy from now on: the client may still hold the view in its outbound buffer
            // when the slot is reused (the batch given up, 'skip'), and would send new bytes.
            failed.push([part[i][0], part[i][1].slice()])
            error = r.reason instanceof Error ? r.reason : new Error(String(r.reason))
          }
        }
      }
      if (failed.length === 0) return
      const cause = error as Error
      if (attempt >= this.attempts) {
        throw coded(
          new Error(
            `${failed.length} event(s) from sequence ${failed[0][0]} not acknowledged by JetStream after ${attempt} attempts: ${cause.message}`,
            { cause },
          ),
          'ERR_DISRUPTOR_NATS_PUBLISH',
        )
      }
      this.stats.retries++
      try {
        this.onRetry?.(cause, attempt, failed.length)
      } catch {
        // a reporting callback does not stop the retries
      }
      await new Promise((r) => setTimeout(r, Math.min(this.delayMs * 2 ** (attempt - 1), 5000)))
      pending = failed
    }
  }
}

/** `new JetStreamSink(d, options)`: the JetStream stage of ring `d`. */
export function toJetStream(source: SinkSource, options: ToJetStreamOptions): JetStreamSink {
  return new JetStreamSink(source, options)
}
