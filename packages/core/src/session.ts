/**
 * Session directories. The head creates one per cluster start:
 *   <root>/session_<date>_<pid>/{token (0600), head.json, logs/, runtime_resources/, spill/}
 * and points <root>/session_latest at it. Nodes and drivers on the same machine read the token and the
 * head address from there; elsewhere they take RAYTS_TOKEN or --token.
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, readlinkSync, rmSync, symlinkSync, writeFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { sessionsRoot, AuthenticationError } from '@samsara/ray-common';

export interface SessionInfo {
  readonly dir: string;
  readonly name: string;
}

export function createSession(root = sessionsRoot()): SessionInfo {
  mkdirSync(root, { recursive: true, mode: 0o700 });
  const stamp = new Date().toISOString().replace(/[-:]/g, '').replace('T', '_').slice(0, 15);
  const name = `session_${stamp}_${process.pid}_${randomBytes(2).toString('hex')}`;
  const dir = join(root, name);
  mkdirSync(join(dir, 'logs'), { recursive: true, mode: 0o700 });
  const latest = join(root, 'session_latest');
  const tmp = `${latest}.${process.pid}`;
  try {
    rmSync(tmp, { force: true });
    symlinkSync(dir, tmp);
    renameSync(tmp, latest);
  } catch {
    /* best effort: a read-only root still works with explicit paths */
  }
  return { dir, name };
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
 * Finds the token: explicit value, then RAYTS_TOKEN, then the local session file.
 * Throws AuthenticationError saying where it looked.
 */
export function resolveToken(explicit?: string, root = sessionsRoot()): string {
  if (explicit) return explicit;
  if (process.env.RAYTS_TOKEN) return process.env.RAYTS_TOKEN.trim();
  const dir = latestSessionDir(root);
  if (dir && existsSync(tokenPath(dir))) return readFileSync(tokenPath(dir), 'utf8').trim();
  throw new AuthenticationError('No cluster token found: RAYTS_TOKEN is not set and there is no local session.', {
    hint: `Set RAYTS_TOKEN to the contents of <session>/token on the head (it printed the path at start), or pass --token. Looked in ${root}/session_latest/token.`,
  });
}

export interface HeadRecord {
  address: string;
  pid: number;
  sessionDir: string;
  /** The dashboard's URL, when the head serves one. */
  dashboardUrl?: string;
}

export function writeHeadRecord(dir: string, rec: HeadRecord): void {
  writeFileSync(join(dir, 'head.json'), JSON.stringify(rec), { mode: 0o600 });
}

export function readHeadRecord(dir: string): HeadRecord | undefined {
  try {
    return JSON.parse(readFileSync(join(dir, 'head.json'), 'utf8')) as HeadRecord;
  } catch {
    return undefined;
  }
}
