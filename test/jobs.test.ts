/**
 * `rayts job submit|status|logs|stop` and `rayts list objects` on a real cluster started through the
 * CLI (a head and a worker node, separate processes): the head runs entrypoints whose `init()` joins it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CliCluster, isAlive, until } from './helpers/cli-cluster.js';

interface JobJson {
  submissionId: string;
  jobId: string;
  type: string;
  state: string;
  hasExitCode: boolean;
  exitCode: number;
  driverState: string;
  message: string;
}

interface ObjectJson {
  objectId: string;
  sizeBytes: number;
  state: string;
  location: string;
}

function writeProject(dir: string): void {
  mkdirSync(dir, { recursive: true });
  // The remote function uses an import of its module: it only runs on a node once the dir is shipped.
  writeFileSync(join(dir, 'helper.mjs'), 'export function helper(x) { return x * x + 1; }\n');
  writeFileSync(
    join(dir, 'work.mjs'),
    "import { remote } from '@samsara/ray';\nimport { helper } from './helper.mjs';\nexport const work = remote((x) => helper(x));\n",
  );
  writeFileSync(
    join(dir, 'main.mjs'),
    [
      "import { init, get, shutdown } from '@samsara/ray';",
      "import { work } from './work.mjs';",
      'await init();',
      'const r = await get([1, 2, 3, 4].map((x) => work.remote(x)));',
      "console.log('result=' + JSON.stringify(r));",
      'await shutdown();',
    ].join('\n'),
  );
  writeFileSync(
    join(dir, 'hold.mjs'),
    [
      "import { init, put } from '@samsara/ray';",
      'await init();',
      'const ref = await put(new Float64Array(256 * 1024));',
      'console.log(`put=${ref.id}`);',
      'setInterval(() => {}, 1000);',
    ].join('\n'),
  );
}

function jobId(stdout: string): string {
  const m = /Job (job_[0-9a-f]{12}) submitted/.exec(stdout);
  if (!m) throw new Error(`no job id in: ${stdout}`);
  return m[1];
}

describe('rayts job - submitted jobs on a running cluster', () => {
  let c: CliCluster;
  let proj: string;
  beforeAll(async () => {
    c = await CliCluster.start({ numCpus: 1 }, [{ numCpus: 1 }]);
    proj = join(mkdtempSync(join(tmpdir(), 'rayts-job-proj-')), 'proj');
    writeProject(proj);
  });
  afterAll(async () => {
    await c?.stop();
    if (proj) rmSync(join(proj, '..'), { recursive: true, force: true });
  });

  const status = async (id: string): Promise<JobJson> => {
    const r = await c.cli(['job', 'status', id, '--json']);
    expect(r.code, r.stderr).toBe(0);
    return JSON.parse(r.stdout) as JobJson;
  };

  it('rayts job submit - runs the entry script in the shipped working dir, its init() joins the cluster, and the result is printed', async () => {
    const r = await c.cli(['job', 'submit', '--working-dir', proj, '--', 'node', 'main.mjs']);
    expect(r.code, r.stderr + r.stdout).toBe(0);
    expect(r.stdout).toContain('result=[2,5,10,17]');
    const id = jobId(r.stdout);
    expect(r.stdout).toContain(`Job ${id} succeeded.`);
    const j = await status(id);
    expect(j).toMatchObject({ submissionId: id, type: 'SUBMISSION', state: 'SUCCEEDED', hasExitCode: true, exitCode: 0, driverState: 'SUCCEEDED' });
    expect(j.jobId).toMatch(/^[0-9a-f]{8}$/);
    const text = await c.cli(['job', 'status', id]);
    expect(text.stdout).toContain(`Job ${id}: SUCCEEDED (exit code 0)`);
    expect(text.stdout).toContain(`driver:     job ${j.jobId} SUCCEEDED`);
    const list = JSON.parse((await c.cli(['list', 'jobs', '--json'])).stdout) as JobJson[];
    // The driver's job appears once, as the submission's.
    expect(list.filter((x) => x.jobId === j.jobId)).toEqual([expect.objectContaining({ submissionId: id, type: 'SUBMISSION' })]);
    const logs = await c.cli(['job', 'logs', id]);
    expect(logs.code).toBe(0);
    expect(logs.stdout).toBe('result=[2,5,10,17]\n');
  });

  it('rayts job submit - a failing entrypoint exits with its code and status says FAILED', async () => {
    const r = await c.cli(['job', 'submit', '--', 'node', '-e', "console.error('boom'); process.exit(3)"]);
    expect(r.code).toBe(3);
    expect(r.stdout).toContain('boom');
    const id = jobId(r.stdout);
    expect(r.stdout).toContain(`Job ${id} failed: the entrypoint exited with code 3.`);
    expect(await status(id)).toMatchObject({ state: 'FAILED', hasExitCode: true, exitCode: 3 });
  });

  it('rayts job submit - a command that does not exist fails the job with the reason', async () => {
    const r = await c.cli(['job', 'submit', '--', 'rayts-no-such-command']);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('cannot start "rayts-no-such-command"');
    expect((await status(jobId(r.stdout))).state).toBe('FAILED');
  });

  it('rayts job stop - ends a long job, which is then STOPPED', async () => {
    const r = await c.cli(['job', 'submit', '--no-wait', '--', 'node', '-e', "console.log('started'); setInterval(() => {}, 1000)"]);
    expect(r.code, r.stderr).toBe(0);
    const id = jobId(r.stdout);
    await until(async () => (await c.cli(['job', 'logs', id])).stdout.includes('started'), 'the job to start');
    expect((await status(id)).state).toBe('RUNNING');
    const stop = await c.cli(['job', 'stop', id]);
    expect(stop.code, stop.stderr).toBe(0);
    expect(stop.stdout).toContain(`Job ${id} STOPPED.`);
    expect(await status(id)).toMatchObject({ state: 'STOPPED', exitCode: 128 + 15 });
    const again = await c.cli(['job', 'stop', id]);
    expect(again.stdout).toContain(`Job ${id} had already ended: STOPPED.`);
  });

  it('rayts job submit - background processes the job left (its group, and another group of its session) end with it', async () => {
    // `sleep 431 &` stays in the job's process group; after `set -m` the shell puts `sleep 432` in a
    // process group of its own, still in the job's session.
    const r = await c.cli(['job', 'submit', '--', 'sh', '-c', 'sleep 431 & echo bg=$!; set -m; sleep 432 & echo bg=$!; exit 0']);
    expect(r.code, r.stderr + r.stdout).toBe(0);
    const pids = [...r.stdout.matchAll(/bg=(\d+)/g)].map((m) => Number(m[1]));
    expect(pids).toHaveLength(2);
    await until(() => pids.every((p) => !isAlive(p)), 'the job\'s background sleeps to end', 20_000);
    expect((await status(jobId(r.stdout))).state).toBe('SUCCEEDED');
  });

  it('rayts job stop - stops the background processes of a running job too', async () => {
    const r = await c.cli(['job', 'submit', '--no-wait', '--', 'sh', '-c', 'set -m; sleep 433 & echo bg=$!; sleep 434']);
    const id = jobId(r.stdout);
    let bg = 0;
    await until(async () => {
      bg = Number(/bg=(\d+)/.exec((await c.cli(['job', 'logs', id])).stdout)?.[1] ?? 0);
      return bg > 0;
    }, 'the job to start its background sleep');
    expect(isAlive(bg)).toBe(true);
    const stop = await c.cli(['job', 'stop', id]);
    expect(stop.code, stop.stderr).toBe(0);
    await until(() => !isAlive(bg), 'the background sleep to end', 20_000);
  });

  it('rayts job submit - a job killed by a signal exits 128 + signal, as docs/jobs.md says', async () => {
    const r = await c.cli(['job', 'submit', '--', 'sh', '-c', 'kill -9 $$']);
    expect(r.code).toBe(137);
    expect(await status(jobId(r.stdout))).toMatchObject({ state: 'FAILED', exitCode: 137 });
  });

  it('rayts job logs - an unknown id fails naming the id and how to list jobs', async () => {
    const r = await c.cli(['job', 'logs', 'job_0123456789ab']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('No job "job_0123456789ab" on the cluster at');
    expect(r.stderr).toContain('List jobs with `rayts list jobs`.');
    const st = await c.cli(['job', 'status', 'nope']);
    expect(st.code).toBe(1);
    expect(st.stderr).toContain('No job "nope"');
    // job stop says the same as docs/jobs.md, for a malformed id too (it exited 2 with the head's
    // INVALID_ARGUMENT before).
    for (const id of ['nope', 'job_0123456789ab', '../../etc/passwd']) {
      const sp = await c.cli(['job', 'stop', id]);
      expect(sp.code, sp.stderr).toBe(1);
      expect(sp.stderr).toContain(`No job ${JSON.stringify(id)} on the cluster at`);
      expect(sp.stderr).toContain('List jobs with `rayts list jobs`.');
    }
  });

  it('session logs - every daemon and job log file is readable by its owner only (0600)', async () => {
    const logs = join(c.tmp, 'session_latest', 'logs');
    const files = readdirSync(logs).filter((f) => statSync(join(logs, f)).isFile());
    expect(files.length).toBeGreaterThan(1);
    for (const f of files) expect({ f, mode: (statSync(join(logs, f)).mode & 0o777).toString(8) }).toEqual({ f, mode: '600' });
  });

  it('rayts job - usage errors exit 2', async () => {
    const none = await c.cli(['job', 'submit', '--working-dir', proj]);
    expect(none.code).toBe(2);
    expect(none.stderr).toContain('rayts job submit needs an entrypoint command after --.');
    const sub = await c.cli(['job', 'run']);
    expect(sub.code).toBe(2);
    expect(sub.stderr).toContain('rayts job needs one of submit, status, logs, stop, got "run"');
    const dir = await c.cli(['job', 'submit', '--working-dir', join(proj, 'missing'), '--', 'node', 'main.mjs']);
    expect(dir.code).toBe(2);
    expect(dir.stderr).toContain('is not a directory');
  });

  it('rayts list objects - shows the object a job driver put, with its size and state', async () => {
    const r = await c.cli(['job', 'submit', '--no-wait', '--working-dir', proj, '--', 'node', 'hold.mjs']);
    expect(r.code, r.stderr).toBe(0);
    const id = jobId(r.stdout);
    let objectId = '';
    await until(async () => {
      objectId = /put=(\S+)/.exec((await c.cli(['job', 'logs', id])).stdout)?.[1] ?? '';
      return !!objectId;
    }, 'the driver to put its object');
    const { jobId: driverJob } = await status(id);
    const list = await c.cli(['list', 'objects', '--json']);
    expect(list.code, list.stderr).toBe(0);
    const objs = JSON.parse(list.stdout) as ObjectJson[];
    expect(objs.find((o) => o.objectId === objectId)).toMatchObject({ sizeBytes: expect.any(Number), state: 'IN_MEMORY', location: `driver job ${driverJob}` });
    expect(objs.find((o) => o.objectId === objectId)!.sizeBytes).toBeGreaterThanOrEqual(2 * 1024 * 1024);
    const table = await c.cli(['list', 'objects']);
    expect(table.stdout).toMatch(/OBJECTID\s+SIZE\s+STATE\s+LOCATION/);
    expect(table.stdout).toContain(objectId);
    expect((await c.cli(['job', 'stop', id])).code).toBe(0);
  });
});
