/**
 * `ray_cluster_start` and `ray_cluster_stop`: a real cluster of `rayts start` daemons (a head and
 * `workers`), each cluster in a private RAYTS_TMPDIR so `ray_cluster_stop` stops exactly its processes
 * (`rayts stop` there) and nothing else this machine runs.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { OpContext } from './registry.js';
import { rayts } from './rayts-cli.js';
import type { RunServices } from '../run/services.js';

export interface NodeArgs {
  numCpus?: number;
  resources?: Record<string, number>;
  labels?: Record<string, string>;
}
export interface ClusterStartArgs extends NodeArgs {
  workers?: NodeArgs[];
  /** Head port; a free one when not given. */
  port?: number;
}

const nodeProps = {
  numCpus: { type: 'number', minimum: 0 },
  resources: { type: 'object', additionalProperties: { type: 'number', minimum: 0 } },
  labels: { type: 'object', additionalProperties: { type: 'string' } },
} as const;

export const clusterStartSchema = {
  args: {
    type: 'object',
    additionalProperties: false,
    properties: {
      ...nodeProps,
      port: { type: 'integer', minimum: 1, maximum: 65535 },
      workers: { type: 'array', items: { type: 'object', additionalProperties: false, properties: nodeProps } },
    },
  },
  outputs: {
    type: 'object',
    properties: { address: { type: 'string' }, pids: { type: 'array', items: { type: 'integer' } } },
  },
};

export const clusterStopSchema = {
  args: { type: 'object', required: ['address'], additionalProperties: false, properties: { address: { type: 'string' } } },
  outputs: { type: 'object', properties: { address: { type: 'string' }, stopped: { type: 'array', items: { type: 'integer' } } } },
};

function flags(n: NodeArgs): string[] {
  const out = ['--num-cpus', String(n.numCpus ?? 1)];
  if (n.resources && Object.keys(n.resources).length) out.push('--resources', JSON.stringify(n.resources));
  if (n.labels && Object.keys(n.labels).length) out.push('--labels', Object.entries(n.labels).map(([k, v]) => `${k}=${v}`).join(','));
  return out;
}

function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = createServer();
    s.once('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => res(p));
    });
  });
}

function pidsIn(dir: string): number[] {
  try {
    return readdirSync(join(dir, 'processes'))
      .map((f) => {
        try {
          return (JSON.parse(readFileSync(join(dir, 'processes', f), 'utf8')) as { pid: number }).pid;
        } catch {
          return 0;
        }
      })
      .filter((p) => p > 0);
  } catch {
    return [];
  }
}

export async function clusterStart(args: ClusterStartArgs, ctx: OpContext, svc: RunServices): Promise<{ address: string; pids: number[] }> {
  const dir = mkdtempSync(join(tmpdir(), 'rayts-wf-'));
  const env: NodeJS.ProcessEnv = { ...process.env, RAYTS_TMPDIR: dir };
  delete env.RAYTS_TOKEN;
  delete env.RAYTS_ADDRESS;
  const log = (l: string) => l.trim() && ctx.log(l);
  const port = args.port ?? (await freePort());
  const address = `127.0.0.1:${port}`;
  ctx.log(`starting head at ${address} (RAYTS_TMPDIR ${dir})`);
  const head = await rayts(['start', '--head', '--port', String(port), ...flags(args)], { env, onLine: log });
  if (head.code !== 0) {
    await rayts(['stop'], { env }).catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`rayts start --head exited ${head.code}: ${(head.stderr || head.stdout).trim().split('\n').slice(-3).join(' ')}`);
  }
  // Recorded before the workers start: a failure or a cancel from here on stops what did start.
  const record = { address, tmpdir: dir, runId: ctx.runId, pids: pidsIn(dir) };
  svc.addCluster(record);
  try {
    const joined = await Promise.all((args.workers ?? []).map((w) => rayts(['start', '--address', address, ...flags(w)], { env, onLine: log })));
    const bad = joined.find((j) => j.code !== 0);
    if (bad) throw new Error(`rayts start --address ${address} exited ${bad.code}: ${(bad.stderr || bad.stdout).trim().split('\n').slice(-3).join(' ')}`);
    if (ctx.signal.aborted) throw new Error('cancelled while starting');
  } catch (e) {
    ctx.log(`stopping the partly started cluster at ${address}`);
    await svc.stopCluster(record, log).catch(() => undefined);
    throw e;
  }
  const pids = pidsIn(dir);
  svc.addCluster({ ...record, pids });
  ctx.log(`cluster at ${address}: ${1 + (args.workers?.length ?? 0)} node(s), pids ${pids.join(', ')}`);
  return { address, pids };
}

export async function clusterStop(args: { address: string }, ctx: OpContext, svc: RunServices): Promise<{ address: string; stopped: number[] }> {
  const c = svc.cluster(args.address);
  if (!c) {
    throw new Error(`no cluster at ${args.address} was started by a workflow (or it was already stopped); ray_cluster_stop stops clusters started by ray_cluster_start. Stop others with \`rayts stop\` on their machine.`);
  }
  const pids = pidsIn(c.tmpdir);
  await svc.stopCluster(c, (l) => l.trim() && ctx.log(l));
  ctx.log(`stopped the cluster at ${args.address}`);
  return { address: args.address, stopped: pids.length ? pids : [...c.pids] };
}
