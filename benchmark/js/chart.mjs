// A hand-made SVG bar chart of the throughput results (no dependency): one horizontal bar per
// system and batch size, grouped by topology, on a logarithmic events/s axis.

import { fmtRate } from './common.mjs'

/** Axis ticks are powers of ten: 100K, 1M, 10M, ... */
function tickLabel(v) {
  const units = [
    [1e9, 'G'],
    [1e6, 'M'],
    [1e3, 'K'],
  ]
  for (const [u, name] of units) if (v >= u) return `${Math.round(v / u)}${name}`
  return String(Math.round(v))
}

const esc = (s) => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')

const COLORS = {
  'napi-disruptor': '#d9480f',
  'sab-ring': '#1c7ed6',
  'shared-memory-disruptor': '#7048e8',
  postMessage: '#868e96',
}

/**
 * groups: [{ title, bars: [{ label, system, value, min, max }] }]; returns the SVG text.
 */
export function barChart({ title, subtitle, groups }) {
  const width = 980
  const labelW = 330
  const valueW = 90
  const plotX = labelW + 10
  const plotW = width - plotX - valueW - 10
  const barH = 18
  const gap = 6
  const groupGap = 34
  const top = 74

  const all = groups.flatMap((g) => g.bars.flatMap((b) => [b.value, b.min ?? b.value, b.max ?? b.value]))
  const positive = all.filter((v) => v > 0)
  const lo = 10 ** Math.floor(Math.log10(Math.min(...positive) / 3)) // the smallest bar stays visible
  const hi = 10 ** Math.ceil(Math.log10(Math.max(...positive)))
  const x = (v) => plotX + (plotW * (Math.log10(Math.max(v, lo)) - Math.log10(lo))) / (Math.log10(hi) - Math.log10(lo))

  let y = top
  const parts = []
  for (const g of groups) {
    y += groupGap
    parts.push(`<text x="10" y="${y - 10}" class="group">${esc(g.title)}</text>`)
    for (const b of g.bars) {
      const color = COLORS[b.system] ?? '#495057'
      const w = Math.max(1, x(b.value) - plotX)
      parts.push(`<text x="${labelW}" y="${y + barH - 5}" class="label" text-anchor="end">${esc(b.label)}</text>`)
      parts.push(`<rect x="${plotX}" y="${y}" width="${w.toFixed(1)}" height="${barH}" fill="${color}" rx="2"/>`)
      if (b.min !== undefined && b.max !== undefined && b.max > b.min) {
        const y0 = y + barH / 2
        parts.push(
          `<line x1="${x(b.min).toFixed(1)}" y1="${y0}" x2="${x(b.max).toFixed(1)}" y2="${y0}" stroke="#212529" stroke-width="1.2"/>` +
            `<line x1="${x(b.min).toFixed(1)}" y1="${y0 - 4}" x2="${x(b.min).toFixed(1)}" y2="${y0 + 4}" stroke="#212529" stroke-width="1.2"/>` +
            `<line x1="${x(b.max).toFixed(1)}" y1="${y0 - 4}" x2="${x(b.max).toFixed(1)}" y2="${y0 + 4}" stroke="#212529" stroke-width="1.2"/>`,
        )
      }
      parts.push(`<text x="${width - valueW}" y="${y + barH - 5}" class="value">${esc(fmtRate(b.value))}/s</text>`)
      y += barH + gap
    }
  }
  const bottom = y + 10
  const axis = []
  for (let v = lo; v <= hi * 1.0001; v *= 10) {
    const xv = x(v).toFixed(1)
    axis.push(`<line x1="${xv}" y1="${top}" x2="${xv}" y2="${bottom}" stroke="#dee2e6"/>`)
    axis.push(`<text x="${xv}" y="${bottom + 16}" class="tick" text-anchor="middle">${esc(tickLabel(v))}</text>`)
  }
  const height = bottom + 44
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="-apple-system, Segoe UI, Helvetica, Arial, sans-serif">`,
    '<style>.title{font-size:17px;font-weight:600}.sub{font-size:12px;fill:#495057}.group{font-size:13px;font-weight:600}' +
      '.label{font-size:12px}.value{font-size:12px;fill:#212529}.tick{font-size:11px;fill:#495057}</style>',
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
    `<text x="10" y="24" class="title">${esc(title)}</text>`,
    `<text x="10" y="44" class="sub">${esc(subtitle)}</text>`,
    `<text x="10" y="62" class="sub">events/s, log scale; bar = median, whisker = min to max of the runs</text>`,
    ...axis,
    ...parts,
    `<text x="${plotX + plotW / 2}" y="${height - 8}" class="tick" text-anchor="middle">events/s (log scale)</text>`,
    '</svg>',
    '',
  ].join('\n')
}
