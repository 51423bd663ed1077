/**
 * What `rayts start` started on this machine, so that `rayts stop` stops exactly that:
 * one JSON file per daemon under `<state>/processes/<pid>.json`.
 *
 * A record outlives a daemon that was SIGKILLed (it cannot remove its own file), and Linux reuses pids
 * (32,768 of them by default, threads included), so a stale record can name an unrelated process that
 * got the same pid later. Each record keeps the process's start time (`/proc/<pid>/stat` field 22, in
 * clock ticks since boot) and {@link isRecordedAlive} compares it: `rayts stop` never signals a process
 * it did not start.
 */
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { sessionsRoot } from '@samsara/ray-common';
import { recordedRunning, runningStat, startTicksOf } from '../process/proc-stat.js';

export interface ProcessRecord {
  pid: number;
  role: 'head' | 'worker' | 'edge';
  address: string;
  sessionDir: string;
  startedAt: string;
  /** The process's start time in clock ticks since boot (Linux), filled in by {@link recordProcess}. */
  startTicks?: number;
}

function dir(): string {
  return join(sessionsRoot(), 'processes');
}

export function recordProcess(r: ProcessRecord): void {
  mkdirSync(dir(), { recursive: true, mode: 0o700 });
  const startTicks = r.startTicks ?? startTicksOf(r.pid);
  writeFileSync(join(dir(), `${r.pid}.json`), JSON.stringify(startTicks === undefined ? r : { ...r, startTicks }), { mode: 0o600 });
}

export function forgetProcess(pid: number): void {
  rmSync(join(dir(), `${pid}.json`), { force: true });
}

export function listProcesses(): ProcessRecord[] {
  let files: string[] = [];
  try {
    files = readdirSync(dir());
  } catch {
    return [];
  }
  const out: ProcessRecord[] = [];
  for (const f of files) {
    try {
      out.push(JSON.parse(readFileSync(join(dir(), f), 'utf8')) as ProcessRecord);
    } catch {
      rmSync(join(dir(), f), { force: true });
    }
  }
  return out;
}

/** True while `pid` runs. A zombie (exited, not yet reaped by its parent) counts as gone. */
export function isAlive(pid: number): boolean {
  return runningStat(pid) !== undefined;
}

/**
 * True while the recorded process runs: its pid is alive and, where the record and the system know it,
 * started at the recorded time (not a later process that reused the pid).
 */
export function isRecordedAlive(r: Pick<ProcessRecord, 'pid' | 'startTicks'>): boolean {
  return recordedRunning(r.pid, r.startTicks);
}
