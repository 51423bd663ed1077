/**
 * Sessions on one machine (issue 13 G, issue 11.6, issue 13 K): two clusters started from the same
 * RAYTS_TMPDIR — a driver and the CLI pick the session whose head runs at the address they were given;
 * a refused token names the session file it came from; a failed `rayts start --head` leaves the running
 * cluster's session the latest; `rayts status`/`list` honour RAYTS_ADDRESS; with only stale sessions,
 * `rayts status` says no cluster runs.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuthenticationError, get, init, remote, shutdown } from '@samsara/ray';
import { CliCluster, freePort } from './helpers/cli-cluster.js';

describe('two clusters on one machine', () => {
  let c: CliCluster;
  let first = '';
  let second = '';
  const saved = { tmp: process.env.RAYTS_TMPDIR, token: process.env.RAYTS_TOKEN, address: process.env.RAYTS_ADDRESS };

  beforeAll(async () => {
    c = await CliCluster.start({ numCpus: 1 }, []);
    first = c.address;
    const port = await freePort();
    const r = await c.cli(['start', '--head', '--port', String(port), '--num-cpus', '2']);
    expect(r.code, r.stderr).toBe(0);
    second = `127.0.0.1:${port}`;
    // This process is a driver on the same machine: it reads sessions from the same root.
    process.env.RAYTS_TMPDIR = c.tmp;
    delete process.env.RAYTS_TOKEN;
    delete process.env.RAYTS_ADDRESS;
  });
  afterAll(async () => {
    await shutdown();
    for (const [k, v] of [['RAYTS_TMPDIR', saved.tmp], ['RAYTS_TOKEN', saved.token], ['RAYTS_ADDRESS', saved.address]] as const) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
    await c?.stop();
  });

  const cpus = async (env: NodeJS.ProcessEnv, args: string[] = []): Promise<number> => {
    const r = await c.cli(['status', '--json', ...args], env);
    expect(r.code, r.stderr).toBe(0);
    const v = JSON.parse(r.stdout) as { nodes: { resources: Record<string, number> }[] };
    return v.nodes.reduce((n, x) => n + (x.resources.CPU ?? 0), 0);
  };

  it('init({ address }) of the older cluster reads that cluster\'s token, not the latest session\'s', async () => {
    await init({ address: first });
    expect(await get(remote((x: number) => x + 1).remote(1))).toBe(2);
    await shutdown();
  });

  it('rayts status/list - the latest running cluster by default; --address or RAYTS_ADDRESS picks the other, with its token', async () => {
    expect(await cpus({})).toBe(2);
    expect(await cpus({}, ['--address', first])).toBe(1);
    expect(await cpus({ RAYTS_ADDRESS: first })).toBe(1);
    const list = await c.cli(['list', 'nodes', '--json'], { RAYTS_ADDRESS: first });
    expect(list.code, list.stderr).toBe(0);
    expect(JSON.parse(list.stdout)).toHaveLength(1);
  });

  it('a refused token names the session file it was read from', async () => {
    const dirs = c.processes('head').filter((p) => p.address === first).map((p) => p.sessionDir);
    expect(dirs).toHaveLength(1);
    const file = join(dirs[0], 'token');
    const real = readFileSync(file, 'utf8');
    writeFileSync(file, 'not-the-token\n');
    try {
      const r = await c.cli(['status', '--address', first]);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(`rejected this process's token (read from ${file}`);
      expect(r.stderr).toContain(`whose head is at ${first}`);
      const err = await init({ address: first }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(AuthenticationError);
      expect((err as Error).message).toContain(`read from ${file}`);
    } finally {
      writeFileSync(file, real);
    }
  });

  it('rayts start --head on a port in use fails and leaves the running cluster the latest', async () => {
    const r = await c.cli(['start', '--head', '--port', second.split(':')[1]]);
    expect(r.code).not.toBe(0);
    expect(await cpus({})).toBe(2);
    const join2 = await c.cli(['start', '--address', second, '--num-cpus', '1']);
    expect(join2.code, join2.stderr).toBe(0);
    expect(await cpus({})).toBe(3);
  });

  it('rayts status with only stopped sessions says no cluster runs (not a connection error to an old port)', async () => {
    const stop = await c.cli(['stop']);
    expect(stop.code, stop.stderr).toBe(0);
    const r = await c.cli(['status']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/No running cluster found on this machine \(the last one, at 127\.0\.0\.1:\d+, is not running\)/);
    expect(r.stderr).not.toMatch(/ECONNREFUSED|cannot reach/);
    expect(r.stderr + r.stdout).not.toMatch(/run `rayts status`/);
  });
});
