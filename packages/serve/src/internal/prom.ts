/**
 * Serve's Prometheus metrics, through the core's public `metrics` helper: their values appear on the
 * `/metrics` of the node each replica (and the controller) runs on (docs/operations.md). Replicas
 * publish requests, errors, latency and ongoing requests; the controller publishes the queue length
 * seen by callers and the replica counts. A failure to publish never fails a request.
 */
import { metrics, type BoundHistogram } from '@samsara/ray';
import { LATENCY_BUCKETS_MS } from './spec.js';

type Instruments = {
  requests: ReturnType<typeof metrics.counter>;
  errors: ReturnType<typeof metrics.counter>;
  latency: ReturnType<typeof metrics.histogram>;
  ongoing: ReturnType<typeof metrics.gauge>;
  queued: ReturnType<typeof metrics.gauge>;
  replicas: ReturnType<typeof metrics.gauge>;
  target: ReturnType<typeof metrics.gauge>;
};

let made: Instruments | undefined;
function instruments(): Instruments {
  const rep = ['app', 'deployment', 'replica'];
  const dep = ['app', 'deployment'];
  return (made ??= {
    requests: metrics.counter({ name: 'serve_deployment_requests_total', help: 'Requests a Serve replica finished (HTTP and handle calls).', labelNames: rep }),
    errors: metrics.counter({ name: 'serve_deployment_errors_total', help: 'Requests a Serve replica failed (user code threw, or answered 5xx).', labelNames: rep }),
    latency: metrics.histogram({
      name: 'serve_deployment_request_seconds',
      help: 'Time a Serve replica spent on a request (a stream: until it ended).',
      labelNames: dep,
      buckets: LATENCY_BUCKETS_MS.map((ms) => ms / 1000),
    }),
    ongoing: metrics.gauge({ name: 'serve_deployment_ongoing_requests', help: 'Requests running on a Serve replica.', labelNames: rep }),
    queued: metrics.gauge({ name: 'serve_deployment_queued_requests', help: 'Requests waiting in callers for a replica of a deployment (as last reported).', labelNames: dep }),
    replicas: metrics.gauge({ name: 'serve_deployment_replicas', help: 'Replicas of a deployment by state.', labelNames: ['app', 'deployment', 'state'] }),
    target: metrics.gauge({ name: 'serve_deployment_target_replicas', help: 'Replicas a deployment should have (autoscaling moves it).', labelNames: dep }),
  });
}

function safely(fn: (m: Instruments) => void): void {
  try {
    fn(instruments());
  } catch {
    /* metrics never fail a request */
  }
}

/**
 * A replica's counts since the last publish. Requests, errors and ongoing are summed here and
 * published every PUBLISH_MS (one counter increment per replica instead of one per request: each
 * operation is posted to the node's main thread); latencies are observed one by one.
 */
interface Pending {
  readonly labels: { app: string; deployment: string; replica: string };
  requests: number;
  errors: number;
  ongoing: number;
  ongoingDirty: boolean;
}
const PUBLISH_MS = 250;
const pendingByReplica = new Map<string, Pending>();
let publishTimer: NodeJS.Timeout | undefined;

function pendingOf(labels: { app: string; deployment: string; replica: string }): Pending {
  const key = `${labels.app}\0${labels.deployment}\0${labels.replica}`;
  let p = pendingByReplica.get(key);
  if (!p) pendingByReplica.set(key, (p = { labels: { ...labels }, requests: 0, errors: 0, ongoing: 0, ongoingDirty: false }));
  return p;
}

function schedule(): void {
  if (publishTimer) return;
  publishTimer = setTimeout(publish, PUBLISH_MS);
  publishTimer.unref?.();
}

function publish(): void {
  publishTimer = undefined;
  safely((m) => {
    for (const p of pendingByReplica.values()) {
      if (p.requests) m.requests.inc(p.labels, p.requests);
      if (p.errors) m.errors.inc(p.labels, p.errors);
      if (p.ongoingDirty) m.ongoing.set(p.labels, p.ongoing);
      p.requests = p.errors = 0;
      p.ongoingDirty = false;
    }
  });
}

/**
 * One replica's metrics, looked up once: the per-request calls touch no map and build or check no
 * labels (the latency series is bound once: checking the labels of each observation cost ~20 µs of a
 * replica's request, and the worker thread posts its values as one update per batch).
 * @internal
 */
export class ReplicaMeter {
  private readonly p: Pending;
  private readonly latency: BoundHistogram | undefined;
  constructor(labels: { app: string; deployment: string; replica: string }) {
    this.p = pendingOf(labels);
    try {
      this.latency = instruments().latency.labels({ app: labels.app, deployment: labels.deployment });
    } catch {
      /* metrics never fail a request: without the instrument, latency is not published */
    }
  }
  /** One request began. */
  began(ongoing: number): void {
    this.p.ongoing = ongoing;
    this.p.ongoingDirty = true;
    schedule();
  }
  /** One request ended. */
  ended(seconds: number, failed: boolean, ongoing: number): void {
    const p = this.p;
    p.requests++;
    if (failed) p.errors++;
    p.ongoing = ongoing;
    p.ongoingDirty = true;
    schedule();
    try {
      this.latency?.observe(seconds);
    } catch {
      /* metrics never fail a request */
    }
  }
}

/** The controller's view of one deployment, each reconcile. @internal */
export function recordDeployment(app: string, deployment: string, queued: number, byState: Record<string, number>, target: number): void {
  safely((m) => {
    m.queued.set({ app, deployment }, queued);
    m.target.set({ app, deployment }, target);
    for (const [state, n] of Object.entries(byState)) m.replicas.set({ app, deployment, state }, n);
  });
}
