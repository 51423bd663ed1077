#!/usr/bin/env node
/**
 * One question: what does the store itself cost in a transfer between nodes, without the network?
 * Two stores in one process; PullManager pulls through a `fetch` that serves `readChunks` of the other
 * store and copies each chunk once (as a gRPC message would). This is the ceiling the gRPC pull of the
 * core can reach; the growth column (external ArrayBuffer memory, sampled at every chunk) shows that a 1 GiB object never sits whole on the JS heap.
 *
 *   npx tsc -b packages/object-store && node bench/object-store/chunk-transfer.mjs [--runs N]
 *
 * Writes chunk-transfer.json next to this script and prints a table.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PullManager, SharedObjectStore } from '../../packages/object-store/dist/index.js';

const MiB = 1024 * 1024;
const CHUNK = 4 * MiB; // PULL_CHUNK_BYTES of @samsara/ray-common
const args = process.argv.slice(2);
const RUNS = Number(args[args.indexOf('--runs') + 1] || 3) || 3;
const SIZES = [1, 100, 1024];
const here = fileURLToPath(new URL('.', import.meta.url));
const root = mkdtempSync(join(os.tmpdir(), 'rayts-bench-xfer-'));
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const cap = 1024 * MiB + 64 * MiB;
const a = new SharedObjectStore({ capacityBytes: cap, spillDir: join(root, 'a'), spillingEnabled: false, prefault: true });
const b = new SharedObjectStore({ capacityBytes: cap, spillDir: join(root, 'b'), spillingEnabled: false, prefault: true });

let peak = 0;
async function* fetch(_loc, id, offset) {
  const v = a.get(id);
  const meta = v.meta;
  v.release();
  for await (const chunk of a.readChunks(id, offset, CHUNK)) {
    yield { data: Uint8Array.prototype.slice.call(chunk), totalBytes: meta.sizeBytes, meta }; // the "message" copy
    peak = Math.max(peak, process.memoryUsage().arrayBuffers);
  }
}

const rows = [];
for (const sizeMiB of SIZES) {
  const size = sizeMiB * MiB;
  const src = new Uint8Array(size);
  for (let i = 0; i < size; i += 4096) src[i] = i & 0xff;
  a.putValue('x', src);
  const ms = [];
  let heapGrowth = 0;
  for (let r = 0; r < RUNS; r++) {
    const pm = new PullManager(b, fetch);
    const base = process.memoryUsage().arrayBuffers;
    peak = base;
    const t0 = performance.now();
    await pm.pull('x', 'a');
    ms.push(performance.now() - t0);
    heapGrowth = Math.max(heapGrowth, peak - base);
    b.delete('x');
  }
  a.delete('x');
  const m = median(ms);
  rows.push({ sizeMiB, ms: Number(m.toFixed(2)), mbPerS: Math.round(size / MiB / (m / 1000)), peakHeapGrowthMiB: Number((heapGrowth / MiB).toFixed(1)) });
}
a.close();
b.close();
rmSync(root, { recursive: true, force: true });

writeFileSync(join(here, 'chunk-transfer.json'), JSON.stringify({ date: new Date().toISOString(), node: process.version, cpus: os.cpus().length, chunkBytes: CHUNK, runs: RUNS, rows }, null, 2) + '\n');
console.log(`store-to-store pull without network, ${CHUNK / MiB} MiB chunks, node ${process.version}, median of ${RUNS}`);
console.log('MiB    ms         MiB/s    peak ArrayBuffer growth (MiB, sampled per chunk)');
for (const r of rows) console.log(`${String(r.sizeMiB).padEnd(6)} ${String(r.ms).padEnd(10)} ${String(r.mbPerS).padEnd(8)} ${r.peakHeapGrowthMiB}`);
