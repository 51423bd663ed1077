/**
 * The Serve controller: one detached actor (`SERVE_CONTROLLER` in namespace `serve`) that owns the
 * desired state of every application and reconciles replicas (actors) toward it: starts and stops
 * replicas, rolls versions over (one surge replica at a time, old ones drained before they stop),
 * replaces replicas that die, autoscales on the load reported by proxies and handles, and publishes
 * routing tables that every caller long-polls. It is not on the request path.
 *
 * Desired state (applications, their versions, replica counts, replica actor names, the proxy's
 * address) is written to the cluster KV (namespace `serve`, keys `app/<name>` and `proxy`), so a
 * restarted controller (it is created with maxRestarts -1) reads it back, adopts the replicas that are
 * still alive and replaces the rest. The KV and detached actors survive a head restart.
 */
import { actor, get, getActor, kill, kv, nodes, availableResources, isRayError, type ActorHandle } from '@samsara/ray';
import { randomUUID } from 'node:crypto';
import pino, { type Logger } from 'pino';
import { autoscaleStep, type ScalingState } from '../autoscaling/policy.js';
import { ServeError } from '../errors.js';
import { replicaClassSource, type ReplicaConfig } from './replica.js';
import { classFromSource, PROXY_SOURCE } from './actor-sources.js';
import { recordDeployment } from './prom.js';
import {
  appKey,
  depKey,
  LATENCY_BUCKETS_MS,
  PROXY_KEY,
  PROXY_NAME,
  SERVE_NAMESPACE,
  type AppSpec,
  type AppTable,
  type DeploymentSpec,
  type DeploymentTable,
  type DeployRequest,
  type HttpConfig,
  type ProxyTable,
  type ReplicaStats,
  type TrackRole,
} from './spec.js';

type Remote = Record<string, { remote(...a: unknown[]): unknown }>;
type ReplicaStateName = 'STARTING' | 'RUNNING' | 'DRAINING' | 'STOPPING';
const REPLICA_STATES: readonly ReplicaStateName[] = ['STARTING', 'RUNNING', 'DRAINING', 'STOPPING'];

/** Application states: DEPLOYING → RUNNING | DEPLOY_FAILED; RUNNING → DEPLOYING (redeploy) | DELETING. */
export type AppStatusName = 'DEPLOYING' | 'RUNNING' | 'DEPLOY_FAILED' | 'DELETING';
/** Deployment states: UPDATING while replicas start or roll; HEALTHY when all target replicas run. */
export type DeploymentStatusName = 'UPDATING' | 'HEALTHY' | 'UNHEALTHY' | 'DEPLOY_FAILED' | 'DELETING';

interface ReplicaState {
  readonly id: string;
  readonly version: string;
  readonly actorName: string;
  state: ReplicaStateName;
  handle: Remote | undefined;
  actorId?: string;
  nodeId?: string;
  readonly startedAt: number;
  drainSince?: number;
  reason?: string;
  stats?: ReplicaStats;
  healthFailures: number;
}

interface DepState {
  readonly key: string;
  readonly app: string;
  readonly track: string;
  spec: DeploymentSpec;
  target: number;
  scale: ScalingState;
  replicas: ReplicaState[];
  failures: number;
  failedVersion?: string;
  lastError?: string;
  removing: boolean;
  retired: { requests: number; errors: number; buckets: number[] };
  /** Replica restarts after crashes (not counting rollouts). */
  replaced: number;
}

interface TrackState {
  readonly id: string;
  role: TrackRole;
  weight: number;
  ingress: string;
  deployments: Map<string, DepState>;
  removing: boolean;
}

interface AppState {
  readonly name: string;
  routePrefix: string | null;
  tracks: TrackState[];
  deleting: boolean;
  deployedAt: number;
}

const PERIOD_MS = Number(process.env.RAYTS_SERVE_CONTROL_PERIOD_MS ?? 200);
const HEALTH_MS = Number(process.env.RAYTS_SERVE_HEALTH_PERIOD_MS ?? 1000);
const DRAIN_GRACE_MS = 500;
const MAX_CTOR_FAILURES = 3;
const LOAD_FRESH_MS = 2000;

/** Everything serve.status() reports. */
export interface ServeStatus {
  readonly proxy: { readonly host: string; readonly port: number; readonly nodeId?: string; readonly state: string } | null;
  readonly applications: Record<string, ApplicationStatus>;
}
export interface ApplicationStatus {
  readonly name: string;
  readonly status: AppStatusName;
  readonly message: string;
  readonly routePrefix: string | null;
  readonly ingress: string;
  readonly deployedAt: number;
  readonly tracks: readonly { readonly track: string; readonly role: TrackRole; readonly weight: number; readonly metrics: DeploymentMetrics }[];
  readonly deployments: Record<string, DeploymentStatus>;
  readonly canary?: { readonly weight: number; readonly deployments: Record<string, DeploymentStatus> };
  readonly shadow?: { readonly weight: number; readonly deployments: Record<string, DeploymentStatus> };
}
export interface DeploymentStatus {
  readonly name: string;
  readonly status: DeploymentStatusName;
  readonly message: string;
  readonly version: string;
  readonly targetReplicas: number;
  readonly replicas: readonly { readonly replicaId: string; readonly state: ReplicaStateName; readonly version: string; readonly nodeId?: string; readonly actorName: string; readonly reason?: string }[];
  readonly metrics: DeploymentMetrics;
}
export interface DeploymentMetrics {
  readonly requests: number;
  readonly errors: number;
  readonly ongoing: number;
  readonly queued: number;
  readonly replicas: number;
  readonly replaced: number;
  readonly latencyMs: { readonly p50: number; readonly p90: number; readonly p99: number; readonly buckets: readonly { readonly le: number; readonly count: number }[] };
}

