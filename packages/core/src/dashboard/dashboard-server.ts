/**
 * DashboardServer: the head's HTTP(S) listener on `--dashboard-port` (default 8265, loopback unless
 * `--dashboard-host`). Serves the route table of routes.ts: the JSON API, `/metrics`, the login exchange
 * and the static client. Responsible for the checks every request goes through, in this order:
 *
 * 1. Host: only names this listener is reachable under (loopback names, the bound address, the
 *    machine's own addresses and hostname): a DNS-rebinding page has a foreign Host and is refused (421).
 * 2. Origin: a request that changes something (POST) from another origin, or marked cross-site by
 *    `Sec-Fetch-Site`, is refused (403).
 * 3. Auth: the session cookie or the bearer token, per route (401 otherwise).
 * 4. Static files only from the client directory, looked up in a table built at start: any other path,
 *    `..` included, is 404.
 *
 * Not responsible for what the data means (cluster-snapshot.ts) or for TLS settings (http-server.ts).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { hostname, networkInterfaces } from 'node:os';
import { extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConnectionError, type Logger } from '@samsara/ray-common';
import type { HeadServer } from '../head/head-server.js';
import { bearerOk } from '../http/bearer.js';
import { createHttpServer, httpScheme, type HttpServer } from '../http/http-server.js';
import { renderMetrics } from '../metrics/node-metrics.js';
import { LoginSessions, SESSION_COOKIE, cookieValue } from './login-sessions.js';
import { matchRoute, type RouteReply, type RouteServices } from './routes.js';

/** Default dashboard port (Ray's). */
export const DEFAULT_DASHBOARD_PORT = 8265;

/** Where the static client lives: packages/core/dashboard (beside dist/). */
export const STATIC_ROOT = fileURLToPath(new URL('../../dashboard/', import.meta.url));

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
};

const SECURITY_HEADERS: Record<string, string> = {
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
  'content-security-policy': "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
};

/** Options of {@link DashboardServer.listen}. */
export interface DashboardServerOptions {
  readonly head: HeadServer;
  readonly headAddress: () => string;
  readonly token: string;
  readonly host: string;
  /** Port to bind; with `fallbackToFreePort`, a busy port falls back to a free one. */
  readonly port: number;
  readonly fallbackToFreePort?: boolean;
  /** Serve /metrics without auth [false]. */
  readonly metricsPublic?: boolean;
  /** More Host names to accept (a DNS name the dashboard is reached under). */
  readonly allowedHosts?: readonly string[];
  /** Extra Prometheus text appended to /metrics (the cluster gauges). */
  readonly extraMetrics?: () => Promise<string>;
  readonly log: Logger;
}

export class DashboardServer {
  readonly sessions = new LoginSessions();
  private readonly files = new Map<string, { body: Buffer; type: string }>();
  private server!: HttpServer;
  private hosts = new Set<string>();
  port = 0;

  private constructor(private readonly o: DashboardServerOptions) {
    this.loadStatic();
  }

  /** Starts the listener; throws ConnectionError when the port is taken (and no fallback). */
  static async listen(o: DashboardServerOptions): Promise<DashboardServer> {
    const d = new DashboardServer(o);
    d.server = createHttpServer((req, res) => void d.handle(req, res));
    try {
      await d.bind(o.port);
    } catch (e) {
      if (!o.fallbackToFreePort || (e as NodeJS.ErrnoException).code !== 'EADDRINUSE') {
        throw new ConnectionError(`Cannot serve the dashboard on ${o.host}:${o.port}: ${(e as Error).message}.`, { hint: 'Pick another --dashboard-port.' });
      }
      o.log.warn({ port: o.port }, 'dashboard port busy; using a free one');
      await d.bind(0);
    }
    d.port = (d.server.address() as AddressInfo).port;
    d.hosts = allowedHostNames(o.host, o.allowedHosts ?? []);
    return d;
  }

