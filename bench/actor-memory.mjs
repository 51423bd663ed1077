#!/usr/bin/env node
/**
 * What one idle actor costs (issue 7 point 4): RSS per actor thread, and what each actor thread loads.
 * Never part of `npm test`; one question per file.
 *
 *   node --expose-gc bench/actor-memory.mjs [--actors N] [--calls C] [--json] [--list]
 *
 * In an embedded cluster (driver, node and actor threads in this one process): the process RSS after
 * init and one warm-up actor, then after N [100] more idle actors (one call each, then a settle of 2 s and
 * a GC of the main thread); RSS per actor = the difference / N; then again after C [20] calls to each
 * actor that make some garbage (what an actor that has worked keeps). For comparison, the same for N bare
 * `new Worker()` threads that only wait for messages (the floor any thread-per-actor design pays here).
 * One actor also reports, through the inspector, which scripts its thread has parsed (apache-arrow,
 * pino, msgpackr, protobufjs, grpc …) and its V8 heap size.
 */
import { Worker } from 'node:worker_threads';
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

const argv = process.argv.slice(2);
const arg = (k, d) => {
  const i = argv.indexOf(k);
  return i >= 0 ? argv[i + 1] : d;
};
const N = Number(arg('--actors', 100));
const CALLS = Number(arg('--calls', 20));
const ROWS = Number(arg('--rows', 5000));

function rss() {
  const t = readFileSync('/proc/self/status', 'utf8');
  return Number(t.match(/^VmRSS:\s+(\d+) kB/m)[1]) * 1024;
}
/** Memory mappings of this process: Linux caps them (vm.max_map_count, 65,530 by default). */
function maps() {
  return readFileSync('/proc/self/maps', 'utf8').split('\n').length - 1;
}
const mib = (b) => `${(b / 2 ** 20).toFixed(1)} MiB`;

async function settle() {
  await sleep(2000);
  globalThis.gc?.();
  await sleep(200);
}

function packageOf(url) {
  const m = url.match(/node_modules\/((?:@[^/]+\/)?[^/]+)/) ?? url.match(/packages\/([^/]+)\//);
  return m ? m[1] : url.startsWith('node:') ? 'node:*' : 'other';
}

async function bareWorkers(n) {
  const before = rss();
  const ws = [];
  for (let i = 0; i < n; i++) {
    const w = new Worker("require('node:worker_threads').parentPort.on('message', (m) => require('node:worker_threads').parentPort.postMessage(m));", { eval: true });
    ws.push(w);
    await new Promise((resolve) => {
      w.once('message', resolve);
      w.postMessage(1);
    });
  }
  await settle();
  const after = rss();
  await Promise.all(ws.map((w) => w.terminate()));
  return (after - before) / n;
}

async function main() {
  const ray = await import('@samsara/ray');
  await ray.init();
  const Idle = ray.actor(
    class IdleActor {
      ping() {
        return 1;
      }
      /** Some garbage, as a method that builds a reply would make. */
      work(n) {
        const rows = [];
        for (let i = 0; i < n; i++) rows.push({ i, s: `row ${i}` });
        return rows.length;
      }
      /** The scripts V8 parsed in this thread (ESM and CJS alike), through the inspector; its heap. */
      scripts() {
        const { Session } = process.getBuiltinModule('node:inspector');
        const v8 = process.getBuiltinModule('node:v8');
        const s = new Session();
        s.connect();
        const urls = [];
        s.on('Debugger.scriptParsed', (m) => {
          if (m.params.url) urls.push(m.params.url);
        });
        return new Promise((resolve) => {
          s.post('Debugger.enable', () => {
            s.post('Debugger.disable', () => {
              s.disconnect();
              const h = v8.getHeapStatistics();
              resolve({ urls, heapUsed: h.used_heap_size, heapTotal: h.total_heap_size });
            });
          });
        });
      }
    },
    { numCpus: 0 },
  );
  const warm = Idle.remote();
  await ray.get(warm.ping.remote());
  await settle();
  const before = rss();
  const mapsBefore = maps();
  const hs = Array.from({ length: N }, () => Idle.remote());
  const t0 = performance.now();
  await ray.get(hs.map((h) => h.ping.remote()));
  const createMs = performance.now() - t0;
  await settle();
  const after = rss();
  const perActor = (after - before) / N;
  const mapsPerActor = (maps() - mapsBefore) / N;
  // The same actors after some work: each call leaves ~0.5 MB of garbage in the actor's young generation.
  const t1 = performance.now();
  for (let round = 0; round < CALLS; round++) await ray.get(hs.map((h) => h.work.remote(ROWS)));
  const workMs = performance.now() - t1;
  await settle();
  const afterWork = rss();
  const perActorAfterWork = (afterWork - before) / N;
  let scripts;
  try {
    scripts = await ray.get(warm.scripts.remote());
  } catch (e) {
    scripts = { error: e.message };
  }
  await Promise.all([warm, ...hs].map((h) => ray.kill(h)));
  await ray.shutdown();
  await settle();
  const bare = await bareWorkers(Math.min(N, 50));
  const byPkg = {};
  for (const u of scripts.urls ?? []) byPkg[packageOf(u)] = (byPkg[packageOf(u)] ?? 0) + 1;
  const out = {
    node: process.version,
    actors: N,
    createMs: Math.round(createMs),
    rssPerActorBytes: Math.round(perActor),
    rssPerBareWorkerBytes: Math.round(bare),
    mapsPerActor: Math.round(mapsPerActor),
    callsPerActor: CALLS,
    workMs: Math.round(workMs),
    rssPerActorAfterWorkBytes: Math.round(perActorAfterWork),
    maxMapCount: Number(readFileSync('/proc/sys/vm/max_map_count', 'utf8')),
    actorHeapUsedBytes: scripts.heapUsed,
    actorHeapTotalBytes: scripts.heapTotal,
    scriptsParsed: scripts.urls?.length,
    scripts: argv.includes("--list") ? scripts.urls : undefined,
    scriptsByPackage: byPkg,
    loads: Object.fromEntries(['apache-arrow', 'pino', 'msgpackr', 'protobufjs', '@grpc', 'piscina', 'flatbuffers'].map((p) => [p, (scripts.urls ?? []).some((u) => u.includes(`/${p}`))])),
  };
  if (argv.includes('--json')) process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
  else {
    process.stdout.write(
      [
        `node ${out.node}, ${N} idle actors created + called in ${out.createMs} ms`,
        `RSS per idle actor: ${mib(perActor)} (bare worker thread: ${mib(bare)})`,
        `after ${CALLS} calls to each (each makes ~0.5 MB of garbage; ${Math.round(workMs)} ms): ${mib(perActorAfterWork)} per actor`,
        `memory mappings per actor: ${out.mapsPerActor} (vm.max_map_count ${out.maxMapCount}: room for ~${Math.floor(out.maxMapCount / out.mapsPerActor)} actors in one process)`,
        `one actor thread: V8 heap ${mib(out.actorHeapUsedBytes ?? NaN)} used / ${mib(out.actorHeapTotalBytes ?? NaN)} total, ${out.scriptsParsed} scripts parsed`,
        `scripts by package: ${Object.entries(byPkg).sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k} ${v}`).join(', ')}`,
        `loads: ${Object.entries(out.loads).map(([k, v]) => `${k} ${v ? 'yes' : 'no'}`).join(', ')}`,
        '',
      ].join('\n'),
    );
  }
}

main().catch((e) => {
  process.stderr.write(`bench/actor-memory.mjs: ${e?.stack ?? e}\n`);
  process.exit(1);
});
