/**
 * JobManager on its own (no gRPC): entrypoint validation, the stop escalation from SIGTERM to SIGKILL,
 * and the link from a submission to the driver job its entrypoint registers.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InvalidArgumentError, silentLogger } from '@samsara/ray-common';
import type { rayts } from '@samsara/ray-proto';
import { JobManager, validateEntrypoint } from '../src/head/job-manager.js';

const dirs: string[] = [];
const managers: JobManager[] = [];
afterEach(() => {
  for (const m of managers.splice(0)) m.close();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function manager(drivers: Record<string, { state: string; driverAddress: string }> = {}): JobManager {
  const sessionDir = mkdtempSync(join(tmpdir(), 'rayts-jm-'));
  dirs.push(sessionDir);
  const m = new JobManager({ sessionDir, token: 't0k', headAddress: () => '127.0.0.1:1', driverJob: (id) => drivers[id], log: silentLogger(), stopGraceMs: 200, followPollMs: 20 });
  managers.push(m);
  return m;
}

const req = (entrypoint: string[]): rayts.SubmitJobRequest => ({ entrypoint, workingDirHash: '', workingDirArchive: new Uint8Array() }) as unknown as rayts.SubmitJobRequest;

async function ended(m: JobManager, id: string): Promise<rayts.IJobInfo> {
  for (let i = 0; i < 200; i++) {
    const j = m.info(id)!;
    if (j.endMs) return j;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`job ${id} did not end`);
}

describe('JobManager', () => {
  it('validateEntrypoint - empty, NUL bytes and oversized entrypoints are INVALID_ARGUMENT', () => {
    expect(() => validateEntrypoint([])).toThrow(InvalidArgumentError);
    expect(() => validateEntrypoint([])).toThrow('SubmitJob: the entrypoint is empty.');
    expect(() => validateEntrypoint(['  '])).toThrow('the entrypoint command (its first argument) is empty');
    expect(() => validateEntrypoint(['node', 'a\0b'])).toThrow('contains a NUL byte');
    expect(() => validateEntrypoint(['x'.repeat(200_000)])).toThrow(/at most 131072 are allowed/);
    expect(() => validateEntrypoint(new Array(2000).fill('a'))).toThrow(/2000 arguments; at most 1024/);
    expect(validateEntrypoint(['node', 'main.mjs'])).toEqual(['node', 'main.mjs']);
  });

  it('JobManager - the entrypoint gets the cluster address, token and its submission id, and its output goes to the log', async () => {
    const m = manager();
    const { submissionId, logPath } = m.submit(req([process.execPath, '-e', 'console.log([process.env.RAYTS_ADDRESS, process.env.RAYTS_TOKEN, process.env.RAYTS_SUBMISSION_ID].join(" "))']));
    expect((await ended(m, submissionId)).state).toBe('SUCCEEDED');
    expect(readFileSync(logPath, 'utf8')).toBe(`127.0.0.1:1 t0k ${submissionId}\n`);
  });

  it('JobManager - stop escalates to SIGKILL when the job ignores SIGTERM, and the job is STOPPED', async () => {
    const m = manager();
    const { submissionId } = m.submit(req([process.execPath, '-e', "process.on('SIGTERM', () => console.log('ignored')); console.log('up'); setInterval(() => {}, 1000)"]));
    const logPath = m.info(submissionId)!.logPath!;
    for (let i = 0; i < 200 && !readFileSync(logPath, 'utf8').includes('up'); i++) await new Promise((r) => setTimeout(r, 25));
    expect(m.stop(submissionId)).toEqual({ found: true, stopping: true });
    const j = await ended(m, submissionId);
    expect(j).toMatchObject({ state: 'STOPPED', exitCode: 128 + 9 });
    expect(readFileSync(logPath, 'utf8')).toContain('ignored');
    expect(m.stop(submissionId)).toEqual({ found: true, stopping: false });
    expect(m.stop('job_000000000000')).toEqual({ found: false, stopping: false });
  });

  it('JobManager - a driver registered under a submission is shown with it, not as a job of its own', async () => {
    const m = manager({ d1: { state: 'RUNNING', driverAddress: '127.0.0.1:2' }, d2: { state: 'RUNNING', driverAddress: '127.0.0.1:3' } });
    const { submissionId } = m.submit(req([process.execPath, '-e', '']));
    m.driverRegistered(submissionId, 'd1');
    const list = m.list([{ jobId: 'd1', state: 'RUNNING' }, { jobId: 'd2', state: 'RUNNING' }]);
    expect(list).toEqual([
      expect.objectContaining({ submissionId, jobId: 'd1', type: 'SUBMISSION', driverState: 'RUNNING', driverAddress: '127.0.0.1:2' }),
      expect.objectContaining({ jobId: 'd2', type: 'DRIVER' }),
    ]);
    await ended(m, submissionId);
  });
});
