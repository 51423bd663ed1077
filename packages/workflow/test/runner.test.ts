import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadWorkflow, registerOp, runWorkflow, OpExecutionError, WorkflowRunError, RunStore, type RunEvent } from '@samsara/ray-workflow';
import { startCli, tempWorkspace, webhookServer, workflowCli } from './helpers.js';

// Two ops that can only finish when both run at the same time: proves independent ops run in parallel.
let arrived = 0;
let release: () => void = () => {};
const bothArrived = new Promise<void>((r) => (release = r));
registerOp('barrier', async ({ n }: { n: number }) => {
  if (++arrived === 2) release();
  await bothArrived;
  return { n };
});
const flakyCalls = new Map<string, number>();
registerOp('flaky', ({ key, failures }: { key: string; failures: number }, ctx) => {
  flakyCalls.set(key, (flakyCalls.get(key) ?? 0) + 1);
  if (ctx.attempt <= failures) throw new TypeError(`flaky ${key} failed on attempt ${ctx.attempt}`);
  return { attempt: ctx.attempt };
});
registerOp('wait_for_abort', (_args, ctx) => new Promise((_res, rej) => ctx.signal.addEventListener('abort', () => rej(ctx.signal.reason))));
registerOp('echo', (args: Record<string, unknown>, ctx) => ({ args, context: { runId: ctx.runId, attempt: ctx.attempt, runDate: ctx.runDate } }));

const ws = tempWorkspace();
let hook: Awaited<ReturnType<typeof webhookServer>>;
beforeAll(async () => {
  hook = await webhookServer();
});
afterAll(async () => {
  await hook.close();
});

