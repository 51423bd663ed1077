/**
 * The public API on the embedded local cluster (`init()` with no address), used the way a script would.
 */
import { afterAll, beforeAll, describe, expect, expectTypeOf, it } from 'vitest';
import { mkdtempSync, writeFileSync, mkdirSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { tableFromArrays, type Table } from 'apache-arrow';
import {
  init,
  shutdown,
  remote,
  get,
  put,
  wait,
  cancel,
  free,
  nodes,
  runtimeContext,
  objectStoreStats,
  InvalidArgumentError,
  SerializationError,
  TaskCancelledError,
  NotInitializedError,
  ObjectLostError,
  TaskError,
  type ObjectRef,
} from '@samsara/ray';

describe('before init', () => {
  it('API - calls before init() fail with NotInitializedError that says what to call', async () => {
    const f = remote((x: number) => x);
    expect(() => f.remote(1)).toThrow(NotInitializedError);
    expect(() => f.remote(1)).toThrow(/Call `await init\(\)`/);
  });
});

describe('embedded cluster', () => {
  beforeAll(async () => {
    await init({ numCpus: 2, resources: { spark_executor: 1 } });
  });
  afterAll(async () => {
    await shutdown();
  });

  it('init - a second init() is refused unless ignoreReinitError', async () => {
    await expect(init()).rejects.toThrow(/already called/);
    await init({ ignoreReinitError: true });
  });

  it('remote - types flow from the function to the ref and the value', async () => {
    const square = remote((x: number) => x * x);
    const ref = square.remote(4);
    expectTypeOf(ref).toEqualTypeOf<ObjectRef<number>>();
    const v = await get(ref);
    expectTypeOf(v).toEqualTypeOf<number>();
    expect(v).toBe(16);
    const both = await get([square.remote(1), square.remote(2)] as const);
    expect(both).toEqual([1, 4]);
  });

  it('remote - async functions, many tasks, results in order', async () => {
    const f = remote(async (i: number) => {
      await new Promise((r) => setTimeout(r, 1));
      return i * 2;
    });
    const out = await get(Array.from({ length: 500 }, (_, i) => f.remote(i)));
    expect(out).toEqual(Array.from({ length: 500 }, (_, i) => i * 2));
  });

  it('runtimeContext - tasks see their node, job and task id', async () => {
    const ctx = remote(() => runtimeContext());
    const c = await get(ctx.remote());
    const [n] = await nodes();
    expect(c.nodeId).toBe(n.nodeId);
    expect(c.workerKind).toBe('task');
    expect(c.jobId).toBe(runtimeContext().jobId);
    expect(c.taskId).not.toBe(runtimeContext().taskId);
  });

  it('closures - a function that closes over outer variables fails at .remote() naming it and the variable', () => {
    const factor = 3;
    const scale = remote(function scale(x: number) {
      return x * factor;
    });
    expect(() => scale.remote(2)).toThrow(SerializationError);
    expect(() => scale.remote(2)).toThrow(/remote function scale\d* \(defined at .*embedded\.test\.ts:\d+\): it closes over outer variable `factor`/);
  });

  it('options - malformed options are rejected at the call with the valid names', () => {
    const f = remote((x: number) => x);
    expect(() => f.options({ numCpus: -1 })).toThrow(InvalidArgumentError);
    expect(() => f.options({ numCpus: Number.NaN })).toThrow(/got NaN/);
    expect(() => f.options({ cpus: 1 } as never)).toThrow(/unknown option "cpus".*Valid options:/);
  });

  it('put/get - Arrow tables and typed arrays round-trip with equal contents', async () => {
    const t = tableFromArrays({ id: new Int32Array([1, 2, 3]), v: new Float64Array([0.5, 1, 1.5]) });
    const ref = await put(t);
    const sum = remote((tbl: Table) => (tbl.getChild('v')!.toArray() as Float64Array).reduce((a, b) => a + b, 0));
    expect(await get(sum.remote(ref))).toBe(3);
    const back = await get(ref);
    expect(back.numRows).toBe(3);
  });

  it('wait - numReturns and timeout', async () => {
    const sleep = remote(async (ms: number) => {
      await new Promise((r) => setTimeout(r, ms));
      return ms;
    });
    const refs = [sleep.remote(3000), sleep.remote(1), sleep.remote(2)];
    const { ready, notReady } = await wait(refs, { numReturns: 2, timeoutMs: 2500 });
    expect(ready).toHaveLength(2);
    expect(notReady).toEqual([refs[0]]);
    await expect(wait(refs, { numReturns: 4 })).rejects.toThrow(/numReturns must be an integer between 0 and 3/);
  });

  it('cancel - a queued task never runs and get rejects with TaskCancelledError', async () => {
    const block = remote(async (ms: number) => {
      await new Promise((r) => setTimeout(r, ms));
      return 'done';
    });
    // Fill both CPUs, then queue one more and cancel it.
    const busy = [block.remote(400), block.remote(400)];
    const queued = block.remote(1);
    await cancel(queued);
    await expect(get(queued)).rejects.toBeInstanceOf(TaskCancelledError);
    expect(await get(busy)).toEqual(['done', 'done']);
  });

  it('cancel - force stops a running task', async () => {
    const spin = remote(() => {
      const end = Date.now() + 60_000;
      while (Date.now() < end) {
        /* busy */
      }
      return 'finished';
    });
    const ref = spin.remote();
    await new Promise((r) => setTimeout(r, 300));
    await cancel(ref, { force: true });
    await expect(get(ref, { timeoutMs: 20_000 })).rejects.toBeInstanceOf(TaskCancelledError);
  });

  it('retries - a worker that exits is retried; with maxRetries 0 it fails with WorkerCrashedError', async () => {
    const crash = remote(() => {
      process.exit(3);
    });
    const err = await get(crash.options({ maxRetries: 0 }).remote()).catch((e: unknown) => e);
    expect((err as Error).name).toBe('WorkerCrashedError');
    expect((err as Error).message).toMatch(/died/);
  });

  it('retryExceptions - application errors are retried when asked', async () => {
    const key = `attempts-${Date.now()}`;
    const flaky = remote((k: string) => {
      const g = globalThis as unknown as Record<string, number>;
      g[k] = (g[k] ?? 0) + 1;
      if (g[k] < 3) throw new RangeError(`attempt ${g[k]}`);
      return g[k];
    });
    // One worker thread per CPU: attempts may land on different threads, so count per thread is ≤ 3.
    const v = await get(flaky.options({ retryExceptions: ['RangeError'], maxRetries: 10, numCpus: 2 }).remote(key));
    expect(v).toBe(3);
    const err = await get(flaky.options({ retryExceptions: false }).remote(`${key}-b`)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TaskError);
  });

  it('free - a freed object can no longer be read', async () => {
    const ref = await put({ big: 'x'.repeat(200_000) });
    expect((await get(ref)).big.length).toBe(200_000);
    const before = (await objectStoreStats()).numObjects;
    await free([ref]);
    expect((await objectStoreStats()).numObjects).toBe(before - 1);
    await expect(get(ref)).rejects.toBeInstanceOf(ObjectLostError);
  });
});

describe('working directory', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'rayts-wd-'));
    mkdirSync(join(dir, 'lib'));
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ type: 'module' }));
    // A user's project has its own node_modules; link ours so '@samsara/ray' resolves from it.
    symlinkSync(join(process.cwd(), 'node_modules'), join(dir, 'node_modules'), 'dir');
    writeFileSync(join(dir, 'lib', 'helper.mjs'), 'export const OFFSET = 100;\nexport function shift(x) { return x + OFFSET; }\n');
    writeFileSync(
      join(dir, 'lib', 'tasks.mjs'),
      "import { remote } from '@samsara/ray';\nimport { shift } from './helper.mjs';\nexport const shifted = remote((x) => shift(x) * 2);\nconst step = 7;\nexport const offsetBy = remote((x) => x + step);\n",
    );
    writeFileSync(join(dir, 'lib', 'model.ts'), "import { remote } from '@samsara/ray';\nimport { shift } from './helper.mjs';\nconst scale = (x: number): number => shift(x) * 3;\nexport const scaled = remote((x: number) => scale(x));\n");
    writeFileSync(
      join(dir, 'main.mjs'),
      "import { init, get, shutdown } from '@samsara/ray';\nimport { shifted } from './lib/tasks.mjs';\nawait init({ numCpus: 1, runtimeEnv: { workingDir: process.cwd() } });\nconsole.log('RESULT', await get(shifted.remote(1)));\nawait shutdown();\n",
    );
    writeFileSync(
      join(dir, 'main.ts'),
      "import { init, get, shutdown } from '@samsara/ray';\nimport { scaled } from './lib/model.ts';\nawait init({ numCpus: 1, runtimeEnv: { workingDir: process.cwd() } });\nconsole.log('RESULT', await get(scaled.remote(2)));\nawait shutdown();\n",
    );
    writeFileSync(
      join(dir, 'nodir.mjs'),
      "import { init, get, shutdown } from '@samsara/ray';\nimport { shifted, offsetBy } from './lib/tasks.mjs';\nawait init({ numCpus: 1 });\nconsole.log('RESULT', await get(shifted.remote(1)));\ntry { offsetBy.remote(1); console.log('SUBMITTED'); } catch (e) { console.log(e.name + ': ' + e.message); }\nawait shutdown();\n",
    );
  });
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  // Asynchronous: a child that runs for seconds must not block this test worker's event loop.
  const node = (args: string[]): Promise<{ stdout: string; stderr: string }> =>
    new Promise((resolve) => {
      execFile(process.execPath, args, { cwd: dir, encoding: 'utf8', timeout: 60_000 }, (_err, stdout, stderr) => resolve({ stdout, stderr }));
    });

  it('workingDir - a function defined in a module of the working dir runs with its imports', async () => {
    const r = await node(['main.mjs']);
    expect(r.stderr).toBe('');
    expect(r.stdout).toContain('RESULT 202');
  });

  it('workingDir - TypeScript modules work when the driver runs under tsx', async () => {
    const r = await node(['--import', 'tsx', 'main.ts']);
    expect(r.stdout).toContain('RESULT 306');
  });

  it('Arrow under tsx - tables the script makes come back whole from put/get and through a task (small and stored)', async () => {
    writeFileSync(
      join(dir, 'arrow.ts'),
      [
        "import { Table, tableFromArrays, tableToIPC } from 'apache-arrow';",
        "import { init, get, put, remote, shutdown } from '@samsara/ray';",
        'await init({ numCpus: 1 });',
        'const echo = remote((t: Table) => t);',
        'const out: string[] = [];',
        'for (const n of [4, 50_000]) {',
        "  const t = tableFromArrays({ label: Array.from({ length: n }, (_, i) => ['a', 'b', 'c'][i % 3]), x: Float64Array.from({ length: n }, (_, i) => i) });",
        "  const same = (u: Table) => u instanceof Table && Buffer.from(tableToIPC(u, 'stream')).equals(Buffer.from(tableToIPC(t, 'stream')));",
        '  out.push(`${n}:${same(await get(await put(t)))}:${same(await get(echo.remote(t)))}`);',
        '}',
        "console.log('ARROW', out.join(' '));",
        'await shutdown();',
      ].join('\n'),
    );
    const r = await node(['--import', 'tsx', 'arrow.ts']);
    expect(r.stdout).toContain('ARROW 4:true:true 50000:true:true');
  });

  it('workingDir - without a working dir an imported helper still travels (by path, same machine); a module-level const fails, naming it', async () => {
    const r = await node(['nodir.mjs']);
    expect(r.stdout).toContain('RESULT 202');
    expect(r.stdout).toMatch(/SerializationError: Cannot ship remote function anonymous \(defined at .*tasks\.mjs:5\): it closes over outer variable `step`/);
    expect(r.stdout).not.toContain('SUBMITTED');
  });
});
