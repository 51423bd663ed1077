/**
 * Dashboard logins: one-time codes (made for a holder of the cluster token by `rayts dashboard`, valid
 * for a short time and for one exchange) and the browser sessions they open (a random id kept in an
 * HttpOnly SameSite=Strict cookie). Both live in the head's memory only: a head restart logs everyone out.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';

/** Options of {@link LoginSessions}. */
export interface LoginSessionsOptions {
  /** How long a login code can be exchanged [120 000]. */
  readonly codeTtlMs?: number;
  /** How long a session lasts without use [12 h]. */
  readonly sessionIdleMs?: number;
  readonly now?: () => number;
}

/** The cookie that carries the session id. */
export const SESSION_COOKIE = 'rayts_session';
const MAX_CODES = 64;
const MAX_SESSIONS = 256;

export class LoginSessions {
  private readonly codes = new Map<string, number>();
  private readonly sessions = new Map<string, number>();
  private readonly codeTtlMs: number;
  private readonly idleMs: number;
  private readonly now: () => number;

  constructor(o: LoginSessionsOptions = {}) {
    this.codeTtlMs = o.codeTtlMs ?? 120_000;
    this.idleMs = o.sessionIdleMs ?? 12 * 3600_000;
    this.now = o.now ?? Date.now;
  }

  /** A new one-time login code and how long it is valid. */
  newCode(): { code: string; expiresInMs: number } {
    this.prune();
    while (this.codes.size >= MAX_CODES) this.codes.delete(this.codes.keys().next().value as string);
    const code = randomBytes(18).toString('base64url');
    this.codes.set(code, this.now() + this.codeTtlMs);
    return { code, expiresInMs: this.codeTtlMs };
  }

  /** Exchanges a code for a session id; undefined when the code is unknown, used or expired. */
  exchange(code: string): string | undefined {
    this.prune();
    let found: string | undefined;
    const a = Buffer.from(code);
    for (const c of this.codes.keys()) {
      const b = Buffer.from(c);
      if (a.length === b.length && timingSafeEqual(a, b)) found = c;
    }
    if (!found) return undefined;
    this.codes.delete(found);
    while (this.sessions.size >= MAX_SESSIONS) this.sessions.delete(this.sessions.keys().next().value as string);
    const id = randomBytes(32).toString('base64url');
    this.sessions.set(id, this.now() + this.idleMs);
    return id;
  }

  /** True for a live session id (and extends it). */
  check(id: string | undefined): boolean {
    if (!id) return false;
    const exp = this.sessions.get(id);
    if (exp === undefined) return false;
    if (exp < this.now()) {
      this.sessions.delete(id);
      return false;
    }
    this.sessions.set(id, this.now() + this.idleMs);
    return true;
  }

  end(id: string | undefined): void {
    if (id) this.sessions.delete(id);
  }

  private prune(): void {
    const t = this.now();
    for (const [c, exp] of this.codes) if (exp < t) this.codes.delete(c);
    for (const [s, exp] of this.sessions) if (exp < t) this.sessions.delete(s);
  }
}

/** The value of cookie `name` in a Cookie header. */
export function cookieValue(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const i = part.indexOf('=');
    if (i > 0 && part.slice(0, i).trim() === name) return part.slice(i + 1).trim();
  }
  return undefined;
}
