/**
 * Replicas. A replica is an actor whose class is generated for a user class: it carries the class as
 * the core's CallableRef (its source and the imports it uses), rebuilt on the replica's thread with
 * loadCallable (`batch` in scope), and its methods hand over to ReplicaRuntime, imported from this
 * package there.
 * The runtime builds the user instance (bound deployments in its arguments become DeploymentHandles),
 * counts ongoing requests, records metrics and turns HTTP requests into WHATWG Requests and back.
 */
import pino, { type Logger } from 'pino';
import { loadCallable, type CallableRef } from '@samsara/ray';
import { batch } from '../batching.js';
import { ServeHttpError } from '../http/errors.js';
import { deploymentHandle, DeploymentResponse } from '../handle.js';
import { setReplicaContext } from './replica-context.js';
import { inRequest, scoped } from './request-scope.js';
import { ReplicaMeter } from './prom.js';
import { DirectServer } from './direct/direct-server.js';
import type { DirectEndpoint } from './direct/direct-wire.js';
import { HANDLE_MARKER, LATENCY_BUCKETS_MS, STREAM_MARKER, SELF_PACKAGE, TAKE_METHOD, type CallMeta, type HttpRequestData, type HttpResponseData, type ReplicaStats } from './spec.js';

/** What the controller tells a replica at start. */
export interface ReplicaConfig {
  readonly app: string;
  readonly track: string;
  readonly deployment: string;
  readonly replicaId: string;
  readonly maxOngoingRequests: number;
  readonly logLevel?: string;
}

/** The source of the replica actor class for a user class (self-contained: the class travels as data). */
export function replicaClassSource(className: string, code: CallableRef): string {
  const name = /^[A-Za-z_$][\w$]*$/.test(className) ? className : 'ServeReplica';
  return `class ${name} {
  async __serve_init(config, ...args) {
    this.__serveModule = await import(${JSON.stringify(SELF_PACKAGE)});
    this.__serveRuntime = await this.__serveModule.startReplica(${JSON.stringify(code)}, config, args);
    return Object.assign(this.__serveRuntime.info(), { nodeId: runtimeContext().nodeId });
  }
  __serve_call(method, meta, ...args) { return this.__serveRuntime.call(method, meta, args); }
  __serve_http(req, meta) { return this.__serveRuntime.http(req, meta); }
  async *__serve_stream(method, meta, ...args) { yield* this.__serveRuntime.stream(method, meta, args); }
  async *__serve_http_stream(req, meta) { yield* this.__serveRuntime.httpStream(req, meta); }
  __serve_stats() { return this.__serveRuntime ? this.__serveRuntime.stats() : null; }
  __serve_drain() { return this.__serveRuntime ? this.__serveRuntime.drain() : true; }
}`;
}

function replaceMarkers(v: unknown, app: string, track: string, depth = 0): unknown {
  if (depth > 8 || v === null || typeof v !== 'object' || ArrayBuffer.isView(v)) return v;
  if (HANDLE_MARKER in (v as object)) return deploymentHandle(app, track, (v as Record<string, { deployment: string }>)[HANDLE_MARKER].deployment);
  if (Array.isArray(v)) return v.map((x) => replaceMarkers(x, app, track, depth + 1));
  if (Object.getPrototypeOf(v) === Object.prototype) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, replaceMarkers(x, app, track, depth + 1)]));
  return v;
}

/** A WHATWG Request whose json() answers 400 (not 500) on a body that is not JSON. */
function serveRequest(url: string, init: RequestInit): Request {
  const req = new Request(url, init);
  Object.defineProperty(req, 'json', {
    value: async (): Promise<unknown> => {
      const text = await req.text();
      try {
        return JSON.parse(text);
      } catch (e) {
        throw new ServeHttpError(400, `Request body is not valid JSON: ${(e as Error).message}`);
      }
    },
  });
  return req;
}

/** True for a native generator or async generator function (its calls stream). */
export function isGeneratorFunction(fn: unknown): boolean {
  if (typeof fn !== 'function') return false;
  const n = (fn as { constructor?: { name?: string } }).constructor?.name;
  return n === 'GeneratorFunction' || n === 'AsyncGeneratorFunction';
}

const readsArgs = new WeakMap<object, boolean>();
/**
 * False only for a function written with an empty parameter list that never mentions `arguments`
 * (e.g. `fetch() { return 'ok'; }`): it cannot read what it is called with. Native and bound
 * functions (whose source is not visible) count as reading it.
 */
