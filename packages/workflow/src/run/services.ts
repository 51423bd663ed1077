/**
 * RunServices: what the built-in ops share within one run — the clusters and jobs the run started
 * (so that cancelling stops them, and `ray_cluster_stop` finds a cluster's private RAYTS_TMPDIR), and
 * the journal they are recorded in. Clusters are also recorded under `<home>/clusters/` so a later run
 * or `rayts workflow cancel` (when the runner died) can stop them.
 */
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { rayts } from '../ops/rayts-cli.js';
import type { RunJournal } from './store.js';
import type { RunResource } from './status.js';

/** A cluster started by `ray_cluster_start`. */
export interface ClusterRecord {
  readonly address: string;
  /** Its private RAYTS_TMPDIR: its session, token and process records. */
  readonly tmpdir: string;
  readonly runId: string;
  readonly pids: readonly number[];
}

const fileOf = (home: string, address: string) => join(home, 'clusters', `${address.replace(/[^A-Za-z0-9.-]/g, '_')}.json`);

/** The recorded cluster at `address`, if a workflow started it and it was not stopped. */
export function findCluster(home: string, address: string): ClusterRecord | undefined {
  const f = fileOf(home, address);
  if (!existsSync(f)) return undefined;
  try {
    return JSON.parse(readFileSync(f, 'utf8')) as ClusterRecord;
  } catch {
    return undefined;
  }
}

/** Stops a cluster started by a workflow (`rayts stop` in its RAYTS_TMPDIR) and forgets it. */
export async function stopCluster(home: string, c: { address: string; tmpdir: string }, onLine?: (l: string) => void): Promise<void> {
  if (existsSync(c.tmpdir)) {
    const r = await rayts(['stop'], { env: { ...process.env, RAYTS_TMPDIR: c.tmpdir }, onLine });
    if (r.code !== 0) throw new Error(`rayts stop for the cluster at ${c.address} exited ${r.code}: ${r.stderr.trim() || r.stdout.trim()}`);
    rmSync(c.tmpdir, { recursive: true, force: true });
  }
  rmSync(fileOf(home, c.address), { force: true });
}

/** Stops a job (`rayts job stop`). */
export async function stopJob(address: string, jobId: string, env: NodeJS.ProcessEnv): Promise<void> {
  await rayts(['job', 'stop', jobId, '--address', address], { env });
}

export class RunServices {
  private readonly clusters = new Map<string, ClusterRecord>();
  private readonly jobs = new Map<string, { address: string; env: NodeJS.ProcessEnv }>();

  constructor(
    readonly home: string,
    readonly runId: string,
    private readonly journal: RunJournal,
  ) {}

  addCluster(c: ClusterRecord): void {
    this.clusters.set(c.address, c);
    mkdirSync(join(this.home, 'clusters'), { recursive: true });
    writeFileSync(fileOf(this.home, c.address), JSON.stringify(c), { mode: 0o600 });
    this.record('started', { kind: 'cluster', address: c.address, tmpdir: c.tmpdir });
  }

  /** Addresses of the clusters this run started and has not stopped. */
  startedClusters(): string[] {
    return [...this.clusters.keys()];
  }

  /** The cluster at `address` started by this run or an earlier one. */
  cluster(address: string): ClusterRecord | undefined {
    return this.clusters.get(address) ?? findCluster(this.home, address);
  }

  async stopCluster(c: ClusterRecord, onLine?: (l: string) => void): Promise<void> {
    await stopCluster(this.home, c, onLine);
    this.clusters.delete(c.address);
    this.record('stopped', { kind: 'cluster', address: c.address, tmpdir: c.tmpdir });
  }

  /** The environment for the `rayts` CLI talking to `address`: its RAYTS_TMPDIR (the token) when a workflow started it. */
  envFor(address: string, token?: string): NodeJS.ProcessEnv {
    const env = { ...process.env };
    const c = this.cluster(address);
    if (c) env.RAYTS_TMPDIR = c.tmpdir;
    if (token) env.RAYTS_TOKEN = token;
    return env;
  }

  addJob(address: string, jobId: string, env: NodeJS.ProcessEnv): void {
    this.jobs.set(jobId, { address, env });
    this.record('started', { kind: 'job', address, jobId });
  }

  jobEnded(jobId: string): void {
    const j = this.jobs.get(jobId);
    if (!j) return;
    this.jobs.delete(jobId);
    this.record('stopped', { kind: 'job', address: j.address, jobId });
  }

  /** Stops every job, then every cluster, this run started and has not stopped (on cancel). */
  async stopAll(log: (l: string) => void): Promise<void> {
    for (const [jobId, j] of [...this.jobs]) {
      log(`stopping job ${jobId} on ${j.address}`);
      await stopJob(j.address, jobId, j.env).catch((e: Error) => log(`job ${jobId}: ${e.message}`));
      this.jobEnded(jobId);
    }
    for (const c of [...this.clusters.values()]) {
      log(`stopping cluster ${c.address}`);
      await this.stopCluster(c, log).catch((e: Error) => log(`cluster ${c.address}: ${e.message}`));
    }
  }

  private record(action: 'started' | 'stopped', resource: RunResource): void {
    this.journal.append({ type: 'resource', t: Date.now(), action, resource });
  }
}