  private bind(port: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const onErr = (e: Error) => reject(e);
      this.server.once('error', onErr);
      this.server.listen(port, this.o.host, () => {
        this.server.off('error', onErr);
        resolve();
      });
    });
  }

  /** The URL people open (loopback name when bound to a wildcard). */
  get url(): string {
    const h = this.o.host === '0.0.0.0' || this.o.host === '::' ? '127.0.0.1' : this.o.host;
    return `${httpScheme()}://${h.includes(':') ? `[${h}]` : h}:${this.port}`;
  }

  async close(): Promise<void> {
    await new Promise<void>((r) => {
      this.server.close(() => r());
      this.server.closeAllConnections?.();
    });
  }

  private loadStatic(): void {
    let names: string[] = [];
    try {
      names = readdirSync(STATIC_ROOT);
    } catch {
      this.o.log.warn({ root: STATIC_ROOT }, 'dashboard client files not found');
    }
    for (const n of names) {
      const p = join(STATIC_ROOT, n);
      const type = TYPES[extname(n)];
      if (!type || !statSync(p).isFile()) continue;
      this.files.set(`/${n}`, { body: readFileSync(p), type });
    }
    const index = this.files.get('/index.html');
    if (index) this.files.set('/', index);
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    try {
      const hostHeader = (req.headers.host ?? '').toLowerCase();
      if (!this.hostAllowed(hostHeader)) {
        this.send(res, { status: 421, body: `rayts dashboard: host ${JSON.stringify(hostHeader.slice(0, 100))} is not one this dashboard serves.\n`, contentType: 'text/plain; charset=utf-8' }, req);
        return;
      }
      const method = req.method ?? 'GET';
      if (method !== 'GET' && method !== 'HEAD' && !this.sameOrigin(req, hostHeader)) {
        this.send(res, { status: 403, json: { error: 'cross-origin request refused' } }, req);
        return;
      }
      let url: URL;
      try {
        url = new URL(req.url ?? '/', `http://${hostHeader}`);
      } catch {
        this.send(res, { status: 400, json: { error: 'bad request URL' } }, req);
        return;
      }
      const m = matchRoute(method, url.pathname);
      if (!m) {
        this.send(res, { status: 404, json: { error: `no route ${url.pathname}` } }, req);
        return;
      }
      if ('allow' in m) {
        this.send(res, { status: 405, headers: { allow: m.allow.join(', ') }, body: 'method not allowed\n', contentType: 'text/plain; charset=utf-8' }, req);
        return;
      }
      const { route, params } = m;
      const services = this.services(req, res);
      if (!this.authorized(route.auth, req)) {
        this.send(res, { status: 401, json: { error: 'rayts dashboard: log in with the link `rayts dashboard` prints, or send Authorization: Bearer <cluster token>.' } }, req);
        return;
      }
      const reply = await route.handle({ req, url, params, head: this.o.head, headAddress: this.o.headAddress(), services });
      this.send(res, reply, req);
    } catch (e) {
      this.o.log.warn({ err: (e as Error).message, url: req.url }, 'dashboard request failed');
      if (!res.headersSent) this.send(res, { status: 500, json: { error: 'internal error' } }, req);
      else res.end();
    }
  }

  private authorized(auth: string, req: IncomingMessage): boolean {
    if (auth === 'public') return true;
    if (auth === 'metrics' && this.o.metricsPublic) return true;
    if (bearerOk(req, this.o.token)) return true;
    if (auth === 'token') return false;
    return this.sessions.check(cookieValue(req.headers.cookie, SESSION_COOKIE));
  }

  private hostAllowed(host: string): boolean {
    if (!host) return false;
    const m = /^(\[[^\]]+\]|[^:]+)(?::(\d+))?$/.exec(host);
    if (!m) return false;
    if (m[2] !== undefined && Number(m[2]) !== this.port) return false;
    return this.hosts.has(m[1]);
  }

  private sameOrigin(req: IncomingMessage, host: string): boolean {
    if (req.headers['sec-fetch-site'] === 'cross-site' || req.headers['sec-fetch-site'] === 'same-site') return false;
    const origin = req.headers.origin;
    if (origin === undefined) return true; // scripts (curl, the CLI) send none; browsers always do on POST
    return origin === `${httpScheme()}://${host}`;
  }

  private services(req: IncomingMessage, _res: ServerResponse): RouteServices {
    const secure = httpScheme() === 'https' ? '; Secure' : '';
    return {
      newLoginCode: () => {
        const c = this.sessions.newCode();
        return { ...c, url: `${this.url}/login?code=${c.code}` };
      },
      login: (code) => {
        const id = code ? this.sessions.exchange(code) : undefined;
        if (!id) {
          return {
            status: 401,
            contentType: 'text/html; charset=utf-8',
            body: page('Login link not valid', '<p>This login link is unknown, was used already, or expired.</p><p>Run <code>rayts dashboard</code> on the head machine for a new one.</p>'),
          };
        }
        return {
          status: 200,
          contentType: 'text/html; charset=utf-8',
          headers: { 'set-cookie': `${SESSION_COOKIE}=${id}; HttpOnly; SameSite=Strict; Path=/${secure}`, 'cache-control': 'no-store' },
          body: page('Logged in', '<p>Logged in. <a href="/">Open the dashboard</a>.</p>', '/'),
        };
      },
      logout: () => {
        this.sessions.end(cookieValue(req.headers.cookie, SESSION_COOKIE));
        return {
          body: JSON.stringify({ ok: true }),
          contentType: 'application/json; charset=utf-8',
          headers: { 'set-cookie': `${SESSION_COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0${secure}`, 'cache-control': 'no-store' },
        };
      },
      metrics: async () => {
        const m = await renderMetrics();
        const extra = this.o.extraMetrics ? await this.o.extraMetrics() : '';
        return { body: m.body + (extra ? `\n${extra}` : ''), contentType: m.contentType };
      },
      staticFile: (path) => {
        const f = this.files.get(path);
        if (!f) return { status: 404, json: { error: `not found: ${path.slice(0, 100)}` } };
        return { body: f.body, contentType: f.type, headers: { 'cache-control': 'no-cache' } };
      },
    };
  }

  private send(res: ServerResponse, r: RouteReply, req: IncomingMessage): void {
    const status = r.status ?? 200;
    let body: string | Buffer;
    let type: string;
    let extra: Record<string, string> = {};
    if ('json' in r) {
      body = JSON.stringify(r.json);
      type = 'application/json; charset=utf-8';
      extra = { 'cache-control': 'no-store' };
    } else {
      body = r.body;
      type = r.contentType;
      extra = r.headers ?? {};
    }
    res.writeHead(status, { ...SECURITY_HEADERS, 'content-type': type, 'content-length': Buffer.byteLength(body), ...extra });
    res.end(req.method === 'HEAD' ? undefined : body);
  }
}

function page(title: string, html: string, redirect?: string): string {
  const meta = redirect ? `<meta http-equiv="refresh" content="0;url=${redirect}">` : '';
  return `<!doctype html><html lang="en"><head><meta charset="utf-8">${meta}<title>${title} — rayts</title><link rel="stylesheet" href="/style.css"></head><body><main class="login"><h1>${title}</h1>${html}</main></body></html>`;
}

/** Host names (without port) the dashboard answers to. */
function allowedHostNames(bound: string, extra: readonly string[]): Set<string> {
  const out = new Set(['localhost', '127.0.0.1', '[::1]']);
  const add = (h: string) => out.add(h.includes(':') && !h.startsWith('[') ? `[${h.toLowerCase()}]` : h.toLowerCase());
  for (const h of extra) add(h);
  if (bound === '0.0.0.0' || bound === '::') {
    for (const list of Object.values(networkInterfaces())) for (const i of list ?? []) add(i.address);
    add(hostname());
  } else add(bound);
  return out;
}
