'use strict'
// Reads the XML reports of valgrind memcheck runs of scripts/memcheck/fixture.js and decides
// what scripts/memcheck.sh reports:
//
//   node scripts/memcheck/report.js --addon FILE [--max-growth BYTES] \
//     [--teardown RUN.xml] [--small RUN.xml --large RUN.xml]
//   node scripts/memcheck/report.js --self-test
//
// A record (an error or a leak) is the addon's when a frame of its stack is in the addon (the
// loaded .node file, by file name) or names one of its crates (napi_disruptor, disruptor_core),
// and no frame above it is JavaScript running or V8 growing its heap (V8's memory, merely
// allocated during a call from the addon). Node and V8 have their own memcheck noise
// (conservative stack scanning, memory only the OS frees at exit): records that are not the
// addon's are counted, never judged, except invalid accesses and frees.
//
// Fails (exit code 1) when:
//   - any run has an invalid read, write or free anywhere (Node has none; JavaScript reading a
//     freed ring through a stale view would have no frame of the addon), or any other memcheck
//     error (uninitialised value, bad syscall argument, ...) that is the addon's;
//   - in the teardown run (the process ran out of work: finalizers and env cleanup hooks ran),
//     a block the addon allocated is definitely or indirectly lost (and not suppressed);
//   - the addon's bytes not freed at exit (every kind: definitely, indirectly, possibly lost
//     and still reachable) are more than BYTES (default 1024) higher in the large run than in
//     the small one. Both end with process.exit after full GCs, so what is not freed is what
//     the process keeps alive: a ring kept per open/close cycle costs ~5 KiB here even while
//     a map still points at it, and a byte kept per event shows as thousands. The addon's
//     one-time allocations (napi-rs class registration, the ring registry, the one ring the
//     fixture leaves open) are the same in both runs: measured growth is 0 when nothing leaks.
//   - a run has no record of the addon at all (the attribution would be blind).

const { readFileSync } = require('node:fs')
const { basename } = require('node:path')

const OUR_CRATES = /\b(napi_disruptor|disruptor_core)\b/
// Frames of JavaScript running (called back from the addon) or of V8 growing its own heap:
// memory allocated under them belongs to V8 even when a frame of the addon is further down.
const V8_OWNED =
  /^(v8::Function::Call|v8::internal::Execution::|Builtins_JSEntry|node::InternalMakeCallback|node::MakeCallback|v8::internal::(MemoryAllocator|PagedSpace\w*|MemoryChunk|Page|Heap)::)/
// Memcheck errors that fail the run wherever they are: Node and V8 have none of them, and JavaScript
// touching freed native memory (a view over a freed ring) shows up with no frame of the addon.
const INVALID = /^(Invalid(Read|Write|Free|MemPool)|MismatchedFree|Overlap)$/

