/**
 * The process's Prometheus registry and the instruments the runtime updates as it works (tasks run,
 * objects pulled and served, gRPC errors). Everything a scrape can compute from state at scrape time
 * (store use, resources, actors, the cluster view on the head) is a collector instead: see
 * node-collector.ts and cluster-collector.ts. Names are `rayts_…`; docs/operations.md lists them all.
 *
 * One registry per process: a head that also runs a node serves both sets on one /metrics.
 */
import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** The registry /metrics serves in this process (runtime, collectors and library metrics). */
export const registry = new Registry();
let defaults = false;

/** Adds the process metrics (CPU, memory, event loop lag, GC) once, prefixed `rayts_process_`/`rayts_nodejs_`. */
export function enableProcessMetrics(): void {
  if (defaults) return;
  defaults = true;
  collectDefaultMetrics({ register: registry, prefix: 'rayts_' });
}

/** Tasks this node ran to the end, by outcome (`finished`, `failed`). */
export const tasksCompleted = new Counter({
  name: 'rayts_node_tasks_completed_total',
  help: 'Tasks this node ran to the end, by outcome (finished | failed).',
  labelNames: ['outcome'] as const,
  registers: [registry],
});

/** Run time of a task on this node (from the moment it got its resources to its result). */
export const taskDuration = new Histogram({
  name: 'rayts_node_task_duration_seconds',
  help: 'Run time of tasks on this node, from dispatch to result, by outcome.',
  labelNames: ['outcome'] as const,
  buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
  registers: [registry],
});

/** Objects this process pulled from peers, by transport (`data_plane`, `grpc`) and result. */
export const objectPulls = new Counter({
  name: 'rayts_object_pulls_total',
  help: 'Object transfers this process pulled from peers, by transport (data_plane | grpc) and result (ok | error).',
  labelNames: ['transport', 'result'] as const,
  registers: [registry],
});

/** Bytes this process pulled from peers. */
export const objectPulledBytes = new Counter({
  name: 'rayts_object_pulled_bytes_total',
  help: 'Bytes of objects this process received from peers.',
  labelNames: ['transport'] as const,
  registers: [registry],
});

/** Bytes this process served to peers. */
export const objectServedBytes = new Counter({
  name: 'rayts_object_served_bytes_total',
  help: 'Bytes of objects this process sent to peers that pulled them.',
  labelNames: ['transport'] as const,
  registers: [registry],
});

/** RPCs this process answered with an error (bad token, bad input, handler failure). */
export const grpcServerErrors = new Counter({
  name: 'rayts_grpc_server_errors_total',
  help: 'RPCs this process answered with an error, by method and gRPC status name.',
  labelNames: ['method', 'code'] as const,
  registers: [registry],
});

/** RPCs this process made that failed, by gRPC status. */
export const grpcClientErrors = new Counter({
  name: 'rayts_grpc_client_errors_total',
  help: 'RPCs this process made that failed, by gRPC status name.',
  labelNames: ['code'] as const,
  registers: [registry],
});

/** Renders the registry in the Prometheus text format. */
export async function renderMetrics(): Promise<{ contentType: string; body: string }> {
  return { contentType: registry.contentType, body: await registry.metrics() };
}
