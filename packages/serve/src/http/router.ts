/**
 * A typed router (Hono's `Router<T>` shape) matching route prefixes: the longest prefix that equals
 * the path or is followed by `/` wins. `/` matches everything not matched by a longer prefix.
 */
export interface RouteMatch<T> {
  readonly handler: T;
  readonly prefix: string;
}

export interface Router<T> {
  readonly name: string;
  add(method: string, path: string, handler: T): void;
  match(method: string, path: string): RouteMatch<T> | undefined;
}

/** Normalizes a route prefix: leading `/`, no trailing `/` (except `/` itself). */
export function normalizePrefix(p: string): string {
  let s = p.startsWith('/') ? p : `/${p}`;
  while (s.length > 1 && s.endsWith('/')) s = s.slice(0, -1);
  return s;
}

/** Prefix router; method `ALL` matches every method. */
export class PrefixRouter<T> implements Router<T> {
  readonly name = 'PrefixRouter';
  private routes: { method: string; prefix: string; handler: T }[] = [];

  add(method: string, path: string, handler: T): void {
    const prefix = normalizePrefix(path);
    this.routes = this.routes.filter((r) => !(r.prefix === prefix && r.method === method));
    this.routes.push({ method, prefix, handler });
    this.routes.sort((a, b) => b.prefix.length - a.prefix.length);
  }

  match(method: string, path: string): RouteMatch<T> | undefined {
    for (const r of this.routes) {
      if (r.method !== 'ALL' && r.method !== method) continue;
      if (r.prefix === '/' || path === r.prefix || path.startsWith(`${r.prefix}/`) || path.startsWith(`${r.prefix}?`)) {
        return { handler: r.handler, prefix: r.prefix };
      }
    }
    return undefined;
  }
}
