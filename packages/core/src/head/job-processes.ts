/**
 * The processes of one submitted job, for stopping them all.
 *
 * Each entrypoint is spawned detached, which makes it the leader of a new session and process group
 * (setsid), both numbered by its pid. What it starts inherits the session even when it moves to another
 * process group (`set -m`, a shell pipeline, `setpgid`), so on Linux the job's processes are found by
 * scanning `/proc/<pid>/stat` for that session id. A process that calls setsid() itself (a daemon that
 * double-forks) leaves the session and is not found: a subreaper (prctl PR_SET_CHILD_SUBREAPER) would need
 * a native addon, and cgroups are not writable on the machines we run on; docs/jobs.md says so. Elsewhere
 * the process group is signalled.
 *
 * Linux does not reuse a pid while it still numbers a session or group, so a session id found here
 * cannot name another job's processes.
 */
import { readdirSync, readFileSync } from 'node:fs';

/** Pids in session `sid` (Linux: from /proc); empty when /proc cannot be read. */
export function sessionMembers(sid: number): number[] {
  if (process.platform !== 'linux' || sid <= 1) return [];
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return [];
  }
  const out: number[] = [];
  for (const e of entries) {
    if (e.charCodeAt(0) < 48 || e.charCodeAt(0) > 57) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${e}/stat`, 'latin1');
    } catch {
      continue; // gone meanwhile
    }
    // pid (comm) state ppid pgrp session ...: comm may hold spaces and parentheses, so parse after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (fields[0] === 'Z') continue;
    if (Number(fields[3]) === sid) out.push(Number(e));
  }
  return out;
}

/**
 * Sends `sig` to every process of the job whose entrypoint had pid `leader`: its process group, and on
 * Linux every process left in its session. Returns how many processes of the session were signalled
 * (0 when none is left, or off Linux).
 */
export function signalJobProcesses(leader: number, sig: NodeJS.Signals): number {
  if (leader <= 1) return 0;
  try {
    process.kill(-leader, sig);
  } catch {
    /* the group is empty or gone */
  }
  const members = sessionMembers(leader).filter((p) => p !== process.pid);
  for (const pid of members) {
    try {
      process.kill(pid, sig);
    } catch {
      /* exited meanwhile */
    }
  }
  return members.length;
}
