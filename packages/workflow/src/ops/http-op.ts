/**
 * `http`: one HTTP request (e.g. to publish a dataset). An object or array `body` is sent as JSON.
 * Outputs `status`, `headers` and `body` (parsed when the response is JSON). A status outside
 * `okStatus` (default: any 2xx) fails the op.
 */
import type { OpContext } from './registry.js';

export interface HttpArgs {
  url: string;
  method?: string;
  headers?: Record<string, string>;
  body?: unknown;
  okStatus?: number[];
}

export const httpSchema = {
  args: {
    type: 'object',
    required: ['url'],
    additionalProperties: false,
    properties: {
      url: { type: 'string', pattern: '^https?://' },
      method: { enum: ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD'] },
      headers: { type: 'object', additionalProperties: { type: 'string' } },
      body: {},
      okStatus: { type: 'array', items: { type: 'integer' } },
    },
  },
  outputs: { type: 'object', properties: { status: { type: 'integer' }, headers: { type: 'object' }, body: {} } },
};

export async function httpOp(args: HttpArgs, ctx: OpContext): Promise<{ status: number; headers: Record<string, string>; body: unknown }> {
  const headers: Record<string, string> = { ...(args.headers ?? {}) };
  let body: string | undefined;
  if (args.body !== undefined) {
    if (typeof args.body === 'string') body = args.body;
    else {
      body = JSON.stringify(args.body);
      if (!Object.keys(headers).some((h) => h.toLowerCase() === 'content-type')) headers['content-type'] = 'application/json';
    }
  }
  const method = args.method ?? (body !== undefined ? 'POST' : 'GET');
  ctx.log(`${method} ${args.url}`);
  const res = await fetch(args.url, { method, headers, body, signal: ctx.signal });
  const text = await res.text();
  let parsed: unknown = text;
  if ((res.headers.get('content-type') ?? '').includes('json')) {
    try {
      parsed = JSON.parse(text);
    } catch {
      /* keep the text */
    }
  }
  ctx.log(`${res.status} ${res.statusText}`);
  const ok = args.okStatus ? args.okStatus.includes(res.status) : res.status >= 200 && res.status < 300;
  if (!ok) throw new Error(`${method} ${args.url} answered ${res.status} ${res.statusText}: ${text.slice(0, 300)}`);
  return { status: res.status, headers: Object.fromEntries(res.headers.entries()), body: parsed };
}
