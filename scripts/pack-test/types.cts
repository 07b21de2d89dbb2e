// Type-checked (tsc --noEmit, module nodenext) against the installed package's types: CommonJS side.
import napi = require('napi-disruptor')

const d = new napi.Disruptor({ size: 64, slotSize: 8 })
d.handleEventsWith({ name: 'journal', onBatch: (lo: number, hi: number) => void (hi - lo) }).andThen((lo, hi) => {
  void (hi - lo)
})
const version: string = napi.engineVersion()
void version
// @ts-expect-error publish takes sequences, not strings
d.publish('1')
