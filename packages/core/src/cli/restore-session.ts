/**
 * Which session `rayts start --head` continues. A session can be restored when its head died without
 * being stopped (a crash or SIGKILL): the latest session on this machine has a head record whose process
 * is no longer running (its pid is gone, or now belongs to a later process), a persisted head state,
 * and no stop marker. `rayts stop` and a clean head exit write the marker, so the next start after them
 * is a fresh session. See docs/head-restart.md.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { sessionsRoot } from '@samsara/ray-common';
import { headAlive, latestSessionDir, readHeadRecord, tokenPath, type HeadRecord } from '../session.js';
import { HEAD_STATE_FILE } from '../head/head-state-store.js';

/** Marker file: the session's head was stopped on purpose (never restored). */
export const HEAD_STOPPED_FILE = 'head-stopped.json';

export interface RestorableSession {
  readonly dir: string;
  readonly name: string;
  readonly head: HeadRecord;
  readonly host: string;
  readonly port: number;
  readonly token: string;
}

/** The latest session when its head crashed and can be restored, else undefined. */
export function findRestorableSession(root = sessionsRoot()): RestorableSession | undefined {
  const dir = latestSessionDir(root);
  if (!dir || !existsSync(join(dir, HEAD_STATE_FILE)) || existsSync(join(dir, HEAD_STOPPED_FILE))) return undefined;
  const head = readHeadRecord(dir);
  if (!head || !head.pid || headAlive(head)) return undefined;
  const m = /^(.*):(\d+)$/.exec(head.address);
  if (!m) return undefined;
  let token: string;
  try {
    token = readFileSync(tokenPath(dir), 'utf8').trim();
  } catch {
    return undefined;
  }
  return { dir, name: basename(dir), head, host: m[1], port: Number(m[2]), token };
}


/** Marks a session's head as stopped on purpose, so the next `rayts start --head` starts fresh. */
export function markHeadStopped(sessionDir: string, why: string): void {
  try {
    writeFileSync(join(sessionDir, HEAD_STOPPED_FILE), JSON.stringify({ why, atMs: Date.now() }), { mode: 0o600 });
  } catch {
    /* the session directory is gone: nothing to restore anyway */
  }
}
