/**
 * User code handed to the libraries keeps its imports (DESIGN.md "Code on other nodes"; core
 * captureCallable/loadCallable). User scripts written to a temp project run as drivers of a CLI cluster
 * (head + a worker node offering `far`), with `init({ runtimeEnv: { workingDir } })`, and import at
 * their top a relative helper module and apache-arrow: a Data mapBatches function using both, a Tune
 * trainable using `./model.mjs` (also as a `rayts job submit --working-dir` job), a Serve deployment
 * class calling an imported helper (HTTP over a real socket) — all placed on the worker node. A
 * module-level `const k = 3` is refused by each library, naming it.
 */
import { beforeAll, afterAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { useCliCluster } from './helpers/cli-cluster.js';

const run = promisify(execFile);
let root: string;
let proj: string;

const HELPER = `
export function scale(x) { return x * 10; }
export default function label(n) { return 'n=' + n; }
`;
const MODEL = `export function loss(lr, step) { return 1 / (1 + lr * step); }\n`;

// Every script joins the cluster given as argv[2] and ships its working directory.
const INIT = `
import { init, shutdown, runtimeContext } from '@samsara/ray';
await init({ address: process.argv[2], runtimeEnv: { workingDir: process.cwd() } });
`;

const DATA = `${INIT}
import * as data from '@samsara/ray-data';
import { tableFromArrays } from 'apache-arrow';
import label, { scale } from './helper.mjs';

const rows = await data.range(6, { parallelism: 2 }).mapBatches((batch) => {
  const ids = Array.from(batch.getChild('id').toArray(), Number);
  return tableFromArrays({ v: Float64Array.from(ids, scale), tag: ids.map(() => label(ids.length)), node: ids.map(() => runtimeContext().nodeId) });
}, { batchSize: null, resources: { far: 1 } }).takeAll();
console.log('DATA ' + JSON.stringify(rows));
await shutdown();
`;

const TUNE = `${INIT}
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Tuner, tune } from '@samsara/ray-tune';
import { loss } from './model.mjs';

const grid = await new Tuner(async (config, ctx) => {
  for (let step = 1; step <= 3; step++) await ctx.report({ loss: loss(config.lr, step), ranOn: runtimeContext().nodeId });
}, {
  paramSpace: { lr: tune.gridSearch([0.5, 1]) },
  tuneConfig: { metric: 'loss', mode: 'min' },
  resourcesPerTrial: [{ CPU: 1, far: 1 }],
  runConfig: { storagePath: mkdtempSync(join(tmpdir(), 'rayts-tune-imports-')), verbose: 0 },
}).fit();
const best = grid.getBestResult();
console.log('TUNE ' + JSON.stringify({ errors: grid.errors.map((e) => e.error.message), lr: best.config.lr, loss: best.metrics.loss, node: best.metrics.ranOn }));
await shutdown();
`;

const SERVE = `${INIT}
import { createServer } from 'node:net';
import { serve, deployment } from '@samsara/ray-serve';
import { tableFromArrays } from 'apache-arrow';
import label, { scale } from './helper.mjs';

const Scorer = deployment(class Scorer {
  fetch(req) {
    const x = Number(new URL(req.url).searchParams.get('x'));
    return { y: scale(x), label: label(x), rows: tableFromArrays({ a: [x, x, x] }).numRows, node: runtimeContext().nodeId };
  }
}, { rayActorOptions: { resources: { far: 1 } } });
const port = await new Promise((res) => { const s = createServer(); s.listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => res(p)); }); });
try {
  await serve.run(Scorer.bind(), { name: 'scorer', routePrefix: '/score', port });
  const res = await fetch('http://127.0.0.1:' + port + '/score?x=4');
  console.log('SERVE ' + res.status + ' ' + (await res.text()));
} finally {
  await serve.shutdown();
  await shutdown();
}
`;

// The same trainable as a submitted job: `rayts job submit --working-dir` ships the project and its
// driver's init() joins the cluster with that working directory.
const TUNE_JOB = TUNE.replace(INIT, `
import { init, shutdown, runtimeContext } from '@samsara/ray';
await init();
`);

// Nothing runs: each library refuses the callable where it is handed over.
const REFUSED = `${INIT}
import * as data from '@samsara/ray-data';
import { Tuner } from '@samsara/ray-tune';
import { deployment } from '@samsara/ray-serve';
import { scale } from './helper.mjs';

const k = 3;
const report = (what, f) => { try { f(); console.log(what + ' ACCEPTED'); } catch (e) { console.log(what + ' ' + e.name + ': ' + e.message); } };
report('DATA', () => data.range(3).map((r) => ({ x: scale(r.id) * k })));
report('SERVE', () => deployment(class Scaled { fetch() { return scale(k); } }));
try {
  await new Tuner(async (config, ctx) => ctx.report({ loss: scale(k) }), { runConfig: { verbose: 0 } }).fit();
  console.log('TUNE ACCEPTED');
} catch (e) { console.log('TUNE ' + e.name + ': ' + e.message); }
await shutdown();
`;

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'rayts-lib-imports-'));
  // Like a user's checkout: the packages installed in node_modules above the project.
  symlinkSync(join(process.cwd(), 'node_modules'), join(root, 'node_modules'), 'dir');
  proj = join(root, 'proj');
  mkdirSync(proj);
  writeFileSync(join(proj, 'package.json'), JSON.stringify({ name: 'proj', type: 'module' }));
  writeFileSync(join(proj, 'helper.mjs'), HELPER);
  writeFileSync(join(proj, 'model.mjs'), MODEL);
  for (const [f, text] of Object.entries({ 'data.mjs': DATA, 'tune.mjs': TUNE, 'tune-job.mjs': TUNE_JOB, 'serve.mjs': SERVE, 'refused.mjs': REFUSED })) writeFileSync(join(proj, f), text);
});

