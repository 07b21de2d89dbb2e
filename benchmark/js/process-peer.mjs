// One side of a run of benchmark/processes.mjs: the consumer process, which sets up its end of
// the system, forks the producer process (this script again) and reports to the parent over IPC.
//
//   node benchmark/js/process-peer.mjs '<json config>'     (config.role: 'consume' | 'produce')
//
// config: { role, system, size, slot, batch, events, warm, ringSize, name, mode, rate, serialization,
//          parent (the pid of the process that started this one) }
//   system   'ring' (ProcessRing, poll loop), 'ring-run' (ProcessRing, consumer.run()), the same
//            with producer: 'single' ('ring-single', 'ring-single-run'), 'ring-msg' (messages:
//            write(), or writeAll() of a batch, eachMessage, single producer, poll loop), 'smd'
//            (shared-memory-disruptor), 'send' (process.send over the fork's IPC channel),
//            'socket' (a Unix domain socket, length-prefixed frames)
//   size     bytes per event: 8 (a float64) or 100 (a float64 then 92 bytes of a fixed pattern)
//   mode     'throughput': the producer sends 1, 2, ..., events as fast as it can; the consumer
//            checks the order (and the last byte of 100-byte messages) and stamps the clock
//            when it has passed `warm` events and when it has all of them.
//            'latency': the producer sends, at `rate` events/s, process.hrtime (ns, CLOCK_MONOTONIC,
//            the same clock in every process) taken just before each send; the consumer keeps
//            its own clock minus that, per event.
//
// The consumer sends the parent { pid } (the producer's, for clean-up) and then { result }. Names
// live only while the two attach: once the producer has opened the ring (or shm object) or
// connected, it says 'attached' and the consumer removes the name (both keep their mappings), so
// nothing stays in /dev/shm or the temp directory even if the whole run is SIGKILLed. A process
// whose parent is gone (the parent's 'disconnect', or a new ppid seen while spinning) exits.

import { fork } from 'node:child_process'
import { once } from 'node:events'
import fs from 'node:fs'
import { createRequire } from 'node:module'
import net from 'node:net'
import { fileURLToPath } from 'node:url'

const require = createRequire(import.meta.url)
const cfg = JSON.parse(process.argv[2])
const { system, size, slot, batch: B, events: N, ringSize } = cfg
const latency = cfg.mode === 'latency'
const big = size > 8
const mask = ringSize - 1
const now = () => Number(process.hrtime.bigint())
// The parent's pid, from the parent: a process that starts after its parent died sees ppid 1.
const PPID = cfg.parent
/** What to remove when leaving early: the consumer's name, until the producer has attached. */
let leaveEarly = () => {}
function orphaned() {
  try {
    leaveEarly()
  } catch {}
  process.exit(3)
}
process.on('disconnect', orphaned)
if (process.ppid !== PPID) orphaned()

/** The 100-byte message every producer copies, then stamps its first 8 bytes with the value. */
const TEMPLATE = Buffer.alloc(100)
for (let i = 0; i < 100; i++) TEMPLATE[i] = (i * 37 + 11) & 255
const LAST = TEMPLATE[99]

/** Local work while a poll finds nothing: fewer reads of the line the producer writes (as
 * benchmark/js/common.mjs's pull loops). */
let sink = 0
let idle = 0
function idlePause() {
  let x = sink
  for (let i = 0; i < 100; i++) x = (x * 31 + i) | 0
  sink = x
  // a spinning loop never sees 'disconnect': look at the parent now and then
  if ((++idle & 0xffff) === 0 && process.ppid !== PPID) orphaned()
}

// ---------------------------------------------------------------- consumer
class Tally {
  constructor() {
    this.count = 0
    this.next = 1
    this.bad = 0
    this.tWarm = 0
    this.cWarm = 0
    this.tEnd = 0
    this.batches = 0 // deliveries (polls that found something, messages, chunks)
    this.lat = latency ? new Float64Array(N) : null
  }