describe('runWorkflow - scheduling', () => {
  it('runs independent ops in parallel and substitutes outputs keeping their types', async () => {
    const success = await webhookServer();
    const file = ws.write(
      'parallel.yaml',
      `name: parallel
alerts: { onSuccess: { webhook: "${success.url}", headers: { x-token: abc } } }
ops:
  a: { op: barrier, args: { n: 1 }, timeoutS: 30 }
  b: { op: barrier, args: { n: 2 }, timeoutS: 30 }
  c:
    op: echo
    args:
      sum: ["{a.n}", "{b.n}"]
      text: "{a.n}+{b.n} in {context.workflow} run {context.run_id} on {context.run_date} attempt {context.attempt}"
      whole: "{b.output}"
`,
    );
    const run = await runWorkflow(file, { home: ws.home, runDate: new Date('2024-03-05T03:00:00Z') });
    expect(run.status).toBe('success');
    const out = run.ops.c.output as { args: { sum: unknown[]; text: string; whole: unknown } };
    expect(out.args.sum).toEqual([1, 2]);
    expect(out.args.whole).toEqual({ n: 2 });
    expect(out.args.text).toBe(`1+2 in parallel run ${run.runId} on 2024-03-05 attempt 1`);
    expect(run.ops.c.startedAt!).toBeGreaterThanOrEqual(Math.max(run.ops.a.endedAt!, run.ops.b.endedAt!));
    expect(await success.next()).toMatchObject({ event: 'workflow.success', runId: run.runId, workflow: 'parallel', status: 'success', logTail: [] });
    expect(run.alerts).toEqual([{ on: 'success', webhook: success.url, ok: true, detail: '204 No Content' }]);
    await success.close();
  });

  it('retries with backoff, then succeeds; exhausted retries fail with the cause, op name and attempt', async () => {
    const events: RunEvent[] = [];
    const def = await loadWorkflow(
      ws.write(
        'retries.yaml',
        `name: retries
ops:
  ok_third: { op: flaky, args: { key: ok, failures: 2 }, retries: { count: 2, initialIntervalS: 0.02 } }
  never: { op: flaky, args: { key: never, failures: 9 }, retries: { count: 1, initialIntervalS: 0.02 } }
  after: { op: echo, upstream: [never] }
`,
      ),
    );
    const err = await runWorkflow(def, { home: ws.home, onEvent: (e) => events.push(e) }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WorkflowRunError);
    const run = (err as WorkflowRunError).run;
    expect(run.status).toBe('failure');
    expect(err).toMatchObject({ code: 'WORKFLOW_RUN_FAILED', runId: run.runId, status: 'failure' });
    expect(run.ops.ok_third).toMatchObject({ status: 'success', attempts: 3, output: { attempt: 3 } });
    expect(flakyCalls.get('ok')).toBe(3);
    expect(events.filter((e) => e.type === 'op_retrying' && e.op === 'ok_third').map((e) => (e as { delayMs: number }).delayMs)).toEqual([20, 40]);
    expect(run.ops.never).toMatchObject({ status: 'failure', attempts: 2 });
    expect(run.ops.after).toMatchObject({ status: 'skipped', skipReason: 'upstream never (failure) did not succeed' });
    const cause = (err as WorkflowRunError).cause as OpExecutionError;
    expect(cause).toBeInstanceOf(OpExecutionError);
    expect(cause).toMatchObject({ opName: 'never', attempt: 2, reason: 'error', code: 'WORKFLOW_OP_FAILED' });
    expect(cause.cause).toBeInstanceOf(TypeError);
    expect((cause.cause as Error).message).toBe('flaky never failed on attempt 2');
  });

  it('timeoutS stops a slow op; cancelling runs always-ops and cancels the rest', async () => {
    const t = await runWorkflow(ws.write('timeout.yaml', 'name: timeout\nops:\n  slow: { op: wait_for_abort, timeoutS: 0.2 }\n'), { home: ws.home, raiseOnError: false });
    expect(t.ops.slow).toMatchObject({ status: 'failure', error: { message: expect.stringMatching(/Op slow \(run wr_\w+, attempt 1\) timed out: timed out after 0.2 s/) } });

    const ctrl = new AbortController();
    registerOp('started_signal', () => ({}));
    let waitStarted: () => void = () => {};
    const started = new Promise<void>((r) => (waitStarted = r));
    const p = runWorkflow(
      ws.write(
        'cancel.yaml',
        `name: cancel
ops:
  go: { op: started_signal }
  wait: { op: wait_for_abort, upstream: [go] }
  next: { op: echo, upstream: [wait] }
  cleanup: { op: echo, args: { from: "{go.output}" }, upstream: [wait], always: true }
`,
      ),
      { home: ws.home, signal: ctrl.signal, raiseOnError: false, onEvent: (e) => e.type === 'op_started' && e.op === 'wait' && waitStarted() },
    );
    await started;
    ctrl.abort();
    const run = await p;
    expect(run.status).toBe('canceled');
    expect(run.ops.wait.status).toBe('canceled');
    expect(run.ops.next.status).toBe('skipped');
    expect(run.ops.cleanup).toMatchObject({ status: 'success', output: { args: { from: {} } } });
  });
});

describe('runWorkflow - failure alert, shell and http ops, history', () => {
  it('a failing op posts the onFailure webhook with run id, op, error and log tail; always-ops still run', async () => {
    const file = ws.write(
      'fail.yaml',
      `name: failing
alerts: { onFailure: { webhook: "${hook.url}" }, onSuccess: { webhook: "${hook.url}" } }
ops:
  hello: { op: shell, args: { command: "echo hello $((1+1)) && echo to-stderr >&2", shell: true } }
  boom:
    op: shell
    args: { command: [node, -e, "console.log('about to fail: ' + process.argv[1]); process.exit(3)", "{hello.stdout}"] }
  after: { op: echo, upstream: [boom] }
  independent: { op: http, args: { url: "${hook.url}", body: { ping: "{hello.stdout}" } } }
  stop: { op: echo, args: { said: "{hello.stdout}" }, upstream: [boom], always: true }
`,
    );
    const run = await runWorkflow(file, { home: ws.home, raiseOnError: false });
    expect(hook.bodies[0]).toEqual({ ping: 'hello 2' });
    const alert = (await hook.next(), await hook.next()) as Record<string, unknown>;
    expect(run.status).toBe('failure');
    expect(run.ops.hello.output).toEqual({ stdout: 'hello 2', stderr: 'to-stderr', exitCode: 0 });
    expect(run.ops.after.status).toBe('skipped');
    expect(run.ops.independent.status).toBe('success');
    expect(run.ops.stop).toMatchObject({ status: 'success', output: { args: { said: 'hello 2' } } });
    expect(alert).toMatchObject({ event: 'workflow.failure', runId: run.runId, workflow: 'failing', status: 'failure', op: 'boom' });
    expect((alert.error as { message: string }).message).toMatch(/Op boom .* failed: node exited 3/);
    expect(alert.logTail).toContain('about to fail: hello 2');
    expect(run.alerts).toEqual([{ on: 'failure', webhook: hook.url, ok: true, detail: '204 No Content' }]);

    // The record is durable: a new store reads the same journal, and the CLI shows it.
    const again = new RunStore(ws.home).get(run.runId);
    expect(again.ops.boom).toMatchObject({ status: 'failure', attempts: 1 });
    const hist = await workflowCli(['history', file], { RAYTS_WORKFLOW_HOME: ws.home });
    expect(hist.code).toBe(0);
    expect(hist.stdout).toMatch(new RegExp(`${run.runId}\\s+failure .* 3/5 ops ok\\s+manual`));
    const show = await workflowCli(['show', run.runId], { RAYTS_WORKFLOW_HOME: ws.home });
    expect(show.stdout).toContain('boom [shell] failure, 1 attempt');
    expect(show.stdout).toContain('about to fail: hello 2');
    expect(show.stdout).toContain('after [echo] skipped');
  });
});