afterAll(() => {
  if (root) rmSync(root, { recursive: true, force: true });
});

const c = useCliCluster({ numCpus: 1 }, [{ numCpus: 2, resources: { far: 2 } }]);

/** Runs a script of the project as a driver of the cluster; its stdout (with stderr on failure). */
async function script(file: string): Promise<{ stdout: string; stderr: string }> {
  const env = { ...process.env, RAYTS_TOKEN: c.cluster.token, RAYTS_TMPDIR: c.cluster.tmp };
  try {
    return await run(process.execPath, [file, c.cluster.address], { cwd: proj, env, timeout: 90_000 });
  } catch (e) {
    const err = e as { stdout?: string; stderr?: string; message: string };
    return { stdout: err.stdout ?? '', stderr: `${err.stderr ?? ''}\n${err.message}` };
  }
}

function line(out: { stdout: string; stderr: string }, tag: string): string {
  const m = new RegExp(`^${tag} (.*)$`, 'm').exec(out.stdout);
  expect(m, `${tag} line missing\n${out.stdout}\n${out.stderr}`).not.toBeNull();
  return m![1];
}

describe('library user code with top-level imports, on a CLI cluster', () => {
  it('data - a mapBatches function using apache-arrow and ./helper.mjs runs on the worker node', async () => {
    const rows = JSON.parse(line(await script('data.mjs'), 'DATA')) as { v: number; tag: string; node: string }[];
    expect(rows.map((r) => r.v).sort((a, b) => a - b)).toEqual([0, 10, 20, 30, 40, 50]);
    expect(new Set(rows.map((r) => r.tag))).toEqual(new Set(['n=3']));
    expect(new Set(rows.map((r) => r.node))).toEqual(new Set([c.cluster.nodeIds[1]]));
  });

  it('tune - a trainable using ./model.mjs runs its trials on the worker node', async () => {
    const r = JSON.parse(line(await script('tune.mjs'), 'TUNE')) as { errors: string[]; lr: number; loss: number; node: string };
    expect(r).toEqual({ errors: [], lr: 1, loss: 0.25, node: c.cluster.nodeIds[1] });
  });

  it('tune - the same trainable submitted with rayts job submit --working-dir', async () => {
    const r = await c.cluster.cli(['job', 'submit', '--working-dir', proj, '--', 'node', 'tune-job.mjs']);
    expect(r.code, r.stderr + r.stdout).toBe(0);
    const m = /^TUNE (.*)$/m.exec(r.stdout);
    expect(m, r.stdout + r.stderr).not.toBeNull();
    expect(JSON.parse(m![1])).toEqual({ errors: [], lr: 1, loss: 0.25, node: c.cluster.nodeIds[1] });
  });

  it('serve - a deployment class calling imported helpers answers HTTP from a replica on the worker node', async () => {
    const [status, body] = line(await script('serve.mjs'), 'SERVE').split(/ (.*)/s);
    expect(status).toBe('200');
    expect(JSON.parse(body)).toEqual({ y: 40, label: 'n=4', rows: 3, node: c.cluster.nodeIds[1] });
  });

  it('a module-level const is refused by each library, naming the callable and `k`, with the hint', async () => {
    const out = await script('refused.mjs');
    expect(line(out, 'DATA')).toMatch(/^SerializationError: Cannot ship map\(\) function anonymous \(defined at .*refused\.mjs:\d+\): it closes over outer variable `k`.*Pass those values as arguments \(a library function takes them as fnArgs/);
    expect(line(out, 'SERVE')).toMatch(/^SerializationError: Cannot ship deployment class Scaled \(defined at .*refused\.mjs:\d+\): it closes over outer variable `k`.*Pass those values as arguments of \.bind\(\.\.\.\)/);
    expect(line(out, 'TUNE')).toMatch(/^TuneConfigError: The trainable cannot run on the cluster: Cannot ship trainable anonymous \(defined at .*refused\.mjs:\d+\): it closes over outer variable `k`.*in the trainable's config/);
    expect(out.stdout).not.toContain('ACCEPTED');
  });
});
