/**
 * `fromJetStream`: a durable JetStream pull consumer that publishes each message into the ring
 * (its bytes into one slot), and a stage, `acknowledge`, that acknowledges a message only once
 * it reaches that stage: put it after every consumer of the ring, and a message is acknowledged
 * only after all of them processed it. A process that dies before then has its messages
 * redelivered (after the consumer's `ack_wait`) instead of losing them; an acknowledgement is
 * confirmed by the server (`ackAck`) before the stage lets the ring go on, so a message
 * acknowledged once is never delivered again.
 */

import { coded, rangeError, typeError } from '../errors'
import type { HandlerObject, RingSource } from '../types'
import { integer } from '../validate'

/** A JetStream message, as `@nats-io/jetstream` 3.x hands it over. */
export interface JetStreamMessage {
  readonly data: Uint8Array
  /** The stream's sequence of the message. */
  readonly seq: number
  ackAck(): Promise<boolean>
  /** Tells the server never to deliver it again (`onOversize: 'term'`). */
  term?(reason?: string): void
}

/** What the source needs of a consumer: `await js.consumers.get(stream, durable)`. */
export interface JetStreamConsumer {
  consume(options?: {
    max_messages?: number
  }): Promise<AsyncIterable<JetStreamMessage> & { stop(): void; close(): Promise<unknown> }>
}

/** The ring a source publishes into (a `Disruptor` of this thread). */
export interface SourceTarget {
  readonly buffer: ArrayBuffer
  readonly slotSize: number
  readonly size: number
  nextAsync(n?: number, options?: { signal?: AbortSignal }): Promise<number>
  publish(lo: number, hi?: number): void
  offset(seq: number): number
  /** Messages mode: writes one message now, or -1 without room (the Disruptor's `tryWrite`). */
  tryWrite?(data: Uint8Array): number
  /** Messages mode: the longest message `tryWrite` takes. */
  readonly maxMessageBytes?: number
}

export interface FromJetStreamOptions {
  /** The durable pull consumer (`await js.consumers.get(stream, durable)`, ack policy explicit). */
  consumer: JetStreamConsumer
  /** Messages the client fetches ahead of the ring (default 256). */
  batch?: number
  /** The acknowledging stage's name in `stats()` (default 'jetstream-ack'). */
  name?: string
  /**
   * Write each message as a ring message (`write`: bytes, of any length up to
   * `maxMessageBytes`) instead of into one slot. Default false.
   */
  messages?: boolean
  /**
   * A message that does not fit (a slot, or `maxMessageBytes`): 'stop' (the default: the source
   * stops with ERR_INVALID_ARG_VALUE and the message stays unacknowledged, so it comes back),
   * 'term' (the server is told never to deliver it again; counted in `stats.terminated`), or a
   * function called with it (then it is terminated too), for a dead-letter record of your own.
   */
  onOversize?: 'stop' | 'term' | ((message: JetStreamMessage) => void)
}

/** What a source has done so far. */
export interface JetStreamSourceStats {
  /** Messages published into the ring. */
  received: number
  /** Messages acknowledged (confirmed by the server). */
  acknowledged: number
  /** Of those received, how many the server had delivered before (not acknowledged in time). */
  redelivered: number
  /** Messages that did not fit and were terminated (`onOversize`). */
  terminated: number
}

export class JetStreamSource implements RingSource {
  readonly stats: JetStreamSourceStats = { received: 0, acknowledged: 0, redelivered: 0, terminated: 0 }
  /**
   * The stage that acknowledges: register it after every consumer of the ring, on this thread
   * (`d.handleEventsWith(a, b).andThen(source.acknowledge)`).
   */
  readonly acknowledge: HandlerObject
  private readonly consumer: JetStreamConsumer
  private readonly target: SourceTarget
  private readonly batch: number
  /** The message of each slot not acknowledged yet (by sequence & mask). */
  private readonly pending: (JetStreamMessage | null)[]
  private running: Promise<void> | null = null
  private messages: { stop(): void } | null = null
  private stopping = false
  /** Ends a wait for room when the source stops. */
  private readonly abort = new AbortController()
  private readonly messagesMode: boolean
  private readonly onOversize: NonNullable<FromJetStreamOptions['onOversize']>

