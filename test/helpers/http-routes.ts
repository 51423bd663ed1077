/**
 * The HTTP routes the auth sweep checks (every one must refuse a request without the cluster token).
 *
 * Hook for the dashboard (branch ops): when its router lands, export its route table from the core and
 * return it here (method + path, with a sample value for each `:param`), e.g.
 *   `return (await import('@samsara/ray')).dashboardRoutes().map((r) => ({ method: r.method, path: r.sample }))`.
 * Until then the core serves no HTTP route, and the sweep says so.
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
