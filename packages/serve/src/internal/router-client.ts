/**
 * The routing state of one process (driver, proxy or replica): routing tables fetched from the
 * controller and kept fresh by one long poll, one DeploymentRouter per deployment (replica choice,
 * caller-side queue, maxOngoingRequests/maxQueuedRequests), and load reports for autoscaling.
 */
import { get, isRayError, type ActorHandle } from '@samsara/ray';
import { findController } from './controller-client.js';
import { randomUUID } from 'node:crypto';
import { BackPressureError, ServeError } from '../errors.js';
import { pickReplica, type PendingRequest } from '../routing/request-router.js';
import type { AppTable, DeploymentTable } from './spec.js';
import type { DirectEndpoint } from './direct/direct-wire.js';

type Ctl = ActorHandle<Record<string, (...a: never[]) => unknown>> & Record<string, { remote(...a: unknown[]): unknown }>;

/** One replica as this caller sees it. */
export interface ReplicaSlot {
  readonly replicaId: string;
  readonly handle: Record<string, { remote(...a: unknown[]): unknown }>;
  /** Where this process may reach the replica without the core's actor call (same machine). */
  endpoint?: DirectEndpoint;
  ongoing: number;
  maxOngoingRequests: number;
}

interface Waiter {
  readonly req: PendingRequest;
  resolve(r: ReplicaSlot): void;
  reject(e: unknown): void;
}

/** Errors that mean the replica is gone (the request never ran or died with it). */
export function isReplicaGone(e: unknown): boolean {
  if (!isRayError(e)) return false;
  const code = (e as { code: string }).code;
  return code === 'ACTOR_DIED' || code === 'WORKER_CRASHED' || code === 'ACTOR_UNAVAILABLE' || code === 'NODE_DIED' || code === 'OWNER_DIED';
}

/** Replica choice and the caller-side queue of one deployment. */
export class DeploymentRouter {
  private replicas: ReplicaSlot[] = [];
  private queue: Waiter[] = [];
  private maxOngoing = 5;
  private maxQueued = -1;
  private exists = true;
  private gotTable = false;
  /** Requests sent and not finished, by this caller. */
  ongoing = 0;
  private lastReported = -1;

  constructor(
    readonly key: string,
    readonly label: string,
    private readonly client: RouterClient,
  ) {}

  /** Current load for autoscaling: running + waiting requests of this caller. */
  load(): number {
    return this.ongoing + this.queue.length;
  }
  /** True when the load changed since the last report (or is non-zero). */
  takeReport(): [number, number] | undefined {
    const l = this.load();
    if (l === 0 && this.lastReported === 0) return undefined;
    this.lastReported = l;
    return [this.ongoing, this.queue.length];
  }

  update(t: DeploymentTable): void {
    this.gotTable = true;
    this.exists = t.exists;
    this.maxOngoing = t.maxOngoingRequests;
    this.maxQueued = t.maxQueuedRequests;
    const old = new Map(this.replicas.map((r) => [r.replicaId, r]));
    this.replicas = t.replicas.map((r) => {
      const o = old.get(r.replicaId);
      if (o) {
        o.maxOngoingRequests = this.maxOngoing;
        o.endpoint ??= r.endpoint;
        return o;
      }
      return { replicaId: r.replicaId, handle: r.handle as ReplicaSlot['handle'], endpoint: r.endpoint, ongoing: 0, maxOngoingRequests: this.maxOngoing };
    });
    if (!this.exists) {
      const err = new ServeError(`Deployment ${this.label} does not exist (deleted, or never deployed).`, { hint: 'Check serve.status().', ids: { deployment: this.label } }, 'SERVE_NOT_FOUND');
      for (const w of this.queue.splice(0)) w.reject(err);
      return;
    }
    this.drain();
  }

  /** A replica with room for `req`, now or once one frees up; BackPressureError when the queue is full. */
  acquire(req: PendingRequest): Promise<ReplicaSlot> | ReplicaSlot {
    if (!this.gotTable) return this.client.ensureWatched(this.key).then(() => this.acquire(req));
    if (!this.exists) {
      throw new ServeError(`Deployment ${this.label} does not exist (deleted, or never deployed).`, { hint: 'Check serve.status().', ids: { deployment: this.label } }, 'SERVE_NOT_FOUND');
    }
    if (this.queue.length === 0) {
      const r = pickReplica(this.replicas, req);
      if (r) {
        r.ongoing++;
        this.ongoing++;
        return r;
      }
    }
    if (this.maxQueued >= 0 && this.queue.length >= this.maxQueued) throw new BackPressureError(this.label, this.queue.length, this.maxQueued);
    this.client.ensureWatched(this.key);
    return new Promise<ReplicaSlot>((resolve, reject) => this.queue.push({ req, resolve, reject }));
  }

  /**
   * A replica with room right now, or undefined when acquire() must decide (no table yet, deployment
   * deleted, requests already waiting, every replica full). No promise: the proxy's per-request path.
   */
  tryAcquire(req: PendingRequest): ReplicaSlot | undefined {
    if (!this.gotTable || !this.exists || this.queue.length > 0) return undefined;
    const r = pickReplica(this.replicas, req);
    if (!r) return undefined;
    r.ongoing++;
    this.ongoing++;
    return r;
  }

  release(r: ReplicaSlot): void {
    r.ongoing--;
    this.ongoing--;
    this.drain();
  }

  /** Drops a replica that failed as gone; the controller is told and replaces it. */
  markDead(replicaId: string): void {
    const before = this.replicas.length;
    this.replicas = this.replicas.filter((r) => r.replicaId !== replicaId);
    if (this.replicas.length !== before) this.client.reportDead(this.key, replicaId);
  }

