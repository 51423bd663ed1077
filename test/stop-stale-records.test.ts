/**
 * `rayts stop` after a daemon was SIGKILLed: its record stays behind, and Linux may give its pid to an
 * unrelated process. The stop must leave that process alone (the record keeps the start time it was
 * written for) and still stop what the records truly name.
 */
import { describe, expect, it } from 'vitest';
import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { CLI, isAlive } from './helpers/cli-cluster.js';
import { startTicksOf } from '../packages/core/src/process/proc-stat.js';
import { findRestorableSession } from '../packages/core/src/cli/restore-session.js';
import { HEAD_STATE_FILE } from '../packages/core/src/head/head-state-store.js';

const run = promisify(execFile);

describe('rayts stop and stale process records', () => {
  it.skipIf(!existsSync('/proc/self/stat'))('stop - a record whose pid now belongs to another process (a different start time) is dropped, that process is not signalled', async () => {
    const tmp = mkdtempSync(join(tmpdir(), 'rayts-stale-'));
    const bystander = spawn('sleep', ['60'], { stdio: 'ignore' });
    const exited = new Promise((r) => bystander.once('exit', r));
    try {
      const ticks = startTicksOf(bystander.pid!)!;
      mkdirSync(join(tmp, 'processes'), { recursive: true });
      // What a SIGKILLed worker left: its pid, now reused by `sleep`, which started at another time.
      writeFileSync(
        join(tmp, 'processes', `${bystander.pid}.json`),
        JSON.stringify({ pid: bystander.pid, role: 'worker', address: '127.0.0.1:1', sessionDir: tmp, startedAt: new Date(0).toISOString(), startTicks: ticks - 1 }),
      );
      const { stdout } = await run(process.execPath, [CLI, 'stop', '--force'], { env: { ...process.env, RAYTS_TMPDIR: tmp } });
      expect(stdout).toContain('No rayts processes started on this machine are running.');
      expect(isAlive(bystander.pid!)).toBe(true);
      expect(readdirSync(join(tmp, 'processes'))).toEqual([]);

      // The same pid recorded with its true start time is one `rayts stop` started: it is stopped.
      writeFileSync(
        join(tmp, 'processes', `${bystander.pid}.json`),
        JSON.stringify({ pid: bystander.pid, role: 'worker', address: '127.0.0.1:1', sessionDir: tmp, startedAt: new Date().toISOString(), startTicks: ticks }),
      );
      const second = await run(process.execPath, [CLI, 'stop', '--force'], { env: { ...process.env, RAYTS_TMPDIR: tmp } });
      expect(second.stdout).toMatch(/Stopped 1 rayts process: worker \d+/);
      await exited;
    } finally {
      bystander.kill('SIGKILL');
      rmSync(tmp, { recursive: true, force: true });
    }
  });

  it.skipIf(!existsSync('/proc/self/stat'))('restore - a crashed head whose pid now belongs to another process is restorable; a running head is not', () => {
    const root = mkdtempSync(join(tmpdir(), 'rayts-stale-head-'));
    const bystander = spawn('sleep', ['60'], { stdio: 'ignore' });
    try {
      const ticks = startTicksOf(bystander.pid!)!;
      const dir = join(root, 'session_test');
      mkdirSync(dir, { recursive: true });
      symlinkSync(dir, join(root, 'session_latest'));
      writeFileSync(join(dir, 'token'), 'secret');
      writeFileSync(join(dir, HEAD_STATE_FILE), '');
      const head = (startTicks: number) => writeFileSync(join(dir, 'head.json'), JSON.stringify({ address: '127.0.0.1:6390', pid: bystander.pid, sessionDir: dir, startTicks }));
      // The head was SIGKILLed and `sleep` got its pid later: the session is the crashed head's, restorable.
      head(ticks - 1);
      expect(findRestorableSession(root)?.port).toBe(6390);
      // The recorded process itself still runs: nothing to restore.
      head(ticks);
      expect(findRestorableSession(root)).toBeUndefined();
    } finally {
      bystander.kill('SIGKILL');
      rmSync(root, { recursive: true, force: true });
    }
  });
});