  /** One event: its value (the counter, or the send time) and, for 100-byte messages, its last byte. */
  event(v, last, t) {
    if (latency) {
      this.lat[this.count] = t - v
    } else {
      if (v !== this.next) this.bad++
      this.next = v + 1
      if (big && last !== LAST) this.bad++
    }
    this.count++
  }

  /** After each batch received: the clock at the warm-up mark and at the end; true when done. */
  after() {
    this.batches++
    if (this.tWarm === 0 && this.count >= cfg.warm) {
      this.tWarm = now()
      this.cWarm = this.count
    }
    if (this.count >= N) {
      this.tEnd = now()
      return true
    }
    return false
  }

  result() {
    return {
      count: this.count,
      bad: this.bad,
      batches: this.batches,
      tWarm: this.tWarm,
      cWarm: this.cWarm,
      tEnd: this.tEnd,
      // latency: the samples after the warm-up, in µs
      latUs: latency ? Array.from(this.lat.subarray(cfg.warm, this.count), (x) => x / 1e3) : undefined,
    }
  }
}

function startProducer(options = {}) {
  const p = fork(fileURLToPath(import.meta.url), [JSON.stringify({ ...cfg, role: 'produce', parent: process.pid })], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    ...options,
  })
  process.send({ pid: p.pid })
  const exited = new Promise((resolve) => p.once('exit', (code, signal) => resolve(code ?? signal)))
  const attached = new Promise((resolve, reject) => {
    p.on('message', (m) => m === 'attached' && resolve())
    exited.then((code) => reject(new Error(`${system}: the producer ended with ${code} before attaching`)))
  })
  attached.catch(() => {}) // awaited only where there is something to attach to
  return { p, exited, attached }
}

