// Worker thread producer for esm.mjs: attaches to the shared ring and publishes 1 .. n.
import { workerData } from 'node:worker_threads'
import { Disruptor } from 'napi-disruptor'

const d = Disruptor.attach(workerData.handle)
const f64 = new Float64Array(d.buffer)
for (let i = 1; i <= workerData.n; i++) {
  const seq = d.next()
  f64[d.offset(seq) / 8] = i
  d.publish(seq)
}
