/**
 * The HTTP proxy: a node:http server inside a detached actor (`SERVE_PROXY`, namespace `serve`) on
 * the head's node, so it keeps serving after the driver that deployed exits. A request goes through a
 * koa-style chain (request id → errors → body limit → route) and is sent to one replica of the
 * matched application's ingress (live or canary; a share mirrored to a shadow). The proxy learns
 * routes and replicas from the controller's long-polled tables and is not responsible for replica
 * life cycles.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { randomUUID } from 'node:crypto';
import { cancel, get, type ObjectRefGenerator } from '@samsara/ray';
import pino, { type Logger } from 'pino';
import { BackPressureError, ServeError } from '../errors.js';
import { compose, type Middleware } from '../http/compose.js';
import { ServeHttpError } from '../http/errors.js';
import { PrefixRouter } from '../http/router.js';
import { pickTracks } from '../handle.js';
import { isReplicaGone, RouterClient, type DeploymentRouter, type ReplicaSlot } from './router-client.js';
import { httpReplica, takeHeld } from './replica-call.js';
import { DirectClient, DirectUnavailableError } from './direct/direct-client.js';
import { appKey, depKey, PROXY_KEY, type AppTable, type HttpRequestData, type HttpResponseData, type ProxyTable } from './spec.js';

export interface ProxyConfig {
  readonly host: string;
  readonly port: number;
  /** Largest request body, in bytes [RAYTS_SERVE_MAX_BODY_BYTES or 10 MiB]. */
  readonly maxBodyBytes?: number;
}

interface Ctx {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly requestId: string;
  readonly path: string;
  body: Uint8Array | null;
  app?: string;
  out?: HttpResponseData;
  /** The track (and shadow) the fast path already drew for this request: not drawn again. */
  pick?: Pick;
  readonly t0: number;
  /** The request's raw headers as pairs, and its Host header (read once, in onRequest). */
  readonly headers: [string, string][];
  readonly host: string | undefined;
}

type Pick = NonNullable<ReturnType<typeof pickTracks>>;

const REQUEST_ID = /^[\w.:-]{1,128}$/;

const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS']);
/** How long a route miss waits for the route table from the controller before answering 404. */
const ROUTE_REFRESH_MS = 2_000;

export class HttpProxy {
  private readonly server: Server;
  private router = new PrefixRouter<string>();
  private readonly client = RouterClient.get();
  private readonly log: Logger;
  private readonly handler: (ctx: Ctx) => Promise<void>;
  private readonly maxBody: number;
  /** Per-request debug lines are built only when they are logged. */
  private readonly debug: boolean;

  constructor(private readonly config: ProxyConfig) {
    this.log = pino({ name: 'rayts-serve-proxy', level: process.env.RAYTS_SERVE_LOG_LEVEL ?? 'info' });
    this.debug = this.log.isLevelEnabled('debug');
    this.maxBody = config.maxBodyBytes ?? Number(process.env.RAYTS_SERVE_MAX_BODY_BYTES ?? 10 * 1024 * 1024);
    this.client.onChange(PROXY_KEY, (v) => this.setRoutes(v as ProxyTable));
    const chain: Middleware<Ctx>[] = [this.errors, this.limitBody, this.route];
    this.handler = compose(chain);
    this.server = createServer({ keepAliveTimeout: 65_000 }, (req, res) => void this.onRequest(req, res));
  }

  private readonly watchedApps = new Set<string>();

  private setRoutes(t: ProxyTable): void {
    const fresh = new PrefixRouter<string>();
    for (const r of t.routes) {
      fresh.add('ALL', r.routePrefix, r.app);
      // Tables of routed apps and their ingress replicas are fetched ahead, so requests do not
      // wait for the controller (and keep flowing while it restarts).
      if (!this.watchedApps.has(r.app)) {
        this.watchedApps.add(r.app);
        this.client.onChange(appKey(r.app), (v) => {
          for (const tr of (v as AppTable).tracks) this.client.deploymentRouter(depKey(r.app, tr.track, tr.ingress), `${r.app}/${tr.ingress}`);
        });
      }
    }
    this.router = fresh;
  }

  listen(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.config.port, this.config.host, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
  }

  info(): { host: string; port: number; pid: number } {
    const a = this.server.address();
    return { host: this.config.host, port: typeof a === 'object' && a ? a.port : this.config.port, pid: process.pid };
  }

  async stop(): Promise<void> {
    await new Promise<void>((r) => {
      this.server.close(() => r());
      this.server.closeIdleConnections?.();
    });
  }

