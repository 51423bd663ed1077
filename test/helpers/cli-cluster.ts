/**
 * Starts a real cluster through the CLI for integration tests: `rayts start --head` and worker nodes
 * with `rayts start --address`, each a separate OS process on random loopback ports, in a private
 * RAYTS_TMPDIR so tests never see each other's sessions. `stop()` runs `rayts stop` and removes it all.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { isAlive, isRecordedAlive } from '../../packages/core/src/cli/process-records.js';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll } from 'vitest';
import { init, nodes, shutdown } from '@samsara/ray';

const run = promisify(execFile);
export const CLI = resolve(fileURLToPath(new URL('.', import.meta.url)), '../../packages/core/dist/cli/main.js');

export interface NodeSpec {
  numCpus?: number;
  resources?: Record<string, number>;
  labels?: string;
  /** `--object-store-memory` in bytes (the node's default otherwise). */
  objectStoreMemory?: number;
  /** More `rayts start` flags (--metrics-port, --dashboard-port, TLS flags, ...). */
  flags?: string[];
}

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export async function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = createServer();
    s.once('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => res(p));
    });
  });
}

export class CliCluster {
  readonly env: NodeJS.ProcessEnv;
  address = '';
  token = '';
  nodeIds: string[] = [];

  constructor(readonly tmp: string, extraEnv: Record<string, string>) {
    this.env = { ...process.env, RAYTS_TMPDIR: tmp, ...extraEnv };
    delete this.env.RAYTS_TOKEN;
  }

  async cli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
    try {
      const { stdout, stderr } = await run(process.execPath, [CLI, ...args], { env: { ...this.env, ...env }, timeout: 60_000 });
      return { code: 0, stdout, stderr };
    } catch (e) {
      const err = e as { code?: number; stdout?: string; stderr?: string };
      return { code: typeof err.code === 'number' ? err.code : 1, stdout: err.stdout ?? '', stderr: err.stderr ?? '' };
    }
  }

  static async start(head: NodeSpec, workers: NodeSpec[], extraEnv: Record<string, string> = {}): Promise<CliCluster> {
    const c = new CliCluster(mkdtempSync(join(tmpdir(), 'rayts-it-')), { RAYTS_HEARTBEAT_MS: '200', RAYTS_DEAD_AFTER_MS: '3000', ...extraEnv });
    const port = await freePort();
    const r = await c.cli(['start', '--head', '--port', String(port), ...nodeFlags(head)]);
    if (r.code !== 0) throw new Error(`rayts start --head failed: ${r.stderr}${r.stdout}`);
    c.address = `127.0.0.1:${port}`;
    c.nodeIds.push(/node ([0-9a-f]+)/.exec(r.stdout)?.[1] ?? '');
    c.token = readFileSync(join(tmp(c), 'session_latest', 'token'), 'utf8').trim();
    const joined = await Promise.all(workers.map((w) => c.cli(['start', '--address', c.address, ...nodeFlags(w)])));
    for (const j of joined) {
      if (j.code !== 0) throw new Error(`rayts start --address failed: ${j.stderr}${j.stdout}`);
      c.nodeIds.push(/rayts node ([0-9a-f]+)/.exec(j.stdout)?.[1] ?? '');
    }
    return c;
  }

  /** What `rayts start` recorded of the daemons it started (`<RAYTS_TMPDIR>/processes/*.json`). */
  processes(role?: 'head' | 'worker' | 'edge'): ProcessInfo[] {
    let files: string[] = [];
    try {
      files = readdirSync(join(this.tmp, 'processes'));
    } catch {
      return [];
    }
    const out: ProcessInfo[] = [];
    for (const f of files) {
      try {
        out.push(JSON.parse(readFileSync(join(this.tmp, 'processes', f), 'utf8')) as ProcessInfo);
      } catch {
        /* being written or removed */
      }
    }
    return out.filter((p) => !role || p.role === role);
  }

  /** The pid of the running head daemon. */
  headPid(): number {
    const alive = this.processes('head').filter((p) => isRecordedAlive(p));
    if (alive.length !== 1) throw new Error(`expected one running head, found ${alive.length}`);
    return alive[0].pid;
  }

  async stop(): Promise<void> {
    try {
      await this.cli(['stop']);
    } finally {
      // Whatever `rayts stop` left (it failed, or a record was being written) is ended by pid: no
      // daemon outlives its test.
      for (const p of this.processes()) {
        // Only what this cluster started: a stale record of a SIGKILLed daemon may name a later process
        // (another test's) that reused the pid.
        if (!isRecordedAlive(p)) continue;
        try {
          process.kill(p.pid, 'SIGKILL');
        } catch {
          /* gone */
        }
      }
      rmSync(this.tmp, { recursive: true, force: true });
    }
  }
}

export interface ProcessInfo {
  pid: number;
  role: 'head' | 'worker' | 'edge';
  address: string;
  sessionDir: string;
  startTicks?: number;
}

/** True while `pid` runs (a zombie left by a SIGKILL does not count): the CLI's own check. */
export { isAlive };

function tmp(c: CliCluster): string {
  return c.tmp;
}

function nodeFlags(n: NodeSpec): string[] {
  const out = ['--num-cpus', String(n.numCpus ?? 1)];
  if (n.resources) out.push('--resources', JSON.stringify(n.resources));
  if (n.labels) out.push('--labels', n.labels);
  if (n.objectStoreMemory) out.push('--object-store-memory', String(n.objectStoreMemory));
  if (n.flags) out.push(...n.flags);
  return out;
}

/** Resolves when `check` returns true; polls on an interval, fails after `timeoutMs` with `what`. */
export async function until(check: () => Promise<boolean> | boolean, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * For the tests of the enclosing block: starts a CLI cluster (a head and `workers`), connects this
 * process to it as a driver and waits until every node is alive; shuts both down after.
 */
export function useCliCluster(head: NodeSpec, workers: NodeSpec[], env: Record<string, string> = {}): { readonly cluster: CliCluster } {
  const holder = {} as { cluster: CliCluster };
  beforeAll(async () => {
    holder.cluster = await CliCluster.start(head, workers, env);
    await init({ address: holder.cluster.address, token: holder.cluster.token });
    // A head started with --num-cpus 0 runs no worker node of its own.
    const want = (head.numCpus === 0 ? 0 : 1) + workers.length;
    await until(async () => (await nodes()).filter((n) => n.alive).length === want, `${want} alive nodes`);
  }, 60_000);
  afterAll(async () => {
    // The cluster is stopped even when the driver's shutdown fails or hangs.
    try {
      await Promise.race([shutdown(), new Promise((r) => setTimeout(r, 20_000).unref())]);
    } finally {
      await holder.cluster?.stop();
    }
  }, 60_000);
  return holder;
}
