/**
 * `rayts-edge` and the rest of the machine (issue 13 I, L): `rayts stop` stops an agent started on this
 * machine as the agent's banner and README say, and an agent whose head cannot be reached says so on the
 * terminal instead of only in its log.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { get, init, remote, shutdown } from '@samsara/ray';
import { CliCluster, freePort, isAlive, until } from './helpers/cli-cluster.js';

const EDGE_CLI = resolve(fileURLToPath(new URL('.', import.meta.url)), '../packages/edge-agent/dist/cli.js');

function launch(env: NodeJS.ProcessEnv, address: string): { proc: ChildProcess; out: () => string } {
  const proc = spawn(process.execPath, [EDGE_CLI, '--address', address, '--resources', '{"camera":1}'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  return { proc, out: () => out };
}

describe('rayts-edge on the machine of the head', () => {
  let c: CliCluster;
  const started: ChildProcess[] = [];
  beforeAll(async () => {
    c = await CliCluster.start({ numCpus: 1 }, []);
  });
  afterAll(async () => {
    for (const p of started) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
    await c?.stop();
  });

  it('rayts-edge - an unreachable head is reported on the terminal while it retries', async () => {
    const port = await freePort();
    const a = launch({ ...c.env, RAYTS_EDGE_WAIT_NOTICE_MS: '300' }, `127.0.0.1:${port}`);
    started.push(a.proc);
    await until(() => /still cannot reach the head at 127\.0\.0\.1:\d+ after \d+ s; retrying/.test(a.out()), 'the waiting notice');
    expect(a.out()).toContain(`rayts-edge: joining the cluster at 127.0.0.1:${port}...`);
    a.proc.kill('SIGTERM');
  });

  it('backpressure - 40 camera tasks on one agent with --max-queued-tasks 4 all finish, refusals spend no retries', async () => {
    const proc = spawn(process.execPath, [EDGE_CLI, '--address', c.address, '--resources', '{"camera":1}', '--max-queued-tasks', '4'], { env: c.env, stdio: ['ignore', 'pipe', 'pipe'] });
    started.push(proc);
    let out = '';
    proc.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    await until(() => /edge node [0-9a-f]+ joined/.test(out), 'the agent to join');
    await init({ address: c.address, token: c.token });
    try {
      const frame = remote(async (i: number) => {
        await new Promise((r) => setTimeout(r, 100));
        return i * 2;
      });
      // maxRetries 0: a refusal for capacity must not count as a failed attempt.
      const refs = Array.from({ length: 40 }, (_, i) => frame.options({ resources: { camera: 1 }, maxRetries: 0 }).remote(i));
      expect(await get(refs)).toEqual(Array.from({ length: 40 }, (_, i) => i * 2));
    } finally {
      await shutdown();
      proc.kill('SIGTERM');
    }
  }, 120_000);

  it('rayts stop - stops the edge agent started on this machine, which exits cleanly', async () => {
    const a = launch(c.env, c.address);
    started.push(a.proc);
    await until(() => /edge node [0-9a-f]+ joined/.test(a.out()) || a.proc.exitCode !== null, 'the agent to join');
    expect(a.out()).toContain('`rayts stop` on this machine');
    expect(c.processes('edge').map((p) => p.pid)).toEqual([a.proc.pid]);
    const exited = new Promise<number | null>((res) => a.proc.once('exit', (code) => res(code)));
    const r = await c.cli(['stop']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`edge ${a.proc.pid}`));
    expect(await exited).toBe(0);
    expect(isAlive(a.proc.pid!)).toBe(false);
  });
});
