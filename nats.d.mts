// Types of `napi-disruptor/nats` as an ES module (nats.mjs): the declarations `npm run build:ts`
// generates from src/nats/.
import cjs from './dist/nats/index.js'

export * from './dist/nats/index.js'
export default cjs
