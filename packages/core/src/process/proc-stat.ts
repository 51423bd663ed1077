/**
 * What Linux says about a process in `/proc/<pid>/stat`: whether it still runs (a zombie does not) and
 * when it started (field 22, clock ticks since boot). Records of daemons keep the start time, because
 * a SIGKILLed daemon cannot remove its record and Linux reuses pids (32,768 by default, threads
 * included): a record whose pid runs but started at another time names somebody else's process.
 * Off Linux, or where /proc cannot be read, nothing is known and callers fall back to the pid alone.
 */
import { readFileSync } from 'node:fs';

/** The fields of `/proc/<pid>/stat` after the command name (state first), or undefined. */
export function statFields(pid: number): string[] | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined;
  }
}

/** The start time in `fields` (see {@link statFields}), or undefined. */
export function startTicksIn(fields: string[] | null | undefined): number | undefined {
  const v = Number(fields?.[19]);
  return Number.isFinite(v) ? v : undefined;
}

/** A process's start time in clock ticks since boot (`/proc/<pid>/stat` field 22); undefined off Linux. */
export function startTicksOf(pid: number): number | undefined {
  return startTicksIn(statFields(pid));
}

/**
 * False when `pid` runs but started at another time than `startTicks` (it was reused); true when they
 * match, or when either side does not know.
 */
export function sameStart(pid: number, startTicks: number | undefined): boolean {
  if (startTicks === undefined) return true;
  const now = startTicksOf(pid);
  return now === undefined || now === startTicks;
}
