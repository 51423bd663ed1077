#!/usr/bin/env node
/**
 * Idle footprint of the edge agent, measured as docs/edge-agent.md and packages/edge-agent/README.md
 * say: start a head, start `rayts-edge`, wait 5 s after it joined, then read VmRSS (and VmHWM, threads)
 * and utime+stime of its pid 30 s apart. Never part of `npm test`.
 *
 *   node bench/edge-idle.mjs [--bare] [--preload MODULE] [--node-flags "FLAGS"] [--seconds 30] [--json]
 *
 * By default the agent starts as executing the `rayts-edge` bin does: node with the flags of the bin's
 * shebang (`--max-semi-space-size=1 --v8-pool-size=1`, see packages/edge-agent/src/cli.ts). `--bare`
 * starts it as `node …/cli.js` with RAYTS_EDGE_LEAN=0 instead: no lean flags, native msgpackr on (the
 * footprint before the launcher set them), for a same-run comparison.
 *
 * --preload starts the agent as `node --import MODULE`, e.g. `--preload apache-arrow` to see what an
 * eagerly loaded Arrow (the codec before it loaded Arrow lazily) costs, on the same machine and run.
 * Everything runs under a fresh RAYTS_TMPDIR; the head and the agent are stopped at the end.
 */
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { CLI, REPO_ROOT, daemonPids, freePort } from './lib/loopback-cluster.mjs';

const argv = process.argv.slice(2);
const arg = (k, d) => {
  const i = argv.indexOf(k);
  return i >= 0 ? argv[i + 1] : d;
};
const SECONDS = Number(arg('--seconds', 30));
const preload = arg('--preload');
const nodeFlags = (arg('--node-flags') ?? '').split(' ').filter(Boolean);
const EDGE_CLI = join(REPO_ROOT, 'packages/edge-agent/dist/cli.js');
const bare = argv.includes('--bare');
/** The node flags of the bin's `#!/usr/bin/env -S node FLAGS` line: what the kernel runs for `rayts-edge`. */
function shebangFlags(file) {
  const first = readFileSync(file, 'utf8').split('\n', 1)[0];
  const m = first.match(/^#!\S*env\s+-S\s+node\s*(.*)$/);
  return m ? m[1].split(/\s+/).filter(Boolean) : [];
}
const launchFlags = bare ? [] : shebangFlags(EDGE_CLI);
const TICK_HZ = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;

function sample(pid) {
  const st = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (k) => Number(st.match(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm'))[1]) * 1024;
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { rss: kb('VmRSS'), hwm: kb('VmHWM'), threads: Number(st.match(/^Threads:\s+(\d+)/m)[1]), ticks: Number(fields[11]) + Number(fields[12]) };
}

const canConnect = (port) =>
  new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port });
    s.once('connect', () => (s.destroy(), resolve(true)));
    s.once('error', () => resolve(false));
  });

function run(args, env) {
  return new Promise((resolve, reject) => {
    const c = spawn(process.execPath, [CLI, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    c.stdout.on('data', (d) => (out += d));
    c.stderr.on('data', (d) => (out += d));
    c.once('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`rayts ${args.join(' ')}: ${out.slice(-1000)}`))));
  });
}

async function main() {
  const dir = mkdtempSync(join(tmpdir(), 'rayts-edge-idle-'));
  const env = { ...process.env, RAYTS_TMPDIR: dir };
  let edge;
  try {
    const port = await freePort();
    await run(['start', '--head', '--port', String(port)], env);
    while (!(await canConnect(port))) await sleep(100);
    const nodeArgs = [...launchFlags, ...nodeFlags, ...(preload ? ['--import', preload] : []), EDGE_CLI, '--address', `127.0.0.1:${port}`, '--resources', '{"camera":1}', '--labels', 'device=cam-01'];
    edge = spawn(process.execPath, nodeArgs, { env: bare ? { ...env, RAYTS_EDGE_LEAN: '0' } : env, cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    await new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`rayts-edge did not join within 60 s: ${out}`)), 60_000);
      const on = (d) => {
        out += d;
        if (/joined the cluster/.test(out)) (clearTimeout(t), resolve());
      };
      edge.stdout.on('data', on);
      edge.stderr.on('data', on);
      edge.once('exit', (code) => reject(new Error(`rayts-edge exited (${code}): ${out}`)));
    });
    await sleep(5_000);
    const a = sample(edge.pid);
    await sleep(SECONDS * 1000);
    const b = sample(edge.pid);
    const cpu = (b.ticks - a.ticks) / TICK_HZ / SECONDS;
    const r = { node: process.version, launch: bare ? 'bare' : 'bin', nodeFlags: [...launchFlags, ...nodeFlags], preload: preload ?? null, idleRssBytes: b.rss, rssAt5sBytes: a.rss, peakRssBytes: b.hwm, threads: b.threads, cpuFractionOfOneCore: cpu, ticks: b.ticks - a.ticks, seconds: SECONDS };
    if (argv.includes('--json')) process.stdout.write(`${JSON.stringify(r, null, 2)}\n`);
    else {
      const mb = (x) => `${(x / 1e6).toFixed(1)} MB (${(x / 2 ** 20).toFixed(1)} MiB)`;
      process.stdout.write(
        `rayts-edge idle (${bare ? 'bare: ' : ''}node ${[...launchFlags, ...nodeFlags].join(' ')})${preload ? ` (node --import ${preload})` : ''}, ${process.version}: RSS ${mb(b.rss)} (5 s after joining ${mb(a.rss)}, peak ${mb(b.hwm)}), ` +
          `${b.threads} threads, CPU ${(cpu * 100).toFixed(2)} % of one core (${b.ticks - a.ticks} ticks in ${SECONDS} s)\n`,
      );
    }
  } finally {
    if (edge && edge.exitCode === null) {
      edge.kill('SIGTERM');
      await Promise.race([new Promise((r) => edge.once('exit', r)), sleep(5_000)]);
      if (edge.exitCode === null) edge.kill('SIGKILL');
    }
    await run(['stop'], env).catch(() => undefined);
    for (const pid of daemonPids(dir)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e) => {
  process.stderr.write(`bench/edge-idle.mjs: ${e?.stack ?? e}\n`);
  process.exit(1);
});
