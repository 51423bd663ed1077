/**
 * The process's Prometheus registry and the instruments the runtime updates as it works (tasks run,
 * objects pulled and served, gRPC errors). Everything a scrape can compute from state at scrape time
 * (store use, resources, actors, the cluster view on the head) is a collector instead: see
 * node-collector.ts and cluster-collector.ts. Names are `rayts_…`; docs/operations.md lists them all.
 *
 * One registry per process: a head that also runs a node serves both sets on one /metrics.
 */
import { createRequire } from 'node:module';
import type { Counter, Histogram, Registry } from 'prom-client';

type PromClient = typeof import('prom-client');
let prom: PromClient | undefined;
let reg: Registry | undefined;
const registryHooks: ((r: Registry) => void)[] = [];

/**
 * prom-client, loaded on first use. A process that never serves /metrics and never counted anything (an
 * idle edge agent) does not load it: with @opentelemetry/api, tdigest and bintrees that is ~90 modules
 * and ~1 MB of heap. prom-client is CommonJS: require() gives the instance an `import` would.
 */
export function promClient(): PromClient {
  prom ??= createRequire(import.meta.url)('prom-client') as PromClient;
  return prom;
}

/** The registry /metrics serves in this process (runtime, collectors and library metrics), made on first use. */
export function processRegistry(): Registry {
  if (!reg) {
    reg = new (promClient().Registry)();
    for (const f of registryHooks.splice(0)) f(reg);
  }
  return reg;
}

/** Runs `f` with the process registry once it exists (now, if it does), without making it. */
export function onProcessRegistry(f: (r: Registry) => void): void {
  if (reg) f(reg);
  else registryHooks.push(f);
}

let defaults = false;

/** Adds the process metrics (CPU, memory, event loop lag, GC) once, prefixed `rayts_process_`/`rayts_nodejs_`. */
export function enableProcessMetrics(): void {
  if (defaults) return;
  defaults = true;
  promClient().collectDefaultMetrics({ register: processRegistry(), prefix: 'rayts_' });
}

type Labels = Record<string, string | number>;

/** A counter of the process registry, made (and registered) when it is first counted or the registry is made. */
class LazyCounter {
  private m: Counter | undefined;
  constructor(private readonly config: { name: string; help: string; labelNames: readonly string[] }) {
    onProcessRegistry(() => this.metric());
  }
  private metric(): Counter {
    // The registry first: making it makes the instruments waiting for it, this one included.
    const registers = [processRegistry()];
    this.m ??= new (promClient().Counter)({ ...this.config, labelNames: [...this.config.labelNames], registers });
    return this.m;
  }
  inc(labels: Labels, value?: number): void {
    this.metric().inc(labels, value);
  }
}

/** A histogram of the process registry, made like {@link LazyCounter}. */
class LazyHistogram {
  private m: Histogram | undefined;
  constructor(private readonly config: { name: string; help: string; labelNames: readonly string[]; buckets: number[] }) {
    onProcessRegistry(() => this.metric());
  }
  private metric(): Histogram {
    // The registry first: making it makes the instruments waiting for it, this one included.
    const registers = [processRegistry()];
    this.m ??= new (promClient().Histogram)({ ...this.config, labelNames: [...this.config.labelNames], registers });
    return this.m;
  }
  observe(labels: Labels, value: number): void {
    this.metric().observe(labels, value);
  }
}

/** Tasks this node ran to the end, by outcome (`finished`, `failed`). */
export const tasksCompleted = new LazyCounter({
  name: 'rayts_node_tasks_completed_total',
  help: 'Tasks this node ran to the end, by outcome (finished | failed).',
  labelNames: ['outcome'] as const,
});

/** Run time of a task on this node (from the moment it got its resources to its result). */
export const taskDuration = new LazyHistogram({
  name: 'rayts_node_task_duration_seconds',
  help: 'Run time of tasks on this node, from dispatch to result, by outcome.',
  labelNames: ['outcome'] as const,
  buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
});

/** Objects this process pulled from peers, by transport (`data_plane`, `grpc`) and result. */
export const objectPulls = new LazyCounter({
  name: 'rayts_object_pulls_total',
  help: 'Object transfers this process pulled from peers, by transport (data_plane | grpc) and result (ok | error).',
  labelNames: ['transport', 'result'] as const,
});

/** Bytes this process pulled from peers. */
export const objectPulledBytes = new LazyCounter({
  name: 'rayts_object_pulled_bytes_total',
  help: 'Bytes of objects this process received from peers.',
  labelNames: ['transport'] as const,
});

/** Bytes this process served to peers. */
export const objectServedBytes = new LazyCounter({
  name: 'rayts_object_served_bytes_total',
  help: 'Bytes of objects this process sent to peers that pulled them.',
  labelNames: ['transport'] as const,
});

/** RPCs this process answered with an error (bad token, bad input, handler failure). */
export const grpcServerErrors = new LazyCounter({
  name: 'rayts_grpc_server_errors_total',
  help: 'RPCs this process answered with an error, by method and gRPC status name.',
  labelNames: ['method', 'code'] as const,
});

/** RPCs this process made that failed, by gRPC status. */
export const grpcClientErrors = new LazyCounter({
  name: 'rayts_grpc_client_errors_total',
  help: 'RPCs this process made that failed, by gRPC status name.',
  labelNames: ['code'] as const,
});

/** Renders the registry in the Prometheus text format. */
export async function renderMetrics(): Promise<{ contentType: string; body: string }> {
  const r = processRegistry();
  return { contentType: r.contentType, body: await r.metrics() };
}
