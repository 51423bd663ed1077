/**
 * Security sweep and RPC fuzzing, generated from the code: every method of every service in the generated
 * protobuf module (proto/rayts.proto → proto/gen/rayts.js) is called on a head process with no credential
 * and with a wrong one (also with the edge relay headers): each must answer UNAUTHENTICATED and give
 * nothing away. Then, with the right token, every method is fed random bytes and random protobuf-shaped
 * messages (fast-check): the head must answer each with some status and never crash. Every HTTP route
 * (test/helpers/http-routes.ts) must refuse a request without the token.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as grpc from '@grpc/grpc-js';
import fc from 'fast-check';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { rayts } from '@samsara/ray-proto';
import { CliCluster, isAlive } from './helpers/cli-cluster.js';
import { generatedMethods, hostedDefinitions } from './helpers/rpc-catalog.js';
import { httpRoutes } from './helpers/http-routes.js';

/** Random inputs per method with the right token (RAYTS_RPC_FUZZ_RUNS overrides; scripts/fuzz.mjs runs more). */
const RUNS = Number(process.env.RAYTS_RPC_FUZZ_RUNS ?? 12);
/** Methods not fed random input with the right token: a valid token may do these on purpose. */
const NOT_FUZZED_WITH_TOKEN = new Set([
  '/rayts.HeadService/Shutdown', // stops the cluster: what it is for
  '/rayts.JobService/SubmitJob', // runs a command: fuzzed with harmless entrypoints in jobs-fuzz.test.ts
]);

const raw = (b: Buffer) => b;

function callRaw(client: grpc.Client, def: grpc.MethodDefinition<unknown, unknown>, md: grpc.Metadata): Promise<grpc.status> {
  return new Promise((resolve) => {
    const opts = { deadline: Date.now() + 10_000 };
    const empty = Buffer.alloc(0);
    if (!def.requestStream && !def.responseStream) {
      client.makeUnaryRequest(def.path, raw, raw, empty, md, opts, (err) => resolve(err ? err.code : grpc.status.OK));
      return;
    }
    const call = def.requestStream
      ? client.makeBidiStreamRequest(def.path, raw, raw, md, opts)
      : client.makeServerStreamRequest(def.path, raw, raw, empty, md, opts);
    let data = false;
    call.on('data', () => (data = true));
    call.on('error', (e: grpc.ServiceError) => resolve(e.code));
    call.on('status', (s: grpc.StatusObject) => resolve(data ? grpc.status.OK : s.code));
    if (def.requestStream) (call as grpc.ClientDuplexStream<Buffer, Buffer>).write(empty);
  });
}

/** Random protobuf-shaped bytes: fields 1–20 as varints or length-delimited (random or nested) bytes. */
const protoField: fc.Arbitrary<Uint8Array> = fc.letrec<{ msg: Uint8Array }>((tie) => ({
  msg: fc
    .array(
      fc.oneof(
        fc.tuple(fc.integer({ min: 1, max: 20 }), fc.bigInt({ min: 0n, max: 2n ** 64n - 1n })).map(([f, v]) => Buffer.concat([varint(BigInt(f << 3)), varint(v)])),
        fc.tuple(fc.integer({ min: 1, max: 20 }), fc.oneof(fc.uint8Array({ maxLength: 40 }), tie('msg'))).map(([f, b]) => Buffer.concat([varint(BigInt((f << 3) | 2)), varint(BigInt(b.length)), b])),
        fc.tuple(fc.integer({ min: 1, max: 20 }), fc.double()).map(([f, d]) => {
          const b = Buffer.alloc(8);
          b.writeDoubleLE(d);
          return Buffer.concat([varint(BigInt((f << 3) | 1)), b]);
        }),
      ),
      { maxLength: 6 },
    )
    .map((parts) => Buffer.concat(parts)),
})).msg;

function varint(v: bigint): Buffer {
  const out: number[] = [];
  do {
    let b = Number(v & 0x7fn);
    v >>= 7n;
    if (v > 0n) b |= 0x80;
    out.push(b);
  } while (v > 0n);
  return Buffer.from(out);
}

