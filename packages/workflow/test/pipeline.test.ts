/**
 * The source platform's pipeline shape on real clusters (rayts start processes, a real job, a real
 * remote task): success through the CLI, failure with a webhook and the cluster still stopped, and
 * `rayts workflow cancel` stopping the job and the cluster of a run going in another process.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runWorkflow, RunStore } from '@samsara/ray-workflow';
import { isAlive, ROOT, startCli, tempWorkspace, until, webhookServer, workflowCli } from './helpers.js';

const FIXTURE = join(ROOT, 'packages/workflow/test/fixtures/pipeline.yaml');
const EXAMPLE = join(ROOT, 'examples/workflow');
const ws = tempWorkspace();
const env = { RAYTS_WORKFLOW_HOME: ws.home };
let hook: Awaited<ReturnType<typeof webhookServer>>;

beforeAll(async () => {
  hook = await webhookServer();
});
afterAll(async () => {
  await hook.close();
  rmSync(join(ROOT, 'packages/workflow/test/fixtures/published'), { recursive: true, force: true });
});

describe('pipeline - start cluster, dates, Ray job, remote task, publish, stop', () => {
  it('runs for real through `rayts workflow run` and records the run with its git commit', async () => {
    const r = await workflowCli(['run', FIXTURE, '--run-date', '2024-03-10'], env, 180_000, true);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const runId = /run (wr_[0-9a-f]{12}) success/.exec(r.stdout)![1];
    const run = new RunStore(ws.home).get(runId);
    expect(Object.fromEntries(Object.values(run.ops).map((o) => [o.name, o.status]))).toEqual({
      cluster: 'success',
      dates: 'success',
      generate: 'success',
      check: 'success',
      publish: 'success',
      stop: 'success',
    });
    expect(run.ops.dates.output).toEqual({ start_date: '2024-03-07', end_date: '2024-03-10' });
    const gen = run.ops.generate.output as { exitCode: number; jobId: string; result: { rows: number; days: number } };
    expect(gen.exitCode).toBe(0);
    expect(gen.jobId).toMatch(/^job_[0-9a-f]{12}$/);
    expect(gen.result).toEqual({ rows: 303, days: 3, start: '2024-03-07', end: '2024-03-10' });
    expect(run.ops.check.output).toMatchObject({ result: { ok: true, rowsPerDay: 101 } });
    // The job's output went into the run's log.
    expect(new RunStore(ws.home).logs(runId, 'generate')).toContain('generated 3 days of data from 2024-03-07 to 2024-03-10');
    // publish got `{context.run_id}-{dates.end_date}-{dates.start_date}` and the job's row count.
    const batch = `${runId}-2024-03-10-2024-03-07`;
    expect(run.ops.publish.output).toMatchObject({ batch_name: batch });
    const published = JSON.parse(readFileSync(join(ROOT, 'packages/workflow/test/fixtures/published', `${batch}.json`), 'utf8'));
    expect(published).toEqual({ batch_name: batch, rows: 303, run_id: runId });
    // publish waited for generate through `upstream` although it takes nothing from it as a string.
    expect(run.ops.publish.startedAt!).toBeGreaterThanOrEqual(run.ops.generate.endedAt!);
    // The cluster is gone: every daemon it started has exited.
    const { pids } = run.ops.cluster.output as { address: string; pids: number[] };
    expect(pids).toHaveLength(2);
    for (const pid of pids) expect(isAlive(pid)).toBe(false);
    expect(run.liveResources).toEqual([]);
    // Lineage: the file's hash and the repository's commit.
    expect(run.git?.commit).toBe(execFileSync('git', ['-C', ROOT, 'rev-parse', 'HEAD'], { encoding: 'utf8' }).trim());
    expect(run.fileHash).toMatch(/^[0-9a-f]{64}$/);
    const hist = await workflowCli(['history', FIXTURE], env);
    expect(hist.stdout).toContain(runId);
  }, 240_000);

  it('a failing job posts the failure webhook and the cluster is still stopped', async () => {
    const file = ws.write(
      'failing.yaml',
      `name: failing-pipeline
imports: [${join(EXAMPLE, 'ops.mjs')}]
alerts: { onFailure: { webhook: "${hook.url}" } }
ops:
  cluster: { op: ray_cluster_start, args: { numCpus: 1 } }
  dates: { op: run_dates, args: { days: 2 } }
  generate:
    op: ray_job
    args:
      address: "{cluster.address}"
      entrypoint: ["node", "-e", "console.log('generating {dates.start_date}'); process.exit(3)"]
  publish: { op: publish, args: { batch_name: "{context.run_id}" }, upstream: [generate] }
  stop: { op: ray_cluster_stop, args: { address: "{cluster.address}" }, upstream: [publish], always: true }
`,
    );
    const run = await runWorkflow(file, { home: ws.home, raiseOnError: false, runDate: new Date('2024-01-03T00:00:00Z') });
    const alert = (await hook.next()) as Record<string, unknown>;
    expect(run.status).toBe('failure');
    expect(run.ops.generate).toMatchObject({ status: 'failure', attempts: 1 });
    expect(run.ops.publish.status).toBe('skipped');
    expect(run.ops.stop.status).toBe('success');
    expect(alert).toMatchObject({ event: 'workflow.failure', runId: run.runId, op: 'generate', status: 'failure' });
    expect((alert.error as { message: string }).message).toMatch(/Op generate \(run wr_\w+, attempt 1\) failed: job job_[0-9a-f]{12} on 127\.0\.0\.1:\d+ failed with exit code 3/);
    expect(alert.logTail).toContain('generating 2024-01-01');
    for (const pid of (run.ops.cluster.output as { pids: number[] }).pids) expect(isAlive(pid)).toBe(false);
  }, 240_000);

  it('`rayts workflow cancel RUN_ID` stops the running job and the cluster of a run in another process', async () => {
    const file = ws.write(
      'long.yaml',
      `name: long-pipeline
ops:
  cluster: { op: ray_cluster_start, args: { numCpus: 1 } }
  generate: { op: ray_job, args: { address: "{cluster.address}", entrypoint: "node -e 'console.log(\\"working\\"); setInterval(() => {}, 1000)'" } }
  publish: { op: noop, upstream: [generate] }
`,
    );
    const cli = startCli(['run', file], env);
    const runId = (await cli.waitFor(/run (wr_[0-9a-f]{12}) started/))[1];
    await cli.waitFor(/\[generate\] working/, 120_000);
    const store = new RunStore(ws.home);
    const pids = (store.get(runId).ops.cluster.output as { pids: number[] }).pids;
    const jobId = store.get(runId).liveResources.find((r) => r.kind === 'job')!.jobId!;
    const c = await workflowCli(['cancel', runId], env);
    expect(c.stdout).toContain(`run ${runId}: canceled`);
    expect(await cli.exited).toBe(130);
    const run = store.get(runId);
    expect(run.status).toBe('canceled');
    expect(run.ops.generate.status).toBe('canceled');
    expect(run.ops.publish.status).toBe('skipped');
    expect(run.liveResources).toEqual([]);
    // The job was stopped (by the cancelled ray_job op), then the cluster (the run stops what it started).
    const stopped = store.events(runId).filter((e) => e.type === 'resource' && e.action === 'stopped').map((e) => (e as { resource: { kind: string; jobId?: string } }).resource);
    expect(stopped).toEqual([expect.objectContaining({ kind: 'job', jobId }), expect.objectContaining({ kind: 'cluster' })]);
    expect(store.logs(runId, '_run')).toContain(`stopping cluster ${(run.ops.cluster.output as { address: string }).address}`);
    await until(() => pids.every((p) => !isAlive(p)), 'the cluster daemons to exit');
    expect(existsSync(join(ws.home, 'runs', runId, 'cancel'))).toBe(true);
  }, 240_000);
});