  private onRequest(req: IncomingMessage, res: ServerResponse): void {
    // One pass over the raw headers: the pairs the replica gets, and the few the proxy reads (without
    // materializing req.headers).
    const raw = req.rawHeaders;
    const headers: [string, string][] = new Array(raw.length >> 1);
    let given: string | undefined;
    let ids = 0;
    let host: string | undefined;
    let hasBody = false;
    for (let i = 0; i < raw.length; i += 2) {
      const k = raw[i];
      const v = raw[i + 1];
      headers[i >> 1] = [k, v];
      switch (k.length) {
        case 4:
          if (host === undefined && k.toLowerCase() === 'host') host = v;
          break;
        case 12:
          if (k.toLowerCase() === 'x-request-id') {
            given = v;
            ids++;
          }
          break;
        case 14:
        case 17:
          if (!hasBody) hasBody = k.toLowerCase() === 'content-length' || k.toLowerCase() === 'transfer-encoding';
          break;
      }
    }
    const requestId = ids === 1 && REQUEST_ID.test(given!) ? given! : randomUUID();
    this.fast(req, res, requestId, headers, host, hasBody);
  }

  /**
   * The common request, without a promise (each costs the thread's async hooks) or the middleware
   * chain: no body, a known route whose table is here, a replica with room reached over the direct
   * path, a reply that is plain data. Anything else goes to {@link slow}, the full chain, with the
   * track already drawn.
   */
  private fast(req: IncomingMessage, res: ServerResponse, requestId: string, headers: [string, string][], host: string | undefined, hasBody: boolean): void {
    const t0 = this.debug ? performance.now() : 0;
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q < 0 ? url : url.slice(0, q);
    // A body is read (and limited) by the chain.
    if (hasBody) return void this.slow({ req, res, requestId, path, body: null, t0, headers, host });
    const method = req.method ?? 'GET';
    const m = this.router.match(method, path);
    const app = m?.handler;
    const table = app === undefined ? undefined : this.client.appTableNow(appKey(app));
    const pick = table ? pickTracks(table) : undefined;
    if (!pick) return void this.slow({ req, res, requestId, path, body: null, t0, headers, host });
    const router = this.client.deploymentRouter(depKey(app!, pick.track, pick.ingress), `${app}/${pick.ingress}`);
    const ctx = (): Ctx => ({ req, res, requestId, path, body: null, t0, app, pick, headers, host });
    if (this.streaming.has(router)) return void this.slow(ctx());
    const slot = router.tryAcquire({ requestId, method });
    if (!slot) return void this.slow(ctx());
    const direct = DirectClient.get();
    if (!direct.usable(slot.replicaId, slot.endpoint)) {
      router.release(slot);
      return void this.slow(ctx());
    }
    const data = this.requestData(method, url, headers, host, null);
    if (pick.shadow) this.shadow(app!, pick.shadow, data, requestId);
    direct.sendHttp(slot.replicaId, slot.endpoint, data, requestId, (err, held, value) => {
      if (err === undefined && !held && !(value as HttpResponseData).stream) {
        router.release(slot);
        this.respond(req, res, requestId, value as HttpResponseData, app, t0);
        return;
      }
      void this.fastRest(ctx(), router, slot, data, err, held, value);
    });
  }

  /** The fast path's uncommon outcomes: no direct connection, a gone replica, a held reply, a stream. */
  private async fastRest(ctx: Ctx, router: DeploymentRouter, slot: ReplicaSlot, data: HttpRequestData, err: Error | undefined, held: boolean, value: unknown): Promise<void> {
    let released = false;
    const release = (): void => {
      if (released) return;
      released = true;
      router.release(slot);
    };
    const meta = { requestId: ctx.requestId };
    await this.errors(ctx, async () => {
      try {
        if (err instanceof DirectUnavailableError) {
          // Nothing reached the replica: from now on it is called through the core.
          DirectClient.get().markUnreachable(slot.replicaId);
          release();
          ctx.out = await this.forward(router, data, meta, IDEMPOTENT.has(data.method), ctx);
        } else if (err) {
          if (!isReplicaGone(err)) throw err;
          release();
          router.markDead(slot.replicaId);
          if (!IDEMPOTENT.has(data.method)) throw err;
          ctx.out = await this.forward(router, data, meta, false, ctx);
        } else if (held) {
          ctx.out = await takeHeld<HttpResponseData>(slot, value as number, ctx.requestId);
        } else {
          this.streaming.add(router);
          ctx.out = await this.stream(slot, data, meta, ctx);
        }
      } finally {
        release();
      }
    });
    this.respond(ctx.req, ctx.res, ctx.requestId, ctx.out ?? new ServeHttpError(500, 'no response').getResponseData(ctx.requestId), ctx.app, ctx.t0);
  }

