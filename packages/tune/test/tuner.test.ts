/**
 * The Tuner through the public API on an embedded cluster (2 CPUs): trials in placement groups,
 * schedulers and searchers end to end, files on disk, the CLI, bad input, failure restarts from a
 * checkpoint, and Tuner.restore after the driver was killed.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { init, shutdown, availableResources, kv, SchedulingError } from '@samsara/ray';
import {
  Tuner,
  tune,
  ASHAScheduler,
  HyperBandScheduler,
  MedianStoppingRule,
  PopulationBasedTraining,
  TPESearch,
  BasicVariantGenerator,
  MetricNotReportedError,
  TuneConfigError,
  TuneRestoreError,
  ResultGrid,
} from '@samsara/ray-tune';
import { slowTrainable } from './fixtures/interrupted-driver.mjs';
import { checkpointKinds } from './fixtures/trainables.js';

const here = fileURLToPath(new URL('.', import.meta.url));
const CLI = resolve(here, '../dist/cli.js');
const RAYTS = resolve(here, '../../core/dist/cli/main.js'); // `rayts tune …` runs rayts-tune git-style
let storage: string;

beforeAll(async () => {
  storage = mkdtempSync(join(tmpdir(), 'rayts-tune-'));
  await init({ numCpus: 2 });
});
afterAll(async () => {
  await shutdown();
  rmSync(storage, { recursive: true, force: true });
});

async function linear(config: { x: number; iters: number }, ctx: { report: (m: Record<string, unknown>, o?: { checkpoint?: unknown }) => Promise<void> }) {
  for (let i = 1; i <= config.iters; i++) await ctx.report({ score: config.x * i }, { checkpoint: { i } });
}

function lines(dir: string): Record<string, unknown>[] {
  return readFileSync(join(dir, 'result.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
}

describe('Tuner on an embedded cluster', { timeout: 180_000 }, () => {
  it('ASHA - prunes weak trials, writes params/results/checkpoints (keepCheckpoints), ResultGrid and the CLI see it', async () => {
    const grid = await new Tuner(linear, {
      paramSpace: { x: tune.uniform(0, 1), iters: 8 },
      tuneConfig: { metric: 'score', mode: 'max', numSamples: 6, maxConcurrentTrials: 2, scheduler: new ASHAScheduler({ maxT: 8, gracePeriod: 1, reductionFactor: 2 }), searchAlg: new BasicVariantGenerator({ seed: 3 }) },
      runConfig: { storagePath: storage, name: 'asha', keepCheckpoints: 2, verbose: 0 },
    }).fit();
    expect(grid.length).toBe(6);
    expect(grid.errors).toEqual([]);
    const iters = [...grid].map((r) => r.metrics.training_iteration as number);
    expect(iters.some((i) => i < 8)).toBe(true); // pruned
    expect(iters.some((i) => i === 8)).toBe(true);
    for (const r of grid) {
      expect(r.status).toBe('TERMINATED');
      expect(JSON.parse(readFileSync(join(r.path, 'params.json'), 'utf8'))).toEqual(r.config);
      const h = lines(r.path);
      expect(h.map((x) => x.training_iteration)).toEqual(Array.from({ length: h.length }, (_, i) => i + 1));
      expect(h[0].telemetry).toEqual([expect.objectContaining({ bundle: 0, nodeId: expect.any(String) })]);
      const cks = readdirSync(r.path).filter((d) => d.startsWith('checkpoint_'));
      expect(cks.length).toBe(Math.min(2, h.length));
      expect(r.checkpoint!.load()).toEqual({ i: h.length });
    }
    const best = grid.getBestResult();
    const full = [...grid].filter((r) => r.metrics.training_iteration === 8);
    expect(best.config.x).toBe(Math.max(...full.map((r) => r.config.x as number)));
    expect(grid.toTable()).toMatch(/6 trials: 6 TERMINATED/);
    const state = JSON.parse(readFileSync(join(storage, 'asha', 'experiment_state.json'), 'utf8'));
    expect(state.finished).toBe(true);
    expect(state.scheduler.type).toBe('ASHAScheduler');
    // the dashboard's Tune page reads this section from the cluster KV
    const section = JSON.parse(String(await kv.get('dashboard', 'section/tune/asha')));
    expect(section.title).toBe('Tune experiment asha');
    expect(section.note).toMatch(/^finished · 6 trials \(6 TERMINATED\)/);
    expect(section.rows.map((r: unknown[]) => r[0]).sort()).toEqual([...grid].map((r) => r.trialId).sort());

    const run = promisify(execFile);
    const show = await run(process.execPath, [CLI, 'show', join(storage, 'asha')]);
    expect(show.stdout).toContain(`best trial: ${best.trialId}`);
    expect(show.stdout).toMatch(/plot: .*score\.svg/);
    const svg = readFileSync(join(storage, 'asha', 'score.svg'), 'utf8');
    expect(svg.match(/<polyline|<circle/g)!.length).toBe(6);
    const list = await run(process.execPath, [RAYTS, 'tune', 'list', storage]);
    expect(list.stdout).toMatch(/asha {2}6 trials \(6 TERMINATED\)/);
    const bad = await run(process.execPath, [CLI, 'show', storage]).catch((e) => e);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('is not an experiment directory');
  });

  it('HyperBand, MedianStoppingRule and TPE - each through the Tuner', async () => {
    const seq = { metric: 'score', mode: 'max' as const, maxConcurrentTrials: 1 };
    const hb = await new Tuner(linear, {
      paramSpace: { x: tune.gridSearch([0.9, 0.1, 0.05]), iters: 9 },
      tuneConfig: { ...seq, scheduler: new HyperBandScheduler({ maxT: 9, reductionFactor: 3, brackets: 1 }) },
      runConfig: { storagePath: storage, name: 'hyperband', verbose: 0 },
    }).fit();
    const hbIters = Object.fromEntries([...hb].map((r) => [r.config.x, r.metrics.training_iteration]));
    expect(hbIters).toEqual({ 0.9: 9, 0.1: 1, 0.05: 1 }); // below the first rung's cutoff (set by 0.9)

    const med = await new Tuner(linear, {
      paramSpace: { x: tune.gridSearch([0.9, 0.8, 0.1, 0.7]), iters: 5 },
      tuneConfig: { ...seq, scheduler: new MedianStoppingRule({ timeAttr: 'training_iteration', gracePeriod: 2, minSamplesRequired: 2 }) },
      runConfig: { storagePath: storage, name: 'median', verbose: 0 },
    }).fit();
    const medIters = Object.fromEntries([...med].map((r) => [r.config.x, r.metrics.training_iteration]));
    expect(medIters).toEqual({ 0.9: 5, 0.8: 5, 0.1: 2, 0.7: 5 });

    const tpe = async (name: string) =>
      new Tuner(async (c: { x: number; k: string }, ctx: { report: (m: Record<string, unknown>) => Promise<void> }) => ctx.report({ score: -((c.x - 0.3) ** 2) + (c.k === 'b' ? 1 : 0) }), {
        paramSpace: { x: tune.uniform(0, 1), k: tune.choice(['a', 'b']) },
        tuneConfig: { ...seq, numSamples: 6, searchAlg: new TPESearch({ seed: 42, nStartupTrials: 3 }) },
        runConfig: { storagePath: storage, name, verbose: 0 },
      }).fit();
    const [a, b] = [await tpe('tpe-a'), await tpe('tpe-b')];
    expect(a.length).toBe(6);
    expect([...a].map((r) => r.config)).toEqual([...b].map((r) => r.config)); // seeded runs repeat exactly
  });

  it('PBT - a bottom trial continues from a top trial’s checkpoint with a perturbed config', async () => {
    const pbt = new PopulationBasedTraining({ timeAttr: 'training_iteration', perturbationInterval: 2, quantileFraction: 0.5, resampleProbability: 0, seed: 2, hyperparamMutations: { lr: [0.01, 0.1, 0.5, 1] } });
    const grid = await new Tuner(
      async (c: { lr: number }, ctx: { checkpoint: unknown; report: (m: Record<string, unknown>, o?: { checkpoint?: unknown }) => Promise<void> }) => {
        const ck = ctx.checkpoint as { w: number; step: number } | undefined;
        let w = ck ? ck.w : 0;
        for (let step = (ck?.step ?? 0) + 1; step <= (ck ? ck.step + 2 : 6); step++) {
          w += c.lr;
          await new Promise((r) => setTimeout(r, 120));
          await ctx.report({ w, from: ck ? ck.step : 0 }, { checkpoint: { w, step } });
        }
      },
      {
        paramSpace: { lr: tune.gridSearch([1, 0.01]) },
        tuneConfig: { metric: 'w', mode: 'max', maxConcurrentTrials: 2, scheduler: pbt },
        runConfig: { storagePath: storage, name: 'pbt', verbose: 0 },
      },
    ).fit();
    expect(pbt.numPerturbations).toBeGreaterThan(0);
    const weak = [...grid].find((r) => r.history().some((h) => (h.from as number) > 0));
    expect(weak).toBeDefined();
    expect(weak!.config.lr).not.toBe(0.01); // explored away from its start
    expect(grid.errors).toEqual([]);
  });

  it('stop criteria and timeBudgetS end trials as TERMINATED', async () => {
    const grid = await new Tuner(linear, {
      paramSpace: { x: 1, iters: 50 },
      tuneConfig: { metric: 'score', mode: 'max' },
      runConfig: { storagePath: storage, name: 'stop', stop: { score: 5 }, verbose: 0 },
    }).fit();
    expect(grid.get(0).metrics.score).toBe(5);
    expect(grid.get(0).status).toBe('TERMINATED');

    const forever = await new Tuner(
      async (_c: unknown, ctx: { report: (m: Record<string, unknown>) => Promise<void> }) => {
        for (let i = 0; ; i++) {
          await new Promise((r) => setTimeout(r, 50));
          await ctx.report({ i });
        }
      },
      { tuneConfig: { numSamples: 2 }, runConfig: { storagePath: storage, name: 'budget', timeBudgetS: 1.5, verbose: 0 } },
    ).fit();
    expect([...forever].map((r) => r.status)).toEqual(['TERMINATED', 'TERMINATED']);
    // both placement groups were removed: the node reports its CPUs free again
    for (let deadline = Date.now() + 30_000; (await availableResources()).CPU !== 2; ) {
      if (Date.now() > deadline) throw new Error(`CPUs not free after the time budget: ${JSON.stringify(await availableResources())}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  });

  it('bad input - unknown metric, a trainable that throws, resources no node offers: trials ERROR, others finish', async () => {
    const grid = await new Tuner(
      async (c: { mode: string }, ctx: { report: (m: Record<string, unknown>) => Promise<void> }) => {
        function explodeInTrainable(): never {
          throw new RangeError(`boom in ${c.mode}`);
        }
        if (c.mode === 'throw') explodeInTrainable();
        if (c.mode === 'nometric') await ctx.report({ loss: 1 });
        else await ctx.report({ acc: 1 });
      },
      { paramSpace: { mode: tune.gridSearch(['ok', 'throw', 'nometric', 'ok']) }, tuneConfig: { metric: 'acc', mode: 'max', maxConcurrentTrials: 2 }, runConfig: { storagePath: storage, name: 'bad', verbose: 0 } },
    ).fit();
    expect([...grid].map((r) => r.status)).toEqual(['TERMINATED', 'ERROR', 'ERROR', 'TERMINATED']);
    const [threw, nometric] = grid.errors;
    expect(threw.error.message).toContain('RangeError: boom in throw');
    expect(threw.stack).toContain('explodeInTrainable');
    expect(existsSync(join(grid.get(1).path, 'error.txt'))).toBe(true);
    expect(nometric.error.message).toContain('reported a result without the metric "acc" (it reported: loss');

    const camera = await new Tuner(linear, {
      paramSpace: { x: 1, iters: 1 },
      tuneConfig: { numSamples: 2 },
      resourcesPerTrial: [{ CPU: 1 }, { camera: 1 }],
      runConfig: { storagePath: storage, name: 'nocamera', verbose: 0 },
    }).fit();
    expect(camera.errors).toHaveLength(2);
    expect(camera.errors[0].error.message).toMatch(/needs resourcesPerTrial\[1\] = \{"camera":1\}, which no alive node offers.*rayts-edge/);
    const state = JSON.parse(readFileSync(join(storage, 'nocamera', 'experiment_state.json'), 'utf8'));
    expect(state.trials[0].error.code).toBe(new SchedulingError('x').code);

    expect(() => new Tuner(linear, { tuneConfig: { mode: 'max' } })).toThrow(TuneConfigError);
    expect(() => new Tuner(linear, { tuneConfig: { metrc: 'a' } as never })).toThrow(/unknown option "metrc".*Valid options: metric, mode/);
    expect(() => new Tuner(linear, { resourcesPerTrial: [] })).toThrow(/non-empty list of bundles/);
    expect(() => grid.getBestResult('nope')).toThrow(MetricNotReportedError);
    expect(() => Tuner.restore(join(storage, 'missing'), linear)).toThrow(TuneRestoreError);
    const k = 3;
    await expect(new Tuner(async (_c: unknown, ctx: { report: (m: Record<string, unknown>) => Promise<void> }) => ctx.report({ k }), { runConfig: { storagePath: storage, name: 'closure', verbose: 0 } }).fit()).rejects.toThrow(
      /The trainable cannot run on the cluster: Cannot ship trainable .*closes over outer variable `k`/,
    );
  });

  it('maxFailures - a failed trial restarts from its last checkpoint', async () => {
    const grid = await new Tuner(
      async (_c: unknown, ctx: { checkpoint: unknown; report: (m: Record<string, unknown>, o?: { checkpoint?: unknown }) => Promise<void> }) => {
        const start = (ctx.checkpoint as { i: number } | undefined)?.i ?? 0;
        for (let i = start + 1; i <= 5; i++) {
          await ctx.report({ i, restored: start > 0 }, { checkpoint: { i } });
          if (i === 3 && start === 0) throw new Error('flaky node');
        }
      },
      { runConfig: { storagePath: storage, name: 'retry', failureConfig: { maxFailures: 1 }, verbose: 0 } },
    ).fit();
    const r = grid.get(0);
    expect(r.status).toBe('TERMINATED');
    expect(grid.state.trials[0].numFailures).toBe(1);
    expect(r.history().map((h) => [h.training_iteration, h.i, h.restored])).toEqual([[1, 1, false], [2, 2, false], [3, 3, false], [4, 4, true], [5, 5, true]]);
    expect(grid.state.trials[0].placements).toHaveLength(2); // a new placement group for the restart
  });

  it('checkpoints - bytes and directories travel to the driver and back to a restarted run', async () => {
    const grid = await new Tuner(
      checkpointKinds,
      { paramSpace: { kind: tune.gridSearch(['bytes', 'dir']) }, runConfig: { storagePath: storage, name: 'ckkinds', failureConfig: { maxFailures: 1 }, verbose: 0 } },
    ).fit();
    expect(grid.errors).toEqual([]);
    expect([...grid].map((r) => r.metrics.byte)).toEqual([7, 42]);
    expect(grid.get(0).checkpoint!.load()).toEqual(Uint8Array.of(7, 8, 9));
    expect(readFileSync(join((grid.get(1).checkpoint!.load() as { directory: string }).directory, 'sub', 'w.bin'))[0]).toBe(42);
  });

  it('Tuner.restore - resumes an experiment whose driver was killed, without re-running finished trials', async () => {
    const name = 'interrupted';
    const dir = join(storage, name);
    const child = spawn(process.execPath, [join(here, 'fixtures', 'interrupted-driver.mjs'), storage, name], { stdio: 'ignore' });
    const exited = new Promise((r) => child.once('exit', r));
    const stateNow = () => {
      try {
        return JSON.parse(readFileSync(join(dir, 'experiment_state.json'), 'utf8')) as { trials: { trialId: string; status: string; checkpoints: unknown[] }[] };
      } catch {
        return undefined;
      }
    };
    // wait (on the experiment's own state file) until some trials finished and one runs with a checkpoint
    for (;;) {
      const s = stateNow();
      if (s && s.trials.filter((t) => t.status === 'TERMINATED').length >= 2 && s.trials.some((t) => t.status === 'RUNNING' && t.checkpoints.length > 0)) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    child.kill('SIGKILL');
    await exited;
    const before = stateNow()!;
    const done = before.trials.filter((t) => t.status === 'TERMINATED').map((t) => t.trialId);
    const linesBefore = Object.fromEntries(done.map((id) => [id, readFileSync(join(dir, `trial_${id}`, 'result.jsonl'), 'utf8')]));

    const grid = await Tuner.restore(dir, slowTrainable, { runConfig: { verbose: 0 } }).fit();
    expect(grid.length).toBe(6);
    expect([...grid].map((r) => r.status)).toEqual(Array(6).fill('TERMINATED'));
    for (const id of done) expect(readFileSync(join(dir, `trial_${id}`, 'result.jsonl'), 'utf8')).toBe(linesBefore[id]);
    const resumed = [...grid].filter((r) => r.history().some((h) => h.restored === true));
    expect(resumed.length).toBeGreaterThan(0);
    for (const r of grid) expect(r.metrics.step).toBe(4);
    expect(ResultGrid.fromPath(dir).state.finished).toBe(true);
  });
});
