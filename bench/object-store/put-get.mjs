#!/usr/bin/env node
/**
 * One question: how fast do values go into and out of a node's object store, next to a plain memcpy of
 * the same size in the same run?
 *
 *   npx tsc -b packages/object-store && node bench/object-store/put-get.mjs [--runs N] [--sizes 256,800]
 *
 * Rows per size (MiB):
 * - memcpy: Buffer.copy into preallocated, already-touched memory (the ceiling for any put).
 * - put, first touch: the first put into a fresh area (page faults on new pages; the ~1 GB/s cost).
 * - put, warm: the same put after a delete, into reused memory (what a long-running node sees).
 * - put, warm, heap mode: the same without the /dev/shm file (plain SharedArrayBuffer).
 * - get + decode: pin and rebuild the Float64Array over shared memory (no copy; a fixed cost).
 * - get + decode + scan: the same plus reading every element (compare with scan of a heap array).
 * - arrow put / get: a Table of two Float64 columns (IPC pieces copied once; tableFromIPC in place).
 * Writes put-get.json next to this script and prints a table. Medians of --runs (default 5).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { tableFromArrays } from 'apache-arrow';
import { SharedObjectStore, decodeFromStore } from '../../packages/object-store/dist/index.js';

const MiB = 1024 * 1024;
const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : dflt;
};
const RUNS = Number(opt('--runs', '5'));
const SIZES = opt('--sizes', '256,800').split(',').map(Number);
const here = fileURLToPath(new URL('.', import.meta.url));
const spillRoot = mkdtempSync(join(os.tmpdir(), 'rayts-bench-os-'));

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const now = () => performance.now();

function time(fn, runs = RUNS) {
  const ms = [];
  for (let i = 0; i < runs; i++) {
    const t0 = now();
    fn(i);
    ms.push(now() - t0);
  }
  return median(ms);
}

function scan(arr) {
  let s = 0;
  for (let i = 0; i < arr.length; i += 1) s += arr[i];
  return s;
}

const rows = [];
function record(sizeMiB, what, ms, note = '') {
  const gbps = (sizeMiB * MiB) / (ms / 1000) / 1e9;
  rows.push({ sizeMiB, what, ms: Number(ms.toFixed(3)), gbPerS: Number(gbps.toFixed(2)), note });
}

function newStore(capacityBytes, extra = {}) {
  return new SharedObjectStore({ capacityBytes, spillDir: join(spillRoot, String(rows.length)), spillingEnabled: false, ...extra });
}

for (const sizeMiB of SIZES) {
  const size = sizeMiB * MiB;
  const src = new Float64Array(size / 8);
  for (let i = 0; i < src.length; i++) src[i] = i & 1023;
  const srcBuf = Buffer.from(src.buffer);

  // memcpy into preallocated, touched memory
  const dst = Buffer.alloc(size);
  srcBuf.copy(dst); // touch
  record(sizeMiB, 'memcpy (Buffer.copy, warm)', time(() => srcBuf.copy(dst)));

  // put into a fresh area: first touch of its pages (one fresh store per run)
  {
    const ms = [];
    for (let i = 0; i < Math.min(RUNS, 3); i++) {
      const s = newStore(size + 64 * MiB);
      const t0 = now();
      s.putValue('x', src);
      ms.push(now() - t0);
      s.close();
    }
    record(sizeMiB, 'put, first touch (fresh area)', median(ms), 'shm');
  }

  // warm put: the area is reused after a delete
  const store = newStore(size + 64 * MiB);
  store.putValue('x', src);
  store.delete('x');
  record(sizeMiB, 'put, warm (reused area)', time(() => {
    store.putValue('x', src);
    store.delete('x');
  }), store.mode);

  if (sizeMiB <= 256) {
    const heap = newStore(size + 64 * MiB, { useSharedMemoryFile: false });
    heap.putValue('x', src);
    heap.delete('x');
    record(sizeMiB, 'put, warm, heap mode', time(() => {
      heap.putValue('x', src);
      heap.delete('x');
    }), heap.mode);
    heap.close();
  }

  store.putValue('x', src);
  const getMs = time(() => {
    const v = store.get('x');
    const arr = decodeFromStore(v.meta, v.data);
    if (arr.length !== src.length) throw new Error('bad length');
    v.release();
  }, RUNS * 20);
  record(sizeMiB, 'get + decode (zero copy)', getMs, `${(getMs * 1000).toFixed(1)} µs`);
  let check = 0;
  const getScanMs = time(() => {
    const v = store.get('x');
    check += scan(decodeFromStore(v.meta, v.data));
    v.release();
  });
  record(sizeMiB, 'get + decode + scan', getScanMs);
  record(sizeMiB, 'scan of the heap array (reference)', time(() => (check += scan(src))));
  store.delete('x');

  if (sizeMiB <= 256) {
    const half = src.length / 2;
    const table = tableFromArrays({ a: src.subarray(0, half), b: src.subarray(half) });
    store.putValue('t', table);
    store.delete('t');
    record(sizeMiB, 'arrow put, warm (IPC pieces, one copy)', time(() => {
      store.putValue('t', table);
      store.delete('t');
    }));
    store.putValue('t', table);
    const arrowGet = time(() => {
      const v = store.get('t');
      const t = decodeFromStore(v.meta, v.data);
      if (t.numRows !== half) throw new Error('bad rows');
      v.release();
    }, RUNS * 4);
    record(sizeMiB, 'arrow get (tableFromIPC in place)', arrowGet, `${(arrowGet * 1000).toFixed(1)} µs`);
    store.delete('t');
  }
  store.close();
  if (check === -1) console.log(check);
}

// area creation cost with prefault, for the largest size
{
  const size = Math.max(...SIZES) * MiB;
  const t0 = now();
  const s = newStore(size, { prefault: true });
  record(size / MiB, 'create area with prefault (MAP_POPULATE)', now() - t0, s.mode);
  s.close();
}

rmSync(spillRoot, { recursive: true, force: true });

const result = {
  date: new Date().toISOString(),
  node: process.version,
  cpus: os.cpus().length,
  cpuModel: os.cpus()[0]?.model,
  runs: RUNS,
  rows,
};
writeFileSync(join(here, 'put-get.json'), JSON.stringify(result, null, 2) + '\n');

const pad = (s, n) => String(s).padEnd(n);
console.log(`object store put/get, node ${process.version}, ${os.cpus().length} CPUs, median of ${RUNS}`);
console.log(`${pad('MiB', 5)} ${pad('what', 44)} ${pad('ms', 10)} ${pad('GB/s', 9)} note`);
for (const r of rows) console.log(`${pad(r.sizeMiB, 5)} ${pad(r.what, 44)} ${pad(r.ms, 10)} ${pad(r.gbPerS, 9)} ${r.note}`);
