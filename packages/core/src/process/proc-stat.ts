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
 * The stat fields of `pid` while it runs (null where /proc cannot tell), or undefined when it is gone
 * or a zombie. A pid this process may not signal (EPERM: another user's) counts as gone, or with
 * `othersRun` as running whatever its state.
 */
export function runningStat(pid: number, othersRun = false): string[] | null | undefined {
  let ours = true;
  try {
    process.kill(pid, 0);
  } catch (e) {
    if (!othersRun || (e as NodeJS.ErrnoException).code !== 'EPERM') return undefined;
    ours = false;
  }
  const fields = statFields(pid);
  if (!fields) return null;
  return ours && fields[0] === 'Z' ? undefined : fields;
}

/**
 * False when a running process's stat `fields` show another start time than `startTicks` (its pid was
 * reused); true when they match, or when either side does not know.
 */
function startedAt(fields: string[] | null, startTicks: number | undefined): boolean {
  if (startTicks === undefined) return true;
  const now = startTicksIn(fields);
  return now === undefined || now === startTicks;
}

/**
 * True while the process a record names runs: `pid` is running (see {@link runningStat}, `othersRun`
 * as there) and started at `startTicks` when the record kept it (not a later process given the pid).
 */
export function recordedRunning(pid: number, startTicks: number | undefined, othersRun = false): boolean {
  const fields = runningStat(pid, othersRun);
  return fields !== undefined && startedAt(fields, startTicks);
}
