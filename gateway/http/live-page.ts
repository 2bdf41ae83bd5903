/**
 * GET /: the live page. One self-contained document: its style and script are inline, nothing
 * is fetched but /events from the same origin (no CDN, no build step, no external asset), and
 * its Content-Security-Policy allows exactly that: the inline style and script by their SHA-256
 * (CSP Level 3 hash sources), connections to 'self', nothing else.
 *
 * The page shows each sensor's current value and a chart of the last hour (inline SVG drawn by
 * the script), fed by the event stream (event-streams.ts). A simulated sensor carries a
 * SIMULATED badge next to its value, and every chart of one is labelled the same way. The page
 * keeps at most one point per second and one hour per sensor, like the server's history.
 *
 * A multi-quantity sensor (ABI 1.1) shows each quantity under the sensor's name: its value and
 * its own chart (one y axis per unit: a temperature and a humidity do not share a scale), fed by
 * the `values` of each reading and the per-quantity columns of the history (event-streams.ts).
 * A single-quantity sensor's card is as it was.
 */
import { createHash } from 'node:crypto';

const STYLE = `
:root { color-scheme: light dark; font-family: system-ui, sans-serif; }
body { margin: 0 auto; max-width: 52rem; padding: 1rem; }
h1 { font-size: 1.2rem; font-weight: 600; }
#status { font-size: .85rem; opacity: .75; }
.sensor { border: 1px solid #8886; border-radius: .5rem; padding: .75rem 1rem; margin: 1rem 0; }
.head { display: flex; align-items: baseline; gap: .75rem; flex-wrap: wrap; }
.name { font-weight: 600; }
.value { font-size: 2.4rem; font-variant-numeric: tabular-nums; }
.time { font-size: .85rem; opacity: .75; }
.sim { background: #c60; color: #fff; font-weight: 700; letter-spacing: .05em; padding: .1rem .5rem; border-radius: .25rem; }
.fault { color: #c00; font-size: .9rem; }
.quantity { margin-top: .5rem; }
.quantity .qname { font-weight: 600; min-width: 7rem; }
.quantity .value { font-size: 1.8rem; }
svg { width: 100%; height: 10rem; display: block; }
svg .line { fill: none; stroke: #06c; stroke-width: 1.5; vector-effect: non-scaling-stroke; }
svg .sim-line { stroke: #c60; stroke-dasharray: 4 3; }
svg text { font-size: 10px; fill: currentColor; opacity: .7; }
svg .grid { stroke: #8884; stroke-width: 1; vector-effect: non-scaling-stroke; }
`;

