/**
 * The HTTP routes the auth sweep checks (every one must refuse a request without the cluster token).
 *
 * The dashboard's routes are swept by test/dashboard.test.ts, which walks the route table itself
 * (`DASHBOARD_ROUTES`, packages/core/src/dashboard/routes.ts: every `user`/`token`/`metrics` route answers
 * 401 without a session or token) against a cluster whose dashboard port it knows. This hook stays for
 * routes the core may export publicly later (`dashboardRoutes()`); until then this sweep skips.
 */
export interface HttpRoute {
  readonly method: string;
  readonly path: string;
}

export async function httpRoutes(): Promise<HttpRoute[]> {
  const core = (await import('@samsara/ray')) as Record<string, unknown>;
  const fn = core.dashboardRoutes as (() => { method: string; path: string; sample?: string }[]) | undefined;
  if (typeof fn !== 'function') return [];
  return fn().map((r) => ({ method: r.method, path: r.sample ?? r.path }));
}
