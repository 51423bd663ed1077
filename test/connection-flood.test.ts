/**
 * Descriptor exhaustion (issue 13 A): a flood of idle, unauthenticated TCP connections against the head's
 * gRPC port (which also carries the edge tunnels) and against a node's data plane. The daemons hold at
 * most the bound of them, close them when they do not authenticate in time, keep serving authenticated
 * peers throughout, and run with their soft descriptor limit raised to the hard one.
 */
import * as net from 'node:net';
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { get, nodes, remote } from '@samsara/ray';
import { spawn } from 'node:child_process';
import { CLI, isAlive, until, useCliCluster } from './helpers/cli-cluster.js';

const FLOOD = 700;
const BOUND = 64;

function fdCount(pid: number): number {
  return readdirSync(`/proc/${pid}/fd`).length;
}

function openIdle(port: number, n: number): Promise<net.Socket[]> {
  return Promise.all(
    Array.from({ length: n }, () =>
      new Promise<net.Socket>((resolve) => {
        const s = net.connect(port, '127.0.0.1');
        s.on('error', () => undefined);
        s.resume(); // flowing, so that the head's FIN is seen and the socket closes
        s.once('connect', () => resolve(s));
        s.once('close', () => resolve(s));
      }),
    ),
  );
}

describe.skipIf(process.platform !== 'linux')('connection flood', () => {
  const h = useCliCluster({ numCpus: 1 }, [{ numCpus: 1 }], { RAYTS_MAX_UNAUTHENTICATED: String(BOUND), RAYTS_AUTH_TIMEOUT_MS: '3000' });

  it('rayts start raises the daemon\'s soft descriptor limit to the hard one', async () => {
    // Start a worker from a shell whose soft limit is lowered: the daemon must not inherit it.
    const r = await new Promise<{ code: number | null; out: string }>((resolve) => {
      const p = spawn('/bin/sh', ['-c', 'ulimit -Sn 512 && exec "$0" "$@"', process.execPath, CLI, 'start', '--address', h.cluster.address, '--num-cpus', '0.5'], { env: h.cluster.env });
      let out = '';
      p.stdout.on('data', (d: Buffer) => (out += d.toString()));
      p.stderr.on('data', (d: Buffer) => (out += d.toString()));
      p.on('close', (code) => resolve({ code, out }));
    });
    expect(r.code, r.out).toBe(0);
    const worker = h.cluster.processes('worker').filter((p) => isAlive(p.pid)).sort((a, b) => b.pid - a.pid)[0];
    const m = /^Max open files\s+(\S+)\s+(\S+)/m.exec(readFileSync(`/proc/${worker.pid}/limits`, 'utf8'))!;
    expect(m[1]).toBe(m[2]);
    expect(m[1]).not.toBe('512');
    process.kill(worker.pid, 'SIGTERM');
    await until(() => !isAlive(worker.pid), 'the extra worker to stop');
    await until(async () => (await nodes()).filter((n) => n.alive).length === 2, 'the head to see the extra worker gone');
  });

  it(`${FLOOD} idle sockets on the head's gRPC port: at most ${BOUND} held, all closed after the timeout, the cluster serves throughout`, async () => {
    const pid = h.cluster.headPid();
    const port = Number(h.cluster.address.split(':')[1]);
    const before = fdCount(pid);
    const echo = remote((x: number) => x + 1);
    const sockets = await openIdle(port, FLOOD);
    try {
      // While the flood holds its slots: the head still answers (a new CLI connection authenticates
      // within milliseconds), and tasks still run.
      const st = await h.cluster.cli(['status', '--json']);
      expect(st.code, st.stderr).toBe(0);
      expect((JSON.parse(st.stdout) as { nodes: { alive: boolean }[] }).nodes.filter((n) => n.alive)).toHaveLength(2);
      expect(await get(Array.from({ length: 20 }, (_, i) => echo.remote(i)))).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
      expect(fdCount(pid)).toBeLessThanOrEqual(before + BOUND + 16);
      // Nobody authenticated: every flood socket is closed by the head after the timeout.
      await until(() => sockets.every((s) => s.closed), 'the head to close every idle socket', 30_000);
      expect(fdCount(pid)).toBeLessThanOrEqual(before + 16);
    } finally {
      for (const s of sockets) s.destroy();
    }
    expect(await get(echo.remote(41))).toBe(42);
  }, 120_000);
});