export function takesRequest(fn: object): boolean {
  let v = readsArgs.get(fn);
  if (v === undefined) {
    const src = Function.prototype.toString.call(fn);
    v = (fn as { length: number }).length > 0 || src.includes('[native code]') || /\barguments\b/.test(src) || !/^[^(=]*\(\s*\)/.test(src);
    readsArgs.set(fn, v);
  }
  return v;
}

const TEXT: [string, string] = ['content-type', 'text/plain; charset=utf-8'];
const JSON_TYPE: [string, string] = ['content-type', 'application/json'];

const TEXT_HEADERS: readonly [string, string][] = [TEXT];
const JSON_HEADERS: readonly [string, string][] = [JSON_TYPE];
/**
 * The response for a value fetch returned: undefined → 204, a string → text, anything else → JSON.
 * It carries no x-request-id: the proxy, which writes every reply, adds it (one string less each way).
 */
function httpValue(out: unknown): HttpResponseData {
  if (out === undefined) return { status: 204, headers: [], body: '' };
  if (typeof out === 'string') return { status: 200, headers: TEXT_HEADERS, body: out };
  return { status: 200, headers: JSON_HEADERS, body: JSON.stringify(out) };
}

/** What `await` would wait for: an object or function with a `then` method. */
function isThenable(v: unknown): boolean {
  return v !== null && (typeof v === 'object' || typeof v === 'function') && typeof (v as { then?: unknown }).then === 'function';
}

/**
 * What to call then(ok, fail) on for a thenable `v`, so that the reaction is the only promise made: a
 * native promise or a DeploymentResponse (whose then() makes one native promise) as they are; any
 * other thenable adopted as `await` would.
 */
function settle(v: unknown): Promise<unknown> {
  if (v instanceof Promise) return v;
  // DeploymentResponse.then(ok, fail) has Promise.then's contract and returns a native promise.
  if (v instanceof DeploymentResponse) return v as unknown as Promise<unknown>;
  return Promise.resolve(v);
}

/** The x-request-id header of a reply the replica writes itself (errors, a Response without one). */
function requestIdHeader(meta: CallMeta): [string, string] {
  return ['x-request-id', meta.requestId];
}

let rootLogger: Logger | undefined;

/** The user instance and its bookkeeping, on the replica's thread. */
export class ReplicaRuntime {
  private ongoing = 0;
  private requests = 0;
  private errors = 0;
  private readonly buckets = new Array<number>(LATENCY_BUCKETS_MS.length + 1).fill(0);
  private idle: (() => void)[] = [];
  private readonly log: Logger;
  private readonly inst: Record<string, unknown>;

  constructor(
    UserClass: new (...a: unknown[]) => unknown,
    readonly config: ReplicaConfig,
    args: unknown[],
  ) {
    rootLogger ??= pino({ name: 'rayts-serve', level: config.logLevel ?? process.env.RAYTS_SERVE_LOG_LEVEL ?? 'info' });
    this.log = rootLogger.child({ app: config.app, deployment: config.deployment, replica: config.replicaId });
    const real = args.map((a) => replaceMarkers(a, config.app, config.track));
    setReplicaContext({ deployment: config.deployment, maxOngoingRequests: config.maxOngoingRequests, logger: this.log });
    try {
      this.inst = new UserClass(...real) as Record<string, unknown>;
    } finally {
      setReplicaContext(undefined);
    }
  }

  /** The direct path's listener (see direct/direct-server.ts); none when RAYTS_SERVE_DIRECT=0. */
  private direct: { server: DirectServer; endpoint: DirectEndpoint } | undefined;

  /** Starts the direct path's listener; a failure leaves the replica on the core's actor calls only. */
  async listenDirect(): Promise<void> {
    if (process.env.RAYTS_SERVE_DIRECT === '0') return;
    try {
      this.direct = await DirectServer.start(this, this.config.replicaId);
    } catch (e) {
      this.log.warn({ err: (e as Error)?.message ?? String(e) }, 'direct path not available; callers use actor calls');
    }
  }

  info(): { replicaId: string; pid: number; endpoint?: DirectEndpoint } {
    return { replicaId: this.config.replicaId, pid: process.pid, endpoint: this.direct?.endpoint };
  }

  private meterCache: ReplicaMeter | undefined;
  private get meter(): ReplicaMeter {
    return (this.meterCache ??= new ReplicaMeter({ app: this.config.app, deployment: this.config.deployment, replica: this.config.replicaId }));
  }

  private begin(): number {
    this.ongoing++;
    this.meter.began(this.ongoing);
    return performance.now();
  }
  private end(t0: number, failed: boolean): void {
    this.ongoing--;
    this.requests++;
    if (failed) this.errors++;
    const ms = performance.now() - t0;
    let i = 0;
    while (i < LATENCY_BUCKETS_MS.length && ms > LATENCY_BUCKETS_MS[i]) i++;
    this.buckets[i]++;
    this.meter.ended(ms / 1000, failed, this.ongoing);
    if (this.ongoing === 0 && this.idle.length) for (const f of this.idle.splice(0)) f();
  }

  /**
   * Runs `method(...args)`. Synchronous when the method returns a plain value at once (no promise
   * made); a promise (or any thenable) is awaited.
   */
  call(method: string, meta: CallMeta, args: unknown[]): Promise<unknown> | unknown {
    if (method === TAKE_METHOD) {
      if (!this.direct) throw new TypeError(`Replica ${this.config.replicaId} holds no replies (request ${meta.requestId}).`);
      return this.direct.server.take(Number(args[0]));
    }
    const fn = this.inst[method];
    if (typeof fn !== 'function') {
      throw new TypeError(`Deployment ${this.config.deployment} has no method ${method} (request ${meta.requestId}).`);
    }
    // A generator method streams: the caller asks again through __serve_stream (a generator method
    // the core streams); this call only says so, without running anything.
    if (isGeneratorFunction(fn)) return { [STREAM_MARKER]: true };
    const t0 = this.begin();
    let v: unknown;
    try {
      v = inRequest(meta.requestId, () => (fn as (...a: unknown[]) => unknown).apply(this.inst, args));
    } catch (e) {
      this.log.warn({ requestId: meta.requestId, method, err: (e as Error)?.message }, 'request failed');
      this.end(t0, true);
      throw e;
    }
    if (isThenable(v)) return this.callLater(v, t0, meta, method);
    this.end(t0, false);
    return v;
  }

  /** The value of a method that returned a promise or thenable: one reaction, no async function. */
  private callLater(pending: unknown, t0: number, meta: CallMeta, method: string): Promise<unknown> {
    return settle(pending).then(
      (v) => {
        this.end(t0, false);
        return v;
      },
      (e: unknown) => {
        this.log.warn({ requestId: meta.requestId, method, err: (e as Error)?.message }, 'request failed');
        this.end(t0, true);
        throw e;
      },
    );
  }

  /** The fetch function last classified, whether it is a generator, whether it reads its Request. */
  private fetchSeen: unknown;
  private fetchStreams = false;
  private fetchTakesRequest = true;

  /**
   * Runs `fetch` for one HTTP request. Synchronous when `fetch` answers at once with a plain value
   * (no promise made: each costs the thread's async hooks); a promise or a Response is awaited.
   */
  http(r: HttpRequestData, meta: CallMeta): Promise<HttpResponseData> | HttpResponseData {
    const t0 = this.begin();
    let out: unknown;
    try {
      const fetchFn = this.inst.fetch;
      if (typeof fetchFn !== 'function') {
        this.end(t0, true);
        return { status: 500, headers: [['content-type', 'application/json'], requestIdHeader(meta)], body: JSON.stringify({ error: `Deployment ${this.config.deployment} has no fetch(req) method to serve HTTP.`, requestId: meta.requestId }), error: true };
      }
      // What kind of fetch it is, looked at once per fetch function (not per request).
      if (fetchFn !== this.fetchSeen) {
        this.fetchSeen = fetchFn;
        this.fetchStreams = isGeneratorFunction(fetchFn);
        this.fetchTakesRequest = takesRequest(fetchFn);
      }
      if (this.fetchStreams) {
        this.end(t0, false);
        return { status: 0, headers: [], body: '', stream: true };
      }
      // Building a WHATWG Request is most of a small request's cost on the replica; a fetch that
      // cannot read it (no parameter, no `arguments`) does not get one.
      const req = this.fetchTakesRequest ? this.request(r) : undefined;
      out = inRequest(meta.requestId, () => (fetchFn as (q: Request | undefined) => unknown).call(this.inst, req));
    } catch (e) {
      const res = this.httpError(e, meta);
      this.end(t0, res.error === true);
      return res;
    }
    if (out instanceof Response) return this.httpResponse(out, t0, meta);
    if (isThenable(out)) return this.httpLater(out, t0, meta);
    return this.httpDone(out, t0, meta);
  }

  /** The reply for a value fetch answered (a JSON value that cannot be written is a 500), counted as ended. */
  private httpDone(out: unknown, t0: number, meta: CallMeta): HttpResponseData {
    let res: HttpResponseData;
    try {
      res = httpValue(out);
    } catch (e) {
      res = this.httpError(e, meta);
    }
    this.end(t0, res.error === true);
    return res;
  }

  /**
   * The reply once what fetch returned (a promise, a DeploymentResponse, any thenable) settles: one
   * reaction on it, no async function (each promise costs the thread's async hooks).
   */
  private httpLater(pending: unknown, t0: number, meta: CallMeta): Promise<HttpResponseData> {
    return settle(pending).then(
      (out) => (out instanceof Response ? this.httpResponse(out, t0, meta) : this.httpDone(out, t0, meta)),
      (e: unknown) => {
        const res = this.httpError(e, meta);
        this.end(t0, res.error === true);
        return res;
      },
    );
  }

  /** The reply for a WHATWG Response fetch answered (its body read), counted as ended. */
  private async httpResponse(out: Response, t0: number, meta: CallMeta): Promise<HttpResponseData> {
    let failed = false;
    try {
      const body = new Uint8Array(await out.arrayBuffer());
      const headers: [string, string][] = [...out.headers];
      if (!out.headers.has('x-request-id')) headers.push(requestIdHeader(meta));
      failed = out.status >= 500;
      return { status: out.status, headers, body };
    } catch (e) {
      const res = this.httpError(e, meta);
      failed = res.error === true;
      return res;
    } finally {
      this.end(t0, failed);
    }
  }

  /** What a throwing fetch answers: a ServeHttpError's status, else 500 (logged, counted as an error). */
  private httpError(e: unknown, meta: CallMeta): HttpResponseData {
    const rid = requestIdHeader(meta);
    if (e instanceof ServeHttpError) {
      const res = e.getResponse(meta.requestId);
      return { status: res.status, headers: [...Object.entries(res.headers), rid], body: res.body };
    }
    this.log.warn({ requestId: meta.requestId, err: (e as Error)?.stack ?? String(e) }, 'request failed');
    return {
      status: 500,
      headers: [['content-type', 'application/json'], rid],
      body: JSON.stringify({ error: `${(e as Error)?.name ?? 'Error'}: ${(e as Error)?.message ?? String(e)}`, requestId: meta.requestId }),
      error: true,
    };
  }

  private request(r: HttpRequestData): Request {
    const hasBody = r.body !== null && r.method !== 'GET' && r.method !== 'HEAD';
    return serveRequest(r.url, { method: r.method, headers: r.headers as [string, string][], body: hasBody ? (r.body as Uint8Array) : undefined });
  }

  /** Runs a generator method, yielding its items (the core streams them to the caller). */
  async *stream(method: string, meta: CallMeta, args: unknown[]): AsyncGenerator<unknown> {
    const fn = this.inst[method];
    if (typeof fn !== 'function') {
      throw new TypeError(`Deployment ${this.config.deployment} has no method ${method} (request ${meta.requestId}).`);
    }
    yield* this.counted(meta, method, () => (fn as (...a: unknown[]) => AsyncIterable<unknown> | Iterable<unknown>).apply(this.inst, args));
  }

  /** Runs a generator fetch(req): yields its items (the proxy writes them as chunks or SSE events). */
  async *httpStream(r: HttpRequestData, meta: CallMeta): AsyncGenerator<unknown> {
    const fetchFn = this.inst.fetch as (q: Request) => AsyncIterable<unknown> | Iterable<unknown>;
    yield* this.counted(meta, 'fetch', () => fetchFn.call(this.inst, this.request(r)));
  }

  private async *counted(meta: CallMeta, method: string, start: () => AsyncIterable<unknown> | Iterable<unknown>): AsyncGenerator<unknown> {
    const t0 = this.begin();
    let threw = false;
    try {
      yield* scoped(meta.requestId, start);
    } catch (e) {
      threw = true;
      this.log.warn({ requestId: meta.requestId, method, err: (e as Error)?.message }, 'streaming request failed');
      throw e;
    } finally {
      // Stopped early (client gone, cancel) counts as a request, not as an error.
      this.end(t0, threw);
    }
  }

  stats(): ReplicaStats {
    return { ongoing: this.ongoing, requests: this.requests, errors: this.errors, latencyBuckets: [...this.buckets], directRequests: this.direct?.server.served ?? 0, localRequests: this.direct?.server.servedLocal ?? 0 };
  }

  /** Resolves once no request runs (the controller drains a replica before stopping it). */
  drain(): Promise<boolean> | boolean {
    if (this.ongoing === 0) return true;
    return new Promise((r) => this.idle.push(() => r(true)));
  }
}

/** Called by the generated replica class on its thread: rebuilds the user class, builds the instance and opens its direct path. @internal */
export async function startReplica(code: CallableRef, config: ReplicaConfig, args: unknown[]): Promise<ReplicaRuntime> {
  const bindings = { batch, __vite_ssr_dynamic_import__: (s: string) => import(s) };
  const UserClass = await loadCallable<new (...a: unknown[]) => unknown>(code, { bindings });
  const rt = new ReplicaRuntime(UserClass, config, args);
  await rt.listenDirect();
  return rt;
}
