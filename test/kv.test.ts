/**
 * Cluster KV (issue 11 point 3) through the public API: embedded (driver, task, actor) and on a CLI
 * cluster (driver, and an actor on another node), the 4 MiB limit, argument checks and the token.
 * Persistence across a head restart is in head-restart.test.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as grpc from '@grpc/grpc-js';
import { init, shutdown, remote, actor, get, kv, runtimeContext, InvalidArgumentError, AuthenticationError, KV_MAX_VALUE_BYTES } from '@samsara/ray';
import { HeadClient } from '../packages/core/src/rpc/services.js';
import { callUnary } from '../packages/core/src/rpc/auth.js';
import { useCliCluster } from './helpers/cli-cluster.js';

const MiB = 1024 * 1024;

/** Writes from inside a task, reads back what the driver wrote. */
const kvTask = remote(async (ns: string) => {
  await kv.put(ns, 'from-task', `written by task on ${runtimeContext().nodeId}`);
  const v = await kv.get(ns, 'from-driver');
  return { seen: v, keys: await kv.list(ns, 'from-') };
});

class KvUser {
  async store(ns: string, key: string, bytes: Uint8Array) {
    await kv.put(ns, key, bytes);
    return runtimeContext().nodeId;
  }
  async read(ns: string, key: string) {
    const v = await kv.get(ns, key);
    return v instanceof Uint8Array ? [...v] : v;
  }
  async remove(ns: string, key: string) {
    return kv.del(ns, key);
  }
}
const KvActor = actor(KvUser);

describe('kv - embedded cluster', () => {
  beforeAll(async () => {
    await init({ numCpus: 2 });
  });
  afterAll(async () => {
    await shutdown();
  });

  it('kv - put/get give back what was put: a string stays a string, a Buffer a Buffer, a Uint8Array a Uint8Array', async () => {
    await kv.put('app', 'text', 'héllo ✓');
    await kv.put('app', 'buf', Buffer.from([1, 2, 3]));
    await kv.put('app', 'bytes', new Uint8Array([4, 5]));
    await kv.put('app', 'empty', '');
    expect(await kv.get('app', 'text')).toBe('héllo ✓');
    const buf = await kv.get('app', 'buf');
    expect(Buffer.isBuffer(buf)).toBe(true);
    expect([...(buf as Buffer)]).toEqual([1, 2, 3]);
    const bytes = await kv.get('app', 'bytes');
    expect(bytes).toBeInstanceOf(Uint8Array);
    expect(Buffer.isBuffer(bytes)).toBe(false);
    expect([...(bytes as Uint8Array)]).toEqual([4, 5]);
    expect(await kv.get('app', 'empty')).toBe('');
    expect(await kv.get('app', 'missing')).toBeUndefined();
    expect(await kv.get('other', 'text')).toBeUndefined(); // namespaces are separate
  });

  it('kv - list gives the sorted keys with a prefix; del removes and says whether the key existed', async () => {
    for (const k of ['cfg/b', 'cfg/a', 'cfgx', 'other/c']) await kv.put('lst', k, k);
    expect(await kv.list('lst', 'cfg/')).toEqual(['cfg/a', 'cfg/b']);
    expect(await kv.list('lst')).toEqual(['cfg/a', 'cfg/b', 'cfgx', 'other/c']);
    expect(await kv.list('lst', 'nothing/')).toEqual([]);
    expect(await kv.del('lst', 'cfg/a')).toBe(true);
    expect(await kv.del('lst', 'cfg/a')).toBe(false);
    expect(await kv.list('lst', 'cfg')).toEqual(['cfg/b', 'cfgx']);
    await kv.put('lst', 'cfg/b', 'replaced');
    expect(await kv.get('lst', 'cfg/b')).toBe('replaced');
  });

  it('kv - values up to 4 MiB are kept; one byte more is InvalidArgumentError naming namespace, key and size', async () => {
    expect(KV_MAX_VALUE_BYTES).toBe(4 * MiB);
    const max = new Uint8Array(4 * MiB).fill(7);
    max[4 * MiB - 1] = 9;
    await kv.put('big', 'max', max);
    const back = (await kv.get('big', 'max')) as Uint8Array;
    expect(back.byteLength).toBe(4 * MiB);
    expect(back[0]).toBe(7);
    expect(back[4 * MiB - 1]).toBe(9);
    const err = await kv.put('big', 'over', new Uint8Array(4 * MiB + 1)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InvalidArgumentError);
    expect((err as Error).message).toContain('kv.put("big", "over"): the value is 4194305 bytes, more than the 4194304 bytes (4 MiB) allowed');
    // A string is measured in UTF-8 bytes.
    await expect(kv.put('big', 'str', 'é'.repeat(2 * MiB + 1))).rejects.toThrow(/4194306 bytes, more than/);
    expect(await kv.list('big')).toEqual(['max']);
  });

  it('kv - bad namespaces, keys and values are InvalidArgumentError saying what is wrong', async () => {
    await expect(kv.put('', 'k', 'v')).rejects.toThrow(InvalidArgumentError);
    await expect(kv.put('', 'k', 'v')).rejects.toThrow('kv.put(): the namespace must not be empty');
    await expect(kv.get('ns', '')).rejects.toThrow('kv.get(): the key must not be empty');
    await expect(kv.get('ns', 'a\0b')).rejects.toThrow('contains a NUL character');
    await expect(kv.del('n'.repeat(300), 'k')).rejects.toThrow('the namespace is 300 characters long, more than the 256 allowed');
    await expect(kv.list('ns', 42 as unknown as string)).rejects.toThrow('kv.list(): the prefix must be a string, got number');
    const err = await kv.put('ns', 'k', { a: 1 } as unknown as string).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InvalidArgumentError);
    expect((err as Error).message).toMatch(/the value must be a string, a Uint8Array or a Buffer, got .*JSON\.stringify/s);
  });

  it('kv - tasks and actors read and write the same KV as the driver', async () => {
    await kv.put('shared', 'from-driver', 'hello workers');
    const r = await get(kvTask.remote('shared'));
    expect(r).toEqual({ seen: 'hello workers', keys: ['from-driver', 'from-task'] });
    expect(await kv.get('shared', 'from-task')).toMatch(/^written by task on [0-9a-f]+/);
    const a = KvActor.remote();
    await get(a.store.remote('shared', 'from-actor', new Uint8Array([9, 8, 7])));
    expect([...((await kv.get('shared', 'from-actor')) as Uint8Array)]).toEqual([9, 8, 7]);
    expect(await get(a.read.remote('shared', 'from-driver'))).toBe('hello workers');
    expect(await get(a.remove.remote('shared', 'from-actor'))).toBe(true);
    expect(await kv.get('shared', 'from-actor')).toBeUndefined();
    // Errors from inside an actor keep their class message.
    await expect(get(a.read.remote('', 'k'))).rejects.toThrow(/the namespace must not be empty/);
  });
});

