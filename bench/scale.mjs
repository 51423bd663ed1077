#!/usr/bin/env node
/**
 * Issue 7 point 4, the scale run (separate from `npm run bench`; never part of `npm test`): each scenario
 * must complete; we record its wall times and the peak memory of every process involved.
 *
 *   node bench/scale.mjs [--mode embedded|cluster|both] [--only REGEX] [--actors N] [--no-md] [--merge results/scale-<ts>.json]
 *   node bench/scale.mjs --render results/scale-<ts>.json     (only regenerate SCALE.md)
 * (--merge: re-run some scenarios and keep the other records of an earlier run)
 *
 * Scenarios (Ray's scalability envelope has the same items at larger sizes):
 *   tasks_100k_queued_one_node   submit 100,000 no-op tasks to one node (cluster: hard affinity to a worker
 *                                node), then one get of all; times: submit, get
 *   get_10k_refs                 one get of 10,000 refs: of 10,000 small puts, and of 10,000 task results
 *   task_10k_ref_args            one task with 10,000 ObjectRef arguments (small puts), resolved before it runs
 *   object_1gb                   put of a 1 GB (10^9 B) Uint8Array; a task on a node reads it; a task on a
 *                                node returns a 1 GB array and the driver gets it
 *   actors_1000                  create N [1000] actors (numCpus 0), one call each, kill them; skipped
 *                                while '@samsara/ray' has no `actor` export. Created in batches of 100; it
 *                                stops early (and says so) before the machine's memory would run out.
 *
 * Each scenario runs in a fresh driver process (so its peak RSS is the scenario's). Peak memory:
 * /proc/<pid>/status VmHWM of the driver and, on the cluster, of each node daemon; the daemons' peaks
 * are reset before each scenario (`echo 5 > /proc/<pid>/clear_refs`; without permission the figure is
 * the daemon's lifetime peak, and the record says so). The cluster is bench/run.mjs's three-process
 * loopback cluster (head + 2 worker nodes). Writes bench/results/scale-<timestamp>.json and bench/SCALE.md
 * (the table, then bench/SCALE.notes.md verbatim).
 */
import { execFileSync, fork } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stopChild } from './lib/child.mjs';
import { clusterUnavailableReason, startLoopbackCluster } from './lib/loopback-cluster.mjs';
import { memInfo } from './lib/meminfo.mjs';

const SELF = fileURLToPath(import.meta.url);
const BENCH_DIR = fileURLToPath(new URL('.', import.meta.url));
const SCENARIO_TIMEOUT_MS = 15 * 60_000;
const GB = 1e9;

// ---------------------------------------------------------------------------------------------------
// Memory of a process
// ---------------------------------------------------------------------------------------------------

