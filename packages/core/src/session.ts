/**
 * Session directories. The head creates one per cluster start:
 *   <root>/session_<date>_<pid>/{token (0600), head.json, logs/, runtime_resources/, spill/}
 * and points <root>/session_latest at it. Nodes and drivers on the same machine read the token and the
 * head address from there; elsewhere they take RAYTS_TOKEN or --token.
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, readdirSync, readlinkSync, rmSync, statSync, symlinkSync, writeFileSync, renameSync } from 'node:fs';
import { basename, join } from 'node:path';
import { sessionsRoot, AuthenticationError } from '@samsara/ray-common';
import { recordedRunning, runningStat, startTicksOf } from './process/proc-stat.js';

export interface SessionInfo {
  readonly dir: string;
  readonly name: string;
}

/**
 * Creates a session directory. With `latest: false` it does not become `session_latest` yet: `rayts
 * start --head` marks it ({@link markLatest}) only once its head is ready, so a start that fails (port in
 * use) leaves the running cluster's session the latest.
 */
export function createSession(root = sessionsRoot(), opts: { latest?: boolean } = {}): SessionInfo {
  mkdirSync(root, { recursive: true, mode: 0o700 });
  const stamp = new Date().toISOString().replace(/[-:]/g, '').replace('T', '_').slice(0, 15);
  const name = `session_${stamp}_${process.pid}_${randomBytes(2).toString('hex')}`;
  const dir = join(root, name);
  mkdirSync(join(dir, 'logs'), { recursive: true, mode: 0o700 });
  if (opts.latest !== false) markLatest(dir, root);
  return { dir, name };
}

/** Points `<root>/session_latest` at `dir` (atomically: a rename of a fresh symlink). */
export function markLatest(dir: string, root = sessionsRoot()): void {
  const latest = join(root, 'session_latest');
  const tmp = `${latest}.${process.pid}`;
  try {
    rmSync(tmp, { force: true });
    symlinkSync(dir, tmp);
    renameSync(tmp, latest);
  } catch {
    /* best effort: a read-only root still works with explicit paths */
  }
}

/** The session the latest head on this machine created, if any. */
export function latestSessionDir(root = sessionsRoot()): string | undefined {
  const latest = join(root, 'session_latest');
  try {
    return readlinkSync(latest);
  } catch {
    return existsSync(latest) ? latest : undefined;
  }
}

/** Creates the cluster token file with mode 0600. */
export function writeToken(dir: string): string {
  const token = randomBytes(24).toString('base64url');
  const file = join(dir, 'token');
  writeFileSync(file, token + '\n', { mode: 0o600 });
  chmodSync(file, 0o600);
  return token;
}

export function tokenPath(dir: string): string {
  return join(dir, 'token');
}

/**
 * Finds the token: explicit value, then RAYTS_TOKEN, then the local session file — the session whose
 * head runs at `address` when one is given and found (two clusters on one machine), else the latest.
 * Throws AuthenticationError saying where it looked.
 */
export function resolveToken(explicit?: string, root = sessionsRoot(), address?: string): string {
  return resolveTokenSource(explicit, root, address).token;
}

/** A token and where it came from ("--token", "RAYTS_TOKEN", or the session's token file), for errors. */
export interface TokenSource {
  readonly token: string;
  readonly source: string;
}

/** {@link resolveToken}, also saying where the token came from. */
export function resolveTokenSource(explicit?: string, root = sessionsRoot(), address?: string): TokenSource {
  if (explicit) return { token: explicit, source: 'the token given (--token or init({ token }))' };
  if (process.env.RAYTS_TOKEN) return { token: process.env.RAYTS_TOKEN.trim(), source: 'RAYTS_TOKEN' };
  const matching = address ? sessionForAddress(address, root) : undefined;
  const dir = matching ?? latestSessionDir(root);
  if (dir && existsSync(tokenPath(dir))) {
    const why = matching ? `session ${basename(dir)}, whose head is at ${address}` : `session ${basename(dir)} (the latest on this machine${address ? `; no session here records a head at ${address}` : ''})`;
    return { token: readFileSync(tokenPath(dir), 'utf8').trim(), source: `${tokenPath(dir)} — ${why}` };
  }
  throw new AuthenticationError('No cluster token found: RAYTS_TOKEN is not set and there is no local session.', {
    hint: `Set RAYTS_TOKEN to the contents of <session>/token on the head (it printed the path at start), or pass --token. Looked in ${root}/session_latest/token.`,
  });
}