function quantile(buckets: readonly number[], q: number): number {
  const total = buckets.reduce((a, b) => a + b, 0);
  if (total === 0) return 0;
  let acc = 0;
  for (let i = 0; i < buckets.length; i++) {
    acc += buckets[i];
    if (acc >= q * total) return i < LATENCY_BUCKETS_MS.length ? LATENCY_BUCKETS_MS[i] : Infinity;
  }
  return Infinity;
}

function errMsg(e: unknown): string {
  return (e as Error)?.message ?? String(e);
}

export class ControllerCore {
  private readonly apps = new Map<string, AppState>();
  private readonly tables = new Map<string, { version: number; value: unknown }>();
  // Table versions grow across controller restarts (callers ignore a version not above theirs).
  private version = Date.now() * 1000;
  /** Version of tables this controller never set (also above any earlier controller's). */
  private readonly bootVersion = this.version;
  private readonly waiters = new Set<{ versions: Record<string, number>; wake: () => void }>();
  private readonly loads = new Map<string, Map<string, { ongoing: number; queued: number; at: number }>>();
  private readonly classes = new Map<string, ReturnType<typeof actor>>();
  private proxy: { handle: Remote; http: HttpConfig; nodeId?: string; state: string; error?: string } | undefined;
  private proxyStarting: Promise<void> | undefined;
  private readonly log: Logger;
  private readonly loop: NodeJS.Timeout;
  private readonly health: NodeJS.Timeout;
  private headNodeId: string | undefined;

  constructor() {
    this.log = pino({ name: 'rayts-serve-controller', level: process.env.RAYTS_SERVE_LOG_LEVEL ?? 'info' });
    this.loop = setInterval(() => this.reconcile(), PERIOD_MS);
    this.health = setInterval(() => void this.checkHealth(), HEALTH_MS);
  }

  // ---- routing tables -------------------------------------------------------------------------

  private publish(key: string, value: unknown): void {
    this.tables.set(key, { version: ++this.version, value });
    for (const w of this.waiters) if (key in w.versions) w.wake();
  }

  private current(key: string): { version: number; value: unknown } {
    const t = this.tables.get(key);
    if (t) return t;
    if (key.startsWith('dep:')) return { version: this.bootVersion, value: { exists: false, replicas: [], maxOngoingRequests: 1, maxQueuedRequests: -1 } satisfies DeploymentTable };
    if (key.startsWith('app:')) return { version: this.bootVersion, value: { exists: false, routePrefix: null, tracks: [] } satisfies AppTable };
    return { version: this.bootVersion, value: { routes: [] } satisfies ProxyTable };
  }

  routes(keys: string[]): Record<string, { version: number; value: unknown }> {
    return Object.fromEntries(keys.map((k) => [k, this.current(k)]));
  }

  /** Long poll: the tables among `versions` that changed, or {} after timeoutMs. */
  listen(versions: Record<string, number>, timeoutMs: number): Promise<Record<string, { version: number; value: unknown }>> | Record<string, { version: number; value: unknown }> {
    const changed = (): Record<string, { version: number; value: unknown }> => {
      const out: Record<string, { version: number; value: unknown }> = {};
      for (const [k, v] of Object.entries(versions)) {
        const c = this.current(k);
        if (c.version !== v) out[k] = c;
      }
      return out;
    };
    const now = changed();
    if (Object.keys(now).length > 0) return now;
    return new Promise((resolve) => {
      const w = {
        versions,
        wake: () => {
          const c = changed();
          if (Object.keys(c).length === 0) return;
          clearTimeout(timer);
          this.waiters.delete(w);
          resolve(c);
        },
      };
      const timer = setTimeout(() => {
        this.waiters.delete(w);
        resolve({});
      }, Math.min(Math.max(timeoutMs, 100), 30_000));
      this.waiters.add(w);
    });
  }

  reportLoad(clientId: string, loads: Record<string, [number, number]>): void {
    const at = Date.now();
    for (const [key, [ongoing, queued]] of Object.entries(loads)) {
      let m = this.loads.get(key);
      if (!m) this.loads.set(key, (m = new Map()));
      m.set(clientId, { ongoing, queued, at });
    }
  }

  reportDead(key: string, replicaId: string): void {
    const dep = this.findDep(key);
    const r = dep?.replicas.find((x) => x.id === replicaId);
    if (!dep || !r || r.state === 'STOPPING') return;
    void this.confirmDead(dep, r);
  }