function procStatus(pid) {
  try {
    const text = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (k) => Number(text.match(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm'))?.[1] ?? NaN) * 1024;
    return { hwm: kb('VmHWM'), rss: kb('VmRSS'), threads: Number(text.match(/^Threads:\s+(\d+)/m)?.[1] ?? NaN) };
  } catch {
    return undefined;
  }
}

function resetPeak(pid) {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
    return true;
  } catch {
    return false;
  }
}

/** Stop a scenario before the kernel's OOM killer picks a process on this shared machine. */
const MIN_FREE_FRACTION = Number(process.env.RAYTS_BENCH_MIN_FREE_FRACTION || 0.2);

const mib = (b) => (Number.isFinite(b) ? `${Math.round(b / 2 ** 20).toLocaleString('en-US')} MiB` : '–');
const secs = (ms) => (ms >= 10_000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.round(ms).toLocaleString('en-US')} ms`);

// ---------------------------------------------------------------------------------------------------
// Scenarios (run in the child, after init)
// ---------------------------------------------------------------------------------------------------

async function timed(steps, name, f) {
  const t0 = performance.now();
  const v = await f();
  steps[name] = performance.now() - t0;
  return v;
}

const SCENARIOS = {
  async tasks_100k_queued_one_node(ray, env) {
    const steps = {};
    const noop = ray.remote(() => 0).options(env.workerNodeId ? { scheduling: { nodeId: env.workerNodeId, soft: false } } : {});
    const refs = await timed(steps, 'submit 100,000', () => {
      const out = new Array(100_000);
      for (let i = 0; i < out.length; i += 1) out[i] = noop.remote();
      return out;
    });
    const peakAfterSubmit = procStatus(process.pid)?.rss;
    const values = await timed(steps, 'get all', () => ray.get(refs));
    if (values.length !== 100_000 || values.some((v) => v !== 0)) throw new Error('wrong results');
    steps.total = steps['submit 100,000'] + steps['get all'];
    return { steps, detail: `${Math.round(100_000 / (steps.total / 1000)).toLocaleString('en-US')} tasks/s overall; driver RSS after submitting ${mib(peakAfterSubmit)}` };
  },

  async get_10k_refs(ray) {
    const steps = {};
    const puts = await timed(steps, '10,000 puts', async () => {
      const out = [];
      for (let i = 0; i < 10_000; i += 1) out.push(await ray.put(i));
      return out;
    });
    const a = await timed(steps, 'get of 10,000 put refs', () => ray.get(puts));
    if (a[9_999] !== 9_999) throw new Error('wrong put values');
    const f = ray.remote((i) => i);
    const refs = await timed(steps, 'submit 10,000 tasks', () => Array.from({ length: 10_000 }, (_, i) => f.remote(i)));
    const b = await timed(steps, 'get of 10,000 task refs', () => ray.get(refs));
    if (b[9_999] !== 9_999) throw new Error('wrong task values');
    return { steps };
  },

  async task_10k_ref_args(ray) {
    const steps = {};
    const refs = await timed(steps, '10,000 puts', async () => {
      const out = [];
      for (let i = 0; i < 10_000; i += 1) out.push(await ray.put(i));
      return out;
    });
    const sum = ray.remote((...xs) => xs.reduce((a, b) => a + b, 0));
    const s = await timed(steps, 'task with 10,000 ref args (submit + get)', () => ray.get(sum.remote(...refs)));
    if (s !== (9_999 * 10_000) / 2) throw new Error(`wrong sum ${s}`);
    return { steps };
  },

  async object_1gb(ray, env) {
    const steps = {};
    const on = env.workerNodeId ? { scheduling: { nodeId: env.workerNodeId, soft: false } } : {};
    const arr = await timed(steps, 'allocate 1 GB in the driver', () => new Uint8Array(GB).fill(7));
    const ref = await timed(steps, 'put 1 GB', () => ray.put(arr));
    const len = ray.remote((x) => x.byteLength + x[x.byteLength - 1]).options(on);
    const n = await timed(steps, 'task on a node reads it', () => ray.get(len.remote(ref)));
    if (n !== GB + 7) throw new Error(`task read ${n}`);
    const v = await timed(steps, 'driver get of its own 1 GB', () => ray.get(ref));
    if (v.byteLength !== GB) throw new Error('wrong size');
    await ray.free([ref]);
    const make = ray.remote((n) => new Uint8Array(n)).options(on);
    const r2 = make.remote(GB);
    await timed(steps, 'task on a node returns 1 GB (made + stored)', () => ray.wait([r2], { numReturns: 1 }));
    const w = await timed(steps, 'driver get of the node\'s 1 GB', () => ray.get(r2));
    if (w.byteLength !== GB) throw new Error('wrong size');
    await ray.free([r2]);
    return { steps, detail: `put ${(GB / 1e6 / steps['put 1 GB']).toFixed(2)} GB/s; node→driver ${(GB / 1e6 / steps["driver get of the node's 1 GB"]).toFixed(2)} GB/s` };
  },

  async actors_1000(ray, env, send) {
    if (typeof ray.actor !== 'function') return { skipped: "'@samsara/ray' has no actor export yet" };
    const steps = {};
    const target = env.actors;
    const Cls = ray.actor(class ScaleActor {
      ping() {
        return 1;
      }
    }, { numCpus: 0 });
    const handles = [];
    const limit = os.totalmem() * 0.6;
    let stopped;
    const t0 = performance.now();
    while (handles.length < target) {
      const batch = Math.min(100, target - handles.length);
      const fresh = Array.from({ length: batch }, () => Cls.remote());
      let ok;
      try {
        ok = await ray.get(fresh.map((h) => h.ping.remote()));
      } catch (e) {
        const rss = await send({ type: 'rss' });
        steps[`until the failure, ${handles.length} actors alive`] = performance.now() - t0;
        return { steps, created: handles.length, error: `after ${handles.length} actors were up (processes at ${mib(rss)}), the next batch of ${batch} failed: ${e.code ? `${e.code}: ` : ''}${e.message}` };
      }
      if (ok.some((x) => x !== 1)) throw new Error('wrong ping');
      handles.push(...fresh);
      const used = await send({ type: 'rss' }); // total RSS of driver + daemons, from the parent
      const perActor = used / handles.length;
      if (handles.length < target && used + perActor * Math.min(100, target - handles.length) > limit) {
        stopped = `stopped at ${handles.length} actors: processes use ${mib(used)} (~${mib(perActor)} per actor); another batch would pass 60% of ${mib(os.totalmem())}`;
        break;
      }
    }
    steps[`create + first call, ${handles.length} actors`] = performance.now() - t0;
    const used = await send({ type: 'rss' });
    await timed(steps, 'one more call to each', async () => {
      const ok = await ray.get(handles.map((h) => h.ping.remote()));
      if (ok.length !== handles.length) throw new Error('missing replies');
    });
    await timed(steps, 'kill all', () => Promise.all(handles.map((h) => ray.kill(h))));
    return { steps, created: handles.length, incomplete: stopped, detail: `${handles.length.toLocaleString('en-US')} actors alive: the processes' RSS ${mib(used)}, ~${mib(used / handles.length)} per actor incl. the processes' base` };
  },
};

// ---------------------------------------------------------------------------------------------------
// Child: one scenario in a fresh driver process
// ---------------------------------------------------------------------------------------------------

async function child(name, mode) {
  const ray = await import('@samsara/ray');
  let reqId = 0;
  const pending = new Map();
  process.on('message', (m) => {
    if (m.type === 'reply') {
      pending.get(m.reqId)?.(m.value);
      pending.delete(m.reqId);
    }
  });
  const ask = (m) =>
    new Promise((resolve) => {
      const id = (reqId += 1);
      pending.set(id, resolve);
      process.send({ ...m, reqId: id });
    });
  const env = { actors: Number(process.env.RAYTS_SCALE_ACTORS || 1000) };
  const t0 = performance.now();
  if (mode === 'cluster') {
    process.env.RAYTS_TMPDIR = process.env.RAYTS_BENCH_CLUSTER_TMPDIR;
    await ray.init({ address: process.env.RAYTS_BENCH_CLUSTER_ADDRESS });
  } else await ray.init();
  const all = (await ray.nodes()).filter((n) => n.alive);
  if (mode === 'cluster') {
    env.workerNodeId = all.find((n) => !n.isHead)?.nodeId;
  }
  const initMs = performance.now() - t0;
  const pids = mode === 'cluster' ? all.map((n) => ({ pid: n.pid, role: n.isHead ? 'head daemon (+ node)' : `node daemon ${n.nodeId.slice(0, 8)}` })) : [];
  await ask({ type: 'ready', pids });
  let out;
  try {
    out = await SCENARIOS[name](ray, env, ask);
  } catch (e) {
    out = { error: e instanceof Error ? `${e.code ? `${e.code}: ` : ''}${e.message}` : String(e) };
  }
  const driver = procStatus(process.pid);
  await ask({ type: 'done', result: { ...out, initMs, driverPeak: driver?.hwm, driverThreads: driver?.threads } });
  await ray.shutdown().catch(() => {});
  process.exit(0);
}

// ---------------------------------------------------------------------------------------------------
// Parent
// ---------------------------------------------------------------------------------------------------

function runScenario(name, mode, env) {
  return new Promise((resolve) => {
    const c = fork(SELF, ['--child', name, '--mode', mode], { env, stdio: ['ignore', 'pipe', 'pipe', 'ipc'] });
    let output = '';
    c.stdout.on('data', (d) => (output = (output + d).slice(-3000)));
    c.stderr.on('data', (d) => (output = (output + d).slice(-3000)));
    let daemons = [];
    let peakReset = true;
    let result;
    const timer = setTimeout(() => {
      result = { error: `no result within ${SCENARIO_TIMEOUT_MS / 1000} s; driver killed` };
      stopChild(c).catch(() => {});
    }, SCENARIO_TIMEOUT_MS);
    const guard = setInterval(() => {
      const mem = memInfo();
      if (!mem || result || mem.available >= MIN_FREE_FRACTION * mem.total) return;
      result = { error: `stopped by the memory guard: the machine had ${(mem.available / 2 ** 30).toFixed(1)} of ${(mem.total / 2 ** 30).toFixed(1)} GiB available; driver killed` };
      result.daemons = daemons.map((d) => ({ ...d, peak: procStatus(d.pid)?.hwm, threads: procStatus(d.pid)?.threads }));
      stopChild(c, 200).catch(() => {});
    }, 250);
    c.on('message', (m) => {
      if (m.type === 'ready') {
        daemons = m.pids.filter((p) => p.pid);
        for (const d of daemons) peakReset = resetPeak(d.pid) && peakReset;
        resetPeak(c.pid);
        c.send({ type: 'reply', reqId: m.reqId });
      } else if (m.type === 'rss') {
        const total = [c.pid, ...daemons.map((d) => d.pid)].reduce((a, pid) => a + (procStatus(pid)?.rss ?? 0), 0);
        c.send({ type: 'reply', reqId: m.reqId, value: total });
      } else if (m.type === 'done') {
        result = m.result;
        result.daemons = daemons.map((d) => ({ ...d, peak: procStatus(d.pid)?.hwm, threads: procStatus(d.pid)?.threads }));
        result.daemonPeakIsLifetime = !peakReset;
        c.send({ type: 'reply', reqId: m.reqId });
      }
    });
    c.on('exit', (code, signal) => {
      clearTimeout(timer);
      clearInterval(guard);
      if (!result) result = { error: `driver exited (${signal ?? code}): ${output.trim().slice(-800)}` };
      resolve(result);
    });
  });
}

function render(run) {
  const lines = [
    '# rayts scale run (issue 7 point 4)',
    '',
    `Generated by \`bench/scale.mjs\` from \`bench/results/${run.file}\`.`,
    '',
    `- **Command:** \`${run.command}\``,
    `- **Date:** ${run.date} · **Node:** ${run.node} · **commit:** ${run.commit}`,
    `- **Machine:** ${run.machine}`,
    '- Peak memory is VmHWM (peak resident set) of each process during the scenario; the driver is a fresh process per scenario. embedded = driver, head, node and its worker threads in one process.',
    '',
    '| scenario | mode | result | steps (wall time) | peak RSS driver | peak RSS daemons |',
    '| --- | --- | --- | --- | ---: | --- |',
  ];
  for (const r of run.results) {
    const status = r.error ? `**failed**: ${r.error.replace(/\|/g, '\\|').replace(/\s+/g, ' ').slice(0, 300)}` : r.skipped ? `skipped: ${r.skipped}` : r.incomplete ? `**incomplete**: ${r.incomplete}` : `completed${r.detail ? ` (${r.detail})` : ''}`;
    const steps = Object.entries(r.steps ?? {}).map(([k, v]) => `${k}: ${secs(v)}`).join('<br>');
    const daemons = (r.daemons ?? []).map((d) => `${d.role}: ${mib(d.peak)}`).join('<br>') + (r.daemonPeakIsLifetime ? ' (lifetime peaks)' : '');
    lines.push(`| ${r.scenario} | ${r.mode} | ${status} | ${steps || '–'} | ${mib(r.driverPeak)} | ${daemons || '–'} |`);
  }
  // Hand-written notes (how figures were obtained, causes of past failures) kept beside the generated table.
  const notesFile = join(BENCH_DIR, 'SCALE.notes.md');
  if (existsSync(notesFile)) lines.push('', readFileSync(notesFile, 'utf8').trim());
  return `${lines.join('\n')}\n`;
}

