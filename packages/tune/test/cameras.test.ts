/**
 * Camera in the loop, end to end, on a CLI cluster: a head (2 CPUs) and two `rayts-edge` agents with
 * `camera: 1`, as separate processes. examples/tune-cameras.mjs trains a small MLP on worker CPUs with
 * the edge runtime's trainer, quantizes it to int8 and evaluates the artifact on the trial's camera;
 * ASHA prunes. One agent is killed mid-run: the experiment still finishes, the trial that was on it
 * restarts from its checkpoint on the other camera.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { init, nodes, shutdown } from '@samsara/ray';
import { CliCluster, until } from '../../../test/helpers/cli-cluster.js';
import { ResultGrid } from '@samsara/ray-tune';

const here = fileURLToPath(new URL('.', import.meta.url));
const EDGE_CLI = resolve(here, '../../edge-agent/dist/cli.js');
let cluster: CliCluster;
let storage: string;
const agents: { proc: ChildProcess; nodeId: string; device: string }[] = [];

async function startAgent(device: string): Promise<void> {
  const proc = spawn(process.execPath, [EDGE_CLI, '--address', cluster.address, '--num-cpus', '0', '--resources', '{"camera":1}', '--labels', `device=${device}`], { env: cluster.env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  await until(() => /edge node ([0-9a-f]+) joined/.test(out) || proc.exitCode !== null, `rayts-edge ${device} to join`, 60_000);
  const m = /edge node ([0-9a-f]+) joined/.exec(out);
  if (!m) throw new Error(`rayts-edge ${device} failed: ${out}`);
  agents.push({ proc, nodeId: m[1], device });
}

beforeAll(async () => {
  storage = mkdtempSync(join(tmpdir(), 'rayts-tune-cam-'));
  cluster = await CliCluster.start({ numCpus: 2 }, []);
  await Promise.all([startAgent('cam-01'), startAgent('cam-02')]);
  await init({ address: cluster.address, token: cluster.token });
  await until(async () => (await nodes()).filter((n) => n.alive).length === 3, '3 alive nodes', 60_000);
}, 120_000);

afterAll(async () => {
  await shutdown();
  for (const a of agents) if (a.proc.exitCode === null) a.proc.kill('SIGKILL');
  await cluster?.stop();
  rmSync(storage, { recursive: true, force: true });
});

describe('Tune with cameras in the loop', () => {
  it('trains on CPUs, evaluates int8 artifacts on 2 edge agents, ASHA prunes, a killed camera’s trial migrates', async () => {
    // the example's experiment runs in its own driver process (as a user would run it)
    const driver = spawn(process.execPath, [join(here, 'fixtures', 'cameras-driver.mjs'), cluster.address, storage], { env: cluster.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let driverOut = '';
    driver.stdout!.on('data', (d: Buffer) => (driverOut += d.toString()));
    driver.stderr!.on('data', (d: Buffer) => (driverOut += d.toString()));
    const exited = new Promise<number | null>((r) => driver.once('exit', r));
    const dir = join(storage, 'harsh-braking');
    // wait (on the experiment's state file) for a running trial with a checkpoint, then kill its camera
    let victim: { proc: ChildProcess; nodeId: string; device: string } | undefined;
    let victimTrial = '';
    await until(
      () => {
        try {
          const s = JSON.parse(readFileSync(join(dir, 'experiment_state.json'), 'utf8')) as { trials: { trialId: string; status: string; checkpoints: unknown[]; placements: { nodes: string[] }[] }[] };
          for (const t of s.trials) {
            const place = t.placements[t.placements.length - 1];
            if (t.status === 'RUNNING' && t.checkpoints.length >= 1 && place) {
              victim = agents.find((a) => a.nodeId === place.nodes[1]);
              victimTrial = t.trialId;
              if (victim) return true;
            }
          }
        } catch {
          /* not written yet */
        }
        return false;
      },
      'a running trial with a checkpoint on a camera',
      120_000,
    ).catch((e) => {
      let state = '';
      try {
        state = readFileSync(join(dir, 'experiment_state.json'), 'utf8');
      } catch {
        /* none */
      }
      throw new Error(`${(e as Error).message}; experiment state: ${state.slice(0, 4000)}`);
    });
    victim!.proc.kill('SIGKILL');
    const code = await Promise.race([exited, new Promise((r) => setTimeout(() => r('timeout'), 180_000))]);
    if (code === 'timeout') {
      driver.kill('SIGKILL');
      throw new Error(`the experiment did not finish in 180 s; driver output: ${driverOut}; state: ${readFileSync(join(dir, 'experiment_state.json'), 'utf8').slice(0, 6000)}`);
    }
    expect(code, driverOut).toBe(0);
    expect(driverOut).toMatch(/6 trials: 6 TERMINATED/);
    const grid = ResultGrid.fromPath(dir);

    expect(grid.errors.map((e) => e.error.message)).toEqual([]);
    expect([...grid].map((r) => r.status)).toEqual(Array(6).fill('TERMINATED'));
    // the victim's trial failed once and went on from its checkpoint on the surviving camera
    const v = grid.state.trials.find((t) => t.trialId === victimTrial)!;
    expect(v.numFailures).toBeGreaterThanOrEqual(1);
    const cams = v.placements.map((p) => p.nodes[1]);
    expect(cams[0]).toBe(victim!.nodeId);
    expect(cams[cams.length - 1]).not.toBe(victim!.nodeId);
    const hist = grid.results.find((r) => r.trialId === victimTrial)!.history();
    expect(hist.map((h) => h.epoch)).toEqual(hist.map((_, i) => i + 1)); // epochs continue after the restart, no gap
    // every evaluation ran on a camera, with the camera's telemetry kept next to the accuracy
    for (const r of grid) {
      for (const h of r.history()) {
        expect(agents.map((a) => a.nodeId)).toContain(h.cameraNode);
        const cam = (h.telemetry as { bundle: number; kind: string; device?: string; memUsedBytes?: number; cpuLoad?: number }[])[1];
        expect(cam).toMatchObject({ bundle: 1, kind: 'edge', device: expect.stringMatching(/^cam-0[12]$/) });
        expect(typeof cam.memUsedBytes).toBe('number');
        expect(typeof cam.cpuLoad).toBe('number');
        expect(h.artifactBytes).toBeGreaterThan(0);
      }
    }
    // ASHA pruned at least one of the tiny learning rates; the best trial learned the task
    expect([...grid].some((r) => (r.metrics.training_iteration as number) < 6)).toBe(true);
    const best = grid.getBestResult();
    expect(best.metrics.accuracy).toBeGreaterThan(0.85);
    expect([0.05, 0.1, 0.03]).toContain(best.config.lr);
  }, 240_000);
});