  private async confirmDead(dep: DepState, r: ReplicaState): Promise<void> {
    try {
      if (!r.handle) return;
      await get(r.handle.__serve_stats.remote() as never, { timeoutMs: 3000 });
    } catch (e) {
      this.replicaGone(dep, r, errMsg(e));
    }
  }

  private findDep(key: string): DepState | undefined {
    for (const a of this.apps.values()) for (const t of a.tracks) for (const d of t.deployments.values()) if (d.key === key) return d;
    return undefined;
  }

  private load(key: string): { ongoing: number; queued: number } {
    const m = this.loads.get(key);
    let ongoing = 0;
    let queued = 0;
    const now = Date.now();
    if (m) {
      for (const [id, l] of m) {
        if (now - l.at > LOAD_FRESH_MS) m.delete(id);
        else {
          ongoing += l.ongoing;
          queued += l.queued;
        }
      }
    }
    return { ongoing, queued };
  }

  private publishDep(d: DepState): void {
    this.schedulePersist(d.app);
    const running = d.removing ? [] : d.replicas.filter((r) => r.state === 'RUNNING' && r.handle);
    this.publish(d.key, {
      exists: !(d.removing && d.replicas.length === 0),
      replicas: running.map((r) => ({ replicaId: r.id, handle: r.handle })),
      maxOngoingRequests: d.spec.config.maxOngoingRequests,
      maxQueuedRequests: d.spec.config.maxQueuedRequests,
    } satisfies DeploymentTable);
  }

  private publishApp(a: AppState): void {
    this.schedulePersist(a.name);
    const tracks = a.deleting ? [] : a.tracks.filter((t) => !t.removing).map((t) => ({ track: t.id, role: t.role, weight: t.weight, ingress: t.ingress }));
    this.publish(appKey(a.name), { exists: !a.deleting, routePrefix: a.routePrefix, tracks } satisfies AppTable);
    this.publish(PROXY_KEY, {
      routes: [...this.apps.values()].filter((x) => !x.deleting && x.routePrefix !== null).map((x) => ({ app: x.name, routePrefix: x.routePrefix! })),
    } satisfies ProxyTable);
  }

  // ---- persistence (cluster KV) --------------------------------------------------------------

  private readonly dirty = new Set<string>();
  private persistTimer: NodeJS.Timeout | undefined;

  private schedulePersist(app: string): void {
    this.dirty.add(app);
    this.persistTimer ??= setTimeout(() => {
      this.persistTimer = undefined;
      const names = [...this.dirty];
      this.dirty.clear();
      for (const n of names) void this.persist(n);
    }, 50);
  }

  private async persist(name: string): Promise<void> {
    const a = this.apps.get(name);
    try {
      if (!a) {
        await kv.del(KV_NS, `app/${name}`);
        return;
      }
      const rec: PersistedApp = {
        name: a.name,
        routePrefix: a.routePrefix,
        deleting: a.deleting,
        deployedAt: a.deployedAt,
        tracks: a.tracks.map((t) => ({
          id: t.id,
          role: t.role,
          weight: t.weight,
          ingress: t.ingress,
          removing: t.removing,
          deployments: [...t.deployments.values()].map((d) => ({
            spec: d.spec,
            target: d.target,
            removing: d.removing,
            replicas: d.replicas.filter((r) => r.state === 'RUNNING').map((r) => ({ id: r.id, version: r.version, actorName: r.actorName, nodeId: r.nodeId })),
          })),
        })),
      };
      await kv.put(KV_NS, `app/${name}`, toJson(rec));
    } catch (e) {
      this.log.warn({ app: name, err: errMsg(e) }, 'could not persist the application to the cluster KV');
    }
  }

  /** Reads desired state back from the KV (a restarted controller), adopting replicas that still run. */
  async restore(): Promise<void> {
    let keys: string[] = [];
    try {
      keys = await kv.list(KV_NS, 'app/');
    } catch (e) {
      this.log.warn({ err: errMsg(e) }, 'could not read Serve state from the cluster KV');
      return;
    }
    for (const key of keys) {
      const text = await kv.get(KV_NS, key);
      if (typeof text !== 'string') continue;
      const rec = fromJson(text) as PersistedApp;
      const a: AppState = { name: rec.name, routePrefix: rec.routePrefix, tracks: [], deleting: rec.deleting, deployedAt: rec.deployedAt };
      for (const pt of rec.tracks) {
        const t: TrackState = { id: pt.id, role: pt.role, weight: pt.weight, ingress: pt.ingress, deployments: new Map(), removing: pt.removing };
        for (const pd of pt.deployments) {
          const d = this.newDep(a.name, t.id, pd.spec);
          d.target = pd.target;
          d.removing = pd.removing;
          for (const pr of pd.replicas) {
            try {
              const h = (await getActor(pr.actorName, { namespace: SERVE_NAMESPACE })) as unknown as Remote;
              await get(h.__serve_stats.remote() as never, { timeoutMs: 5000 });
              d.replicas.push({ id: pr.id, version: pr.version, actorName: pr.actorName, state: 'RUNNING', handle: h, nodeId: pr.nodeId, startedAt: Date.now(), healthFailures: 0 });
            } catch {
              /* gone: the reconciler starts a replacement */
            }
          }
          t.deployments.set(pd.spec.name, d);
          this.publishDep(d);
        }
        a.tracks.push(t);
      }
      this.apps.set(a.name, a);
      this.publishApp(a);
      this.log.info({ app: a.name }, 'restored from the cluster KV');
    }
    try {
      const p = await kv.get(KV_NS, 'proxy');
      if (typeof p === 'string') await this.ensureProxy(JSON.parse(p) as HttpConfig);
    } catch (e) {
      this.log.warn({ err: errMsg(e) }, 'could not restore the HTTP proxy');
    }
  }