  /** The full chain (request id → errors → body limit → route) for every request the fast path does not take. */
  private async slow(ctx: Ctx): Promise<void> {
    try {
      await this.handler(ctx);
    } catch (e) {
      // errors() catches everything; this is the last line of defence.
      ctx.out = new ServeHttpError(500, (e as Error)?.message ?? String(e)).getResponseData(ctx.requestId);
    }
    this.respond(ctx.req, ctx.res, ctx.requestId, ctx.out ?? new ServeHttpError(500, 'no response').getResponseData(ctx.requestId), ctx.app, ctx.t0);
  }

  /**
   * Writes the reply with one writeHead and a flat header list: the reply's headers, the request id
   * and the length (a HEAD gets the length of the body it does not receive).
   */
  private respond(req: IncomingMessage, res: ServerResponse, requestId: string, out: HttpResponseData, app: string | undefined, t0: number): void {
    if (!res.headersSent) {
      try {
        this.writeReply(req, res, requestId, out);
      } catch (e) {
        // A header the reply carries that HTTP cannot (a bad name or character): the client gets a 500.
        this.log.warn({ requestId, app, err: (e as Error)?.message ?? String(e) }, 'reply could not be written');
        if (res.headersSent) res.destroy();
        else {
          res.removeHeader('content-length');
          this.writeReply(req, res, requestId, new ServeHttpError(500, `The reply could not be written: ${(e as Error)?.message ?? String(e)}`).getResponseData(requestId));
        }
      }
    }
    if (this.debug) this.log.debug({ requestId, method: req.method, path: (req.url ?? '/').split('?')[0], status: out.status, app, ms: +(performance.now() - t0).toFixed(2) }, 'request');
  }

  private writeReply(req: IncomingMessage, res: ServerResponse, requestId: string, out: HttpResponseData): void {
    const flat: string[] = [];
    let hasId = false;
    let hasLength = false;
    const hs = out.headers;
    for (let i = 0; i < hs.length; i++) {
      const k = hs[i][0];
      flat.push(k, hs[i][1]);
      if (k.length === 12) hasId ||= k.toLowerCase() === 'x-request-id';
      else if (k.length === 14 || k.length === 17) hasLength ||= k.toLowerCase() === 'content-length' || k.toLowerCase() === 'transfer-encoding';
    }
    if (!hasId) flat.push('x-request-id', requestId);
    const bodyless = out.status === 204 || out.status === 304 || out.status < 200;
    if (!hasLength && !bodyless && !res.hasHeader('content-length')) flat.push('content-length', String(typeof out.body === 'string' ? Buffer.byteLength(out.body) : out.body.byteLength));
    res.writeHead(out.status, flat);
    res.end(req.method === 'HEAD' ? undefined : out.body);
  }

  /** What a replica receives of a request: method, absolute URL, raw headers as pairs, body. */
  private requestData(method: string, url: string, headers: [string, string][], host: string | undefined, body: Uint8Array | null): HttpRequestData {
    return { method, url: `http://${host ?? `${this.config.host}:${this.config.port}`}${url}`, headers, body };
  }

  /** Mirrors a request to the shadow version; its answer and failures are discarded. */
  private shadow(app: string, shadow: { track: string; ingress: string }, data: HttpRequestData, requestId: string): void {
    const sr = this.client.deploymentRouter(depKey(app, shadow.track, shadow.ingress), `${app}/${shadow.ingress} (shadow)`);
    void this.forward(sr, data, { requestId }, false).catch(() => undefined);
  }

  private errors: Middleware<Ctx> = async (ctx, next) => {
    try {
      await next();
    } catch (e) {
      if (e instanceof BackPressureError) {
        ctx.out = new ServeHttpError(503, e.message, { 'retry-after': '1' }).getResponseData(ctx.requestId);
      } else if (e instanceof ServeHttpError) {
        ctx.out = e.getResponseData(ctx.requestId);
      } else if (e instanceof ServeError && e.serveCode === 'SERVE_NOT_FOUND') {
        ctx.out = new ServeHttpError(404, e.message).getResponseData(ctx.requestId);
      } else if (ctx.app && (await this.appGone(ctx))) {
        // The request reached an application being deleted (its replicas stopping): it is not served any more.
        ctx.out = new ServeHttpError(404, `No application serves ${ctx.path} (application ${ctx.app} was deleted).`).getResponseData(ctx.requestId);
      } else {
        this.log.warn({ requestId: ctx.requestId, path: ctx.path, err: (e as Error)?.message ?? String(e) }, 'request failed');
        ctx.out = new ServeHttpError(500, `${(e as Error)?.name ?? 'Error'}: ${(e as Error)?.message ?? String(e)}`).getResponseData(ctx.requestId);
      }
    }
  };