async function consume() {
  const t = new Tally()
  let producer

  if (system === 'ring-msg') {
    // Messages: write() one per event, eachMessage over each batch; the value in the message's
    // first 8 bytes (a DataView: a message's bytes start 12 bytes into its slot).
    const { ProcessRing } = require('../../dist/index.js')
    const ring = ProcessRing.create({ name: cfg.name, size: ringSize, slotSize: slot, producer: 'single' })
    leaveEarly = () => ring.unlink()
    const dv = new DataView(ring.buffer)
    const c = ring.consumer('bench')
    let done = false
    let at = 0
    const each = (view) => t.event(dv.getFloat64(view.byteOffset, true), big ? view[99] : 0, at)
    const handler = (lo, hi) => {
      at = latency ? now() : 0
      ring.eachMessage(lo, hi, each)
      done = t.after()
    }
    producer = startProducer()
    await producer.attached
    ring.unlink()
    leaveEarly = () => {}
    while (!done) if (c.poll(handler) !== 'processing') idlePause()
    ring.close()
  } else if (system.startsWith('ring')) {
    const { ProcessRing } = require('../../dist/index.js')
    const kind = system.startsWith('ring-single') ? 'single' : 'multi'
    const ring = ProcessRing.create({ name: cfg.name, size: ringSize, slotSize: slot, producer: kind })
    leaveEarly = () => ring.unlink()
    const f64 = new Float64Array(ring.buffer)
    const u8 = new Uint8Array(ring.buffer)
    const words = slot / 8
    const c = ring.consumer('bench') // joins before the producer exists: it sees every event
    let done = false
    const handler = (lo, hi) => {
      const at = latency ? now() : 0
      for (let s = lo; s <= hi; s++) {
        const w = (s & mask) * words
        t.event(f64[w], big ? u8[w * 8 + 99] : 0, at)
      }
      done = t.after()
    }
    producer = startProducer()
    await producer.attached
    ring.unlink()
    leaveEarly = () => {}
    if (!system.endsWith('-run')) {
      while (!done) if (c.poll(handler) !== 'processing') idlePause()
    } else {
      await c.run(handler) // ends once the producer closed intake and everything was received
    }
    ring.close()
  } else if (system === 'smd') {
    const { Disruptor } = require('shared-memory-disruptor')
    // (shm name, elements, element size, consumers, this consumer's index, init, spin: no, so
    //  consumeNewSync returns [] at once when there is nothing and this loop pauses as above)
    const d = new Disruptor(`/${cfg.name}`, ringSize, slot, 1, 0, true, false)
    leaveEarly = () => fs.rmSync(`/dev/shm/${cfg.name}`, { force: true }) // shm_unlink, on Linux
    producer = startProducer()
    await producer.attached
    leaveEarly()
    leaveEarly = () => {}
    for (;;) {
      const bufs = d.consumeNewSync() // one Buffer per contiguous run of new events (<= 2)
      if (bufs.length === 0) {
        idlePause()
        continue
      }
      const at = latency ? now() : 0
      for (let b = 0; b < bufs.length; b++) {
        const buf = bufs[b]
        for (let j = 0; j < buf.length; j += slot) t.event(buf.readDoubleLE(j), big ? buf[j + 99] : 0, at)
      }
      d.consumeCommit()
      if (t.after()) break
    }
    d.release()
  } else if (system === 'send') {
    let finish
    const finished = new Promise((r) => (finish = r))
    producer = startProducer({ serialization: cfg.serialization })
    // the encodings the producer uses per shape (see producerFor)
    producer.p.on('message', (m) => {
      if (m === 'end') return
      const at = latency ? now() : 0
      if (!big) {
        if (B === 1) t.event(m, 0, at)
        else for (let k = 0; k < m.length; k++) t.event(m[k], 0, at)
      } else {
        const buf = typeof m === 'string' ? Buffer.from(m, 'base64') : Buffer.from(m.buffer, m.byteOffset, m.length)
        for (let j = 0; j < buf.length; j += size) t.event(buf.readDoubleLE(j), buf[j + 99], at)
      }
      if (t.after()) finish()
    })
    await finished
  } else if (system === 'socket') {
    let finish
    const finished = new Promise((r) => (finish = r))
    const frame = 4 + size
    const carry = Buffer.alloc(frame) // a frame split between two chunks
    let carried = 0
    const server = net.createServer((sock) => {
      fs.rmSync(cfg.name, { force: true }) // connected: the socket file is no longer needed
      leaveEarly = () => {}
      sock.on('data', (chunk) => {
        const at = latency ? now() : 0
        let off = 0
        if (carried > 0) {
          // complete the frame begun in the last chunk (frames here are all `frame` bytes; the
          // length prefix is still read, as a parser of any frames would)
          const want = carried < 4 ? 4 - carried : 4 + carry.readUInt32LE(0) - carried
          const take = Math.min(want, chunk.length)
          chunk.copy(carry, carried, 0, take)
          carried += take
          off = take
          if (carried === 4 && off < chunk.length) {
            const more = Math.min(carry.readUInt32LE(0), chunk.length - off)
            chunk.copy(carry, 4, off, off + more)
            carried += more
            off += more
          }
          if (carried >= 4 && carried === 4 + carry.readUInt32LE(0)) {
            t.event(carry.readDoubleLE(4), big ? carry[4 + 99] : 0, at)
            carried = 0
          }
        }
        const end = chunk.length
        while (off + 4 <= end) {
          const n = chunk.readUInt32LE(off)
          if (off + 4 + n > end) break
          t.event(chunk.readDoubleLE(off + 4), big ? chunk[off + 4 + 99] : 0, at)
          off += 4 + n
        }
        if (off < end) {
          chunk.copy(carry, 0, off, end)
          carried += end - off
        }
        if (t.after()) finish()
      })
    })
    server.listen(cfg.name)
    leaveEarly = () => fs.rmSync(cfg.name, { force: true })
    await once(server, 'listening')
    producer = startProducer()
    await finished
    server.close()
  } else {
    throw new Error(`unknown system ${system}`)
  }

  const code = await Promise.race([producer.exited, new Promise((r) => setTimeout(r, 10_000, 'timeout'))])
  if (code !== 0) {
    producer.p.kill('SIGKILL')
    throw new Error(`${system}: the producer ended with ${code}`)
  }
  process.send({ result: t.result() }, () => process.exit(0))
}

