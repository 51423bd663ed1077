/**
 * TLS everywhere on a CLI cluster with mutual TLS (`--tls-require-client-cert`): certificates from
 * `rayts cert create`, a head and a worker started with --tls-*, this process as a driver through
 * RAYTS_TLS_CA (its certificate is found beside the CA), and an edge agent over a TLS tunnel. Tasks,
 * actors, a 100 MB pull over the TLS data plane, /metrics and the dashboard over HTTPS; plaintext peers
 * (the CLI, a gRPC client, a data-plane socket, an edge agent, HTTP) and peers without a client
 * certificate are refused.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { connect as netConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import * as grpc from '@grpc/grpc-js';
import { actor, get, nodes, put, remote } from '@samsara/ray';
import { CLI, freePort, until, useCliCluster } from './helpers/cli-cluster.js';
import { parsePrometheusText } from './helpers/prom-text.js';

const EDGE_CLI = resolve(fileURLToPath(new URL('.', import.meta.url)), '../packages/edge-agent/dist/cli.js');
const certs = mkdtempSync(join(tmpdir(), 'rayts-certs-'));
const made = await promisify(execFile)(process.execPath, [CLI, 'cert', 'create', '--out', certs, '--host', '127.0.0.1', '--host', 'localhost']);
const ca = join(certs, 'ca.pem');
const tlsFlags = ['--tls-cert', join(certs, 'node.pem'), '--tls-key', join(certs, 'node-key.pem'), '--tls-ca', ca, '--tls-require-client-cert'];
process.env.RAYTS_TLS_CA = ca; // this driver (its certificate: node.pem beside the CA)
const dashPort = await freePort();
const metricsPort = await freePort();
const ctx = useCliCluster({ numCpus: 1, flags: [...tlsFlags, '--dashboard-port', String(dashPort)] }, [
  { numCpus: 2, resources: { far: 4 }, flags: [...tlsFlags, '--metrics-port', String(metricsPort)] },
]);
let edge: ChildProcess | undefined;

afterAll(() => {
  edge?.kill('SIGTERM');
  delete process.env.RAYTS_TLS_CA;
  rmSync(certs, { recursive: true, force: true });
});

function https(port: number, path: string, opts: { token?: string; cert?: boolean } = {}): Promise<{ status: number; body: string }> {
  return new Promise((res, rej) => {
    const req = httpsRequest(
      {
        host: '127.0.0.1',
        port,
        path,
        ca: readFileSync(ca),
        headers: opts.token ? { authorization: `Bearer ${opts.token}` } : {},
      },
      (r) => {
        let body = '';
        r.on('data', (d: Buffer) => (body += d.toString()));
        r.on('end', () => res({ status: r.statusCode ?? 0, body }));
      },
    );
    req.on('error', rej);
    req.end();
  });
}

describe('tls - a cluster with mutual TLS', () => {
  it('tls - rayts cert create writes a CA and a node certificate (keys 0600)', () => {
    expect(made.stdout).toContain('ca.pem');
    for (const f of ['ca.pem', 'node.pem']) expect(readFileSync(join(certs, f), 'utf8')).toMatch(/^-----BEGIN CERTIFICATE-----/);
    for (const f of ['ca-key.pem', 'node-key.pem']) expect(readFileSync(join(certs, f), 'utf8')).toMatch(/^-----BEGIN PRIVATE KEY-----/);
  });

  it('tls - tasks, actors and a 100 MB pull over TLS', async () => {
    const where = remote(() => (globalThis as { process?: { pid: number } }).process?.pid ?? 0).options({ scheduling: 'SPREAD' });
    const pids = new Set(await get(Array.from({ length: 8 }, () => where.remote())));
    expect(pids.size).toBeGreaterThanOrEqual(2);
    const Counter = actor(class Counter {
      n = 0;
      add(k: number): number {
        return (this.n += k);
      }
    }).options({ resources: { far: 1 } });
    const c = Counter.remote();
    expect(await get([c.add.remote(1), c.add.remote(2), c.add.remote(3)])).toEqual([1, 3, 6]);
    // 100 MB owned by this driver, pulled by the worker over the TLS data plane.
    const big = await put(new Uint8Array(100 * 1024 * 1024).fill(9));
    const sum = remote((b: Uint8Array) => b.byteLength + b[b.byteLength - 1]).options({ resources: { far: 1 } });
    expect(await get(sum.remote(big), { timeoutMs: 120_000 })).toBe(100 * 1024 * 1024 + 9);
    const m = parsePrometheusText((await https(metricsPort, '/metrics', { token: ctx.cluster.token })).body);
    expect(m.value('rayts_object_pulled_bytes_total', { transport: 'data_plane' })).toBeGreaterThanOrEqual(100 * 1024 * 1024);
  }, 180_000);

  it('tls - an edge agent joins over a TLS tunnel and runs tasks', async () => {
    edge = spawn(process.execPath, [EDGE_CLI, '--address', ctx.cluster.address, '--resources', '{"camera":1}', '--tls-ca', ca, '--tls-cert', join(certs, 'node.pem'), '--tls-key', join(certs, 'node-key.pem')], {
      env: { ...ctx.cluster.env, RAYTS_TOKEN: ctx.cluster.token },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    edge.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    edge.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    await until(() => /edge node ([0-9a-f]+) joined/.test(out) || edge!.exitCode !== null, 'the edge agent to join over TLS');
    expect(out).toMatch(/edge node [0-9a-f]+ joined/);
    await until(async () => (await nodes()).some((n) => n.alive && (n.resources.camera ?? 0) > 0), 'the camera node in the view');
    const onCam = remote((x: number) => x * 3).options({ resources: { camera: 1 } });
    expect(await get([onCam.remote(1), onCam.remote(2)])).toEqual([3, 6]);
  });

  it('tls - a submitted job\'s driver joins with the head\'s TLS settings', async () => {
    const core = resolve(fileURLToPath(new URL('.', import.meta.url)), '../packages/core/dist/index.js');
    const script = `import(${JSON.stringify(core)}).then(async (r) => { await r.init(); console.log('job result', await r.get(r.remote((x) => x + 1).remote(41))); await r.shutdown(); })`;
    const out = await ctx.cluster.cli(['job', 'submit', '--', 'node', '-e', script], { RAYTS_TOKEN: ctx.cluster.token });
    expect(out.code, out.stdout + out.stderr).toBe(0);
    expect(out.stdout).toContain('job result 42');
  });

  it('tls - /metrics and the dashboard answer over HTTPS only', async () => {
    const r = await https(dashPort, '/api/cluster', { token: ctx.cluster.token });
    expect(r.status).toBe(200);
    expect(JSON.parse(r.body).nodes.length).toBeGreaterThanOrEqual(2);
    expect((await https(dashPort, '/api/cluster')).status).toBe(401);
    await expect(fetch(`http://127.0.0.1:${dashPort}/api/cluster`)).rejects.toThrow();
    await expect(fetch(`http://127.0.0.1:${metricsPort}/metrics`)).rejects.toThrow();
  });

  it('tls - plaintext peers are refused with a clear error', async () => {
    // The CLI without RAYTS_TLS_CA.
    const status = await ctx.cluster.cli(['status'], { RAYTS_TLS_CA: '' });
    expect(status.code).toBe(1);
    expect(status.stderr).toMatch(/uses TLS and this process does not/);
    // A plaintext edge agent gives up with the same message instead of retrying forever.
    const plain = await promisify(execFile)(process.execPath, [EDGE_CLI, '--address', ctx.cluster.address], { env: { ...ctx.cluster.env, RAYTS_TOKEN: ctx.cluster.token, RAYTS_TLS_CA: '' } }).catch((e: { stderr: string; code: number }) => e);
    expect((plain as { code: number }).code).toBe(1);
    expect((plain as { stderr: string }).stderr).toMatch(/uses TLS and this process does not/);
    // TLS with the right CA but no client certificate (a CA copied alone elsewhere).
    const lonely = mkdtempSync(join(tmpdir(), 'rayts-ca-only-'));
    copyFileSync(ca, join(lonely, 'ca.pem'));
    const noClientCert = await ctx.cluster.cli(['status'], { RAYTS_TLS_CA: join(lonely, 'ca.pem') });
    rmSync(lonely, { recursive: true, force: true });
    expect(noClientCert.code).toBe(1);
    expect(noClientCert.stderr).toMatch(/requires a client certificate \(mutual TLS\)/);
    // A plaintext gRPC call with the right token.
    const client = new grpc.Client(ctx.cluster.address, grpc.credentials.createInsecure());
    const md = new grpc.Metadata();
    md.set('authorization', `Bearer ${ctx.cluster.token}`);
    const code = await new Promise<number>((res) =>
      client.makeUnaryRequest('/rayts.HeadService/ClusterStatus', (b: Buffer) => b, (b: Buffer) => b, Buffer.alloc(0), md, { deadline: Date.now() + 5000 }, (err) => res(err?.code ?? 0)),
    );
    client.close();
    expect(code).toBe(grpc.status.UNAVAILABLE);
    // TLS without a client certificate (mutual TLS is required).
    const noCert = new grpc.Client(ctx.cluster.address, grpc.credentials.createSsl(readFileSync(ca)));
    const code2 = await new Promise<number>((res) =>
      noCert.makeUnaryRequest('/rayts.HeadService/ClusterStatus', (b: Buffer) => b, (b: Buffer) => b, Buffer.alloc(0), md, { deadline: Date.now() + 5000 }, (err) => res(err?.code ?? 0)),
    );
    noCert.close();
    expect(code2).toBe(grpc.status.UNAVAILABLE);
    // A plaintext socket to the worker's data plane gets nothing back.
    const worker = (await nodes()).find((n) => (n.resources.far ?? 0) > 0)!;
    const ports = await new Promise<number>((res) => {
      const t = new grpc.Client(worker.address, grpc.credentials.createSsl(readFileSync(ca), readFileSync(join(certs, 'node-key.pem')), readFileSync(join(certs, 'node.pem'))));
      t.makeUnaryRequest('/rayts.TransferService/DataPlane', (b: Buffer) => b, (b: Buffer) => b, Buffer.alloc(0), md, (err, v) => {
        t.close();
        // DataPlaneInfo: field 1 port (varint).
        res(err || !v ? 0 : v[0] === 8 ? decodeVarint(v, 1) : 0);
      });
    });
    expect(ports).toBeGreaterThan(0);
    const answer = await new Promise<string>((res) => {
      const s = netConnect(ports, '127.0.0.1');
      let got = '';
      s.on('data', (d: Buffer) => (got += d.toString('latin1')));
      s.on('connect', () => s.write(Buffer.from('RAYT plaintext hello')));
      s.on('close', () => res(got));
      s.on('error', () => undefined);
    });
    // Nothing of the data-plane protocol: the TLS listener answers with a TLS alert record (0x15) or nothing.
    expect(answer.length === 0 || answer.charCodeAt(0) === 0x15).toBe(true);
  });
});

function decodeVarint(b: Buffer, at: number): number {
  let n = 0;
  let shift = 0;
  for (let i = at; i < b.length; i++) {
    n |= (b[i] & 0x7f) << shift;
    if (!(b[i] & 0x80)) return n;
    shift += 7;
  }
  return 0;
}