  /** Whether the request's application is no longer routed here (after one refresh of the route table). */
  private async appGone(ctx: Ctx): Promise<boolean> {
    if (this.client.appTableNow(appKey(ctx.app!))?.exists === false) return true;
    await this.refreshRoutes();
    return this.router.match(ctx.req.method ?? 'GET', ctx.path)?.handler !== ctx.app;
  }

  private limitBody: Middleware<Ctx> = async (ctx, next) => {
    const h = ctx.req.headers;
    // No content-length and no transfer-encoding: there is no body (GET and friends); skip reading it.
    if (h['content-length'] === undefined && h['transfer-encoding'] === undefined) return next();
    const len = Number(h['content-length'] ?? 0);
    if (len > this.maxBody) {
      ctx.res.setHeader('connection', 'close');
      ctx.req.resume();
      throw new ServeHttpError(413, `Request body of ${len} bytes is over the limit of ${this.maxBody} bytes.`);
    }
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const c of ctx.req as AsyncIterable<Buffer>) {
      size += c.length;
      if (size > this.maxBody) {
        ctx.res.setHeader('connection', 'close');
        throw new ServeHttpError(413, `Request body is over the limit of ${this.maxBody} bytes.`);
      }
      chunks.push(c);
    }
    ctx.body = size === 0 ? null : chunks.length === 1 ? chunks[0] : Buffer.concat(chunks);
    await next();
  };

  /** The route-table refresh in flight after a miss, and the one queued behind it. */
  private routeRefresh: Promise<void> | undefined;
  private routeRefreshNext: Promise<void> | undefined;

  /**
   * Fetches the route table once for every miss of a moment (a flood of unknown paths costs the
   * controller one call at a time, not one per request). A miss that arrives while a fetch is in flight
   * waits for the next one: the one in flight may have started before its route was deployed. Bounded:
   * with the controller unreachable a miss answers 404 after ROUTE_REFRESH_MS.
   */
  private refreshRoutes(): Promise<void> {
    if (!this.routeRefresh) {
      const fetched = this.client.refresh([PROXY_KEY]).catch(() => undefined);
      let timer: NodeJS.Timeout | undefined;
      const bounded = new Promise<void>((r) => (timer = setTimeout(r, ROUTE_REFRESH_MS)));
      this.routeRefresh = Promise.race([fetched, bounded]).finally(() => {
        clearTimeout(timer);
        this.routeRefresh = undefined;
      });
      return this.routeRefresh;
    }
    this.routeRefreshNext ??= this.routeRefresh.then(() => {
      this.routeRefreshNext = undefined;
      return this.refreshRoutes();
    });
    return this.routeRefreshNext;
  }

  private route: Middleware<Ctx> = async (ctx) => {
    const method = ctx.req.method ?? 'GET';
    let m = this.router.match(method, ctx.path);
    if (!m) {
      // A route deployed a moment ago may not have reached this proxy's table yet.
      await this.refreshRoutes();
      m = this.router.match(method, ctx.path);
    }
    if (!m) throw new ServeHttpError(404, `No application serves ${ctx.path}.`);
    const app = m.handler;
    const drawn = ctx.app === app ? ctx.pick : undefined;
    ctx.app = app;
    const key = appKey(app);
    let table = this.client.appTableNow(key);
    if (!table) {
      try {
        table = await this.client.appTable(key);
      } catch (e) {
        // The app's table is being fetched (controller busy or restarting): not a server error.
        if (!this.router.match(method, ctx.path)) throw new ServeHttpError(404, `No application serves ${ctx.path}.`);
        throw new ServeHttpError(503, `The routing table of application ${app} is being refreshed (${(e as Error)?.message ?? String(e)}); try again.`, { 'retry-after': '1' });
      }
    }
    const pick = drawn ?? (table ? pickTracks(table) : undefined);
    if (!pick) throw new ServeHttpError(404, `Application ${app} has no running version.`);
    const data = this.requestData(method, ctx.req.url ?? '/', ctx.headers, ctx.host, ctx.body);
    if (pick.shadow) this.shadow(app, pick.shadow, data, ctx.requestId);
    const router = this.client.deploymentRouter(depKey(app, pick.track, pick.ingress), `${app}/${pick.ingress}`);
    ctx.out = await this.forward(router, data, { requestId: ctx.requestId }, IDEMPOTENT.has(method), ctx);
  };

  /** Routers whose ingress fetch is a generator: their requests stream at once. */
  private readonly streaming = new WeakSet<object>();

  /**
   * Streams a generator fetch(req) to the client: each item a chunk (strings and bytes as they are,
   * other values as JSON lines), or a `data:` event when the client accepts text/event-stream. The
   * head goes out with the first item (a failure before it is an ordinary 500). The client leaving
   * cancels the generator, which stops the producer on the replica.
   */
  private async stream(slot: ReplicaSlot, data: HttpRequestData, meta: { requestId: string }, ctx: Ctx): Promise<HttpResponseData> {
    const res = ctx.res;
    const sse = /text\/event-stream/i.test(String(ctx.req.headers.accept ?? ''));
    const gen = slot.handle.__serve_http_stream.remote(data, meta) as ObjectRefGenerator<unknown>;
    let gone = false;
    const onClose = (): void => {
      if (res.writableFinished) return;
      gone = true;
      void cancel(gen).catch(() => undefined);
    };
    res.on('close', onClose);
    const head = (first: unknown): void => {
      res.statusCode = 200;
      const type = sse ? 'text/event-stream; charset=utf-8' : typeof first === 'string' ? 'text/plain; charset=utf-8' : first instanceof Uint8Array ? 'application/octet-stream' : 'application/x-ndjson';
      res.setHeader('content-type', type);
      res.setHeader('cache-control', 'no-cache');
      res.setHeader('x-request-id', meta.requestId);
    };
    let items = 0;
    try {
      for await (const ref of gen) {
        let v: unknown;
        try {
          v = await get(ref);
        } catch (e) {
          if (gone) break;
          if (!res.headersSent) throw e;
          this.log.warn({ requestId: meta.requestId, err: (e as Error)?.message ?? String(e) }, 'stream failed');
          if (sse) res.end(`event: error\ndata: ${JSON.stringify({ error: `${(e as Error)?.name ?? 'Error'}: ${(e as Error)?.message ?? String(e)}`, requestId: meta.requestId })}\n\n`);
          else res.destroy(e as Error);
          return { status: 200, headers: [], body: '', error: true };
        }
        if (gone) break;
        if (items++ === 0) head(v);
        if (!res.write(sse ? sseEvent(v) : chunkOf(v))) await new Promise((r) => (res.once('drain', r), res.once('close', r)));
      }
    } finally {
      res.off('close', onClose);
    }
    if (!gone) {
      if (!res.headersSent) head('');
      res.end();
    }
    return { status: 200, headers: [], body: '' };
  }

  private async forward(
    router: ReturnType<RouterClient['deploymentRouter']>,
    data: HttpRequestData,
    meta: { requestId: string },
    retry: boolean,
    ctx?: Ctx,
  ): Promise<HttpResponseData> {
    for (let attempt = 0; ; attempt++) {
      const s = router.acquire({ requestId: meta.requestId, method: data.method });
      const slot: ReplicaSlot = s instanceof Promise ? await s : s;
      try {
        if (ctx && this.streaming.has(router)) return await this.stream(slot, data, meta, ctx);
        const out = await httpReplica(slot, data, meta.requestId);
        if (!out.stream) return out;
        this.streaming.add(router);
        // A shadow's stream is not read (its answers are discarded anyway).
        if (!ctx) return { status: 204, headers: [], body: '' };
        return await this.stream(slot, data, meta, ctx);
      } catch (e) {
        if (isReplicaGone(e)) {
          router.markDead(slot.replicaId);
          if (retry && attempt === 0) continue;
        }
        throw e;
      } finally {
        router.release(slot);
      }
    }
  }
}

/** One chunk of a chunked stream: strings and bytes as they are, other values as a JSON line. */
function chunkOf(v: unknown): string | Uint8Array {
  if (typeof v === 'string' || v instanceof Uint8Array) return v;
  return `${JSON.stringify(v) ?? 'null'}\n`;
}

/** One Server-Sent Event: `data:` lines of the item (a string or bytes as text, others as JSON). */
function sseEvent(v: unknown): string {
  const text = typeof v === 'string' ? v : v instanceof Uint8Array ? Buffer.from(v).toString('utf8') : (JSON.stringify(v) ?? 'null');
  return `${text
    .split(/\r\n|\r|\n/)
    .map((l) => `data: ${l}`)
    .join('\n')}\n\n`;
}

let proxy: HttpProxy | undefined;
/** Called by the proxy actor on its thread. @internal */
export async function startProxy(config: ProxyConfig): Promise<HttpProxy> {
  if (proxy) return proxy;
  const p = new HttpProxy(config);
  await p.listen();
  proxy = p;
  return p;
}
