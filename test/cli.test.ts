/**
 * The `rayts` CLI as a person uses it: bad input, token handling, status/list output, and `stop`.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CliCluster, freePort, until, isAlive } from './helpers/cli-cluster.js';

describe('rayts CLI - bad input', () => {
  const c = new CliCluster(mkdtempSync(join(tmpdir(), 'rayts-cli-')), {});
  afterAll(() => rmSync(c.tmp, { recursive: true, force: true }));

  it('rayts start - negative CPUs are refused with the flag named and exit code 2', async () => {
    const r = await c.cli(['start', '--head', '--num-cpus=-1']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--num-cpus must be a finite number ≥ 0, got -1');
    const nan = await c.cli(['start', '--head', '--num-cpus', 'lots']);
    expect(nan.code).toBe(2);
    expect(nan.stderr).toContain('--num-cpus must be a finite number ≥ 0, got "lots"');
  });
  it('rayts start - malformed --resources JSON and unknown flags are refused with usage', async () => {
    const bad = await c.cli(['start', '--head', '--resources', '{camera:1']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--resources must be JSON.*Example: --resources/);
    const unknown = await c.cli(['start', '--head', '--cpus', '2']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/Unknown option '--cpus'.*Usage: rayts start --head/s);
  });
  it('rayts start - needs exactly one of --head or --address', async () => {
    const r = await c.cli(['start']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('give exactly one of --head');
  });
  it('rayts - an unknown command prints usage and exits 2', async () => {
    const r = await c.cli(['launch']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('unknown command "launch"');
  });
  it('rayts stop - with nothing running says so and succeeds', async () => {
    const r = await c.cli(['stop']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('No rayts processes started on this machine are running.');
  });
});

describe('rayts CLI - a running cluster', () => {
  let c: CliCluster;
  beforeAll(async () => {
    c = await CliCluster.start({ numCpus: 1, labels: 'zone=a' }, [{ numCpus: 1, resources: { camera: 1 }, labels: 'device=cam-01' }]);
  });
  afterAll(async () => {
    await c.stop();
  });

  it('rayts start --head - writes the token with mode 0600 and prints where it is and how to join', async () => {
    const session = readdirSync(c.tmp).find((d) => d.startsWith('session_2'))!;
    const tokenFile = join(c.tmp, session, 'token');
    expect(statSync(tokenFile).mode & 0o777).toBe(0o600);
    expect(readFileSync(tokenFile, 'utf8').trim()).toBe(c.token);
  });

  it('rayts start --address - a worker with a wrong token is refused with an authentication error', async () => {
    const r = await c.cli(['start', '--address', c.address, '--token', 'not-the-token']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/rejected this process's token/);
  });

  it('rayts status - lists nodes with used/total of every resource, custom ones included', async () => {
    const r = await c.cli(['status']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('Nodes: 2 alive, 0 dead');
    expect(r.stdout).toMatch(/CPU 0\/1, camera 0\/1/);
    expect(r.stdout).toContain('device=cam-01');
    expect(r.stdout).toContain('Resources (used/total): CPU 0/2, camera 0/1');
  });

  it('rayts list nodes --json - machine-readable node table', async () => {
    const r = await c.cli(['list', 'nodes', '--json']);
    const nodes = JSON.parse(r.stdout) as { nodeId: string; alive: boolean; labels: Record<string, string>; resources: Record<string, number> }[];
    expect(nodes).toHaveLength(2);
    expect(nodes.every((n) => n.alive)).toBe(true);
    expect(nodes.find((n) => n.labels.device === 'cam-01')?.resources.camera).toBe(1);
    const table = await c.cli(['list', 'nodes']);
    expect(table.stdout).toMatch(/NODEID\s+KIND\s+ADDRESS\s+ALIVE/);
  });

  it('rayts start --head - a port in use fails with the reason', async () => {
    const port = Number(c.address.split(':')[1]);
    const other = new CliCluster(mkdtempSync(join(tmpdir(), 'rayts-cli2-')), {});
    try {
      const r = await other.cli(['start', '--head', '--port', String(port)]);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/Cannot listen on 127\.0\.0\.1:\d+/);
    } finally {
      await other.cli(['stop']);
      rmSync(other.tmp, { recursive: true, force: true });
    }
    expect(await freePort()).toBeGreaterThan(0);
  });

  it('rayts stop - stops every daemon this machine started', async () => {
    const recs = readdirSync(join(c.tmp, 'processes')).map((f) => JSON.parse(readFileSync(join(c.tmp, 'processes', f), 'utf8')) as { pid: number });
    expect(recs.length).toBe(2);
    const r = await c.cli(['stop']);
    expect(r.stdout).toMatch(/Stopped 2 rayts processes/);
    await until(() => recs.every(({ pid }) => !isAlive(pid)), 'the daemons to exit');
    const st = await c.cli(['status']);
    expect(st.code).not.toBe(0);
  });
});
