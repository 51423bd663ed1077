/**
 * Issue 18: the lifecycle demo (examples/lifecycle.mjs, `npm run demo`) run as a user runs it — a child
 * process with small sizes that starts its own cluster (head, spark_executor worker, two rayts-edge dash
 * cams), runs Data → Tune → Serve, and stops everything. Checks the printed results: the JSON summary on
 * the last line (accuracy above chance, served answers identical to the offline int8 predictions, where
 * each stage ran) and that no process of its cluster is left afterwards.
 */
import { execFile, spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(fileURLToPath(new URL('.', import.meta.url)), '..');
const SCRIPT = join(ROOT, 'examples', 'lifecycle.mjs');

/** Pids of processes (of this user) whose environment carries RAYTS_TMPDIR=dir or whose command line names dir. */
function processesOf(dir: string): number[] {
  const out: number[] = [];
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const env = readFileSync(`/proc/${e}/environ`, 'utf8');
      const cmd = readFileSync(`/proc/${e}/cmdline`, 'utf8');
      const stat = readFileSync(`/proc/${e}/stat`, 'utf8');
      if (/\) Z /.test(stat)) continue; // a zombie has ended
      if (env.split('\0').includes(`RAYTS_TMPDIR=${dir}`) || cmd.includes(dir)) out.push(Number(e));
    } catch {
      /* gone, or not ours */
    }
  }
  return out;
}

function alive(pid: number): boolean {
  try {
    if (/\) Z /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'))) return false;
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('lifecycle demo (examples/lifecycle.mjs --small)', () => {
  it('runs Data → Tune on cameras → Serve on a cluster it starts, answers correctly, and leaves nothing running', async () => {
    const env = { ...process.env };
    delete env.RAYTS_ADDRESS;
    delete env.RAYTS_TOKEN;
    delete env.RAYTS_TMPDIR;
    const { code, stdout, stderr } = await new Promise<{ code: number; stdout: string; stderr: string }>((res) => {
      execFile(process.execPath, [SCRIPT, '--small', '--requests', '80'], { env, cwd: ROOT, maxBuffer: 16 << 20, timeout: 280_000 }, (err, stdout, stderr) =>
        res({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
      );
    });
    const lines = stdout.trim().split('\n');
    const summary = JSON.parse(lines[lines.length - 1]);
    expect({ code, ok: summary.ok, error: summary.error }, `${stdout.slice(-1500)}\n${stderr.slice(-4000)}`).toEqual({ code: 0, ok: true, error: undefined });

    // The cluster it started: head, a spark_executor worker, two dash cams.
    const kinds = summary.nodes.map((n: { kind: string }) => n.kind).sort();
    expect(kinds).toEqual(['edge', 'edge', 'head', 'worker']);
    const byId = new Map(summary.nodes.map((n: { nodeId: string }) => [n.nodeId, n]));
    const sparkNodes = summary.nodes.filter((n: { resources: Record<string, number> }) => n.resources.spark_executor).map((n: { nodeId: string }) => n.nodeId);
    const cameras = summary.nodes.filter((n: { resources: Record<string, number> }) => n.resources.camera).map((n: { nodeId: string }) => n.nodeId);

    // Data: every window read back, cleaning dropped some, the split covers the rest; featurize and SQL on spark_executor.
    expect(summary.data.rows).toBe(summary.sizes.windows);
    expect(summary.data.clean).toBeLessThan(summary.data.rows);
    expect(summary.data.clean).toBeGreaterThan(summary.data.rows * 0.8);
    expect(summary.data.train + summary.data.test).toBe(summary.data.clean);
    expect(summary.data.topVehicles).toHaveLength(5);
    for (const n of [...summary.data.mapNodes, ...summary.data.sqlNodes]) expect(sparkNodes).toContain(n);

    // Tune: every trial ran, trained on CPU nodes and evaluated on the cameras; the best is well above chance.
    expect(summary.tune.trials).toBe(summary.sizes.samples);
    expect(summary.tune.errors).toBe(0);
    for (const n of summary.tune.cameraNodes) expect(cameras).toContain(n);
    for (const n of summary.tune.trainNodes) expect((byId.get(n) as { kind: string }).kind).not.toBe('edge');
    const chance = Math.max(summary.data.positives, summary.data.test - summary.data.positives) / summary.data.test;
    expect(summary.tune.best.accuracy).toBeGreaterThan(chance);

    // Serve: every request answered, accuracy above chance, the same answers as the int8 model offline, batches > 1 seen.
    expect(summary.serve.requests).toBe(80);
    expect(summary.serve.accuracy).toBeGreaterThan(chance);
    expect(summary.serve.matchesOffline).toBe(1);
    expect(Math.max(...Object.keys(summary.serve.batchSizes).map(Number))).toBeGreaterThan(1);
    expect(Object.values(summary.serve.batchSizes as Record<string, number>).reduce((a, b) => a + b, 0)).toBe(80);
    expect(stdout).toMatch(/== What ran where/);

    // Nothing left: the daemons and agents it started are gone, and no process carries its RAYTS_TMPDIR.
    expect(summary.pids.length).toBeGreaterThanOrEqual(4);
    expect(summary.pids.filter(alive)).toEqual([]);
    expect(processesOf(summary.tmpdir)).toEqual([]);
    expect(existsSync(summary.tmpdir)).toBe(false);
  }, 300_000);
  it('Ctrl-C (SIGINT) in the middle of the data stage stops the cluster and the dash cams it started', async () => {
    const env = { ...process.env };
    delete env.RAYTS_ADDRESS;
    delete env.RAYTS_TOKEN;
    delete env.RAYTS_TMPDIR;
    const child = spawn(process.execPath, [SCRIPT, '--small'], { env, cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((res) => child.once('exit', (code) => res(code)));
    // the event to wait for: the script says the data stage started (cluster and cameras are up by then)
    await new Promise<void>((res, rej) => {
      const check = () => {
        if (/== 1\. Data/.test(out)) return res();
        if (child.exitCode !== null) return rej(new Error(`the script ended before the data stage: ${out}`));
      };
      child.stdout!.on('data', check);
      child.once('exit', check);
    });
    const tmp = /RAYTS_TMPDIR=(\S+?)\)/.exec(out)?.[1];
    expect(tmp).toBeTruthy();
    expect(processesOf(tmp!).length).toBeGreaterThanOrEqual(2);
    child.kill('SIGINT');
    expect(await exited).toBe(130);
    expect(out).toMatch(/SIGINT, stopping the cluster and the dash cams/);
    expect(processesOf(tmp!)).toEqual([]);
    expect(existsSync(tmp!)).toBe(false);
  }, 180_000);
  it('examples/lifecycle.yaml (the same pipeline as a workflow) validates: cluster → lifecycle job → gate → stop', async () => {
    const r = await new Promise<{ code: number; out: string }>((res) =>
      execFile(process.execPath, [join(ROOT, 'packages/core/dist/cli/main.js'), 'workflow', 'validate', join(ROOT, 'examples/lifecycle.yaml')], { cwd: ROOT }, (err, stdout, stderr) =>
        res({ code: err ? ((err as { code?: number }).code ?? 1) : 0, out: stdout + stderr }),
      ),
    );
    expect(r.out).toMatch(/is valid: workflow ml-lifecycle, 4 ops in order cluster -> lifecycle -> gate -> stop/);
    expect(r.code).toBe(0);
  });
});
