/**
 * What `rayts start` started on this machine, so that `rayts stop` stops exactly that:
 * one JSON file per daemon under `<state>/processes/<pid>.json`.
 */
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { sessionsRoot } from '@samsara/ray-common';

export interface ProcessRecord {
  pid: number;
  role: 'head' | 'worker' | 'edge';
  address: string;
  sessionDir: string;
  startedAt: string;
}

function dir(): string {
  return join(sessionsRoot(), 'processes');
}

export function recordProcess(r: ProcessRecord): void {
  mkdirSync(dir(), { recursive: true, mode: 0o700 });
  writeFileSync(join(dir(), `${r.pid}.json`), JSON.stringify(r), { mode: 0o600 });
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
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return true;
  }
}