const SCRIPT = `
'use strict';
const HOUR = 3600000, STEP = 1000;
const UNITS = { Cel: '\\u00b0C', K: 'K', degF: '\\u00b0F' };
const sensors = new Map();
const statusEl = document.getElementById('status');
const list = document.getElementById('sensors');
const SVGNS = 'http://www.w3.org/2000/svg';

function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

function chart(label, simulated) {
  const svg = document.createElementNS(SVGNS, 'svg');
  svg.setAttribute('viewBox', '0 0 600 160');
  svg.setAttribute('preserveAspectRatio', 'none');
  svg.setAttribute('role', 'img');
  svg.setAttribute('aria-label', label + ', last hour' + (simulated ? ' (SIMULATED)' : ''));
  return svg;
}

// One series per quantity; a single-quantity sensor keeps its value in the head line, as before.
function card(s) {
  const qs = s.quantities && s.quantities.length > 0 ? s.quantities : [{ name: s.quantity, unit: s.unit }];
  const multi = qs.length > 1;
  const box = el('section', 'sensor');
  box.dataset.sensor = s.name;
  const head = el('div', 'head');
  head.append(el('span', 'name', s.name + ' (' + s.path + ')'));
  const series = qs.map((q) => ({ name: q.name, points: [], value: el('span', 'value', '\u2013'), svg: chart(s.name + (multi ? ' ' + q.name : ''), s.simulated), dirty: true }));
  if (!multi) head.append(series[0].value);
  const sim = el('span', 'sim', 'SIMULATED');
  sim.title = 'A simulated chip answers for this sensor: not a measurement';
  sim.hidden = !s.simulated;
  head.append(sim);
  const time = el('span', 'time', '');
  head.append(time);
  const fault = el('div', 'fault', '');
  box.append(head, fault);
  if (!multi) box.append(series[0].svg);
  else for (const x of series) {
    const row = el('div', 'quantity');
    row.dataset.quantity = x.name;
    const line = el('div', 'head');
    line.append(el('span', 'qname', x.name), x.value);
    row.append(line, x.svg);
    box.append(row);
  }
  list.append(box);
  return { meta: s, series, sim, time, fault };
}

function unitOf(u) { return UNITS[u] || u; }

function add(entry, t, v) {
  if (typeof v !== 'number') return;
  const pts = entry.points;
  const last = pts[pts.length - 1];
  if (!last || t - last[0] >= STEP) pts.push([t, v]);
  else last[1] = v;
  const oldest = t - HOUR;
  let drop = 0;
  while (drop < pts.length && pts[drop][0] < oldest) drop++;
  if (pts.length - drop > HOUR / STEP) drop = pts.length - HOUR / STEP;
  if (drop > 0) pts.splice(0, drop);
  entry.dirty = true;
}

function draw(sensor, entry) {
  entry.dirty = false;
  const svg = entry.svg, pts = entry.points;
  while (svg.firstChild) svg.removeChild(svg.firstChild);
  if (pts.length === 0) return;
  const t1 = pts[pts.length - 1][0], t0 = t1 - HOUR;
  let lo = Infinity, hi = -Infinity;
  for (const p of pts) { if (p[1] < lo) lo = p[1]; if (p[1] > hi) hi = p[1]; }
  if (hi - lo < 1) { const mid = (hi + lo) / 2; lo = mid - 0.5; hi = mid + 0.5; }
  const x = (t) => 40 + ((t - t0) / HOUR) * 555, y = (v) => 150 - ((v - lo) / (hi - lo)) * 140;
  for (const [v, yy] of [[hi, 10], [lo, 150]]) {
    const g = document.createElementNS(SVGNS, 'line');
    g.setAttribute('class', 'grid'); g.setAttribute('x1', '40'); g.setAttribute('x2', '595');
    g.setAttribute('y1', String(yy)); g.setAttribute('y2', String(yy));
    const label = document.createElementNS(SVGNS, 'text');
    label.setAttribute('x', '0'); label.setAttribute('y', String(yy + 3));
    label.textContent = v.toFixed(1);
    svg.append(g, label);
  }
  const line = document.createElementNS(SVGNS, 'polyline');
  line.setAttribute('class', sensor.meta.simulated ? 'line sim-line' : 'line');
  line.setAttribute('points', pts.map((p) => x(p[0]).toFixed(1) + ',' + y(p[1]).toFixed(1)).join(' '));
  svg.append(line);
  const caption = document.createElementNS(SVGNS, 'text');
  caption.setAttribute('x', '45'); caption.setAttribute('y', '158');
  caption.textContent = '\u221260 min' + (sensor.meta.simulated ? ' (SIMULATED)' : '');
  const now = document.createElementNS(SVGNS, 'text');
  now.setAttribute('x', '575'); now.setAttribute('y', '158');
  now.textContent = 'now';
  svg.append(caption, now);
}

function show(sensor, r) {
  for (let i = 0; i < sensor.series.length; i++) {
    const x = sensor.series[i];
    const q = r.values ? r.values[x.name] : (i === 0 ? { value: r.value, unit: r.unit } : undefined);
    if (!q) continue;
    x.value.textContent = q.value + ' ' + unitOf(q.unit);
    add(x, r.time, q.value);
  }
  sensor.sim.hidden = !r.simulated;
  sensor.time.textContent = new Date(r.time).toLocaleTimeString();
  sensor.fault.textContent = '';
}

const source = new EventSource('/events');
source.addEventListener('hello', (ev) => {
  const hello = JSON.parse(ev.data);
  for (const s of hello.sensors) {
    if (sensors.has(s.name)) continue;
    const entry = card(s);
    sensors.set(s.name, entry);
    // A history point is [time, value of each quantity in the order of s.quantities].
    for (const p of hello.history[s.name] || []) entry.series.forEach((x, i) => add(x, p[0], p[i + 1]));
  }
  statusEl.textContent = 'live';
});
source.addEventListener('reading', (ev) => {
  const r = JSON.parse(ev.data);
  const entry = sensors.get(r.sensor);
  if (!entry) return;
  entry.meta.simulated = r.simulated;
  show(entry, r);
});
source.addEventListener('fault', (ev) => {
  const f = JSON.parse(ev.data);
  const entry = sensors.get(f.sensor);
  if (entry) entry.fault.textContent = 'no reading: ' + f.code;
});
source.onopen = () => { statusEl.textContent = 'live'; };
source.onerror = () => { statusEl.textContent = 'reconnecting\\u2026'; };
setInterval(() => { for (const e of sensors.values()) for (const x of e.series) if (x.dirty) draw(e, x); }, 1000);
`;

const sha256 = (s: string): string => `'sha256-${createHash('sha256').update(s, 'utf8').digest('base64')}'`;

/**
 * Only the page's own inline style and script (by hash), EventSource to the same origin, and no
 * framing (clickjacking). form-action and base-uri do not fall back to default-src, so they are named.
 */
export const LIVE_PAGE_CSP = `default-src 'none'; script-src ${sha256(SCRIPT)}; style-src ${sha256(STYLE)}; connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'`;

export const LIVE_PAGE_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>coap-sensor-gateway: live</title>
<style>${STYLE}</style>
</head>
<body>
<h1>coap-sensor-gateway <span id="status">connecting\u2026</span></h1>
<div id="sensors"></div>
<script>${SCRIPT}</script>
</body>
</html>
`;
