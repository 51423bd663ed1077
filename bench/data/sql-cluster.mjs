/**
 * The data bench's cluster, started with the rayts CLI in a private RAYTS_TMPDIR: a head without CPUs
 * and two worker nodes of 1 CPU and `spark_executor: 1` each (one SQL executor per node). Used by
 * run.mjs and sql-phases.mjs.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { shutdown } from '@samsara/ray';
import { CLI, freePort } from '../lib/loopback-cluster.mjs';

/**
 * Starts the cluster; `cli(args)` runs `rayts …` against it (throws on a non-zero exit), `stop()` ends
 * this process's connection and the cluster (best effort; the caller removes `tmp`).
 */
export async function startSqlCluster(prefix) {
  const tmp = mkdtempSync(join(tmpdir(), prefix));
  const env = { ...process.env, RAYTS_TMPDIR: tmp };
  const cli = (args) => {
    const r = spawnSync(process.execPath, [CLI, ...args], { env, encoding: 'utf8', timeout: 120_000 });
    if (r.status !== 0) throw new Error(`rayts ${args.join(' ')}: ${r.stderr}${r.stdout}`);
    return r.stdout;
  };
  const port = await freePort();
  cli(['start', '--head', '--port', String(port), '--num-cpus', '0']);
  for (let i = 0; i < 2; i++) cli(['start', '--address', `127.0.0.1:${port}`, '--num-cpus', '1', '--resources', '{"spark_executor":1}']);
  const token = readFileSync(join(tmp, 'session_latest', 'token'), 'utf8').trim();
  const stop = async () => {
    await shutdown().catch(() => {});
    try {
      cli(['stop']);
    } catch {
      /* best effort */
    }
  };
  return { tmp, cli, stop, address: `127.0.0.1:${port}`, token };
}
