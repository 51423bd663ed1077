/**
 * captureCallable / loadCallable through the public API, as a library uses them: a library module
 * (test/fixtures/captured-lib.js) captures functions its user wrote in another module
 * (captured-fns.js: apache-arrow and a sibling module imported at the top) and runs them in tasks —
 * a function, an async function, a generator and a class — and on the driver; refs are plain data;
 * names a library provides are bound at load; what cannot ship is refused with a typed error.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { init, shutdown, get, captureCallable, loadCallable, InvalidArgumentError, SerializationError, type CallableRef } from '@samsara/ray';
import * as fns from './fixtures/captured-fns.js';
import { capture, runRef } from './fixtures/captured-lib.js';

type Out = { value: unknown; cached: boolean };

beforeAll(async () => {
  await init({ numCpus: 2 });
});
afterAll(async () => {
  await shutdown();
});

describe('captureCallable / loadCallable', () => {
  it('a function, async function, generator and class from another module run in tasks with their imports; cached per worker', async () => {
    const rows = capture(fns.rows) as CallableRef;
    expect(rows).toMatchObject({ kind: 'function', name: 'rows', generator: false });
    expect(rows.imports.map((i) => `${i.local}:${i.kind}:${i.exportName}`).sort()).toEqual(['tableFromArrays:bare:tableFromArrays', 'twice:file:default']);
    // Plain data: it survives JSON as it survives task arguments.
    const viaJson = JSON.parse(JSON.stringify(rows)) as CallableRef;
    const runs = await get([
      runRef.remote(viaJson, 'call', [1, 2, 3]),
      runRef.remote(capture(fns.total), 'call', [1, 2, 3]),
      runRef.remote(capture(fns.doubles), 'generator', 3),
      runRef.remote(capture(fns.Scaler), 'class', 10),
    ]);
    expect(runs.map((r) => (r as Out).value)).toEqual([3, 12, [0, 2, 4], [100, true]]);
    expect(runs.every((r) => (r as Out).cached)).toBe(true);
    expect(capture(fns.doubles)).toMatchObject({ kind: 'function', generator: true });
    expect(capture(fns.Scaler)).toMatchObject({ kind: 'class', name: 'Scaler' });
    // And on the driver.
    const total = await loadCallable<(xs: number[]) => Promise<number>>(capture(fns.total));
    expect(await total([4, 5])).toBe(18);
  });

  it('names a library provides are not refused, and are bound by loadCallable', async () => {
    expect(() => capture(fns.withBonus, { what: 'scorer' })).toThrow(/Cannot ship scorer withBonus .*closes over outer variable `bonus`/);
    const ref = capture(fns.withBonus, { what: 'scorer', provided: ['bonus'] }) as CallableRef;
    expect(((await get(runRef.remote(ref, 'call', 4, { bonus: 100 }))) as Out).value).toBe(108);
  });

  it('bad input - module-level values, non-functions, malformed refs and imports that fail are typed errors naming what failed', async () => {
    let err: unknown;
    try {
      capture(fns.closes, { what: 'map function' });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(SerializationError);
    expect((err as Error).message).toMatch(/^Cannot ship map function closes \(defined at .*captured-fns\.js.*\): it closes over outer variable `k`/);
    expect((err as SerializationError).hint).toMatch(/Pass those values as arguments \(a library function takes them as fnArgs/);
    expect(() => capture(fns.closes, { what: 'trainable', hint: "Pass those values in the trainable's config" })).toThrow(/Pass those values in the trainable's config, or export them/);
    expect(() => captureCallable(42)).toThrow(InvalidArgumentError);
    expect(() => captureCallable(fns.rows, { wat: 1 } as never)).toThrow(/captureCallable\(\): unknown option "wat".*Valid options: what, provided, hint/);
    await expect(loadCallable({ kind: 'function' } as never)).rejects.toThrow(/loadCallable\(\): not a CallableRef/);
    const rows = capture(fns.rows) as CallableRef;
    const missing = { ...rows, id: `${rows.id}-missing`, imports: rows.imports.map((i) => (i.local === 'twice' ? { ...i, module: '/nonexistent/twice.js', packageName: undefined, subpath: undefined } : i)) };
    await expect(get(runRef.remote(missing, 'call', [1]))).rejects.toThrow(/Cannot import `twice` \(default of \/nonexistent\/twice\.js\) for function rows on this worker: the file is not on this machine/);
  });
});