/** True while `pid` runs (a zombie does not count). */
export function pidAlive(pid: number): boolean {
  return !!pid && runningStat(pid, true) !== undefined;
}

/**
 * True while the head of this record runs: its pid is alive and started when the record says (a head
 * that was SIGKILLed leaves its record, and a later process may have its pid).
 */
export function headAlive(head: Pick<HeadRecord, 'pid' | 'startTicks'>): boolean {
  return !!head.pid && recordedRunning(head.pid, head.startTicks, true);
}

/** Session directories under `root` that have a head record, newest first (the latest link first). */
export function sessionsWithHead(root = sessionsRoot()): { dir: string; head: HeadRecord }[] {
  const latest = latestSessionDir(root);
  let names: string[] = [];
  try {
    names = readdirSync(root).filter((n) => n.startsWith('session_') && n !== 'session_latest');
  } catch {
    return [];
  }
  const out: { dir: string; head: HeadRecord; mtime: number }[] = [];
  for (const n of names) {
    const dir = join(root, n);
    const head = readHeadRecord(dir);
    if (!head) continue;
    let mtime = 0;
    try {
      mtime = statSync(join(dir, 'head.json')).mtimeMs;
    } catch {
      /* raced with a removal */
    }
    out.push({ dir, head, mtime: dir === latest ? Number.POSITIVE_INFINITY : mtime });
  }
  return out.sort((a, b) => b.mtime - a.mtime).map(({ dir, head }) => ({ dir, head }));
}

/** The session whose head was started at `address` (a running head first), if any. */
export function sessionForAddress(address: string, root = sessionsRoot()): string | undefined {
  const same = sessionsWithHead(root).filter((s) => sameAddress(s.head.address, address));
  return (same.find((s) => headAlive(s.head)) ?? same[0])?.dir;
}

/** The newest session whose head process is running on this machine, if any. */
export function liveSession(root = sessionsRoot()): { dir: string; head: HeadRecord } | undefined {
  return sessionsWithHead(root).find((s) => headAlive(s.head));
}

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '::1', '[::1]', '0.0.0.0']);

/** `a` and `b` name the same listener: equal, or the same port on loopback spellings. */
function sameAddress(a: string, b: string): boolean {
  if (a === b) return true;
  const ma = /^(.*):(\d+)$/.exec(a);
  const mb = /^(.*):(\d+)$/.exec(b);
  return !!ma && !!mb && ma[2] === mb[2] && LOOPBACK.has(ma[1]) && LOOPBACK.has(mb[1]);
}

export interface HeadRecord {
  address: string;
  pid: number;
  sessionDir: string;
  /** The dashboard's URL, when the head serves one. */
  dashboardUrl?: string;
  /** The head process's start time (clock ticks since boot, Linux), filled in by {@link writeHeadRecord}. */
  startTicks?: number;
}

export function writeHeadRecord(dir: string, rec: HeadRecord): void {
  const startTicks = rec.startTicks ?? startTicksOf(rec.pid);
  writeFileSync(join(dir, 'head.json'), JSON.stringify(startTicks === undefined ? rec : { ...rec, startTicks }), { mode: 0o600 });
}

export function readHeadRecord(dir: string): HeadRecord | undefined {
  try {
    return JSON.parse(readFileSync(join(dir, 'head.json'), 'utf8')) as HeadRecord;
  } catch {
    return undefined;
  }
}