  private drain(): void {
    while (this.queue.length > 0) {
      const r = pickReplica(this.replicas, this.queue[0].req);
      if (!r) return;
      const w = this.queue.shift()!;
      r.ongoing++;
      this.ongoing++;
      w.resolve(r);
    }
  }
}

/** Process-wide routing state. */
export class RouterClient {
  private static current: RouterClient | undefined;
  static get(): RouterClient {
    return (RouterClient.current ??= new RouterClient());
  }
  /** Stops polling (serve.shutdown(), or the driver shutting down). */
  static reset(): void {
    RouterClient.current?.close();
    RouterClient.current = undefined;
  }

  readonly clientId = randomUUID().slice(0, 8);
  private ctl: Promise<Ctl> | undefined;
  private readonly versions = new Map<string, number>();
  private readonly routers = new Map<string, DeploymentRouter>();
  private readonly appTables = new Map<string, AppTable>();
  private readonly listeners = new Map<string, ((v: unknown) => void)[]>();
  private readonly firstFetch = new Map<string, Promise<void>>();
  private polling = false;
  private closed = false;
  private reportTimer: NodeJS.Timeout | undefined;

  controller(): Promise<Ctl> {
    this.ctl ??= findController('if-state').then((h) => {
      if (!h) throw new ServeError('Serve is not running (no controller, no applications in the cluster KV).', { hint: 'Deploy with serve.run().' }, 'SERVE_NOT_FOUND');
      return h as unknown as Ctl;
    });
    this.ctl.catch(() => (this.ctl = undefined));
    return this.ctl;
  }

  deploymentRouter(key: string, label: string): DeploymentRouter {
    let r = this.routers.get(key);
    if (!r) {
      r = new DeploymentRouter(key, label, this);
      this.routers.set(key, r);
      this.ensureWatched(key);
      this.startReports();
    }
    return r;
  }

  /** The app table, fetched on first use and kept fresh. */
  async appTable(key: string): Promise<AppTable> {
    const t = this.appTables.get(key);
    if (t) return t;
    await this.ensureWatched(key);
    return this.appTables.get(key)!;
  }
  appTableNow(key: string): AppTable | undefined {
    return this.appTables.get(key);
  }

  /** Calls `fn` on every new value of `key` (the proxy's route table). */
  onChange(key: string, fn: (v: unknown) => void): void {
    const l = this.listeners.get(key) ?? [];
    l.push(fn);
    this.listeners.set(key, l);
    void this.ensureWatched(key);
  }

  ensureWatched(key: string): Promise<void> {
    let p = this.firstFetch.get(key);
    if (!p) {
      p = this.fetchNow([key]);
      this.firstFetch.set(key, p);
      p.catch(() => this.firstFetch.delete(key));
    }
    this.startPolling();
    return p;
  }

  /** Fetches these tables now (the proxy does on a route miss: a just-deployed app may not have reached it). */
  refresh(keys: string[]): Promise<void> {
    return this.fetchNow(keys);
  }

  /** Fetches tables now; while the controller restarts (up to 60 s) it retries. */
  private async fetchNow(keys: string[]): Promise<void> {
    const deadline = Date.now() + 60_000;
    for (let attempt = 1; ; attempt++) {
      try {
        const ctl = await this.controller();
        const res = (await get(ctl.routes.remote(keys) as never)) as Record<string, { version: number; value: unknown }>;
        this.apply(res);
        return;
      } catch (e) {
        this.ctl = undefined;
        if (this.closed || Date.now() > deadline || (isRayError(e) && (e as { code: string }).code === 'NOT_INITIALIZED')) throw e;
        await new Promise((r) => setTimeout(r, Math.min(1000, 100 * attempt)));
      }
    }
  }

  private apply(res: Record<string, { version: number; value: unknown }>): void {
    for (const [key, { version, value }] of Object.entries(res)) {
      const have = this.versions.get(key);
      if (have !== undefined && have >= version) continue;
      this.versions.set(key, version);
      if (key.startsWith('dep:')) this.routers.get(key)?.update(value as DeploymentTable);
      else if (key.startsWith('app:')) this.appTables.set(key, value as AppTable);
      for (const fn of this.listeners.get(key) ?? []) fn(value);
    }
  }

  private startPolling(): void {
    if (this.polling || this.closed) return;
    this.polling = true;
    void (async () => {
      let failures = 0;
      while (!this.closed) {
        try {
          const ctl = await this.controller();
          const res = (await get(ctl.listen.remote(Object.fromEntries(this.versions), 5000) as never)) as Record<string, { version: number; value: unknown }>;
          this.apply(res);
          failures = 0;
        } catch (e) {
          if (this.closed || (isRayError(e) && (e as { code: string }).code === 'NOT_INITIALIZED')) break;
          this.ctl = undefined;
          failures++;
          await new Promise((r) => setTimeout(r, Math.min(2000, 100 * failures)).unref?.());
        }
      }
      this.polling = false;
    })();
  }

  private startReports(): void {
    if (this.reportTimer || this.closed) return;
    this.reportTimer = setInterval(() => {
      const loads: Record<string, [number, number]> = {};
      let any = false;
      for (const [k, r] of this.routers) {
        const l = r.takeReport();
        if (l !== undefined) {
          loads[k] = l;
          any = true;
        }
      }
      if (!any) return;
      void this.controller()
        .then((c) => c.reportLoad.remote(this.clientId, loads))
        .catch(() => undefined);
    }, 250);
    this.reportTimer.unref?.();
  }

  reportDead(key: string, replicaId: string): void {
    void this.controller()
      .then((c) => c.reportDead.remote(key, replicaId))
      .catch(() => undefined);
  }

  close(): void {
    this.closed = true;
    if (this.reportTimer) clearInterval(this.reportTimer);
  }
}
