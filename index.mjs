// ES module entry point (package.json "exports" -> "import"). The implementation is the CommonJS
// build of src/ (dist/index.js), loaded once: `import` and `require` share one module instance,
// so a Disruptor created through either is the same class and the native addon loads once.
// __test__/package.spec.ts checks that this list matches dist/index.js's exports.
import { createRequire } from 'node:module'

const require = createRequire(import.meta.url)
const cjs = require('./dist/index.js')

export const {
  Disruptor,
  Dispatcher,
  EventHandlerGroup,
  StageBuilder,
  Poller,
  ProcessRing,
  ProcessConsumer,
  defineEvent,
  engineVersion,
} = cjs
export default cjs
