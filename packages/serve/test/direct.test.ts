/**
 * The direct path between callers and replicas (internal/direct/) over real loopback sockets, without
 * a cluster: framing, out-of-order replies, held replies, a wrong secret, a replica that goes away.
 */
import { Worker } from 'node:worker_threads';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { ActorDiedError } from '@samsara/ray';
import { DirectServer } from '../dist/internal/direct/direct-server.js';
import { DirectClient, DirectUnavailableError } from '../dist/internal/direct/direct-client.js';
import { encodeFrames, FrameReader, isHttpResponse, Plain, plainKind, type DirectEndpoint } from '../dist/internal/direct/direct-wire.js';
import { isReplicaGone } from '../dist/internal/router-client.js';

type Target = Parameters<typeof DirectServer.start>[0];

function deferred<T>(): { promise: Promise<T>; resolve(v: T): void } {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

describe('direct path', () => {
  it('FrameReader - frames split at every byte boundary decode to the messages sent; plainKind accepts plain data only and marks Buffers', () => {
    const msgs = [[2, 1, 0, null, 'r1', { method: 'GET', body: new Uint8Array([1, 2, 3]) }], [3, 7, 0, 'ok'], [3, 8, 1, 42]];
    const bytes = encodeFrames(msgs);
    for (let cut = 0; cut <= bytes.length; cut++) {
      const got: unknown[] = [];
      const r = new FrameReader();
      r.push(bytes.subarray(0, cut), (m) => got.push(m));
      r.push(bytes.subarray(cut), (m) => got.push(m));
      expect(got).toEqual(msgs);
      // A Uint8Array stays one (not a Buffer), as through the core's codec.
      expect(((got[0] as unknown[])[5] as { body: Uint8Array }).body.constructor).toBe(Uint8Array);
    }
    // A large frame arriving in many small chunks.
    const big = encodeFrames([[3, 1, 0, Buffer.alloc(1_000_000, 7)], [3, 2, 0, 'after']]);
    const r = new FrameReader();
    const got: unknown[][] = [];
    for (let i = 0; i < big.length; i += 4096) r.push(big.subarray(i, i + 4096), (m) => got.push(m));
    expect(got.map((m) => m[1])).toEqual([1, 2]);
    expect((got[0][3] as Buffer).equals(Buffer.alloc(1_000_000, 7))).toBe(true);
    expect(plainKind({ a: [1, 'x', null, true, new Date(0), Buffer.from('b'), { c: undefined }] })).toBe(Plain.withBuffer);
    expect(plainKind({ a: [1, 'x', null, true, new Date(0), new Uint8Array(1), { c: undefined }] })).toBe(Plain.yes);
    for (const v of [new Map(), new Set(), new (class A {})(), new Float32Array(1), 10n, () => 1, [new Map()], { e: new Error('x') }]) expect(plainKind(v)).toBe(Plain.no);
  });

  it('FrameReader - HTTP requests and replies in the fixed layout (not msgpack) decode to what was sent, split anywhere; odd shapes fall back to msgpack', () => {
    const req = { method: 'POST', url: 'http://h/é?q=1', headers: [['host', 'h'], ['x-ü', 'ß✓']] as [string, string][], body: Buffer.from([0, 255, 7]) };
    const msgs = [
      [2, 1, 0, null, 'rid-1', req],
      [2, 2, 0, null, 'rid-2', { ...req, headers: [], body: null }],
      [4, 3, { status: 200, headers: [['content-type', 'text/plain; charset=utf-8']], body: 'ok ✓' }],
      [4, 4, { status: 500, headers: [], body: Buffer.from('x'), error: true }],
      [4, 5, { status: 0, headers: [], body: '', stream: true }],
      // Not the common shape: an extra key, a header that is not a pair of strings.
      [4, 6, { status: 200, headers: [], body: 'a', extra: 1 }],
      [2, 7, 0, null, 'rid-7', { method: 'GET', url: 'http://h/', headers: [['a', 1]], body: null }],
    ];
    const bytes = encodeFrames(msgs);
    // The common shapes skip msgpack: their payload starts with the tag byte.
    expect(bytes[4]).toBe(0x01);
    const want = [
      [2, 1, 0, null, 'rid-1', req],
      [2, 2, 0, null, 'rid-2', { ...req, headers: [], body: null }],
      [3, 3, 0, { status: 200, headers: [['content-type', 'text/plain; charset=utf-8']], body: 'ok ✓' }],
      [3, 4, 0, { status: 500, headers: [], body: Buffer.from('x'), error: true }],
      [3, 5, 0, { status: 0, headers: [], body: '', stream: true }],
      [3, 6, 0, { status: 200, headers: [], body: 'a', extra: 1 }],
      [2, 7, 0, null, 'rid-7', { method: 'GET', url: 'http://h/', headers: [['a', 1]], body: null }],
    ];
    for (let cut = 0; cut <= bytes.length; cut++) {
      const got: unknown[] = [];
      const r = new FrameReader();
      r.push(bytes.subarray(0, cut), (m) => got.push(m));
      r.push(bytes.subarray(cut), (m) => got.push(m));
      expect(got).toEqual(want);
    }
    expect(isHttpResponse({ status: 200, headers: [], body: 'x' })).toBe(true);
    expect(isHttpResponse({ status: 200, headers: [], body: new Map() })).toBe(false);
    // A truncated fixed-layout frame is refused, not read past its end.
    const one = encodeFrames([msgs[0]]);
    const cut = Buffer.concat([Buffer.from([0, 0, 0, 10]), one.subarray(4, 14)]);
    expect(() => new FrameReader().push(cut, () => undefined)).toThrow(RangeError);
  });

});

// The same behaviour on both lanes of a connection: the LocalLink (caller and replica in one process,
// as here) and loopback TCP frames (RAYTS_SERVE_DIRECT_LOCAL=0, or another process).
describe.each([
  ['local', true],
  ['tcp', false],
])('direct path over the %s lane', (lane, local) => {
  beforeEach(() => {
    DirectClient.get().localLinks = local;
  });
  afterAll(() => {
    DirectClient.get().localLinks = true;
  });

    it('DirectServer/DirectClient - replies come back out of order to their callers; plain values travel, others and thrown errors are held and taken once', async () => {
      const slow = deferred<unknown>();
      const target: Target = {
        http: async (req) => ({ status: 200, headers: [['x-m', req.method]], body: `hi ${req.url}` }),
        call: async (method, meta, args) => {
          if (method === 'slow') return slow.promise;
          if (method === 'map') return new Map([['k', args[0]]]);
          if (method === 'boom') throw new RangeError(`boom ${meta.requestId}`);
          return { method, args, requestId: meta.requestId };
        },
      };
      const { server, endpoint } = await DirectServer.start(target, `rep-a-${lane}`);
      try {
        const client = DirectClient.get();
        expect(client.usable(`rep-a-${lane}`, endpoint)).toBe(true);
        const first = client.call(`rep-a-${lane}`, endpoint, 'slow', [], 'q1');
        const second = await client.call(`rep-a-${lane}`, endpoint, 'echo', [1, { b: 'two' }], 'q2');
        expect(second).toEqual({ held: false, value: { method: 'echo', args: [1, { b: 'two' }], requestId: 'q2' } });
        slow.resolve('late');
        expect(await first).toEqual({ held: false, value: 'late' });
        expect(await client.http(`rep-a-${lane}`, endpoint, { method: 'POST', url: 'http://h/x', headers: [], body: null }, 'q3')).toEqual({
          held: false,
          value: { status: 200, headers: [['x-m', 'POST']], body: 'hi http://h/x' },
        });

        const map = await client.call(`rep-a-${lane}`, endpoint, 'map', [5], 'q4');
        expect(map.held).toBe(true);
        const holdId = (map as { holdId: number }).holdId;
        expect(server.take(holdId)).toEqual(new Map([['k', 5]]));
        expect(() => server.take(holdId)).toThrow(/No held reply/);

        const boom = await client.call(`rep-a-${lane}`, endpoint, 'boom', [], 'q5');
        expect(boom.held).toBe(true);
        expect(() => server.take((boom as { holdId: number }).holdId)).toThrow(new RangeError('boom q5'));
      } finally {
        server.close();
      }
    });

    it('DirectClient - a wrong secret fails with DirectUnavailableError (nothing ran) and the replica is skipped after markUnreachable', async () => {
      let ran = 0;
      const target: Target = { http: async () => ({ status: 200, headers: [], body: '' }), call: async () => ++ran };
      const { server, endpoint } = await DirectServer.start(target, `rep-b-${lane}`);
      try {
        const client = DirectClient.get();
        const forged = { ...endpoint, secret: 'not-the-secret' };
        const e = await client.call(`rep-b-${lane}`, forged, 'm', [], 'q1').catch((x: unknown) => x);
        expect(e).toBeInstanceOf(DirectUnavailableError);
        expect(ran).toBe(0);
        client.markUnreachable(`rep-b-${lane}`);
        expect(client.usable(`rep-b-${lane}`, endpoint)).toBe(false);
        expect(client.usable(`rep-b2-${lane}`, { ...endpoint, hostKey: 'boot:another-machine' })).toBe(false);
      } finally {
        server.close();
      }
    });

    it('DirectClient - a replica that goes away with requests in flight fails them with ActorDiedError, which routers treat as a gone replica', async () => {
      const started = deferred<void>();
      const target: Target = {
        http: async () => ({ status: 200, headers: [], body: '' }),
        call: () => {
          started.resolve();
          return new Promise(() => undefined);
        },
      };
      const { server, endpoint } = await DirectServer.start(target, `rep-c-${lane}`);
      const inflight = DirectClient.get().call(`rep-c-${lane}`, endpoint, 'hang', [], 'q1').catch((x: unknown) => x);
      await started.promise;
      server.close();
      const e = await inflight;
      expect(e).toBeInstanceOf(ActorDiedError);
      expect((e as Error).message).toMatch(new RegExp(`Replica rep-c-${lane} is gone`));
      expect(isReplicaGone(e)).toBe(true);
    });

  it('DirectServer - requests take the lane the connection has; Buffers stay Buffers and Uint8Arrays stay Uint8Arrays on it', async () => {
    const target: Target = {
      http: async () => ({ status: 200, headers: [], body: '' }),
      call: async (method, _meta, args) => (method === 'kinds' ? args.map((a) => (Buffer.isBuffer(a) ? 'Buffer' : (a as object).constructor.name)) : method === 'buf' ? { b: Buffer.from('xyz') } : new Uint8Array([1, 2])),
    };
    const { server, endpoint } = await DirectServer.start(target, `rep-d-${lane}`);
    try {
      const client = DirectClient.get();
      // What replica-call.ts passes for arguments holding a Buffer: they go over TCP either way.
      expect(await client.call(`rep-d-${lane}`, endpoint, 'kinds', [Buffer.from('a')], 'q1', false)).toEqual({ held: false, value: ['Buffer'] });
      expect(await client.call(`rep-d-${lane}`, endpoint, 'kinds', [new Uint8Array(1)], 'q2')).toEqual({ held: false, value: ['Uint8Array'] });
      const buf = await client.call(`rep-d-${lane}`, endpoint, 'buf', [], 'q3');
      expect(Buffer.isBuffer((buf as { value: { b: unknown } }).value.b)).toBe(true);
      const u8 = await client.call(`rep-d-${lane}`, endpoint, 'u8', [], 'q4');
      expect((u8 as { value: Uint8Array }).value.constructor).toBe(Uint8Array);
      expect([...(u8 as { value: Uint8Array }).value]).toEqual([1, 2]);
      expect(server.served).toBe(4);
      // The first request may go over TCP while the link's greeting is on its way.
      if (local) expect(server.servedLocal).toBeGreaterThanOrEqual(1);
      else expect(server.servedLocal).toBe(0);
    } finally {
      server.close();
    }
  });
});

describe('direct path between two threads of one process', () => {
  it('LocalLink - a replica thread that ends with requests in flight fails them with ActorDiedError (the TCP lane beside the link closes)', async () => {
    const w = new Worker(new URL('./fixtures/direct-replica-thread.mjs', import.meta.url));
    try {
      const endpoint = await new Promise<DirectEndpoint>((resolve, reject) => {
        w.once('message', resolve);
        w.once('error', reject);
      });
      const client = DirectClient.get();
      expect(await client.call('rep-thread', endpoint, 'echo', ['a'], 'q1')).toEqual({ held: false, value: ['a'] });
      // Sent on the link once the greeting arrived (the thread counts what came on it).
      await client.call('rep-thread', endpoint, 'echo', ['a'], 'q2');
      const n = ((await client.call('rep-thread', endpoint, 'servedLocal', [], 'q3')) as { value: number }).value;
      expect(n).toBeGreaterThanOrEqual(1);
      const inflight = client.call('rep-thread', endpoint, 'hang', [], 'q4').catch((x: unknown) => x);
      await client.call('rep-thread', endpoint, 'echo', ['b'], 'q5');
      await w.terminate();
      const e = await inflight;
      expect(e).toBeInstanceOf(ActorDiedError);
      expect((e as Error).message).toMatch(/Replica rep-thread is gone/);
    } finally {
      await w.terminate();
    }
  });
});