  // ---- deploy, promote, rollback, delete ------------------------------------------------------

  async deploy(req: DeployRequest): Promise<{ track: string }> {
    const spec = req.app;
    if (spec.routePrefix !== null) {
      for (const other of this.apps.values()) {
        if (other.name !== spec.name && !other.deleting && other.routePrefix === spec.routePrefix) {
          throw new ServeError(`Route prefix ${spec.routePrefix} is already used by application ${other.name}.`, { hint: 'Give each application its own routePrefix.', ids: { app: spec.name } });
        }
      }
      if (req.http) await this.ensureProxy(req.http);
    }
    let a = this.apps.get(spec.name);
    if (a?.deleting) throw new ServeError(`Application ${spec.name} is being deleted; try again when serve.status() no longer lists it.`, { ids: { app: spec.name } });
    const role: TrackRole = req.canary ? 'canary' : req.shadow ? 'shadow' : 'live';
    if (!a) {
      if (role !== 'live') throw new ServeError(`Application ${spec.name} is not running, so it cannot get a ${role}.`, { hint: 'Deploy it first without canary/shadow.', ids: { app: spec.name } });
      a = { name: spec.name, routePrefix: spec.routePrefix, tracks: [], deleting: false, deployedAt: Date.now() };
      this.apps.set(spec.name, a);
    }
    a.routePrefix = spec.routePrefix;
    a.deployedAt = Date.now();
    let track: TrackState;
    if (role === 'live' && a.tracks.some((t) => t.role === 'live' && !t.removing)) {
      track = a.tracks.find((t) => t.role === 'live' && !t.removing)!;
      track.ingress = spec.ingress;
      const names = new Set(spec.deployments.map((d) => d.name));
      for (const d of track.deployments.values()) if (!names.has(d.spec.name)) d.removing = true;
      for (const ds of spec.deployments) {
        const d = track.deployments.get(ds.name);
        if (d && !d.removing) {
          if (d.spec.version !== ds.version) {
            d.failures = 0;
            d.failedVersion = undefined;
            d.lastError = undefined;
          }
          d.spec = ds;
          d.target = ds.config.autoscalingConfig ? Math.min(Math.max(d.target, ds.config.autoscalingConfig.minReplicas), ds.config.autoscalingConfig.maxReplicas) : ds.config.numReplicas;
          this.publishDep(d);
        } else track.deployments.set(ds.name, this.newDep(a.name, track.id, ds));
      }
    } else {
      for (const t of a.tracks) if (t.role === role && !t.removing) this.removeTrack(t);
      const weight = req.canary?.weight ?? req.shadow?.weight ?? 1;
      track = { id: `${role}-${randomUUID().slice(0, 6)}`, role, weight, ingress: spec.ingress, deployments: new Map(), removing: false };
      for (const ds of spec.deployments) track.deployments.set(ds.name, this.newDep(a.name, track.id, ds));
      a.tracks.push(track);
    }
    this.reconcile();
    this.publishApp(a);
    return { track: track.id };
  }

  private newDep(app: string, track: string, spec: DeploymentSpec): DepState {
    const d: DepState = {
      key: depKey(app, track, spec.name),
      app,
      track,
      spec,
      target: spec.config.numReplicas,
      scale: { streak: 0 },
      replicas: [],
      failures: 0,
      removing: false,
      retired: { requests: 0, errors: 0, buckets: new Array(LATENCY_BUCKETS_MS.length + 1).fill(0) },
      replaced: 0,
    };
    this.publishDep(d);
    return d;
  }

  private removeTrack(t: TrackState): void {
    t.removing = true;
    for (const d of t.deployments.values()) d.removing = true;
  }

  /** Resolves when the app (or the given track of it) is running or failed; rejects on timeout. */
  async waitApp(name: string, track: string | undefined, timeoutMs: number): Promise<ApplicationStatus> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const st = this.appStatus(name, track);
      if (!st) throw new ServeError(`No application named ${name}.`, { ids: { app: name } }, 'SERVE_NOT_FOUND');
      if (st.status === 'RUNNING' || st.status === 'DEPLOY_FAILED') return st;
      if (Date.now() > deadline) throw new ServeError(`Application ${name} is still ${st.status} after ${timeoutMs} ms: ${st.message}`, { ids: { app: name } });
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  promote(name: string): void {
    const a = this.requireApp(name);
    const next = a.tracks.find((t) => t.role === 'canary' && !t.removing) ?? a.tracks.find((t) => t.role === 'shadow' && !t.removing);
    if (!next) throw new ServeError(`Application ${name} has no canary or shadow to promote.`, { ids: { app: name } });
    for (const t of a.tracks) if (t !== next && !t.removing) this.removeTrack(t);
    next.role = 'live';
    next.weight = 1;
    this.publishApp(a);
  }

