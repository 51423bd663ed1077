/**
 * A line plot of a metric over training iterations, one line per trial, as a small hand-written SVG
 * (about 60 lines; no plotting dependency: a chart of polylines with two axes does not need one).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readResults } from './experiment-store.js';
import type { ResultGrid } from './result-grid.js';

const COLOURS = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22', '#17becf'];

const esc = (s: string) => s.replace(/[<>&"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;' })[c]!);

/** Builds the SVG text for `series` (trial id → [iteration, value][]). */
export function plotSvg(series: Record<string, [number, number][]>, metric: string, title: string): string {
  const W = 720;
  const H = 420;
  const m = { l: 64, r: 170, t: 36, b: 44 };
  const pts = Object.values(series).flat();
  const xs = pts.map((p) => p[0]);
  const ys = pts.map((p) => p[1]);
  const x0 = Math.min(0, ...xs);
  const x1 = Math.max(1, ...xs);
  let y0 = Math.min(...ys);
  let y1 = Math.max(...ys);
  if (!pts.length) [y0, y1] = [0, 1];
  if (y0 === y1) [y0, y1] = [y0 - 0.5, y1 + 0.5];
  const sx = (x: number) => m.l + ((x - x0) / (x1 - x0)) * (W - m.l - m.r);
  const sy = (y: number) => H - m.b - ((y - y0) / (y1 - y0)) * (H - m.t - m.b);
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="11">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${W / 2 - m.r / 2}" y="20" text-anchor="middle" font-size="14">${esc(title)}</text>`,
    `<line x1="${m.l}" y1="${H - m.b}" x2="${W - m.r}" y2="${H - m.b}" stroke="black"/>`,
    `<line x1="${m.l}" y1="${m.t}" x2="${m.l}" y2="${H - m.b}" stroke="black"/>`,
    `<text x="${(m.l + W - m.r) / 2}" y="${H - 8}" text-anchor="middle">training_iteration</text>`,
    `<text x="14" y="${(m.t + H - m.b) / 2}" text-anchor="middle" transform="rotate(-90 14 ${(m.t + H - m.b) / 2})">${esc(metric)}</text>`,
  ];
  for (let i = 0; i <= 4; i++) {
    const y = y0 + ((y1 - y0) * i) / 4;
    const x = x0 + ((x1 - x0) * i) / 4;
    out.push(`<text x="${m.l - 6}" y="${sy(y) + 4}" text-anchor="end">${+y.toPrecision(3)}</text>`);
    out.push(`<line x1="${m.l}" y1="${sy(y)}" x2="${W - m.r}" y2="${sy(y)}" stroke="#eee"/>`);
    out.push(`<text x="${sx(x)}" y="${H - m.b + 16}" text-anchor="middle">${+x.toPrecision(3)}</text>`);
  }
  Object.entries(series).forEach(([id, s], i) => {
    const c = COLOURS[i % COLOURS.length];
    if (s.length === 1) out.push(`<circle cx="${sx(s[0][0])}" cy="${sy(s[0][1])}" r="3" fill="${c}"/>`);
    else out.push(`<polyline fill="none" stroke="${c}" stroke-width="1.5" points="${s.map(([x, y]) => `${sx(x).toFixed(1)},${sy(y).toFixed(1)}`).join(' ')}"/>`);
    if (i < 24) out.push(`<text x="${W - m.r + 10}" y="${m.t + 12 + i * 14}" fill="${c}">${esc(id)}</text>`);
  });
  out.push('</svg>');
  return out.join('\n');
}

/** Writes `<experiment>/<metric>.svg` (or `file`) for a ResultGrid; returns the path. */
export function writePlot(grid: ResultGrid, metric = grid.state.metric, file?: string): string {
  const m = metric ?? 'training_iteration';
  const series: Record<string, [number, number][]> = {};
  for (const r of grid) {
    series[r.trialId] = readResults(r.path)
      .filter((h) => typeof h[m] === 'number')
      .map((h) => [h.training_iteration as number, h[m] as number]);
  }
  const path = file ?? join(grid.path, `${m.replace(/[^\w.-]/g, '_')}.svg`);
  writeFileSync(path, plotSvg(series, m, `${grid.state.name}: ${m} per trial`));
  return path;
}
