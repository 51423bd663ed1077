/**
 * The dashboard's route table: every route the head's dashboard port answers, in one exported list, so
 * that a security sweep can enumerate them and check that none gives anything away without auth.
 *
 * Auth kinds:
 * - `user`: the session cookie (browser, after `rayts dashboard`'s login link) or `Authorization: Bearer <token>`.
 * - `token`: only the bearer token (a login code is made for whoever holds the token).
 * - `metrics`: like `user`, or nothing at all when the head runs with `--metrics-public`.
 * - `public`: the login exchange and the static client (HTML/JS/CSS, no data).
 */
import type { IncomingMessage } from 'node:http';
import type { HeadServer } from '../head/head-server.js';
import { actorsView, clusterView, jobsView, objectsView, placementGroupsView, sectionsView, tasksView } from './cluster-snapshot.js';

export type RouteAuth = 'user' | 'token' | 'metrics' | 'public';

/** What a handler answers: JSON, or a raw body with its content type. */
export type RouteReply =
  | { readonly status?: number; readonly json: unknown }
  | { readonly status?: number; readonly body: string | Buffer; readonly contentType: string; readonly headers?: Record<string, string> };

export interface RouteContext {
  readonly req: IncomingMessage;
  readonly url: URL;
  readonly params: Readonly<Record<string, string>>;
  readonly head: HeadServer;
  readonly headAddress: string;
  /** Implemented by the server: new login code, session exchange, metrics text. */
  readonly services: RouteServices;
}

export interface RouteServices {
  newLoginCode(): { code: string; expiresInMs: number; url: string };
  login(code: string): RouteReply;
  logout(): RouteReply;
  metrics(): Promise<RouteReply>;
  staticFile(path: string): RouteReply;
}

export interface DashboardRoute {
  readonly method: 'GET' | 'POST';
  /** A path with `:name` segments, or a prefix ending in `*` (static files). */
  readonly path: string;
  readonly auth: RouteAuth;
  readonly describe: string;
  readonly handle: (ctx: RouteContext) => RouteReply | Promise<RouteReply>;
}

const ID_RE = /^[A-Za-z0-9_.-]{1,128}$/;

function q(ctx: RouteContext, k: string): string | undefined {
  const v = ctx.url.searchParams.get(k);
  return v ? v.slice(0, 200) : undefined;
}

/** Every route of the dashboard port. */
export const DASHBOARD_ROUTES: readonly DashboardRoute[] = Object.freeze([
  { method: 'GET', path: '/api/me', auth: 'user', describe: 'who is logged in (200 when the session or token is good)', handle: () => ({ json: { ok: true } }) },
  { method: 'GET', path: '/api/cluster', auth: 'user', describe: 'nodes (edge cameras included) with resources, telemetry, store; counts', handle: (c) => ({ json: clusterView(c.head, c.headAddress) }) },
  {
    method: 'GET',
    path: '/api/tasks',
    auth: 'user',
    describe: 'recent tasks (filters: state, job, node, name), counts by state, pending reasons',
    handle: (c) => ({ json: tasksView(c.head, { state: q(c, 'state'), job: q(c, 'job'), node: q(c, 'node'), name: q(c, 'name') }) }),
  },
  { method: 'GET', path: '/api/actors', auth: 'user', describe: 'actors with state, restarts, death cause', handle: (c) => ({ json: actorsView(c.head) }) },
  { method: 'GET', path: '/api/placement-groups', auth: 'user', describe: 'placement groups and where their bundles are', handle: (c) => ({ json: placementGroupsView(c.head) }) },
  { method: 'GET', path: '/api/jobs', auth: 'user', describe: 'submitted jobs and driver jobs', handle: (c) => ({ json: jobsView(c.head) }) },
  {
    method: 'GET',
    path: '/api/jobs/:id/logs',
    auth: 'user',
    describe: 'a chunk of a submitted job\'s log from ?offset=',
    handle: async (c) => {
      const id = c.params.id;
      if (!ID_RE.test(id)) return { status: 400, json: { error: `bad submission id ${JSON.stringify(id.slice(0, 64))}` } };
      const r = await c.head.submissions.readLog(id, Number(c.url.searchParams.get('offset') ?? 0));
      if (!r) return { status: 404, json: { error: `no submitted job ${id} on this head` } };
      return { json: { submissionId: id, text: r.data.toString('utf8'), offset: r.offset, ended: r.ended } };
    },
  },
  { method: 'GET', path: '/api/objects', auth: 'user', describe: 'object store use per node (spilled bytes included)', handle: (c) => ({ json: objectsView(c.head) }) },
  { method: 'GET', path: '/api/sections', auth: 'user', describe: 'library sections from KV dashboard/section/<library>/<id> (?library=)', handle: (c) => ({ json: sectionsView(c.head, q(c, 'library')) }) },
  { method: 'POST', path: '/api/login-codes', auth: 'token', describe: 'a one-time login link (rayts dashboard)', handle: (c) => ({ json: c.services.newLoginCode() }) },
  { method: 'POST', path: '/api/logout', auth: 'user', describe: 'ends the browser session', handle: (c) => c.services.logout() },
  { method: 'GET', path: '/metrics', auth: 'metrics', describe: 'Prometheus metrics of the cluster and of the head process', handle: (c) => c.services.metrics() },
  { method: 'GET', path: '/login', auth: 'public', describe: 'exchanges ?code= for a session cookie', handle: (c) => c.services.login(c.url.searchParams.get('code') ?? '') },
  { method: 'GET', path: '/*', auth: 'public', describe: 'the static client (index.html, app.js, style.css)', handle: (c) => c.services.staticFile(c.url.pathname) },
] satisfies DashboardRoute[]);

/** The route for a method and path, with its parameters; undefined when none matches. */
export function matchRoute(method: string, pathname: string): { route: DashboardRoute; params: Record<string, string> } | { allow: string[] } | undefined {
  const allow: string[] = [];
  for (const route of DASHBOARD_ROUTES) {
    const params = matchPath(route.path, pathname);
    if (!params) continue;
    if (route.method === method || (method === 'HEAD' && route.method === 'GET')) return { route, params };
    allow.push(route.method);
  }
  return allow.length ? { allow } : undefined;
}

function matchPath(pattern: string, pathname: string): Record<string, string> | undefined {
  if (pattern.endsWith('*')) return pathname.startsWith(pattern.slice(0, -1)) && !pathname.startsWith('/api/') ? {} : undefined;
  const a = pattern.split('/');
  const b = pathname.split('/');
  if (a.length !== b.length) return undefined;
  const params: Record<string, string> = {};
  for (let i = 0; i < a.length; i++) {
    if (a[i].startsWith(':')) {
      try {
        params[a[i].slice(1)] = decodeURIComponent(b[i]);
      } catch {
        return undefined;
      }
    } else if (a[i] !== b[i]) return undefined;
  }
  return params;
}
