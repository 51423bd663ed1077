/**
 * Spillback (issue 11.4): tasks queued at a busy node move to a node that can start them. Node B's
 * CPUs are held by two blockers that are released only after the burst has finished, and the burst is
 * sent to B (soft affinity): without spillback it could only finish after the blockers, so the test
 * would never complete; with it, node A (and later B) take the work.
 */
import { mkdtempSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { get, nodes, remote, runtimeContext, wait } from '@samsara/ray';
import { useCliCluster, until } from './helpers/cli-cluster.js';

describe('spillback (CLI cluster: 2 worker nodes of 2 CPUs, head without CPUs)', () => {
  useCliCluster({ numCpus: 0 }, [{ numCpus: 2, labels: 'name=a' }, { numCpus: 2, labels: 'name=b' }]);
  const dir = mkdtempSync(join(tmpdir(), 'rayts-spill-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('spillback - a burst of 40 × 200 ms tasks queued at a busy node runs on the other node while it stays busy', async () => {
    const all = await nodes();
    const a = all.find((n) => n.labels.name === 'a')!.nodeId;
    const b = all.find((n) => n.labels.name === 'b')!.nodeId;
    const release = join(dir, 'release');
    const started = join(dir, 'started');
    const blocker = remote(async (flag: string, mark: string) => {
      const fs = (process as unknown as { getBuiltinModule(m: string): typeof import('node:fs') }).getBuiltinModule('node:fs');
      fs.writeFileSync(`${mark}-${Math.random()}`, '');
      while (!fs.existsSync(flag)) await new Promise((r) => setTimeout(r, 20));
      return runtimeContext().nodeId;
    });
    const blockers = [0, 1].map(() => blocker.options({ scheduling: { nodeId: b } }).remote(release, started));
    await until(() => require_count(dir, 'started') === 2, 'both blockers to run on node B');

    const work = remote(async (i: number) => {
      await new Promise((r) => setTimeout(r, 200));
      return { i, node: runtimeContext().nodeId };
    });
    const burst = Array.from({ length: 40 }, (_, i) => work.options({ scheduling: { nodeId: b, soft: true } }).remote(i));
    const results = await get(burst, { timeoutMs: 60_000 });
    expect(existsSync(release)).toBe(false);
    expect(results.map((r) => r.i)).toEqual(Array.from({ length: 40 }, (_, i) => i));
    expect(results.filter((r) => r.node === a).length).toBe(40);
    writeFileSync(release, '');
    expect(await get(blockers)).toEqual([b, b]);
    const { notReady } = await wait(blockers, { numReturns: 2 });
    expect(notReady).toHaveLength(0);
  }, 90_000);
});

function require_count(dir: string, prefix: string): number {
  const fs = (process as unknown as { getBuiltinModule(m: string): typeof import('node:fs') }).getBuiltinModule('node:fs');
  return fs.readdirSync(dir).filter((f) => f.startsWith(prefix)).length;
}