  rollback(name: string): void {
    const a = this.requireApp(name);
    const extra = a.tracks.filter((t) => t.role !== 'live' && !t.removing);
    if (extra.length === 0) throw new ServeError(`Application ${name} has no canary or shadow to roll back.`, { ids: { app: name } });
    for (const t of extra) this.removeTrack(t);
    this.publishApp(a);
  }

  private requireApp(name: string): AppState {
    const a = this.apps.get(name);
    if (!a || a.deleting) throw new ServeError(`No application named ${name}.`, { hint: 'serve.status() lists the applications.', ids: { app: name } }, 'SERVE_NOT_FOUND');
    return a;
  }

  async deleteApp(name: string, timeoutMs = 60_000): Promise<boolean> {
    const a = this.apps.get(name);
    if (!a) return false;
    a.deleting = true;
    for (const t of a.tracks) this.removeTrack(t);
    this.publishApp(a);
    this.reconcile();
    const deadline = Date.now() + timeoutMs;
    while (this.apps.has(name) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    await this.persist(name);
    return true;
  }

  async shutdown(): Promise<void> {
    await Promise.all([...this.apps.keys()].map((n) => this.deleteApp(n)));
    if (this.proxy) {
      try {
        await get(this.proxy.handle.stop.remote() as never, { timeoutMs: 5000 });
      } catch {
        /* already gone */
      }
      await kill(this.proxy.handle as never).catch(() => undefined);
      this.proxy = undefined;
    }
    await kv.del(KV_NS, 'proxy').catch(() => undefined);
    for (const k of await kv.list(KV_NS, 'app/').catch(() => [] as string[])) await kv.del(KV_NS, k).catch(() => undefined);
    clearInterval(this.loop);
    clearInterval(this.health);
  }

  // ---- proxy ----------------------------------------------------------------------------------

  private async headNode(): Promise<string | undefined> {
    if (!this.headNodeId) this.headNodeId = (await nodes()).find((n) => n.isHead && n.alive)?.nodeId;
    return this.headNodeId;
  }

  private async ensureProxy(http: HttpConfig): Promise<void> {
    if (this.proxyStarting) await this.proxyStarting.catch(() => undefined);
    if (this.proxy && this.proxy.state === 'RUNNING') {
      if ((http.port !== 0 && this.proxy.http.port !== http.port) || this.proxy.http.host !== http.host) {
        throw new ServeError(`Serve's HTTP proxy already listens on ${this.proxy.http.host}:${this.proxy.http.port}; it cannot also listen on ${http.host}:${http.port}.`, {
          hint: 'Use the same port and host for every application, or serve.shutdown() first.',
        });
      }
      return;
    }
    this.proxyStarting = this.startProxy(http);
    await this.proxyStarting;
  }

  private async startProxy(http: HttpConfig): Promise<void> {
    const nodeId = await this.headNode();
    const Proxy = actor(
      classFromSource(PROXY_SOURCE),
      { name: PROXY_NAME, namespace: SERVE_NAMESPACE, lifetime: 'detached', maxConcurrency: 16, getIfExists: true, ...(nodeId ? { scheduling: { nodeId, soft: true } } : {}) },
    );
    const handle = Proxy.remote() as unknown as Remote;
    try {
      const info = (await get(handle.start.remote({ ...http }) as never, { timeoutMs: 60_000 })) as { port: number };
      this.proxy = { handle, http: { host: http.host, port: info.port }, nodeId, state: 'RUNNING' };
      await kv.put(KV_NS, 'proxy', JSON.stringify(this.proxy.http)).catch(() => undefined);
    } catch (e) {
      await kill(handle as never).catch(() => undefined);
      throw new ServeError(`Serve's HTTP proxy could not listen on ${http.host}:${http.port}: ${errMsg(e)}`, { hint: 'Pick a free port (serve.run(app, { port })).' });
    }
  }

  // ---- reconciliation -------------------------------------------------------------------------

  private replicaClass(spec: DeploymentSpec): ReturnType<typeof actor> {
    const key = `${spec.className}\0${spec.code.id}`;
    let cls = this.classes.get(key);
    if (!cls) {
      cls = actor(classFromSource(replicaClassSource(spec.className, spec.code)));
      this.classes.set(key, cls);
    }
    return cls;
  }

  private startReplica(d: DepState): void {
    const id = `${d.spec.name}#${randomUUID().slice(0, 6)}`;
    const actorName = `SERVE_REPLICA::${d.app}::${d.track}::${id}`;
    const version = d.spec.version;
    const r: ReplicaState = { id, version, actorName, state: 'STARTING', handle: undefined, startedAt: Date.now(), healthFailures: 0 };
    d.replicas.push(r);
    const c = d.spec.config;
    const fail = (e: unknown): void => {
      if (version === d.spec.version) {
        d.failures++;
        d.lastError = errMsg(e);
      }
      this.log.warn({ app: d.app, deployment: d.spec.name, replica: id, err: errMsg(e) }, 'replica failed to start');
      d.replicas = d.replicas.filter((x) => x !== r);
      if (r.handle) void kill(r.handle as never).catch(() => undefined);
    };
    try {
      const handle = this.replicaClass(d.spec)
        .options({ ...(c.rayActorOptions as object), name: actorName, namespace: SERVE_NAMESPACE, lifetime: 'detached', maxConcurrency: c.maxOngoingRequests * 4 + 8 })
        .remote() as unknown as Remote & { actorId: string };
      r.handle = handle;
      r.actorId = handle.actorId;
      const config: ReplicaConfig = { app: d.app, track: d.track, deployment: d.spec.name, replicaId: id, maxOngoingRequests: c.maxOngoingRequests };
      (get(handle.__serve_init.remote(config, ...d.spec.args) as never) as Promise<{ nodeId?: string }>).then(
        (info) => {
          if (r.state !== 'STARTING') return;
          r.nodeId = info?.nodeId;
          r.state = 'RUNNING';
          r.reason = undefined;
          if (version === d.spec.version) d.failures = 0;
          this.publishDep(d);
        },
        (e: unknown) => {
          if (r.state === 'STARTING') fail(e);
        },
      );
    } catch (e) {
      fail(e);
    }
  }

  private stopReplica(d: DepState, r: ReplicaState): void {
    if (r.state === 'DRAINING' || r.state === 'STOPPING') return;
    const wasRunning = r.state === 'RUNNING';
    r.state = 'DRAINING';
    r.drainSince = Date.now();
    if (wasRunning) this.publishDep(d);
  }

  private replicaGone(d: DepState, r: ReplicaState, why: string): void {
    if (!d.replicas.includes(r)) return;
    this.log.warn({ app: d.app, deployment: d.spec.name, replica: r.id, why }, 'replica died; replacing it');
    d.replicas = d.replicas.filter((x) => x !== r);
    this.retire(d, r);
    if (!d.removing && r.state !== 'DRAINING') d.replaced++;
    if (r.handle) void kill(r.handle as never).catch(() => undefined);
    this.publishDep(d);
  }

  private retire(d: DepState, r: ReplicaState): void {
    if (!r.stats) return;
    d.retired.requests += r.stats.requests;
    d.retired.errors += r.stats.errors;
    r.stats.latencyBuckets.forEach((n, i) => (d.retired.buckets[i] += n));
    r.stats = undefined;
  }

  private finishDrain(d: DepState, r: ReplicaState): void {
    r.state = 'STOPPING';
    const h = r.handle;
    void (async () => {
      try {
        if (h) {
          await get(h.__serve_drain.remote() as never, { timeoutMs: 30_000 });
          r.stats = (await get(h.__serve_stats.remote() as never, { timeoutMs: 5000 })) as ReplicaStats;
        }
      } catch {
        /* gone already */
      }
      this.retire(d, r);
      d.replicas = d.replicas.filter((x) => x !== r);
      if (h) await kill(h as never).catch(() => undefined);
      this.publishDep(d);
    })();
  }

  private reconcile(): void {
    try {
      for (const a of [...this.apps.values()]) {
        for (const t of [...a.tracks]) {
          for (const d of [...t.deployments.values()]) {
            this.reconcileDep(d);
            if (d.removing && d.replicas.length === 0) {
              t.deployments.delete(d.spec.name);
              this.publishDep(d);
            }
          }
          if (t.removing && t.deployments.size === 0) a.tracks = a.tracks.filter((x) => x !== t);
        }
        if (a.deleting && a.tracks.length === 0) {
          this.apps.delete(a.name);
          this.publishApp(a);
        }
      }
    } catch (e) {
      this.log.error({ err: errMsg(e) }, 'reconcile failed');
    }
  }

  /** Queue length, replicas by state and target of a deployment on the controller node's /metrics. */
  private publishMetrics(d: DepState, target: number): void {
    if (d.track !== this.apps.get(d.app)?.tracks.find((t) => t.role === 'live')?.id) return;
    const byState: Record<string, number> = Object.fromEntries(REPLICA_STATES.map((s) => [s, 0]));
    for (const r of d.replicas) byState[r.state] = (byState[r.state] ?? 0) + 1;
    recordDeployment(d.app, d.spec.name, this.load(d.key).queued, byState, target);
  }

  private reconcileDep(d: DepState): void {
    const now = Date.now();
    const as = d.spec.config.autoscalingConfig;
    if (as && !d.removing) {
      const l = this.load(d.key);
      const running = d.replicas.filter((r) => r.version === d.spec.version && (r.state === 'RUNNING' || r.state === 'STARTING')).length;
      const step = autoscaleStep({ totalOngoing: l.ongoing + l.queued, currentReplicas: d.target }, as, d.scale, PERIOD_MS / 1000);
      d.scale = step.state;
      if (step.replicas !== d.target) {
        this.log.info({ app: d.app, deployment: d.spec.name, from: d.target, to: step.replicas, load: l.ongoing + l.queued, running }, 'autoscaling');
        d.target = step.replicas;
      }
    }
    const target = d.removing ? 0 : d.target;
    const v = d.spec.version;
    this.publishMetrics(d, target);
    const cur = d.replicas.filter((r) => r.version === v && (r.state === 'STARTING' || r.state === 'RUNNING'));
    const runningNew = cur.filter((r) => r.state === 'RUNNING');
    const startingNew = cur.filter((r) => r.state === 'STARTING');
    const old = d.replicas.filter((r) => r.version !== v && (r.state === 'STARTING' || r.state === 'RUNNING'));
    if (d.failures >= MAX_CTOR_FAILURES) d.failedVersion = v;
    const failed = d.failedVersion === v;
    // Start what is missing (a rollout surges one replica at a time).
    if (!failed && !d.removing) {
      let need = target - cur.length;
      if (old.length > 0) need = Math.min(need, 1 - startingNew.length);
      for (let i = 0; i < need; i++) this.startReplica(d);
    }
    // Stop surplus replicas of this version (starting ones first).
    if (cur.length > target) {
      const extra = [...startingNew, ...runningNew.reverse()].slice(0, cur.length - target);
      for (const r of extra) this.stopReplica(d, r);
    }
    // Old versions: starting ones stop now; running ones once enough new ones run.
    for (const r of old.filter((x) => x.state === 'STARTING')) this.stopReplica(d, r);
    const oldRunning = old.filter((x) => x.state === 'RUNNING');
    let surplus = runningNew.length + oldRunning.length - target;
    if (failed || d.removing) surplus = d.removing ? oldRunning.length : 0;
    for (const r of oldRunning) {
      if (surplus <= 0) break;
      this.stopReplica(d, r);
      surplus--;
    }
    for (const r of d.replicas) {
      if (r.state === 'DRAINING' && now - (r.drainSince ?? now) >= DRAIN_GRACE_MS) this.finishDrain(d, r);
      if (r.state === 'STARTING' && now - r.startedAt > 1500 && !r.reason) void this.placementReason(d, r);
    }
  }

  private async placementReason(d: DepState, r: ReplicaState): Promise<void> {
    r.reason = 'waiting for the replica actor to start';
    try {
      const want = { ...((d.spec.config.rayActorOptions.resources as Record<string, number>) ?? {}) };
      const o = d.spec.config.rayActorOptions as { numCpus?: number; numGpus?: number };
      if (o.numCpus) want.CPU = o.numCpus;
      if (o.numGpus) want.GPU = o.numGpus;
      const ns = await nodes();
      const fits = ns.some((n) => n.alive && Object.entries(want).every(([k, v]) => (n.available[k] ?? 0) >= v));
      if (!fits && r.state === 'STARTING') {
        const avail = await availableResources();
        r.reason = `waiting for placement: needs ${JSON.stringify(want)}, no node has it free (cluster available: ${JSON.stringify(avail)})`;
      }
    } catch {
      /* keep the generic reason */
    }
  }

  private async checkHealth(): Promise<void> {
    const jobs: Promise<void>[] = [];
    for (const a of this.apps.values()) {
      for (const t of a.tracks) {
        for (const d of t.deployments.values()) {
          for (const r of d.replicas) {
            if ((r.state !== 'RUNNING' && r.state !== 'DRAINING') || !r.handle) continue;
            const h = r.handle;
            jobs.push(
              (get(h.__serve_stats.remote() as never, { timeoutMs: 5000 }) as Promise<ReplicaStats>).then(
                (s) => {
                  r.stats = s;
                  r.healthFailures = 0;
                },
                (e: unknown) => {
                  const code = isRayError(e) ? (e as { code: string }).code : '';
                  if (code === 'GET_TIMEOUT' && ++r.healthFailures < 3) return;
                  this.replicaGone(d, r, errMsg(e));
                },
              ),
            );
          }
        }
      }
    }
    await Promise.all(jobs);
  }

  // ---- status ---------------------------------------------------------------------------------

  private depStatus(d: DepState): DeploymentStatus {
    const v = d.spec.version;
    const live = d.replicas.filter((r) => r.state === 'RUNNING' || r.state === 'DRAINING' || r.state === 'STOPPING');
    const buckets = [...d.retired.buckets];
    let requests = d.retired.requests;
    let errors = d.retired.errors;
    for (const r of live) {
      if (!r.stats) continue;
      requests += r.stats.requests;
      errors += r.stats.errors;
      r.stats.latencyBuckets.forEach((n, i) => (buckets[i] += n));
    }
    const l = this.load(d.key);
    const runningNew = d.replicas.filter((r) => r.version === v && r.state === 'RUNNING').length;
    const others = d.replicas.some((r) => r.version !== v);
    let status: DeploymentStatusName = 'UPDATING';
    let message = '';
    if (d.removing) status = 'DELETING';
    else if (d.failedVersion === v) {
      status = 'DEPLOY_FAILED';
      message = `The replica constructor failed ${d.failures} times: ${d.lastError}`;
    } else if (runningNew >= d.target && !others) status = 'HEALTHY';
    else {
      const waiting = d.replicas.find((r) => r.state === 'STARTING' && r.reason);
      message = waiting?.reason ?? (d.lastError ? `last start failed: ${d.lastError}` : `${runningNew}/${d.target} replicas running`);
    }
    return {
      name: d.spec.name,
      status,
      message,
      version: v,
      targetReplicas: d.target,
      replicas: d.replicas.map((r) => ({ replicaId: r.id, state: r.state, version: r.version, nodeId: r.nodeId, actorName: r.actorName, reason: r.reason })),
      metrics: {
        requests,
        errors,
        ongoing: l.ongoing,
        queued: l.queued,
        replicas: d.replicas.filter((r) => r.state === 'RUNNING').length,
        replaced: d.replaced,
        latencyMs: {
          p50: quantile(buckets, 0.5),
          p90: quantile(buckets, 0.9),
          p99: quantile(buckets, 0.99),
          buckets: buckets.map((count, i) => ({ le: i < LATENCY_BUCKETS_MS.length ? LATENCY_BUCKETS_MS[i] : Infinity, count })),
        },
      },
    };
  }

  private trackStatus(t: TrackState): { status: AppStatusName; message: string; deployments: Record<string, DeploymentStatus> } {
    const deployments = Object.fromEntries([...t.deployments.values()].map((d) => [d.spec.name, this.depStatus(d)]));
    const list = Object.values(deployments);
    const failed = list.find((x) => x.status === 'DEPLOY_FAILED');
    if (failed) return { status: 'DEPLOY_FAILED', message: `Deployment ${failed.name}: ${failed.message}`, deployments };
    const busy = list.find((x) => x.status !== 'HEALTHY');
    if (busy) return { status: 'DEPLOYING', message: `Deployment ${busy.name}: ${busy.message}`, deployments };
    return { status: 'RUNNING', message: '', deployments };
  }

  private appStatus(name: string, track?: string): ApplicationStatus | undefined {
    const a = this.apps.get(name);
    if (!a) return undefined;
    const tracks = a.tracks.filter((t) => !t.removing);
    const live = tracks.find((t) => t.role === 'live');
    const watched = track ? tracks.find((t) => t.id === track) : live;
    const ws = watched ? this.trackStatus(watched) : { status: 'DEPLOYING' as AppStatusName, message: '', deployments: {} };
    const extra = (role: TrackRole) => {
      const t = tracks.find((x) => x.role === role);
      return t ? { weight: t.weight, deployments: this.trackStatus(t).deployments } : undefined;
    };
    const ls = live ? (watched === live ? ws : this.trackStatus(live)) : ws;
    const sum = (ds: Record<string, DeploymentStatus>, ingress: string): DeploymentMetrics => ds[ingress]?.metrics ?? { requests: 0, errors: 0, ongoing: 0, queued: 0, replicas: 0, replaced: 0, latencyMs: { p50: 0, p90: 0, p99: 0, buckets: [] } };
    return {
      name,
      status: a.deleting ? 'DELETING' : ws.status,
      message: ws.message,
      routePrefix: a.routePrefix,
      ingress: live?.ingress ?? watched?.ingress ?? '',
      deployedAt: a.deployedAt,
      tracks: tracks.map((t) => ({ track: t.id, role: t.role, weight: t.weight, metrics: sum(this.trackStatus(t).deployments, t.ingress) })),
      deployments: ls.deployments,
      canary: extra('canary'),
      shadow: extra('shadow'),
    };
  }

  async status(): Promise<ServeStatus> {
    await this.checkHealth();
    const applications: Record<string, ApplicationStatus> = {};
    for (const n of this.apps.keys()) applications[n] = this.appStatus(n)!;
    return {
      proxy: this.proxy ? { host: this.proxy.http.host, port: this.proxy.http.port, nodeId: this.proxy.nodeId, state: this.proxy.state } : null,
      applications,
    };
  }

  ping(): string {
    return 'ok';
  }
}

let core: Promise<ControllerCore> | undefined;
/** Called by the controller actor on its thread: restores state from the KV first. @internal */
export function startController(): Promise<ControllerCore> {
  return (core ??= (async () => {
    const c = new ControllerCore();
    await c.restore();
    return c;
  })());
}

const KV_NS = 'serve';

interface PersistedApp {
  name: string;
  routePrefix: string | null;
  deleting: boolean;
  deployedAt: number;
  tracks: {
    id: string;
    role: TrackRole;
    weight: number;
    ingress: string;
    removing: boolean;
    deployments: { spec: DeploymentSpec; target: number; removing: boolean; replicas: { id: string; version: string; actorName: string; nodeId?: string }[] }[];
  }[];
}

/** JSON that keeps bytes (constructor arguments may hold them). */
function toJson(v: unknown): string {
  return JSON.stringify(v, (_k, x: unknown) => (x instanceof Uint8Array ? { __serveBytes: Buffer.from(x).toString('base64') } : x));
}
function fromJson(s: string): unknown {
  return JSON.parse(s, (_k, x: unknown) =>
    x && typeof x === 'object' && '__serveBytes' in x ? new Uint8Array(Buffer.from((x as { __serveBytes: string }).__serveBytes, 'base64')) : x,
  );
}

export type { ActorHandle };
