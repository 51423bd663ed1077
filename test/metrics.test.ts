/**
 * Prometheus metrics on a CLI cluster: a head (dashboard port serves the cluster's /metrics), a worker
 * node with --metrics-port, and an edge agent whose telemetry reaches the head. This process is the
 * driver: it runs tasks (some failing), an actor that publishes its own metric through `metrics`, and a
 * pull of a 2 MiB object onto the worker; every scrape is parsed as Prometheus text.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { actor, get, nodes, put, remote } from '@samsara/ray';
import { freePort, until, useCliCluster } from './helpers/cli-cluster.js';
import { parsePrometheusText, type Scrape } from './helpers/prom-text.js';

const EDGE_CLI = resolve(fileURLToPath(new URL('.', import.meta.url)), '../packages/edge-agent/dist/cli.js');
const dashPort = await freePort();
const workerMetricsPort = await freePort();
const ctx = useCliCluster({ numCpus: 1, flags: ['--dashboard-port', String(dashPort)] }, [
  { numCpus: 2, resources: { worker: 4 }, flags: ['--metrics-port', String(workerMetricsPort)] },
]);
let edge: ChildProcess | undefined;

afterAll(() => {
  edge?.kill('SIGTERM');
});

async function scrape(port: number, token?: string): Promise<{ status: number; text: string; type: string }> {
  const r = await fetch(`http://127.0.0.1:${port}/metrics`, { headers: token ? { authorization: `Bearer ${token}` } : {} });
  return { status: r.status, text: await r.text(), type: r.headers.get('content-type') ?? '' };
}

async function parsed(port: number): Promise<Scrape> {
  const r = await scrape(port, ctx.cluster.token);
  expect(r.status).toBe(200);
  expect(r.type).toMatch(/^text\/plain; version=0\.0\.4/);
  return parsePrometheusText(r.text);
}

describe('metrics - /metrics on the head and on nodes', () => {
  it('metrics - refuses a scrape without the token or with a wrong one', async () => {
    for (const port of [dashPort, workerMetricsPort]) {
      expect((await scrape(port)).status).toBe(401);
      const wrong = await scrape(port, 'not-the-token');
      expect(wrong.status).toBe(401);
      expect(wrong.text).not.toContain('rayts_');
    }
  });

  it('metrics - a worker node publishes tasks, latency, store, pulls, resources, gRPC errors and library metrics', async () => {
    const work = remote((x: number) => x * 2).options({ resources: { worker: 1 } });
    const boom = remote((x: number) => {
      if (x >= 0) throw new Error('boom');
      return x;
    }).options({ resources: { worker: 1 }, maxRetries: 0 });
    expect(await get([1, 2, 3, 4, 5].map((x) => work.remote(x)))).toEqual([2, 4, 6, 8, 10]);
    await expect(get(boom.remote(1))).rejects.toThrow(/boom/);
    // A 2 MiB object owned by this driver: the worker pulls it to run the task.
    const big = await put(new Uint8Array(2 * 1024 * 1024).fill(7));
    const len = remote((b: Uint8Array) => b.byteLength + b[100]).options({ resources: { worker: 1 } });
    expect(await get(len.remote(big))).toBe(2 * 1024 * 1024 + 7);
    // A library metric published from inside an actor (a worker thread of the node daemon).
    // Written as source text: vitest rewrites `import()` in this file, a worker would not know the rewrite.
    const Replica = actor(
      (0, eval)(`(class Replica {
        async handle(n) {
          const { metrics } = await import('@samsara/ray');
          const requests = metrics.counter({ name: 'serve_requests_total', help: 'Requests per deployment.', labelNames: ['deployment'] });
          const latency = metrics.histogram({ name: 'serve_request_seconds', help: 'Request latency.', labelNames: ['deployment'], buckets: [0.01, 0.1, 1] });
          const inflight = metrics.gauge({ name: 'serve_ongoing_requests', help: 'Requests in progress.', labelNames: ['deployment'] });
          const bound = latency.labels({ deployment: 'bound' });
          for (let i = 0; i < n; i++) {
            requests.inc({ deployment: 'detector' });
            latency.observe({ deployment: 'detector' }, 0.05);
            bound.observe(0.5);
          }
          inflight.set({ deployment: 'detector' }, 3);
          return n;
        }
      })`) as new () => { handle(n: number): Promise<number> },
    ).options({ resources: { worker: 1 } });
    const r = Replica.remote();
    expect(await get(r.handle.remote(7))).toBe(7);

    let m!: Scrape;
    await until(async () => {
      m = await parsed(workerMetricsPort);
      return m.value('rayts_serve_requests_total', { deployment: 'detector' }) === 7 && m.value('rayts_node_tasks_completed_total', { outcome: 'finished' }) >= 6;
    }, 'the worker to publish the tasks and the actor metric');
    expect(m.types.get('rayts_node_tasks_completed_total')).toBe('counter');
    expect(m.value('rayts_node_tasks_completed_total', { outcome: 'failed' })).toBeGreaterThanOrEqual(1);
    expect(m.types.get('rayts_node_task_duration_seconds')).toBe('histogram');
    expect(m.value('rayts_node_task_duration_seconds_count', { outcome: 'finished' })).toBeGreaterThanOrEqual(6);
    expect(m.value('rayts_node_task_duration_seconds_bucket', { outcome: 'finished', le: '+Inf' })).toBe(m.value('rayts_node_task_duration_seconds_count', { outcome: 'finished' }));
    expect(m.value('rayts_node_actors', { state: 'alive' })).toBe(1);
    expect(m.value('rayts_object_store_capacity_bytes')).toBeGreaterThan(0);
    expect(m.has('rayts_object_store_used_bytes')).toBe(true);
    expect(m.has('rayts_object_store_spilled_bytes')).toBe(true);
    expect(m.has('rayts_object_store_objects')).toBe(true);
    expect(m.value('rayts_object_pulls_total', { result: 'ok' })).toBeGreaterThanOrEqual(1);
    expect(m.value('rayts_object_pulled_bytes_total')).toBeGreaterThanOrEqual(2 * 1024 * 1024);
    expect(m.value('rayts_node_resource_total', { resource: 'CPU' })).toBe(2);
    expect(m.value('rayts_node_resource_total', { resource: 'worker' })).toBe(4);
    expect(m.value('rayts_node_resource_used', { resource: 'worker' })).toBe(1); // the actor holds one
    expect(m.types.get('rayts_grpc_server_errors_total')).toBe('counter');
    expect(m.value('rayts_serve_request_seconds_count', { deployment: 'detector' })).toBe(7);
    expect(m.value('rayts_serve_request_seconds_bucket', { deployment: 'detector', le: '0.1' })).toBe(7);
    // A bound series (histogram.labels()): its values travel as one update and each is observed.
    expect(m.value('rayts_serve_request_seconds_count', { deployment: 'bound' })).toBe(7);
    expect(m.value('rayts_serve_request_seconds_bucket', { deployment: 'bound', le: '0.1' })).toBe(0);
    expect(m.value('rayts_serve_request_seconds_bucket', { deployment: 'bound', le: '1' })).toBe(7);
    expect(m.value('rayts_serve_ongoing_requests', { deployment: 'detector' })).toBe(3);
    expect(m.has('rayts_process_resident_memory_bytes')).toBe(true);
    for (const name of m.types.keys()) expect(name).toMatch(/^rayts_/);

    // A call with a wrong token is refused and counted by the node that refused it.
    const before = m.value('rayts_grpc_server_errors_total', { code: 'UNAUTHENTICATED', method: 'nodeStats' });
    const worker = (await nodes()).find((n) => (n.resources.worker ?? 0) > 0)!;
    const client = new grpc.Client(worker.address, grpc.credentials.createInsecure());
    const md = new grpc.Metadata();
    md.set('authorization', 'Bearer wrong');
    const code = await new Promise<number>((res) =>
      client.makeUnaryRequest('/rayts.NodeService/NodeStats', (b: Buffer) => b, (b: Buffer) => b, Buffer.alloc(0), md, (err) => res(err?.code ?? 0)),
    );
    client.close();
    expect(code).toBe(grpc.status.UNAUTHENTICATED);
    const after = (await parsed(workerMetricsPort)).value('rayts_grpc_server_errors_total', { code: 'UNAUTHENTICATED', method: 'nodeStats' });
    expect(after).toBe(before + 1);
  });

  it('metrics - the head publishes the cluster: nodes, tasks, actors, resources, stores and edge telemetry', async () => {
    edge = spawn(process.execPath, [EDGE_CLI, '--address', ctx.cluster.address, '--resources', '{"camera":1}', '--labels', 'device=cam-m'], {
      env: { ...ctx.cluster.env, RAYTS_TOKEN: ctx.cluster.token },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    edge.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    edge.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    await until(() => /edge node ([0-9a-f]+) joined/.test(out) || edge!.exitCode !== null, 'the edge agent to join');
    const edgeId = /edge node ([0-9a-f]+) joined/.exec(out)?.[1];
    expect(edgeId, out).toBeTruthy();

    let m!: Scrape;
    await until(async () => {
      m = await parsed(dashPort);
      return m.has('rayts_cluster_node_cpu_load', { node_id: edgeId!, kind: 'edge' }) && m.value('rayts_cluster_tasks', { state: 'FINISHED' }) >= 6;
    }, 'the head to publish the edge node and the finished tasks');
    expect(m.value('rayts_cluster_nodes', { state: 'alive' })).toBe(3);
    expect(m.value('rayts_cluster_nodes', { kind: 'edge', state: 'alive' })).toBe(1);
    expect(m.value('rayts_cluster_tasks', { state: 'FAILED' })).toBeGreaterThanOrEqual(1);
    expect(m.value('rayts_cluster_actors', { state: 'ALIVE' })).toBe(1);
    expect(m.value('rayts_cluster_node_resource_total', { kind: 'edge', resource: 'camera' })).toBe(1);
    expect(m.value('rayts_cluster_node_resource_total', { resource: 'CPU' })).toBeGreaterThanOrEqual(3);
    expect(m.value('rayts_cluster_node_memory_total_bytes', { node_id: edgeId! })).toBeGreaterThan(0);
    expect(m.has('rayts_cluster_node_memory_used_bytes', { node_id: edgeId! })).toBe(true);
    expect(m.value('rayts_cluster_object_store_capacity_bytes', { kind: 'worker' })).toBeGreaterThan(0);
    expect(m.has('rayts_cluster_object_store_spilled_bytes')).toBe(true);
    // Temperature is published only where the device has a thermal zone; never invented.
    const hasThermal = (() => {
      try {
        return readFileSync(join('/sys/class/thermal', 'thermal_zone0', 'temp'), 'utf8').length > 0;
      } catch {
        return false;
      }
    })();
    expect(m.has('rayts_cluster_node_temperature_celsius', { node_id: edgeId! })).toBe(hasThermal);
    // The head process runs a node too: its own node metrics are on the same page.
    expect(m.has('rayts_node_tasks_completed_total') || m.has('rayts_node_tasks')).toBe(true);
  });
});
