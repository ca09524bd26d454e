// A small dependency-free SVG line chart: axes with ticks, a legend, several series, each a
// list of [x, y] points. Used by the studio's training card and the detector page (loss and
// eval mAP per epoch, precision–recall curves). `lineChart(opts)` returns an element whose
// `update(series)` redraws it in place (live training).
import { h } from './dom.js';

const SVG = 'http://www.w3.org/2000/svg';
const W = 640;
const H = 280;
const PAD = { left: 56, right: 56, top: 14, bottom: 46 };

/** The colours series take in order (readable on light and dark surfaces). */
export const SERIES_COLOURS = ['#4450c8', '#d9480f', '#2b8a3e', '#ae3ec9', '#0b7285', '#e67700'];

function el(tag, attrs = {}, text) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) if (v !== undefined && v !== null) node.setAttribute(k, String(v));
  if (text !== undefined) node.textContent = text;
  return node;
}

/** "Nice" tick values covering [lo, hi], about `count` of them. */
export function ticks(lo, hi, count = 5) {
  if (!Number.isFinite(lo) || !Number.isFinite(hi)) return [];
  if (hi === lo) hi = lo + 1;
  const raw = (hi - lo) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) || raw;
  const out = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(Number(v.toFixed(10)));
  return out;
}

function fmt(v) {
  if (Math.abs(v) >= 100) return String(Math.round(v));
  return String(Number(v.toPrecision(3)));
}

/**
 * A line chart. opts: {label (accessible name), xLabel, yLabel, y2Label?, xMin?, xMax?,
 * yMin?, yMax?, y2Min?, y2Max?, series: [{name, points: [[x, y]], axis?: 'y2', colour?, dashed?}],
 * empty (text shown while there are no points)}. Series on `axis: 'y2'` use the right axis.
 */
export function lineChart(opts) {
  const svg = el('svg', { viewBox: `0 0 ${W} ${H}`, class: 'chart-svg', role: 'img', 'aria-label': opts.label });
  const legend = h('ul', { class: 'chart-legend' });
  const wrap = h('figure', { class: 'chart' }, svg, legend);
  wrap.update = (series) => draw(svg, legend, { ...opts, ...(wrap.xMax !== undefined ? { xMax: wrap.xMax } : {}), series });
  wrap.update(opts.series || []);
  return wrap;
}

function extent(values, min, max) {
  let lo = min ?? Math.min(...values);
  let hi = max ?? Math.max(...values);
  if (!values.length) { lo = min ?? 0; hi = max ?? 1; }
  if (!(hi > lo)) hi = lo + 1;
  return [lo, hi];
}

function draw(svg, legend, opts) {
  svg.replaceChildren();
  legend.replaceChildren();
  const series = opts.series.map((s, i) => ({ ...s, colour: s.colour || SERIES_COLOURS[i % SERIES_COLOURS.length] }));
  const left = series.filter((s) => s.axis !== 'y2');
  const right = series.filter((s) => s.axis === 'y2');
  const all = series.flatMap((s) => s.points);
  const [x0, x1] = extent(all.map((p) => p[0]), opts.xMin, opts.xMax);
  const [y0, y1] = extent(left.flatMap((s) => s.points.map((p) => p[1])), opts.yMin, opts.yMax);
  const [r0, r1] = extent(right.flatMap((s) => s.points.map((p) => p[1])), opts.y2Min, opts.y2Max);
  const iw = W - PAD.left - (right.length ? PAD.right : 16);
  const ih = H - PAD.top - PAD.bottom;
  const sx = (x) => PAD.left + ((x - x0) / (x1 - x0)) * iw;
  const sy = (y) => PAD.top + ih - ((y - y0) / (y1 - y0)) * ih;
  const sr = (y) => PAD.top + ih - ((y - r0) / (r1 - r0)) * ih;

  const grid = el('g', { class: 'chart-grid' });
  const axes = el('g', { class: 'chart-axes' });
  for (const v of ticks(y0, y1, 5)) {
    grid.append(el('line', { x1: PAD.left, x2: PAD.left + iw, y1: sy(v), y2: sy(v) }));
    axes.append(el('text', { x: PAD.left - 6, y: sy(v) + 4, 'text-anchor': 'end' }, fmt(v)));
  }
  if (right.length) {
    for (const v of ticks(r0, r1, 5)) axes.append(el('text', { x: PAD.left + iw + 6, y: sr(v) + 4, 'text-anchor': 'start' }, fmt(v)));
  }
  const xt = ticks(x0, x1, Math.min(8, Math.max(2, Math.round(x1 - x0))));
  for (const v of xt) {
    axes.append(el('line', { class: 'chart-tick', x1: sx(v), x2: sx(v), y1: PAD.top + ih, y2: PAD.top + ih + 5 }));
    axes.append(el('text', { x: sx(v), y: PAD.top + ih + 20, 'text-anchor': 'middle' }, fmt(v)));
  }
  axes.append(el('line', { class: 'chart-axis', x1: PAD.left, x2: PAD.left + iw, y1: PAD.top + ih, y2: PAD.top + ih }));
  axes.append(el('line', { class: 'chart-axis', x1: PAD.left, x2: PAD.left, y1: PAD.top, y2: PAD.top + ih }));
  if (opts.xLabel) axes.append(el('text', { class: 'chart-title', x: PAD.left + iw / 2, y: H - 4, 'text-anchor': 'middle' }, opts.xLabel));
  if (opts.yLabel) axes.append(el('text', { class: 'chart-title chart-title-y', x: 12, y: PAD.top + ih / 2, 'text-anchor': 'middle', transform: `rotate(-90 12 ${PAD.top + ih / 2})` }, opts.yLabel));
  if (opts.y2Label && right.length) {
    const x = W - 10;
    axes.append(el('text', { class: 'chart-title chart-title-y', x, y: PAD.top + ih / 2, 'text-anchor': 'middle', transform: `rotate(90 ${x} ${PAD.top + ih / 2})` }, opts.y2Label));
  }
  svg.append(grid, axes);

  if (!all.length && opts.empty) {
    svg.append(el('text', { class: 'chart-empty', x: PAD.left + iw / 2, y: PAD.top + ih / 2, 'text-anchor': 'middle' }, opts.empty));
  }
  for (const s of series) {
    const y = s.axis === 'y2' ? sr : sy;
    const pts = s.points.filter((p) => Number.isFinite(p[0]) && Number.isFinite(p[1]));
    if (pts.length) {
      const d = pts.map((p, i) => `${i ? 'L' : 'M'}${sx(p[0]).toFixed(1)},${y(p[1]).toFixed(1)}`).join(' ');
      svg.append(el('path', { class: 'chart-line', d, stroke: s.colour, 'stroke-dasharray': s.dashed ? '6 4' : null }));
      if (pts.length <= 40) {
        const dots = el('g', { fill: s.colour });
        for (const p of pts) dots.append(el('circle', { cx: sx(p[0]).toFixed(1), cy: y(p[1]).toFixed(1), r: 3 }));
        svg.append(dots);
      }
    }
    const key = el('svg', { viewBox: '0 0 24 8', class: 'chart-key', 'aria-hidden': 'true' });
    key.append(el('line', { x1: 0, x2: 24, y1: 4, y2: 4, stroke: s.colour, 'stroke-width': 3, 'stroke-dasharray': s.dashed ? '5 3' : null }));
    const last = pts.length ? pts[pts.length - 1][1] : null;
    legend.append(h('li', {}, key, h('span', {}, s.name), last === null ? null : h('span', { class: 'muted' }, ` ${fmt(last)}`)));
  }
}
