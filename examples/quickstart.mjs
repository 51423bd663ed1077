// rayts demo on an embedded local cluster: Monte Carlo π over a few thousand tasks, then an Arrow
// table aggregated in parallel, printing what ran where. Run with `npm run quickstart` (or `node examples/quickstart.mjs`).
import { init, shutdown, remote, get, put, runtimeContext, nodes } from '@samsara/ray';
import { tableFromArrays } from 'apache-arrow';

const t0 = performance.now();
await init();
const [node] = await nodes();
console.log(`embedded cluster up in ${(performance.now() - t0).toFixed(0)} ms: node ${node.nodeId.slice(0, 8)} with ${JSON.stringify(node.resources)}`);

// 1. Monte Carlo π: 4,000 tasks of 2,000 samples each.
const sample = remote((seed, n) => {
  let s = seed >>> 0 || 1;
  const rnd = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 4294967296);
  let inside = 0;
  for (let i = 0; i < n; i++) {
    const x = rnd();
    const y = rnd();
    if (x * x + y * y <= 1) inside++;
  }
  return { inside, n, nodeId: runtimeContext().nodeId };
});

const TASKS = 4000;
const t1 = performance.now();
const results = await get(Array.from({ length: TASKS }, (_, i) => sample.remote(i * 7919 + 1, 2000)));
const secs = (performance.now() - t1) / 1000;
const inside = results.reduce((s, r) => s + r.inside, 0);
const total = results.reduce((s, r) => s + r.n, 0);
const byNode = new Map();
for (const r of results) byNode.set(r.nodeId.slice(0, 8), (byNode.get(r.nodeId.slice(0, 8)) ?? 0) + 1);
console.log(`π ≈ ${((4 * inside) / total).toFixed(5)} from ${total.toLocaleString()} samples in ${TASKS} tasks, ${secs.toFixed(2)} s (${Math.round(TASKS / secs)} tasks/s)`);
console.log(`  tasks per node: ${[...byNode].map(([n, c]) => `${n}: ${c}`).join(', ')}`);

// 2. An Arrow table of camera readings, put once, aggregated in parallel by row range.
const ROWS = 1_000_000;
const camera = new Int32Array(ROWS);
const speed = new Float64Array(ROWS);
for (let i = 0; i < ROWS; i++) {
  camera[i] = i % 16;
  speed[i] = (i * 37) % 130;
}
const table = tableFromArrays({ camera_id: camera, speed_kmh: speed });
const tableRef = await put(table);

const aggregate = remote((t, start, end) => {
  const cam = t.getChild('camera_id').toArray();
  const spd = t.getChild('speed_kmh').toArray();
  const sums = {};
  for (let i = start; i < end; i++) {
    const k = cam[i];
    const e = (sums[k] ??= { n: 0, total: 0, max: 0 });
    e.n++;
    e.total += spd[i];
    if (spd[i] > e.max) e.max = spd[i];
  }
  return { sums, nodeId: runtimeContext().nodeId, rows: end - start };
});

const PARTS = 8;
const step = Math.ceil(ROWS / PARTS);
const t2 = performance.now();
const parts = await get(Array.from({ length: PARTS }, (_, p) => aggregate.remote(tableRef, p * step, Math.min(ROWS, (p + 1) * step))));
const merged = {};
for (const p of parts) {
  for (const [k, v] of Object.entries(p.sums)) {
    const e = (merged[k] ??= { n: 0, total: 0, max: 0 });
    e.n += v.n;
    e.total += v.total;
    e.max = Math.max(e.max, v.max);
  }
}
console.log(`Arrow table: ${ROWS.toLocaleString()} rows aggregated in ${PARTS} tasks in ${(performance.now() - t2).toFixed(0)} ms`);
for (const k of ['0', '1', '15']) console.log(`  camera ${k.padStart(2)}: ${merged[k].n} rows, mean speed ${(merged[k].total / merged[k].n).toFixed(2)} km/h, max ${merged[k].max}`);
console.log(`  parts ran on: ${[...new Set(parts.map((p) => p.nodeId.slice(0, 8)))].join(', ')}`);

await shutdown();
