// Type-checked (tsc --noEmit, module nodenext) against the installed package's types: ESM side.
import {
  Disruptor,
  type DisruptorClass,
  type DisruptorOptions,
  defineEvent,
  type PollResult,
  type ProcessRing,
  type WaitStrategyOptions,
} from 'napi-disruptor'
import { type JournalOptions, journal, replay } from 'napi-disruptor/journal'
import { type ToJetStreamOptions, toJetStream } from 'napi-disruptor/nats'

const options: DisruptorOptions = { size: 64, slotSize: 8, producer: 'single', waitStrategy: 'blocking' }
const d = new Disruptor(options)
const seq: number = d.next()
d.publish(seq)
const r: PollResult = d.poller().poll((lo: number, hi: number) => {
  void (lo + hi)
})
void r
const put = (offset: number, seq: number): void => void (offset + seq)
const many: number = d.publishEvents(2, put) + d.tryPublishEvents(2, put) + d.tryPublishEvent(put)
const later: Promise<number> = d.publishEventAsync(put, { signal: new AbortController().signal })
void many
const timed: number = d.next(1, { timeout: 5 })
const t = new Disruptor({ size: 8, slotSize: 8, waitStrategy: { type: 'timeout-blocking', timeoutMs: 5 } })
t.handleEventsWith({ onBatch: () => {}, onTimeout: (sequence: number) => void sequence })
t.handleEventsWith({ onBatch: () => {}, onError: 'rewind', maxRewinds: 2, rewindDelayMs: 5 })
const strategy: WaitStrategyOptions = t.waitStrategyOptions
void strategy
t.halt()
void timed
void d.nextAsync(1, { timeout: 5 }).catch(() => {})
void later.catch(() => {})
void d.close({ timeout: 1000 })

// A named ring is a ProcessRing, typed events included (checked only: never run).
function named(): void {
  const Tick = defineEvent({ price: 'f64', qty: 'u32' })
  const r = new Disruptor({ name: 'pack-types', size: 8, event: Tick })
  const p: ProcessRing<{ price: number; qty: number }> = r
  p.publishEvent((e) => void (e.price = 1.5))
  const [c] = p.handleEventsWith((lo: number, hi: number) => void (lo + hi))
  p.after(c)
    .poller()
    .poll(() => {})
  const drained: Promise<void> = p.drain({ timeout: 10 })
  void drained
  // @ts-expect-error a ProcessRing has no halt()
  r.halt()
  // @ts-expect-error waitStrategy is a thread ring's option
  new Disruptor({ name: 'x', size: 8, slotSize: 8, waitStrategy: 'blocking' })
  class Mine extends (Disruptor as DisruptorClass) {}
  void new Mine({ size: 8, slotSize: 8 }).share()
}
void named

// The types are real, not `any`: each of these must be a type error.
// @ts-expect-error size is a number
new Disruptor({ size: '64', slotSize: 8 })
// @ts-expect-error no such wait strategy
new Disruptor({ size: 64, slotSize: 8, waitStrategy: 'spin-forever' })
// @ts-expect-error next() returns a number
const s: string = d.next()
void s
// @ts-expect-error a fill takes (offset, seq), not an object
d.publishEvents(2, (e: { price: number }) => void e)

// The subpath modules' types.

const jo: JournalOptions = { dir: '/tmp/x', fsync: { everyMs: 10 }, async: true }
const j = journal(d, jo)
const next: number = j.position
void next
const closing: Promise<void> = j.close()
void closing
void replay({ dir: '/tmp/x', from: 0 }).into(d)
// @ts-expect-error fsync takes 'none', 'batch' or { everyMs }
journal(d, { dir: '/tmp/x', fsync: 'always' })
const natsOptions: Omit<ToJetStreamOptions, 'js'> = { subject: 'a.b', retry: { attempts: 3 } }
void natsOptions
// @ts-expect-error a sink needs a client
toJetStream(d, { subject: 'a.b' })
