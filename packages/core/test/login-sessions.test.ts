import { describe, expect, it } from 'vitest';
import { LoginSessions, cookieValue } from '../src/dashboard/login-sessions.js';

describe('LoginSessions', () => {
  it('LoginSessions - a code opens one session, once, within its lifetime', () => {
    let now = 1_000;
    const s = new LoginSessions({ codeTtlMs: 100, sessionIdleMs: 1000, now: () => now });
    const { code, expiresInMs } = s.newCode();
    expect(expiresInMs).toBe(100);
    const id = s.exchange(code);
    expect(id).toMatch(/^[\w-]{40,}$/);
    expect(s.exchange(code)).toBeUndefined();
    expect(s.check(id)).toBe(true);
    const late = s.newCode().code;
    now += 101;
    expect(s.exchange(late)).toBeUndefined();
  });

  it('LoginSessions - a session ends after being idle, or on logout', () => {
    let now = 0;
    const s = new LoginSessions({ sessionIdleMs: 1000, now: () => now });
    const a = s.exchange(s.newCode().code)!;
    const b = s.exchange(s.newCode().code)!;
    now = 900;
    expect(s.check(a)).toBe(true); // use extends it
    now = 1500;
    expect(s.check(a)).toBe(true);
    expect(s.check(b)).toBe(false);
    s.end(a);
    expect(s.check(a)).toBe(false);
    expect(s.check(undefined)).toBe(false);
    expect(s.check('forged')).toBe(false);
  });

  it('cookieValue - finds the named cookie only', () => {
    expect(cookieValue('a=1; rayts_session=xyz; b=2', 'rayts_session')).toBe('xyz');
    expect(cookieValue('xrayts_session=1', 'rayts_session')).toBeUndefined();
    expect(cookieValue(undefined, 'rayts_session')).toBeUndefined();
  });
});