describe('rayts workflow run - Ctrl-C', () => {
  it('cancels: the running command is terminated, always-ops run, exit 130', async () => {
    const file = ws.write(
      'ctrl-c.yaml',
      `name: ctrl_c
ops:
  sleep: { op: shell, args: { command: "echo sleeping; exec sleep 600", shell: true } }
  next: { op: noop, upstream: [sleep] }
  cleanup: { op: shell, args: { command: [node, -e, "console.log('cleaned up')"] }, upstream: [sleep], always: true }
`,
    );
    const cli = startCli(['run', file], { RAYTS_WORKFLOW_HOME: ws.home });
    const runId = (await cli.waitFor(/run (wr_[0-9a-f]{12}) started/))[1];
    await cli.waitFor(/\[sleep\] sleeping/);
    cli.child.kill('SIGINT');
    expect(await cli.exited).toBe(130);
    const run = new RunStore(ws.home).get(runId);
    expect(run.status).toBe('canceled');
    expect(run.ops.sleep.status).toBe('canceled');
    expect(run.ops.next.status).toBe('skipped');
    expect(run.ops.cleanup).toMatchObject({ status: 'success', output: { stdout: 'cleaned up' } });
    expect(cli.output()).toContain('cancelling the run');
  });
});

describe('cancelRun - the process running the run is gone', () => {
  it('closes the record as canceled and stops what the run had started', async () => {
    const { cancelRun } = await import('@samsara/ray-workflow');
    const { spawnSync } = await import('node:child_process');
    const { mkdirSync, writeFileSync } = await import('node:fs');
    const { join } = await import('node:path');
    const deadPid = spawnSync(process.execPath, ['-e', '0']).pid!;
    const runId = 'wr_0123456789ab';
    const dir = join(ws.home, 'runs', runId);
    mkdirSync(dir, { recursive: true });
    const t = Date.now();
    const events = [
      { type: 'run_queued', t, runId, workflow: 'orphan', file: '/x/orphan.yaml', fileHash: 'h', git: null, trigger: 'manual', runDate: '2024-01-01', pid: deadPid, ops: [{ name: 'a', type: 'ray_cluster_start', dependsOn: [] }] },
      { type: 'run_started', t },
      { type: 'op_started', t, op: 'a', attempt: 1 },
      // A cluster whose private RAYTS_TMPDIR is already gone: nothing to stop, the record is closed.
      { type: 'resource', t, action: 'started', resource: { kind: 'cluster', address: '127.0.0.1:1', tmpdir: join(ws.dir, 'gone') } },
    ];
    writeFileSync(join(dir, 'events.jsonl'), events.map((e) => JSON.stringify(e)).join('\n') + '\n');
    const run = await cancelRun(runId, { home: ws.home });
    expect(run.status).toBe('canceled');
    expect(run.ops.a.status).toBe('canceled');
    expect(run.liveResources).toEqual([]);
  });
});
