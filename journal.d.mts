// Types of `napi-disruptor/journal` as an ES module (journal.mjs): the declarations `npm run
// build:ts` generates from src/journal/.
import cjs from './dist/journal/index.js'

export * from './dist/journal/index.js'
export default cjs