/** Calls `def` with `payloads` (a stream gets them all), resolves with the final status; never rejects. */
function callWith(client: grpc.Client, def: grpc.MethodDefinition<unknown, unknown>, md: grpc.Metadata, payloads: Buffer[]): Promise<{ code: grpc.status; details: string }> {
  return new Promise((done) => {
    const resolve = (code: grpc.status, details = '') => done({ code, details });
    const opts = { deadline: Date.now() + 3_000 };
    const raw = (b: Buffer) => b;
    if (!def.requestStream && !def.responseStream) {
      client.makeUnaryRequest(def.path, raw, raw, payloads[0] ?? Buffer.alloc(0), md, opts, (err) => resolve(err ? err.code : grpc.status.OK, err?.details));
      return;
    }
    const call = def.requestStream ? client.makeBidiStreamRequest(def.path, raw, raw, md, opts) : client.makeServerStreamRequest(def.path, raw, raw, payloads[0] ?? Buffer.alloc(0), md, opts);
    call.on('data', () => undefined);
    call.on('error', (e: grpc.ServiceError) => resolve(e.code, e.details));
    call.on('status', (st: grpc.StatusObject) => resolve(st.code, st.details));
    if (def.requestStream) {
      const w = call as grpc.ClientDuplexStream<Buffer, Buffer>;
      for (const p of payloads) w.write(p);
      w.end();
    }
    // A stream the server keeps open (a watch, a channel) is ended by the deadline.
  });
}

