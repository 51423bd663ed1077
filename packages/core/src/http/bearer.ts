/**
 * The cluster token on HTTP: `Authorization: Bearer <token>`, compared in constant time. Shared by the
 * dashboard and the nodes' /metrics listeners.
 */
import type { IncomingMessage } from 'node:http';
import { timingSafeEqual } from 'node:crypto';

/** True when the request carries `Authorization: Bearer <token>` with this token. */
export function bearerOk(req: IncomingMessage, token: string): boolean {
  const h = req.headers.authorization;
  if (typeof h !== 'string' || !h.startsWith('Bearer ') || !token) return false;
  const a = Buffer.from(h.slice(7).trim());
  const b = Buffer.from(token);
  return a.length === b.length && timingSafeEqual(a, b);
}