const ENTITIES = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" }
const decode = (s) =>
  s.replace(/&(lt|gt|amp|quot|apos|#\d+);/g, (_m, e) =>
    e[0] === '#' ? String.fromCharCode(Number(e.slice(1))) : ENTITIES[e],
  )

const tag = (xml, name) => {
  const m = xml.match(new RegExp(`<${name}>([\\s\\S]*?)</${name}>`))
  return m ? decode(m[1].trim()) : undefined
}

/** The errors and loss records of one valgrind XML report. */
function parse(xml, addon) {
  if (!/<valgrindoutput>/.test(xml)) throw new Error('not a valgrind XML report')
  if (!/<\/valgrindoutput>/.test(xml)) throw new Error('valgrind XML report is truncated (did valgrind finish?)')
  const addonName = basename(addon)
  const records = []
  for (const m of xml.matchAll(/<error>([\s\S]*?)<\/error>/g)) {
    const body = m[1]
    // The allocation stack of a leak, or the main stack of an error (not auxwhat stacks).
    const stack = body.match(/<stack>([\s\S]*?)<\/stack>/)
    const frames = stack
      ? [...stack[1].matchAll(/<frame>([\s\S]*?)<\/frame>/g)].map((f) => ({
          fn: tag(f[1], 'fn') ?? '???',
          obj: tag(f[1], 'obj') ?? '',
          file: tag(f[1], 'file'),
          line: tag(f[1], 'line'),
        }))
      : []
    const kind = tag(body, 'kind')
    const what = tag(body, 'text') ?? tag(body, 'what') ?? ''
    const isOurs = (f) => basename(f.obj) === addonName || OUR_CRATES.test(f.fn)
    const first = frames.findIndex(isOurs)
    const ours = first !== -1 && !frames.slice(0, first).some((f) => V8_OWNED.test(f.fn))
    records.push({
      kind,
      what: what.replace(/\s+/g, ' '),
      bytes: Number(tag(body, 'leakedbytes') ?? 0),
      blocks: Number(tag(body, 'leakedblocks') ?? 0),
      frames,
      ours,
    })
  }
  const suppressed = [...xml.matchAll(/<pair>\s*<count>(\d+)<\/count>\s*<name>([\s\S]*?)<\/name>\s*<\/pair>/g)].map(
    (p) => ({ count: Number(p[1]), name: decode(p[2].trim()) }),
  )
  return { records, suppressed }
}

const LEAK_KINDS = {
  Leak_DefinitelyLost: 'definitely',
  Leak_IndirectlyLost: 'indirectly',
  Leak_PossiblyLost: 'possibly',
  Leak_StillReachable: 'reachable',
}

const LEAK_LABELS = {
  definitely: 'definitely lost',
  indirectly: 'indirectly lost',
  possibly: 'possibly lost',
  reachable: 'still reachable',
}

function summarize(run) {
  const s = { errors: 0, ourErrors: [], leaks: {}, ourLeaks: {}, ourUnfreed: 0 }
  for (const k of Object.values(LEAK_KINDS)) {
    s.leaks[k] = 0
    s.ourLeaks[k] = 0
  }
  for (const r of run.records) {
    const leak = LEAK_KINDS[r.kind]
    if (leak === undefined) {
      s.errors++
      if (r.ours || INVALID.test(r.kind)) s.ourErrors.push(r)
      continue
    }
    s.leaks[leak] += r.bytes
    if (r.ours) {
      s.ourLeaks[leak] += r.bytes
      s.ourUnfreed += r.bytes
    }
  }
  return s
}

/** Stack of a record, as lines (our frames and their neighbours; at most `max`). */
function stackLines(r, max = 16) {
  return r.frames.slice(0, max).map((f) => {
    const where = f.file ? ` (${f.file}:${f.line})` : f.obj ? ` [${basename(f.obj)}]` : ''
    return `      ${f.fn}${where}`
  })
}

/** A key that identifies "the same allocation site" in two runs. */
const site = (r) =>
  `${r.kind} ${r.frames
    .slice(0, 12)
    .map((f) => f.fn)
    .join(' < ')}`

/**
 * The verdict on a set of runs: `runs` maps a label ('teardown', 'small', 'large') to a parsed
 * report. Every run is checked for the addon's memcheck errors, 'teardown' for the addon's
 * lost blocks, and 'small' -> 'large' for growth.
 */
function judge(runs, maxGrowth) {
  const labels = Object.keys(runs)
  const sums = Object.fromEntries(labels.map((l) => [l, summarize(runs[l])]))
  const failures = []
  const lines = []
  const row = (label, f) =>
    lines.push(`  ${label.padEnd(46)}${labels.map((l) => String(f(sums[l])).padStart(10)).join('')}`)
  lines.push(`  ${'(bytes unless said otherwise)'.padEnd(46)}${labels.map((l) => l.padStart(10)).join('')}`)
  row('memcheck errors, all of node (count)', (s) => s.errors)
  row('memcheck errors judged (count, see above)', (s) => s.ourErrors.length)
  for (const [k, label] of Object.entries(LEAK_LABELS)) row(`addon: ${label} at exit`, (s) => s.ourLeaks[k])
  row('addon: not freed at exit, all kinds', (s) => s.ourUnfreed)
  row('all of node: definitely lost (not judged)', (s) => s.leaks.definitely)
  for (const l of labels) {
    for (const r of sums[l].ourErrors) {
      failures.push(`${l} run: ${r.kind}: ${r.what}\n${stackLines(r).join('\n')}`)
    }
    // Lost blocks are judged after a full teardown only: a run cut short by process.exit
    // leaves live objects whose only pointers V8 or napi-rs hold in forms memcheck cannot see.
    for (const r of l === 'teardown' ? runs[l].records : []) {
      if (r.ours && (r.kind === 'Leak_DefinitelyLost' || r.kind === 'Leak_IndirectlyLost')) {
        failures.push(`${l} run: ${r.what}\n${stackLines(r).join('\n')}`)
      }
    }
    if (sums[l].ourUnfreed === 0 && sums[l].ourErrors.length === 0) {
      // The addon allocates at load (napi-rs class registration) and keeps it: seeing none of
      // it means the attribution is blind (another addon loaded, or frames not resolved).
      failures.push(`${l} run: no record is attributed to the addon: the check would see nothing`)
    }
  }
  if (runs.small !== undefined && runs.large !== undefined) {
    const growth = sums.large.ourUnfreed - sums.small.ourUnfreed
    lines.push(`  growth of the addon's unfreed bytes, small -> large: ${growth} (allowed: ${maxGrowth})`)
    if (growth > maxGrowth) {
      // Which allocation sites grew, largest first.
      const bySite = new Map()
      for (const [sign, run] of [
        [-1, runs.small],
        [1, runs.large],
      ]) {
        for (const r of run.records) {
          if (!r.ours || LEAK_KINDS[r.kind] === undefined) continue
          const k = site(r)
          const e = bySite.get(k) ?? { bytes: 0, blocks: 0, sample: r }
          e.bytes += sign * r.bytes
          e.blocks += sign * r.blocks
          if (sign === 1) e.sample = r
          bySite.set(k, e)
        }
      }
      const grown = [...bySite.values()].filter((e) => e.bytes > 0).sort((x, y) => y.bytes - x.bytes)
      const detail = grown
        .slice(0, 4)
        .map(
          (e) =>
            `    +${e.bytes} bytes in ${e.blocks >= 0 ? '+' : ''}${e.blocks} blocks, ${LEAK_LABELS[LEAK_KINDS[e.sample.kind]]}:\n` +
            stackLines(e.sample, 18).join('\n'),
        )
      failures.push(
        `the addon's unfreed bytes grew by ${growth} (> ${maxGrowth}) from the small to the large run: ` +
          'something kept per event or per open/close cycle (the stacks say what is kept; what keeps it is ' +
          'often JavaScript: a Map, Set or closure holding a Disruptor, a view or a buffer of a closed ' +
          `ring). Allocation sites that grew:\n${detail.join('\n')}`,
      )
    }
  }
  for (const l of labels) {
    const s = runs[l].suppressed.map((p) => `${p.name} x${p.count}`).join(', ') || 'none'
    lines.push(`  suppressed in the ${l} run (scripts/memcheck/node.supp): ${s}`)
  }
  return { ok: failures.length === 0, lines, failures }
}

// ---- self test: synthetic reports, each with the verdict it must get ----

function selfTest() {
  const addon = '/tmp/x/napi-disruptor.linux-x64-gnu.node'
  const frame = (fn, obj) => `<frame><ip>0x1</ip><obj>${obj}</obj><fn>${fn}</fn></frame>`
  const ourStack = `<stack>${frame('malloc', '/usr/libexec/valgrind/vgpreload_memcheck-amd64-linux.so')}${frame(
    'new&lt;alloc::sync::ArcInner&lt;napi_disruptor::ring::Shared&gt;&gt;',
    addon,
  )}${frame('node::Start', '/usr/bin/node')}</stack>`
  const strippedStack = `<stack>${frame('malloc', '/usr/lib/vg.so')}${frame('???', addon)}</stack>`
  const nodeStack = `<stack>${frame('malloc', '/usr/lib/vg.so')}${frame('v8::internal::Heap::Setup', '/usr/bin/node')}</stack>`
  const v8FromOurs = `<stack>${frame('_Znwm', '/usr/lib/vg.so')}${frame(
    'v8::internal::MemoryAllocator::AllocatePage(int)',
    '/usr/bin/node',
  )}${frame('v8::Function::Call(int)', '/usr/bin/node')}${frame('napi::threadsafe_function::call_js_cb', addon)}</stack>`
  const jitStack = `<stack>${frame('???', '')}${frame('Builtins_InterpreterEntryTrampoline', '/usr/bin/node')}</stack>`
  const leak = (kind, bytes, blocks, stack) =>
    `<error><unique>0x1</unique><tid>1</tid><kind>${kind}</kind><xwhat><text>${bytes} bytes in ${blocks} blocks</text>` +
    `<leakedbytes>${bytes}</leakedbytes><leakedblocks>${blocks}</leakedblocks></xwhat>${stack}</error>`
  const error = (kind, stack) =>
    `<error><unique>0x2</unique><tid>1</tid><kind>${kind}</kind><what>bad</what>${stack}</error>`
  const doc = (...errors) =>
    `<?xml version="1.0"?>\n<valgrindoutput><protocolversion>4</protocolversion>${errors.join('\n')}` +
    '<suppcounts></suppcounts></valgrindoutput>'
  const baseline = [leak('Leak_PossiblyLost', 5184, 1, ourStack), leak('Leak_DefinitelyLost', 4096, 2, nodeStack)]
  const clean = doc(...baseline)
  const cases = [
    [
      'clean runs with node-only noise',
      { teardown: doc(...baseline, error('UninitCondition', nodeStack)), small: clean, large: clean },
      true,
    ],
    ['an invalid read in the addon', { small: clean, large: doc(...baseline, error('InvalidRead', ourStack)) }, false],
    ['an invalid write in a stripped addon', { teardown: doc(error('InvalidWrite', strippedStack)) }, false],
    [
      'an invalid read in JavaScript, no frame of the addon',
      { teardown: doc(...baseline, error('InvalidRead', jitStack)) },
      false,
    ],
    ['an uninitialised value in V8 only', { teardown: doc(...baseline, error('UninitValue', nodeStack)) }, true],
    [
      'V8 heap pages allocated in JavaScript the addon called',
      { small: clean, large: doc(...baseline, leak('Leak_StillReachable', 4800, 40, v8FromOurs)) },
      true,
    ],
    [
      'a definite leak in the addon, after teardown',
      { teardown: doc(...baseline, leak('Leak_DefinitelyLost', 48, 1, ourStack)) },
      false,
    ],
    [
      'a definite leak in the addon, after process.exit (not judged)',
      {
        small: doc(...baseline, leak('Leak_DefinitelyLost', 32, 1, ourStack)),
        large: doc(...baseline, leak('Leak_DefinitelyLost', 32, 1, ourStack)),
      },
      true,
    ],
    [
      'growth within the allowance',
      {
        small: doc(...baseline, leak('Leak_PossiblyLost', 240, 2, ourStack)),
        large: doc(...baseline, leak('Leak_PossiblyLost', 960, 8, ourStack)),
      },
      true, // 720 bytes, allowed: 1024
    ],
    [
      'still-reachable rings that grow with cycles',
      {
        small: doc(...baseline, leak('Leak_StillReachable', 1200, 10, ourStack)),
        large: doc(...baseline, leak('Leak_StillReachable', 4800, 40, ourStack)),
      },
      false,
    ],
    [
      'nothing attributed to the addon (blind)',
      { teardown: doc(leak('Leak_DefinitelyLost', 4096, 2, nodeStack)) },
      false,
    ],
    ['a truncated report', { teardown: clean.replace('</valgrindoutput>', '') }, 'throws'],
  ]
  let bad = 0
  for (const [name, docs, want] of cases) {
    let got
    try {
      const runs = Object.fromEntries(Object.entries(docs).map(([l, d]) => [l, parse(d, addon)]))
      got = judge(runs, 1024).ok
    } catch {
      got = 'throws'
    }
    const pass = got === want
    if (!pass) bad++
    console.log(`  ${pass ? 'ok  ' : 'FAIL'} ${name}: ${got === true ? 'passes' : got === false ? 'fails' : got}`)
  }
  if (bad > 0) {
    console.log(`report.js self test FAILED: ${bad} case(s)`)
    process.exitCode = 1
  } else {
    console.log('report.js self test ok')
  }
}

function main(argv) {
  if (argv.includes('--self-test')) return selfTest()
  let addon
  let maxGrowth = 1024
  const files = {}
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]
    if (a === '--addon') addon = argv[++i]
    else if (a === '--max-growth') maxGrowth = Number(argv[++i])
    else if (a === '--teardown' || a === '--small' || a === '--large') files[a.slice(2)] = argv[++i]
    else files.bad = a
  }
  if (
    addon === undefined ||
    files.bad !== undefined ||
    Object.keys(files).length === 0 ||
    !Number.isFinite(maxGrowth)
  ) {
    console.error(
      'usage: report.js --addon FILE [--max-growth BYTES] [--teardown X.xml] [--small X.xml --large X.xml]\n' +
        '       report.js --self-test',
    )
    process.exitCode = 2
    return
  }
  const runs = Object.fromEntries(Object.entries(files).map(([l, f]) => [l, parse(readFileSync(f, 'utf8'), addon)]))
  const verdict = judge(runs, maxGrowth)
  console.log(verdict.lines.join('\n'))
  if (verdict.ok) {
    console.log('node memcheck ok: no memcheck error in the addon, nothing of it lost, no growth')
  } else {
    for (const f of verdict.failures) console.log(`FAIL: ${f}`)
    console.log(`node memcheck FAILED (${verdict.failures.length} problem(s))`)
    process.exitCode = 1
  }
}

main(process.argv.slice(2))
