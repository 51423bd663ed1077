/**
 * A paused head (issue 13 F): SIGSTOP the head of a CLI cluster for longer than the dead deadline, then
 * SIGCONT. The head notices it stood still and gives the nodes a fresh deadline: no node is declared dead,
 * no node gets a second entry, the cluster's CPU count stays right, and an object owned by the worker
 * node's process stays readable. Actors with default options are placed on the worker node, so a head
 * crash does not take them (issue 13 J).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { actor, get, kill, nodes, put, remote, runtimeContext, type ObjectRef } from '@samsara/ray';
import { until, useCliCluster } from './helpers/cli-cluster.js';

const DEAD_AFTER_MS = 3000;

describe('head paused (SIGSTOP/SIGCONT)', () => {
  const h = useCliCluster({ numCpus: 1 }, [{ numCpus: 1 }], { RAYTS_DEAD_AFTER_MS: String(DEAD_AFTER_MS) });

  it('a head stopped past the dead deadline declares no node dead and keeps one entry per node', async () => {
    const worker = h.cluster.nodeIds[1];
    const onWorker = { scheduling: { nodeId: worker, soft: false } } as const;
    // An object owned by the worker node's process (put inside a task there), larger than inline.
    const [inner] = await get(remote(async () => [await put(new Uint8Array(300_000).fill(7))]).options(onWorker).remote());
    const headLogs = join(h.cluster.tmp, 'session_latest', 'logs');
    const stalled = (): boolean =>
      readdirSync(headLogs).some((f) => f.startsWith('head') && f.endsWith('.log') && readFileSync(join(headLogs, f), 'utf8').includes('the head itself stood still'));
    expect(stalled()).toBe(false);

    const pid = h.cluster.headPid();
    process.kill(pid, 'SIGSTOP');
    try {
      // The fault itself: the head stands still for longer than a node may stay silent.
      await new Promise((r) => setTimeout(r, DEAD_AFTER_MS + 2000));
    } finally {
      process.kill(pid, 'SIGCONT');
    }
    await until(stalled, 'the head to log that it stood still', 20_000);
    // Both nodes run work after the resume (their heartbeats are flowing again).
    for (const nodeId of h.cluster.nodeIds) expect(await get(remote(() => 'ok').options({ scheduling: { nodeId, soft: false } }).remote())).toBe('ok');
    const headLog = readdirSync(headLogs).filter((f) => f.startsWith('head') && f.endsWith('.log')).map((f) => readFileSync(join(headLogs, f), 'utf8')).join('');
    expect(headLog).not.toContain('node declared dead');
    expect(headLog.match(/"msg":"node registered"/g)?.length).toBe(2);
    const all = await nodes();
    expect(all.map((n) => n.nodeId).sort()).toEqual([...h.cluster.nodeIds].sort());
    expect(all.filter((n) => !n.alive)).toEqual([]);
    expect(all.reduce((s, n) => s + (n.resources.CPU ?? 0), 0)).toBe(2);
    const back = (await get(inner as ObjectRef<Uint8Array>)) as Uint8Array;
    expect([back.byteLength, back[0], back[299_999]]).toEqual([300_000, 7, 7]);
    expect(await get(remote(() => 41 + 1).options(onWorker).remote())).toBe(42);
  });

  it('actors - detached and plain actors with default options are placed on the worker node, not the head\'s', async () => {
    const Where = actor(
      class Where {
        node() {
          return runtimeContext().nodeId;
        }
      },
    );
    const detached = Where.options({ name: 'where-detached', lifetime: 'detached' }).remote();
    const plain = Where.remote();
    const worker = h.cluster.nodeIds[1];
    expect(await get(detached.node.remote())).toBe(worker);
    expect(await get(plain.node.remote())).toBe(worker);
    await kill(detached);
  });
});
