/**
 * `rayts stop`: stops the rayts daemons this machine started (recorded by `rayts start`): SIGTERM,
 * then SIGKILL for any still alive after 10 s (or at once with --force). The sessions of the heads it
 * stops are marked stopped, so the next `rayts start --head` starts a fresh one.
 */
import { forgetProcess, isRecordedAlive, listProcesses } from './process-records.js';
import { parse } from './args.js';
import { markHeadStopped } from './restore-session.js';

export async function stop(argv: string[]): Promise<number> {
  const { values } = parse(argv, { force: { type: 'boolean' } }, 'rayts stop [--force]');
  const procs = listProcesses();
  const alive = procs.filter((p) => isRecordedAlive(p));
  // A stopped cluster is over: the next `rayts start --head` does not restore its session.
  for (const p of procs) if (p.role === 'head') markHeadStopped(p.sessionDir, 'rayts stop');
  for (const p of procs) if (!alive.includes(p)) forgetProcess(p.pid);
  if (alive.length === 0) {
    process.stdout.write('No rayts processes started on this machine are running.\n');
    return 0;
  }
  // Workers first, so the head does not see them as failures to recover from.
  alive.sort((a, b) => (a.role === 'head' ? 1 : 0) - (b.role === 'head' ? 1 : 0));
  for (const p of alive) {
    try {
      process.kill(p.pid, values.force ? 'SIGKILL' : 'SIGTERM');
    } catch {
      /* already gone */
    }
  }
  const deadline = Date.now() + (values.force ? 2000 : 10_000);
  while (alive.some((p) => isRecordedAlive(p)) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  let killed = 0;
  for (const p of alive) {
    if (isRecordedAlive(p)) {
      killed++;
      try {
        process.kill(p.pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
    forgetProcess(p.pid);
  }
  const roles = alive.map((p) => `${p.role} ${p.pid} (${p.address})`).join(', ');
  process.stdout.write(`Stopped ${alive.length} rayts process${alive.length > 1 ? 'es' : ''}: ${roles}${killed ? ` — ${killed} needed SIGKILL` : ''}.\n`);
  return 0;
}
