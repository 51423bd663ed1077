/**
 * Issue 4 point 4 — distributed reference counting with borrowers, through the public API on a
 * three-process CLI cluster: an object stays alive while a process that received its ref (nested in an
 * argument or inside a result) still holds it, after its owner dropped every reference of its own, and
 * it is freed once the last borrower lets go (the value is dropped, or the borrowing actor dies).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import * as grpc from '@grpc/grpc-js';
import { remote, actor, get, put, kill, type ObjectRef } from '@samsara/ray';
import { ownerServiceDefinition } from '../packages/core/src/rpc/services.js';
import { authMetadata } from '../packages/core/src/rpc/auth.js';
import { CliCluster, until, useCliCluster } from './helpers/cli-cluster.js';

const MiB = 1024 * 1024;
const gc = (globalThis as { gc?: () => void }).gc!;

const c = useCliCluster({ numCpus: 1 }, [{ numCpus: 2 }, { numCpus: 2 }]);
let cluster: CliCluster;
let nodeB: string;
let nodeC: string;

beforeAll(() => {
  cluster = c.cluster;
  [, nodeB, nodeC] = cluster.nodeIds;
});

/** Collects garbage in the driver a few times, letting finalizers and the messages they send run. */
async function collect(): Promise<void> {
  for (let i = 0; i < 3; i++) {
    gc();
    await new Promise((r) => setImmediate(r));
  }
}

/** Whether any store of the cluster (nodes and this driver) still holds the object (`rayts list objects`). */
async function stored(objectId: string): Promise<boolean> {
  const out = await cluster.cli(['list', 'objects', '--json', '--limit', '100000']);
  return (JSON.parse(out.stdout) as { objectId: string }[]).some((o) => o.objectId === objectId);
}

async function freed(objectId: string, what: string): Promise<void> {
  await until(async () => (await collect(), !(await stored(objectId))), what, 20_000);
}

/** Keeps refs it receives nested in arguments, reads them later, and lets go on request. */
class Keeper {
  held: ObjectRef<Uint8Array>[] = [];
  keep(box: { ref: ObjectRef<Uint8Array> }): number {
    this.held.push(box.ref);
    return this.held.length;
  }
  async sum(): Promise<number> {
    let s = 0;
    for (const r of this.held) for (const x of await get(r)) s += x;
    return s;
  }
  drop(): number {
    this.held = [];
    return 0;
  }
  /** Reads the object (a zero-copy view of its node's store) and keeps only the value, not the ref. */
  value: Uint8Array | undefined;
  async read(box: { ref: ObjectRef<Uint8Array> }): Promise<number> {
    this.value = await get(box.ref);
    return this.value.byteLength;
  }
}
const KeeperActor = actor(Keeper);

/** Runs on some node: passes the ref it got nested on to an actor (a third process) and returns. */
const handOn = remote(async (box: { ref: ObjectRef<Uint8Array> }, keeper: ReturnType<typeof KeeperActor.remote>) => {
  return get(keeper.keep.remote({ ref: box.ref }));
});

describe('borrowers', () => {
  it('an actor keeps a ref it got nested in an argument after the driver dropped its own; dropping it frees the object', async () => {
    const keeper = KeeperActor.options({ scheduling: { nodeId: nodeB } }).remote();
    let ref: ObjectRef<Uint8Array> | undefined = await put(new Uint8Array(2 * MiB).fill(3));
    const id = ref.id;
    expect(await get(keeper.keep.remote({ ref }))).toBe(1);
    ref = undefined;
    await collect();
    // Without the borrower the object would be gone now; the actor still reads it whole.
    expect(await get(keeper.sum.remote())).toBe(2 * MiB * 3);
    expect(await stored(id)).toBe(true);
    await get(keeper.drop.remote());
    await freed(id, 'the object to be freed once the actor dropped it');
    kill(keeper);
  });

  it('a ref handed on from a task to an actor on a third node survives the driver and the task; killing the actor frees it', async () => {
    const keeper = KeeperActor.options({ scheduling: { nodeId: nodeC } }).remote();
    let ref: ObjectRef<Uint8Array> | undefined = await put(new Uint8Array(MiB).fill(5));
    const id = ref.id;
    expect(await get(handOn.options({ scheduling: { nodeId: nodeB } }).remote({ ref }, keeper))).toBe(1);
    ref = undefined;
    await collect();
    expect(await get(keeper.sum.remote())).toBe(MiB * 5);
    expect(await stored(id)).toBe(true);
    kill(keeper);
    await freed(id, 'the object to be freed once its borrowing actor died');
  });

  it('an actor killed while it holds a value it read zero-copy lets the object go: the pin dies with its thread', async () => {
    const reader = KeeperActor.options({ scheduling: { nodeId: nodeC } }).remote();
    let ref: ObjectRef<Uint8Array> | undefined = await put(new Uint8Array(MiB).fill(7));
    const id = ref.id;
    expect(await get(reader.read.remote({ ref }))).toBe(MiB);
    ref = undefined;
    await collect();
    // Killed right away: its thread never collects the value, so it never releases the pin itself.
    kill(reader);
    await freed(id, 'the object to be freed once the actor holding its value died');
  });

  it('a ref a task returns inside its result (owned by the task’s node) lives while the driver holds the result, and is freed after', async () => {
    const makeInner = remote(async (n: number) => ({ inner: await put(new Uint8Array(n).fill(9)) })).options({ scheduling: { nodeId: nodeB } });
    let out: { inner: ObjectRef<Uint8Array> } | undefined = await get(makeInner.remote(MiB));
    // The task is over and its thread let go of the inner ref; the driver is the only holder.
    await collect();
    // (A value read zero-copy keeps its object pinned while it is reachable: read it in a scope of its own.)
    const read = async (r: ObjectRef<Uint8Array>) => {
      const bytes = await get(r);
      return [bytes.byteLength, bytes[bytes.byteLength - 1]];
    };
    expect(await read(out.inner)).toEqual([MiB, 9]);
    const id = out.inner.id;
    expect(await stored(id)).toBe(true);
    out = undefined;
    await freed(id, 'node B to free the inner object once the driver dropped it');
  });

  it('UpdateBorrowers - malformed deltas get INVALID_ARGUMENT and the owner keeps serving', async () => {
    const client = new grpc.Client(cluster.address, grpc.credentials.createInsecure());
    const def = ownerServiceDefinition.updateBorrowers;
    const call = (req: unknown) =>
      new Promise<grpc.status>((resolve) =>
        client.makeUnaryRequest(def.path, def.requestSerialize as never, def.responseDeserialize as never, req, authMetadata(cluster.token), { deadline: Date.now() + 10_000 }, (err) =>
          resolve(err ? err.code : grpc.status.OK),
        ),
      );
    expect(await call({ borrower: '', deltas: [{ objectId: 'x', delta: 1 }] })).toBe(grpc.status.INVALID_ARGUMENT);
    expect(await call({ borrower: 'someone:1', deltas: [{ objectId: '', delta: 1 }] })).toBe(grpc.status.INVALID_ARGUMENT);
    // Unknown objects are answered, not failed (the owner freed them already).
    expect(await call({ borrower: 'someone:1', deltas: [{ objectId: 'not-an-object', delta: -1 }] })).toBe(grpc.status.OK);
    client.close();
    const ref = await put({ still: 'serving' });
    expect(await get(ref)).toEqual({ still: 'serving' });
  });
});
