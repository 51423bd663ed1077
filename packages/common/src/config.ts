/**
 * Cluster-wide defaults and the environment variables that override them. Resolved once into frozen
 * objects; components take what they need as constructor arguments.
 */
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';

/** Objects up to this size travel inline with replies instead of living in a store. */
export const INLINE_MAX_BYTES = 100 * 1024;
/** Default gRPC port of the head. */
export const DEFAULT_HEAD_PORT = 6380;
/** Largest gRPC message a daemon accepts (bounded input). */
export const MAX_MESSAGE_BYTES = 64 * 1024 * 1024;
/** Chunk size of object pulls between nodes. */
export const PULL_CHUNK_BYTES = 4 * 1024 * 1024;

export interface HealthConfig {
  /** How often a node reports to the head. */
  readonly heartbeatPeriodMs: number;
  /** A node whose reports stop for this long is declared dead. */
  readonly deadAfterMs: number;
}

/** Defaults: report every 1 s, dead after 15 s. `RAYTS_HEARTBEAT_MS` / `RAYTS_DEAD_AFTER_MS` override. */
export function healthConfig(env: NodeJS.ProcessEnv = process.env): HealthConfig {
  const period = Number(env.RAYTS_HEARTBEAT_MS ?? 1000);
  const dead = Number(env.RAYTS_DEAD_AFTER_MS ?? 15000);
  return Object.freeze({
    heartbeatPeriodMs: Number.isFinite(period) && period > 0 ? period : 1000,
    deadAfterMs: Number.isFinite(dead) && dead > 0 ? dead : 15000,
  });
}

/** Root of session directories: `$RAYTS_TMPDIR` or `<tmpdir>/rayts`. */
export function sessionsRoot(env: NodeJS.ProcessEnv = process.env): string {
  return env.RAYTS_TMPDIR ?? join(tmpdir(), 'rayts');
}

/** Where `rayts start` records what it started on this machine (for `rayts stop`). */
export function userStateDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.RAYTS_TMPDIR ?? join(homedir(), '.rayts');
}
