import { afterEach, describe, expect, it } from 'vitest';
import { ObjectLostError } from '@samsara/ray-common';
import { PullManager, type PullChunk, type PullSink, type SharedObjectStore } from '../src/index.js';
import { makeStore, MiB, pattern } from './helpers.js';

let cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups) c();
  cleanups = [];
});
function store(opts: Parameters<typeof makeStore>[0] = {}): SharedObjectStore {
  const s = makeStore(opts);
  cleanups.push(() => s.cleanup());
  return s.store;
}

/** A fetch that serves from another store, like the core's gRPC pull, counting calls. */
function fetchFrom(remote: SharedObjectStore, opts: { failAfterChunks?: number; failTimes?: number } = {}) {
  const calls: { id: string; offset: number }[] = [];
  let failures = 0;
  async function* fetch(_location: string, id: string, offset: number): AsyncIterable<PullChunk> {
    calls.push({ id, offset });
    const v = remote.get(id);
    if (!v) throw new ObjectLostError(`no ${id} at remote`);
    const meta = v.meta;
    v.release();
    let n = 0;
    for await (const c of remote.readChunks(id, offset, 256 * 1024)) {
      await new Promise((r) => setImmediate(r));
      if (opts.failAfterChunks !== undefined && n++ === opts.failAfterChunks && failures < (opts.failTimes ?? 1)) {
        failures++;
        throw new Error('connection reset');
      }
      yield { data: Uint8Array.from(c), totalBytes: meta.sizeBytes, meta };
    }
  }
  return { fetch, calls };
}

describe('PullManager', () => {
  it('PullManager - two concurrent pulls of one object share one fetch', async () => {
    const remote = store();
    const local = store();
    remote.putValue('o', pattern(3 * MiB, 5));
    const { fetch, calls } = fetchFrom(remote);
    const pm = new PullManager(local, fetch);
    const p1 = pm.pull('o', 'node-b');
    const p2 = pm.pull('o', 'node-b');
    expect(pm.activePulls).toBe(1);
    await Promise.all([p1, p2]);
    expect(calls).toEqual([{ id: 'o', offset: 0 }]);
    const v = local.get('o')!;
    expect(Buffer.compare(v.data, pattern(3 * MiB, 5))).toBe(0);
    v.release();
    await pm.pull('o', 'node-b'); // already local: no fetch
    expect(calls.length).toBe(1);
    expect(pm.activePulls).toBe(0);
  });

  it('PullManager - a broken stream resumes at the last written offset', async () => {
    const remote = store();
    const local = store();
    remote.putValue('o', pattern(2 * MiB, 6));
    const { fetch, calls } = fetchFrom(remote, { failAfterChunks: 3 });
    await new PullManager(local, fetch).pull('o', 'node-b');
    expect(calls).toEqual([
      { id: 'o', offset: 0 },
      { id: 'o', offset: 3 * 256 * 1024 },
    ]);
    const v = local.get('o')!;
    expect(Buffer.compare(v.data, pattern(2 * MiB, 6))).toBe(0);
    v.release();
  });

  it('PullManager - a pull that keeps failing rejects with ObjectLostError and leaves nothing behind', async () => {
    const remote = store();
    const local = store();
    remote.putValue('o', pattern(2 * MiB, 7));
    const { fetch, calls } = fetchFrom(remote, { failAfterChunks: 1, failTimes: 10 });
    const pm = new PullManager(local, fetch, { maxResumes: 2 });
    await expect(pm.pull('o', 'node-b')).rejects.toThrow(ObjectLostError);
    await expect(pm.pull('o', 'node-b')).rejects.toThrow(/failed after 2 resume\(s\).*connection reset/);
    expect(calls.length).toBe(6);
    expect(local.has('o')).toBe(false);
    expect(local.stats().usedBytes).toBe(0);
  });

  it('PullManager - a full local store fails the pull at once with ObjectStoreFullError', async () => {
    const remote = store();
    const local = store({ capacityBytes: MiB, spillingEnabled: false });
    remote.putValue('o', pattern(2 * MiB, 8));
    const { fetch, calls } = fetchFrom(remote);
    await expect(new PullManager(local, fetch).pull('o', 'node-b')).rejects.toMatchObject({ code: 'OBJECT_STORE_FULL' });
    expect(calls.length).toBe(1);
  });
  it('PullManager - a PullSource receives bytes in place and resumes from sink.offset', async () => {
    const remote = store();
    const local = store();
    remote.putValue('o', pattern(3 * MiB, 9));
    const offsets: number[] = [];
    let failed = false;
    const source = async (_loc: string, id: string, sink: PullSink): Promise<void> => {
      offsets.push(sink.offset);
      const v = remote.get(id)!;
      try {
        sink.begin(v.meta.sizeBytes, v.meta);
        while (sink.offset < v.meta.sizeBytes) {
          const region = sink.region(700 * 1024)!;
          region.set(v.data.subarray(sink.offset, sink.offset + region.byteLength));
          sink.advance(region.byteLength);
          await new Promise((r) => setImmediate(r));
          if (!failed && sink.offset > MiB) {
            failed = true;
            throw new Error('connection reset');
          }
        }
      } finally {
        v.release();
      }
    };
    await new PullManager(local, { source }).pull('o', 'node-b');
    expect(offsets).toEqual([0, 2 * 700 * 1024]);
    const v = local.get('o')!;
    expect(Buffer.compare(v.data, pattern(3 * MiB, 9))).toBe(0);
    v.release();
  });

  it('PullManager - a transport ObjectLostError (the peer does not hold the object) is not retried', async () => {
    const local = store();
    let calls = 0;
    const source = async (): Promise<void> => {
      calls++;
      throw new ObjectLostError('Object o is no longer stored at node-b.');
    };
    await expect(new PullManager(local, { source }).pull('o', 'node-b')).rejects.toThrow(/no longer stored at node-b/);
    expect(calls).toBe(1);
  });
});