describe('authentication sweep', () => {
  let cluster: CliCluster;
  let client: grpc.Client;
  beforeAll(async () => {
    cluster = await CliCluster.start({ numCpus: 1 }, []);
    client = new grpc.Client(cluster.address, grpc.credentials.createInsecure());
  }, 60_000);
  afterAll(async () => {
    client?.close();
    await cluster?.stop();
  });

  const variants: [string, () => grpc.Metadata][] = [
    ['no credential', () => new grpc.Metadata()],
    [
      'a wrong token',
      () => {
        const m = new grpc.Metadata();
        m.set('authorization', 'Bearer not-the-token');
        return m;
      },
    ],
    [
      'a wrong token with edge relay headers',
      () => {
        const m = new grpc.Metadata();
        m.set('authorization', 'Bearer not-the-token');
        m.set('rayts-edge-node', 'edge-1');
        m.set('rayts-relay-to', '127.0.0.1:1');
        return m;
      },
    ],
  ];

  it('catalog - every method of the generated services has a grpc-js definition the sweep can call', async () => {
    const gen = generatedMethods();
    const hosted = await hostedDefinitions();
    expect(new Set(gen.map((m) => m.service))).toEqual(new Set(['HeadService', 'NodeService', 'OwnerService', 'JobService', 'StoreService', 'TransferService']));
    expect(gen.length).toBeGreaterThanOrEqual(27);
    expect(gen.filter((m) => !hosted.has(m.path)).map((m) => m.path)).toEqual([]);
  });

  for (const [label, md] of variants) {
    it(`every RPC - refused with UNAUTHENTICATED given ${label}`, async () => {
      const hosted = await hostedDefinitions();
      const results: string[] = [];
      for (const m of generatedMethods()) {
        const code = await callRaw(client, hosted.get(m.path)!, md());
        if (code !== grpc.status.UNAUTHENTICATED) results.push(`${m.path} answered ${grpc.status[code]}`);
      }
      expect(results).toEqual([]);
    });
  }

  it('every HTTP route - refused without the token (the routes come from the dashboard router)', async (ctx) => {
    const routes = await httpRoutes();
    if (routes.length === 0) ctx.skip();
    const base = `http://127.0.0.1:${process.env.RAYTS_DASHBOARD_PORT ?? 8265}`;
    for (const r of routes) {
      const res = await fetch(base + r.path, { method: r.method });
      expect({ route: `${r.method} ${r.path}`, status: res.status }).toEqual({ route: `${r.method} ${r.path}`, status: 401 });
    }
  });

  it(`fuzz - every RPC with the right token and ${RUNS} random or protobuf-shaped inputs: the head answers each and stays up`, async () => {
    const hosted = await hostedDefinitions();
    const md = () => {
      const m = new grpc.Metadata();
      m.set('authorization', `Bearer ${cluster.token}`);
      return m;
    };
    const statuses = new Map<string, number>();
    const untyped: string[] = [];
    let inputs = 0;
    for (const m of generatedMethods()) {
      if (NOT_FUZZED_WITH_TOKEN.has(m.path)) continue;
      const def = hosted.get(m.path)!;
      await fc.assert(
        fc.asyncProperty(fc.array(fc.oneof(fc.uint8Array({ maxLength: 256 }), protoField), { minLength: 1, maxLength: 3 }), async (payloads) => {
          const { code, details } = await callWith(client, def, md(), payloads.map((p) => Buffer.from(p)));
          inputs++;
          statuses.set(grpc.status[code], (statuses.get(grpc.status[code]) ?? 0) + 1);
          // INTERNAL only for bytes grpc-js cannot deserialize: a handler never fails untyped.
          if (code === grpc.status.INTERNAL && !/deserializ/i.test(details)) untyped.push(`${m.path}: ${details}`);
        }),
        { numRuns: RUNS },
      );
    }
    expect([...new Set(untyped)]).toEqual([]);
    expect(isAlive(cluster.headPid())).toBe(true);
    const st = await cluster.cli(['status']);
    expect(st.code, st.stderr).toBe(0);
    const logs = join(cluster.tmp, 'session_latest', 'logs');
    const text = readdirSync(logs).filter((f) => f.endsWith('.log')).map((f) => readFileSync(join(logs, f), 'utf8')).join('');
    expect(text).not.toContain('uncaught exception');
    expect(text).not.toContain('unhandled rejection');
    console.log(`rpc fuzz: ${inputs} inputs over ${generatedMethods().length - NOT_FUZZED_WITH_TOKEN.size} methods; statuses ${JSON.stringify(Object.fromEntries(statuses))}; 0 crashes`);
  }, 300_000);

  it(`fuzz - job submissions: ${RUNS * 4} random SubmitJob requests (bad entrypoints, hashes, archives) are refused or fail to start, the head stays up`, async () => {
    const hosted = await hostedDefinitions();
    const def = hosted.get('/rayts.JobService/SubmitJob')!;
    const md = new grpc.Metadata();
    md.set('authorization', `Bearer ${cluster.token}`);
    const Req = rayts.SubmitJobRequest as unknown as { encode(m: object): { finish(): Uint8Array } };
    const statuses: Record<string, number> = {};
    // The command never exists: a fuzzed submission must not run anything.
    const entrypoint = fc.oneof(
      fc.constant([] as string[]),
      fc.array(fc.string({ maxLength: 40 }), { maxLength: 4 }).map((a) => ['rayts-fuzz-no-such-command', ...a]),
      fc.string({ maxLength: 20 }).map((x) => [`rayts-fuzz-${x.replace(/[/\\]/g, '')}`]),
      fc.constant(['rayts-fuzz-huge', 'x'.repeat(200_000)]),
      fc.constant(Array.from({ length: 2000 }, () => 'rayts-fuzz-many')),
    );
    const hash = fc.oneof(fc.constant(''), fc.string({ unit: fc.constantFrom(...'0123456789abcdef'), maxLength: 64 }), fc.constantFrom('../../etc', 'a'.repeat(64), '\u0000'), fc.string({ maxLength: 70 }));
    await fc.assert(
      fc.asyncProperty(entrypoint, hash, fc.uint8Array({ maxLength: 2048 }), async (ep, h, archive) => {
        const bytes = Buffer.from(Req.encode({ entrypoint: ep, workingDirHash: h, workingDirArchive: archive }).finish());
        const { code, details } = await callWith(client, def, md, [bytes]);
        statuses[grpc.status[code]] = (statuses[grpc.status[code]] ?? 0) + 1;
        expect({ code: grpc.status[code], details: code === grpc.status.INTERNAL ? details : '' }).not.toMatchObject({ code: 'INTERNAL' });
      }),
      { numRuns: RUNS * 4 },
    );
    expect(isAlive(cluster.headPid())).toBe(true);
    console.log(`job submission fuzz: ${RUNS * 4} submissions; statuses ${JSON.stringify(statuses)}; 0 crashes`);
  }, 120_000);

  it('the head still serves callers with the right token after the sweep', async () => {
    const r = await cluster.cli(['status']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('Nodes: 1 alive');
  });
});