  constructor(target: SourceTarget, options: FromJetStreamOptions) {
    if (options === null || typeof options !== 'object') throw typeError('fromJetStream options must be an object')
    const consumer = options.consumer as JetStreamConsumer | undefined
    if (consumer === null || typeof consumer !== 'object' || typeof consumer.consume !== 'function') {
      throw typeError('consumer must be a JetStream consumer (await js.consumers.get(stream, durable))')
    }
    if (options.name !== undefined && typeof options.name !== 'string') throw typeError('name must be a string')
    this.consumer = consumer
    this.target = target
    this.batch = options.batch === undefined ? 256 : integer('batch', options.batch, 1, 1_000_000)
    this.pending = new Array(target.size).fill(null)
    if (options.messages !== undefined && typeof options.messages !== 'boolean') {
      throw typeError('messages must be a boolean')
    }
    this.messagesMode = options.messages === true
    const oversize = options.onOversize ?? 'stop'
    if (oversize !== 'stop' && oversize !== 'term' && typeof oversize !== 'function') {
      throw rangeError(`onOversize must be 'stop', 'term' or a function, got ${String(oversize)}`)
    }
    this.onOversize = oversize
    if (this.messagesMode && typeof target.tryWrite !== 'function') {
      throw typeError('messages: true needs a Disruptor (its message framing)')
    }
    const mask = target.size - 1
    this.acknowledge = {
      name: options.name ?? 'jetstream-ack',
      // An entry is cleared only once its acknowledgement is confirmed: a batch rewound after a
      // failed one acknowledges what is still pending, no more.
      onBatch: async (lo: number, hi: number) => {
        const slots: number[] = []
        const acks: Promise<boolean>[] = []
        for (let s = lo; s <= hi; s++) {
          const m = this.pending[s & mask]
          if (m === null) continue // published by another producer of the ring, or acknowledged
          slots.push(s & mask)
          acks.push(Promise.resolve().then(() => m.ackAck()))
        }
        const results = await Promise.allSettled(acks)
        let failure: unknown = null
        for (let i = 0; i < results.length; i++) {
          const r = results[i]
          if (r.status === 'fulfilled' && r.value) {
            this.pending[slots[i]] = null
            this.stats.acknowledged++
          } else failure ??= r.status === 'rejected' ? r.reason : null
        }
        if (slots.some((slot) => this.pending[slot] !== null)) {
          throw coded(
            new Error('JetStream did not confirm an acknowledgement', { cause: failure ?? undefined }),
            'ERR_DISRUPTOR_NATS_ACK',
          )
        }
      },
    }
  }

  /**
   * Starts pulling: each message is claimed a slot (waiting for room without blocking the event
   * loop), copied in and published. Resolves when the source stops (`stop()`, or the ring
   * closes); rejects on a message larger than a slot (ERR_INVALID_ARG_VALUE: left
   * unacknowledged, so redelivered, never lost) or a client failure.
   */
  start(): Promise<void> {
    this.running ??= this.run()
    return this.running
  }

  /** Stops pulling (messages in the ring still get acknowledged as they reach the stage). */
  async stop(): Promise<void> {
    this.stopping = true
    this.abort.abort()
    // stop() ends the iteration; close() (in run) then waits for the client to let go. Awaiting
    // close() here, before the iteration ended, would wait for ever.
    this.messages?.stop()
    await this.running?.catch(() => {})
  }

  private async run(): Promise<void> {
    const t = this.target
    const slot = t.slotSize
    const ring = new Uint8Array(t.buffer)
    const mask = t.size - 1
    const messages = await this.consumer.consume({ max_messages: this.batch })
    this.messages = messages
    // Stopped while the consumer was being set up: nothing would end its iteration otherwise.
    if (this.stopping) messages.stop()
    try {
      for await (const m of messages) {
        const fits = this.messagesMode ? m.data.length <= (t.maxMessageBytes ?? Infinity) : m.data.length <= slot
        if (!fits) {
          const why = `message ${m.seq} holds ${m.data.length} bytes; the ring takes ${this.messagesMode ? t.maxMessageBytes : slot}`
          if (this.onOversize === 'stop') throw rangeError(why)
          if (typeof this.onOversize === 'function') this.onOversize(m)
          // No reason text: a server before 2.10 ignores a "+TERM" that carries one.
          m.term?.()
          this.stats.terminated++
          continue
        }
        if (this.messagesMode) {
          // Noted right after the write, with no turn of the event loop between: the acknowledging
          // stage (this thread's) cannot reach the message before it is noted. So `tryWrite`, and
          // while the ring is full, a turn of the event loop (this thread's consumers free room)
          // before the next try.
          let seq: number
          try {
            seq = (t.tryWrite as (d: Uint8Array) => number)(m.data)
            for (let tries = 0; seq < 0 && !this.stopping; tries++) {
              await new Promise((r) => (tries < 64 ? setImmediate(r) : setTimeout(r, 1)))
              seq = (t.tryWrite as (d: Uint8Array) => number)(m.data)
            }
          } catch (e) {
            if ((e as { code?: string }).code === 'ERR_DISRUPTOR_CLOSED') break
            throw e
          }
          if (seq < 0) break // stopped while the ring was full: not written, not acknowledged
          this.pending[seq & mask] = m
          this.stats.received++
          if ((m as { redelivered?: boolean }).redelivered === true) this.stats.redelivered++
          if (this.stopping) break
          continue
        }
        let seq: number
        try {
          seq = await t.nextAsync(1, { signal: this.abort.signal })
        } catch (e) {
          const code = (e as { code?: string }).code
          // Closed, or stopped while waiting for room: not in the ring, not acknowledged.
          if (code === 'ERR_DISRUPTOR_CLOSED' || code === 'ABORT_ERR') break
          throw e
        }
        const at = t.offset(seq)
        ring.set(m.data, at)
        ring.fill(0, at + m.data.length, at + slot)
        this.pending[seq & mask] = m
        this.stats.received++
        if ((m as { redelivered?: boolean }).redelivered === true) this.stats.redelivered++
        t.publish(seq)
        if (this.stopping) break
      }
    } finally {
      await messages.close()
    }
  }
}

/** `new JetStreamSource(d, options)`: messages of a durable JetStream consumer into ring `d`. */
export function fromJetStream(target: SourceTarget, options: FromJetStreamOptions): JetStreamSource {
  return new JetStreamSource(target, options)
}