// ---------------------------------------------------------------- producer
/** Producer of each system: `emit(v0)` sends events v0 .. v0 + B - 1 (one operation). */
function producerFor() {
  if (system === 'ring-msg') {
    const { ProcessRing } = require('../../dist/index.js')
    const ring = ProcessRing.open(cfg.name)
    const message = Buffer.from(big ? TEMPLATE : Buffer.alloc(8))
    // A batch: B messages in one writeAll (one claim), each its own Buffer.
    const batch = Array.from({ length: B }, () => Buffer.from(message))
    return {
      attached: true,
      emit(v) {
        if (B === 1) {
          message.writeDoubleLE(v, 0)
          ring.write(message)
          return
        }
        for (let i = 0; i < B; i++) batch[i].writeDoubleLE(v++, 0)
        ring.writeAll(batch)
      },
      stamp() {
        message.writeDoubleLE(now(), 0) // taken before the write: the write is part of the hop
        ring.write(message)
      },
      end() {
        ring.closeIntake()
        ring.close()
      },
    }
  }
  if (system.startsWith('ring')) {
    const { ProcessRing } = require('../../dist/index.js')
    const ring = ProcessRing.open(cfg.name)
    const f64 = new Float64Array(ring.buffer)
    const u8 = new Uint8Array(ring.buffer)
    const words = slot / 8
    return {
      attached: true,
      emit(v) {
        const hi = ring.next(B)
        for (let s = hi - B + 1; s <= hi; s++) {
          const w = (s & mask) * words
          if (big) u8.set(TEMPLATE, w * 8)
          f64[w] = v++
        }
        ring.publish()
      },
      stamp() {
        const t0 = now() // taken before the claim: the claim is part of the hop
        const hi = ring.next(1)
        f64[(hi & mask) * words] = t0
        ring.publish()
      },
      end() {
        ring.closeIntake()
        ring.close()
      },
    }
  }
  if (system === 'smd') {
    const { Disruptor } = require('shared-memory-disruptor')
    // (name, elements, element size, consumers, consumer index -1: produce only, init: no (the
    //  consumer did), spin: no: a claim returns an empty result at once while the ring is full
    //  and this loop retries, as spin would natively, but can notice that its parent is gone)
    const d = new Disruptor(`/${cfg.name}`, ringSize, slot, 1, -1, false, false)
    return {
      attached: true,
      emit(v) {
        if (B === 1) {
          let buf = d.produceClaimSync()
          while (buf.length === 0) {
            idlePause()
            buf = d.produceClaimSync()
          }
          if (big) TEMPLATE.copy(buf, 0)
          buf.writeDoubleLE(v, 0)
        } else {
          let bufs = d.produceClaimManySync(B) // one Buffer, or two when the claim wraps
          while (bufs.length === 0) {
            idlePause()
            bufs = d.produceClaimManySync(B)
          }
          for (let b = 0; b < bufs.length; b++) {
            const buf = bufs[b]
            for (let j = 0; j < buf.length; j += slot) {
              if (big) TEMPLATE.copy(buf, j)
              buf.writeDoubleLE(v++, j)
            }
          }
        }
        d.produceCommitSync()
      },
      stamp() {
        const t0 = now()
        let buf = d.produceClaimSync()
        while (buf.length === 0) buf = d.produceClaimSync()
        buf.writeDoubleLE(t0, 0)
        d.produceCommitSync()
      },
      end() {
        d.release()
      },
    }
  }
  if (system === 'send') {
    // The fastest encoding per shape (benchmark/processes.mjs picks the serialization): a
    // number, or an array of numbers, as JSON; a 100-byte message as a base64 string in JSON;
    // 64 of them as one Buffer with serialization 'advanced' (v8's serializer).
    // process.send returns false once its queue passes 128 KiB: the next send then waits for
    // its own callback (the queue written out), as the socket waits for 'drain'
    let full = false
    const send = (m) => {
      if (!full) {
        full = !process.send(m)
        return null
      }
      full = false
      return new Promise((r) => process.send(m, r))
    }
    const scratch = Buffer.allocUnsafe(size * B)
    return {
      emit(v) {
        if (!big) {
          if (B === 1) return send(v)
          const m = new Array(B)
          for (let k = 0; k < B; k++) m[k] = v + k
          return send(m)
        }
        const buf = scratch // serialized within send(): the Buffer can be reused at once
        for (let j = 0; j < buf.length; j += size) {
          TEMPLATE.copy(buf, j)
          buf.writeDoubleLE(v++, j)
        }
        return send(B === 1 ? buf.toString('base64') : buf)
      },
      stamp() {
        return send(now())
      },
      end: () => new Promise((r) => process.send('end', r)),
    }
  }
  if (system === 'socket') {
    const sock = net.createConnection(cfg.name)
    const frame = 4 + size
    const write = (buf) => (sock.write(buf) ? null : once(sock, 'drain'))
    return {
      ready: once(sock, 'connect'),
      attached: true,
      emit(v) {
        // one Buffer per batch: B frames of [u32 length][event]
        const buf = Buffer.allocUnsafe(frame * B)
        for (let o = 0; o < buf.length; o += frame) {
          buf.writeUInt32LE(size, o)
          if (big) TEMPLATE.copy(buf, o + 4)
          buf.writeDoubleLE(v++, o + 4)
        }
        return write(buf)
      },
      stamp() {
        const t0 = now()
        const buf = Buffer.allocUnsafe(frame)
        buf.writeUInt32LE(size, 0)
        buf.writeDoubleLE(t0, 4)
        return write(buf)
      },
      end() {
        sock.end()
        return once(sock, 'close')
      },
    }
  }
  throw new Error(`unknown system ${system}`)
}