describe('kv - CLI cluster', () => {
  const ctx = useCliCluster({ numCpus: 1 }, [{ numCpus: 1, resources: { far: 1 } }]);

  it('kv - an actor on another node writes, the driver reads; the limit holds at the head too', async () => {
    const a = KvActor.options({ resources: { far: 1 } }).remote();
    const actorNode = await get(a.store.remote('cli', 'model/weights', new Uint8Array([1, 2, 3])));
    expect(actorNode).toBe(ctx.cluster.nodeIds[1]);
    expect([...((await kv.get('cli', 'model/weights')) as Uint8Array)]).toEqual([1, 2, 3]);
    await kv.put('cli', 'model/config', JSON.stringify({ lr: 0.1 }));
    expect(await get(a.read.remote('cli', 'model/config'))).toBe('{"lr":0.1}');
    expect(await kv.list('cli', 'model/')).toEqual(['model/config', 'model/weights']);
    const big = new Uint8Array(4 * MiB).fill(1);
    await get(a.store.remote('cli', 'big', big));
    expect(((await kv.get('cli', 'big')) as Uint8Array).byteLength).toBe(4 * MiB);
    await expect(get(a.store.remote('cli', 'too-big', new Uint8Array(4 * MiB + 1)))).rejects.toThrow(/4194305 bytes, more than/);
  });

  it('kv - the head refuses KvCall without the cluster token, and checks what a peer sends', async () => {
    const client = new HeadClient(ctx.cluster.address, grpc.credentials.createInsecure());
    try {
      const wrong = await callUnary(client, 'kvCall', { op: 'get', namespace: 'cli', key: 'model/config' }, 'not-the-token').catch((e: unknown) => e);
      expect(wrong).toBeInstanceOf(AuthenticationError);
      const ok = await callUnary<unknown, { found: boolean }>(client, 'kvCall', { op: 'get', namespace: 'cli', key: 'model/config' }, ctx.cluster.token);
      expect(ok.found).toBe(true);
      // A peer that skips the client's checks gets INVALID_ARGUMENT, and the head lives on.
      const over = { op: 'put', namespace: 'cli', key: 'raw', value: new Uint8Array(4 * MiB + 2) };
      await expect(callUnary(client, 'kvCall', over, ctx.cluster.token)).rejects.toThrow(InvalidArgumentError);
      await expect(callUnary(client, 'kvCall', { op: 'put', namespace: 'a\0b', key: 'k' }, ctx.cluster.token)).rejects.toThrow(/NUL/);
      await expect(callUnary(client, 'kvCall', { op: 'drop', namespace: 'cli', key: 'k' }, ctx.cluster.token)).rejects.toThrow(/not one of put, get, delete, keys/);
      expect(await kv.get('cli', 'model/config')).toBe('{"lr":0.1}');
    } finally {
      client.close();
    }
  });
});