async function main() {
  const argv = process.argv.slice(2);
  const arg = (k, d) => {
    const i = argv.indexOf(k);
    return i >= 0 ? argv[i + 1] : d;
  };
  if (argv[0] === '--child') return child(argv[1], arg('--mode'));
  if (arg('--render')) {
    // Only regenerate SCALE.md (e.g. after editing SCALE.notes.md) from a recorded run.
    const run = JSON.parse(readFileSync(arg('--render'), 'utf8'));
    writeFileSync(join(BENCH_DIR, 'SCALE.md'), render(run));
    return;
  }
  const modeArg = arg('--mode', 'both');
  if (!['embedded', 'cluster', 'both'].includes(modeArg)) throw new Error(`--mode ${modeArg}: expected embedded, cluster or both`);
  const only = arg('--only') ? new RegExp(arg('--only')) : undefined;
  if (arg('--actors')) process.env.RAYTS_SCALE_ACTORS = arg('--actors');
  const names = Object.keys(SCENARIOS).filter((n) => !only || only.test(n));
  const modes = modeArg === 'both' ? ['embedded', 'cluster'] : [modeArg];
  const log = (s) => process.stdout.write(`${s}\n`);
  let commit = 'unknown';
  try {
    commit = execFileSync('git', ['describe', '--always', '--dirty', '--abbrev=12'], { cwd: BENCH_DIR, encoding: 'utf8' }).trim();
  } catch {
    /* not a git checkout */
  }
  const date = new Date();
  const run = {
    date: date.toISOString(),
    command: ['node', 'bench/scale.mjs', ...argv].join(' '),
    node: process.version,
    commit,
    machine: `${os.availableParallelism()} × ${os.cpus()[0]?.model?.trim()}, ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB, ${os.type()} ${os.release()}`,
    results: [],
  };
  const sessionRoot = mkdtempSync(join(os.tmpdir(), 'rayts-scale-embedded-'));
  let cluster;
  const cleanup = async () => {
    if (cluster) await cluster.stop().catch(() => {});
    cluster = undefined;
    rmSync(sessionRoot, { recursive: true, force: true });
  };
  for (const sig of ['SIGINT', 'SIGTERM']) process.once(sig, () => cleanup().finally(() => process.exit(130)));
  try {
    for (const mode of modes) {
      const env = { ...process.env, RAYTS_TMPDIR: sessionRoot };
      if (mode === 'cluster') {
        const reason = clusterUnavailableReason();
        if (reason) {
          for (const n of names) run.results.push({ scenario: n, mode, skipped: reason });
          continue;
        }
        log('starting the three-process loopback cluster');
        cluster = await startLoopbackCluster();
        Object.assign(env, cluster.env);
      }
      for (const name of names) {
        log(`${name} [${mode}] …`);
        const r = { scenario: name, mode, ...(await runScenario(name, mode, env)) };
        run.results.push(r);
        log(`  ${r.error ? `FAILED: ${r.error.slice(0, 400)}` : r.skipped ? `skipped: ${r.skipped}` : `${r.incomplete ?? 'done'}; ${Object.entries(r.steps).map(([k, v]) => `${k} ${secs(v)}`).join(', ')}; driver peak ${mib(r.driverPeak)}${(r.daemons ?? []).map((d) => `, ${d.role} ${mib(d.peak)}`).join('')}`}`);
      }
      if (mode === 'cluster') await cleanup();
    }
  } finally {
    await cleanup();
  }
  const merge = arg('--merge');
  if (merge) {
    // Re-ran some scenarios: keep the earlier run's other records (and say so in the command line).
    const prev = JSON.parse(readFileSync(merge, 'utf8'));
    const again = new Set(run.results.map((r) => `${r.scenario}|${r.mode}`));
    const kept = prev.results.filter((r) => !again.has(`${r.scenario}|${r.mode}`));
    run.results = [...kept, ...run.results].sort((a, b) => (a.mode === b.mode ? Object.keys(SCENARIOS).indexOf(a.scenario) - Object.keys(SCENARIOS).indexOf(b.scenario) : ['embedded', 'cluster'].indexOf(a.mode) - ['embedded', 'cluster'].indexOf(b.mode)));
    run.command = `${prev.command}; then ${run.command}`;
    run.mergedFrom = prev.file;
  }
  const dir = join(BENCH_DIR, 'results');
  mkdirSync(dir, { recursive: true });
  run.file = `scale-${date.toISOString().replace(/[:]/g, '-').replace(/\.\d+Z$/, 'Z')}.json`;
  writeFileSync(join(dir, run.file), `${JSON.stringify(run, null, 2)}\n`);
  log(`wrote ${relative(process.cwd(), join(dir, run.file))}`);
  if (!argv.includes('--no-md')) {
    writeFileSync(join(BENCH_DIR, 'SCALE.md'), render(run));
    log(`wrote ${relative(process.cwd(), join(BENCH_DIR, 'SCALE.md'))}`);
  }
}

main().catch((e) => {
  process.stderr.write(`bench/scale.mjs: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
