// Types of the ES module entry point (index.mjs): the same declarations as dist/index.d.ts, which
// `npm run build:ts` generates from src/.
import cjs from './dist/index.js'

export * from './dist/index.js'
export default cjs