async function produce() {
  const p = producerFor()
  if (p.ready) await p.ready
  if (p.attached) process.send('attached')
  if (!latency) {
    for (let v = 1; v <= N; v += B) {
      const wait = p.emit(v)
      if (wait) await wait
    }
  } else {
    // paced: one event every 1e9 / rate ns. Between events the producer sleeps (Atomics.wait,
    // waking a little early) and lets the event loop turn (setImmediate), so writes complete and
    // it leaves the CPU to the consumer: the figures are the hop, not two spinners on 2 cores.
    const period = 1e9 / cfg.rate
    const sleeper = new Int32Array(new SharedArrayBuffer(4))
    let due = now() + 1e6
    let sent = 0
    await new Promise((resolve, reject) => {
      const tick = async () => {
        try {
          let t = now()
          if (due - t > 30_000) Atomics.wait(sleeper, 0, 0, (due - t - 20_000) / 1e6)
          while (t < due) t = now()
          while (sent < N && now() >= due) {
            const wait = p.stamp()
            sent++
            due += period
            if (wait) await wait
          }
          if (sent < N) setImmediate(tick)
          else resolve()
        } catch (e) {
          reject(e)
        }
      }
      tick()
    })
  }
  await p.end()
  process.exit(0)
}

if (cfg.role === 'consume') {
  consume().catch((e) => {
    process.stderr.write(`process-peer (consumer, ${system}): ${e.stack ?? e}\n`)
    process.exit(1)
  })
} else if (cfg.role === 'produce') {
  produce().catch((e) => {
    process.stderr.write(`process-peer (producer, ${system}): ${e.stack ?? e}\n`)
    process.exit(1)
  })
}
