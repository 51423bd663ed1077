#!/usr/bin/env node
/**
 * A small driver for profiling the task path (issue 7 point 3): runs Ray's single_client_tasks_async
 * (submit 1000 no-op tasks, get all) — or `sync` (one at a time), `put`, `get` — on the embedded cluster
 * for a few seconds and prints the rate. Meant to be run under the CPU profiler; `--cpu-prof` also
 * profiles the task worker threads (one .cpuprofile per thread):
 *
 *   node --cpu-prof --cpu-prof-dir=/tmp/rayts-prof bench/profile/tasks.mjs [async|sync|put|get] [seconds]
 *   node bench/profile/summarize.mjs /tmp/rayts-prof            # top self time per profile, by function and by package
 *
 * Against a cluster (its daemons profiled too: `rayts start` passes node flags on to the daemon it starts):
 *
 *   export RAYTS_TMPDIR=$(mktemp -d)
 *   node --cpu-prof --cpu-prof-dir=/tmp/p packages/core/dist/cli/main.js start --head --port 6390
 *   RAYTS_PROFILE_ADDRESS=127.0.0.1:6390 node --cpu-prof --cpu-prof-dir=/tmp/p bench/profile/tasks.mjs sync 5
 *   node packages/core/dist/cli/main.js stop      # the daemon writes its profile as it exits
 *
 * Not part of `npm run bench`; nothing here asserts on time.
 */
import { init, shutdown, remote, get, put, actor } from '@samsara/ray';

const mode = process.argv[2] ?? 'async';
const seconds = Number(process.argv[3] ?? 5);
const MODES = ['async', 'sync', 'put', 'get', 'multi'];
if (!MODES.includes(mode)) throw new Error(`mode ${mode}: expected one of ${MODES.join(', ')}`);

// RAYTS_PROFILE_ADDRESS=HOST:PORT joins a running cluster (token from RAYTS_TMPDIR's session) instead.
await init(process.env.RAYTS_PROFILE_ADDRESS ? { address: process.env.RAYTS_PROFILE_ADDRESS } : {});
const noop = remote(() => 'ok');
const small = await put(0);
// Ray's multi_client_tasks_async: 4 actors (num_cpus=0) each submit 10,000 no-op tasks and get them.
const Submitter = actor(
  class Submitter {
    async batch(n) {
      this.small ??= remote(() => 'ok');
      const refs = [];
      for (let i = 0; i < n; i += 1) refs.push(this.small.remote());
      await get(refs);
    }
  },
);
const submitters = mode === 'multi' ? Array.from({ length: 4 }, () => Submitter.options({ numCpus: 0 }).remote()) : [];
const units = {
  async: async () => {
    const refs = [];
    for (let i = 0; i < 1000; i += 1) refs.push(noop.remote());
    await get(refs);
    return 1000;
  },
  sync: async () => {
    await get(noop.remote());
    return 1;
  },
  put: async () => {
    await put(0);
    return 1;
  },
  get: async () => {
    await get(small);
    return 1;
  },
  multi: async () => {
    await get(submitters.map((a) => a.batch.remote(10_000)));
    return 40_000;
  },
};
const unit = units[mode];
// Warm-up (JIT, worker threads, function source shipped once).
const w0 = performance.now();
while (performance.now() - w0 < 1000) await unit();
let count = 0;
const t0 = performance.now();
const cpu0 = process.cpuUsage();
while (performance.now() - t0 < seconds * 1000) count += await unit();
const elapsed = (performance.now() - t0) / 1000;
// CPU time of the whole process (all threads) per unit: steadier than the rate on a shared machine.
const cpu = process.cpuUsage(cpu0);
const cpuUs = (cpu.user + cpu.system) / count;
process.stdout.write(`${mode}: ${Math.round(count / elapsed).toLocaleString('en-US')} per s (${count} in ${elapsed.toFixed(2)} s), ${cpuUs.toFixed(1)} µs CPU per unit\n`);
await shutdown();
