/**
 * apache-arrow is loaded on first use (packages/common/src/arrow.ts): Arrow values still cross every
 * path — put/get, task arguments and results (inline and stored), actor calls — and a worker thread
 * that never sees a table does not load the library.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Table, tableFromArrays } from 'apache-arrow';
import { init, shutdown, remote, actor, get, put, kill } from '@samsara/ray';

/** Shipped as source into an actor: which of the given packages V8 has parsed in this thread. */
class Probe {
  loaded(names: string[]): Promise<Record<string, boolean>> {
    const { Session } = process.getBuiltinModule('node:inspector') as typeof import('node:inspector');
    const s = new Session();
    s.connect();
    const urls: string[] = [];
    s.on('Debugger.scriptParsed', (m) => urls.push(m.params.url));
    return new Promise((resolve) => {
      s.post('Debugger.enable', () => {
        s.post('Debugger.disable', () => {
          s.disconnect();
          resolve(Object.fromEntries(names.map((n) => [n, urls.some((u) => u.includes(`/node_modules/${n}/`))])));
        });
      });
    });
  }
  sum(t: { getChild(n: string): { toArray(): ArrayLike<number> } | null }): number {
    return Array.from(t.getChild('v')!.toArray()).reduce((a, b) => a + b, 0);
  }
}

describe('Arrow loaded lazily', () => {
  beforeAll(async () => {
    await init({ numCpus: 2 });
  });
  afterAll(async () => {
    await shutdown();
  });

  it('actor - a thread that never sees a table loads neither apache-arrow nor pino', async () => {
    const P = actor(Probe);
    const p = P.remote();
    expect(await get(p.loaded.remote(['apache-arrow', 'pino', 'msgpackr']))).toEqual({ 'apache-arrow': false, pino: false, msgpackr: true });
    // Once a table reaches it, it loads Arrow and reads it.
    const t = tableFromArrays({ v: new Float64Array([1, 2, 3.5]) });
    expect(await get(p.sum.remote(t))).toBe(6.5);
    expect(await get(p.loaded.remote(['apache-arrow']))).toEqual({ 'apache-arrow': true });
    await kill(p);
  });

  it('put/get and tasks - small and large tables round-trip as instances of the caller\'s Table', async () => {
    const small = tableFromArrays({ id: new Int32Array([1, 2, 3]), v: new Float64Array([0.5, 1, 1.5]) });
    const n = 50_000; // 600 KB: stored as Arrow IPC, not inline
    const large = tableFromArrays({ id: Int32Array.from({ length: n }, (_, i) => i), v: new Float64Array(n).fill(0.5) });
    for (const t of [small, large]) {
      const ref = await put(t);
      const back = await get(ref);
      expect(back).toBeInstanceOf(Table);
      expect(back.numRows).toBe(t.numRows);
      // A task reads it and returns a table made from it in the worker thread.
      const tail = remote((tbl: Table) => tbl.slice(1));
      const out = await get(tail.remote(ref));
      expect(out).toBeInstanceOf(Table);
      expect(out.numRows).toBe(t.numRows - 1);
      expect(out.getChild('id')!.get(0)).toBe(t.getChild('id')!.get(1));
      // A table passed by value (not a ref) as an argument.
      const rows = remote((tbl: Table) => tbl.numRows);
      expect(await get(rows.remote(t))).toBe(t.numRows);
    }
  });
});
