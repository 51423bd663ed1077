/**
 * Values a user sends, on a real two-node CLI cluster (issue 13 C, D): a BigInt of any size put or
 * passed to a task on another node reads back equal; a value nested too deep is a SerializationError that
 * says why, whether put or passed as a task argument, and a task returning one fails with it too.
 */
import { describe, expect, it } from 'vitest';
import { get, put, remote, InvalidArgumentError, SerializationError, TaskError, type ObjectRef } from '@samsara/ray';
import { useCliCluster } from './helpers/cli-cluster.js';

describe('values on a CLI cluster', () => {
  const h = useCliCluster({ numCpus: 1 }, [{ numCpus: 1 }]);

  it('BigInt - 2^64, 2^70, -2^64 and a 4,000-bit BigInt round-trip through put and a task on each node', async () => {
    const values = [2n ** 64n, 2n ** 70n, -(2n ** 64n), 3n ** 2500n, 7n];
    for (const v of values) expect(await get(await put(v))).toBe(v);
    const echo = remote((x: bigint) => x);
    const double = remote((x: bigint) => x * 2n);
    for (const nodeId of h.cluster.nodeIds) {
      const onNode = { scheduling: { nodeId, soft: false } } as const;
      expect(await get(values.map((v) => echo.options(onNode).remote(v)))).toEqual(values);
      expect(await get(double.options(onNode).remote(2n ** 70n))).toBe(2n ** 71n);
      // the big value made inside the task comes back too
      expect(await get(remote(() => 2n ** 200n).options(onNode).remote())).toBe(2n ** 200n);
    }
  });

  it('deep nesting - put and a task argument 10,000 deep are SerializationError saying how deep is allowed', async () => {
    let deep: unknown = 1;
    for (let i = 0; i < 10_000; i++) deep = [deep];
    await expect(put(deep)).rejects.toThrow(SerializationError);
    await expect(put(deep)).rejects.toThrow(/nested more than 1000 levels deep/);
    const echo = remote((x: unknown) => x);
    await expect((async () => get(echo.remote(deep)))()).rejects.toThrow(/nested more than 1000 levels deep/);
    // A task that builds such a value fails with the same reason, not a crashed worker.
    const build = remote(() => {
      let v: unknown = 0;
      for (let i = 0; i < 5000; i++) v = { v };
      return v;
    });
    const err = await get(build.remote()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Error);
    expect(String((err as Error).message)).toMatch(/nested more than 1000 levels deep/);
    expect(err instanceof SerializationError || err instanceof TaskError).toBe(true);
    // and the cluster still works
    expect(await get(echo.remote([1, [2, [3]]]))).toEqual([1, [2, [3]]]);
  });

  it('newcomer - get(put(x)) without await says put returns a Promise; rayts start --help shows every flag for --address', async () => {
    const notAwaited = put(1) as unknown as ObjectRef<number>;
    await expect(get(notAwaited)).rejects.toThrow(InvalidArgumentError);
    await expect(get(notAwaited)).rejects.toThrow(/got a Promise: put\(\) returns a Promise of an ObjectRef/);
    const help = await h.cluster.cli(['start', '--help']);
    expect(help.code).toBe(0);
    const joinLine = help.stdout.split('\n').find((l) => l.includes('--address HOST:PORT')) ?? '';
    expect(joinLine).toContain('--object-store-memory BYTES');
  });
});
