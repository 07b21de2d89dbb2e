// Types of the ES module entry point (index.mjs): the same declarations as index.d.ts, which
// `npm run build:ts` generates from index.ts.
import cjs from './index.js'

export * from './index.js'
export default cjs
