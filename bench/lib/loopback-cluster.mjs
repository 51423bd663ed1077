/**
 * The three-process loopback cluster for the `cluster` variants of the core rows:
 *   rayts start --head --port P --resources '{"custom":100}'
 *   rayts start --address 127.0.0.1:P      (twice)
 * and `rayts stop` at the end, all run as `node <core package bin "rayts">` (packages/core/dist/cli.js when
 * the package declares no bin). `rayts start` launches its daemon detached, waits until it is ready and
 * exits 0 (DESIGN.md's CLI); `rayts stop` ends the processes recorded under the session root. RAYTS_TMPDIR
 * points that root (token, head record, process records, logs) at a fresh temp dir, so drivers find the
 * token there and `rayts stop` touches nothing but this cluster. CLI output goes to <tmp>/bench-cli.log.
 */
import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stopChild } from './child.mjs';

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CORE = join(REPO_ROOT, 'packages/core');
const START_MS = 60_000;

function cliPath() {
  try {
    const bin = JSON.parse(readFileSync(join(CORE, 'package.json'), 'utf8')).bin;
    const rel = typeof bin === 'string' ? bin : bin?.rayts;
    if (rel) return join(CORE, rel);
  } catch {
    /* fall through to the documented default */
  }
  return join(CORE, 'dist/cli.js');
}

export const CLI = cliPath();
const HEAD_READY_MS = 30_000;

/** Why the cluster variant cannot run, or undefined when the CLI exists. */
export function clusterUnavailableReason() {
  if (!existsSync(CLI)) return `rayts CLI not built: ${relative(REPO_ROOT, CLI)} does not exist yet (npm run build)`;
  return undefined;
}

/** A free TCP port on loopback (bound, read, released). */
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

function canConnect(port) {
  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

function tail(file, chars = 1500) {
  try {
    return readFileSync(file, 'utf8').slice(-chars).trim();
  } catch {
    return '';
  }
}

/** Pids of this user's processes whose environment has RAYTS_TMPDIR=<dir> (the daemons `rayts start` detached). */
export function daemonPids(dir) {
  const needle = `RAYTS_TMPDIR=${dir}\0`;
  const out = [];
  let entries = [];
  try {
    entries = readdirSync('/proc');
  } catch {
    return out; // no procfs: rely on `rayts stop`
  }
  for (const e of entries) {
    if (!/^\d+$/.test(e) || Number(e) === process.pid) continue;
    try {
      if (`${readFileSync(`/proc/${e}/environ`, 'latin1')}\0`.includes(needle)) out.push(Number(e));
    } catch {
      /* gone, or not ours */
    }
  }
  return out;
}

/** Ends the given pids (SIGTERM, then SIGKILL after `graceMs` for those still there). */
async function endPids(pids, graceMs = 5_000) {
  const alive = (pid) => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGTERM');
    } catch {
      /* already gone */
    }
  }
  const deadline = Date.now() + graceMs;
  while (pids.some(alive) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  for (const pid of pids.filter(alive)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* already gone */
    }
  }
}

/**
 * Node flags for the daemons, from RAYTS_BENCH_NODE_FLAGS (space-separated): `rayts start` hands its
 * own flags to the daemon it launches, so `--cpu-prof --cpu-prof-dir=DIR` profiles every thread of
 * every node (flags such as --cpu-prof are refused in NODE_OPTIONS).
 */
const nodeFlags = (process.env.RAYTS_BENCH_NODE_FLAGS ?? '').split(' ').filter(Boolean);

/**
 * Starts the cluster. Resolves to { address, env, stop }. On failure it cleans up what it started and
 * rejects with the CLI's output in the message.
 */
export async function startLoopbackCluster() {
  const dir = mkdtempSync(join(tmpdir(), 'rayts-bench-'));
  const env = { ...process.env, RAYTS_TMPDIR: dir };
  const logFile = join(dir, 'bench-cli.log');
  const logFd = openSync(logFile, 'a');
  const children = [];

  const launch = (args) =>
    new Promise((resolve, reject) => {
      const child = spawn(process.execPath, [...nodeFlags, CLI, ...args], { env, stdio: ['ignore', logFd, logFd] });
      children.push(child);
      const timer = setTimeout(() => reject(new Error(`rayts ${args.join(' ')} did not return within ${START_MS} ms: ${tail(logFile)}`)), START_MS);
      child.once('error', (e) => {
        clearTimeout(timer);
        reject(e);
      });
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        if (code === 0) resolve();
        else reject(new Error(`rayts ${args.join(' ')} exited with ${signal ?? code}: ${tail(logFile)}`));
      });
    });

  const stop = async () => {
    await new Promise((resolve) => {
      const s = spawn(process.execPath, [CLI, 'stop'], { env, stdio: ['ignore', logFd, logFd] });
      const timer = setTimeout(() => s.kill('SIGKILL'), 30_000);
      s.once('exit', () => {
        clearTimeout(timer);
        resolve();
      });
      s.once('error', () => resolve());
    });
    for (const c of children) await stopChild(c);
    // `rayts stop` can fail (e.g. the CLI is being rebuilt); daemons it left are found by their
    // RAYTS_TMPDIR and ended by pid, so no cluster outlives the run.
    const left = daemonPids(dir);
    if (left.length) await endPids(left);
    closeSync(logFd);
    rmSync(dir, { recursive: true, force: true });
  };

  try {
    const port = await freePort();
    await launch(['start', '--head', '--port', String(port), '--resources', JSON.stringify({ custom: 100 })]);
    const deadline = Date.now() + HEAD_READY_MS;
    while (!(await canConnect(port))) {
      if (Date.now() > deadline) throw new Error(`head did not listen on 127.0.0.1:${port} within ${HEAD_READY_MS} ms: ${tail(logFile)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    const address = `127.0.0.1:${port}`;
    await Promise.all([launch(['start', '--address', address]), launch(['start', '--address', address])]);
    return { address, env: { RAYTS_BENCH_CLUSTER_TMPDIR: dir, RAYTS_BENCH_CLUSTER_ADDRESS: address }, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
