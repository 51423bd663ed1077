/**
 * Imports of the entry script travel (issue 11 point 8). Driver scripts written to a temp project run
 * as child processes, embedded and against a CLI cluster (their tasks and actors placed on a worker
 * node): a remote function using `tableFromArrays` from apache-arrow and helpers from ./metrics.mjs
 * (named, default and namespace imports), an actor class using imports, functions of a package outside
 * the working directory (its own sibling module and apache-arrow), a user function handed to that
 * package, and `const k = 3` still refused with the hint. Also a TypeScript entry under tsx.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { CliCluster, until } from './helpers/cli-cluster.js';
import { init, get, shutdown } from '@samsara/ray';
import { arrowRows } from './fixtures/arrow-task.js';

const run = promisify(execFile);
let root: string;
let proj: string;

const METRICS = `
export function score(xs) { return xs.reduce((a, b) => a + b, 0) / xs.length; }
export default function half(x) { return x / 2; }
export const NAME = 'metrics-v1';
`;

// A library package outside the working directory (like packages/data/dist): it imports apache-arrow
// and its own sibling module, defines a remote function, and wraps functions its users hand it.
const LIB_INDEX = `
import { remote } from '@samsara/ray';
import { tableFromArrays } from 'apache-arrow';
import { twice } from './helper.js';
export const libRows = remote((xs) => twice(tableFromArrays({ x: Float64Array.from(xs) }).numRows));
export function applyRemote(fn, value, opts = {}) { return remote(fn).options(opts).remote(value); }
`;
const LIB_HELPER = `export function twice(n) { return n * 2; }\n`;

const MAIN = `
import { init, get, remote, actor, shutdown, runtimeContext } from '@samsara/ray';
import { tableFromArrays } from 'apache-arrow';
import * as arrow from 'apache-arrow';
import half, { score as mean } from './metrics.mjs';
import * as metrics from './metrics.mjs';
import { libRows, applyRemote } from '../mylib/dist/index.js';

const address = process.argv[2];
const opts = address ? { resources: { far: 1 } } : {};
await init(address ? { address, runtimeEnv: { workingDir: process.cwd() } } : { numCpus: 2, runtimeEnv: { workingDir: process.cwd() } });

const summarize = remote((xs) => {
  const t = tableFromArrays({ x: Float64Array.from(xs) });
  return { rows: t.numRows, mean: mean(xs), half: half(t.numRows), name: metrics.NAME, isTable: t instanceof arrow.Table, node: runtimeContext().nodeId };
});

class Scorer {
  constructor() { this.seen = []; }
  add(xs) { this.seen.push(mean(xs)); return tableFromArrays({ s: Float64Array.from(this.seen) }).numRows; }
  where() { return runtimeContext().nodeId; }
}
const ScorerActor = actor(Scorer);

const k = 3;
const scaled = remote((x) => x * k);
try { scaled.remote(1); console.log('SUBMITTED'); } catch (e) { console.log('REFUSED ' + e.name + ': ' + e.message); }

console.log('RESULT ' + JSON.stringify(await get(summarize.options(opts).remote([1, 2, 3, 6]))));
const s = ScorerActor.options(opts).remote();
await get(s.add.remote([2, 4]));
console.log('ACTOR ' + (await get(s.add.remote([1]))) + ' ' + (await get(s.where.remote())));
console.log('LIB ' + (await get(libRows.options(opts).remote([1, 2, 3]))));
console.log('HANDED ' + (await get(applyRemote((xs) => mean(xs) + half(10), [4, 8], opts))));
await shutdown();
`;

const MAIN_TS = `
import { init, get, remote, shutdown } from '@samsara/ray';
import { tableFromArrays, type Table } from 'apache-arrow';
import { score } from './metrics.mjs';

interface Row { x: number }
await init({ numCpus: 1, runtimeEnv: { workingDir: process.cwd() } });
const rows = remote((items: Row[]): { rows: number; mean: number } => {
  const t: Table = tableFromArrays({ x: Float64Array.from(items.map((r) => r.x)) });
  return { rows: t.numRows, mean: score(items.map((r) => r.x)) };
});
console.log('TS ' + JSON.stringify(await get(rows.remote([{ x: 1 }, { x: 5 }]))));
await shutdown();
`;

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'rayts-imports-'));
  // Like a user's checkout: node_modules above both the project and the library package.
  symlinkSync(join(process.cwd(), 'node_modules'), join(root, 'node_modules'), 'dir');
  proj = join(root, 'proj');
  mkdirSync(proj);
  writeFileSync(join(proj, 'package.json'), JSON.stringify({ name: 'proj', type: 'module' }));
  writeFileSync(join(proj, 'metrics.mjs'), METRICS);
  writeFileSync(join(proj, 'main.mjs'), MAIN);
  writeFileSync(join(proj, 'main.ts'), MAIN_TS);
  mkdirSync(join(root, 'mylib', 'dist'), { recursive: true });
  writeFileSync(join(root, 'mylib', 'package.json'), JSON.stringify({ name: 'mylib', type: 'module', main: 'dist/index.js' }));
  writeFileSync(join(root, 'mylib', 'dist', 'index.js'), LIB_INDEX);
  writeFileSync(join(root, 'mylib', 'dist', 'helper.js'), LIB_HELPER);
});

afterAll(() => {
  if (root) rmSync(root, { recursive: true, force: true });
});

async function node(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ stdout: string; stderr: string }> {
  try {
    return await run(process.execPath, args, { cwd: proj, env: { ...process.env, ...env }, timeout: 90_000 });
  } catch (e) {
    const err = e as { stdout?: string; stderr?: string; message: string };
    return { stdout: err.stdout ?? '', stderr: `${err.stderr ?? ''}\n${err.message}` };
  }
}

function checkOutput(out: { stdout: string; stderr: string }): { node: string; actorNode: string } {
  const { stdout } = out;
  expect(stdout, out.stderr).toContain('RESULT ');
  const result = JSON.parse(/RESULT (.*)/.exec(stdout)![1]) as Record<string, unknown>;
  expect(result).toMatchObject({ rows: 4, mean: 3, half: 2, name: 'metrics-v1', isTable: true });
  const [, rows, actorNode] = /ACTOR (\d+) (\S+)/.exec(stdout)!;
  expect(rows).toBe('2');
  expect(stdout).toContain('LIB 6');
  expect(stdout).toContain('HANDED 11');
  // A module-level const still does not travel: refused at .remote() with the hint.
  expect(stdout).toMatch(/REFUSED SerializationError: Cannot ship remote function anonymous \(defined at .*main\.mjs:\d+\): it closes over outer variable `k`/);
  expect(stdout).toContain('Pass those values as arguments (a library function takes them as fnArgs / fnConstructorArgs)');
  expect(stdout).not.toContain('SUBMITTED');
  return { node: result.node as string, actorNode };
}

describe('imports travel', () => {
  it('imports - embedded: arrow, ./metrics.mjs (named, default, namespace), an actor class, a package outside the working dir', async () => {
    checkOutput(await node(['main.mjs']));
  });

  it('imports - in a vitest test, a remote function of a fixture module (test/fixtures/*.js) ships its apache-arrow import', async () => {
    await init({ numCpus: 1 });
    try {
      expect(await get(arrowRows.remote([1, 2, 3]))).toBe(3);
    } finally {
      await shutdown();
    }
  });

  it('imports - a TypeScript entry under tsx ships its imports (type-only imports dropped)', async () => {
    const r = await node(['--import', 'tsx', 'main.ts']);
    expect(r.stdout, r.stderr).toContain('TS {"rows":2,"mean":3}');
  });

  describe('on a CLI cluster', () => {
    let cluster: CliCluster;
    beforeAll(async () => {
      cluster = await CliCluster.start({ numCpus: 1 }, [{ numCpus: 2, resources: { far: 2 } }]);
    }, 60_000);
    afterAll(async () => {
      await cluster?.stop();
    });

    it('imports - a driver script joined to a CLI cluster: tasks and actors on the worker node import the same bindings', async () => {
      await until(async () => (await cluster.cli(['status'])).code === 0, 'the cluster answers');
      const out = await node(['main.mjs', cluster.address], { RAYTS_TOKEN: cluster.token, RAYTS_TMPDIR: cluster.tmp });
      const { node: taskNode, actorNode } = checkOutput(out);
      expect(taskNode).toBe(cluster.nodeIds[1]);
      expect(actorNode).toBe(cluster.nodeIds[1]);
    });
  });
});
