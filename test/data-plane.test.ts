/**
 * The object data plane (framed TCP pulls between processes, packages/core/src/rpc/data-plane-*.ts):
 * in process with real sockets and real shared-memory stores (contents, a 1 GiB move, spill-file
 * destinations, token refusal, garbage input, a cut connection that resumes, merged pulls, the gRPC
 * fallback), then on a CLI cluster: equal contents across nodes and to the driver through the public API,
 * daemons that survive garbage and wrong tokens on their data ports, concurrent gets merged into one
 * transfer, and a pull from a daemon cut mid-transfer that resumes.
 */
import net from 'node:net';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { AuthenticationError, ObjectLostError, silentLogger } from '@samsara/ray-common';
import { PullManager, SharedObjectStore, type PullSink, type StoredMeta } from '@samsara/ray-object-store';
import { get, init, nodes, remote, shutdown } from '@samsara/ray';
import { DataPlaneServer, transferService } from '../packages/core/src/rpc/data-plane-server.js';
import { DataPlaneClient } from '../packages/core/src/rpc/data-plane-client.js';
import { DataPlaneErrorCode, FrameReader, FrameType, decodeError, decodePull, encodeHello, encodePull } from '../packages/core/src/rpc/data-frames.js';
import { PullClient } from '../packages/core/src/rpc/pull-client.js';
import { ServerHost } from '../packages/core/src/rpc/server-host.js';
import { nodeServiceDefinition } from '../packages/core/src/rpc/services.js';
import { pullObjectHandler } from '../packages/core/src/node/object-server.js';
import { CliCluster, freePort, isAlive, until } from './helpers/cli-cluster.js';
import { relayDialsVia } from '../packages/core/src/edge/edge-address.js';

const MiB = 1024 * 1024;
const TOKEN = 'data-plane-test-token';
const gc = (globalThis as { gc?: () => void }).gc;

let cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.reverse()) await c();
  cleanups = [];
});

function store(capacityBytes: number, opts: { spillingEnabled?: boolean } = {}): SharedObjectStore {
  const root = mkdtempSync(join(tmpdir(), 'rayts-dp-test-'));
  const s = new SharedObjectStore({ capacityBytes, spillDir: join(root, 'spill'), ...opts });
  cleanups.push(() => {
    s.close();
    rmSync(root, { recursive: true, force: true });
  });
  return s;
}

/** Writes `sizeBytes` of a seeded pattern into `s` as object `id`, through the writer (never whole on the heap). */
function putPattern(s: SharedObjectStore, id: string, sizeBytes: number, seed = 1): void {
  const meta: StoredMeta = { format: 'buffer', sizeBytes };
  const w = s.createWriter(id, meta);
  const step = 16 * MiB;
  for (let off = 0; off < sizeBytes; off += step) {
    const n = Math.min(step, sizeBytes - off);
    const region = w.region(off, n)!;
    const words = new Uint32Array(region.buffer, region.byteOffset, Math.floor(n / 4));
    const base = off / 4;
    for (let i = 0; i < words.length; i++) words[i] = ((base + i) * 2654435761 + seed * 40503) >>> 0;
    for (let i = words.length * 4; i < n; i++) region[i] = (off + i + seed) & 0xff;
    w.commit(off, n);
  }
  w.seal();
}

async function sameBytes(a: SharedObjectStore, b: SharedObjectStore, id: string): Promise<boolean> {
  const va = (await a.getAsync(id))!;
  const vb = (await b.getAsync(id))!;
  try {
    const ba = Buffer.from(va.data.buffer, va.data.byteOffset, va.data.byteLength);
    const bb = Buffer.from(vb.data.buffer, vb.data.byteOffset, vb.data.byteLength);
    return ba.length === bb.length && ba.equals(bb) && JSON.stringify(va.meta) === JSON.stringify(vb.meta);
  } finally {
    va.release();
    vb.release();
  }
}

async function serve(s: SharedObjectStore, token = TOKEN, opts: { helloTimeoutMs?: number } = {}): Promise<DataPlaneServer> {
  const dp = await DataPlaneServer.listen({ host: '127.0.0.1', token, store: s, log: silentLogger(), ...opts });
  cleanups.push(() => dp.close());
  return dp;
}

