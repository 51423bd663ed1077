/**
 * cancelRun: what `rayts workflow cancel RUN_ID` does. It creates the run's cancel file, which the
 * process running it checks every 200 ms (it then cancels as on Ctrl-C and stops the jobs and clusters
 * the run started). When that process is gone (it crashed or was killed), cancelRun stops the run's
 * live jobs and clusters itself and closes the journal as canceled.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { findCluster, stopCluster, stopJob } from './services.js';
import { RunStore } from './store.js';
import { isFinished, type RunRecord } from './status.js';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Options of {@link cancelRun}. */
export interface CancelOptions {
  readonly home?: string;
  /** Wait until the run has ended. @default true */
  readonly wait?: boolean;
  /** How long to wait. @default 120000 */
  readonly timeoutMs?: number;
}

/**
 * Cancels a run and (by default) waits until it has ended; returns its record.
 * @throws WorkflowNotFoundError for an unknown run id.
 */
export async function cancelRun(runId: string, options: CancelOptions = {}): Promise<RunRecord> {
  const store = new RunStore(options.home);
  let r = store.get(runId);
  if (isFinished(r.status)) return r;
  writeFileSync(join(store.dir(runId), 'cancel'), `${Date.now()}\n`);
  if (!alive(r.pid)) {
    await orphaned(store, r);
    return store.get(runId);
  }
  if (options.wait === false) return r;
  const deadline = Date.now() + (options.timeoutMs ?? 120_000);
  while (!isFinished(r.status)) {
    if (Date.now() > deadline) throw new Error(`run ${runId} did not end within ${(options.timeoutMs ?? 120_000) / 1000} s of the cancel request (process ${r.pid})`);
    await new Promise((res) => setTimeout(res, 100));
    r = store.get(runId);
    if (!isFinished(r.status) && !alive(r.pid)) {
      await orphaned(store, r);
      r = store.get(runId);
    }
  }
  return r;
}

async function orphaned(store: RunStore, r: RunRecord): Promise<void> {
  const t = () => Date.now();
  store.appendTo(r.runId, { type: 'run_canceling', t: t(), reason: `cancelled by \`rayts workflow cancel\`; process ${r.pid} that ran it is gone` });
  for (const res of r.liveResources) {
    try {
      if (res.kind === 'job' && res.jobId) await stopJob(res.address, res.jobId, { ...process.env, ...(findCluster(store.home, res.address) ? { RAYTS_TMPDIR: findCluster(store.home, res.address)!.tmpdir } : {}) });
      if (res.kind === 'cluster' && res.tmpdir) await stopCluster(store.home, { address: res.address, tmpdir: res.tmpdir });
      store.appendTo(r.runId, { type: 'resource', t: t(), action: 'stopped', resource: res });
    } catch {
      /* stays listed as live */
    }
  }
  for (const op of Object.values(r.ops)) {
    if (op.status === 'running' || op.status === 'retrying') store.appendTo(r.runId, { type: 'op_canceled', t: t(), op: op.name, attempt: op.attempts });
  }
  store.appendTo(r.runId, { type: 'run_finished', t: t(), status: 'canceled' });
}