/** A PullManager over the data plane only (no gRPC), and the client it uses. */
function puller(dest: SharedObjectStore, port: () => number, token = TOKEN, maxResumes = 2): { pm: PullManager; client: DataPlaneClient } {
  const client = new DataPlaneClient(token);
  cleanups.push(() => client.close());
  const pm = new PullManager(
    dest,
    { source: (location: string, id: string, sink: PullSink) => client.pull({ host: '127.0.0.1', port: port(), location }, id, sink) },
    { maxResumes },
  );
  return { pm, client };
}

/**
 * A TCP proxy in front of a data plane: records the PULL frames clients send, and cuts the first
 * connection (every one with `cutEvery`) after `cutAfterBytes` bytes went to the client.
 */
async function proxy(target: number, cutAfterBytes?: number, cutEvery = false): Promise<{ port: number; pulls: { objectId: string; offset: number }[]; connections: number }> {
  const state = { port: 0, pulls: [] as { objectId: string; offset: number }[], connections: 0 };
  const server = net.createServer((c) => {
    const n = ++state.connections;
    const up = net.connect(target, '127.0.0.1');
    const frames = new FrameReader();
    let sawHello = false;
    let toClient = 0;
    c.on('data', (d) => {
      up.write(d);
      for (const f of frames.push(d)) {
        if (!sawHello && f.type === FrameType.HELLO) sawHello = true;
        else if (f.type === FrameType.PULL) state.pulls.push(decodePull(f.payload));
      }
    });
    up.on('data', (d) => {
      toClient += d.length;
      if ((n === 1 || cutEvery) && cutAfterBytes !== undefined && toClient > cutAfterBytes) {
        c.destroy();
        up.destroy();
        return;
      }
      c.write(d);
    });
    c.on('error', () => up.destroy());
    up.on('error', () => c.destroy());
    c.on('close', () => up.destroy());
    up.on('close', () => c.destroy());
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  state.port = (server.address() as net.AddressInfo).port;
  cleanups.push(() => new Promise<void>((r) => server.close(() => r())));
  return state;
}

describe('object data plane (in process)', () => {
  it('DataPlane - a 100 MB object moves into another store with equal contents, never whole on the JS heap', async () => {
    const a = store(128 * MiB);
    const b = store(128 * MiB);
    putPattern(a, 'o100', 100_000_000);
    const dp = await serve(a);
    const { pm } = puller(b, () => dp.port);
    gc?.();
    const heapBefore = process.memoryUsage().heapUsed;
    await pm.pull('o100', 'node-a:1');
    gc?.();
    const heapGrowth = process.memoryUsage().heapUsed - heapBefore;
    expect(await sameBytes(a, b, 'o100')).toBe(true);
    expect(heapGrowth).toBeLessThan(32 * MiB);
    // The server released its pin: the source object can be deleted and its memory reused.
    expect(a.stats().pinnedBytes).toBe(0);
  });

  it('DataPlane - a 1 GiB object moves', async () => {
    const size = 1024 * MiB;
    const a = store(size + 16 * MiB, { spillingEnabled: false });
    const b = store(size + 16 * MiB, { spillingEnabled: false });
    putPattern(a, 'o1g', size, 7);
    const dp = await serve(a);
    await puller(b, () => dp.port).pm.pull('o1g', 'node-a:1');
    expect(await sameBytes(a, b, 'o1g')).toBe(true);
  }, 120_000);

  it('DataPlane - an object larger than the receiving store goes to its spill file', async () => {
    const a = store(64 * MiB);
    const b = store(8 * MiB);
    putPattern(a, 'big', 20 * MiB + 3, 3);
    const dp = await serve(a);
    await puller(b, () => dp.port).pm.pull('big', 'node-a:1');
    expect(b.stats().numSpilled).toBe(1);
    expect(await sameBytes(a, b, 'big')).toBe(true);
  });

  it('DataPlane - a wrong token is refused with AuthenticationError naming the peer, and the server keeps serving', async () => {
    const a = store(16 * MiB);
    const b = store(16 * MiB);
    putPattern(a, 'x', MiB);
    const dp = await serve(a);
    const bad = puller(b, () => dp.port, 'not-the-token').pm.pull('x', 'node-a:7001');
    await expect(bad).rejects.toThrow(AuthenticationError);
    await expect(bad).rejects.toThrow(/node-a:7001.*rejected this process's cluster token/);
    expect(b.has('x')).toBe(false);
    expect(b.stats().usedBytes).toBe(0);
    await puller(b, () => dp.port).pm.pull('x', 'node-a:7001');
    expect(await sameBytes(a, b, 'x')).toBe(true);
  });

  it('DataPlane - random bytes, oversized frames, early PULLs and silent peers never crash the server', async () => {
    const a = store(16 * MiB);
    const b = store(16 * MiB);
    putPattern(a, 'x', 3 * MiB);
    const dp = await serve(a, TOKEN, { helloTimeoutMs: 300 });
    const send = (bytes: Buffer[], holdMs = 0): Promise<void> =>
      new Promise((resolve) => {
        const s = net.connect(dp.port, '127.0.0.1');
        s.on('error', () => undefined);
        s.on('data', () => undefined);
        s.on('close', () => resolve());
        s.on('connect', () => {
          for (const b of bytes) s.write(b);
          if (holdMs === 0) s.end();
          else setTimeout(() => s.end(), holdMs).unref();
        });
      });
    const hello = encodeHello(TOKEN);
    const oversized = Buffer.alloc(5);
    oversized.writeUInt32BE(0xffffffff, 0);
    const inputs: Buffer[][] = [];
    for (let i = 0; i < 100; i++) inputs.push([randomBytes(1 + Math.floor(Math.random() * 4096))]);
    for (let i = 0; i < 50; i++) inputs.push([hello, randomBytes(1 + Math.floor(Math.random() * 512))]);
    inputs.push([oversized], [hello, oversized], [encodePull('x', 0)], [hello, encodePull('x', 1e12)], [hello, encodePull('x', -1)]);
    inputs.push([Buffer.from(hello.subarray(0, 7))], [hello, encodePull('nope', 0)], [hello, encodePull('x', 0)]);
    // A truncated PULL header in several writes, then a byte-by-byte HELLO.
    inputs.push([hello, encodePull('x', 0).subarray(0, 3), encodePull('x', 0).subarray(3, 6)]);
    inputs.push([...hello].map((x) => Buffer.from([x])));
    for (let i = 0; i < inputs.length; i += 20) await Promise.all(inputs.slice(i, i + 20).map((x) => send(x)));
    // A peer that connects and says nothing is dropped after helloTimeoutMs.
    await send([], 10_000);
    await until(() => dp.connections === 0, 'every garbage connection closed', 10_000);
    await puller(b, () => dp.port).pm.pull('x', 'node-a:1');
    expect(await sameBytes(a, b, 'x')).toBe(true);
    expect(a.stats().pinnedBytes).toBe(0);
  });

  it('DataPlane - a PULL beyond the end of an object gets an ERROR frame saying so before the close', async () => {
    const a = store(16 * MiB);
    putPattern(a, 'short', 1000);
    const dp = await serve(a);
    const frames = await new Promise<{ type: number; payload: Buffer }[]>((resolve, reject) => {
      const s = net.connect(dp.port, '127.0.0.1');
      const reader = new FrameReader();
      const got: { type: number; payload: Buffer }[] = [];
      s.on('error', reject);
      s.on('data', (d: Buffer) => got.push(...reader.push(d)));
      s.on('close', () => resolve(got));
      s.on('connect', () => s.write(Buffer.concat([encodeHello(TOKEN), encodePull('short', 5000)])));
    });
    expect(frames.map((f) => f.type)).toEqual([FrameType.WELCOME, FrameType.ERROR]);
    const err = decodeError(frames[1]!.payload);
    expect(err.code).toBe(DataPlaneErrorCode.BAD_FRAME);
    expect(err.message).toMatch(/offset 5000 is beyond its 1000 bytes/);
    expect(a.stats().pinnedBytes).toBe(0);
  });

  it('DataPlane - a connection cut mid-transfer resumes from the last byte received', async () => {
    const a = store(96 * MiB);
    const b = store(96 * MiB);
    putPattern(a, 'cut', 64 * MiB, 5);
    const dp = await serve(a);
    const px = await proxy(dp.port, 10 * MiB);
    await puller(b, () => px.port).pm.pull('cut', 'node-a:1');
    expect(await sameBytes(a, b, 'cut')).toBe(true);
    expect(px.connections).toBe(2);
    expect(px.pulls.length).toBe(2);
    expect(px.pulls[0]).toEqual({ objectId: 'cut', offset: 0 });
    expect(px.pulls[1]!.offset).toBeGreaterThan(0);
    expect(px.pulls[1]!.offset).toBeLessThan(64 * MiB);
    await until(() => a.stats().pinnedBytes === 0, 'the server to release the cut transfer\'s pin', 5000);
  });

  it('DataPlane - a pull that keeps breaking fails with ObjectLostError and leaves nothing behind', async () => {
    const a = store(32 * MiB);
    const b = store(32 * MiB);
    putPattern(a, 'cut', 16 * MiB);
    const dp = await serve(a);
    const px = await proxy(dp.port, 4 * MiB, true);
    const { pm } = puller(b, () => px.port, TOKEN, 1);
    const err = await pm.pull('cut', 'node-a:7001').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ObjectLostError);
    expect((err as Error).message).toMatch(/Pull of object cut from node-a:7001 failed after 1 resume\(s\) at byte \d+: .*broke at byte \d+ of 16777216/);
    expect(px.pulls.length).toBe(2);
    expect(b.has('cut')).toBe(false);
    expect(b.stats().usedBytes).toBe(0);
  });

  it('DataPlane - concurrent pulls of one object share one transfer; a reused connection serves the next', async () => {
    const a = store(64 * MiB);
    const b = store(64 * MiB);
    putPattern(a, 'm', 32 * MiB);
    putPattern(a, 'n', MiB, 2);
    const dp = await serve(a);
    const px = await proxy(dp.port);
    const { pm, client } = puller(b, () => px.port);
    await Promise.all([pm.pull('m', 'node-a:1'), pm.pull('m', 'node-a:1'), pm.pull('m', 'node-a:1')]);
    expect(px.pulls).toEqual([{ objectId: 'm', offset: 0 }]);
    await pm.pull('n', 'node-a:1');
    expect(px.connections).toBe(1);
    expect(client.connections).toBe(1);
    expect(await sameBytes(a, b, 'm')).toBe(true);
    expect(await sameBytes(a, b, 'n')).toBe(true);
  });

  it('DataPlane - a missing object is an ObjectLostError naming the object and the peer, and is not retried', async () => {
    const a = store(16 * MiB);
    const b = store(16 * MiB);
    const dp = await serve(a);
    const px = await proxy(dp.port);
    const err = await puller(b, () => px.port).pm.pull('gone', 'node-a:7001').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ObjectLostError);
    expect((err as Error).message).toMatch(/Object gone.* is no longer stored at node-a:7001/);
    expect(px.pulls.length).toBe(1);
  });

  it('PullClient - pulls over gRPC from a peer that has no TransferService (an older version)', async () => {
    const a = store(64 * MiB);
    const b = store(64 * MiB);
    putPattern(a, 'g', 20 * MiB, 9);
    const host = new ServerHost(TOKEN, silentLogger());
    host.add({ definition: nodeServiceDefinition, implementation: { pullObject: pullObjectHandler(a) } as never });
    const address = await host.listen('127.0.0.1', 0);
    cleanups.push(() => host.close());
    const pc = new PullClient(TOKEN, b);
    cleanups.push(() => pc.close());
    await pc.pull('g', address); // TransferService is UNIMPLEMENTED there: gRPC
    expect(await sameBytes(a, b, 'g')).toBe(true);
  });

  it('PullClient - a peer reached through the relay (edge agent process) is pulled from over gRPC, never the data plane', async () => {
    const a = store(64 * MiB);
    const b = store(64 * MiB);
    putPattern(a, 'e', 10 * MiB, 6);
    const dp = await serve(a);
    // Stands in for the head: it serves the relayed PullObject itself, and would advertise a data plane.
    const host = new ServerHost(TOKEN, silentLogger());
    host.add({ definition: nodeServiceDefinition, implementation: { pullObject: pullObjectHandler(a) } as never });
    host.add(transferService(() => dp.port));
    const head = await host.listen('127.0.0.1', 0);
    cleanups.push(() => host.close());
    relayDialsVia(head);
    cleanups.push(() => relayDialsVia(undefined));
    const pc = new PullClient(TOKEN, b);
    cleanups.push(() => pc.close());
    await pc.pull('e', '127.0.0.1:1'); // not reachable directly: through the head, over gRPC
    expect(await sameBytes(a, b, 'e')).toBe(true);
    expect(dp.connections).toBe(0);
  });

  it('PullClient - a data plane that cannot be reached falls back to gRPC; a reachable one is used', async () => {
    const a = store(64 * MiB);
    const b = store(64 * MiB);
    putPattern(a, 'u', 12 * MiB, 4);
    putPattern(a, 'v', 12 * MiB, 5);
    const nobody = await freePort();
    let advertised = nobody;
    const dp = await serve(a);
    const host = new ServerHost(TOKEN, silentLogger());
    host.add({ definition: nodeServiceDefinition, implementation: { pullObject: pullObjectHandler(a) } as never });
    host.add(transferService(() => advertised));
    const address = await host.listen('127.0.0.1', 0);
    cleanups.push(() => host.close());
    const pc = new PullClient(TOKEN, b);
    cleanups.push(() => pc.close());
    await pc.pull('u', address); // connection refused on the advertised port: gRPC
    expect(await sameBytes(a, b, 'u')).toBe(true);
    expect(dp.connections).toBe(0);
    advertised = dp.port;
    const pc2 = new PullClient(TOKEN, b);
    cleanups.push(() => pc2.close());
    await pc2.pull('v', address);
    expect(await sameBytes(a, b, 'v')).toBe(true);
    expect(dp.connections).toBe(1); // the pooled connection that carried it
  });
});

describe('object data plane (CLI cluster)', () => {
  let cluster: CliCluster;
  beforeAll(async () => {
    cluster = await CliCluster.start({ numCpus: 1 }, [{ numCpus: 1 }], {
      RAYTS_OBJECT_STORE_MEMORY: String(512 * MiB),
      RAYTS_LOG_LEVEL: 'debug',
    });
    await init({ address: cluster.address, token: cluster.token });
    await until(async () => (await nodes()).filter((n) => n.alive).length === 2, 'two nodes');
  }, 60_000);
  afterAll(async () => {
    await shutdown();
    await cluster?.stop();
  });

  /** The JSON log lines of the cluster's daemons (debug level in this cluster). */
  function daemonLog(): { msg?: string; port?: number; objectId?: string; bytes?: number; pid?: number }[] {
    const logDir = join(cluster.tmp, 'session_latest', 'logs');
    const out = [];
    for (const f of readdirSync(logDir).filter((x) => x.endsWith('.log'))) {
      for (const line of readFileSync(join(logDir, f), 'utf8').split('\n')) {
        if (!line.startsWith('{')) continue;
        try {
          out.push(JSON.parse(line));
        } catch {
          // a line being written
        }
      }
    }
    return out;
  }

  function servedCount(objectId: string): number {
    return daemonLog().filter((l) => l.msg === 'data plane served an object' && l.objectId === objectId).length;
  }

  const makeBytes = remote((n: number, seed: number) => {
    const a = new Uint8Array(n);
    const w = new Uint32Array(a.buffer, 0, n >>> 2);
    for (let i = 0; i < w.length; i++) w[i] = (i * 2654435761 + seed) >>> 0;
    return a;
  });

  function fnv(a: Uint8Array): { h: number; n: number } {
    const w = new Uint32Array(a.buffer, a.byteOffset, a.byteLength >>> 2);
    let h = 2166136261;
    for (let i = 0; i < w.length; i++) h = Math.imul(h ^ w[i]!, 16777619) >>> 0;
    return { h, n: a.byteLength };
  }

  it('transfer - the daemons survive garbage and wrong tokens on their data planes, and keep serving', async () => {
    const ports = daemonLog().filter((l) => l.msg === 'object data plane listening').map((l) => l.port!);
    expect(ports.length).toBeGreaterThanOrEqual(2);
    for (const port of ports) {
      // A wrong token: a typed refusal naming the peer.
      const client = new DataPlaneClient('wrong-token');
      cleanups.push(() => client.close());
      const sink: PullSink = { offset: 0, begin: () => undefined, region: () => undefined, advance: () => undefined, write: () => undefined };
      await expect(client.pull({ host: '127.0.0.1', port, location: `daemon:${port}` }, 'x', sink)).rejects.toThrow(
        /daemon:\d+: the data plane at 127\.0\.0\.1:\d+ rejected this process's cluster token/,
      );
      // Random bytes, with and without a valid HELLO first.
      const hello = encodeHello(cluster.token);
      await Promise.all(
        Array.from({ length: 40 }, (_, i) =>
          new Promise<void>((resolve) => {
            const s = net.connect(port, '127.0.0.1');
            s.on('error', () => undefined);
            s.on('data', () => undefined);
            s.on('close', () => resolve());
            s.on('connect', () => {
              if (i % 2) s.write(hello);
              s.end(randomBytes(1 + ((i * 997) % 3000)));
            });
          }),
      ));
    }
    for (const p of cluster.processes()) expect(isAlive(p.pid)).toBe(true);
    const [head, worker] = cluster.nodeIds as [string, string];
    const ref = makeBytes.options({ scheduling: { nodeId: worker, soft: false } }).remote(8 * MiB, 3);
    expect(fnv(await get(ref))).toEqual(fnv(await get(makeBytes.options({ scheduling: { nodeId: head, soft: false } }).remote(8 * MiB, 3))));
  }, 60_000);

  it('transfer - concurrent gets of one object in the driver share one transfer', async () => {
    const [, worker] = cluster.nodeIds as [string, string];
    const ref = makeBytes.options({ scheduling: { nodeId: worker, soft: false } }).remote(50 * MiB, 11);
    const [x, y, z] = await Promise.all([get(ref), get(ref), get(ref)]);
    expect(fnv(x)).toEqual(fnv(y));
    expect(fnv(x)).toEqual(fnv(z));
    await until(() => servedCount(ref.id) >= 1, 'the worker to log the transfer', 10_000);
    expect(servedCount(ref.id)).toBe(1);
  }, 60_000);

  it('transfer - a pull from a daemon cut mid-transfer resumes and the contents are equal', async () => {
    const [, worker] = cluster.nodeIds as [string, string];
    const ref = makeBytes.options({ scheduling: { nodeId: worker, soft: false } }).remote(64 * MiB, 13);
    const expected = fnv(await get(ref));
    // The worker daemon's data plane, reached through a proxy that cuts the first connection at 20 MiB.
    const workerPid = cluster.processes('worker')[0]!.pid;
    const port = daemonLog().find((l) => l.msg === 'object data plane listening' && l.pid === workerPid)!.port!;
    const px = await proxy(port, 20 * MiB);
    const dest = store(128 * MiB);
    const client = new DataPlaneClient(cluster.token);
    cleanups.push(() => client.close());
    const pm = new PullManager(dest, { source: (loc: string, id: string, sink: PullSink) => client.pull({ host: '127.0.0.1', port: px.port, location: loc }, id, sink) });
    await pm.pull(ref.id, 'worker');
    expect(px.pulls.length).toBe(2);
    expect(px.pulls[1]!.offset).toBeGreaterThan(0);
    const v = (await dest.getAsync(ref.id))!;
    expect(fnv(v.data)).toEqual(expected);
    v.release();
  }, 60_000);

  it('transfer - a 100 MB object made on one node is read on the other and by the driver with equal contents, over the data plane', async () => {
    const [head, worker] = cluster.nodeIds as [string, string];
    const make = remote((n: number, seed: number) => {
      const a = new Uint8Array(n);
      const w = new Uint32Array(a.buffer, 0, n >>> 2);
      for (let i = 0; i < w.length; i++) w[i] = (i * 2654435761 + seed) >>> 0;
      return a;
    });
    const digest = remote((a: Uint8Array) => {
      // FNV-1a over 32-bit words, order-sensitive.
      const w = new Uint32Array(a.buffer, a.byteOffset, a.byteLength >>> 2);
      let h = 2166136261;
      for (let i = 0; i < w.length; i++) h = Math.imul(h ^ w[i]!, 16777619) >>> 0;
      return { h, n: a.byteLength };
    });
    const size = 100_000_000;
    const ref = make.options({ scheduling: { nodeId: head, soft: false } }).remote(size, 17);
    const onMaker = await get(digest.options({ scheduling: { nodeId: head, soft: false } }).remote(ref));
    const onOther = await get(digest.options({ scheduling: { nodeId: worker, soft: false } }).remote(ref));
    expect(onOther).toEqual(onMaker);
    expect(onOther.n).toBe(size);
    const local = await get(ref);
    const w = new Uint32Array(local.buffer, local.byteOffset, local.byteLength >>> 2);
    let h = 2166136261;
    for (let i = 0; i < w.length; i++) h = Math.imul(h ^ w[i]!, 16777619) >>> 0;
    expect({ h, n: local.byteLength }).toEqual(onMaker);
    // The head's daemon served both pulls on its data plane (debug log of the cluster's session).
    const logDir = join(cluster.tmp, 'session_latest', 'logs');
    await until(() => {
      const served = readdirSync(logDir)
        .filter((f) => f.endsWith('.log'))
        .map((f) => readFileSync(join(logDir, f), 'utf8'))
        .join('\n')
        .split('\n')
        .filter((l) => l.includes('data plane served an object') && l.includes(`"bytes":${size}`));
      return served.length >= 2;
    }, 'two data-plane transfers in the daemons\' logs', 10_000);
  }, 120_000);
});

