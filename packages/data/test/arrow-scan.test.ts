/**
 * The Arrow scan SQL executors use (rayts_arrow_scan): DuckDB reads registered Arrow tables in place and
 * sees exactly their values — numbers of every width, NULLs, booleans, strings, dates, sliced tables
 * (non-zero offsets), several record batches, a column the query does not read, dictionary-encoded strings,
 * and blocks whose column types differ from the first block's.
 */
import { describe, it, expect } from 'vitest';
import * as arrow from 'apache-arrow';
import { DuckDBInstance } from '@duckdb/node-api';
import { registerArrow, unregisterArrow } from '../src/io/arrow-scan.js';

async function conn() {
  return (await DuckDBInstance.create(':memory:', { threads: '1' })).connect();
}

describe('rayts_arrow_scan', () => {
  it('gives DuckDB the values of sliced, multi-batch tables with NULLs', async () => {
    const c = await conn();
    const n = 5000;
    const f = arrow.vectorFromArray(Array.from({ length: n }, (_, i) => (i % 7 === 0 ? null : i * 0.5)), new arrow.Float64());
    const i32 = arrow.makeVector(Int32Array.from({ length: n }, (_, i) => i - 2500));
    const i64 = arrow.makeVector(BigInt64Array.from({ length: n }, (_, i) => BigInt(i) * 3_000_000_000n));
    const b = arrow.vectorFromArray(Array.from({ length: n }, (_, i) => (i % 5 === 0 ? null : i % 2 === 0)), new arrow.Bool());
    const s = arrow.vectorFromArray(Array.from({ length: n }, (_, i) => (i % 11 === 0 ? null : `s${i}`)), new arrow.Utf8());
    const d = arrow.vectorFromArray(Array.from({ length: n }, (_, i) => new Date(Date.UTC(2024, 0, 1) + (i % 400) * 86_400_000)), new arrow.DateDay());
    const whole = new arrow.Table({ f, i32, i64, b, s, d });
    // A slice starting at an odd row (bitmaps not byte-aligned) and a second table of two batches.
    const first = whole.slice(1001, 3333);
    const second = new arrow.Table([...whole.slice(3333, 4000).batches, ...whole.slice(4000, 5000).batches]);
    await registerArrow(c, 't', [first]);
    await registerArrow(c, 't', [second], true);
    const rows = (await c.runAndReadAll('SELECT f, i32, i64, b, s, CAST(d AS VARCHAR) AS d FROM t')).getRowObjectsJS();
    expect(rows.length).toBe(n - 1001);
    for (const [k, r] of rows.entries()) {
      const i = k + 1001;
      expect(r.f).toBe(i % 7 === 0 ? null : i * 0.5);
      expect(r.i32).toBe(i - 2500);
      expect(r.i64).toBe(BigInt(i) * 3_000_000_000n);
      expect(r.b).toBe(i % 5 === 0 ? null : i % 2 === 0);
      expect(r.s).toBe(i % 11 === 0 ? null : `s${i}`);
      expect(r.d).toBe(new Date(Date.UTC(2024, 0, 1) + (i % 400) * 86_400_000).toISOString().slice(0, 10));
    }
    // Projection: a query reading one column sees the same sums.
    const agg = (await c.runAndReadAll('SELECT count(*), count(f), sum(i32) FROM t')).getRows()[0];
    let cf = 0;
    let si = 0;
    for (let i = 1001; i < n; i++) {
      if (i % 7 !== 0) cf++;
      si += i - 2500;
    }
    expect(agg.map(Number)).toEqual([n - 1001, cf, si]);
    await unregisterArrow(c, 't');
    await expect(c.run('SELECT * FROM t')).rejects.toThrow(/does not exist/);
    c.closeSync();
  });

  it('dictionary-encoded strings (apache-arrow makes them from JS strings) are read through their dictionary, sliced, with NULLs, mixed with plain strings', async () => {
    const c = await conn();
    const n = 3000;
    const words = Array.from({ length: n }, (_, i) => (i % 13 === 0 ? null : `w${i % 50}`));
    const dict = new arrow.Table({ i: arrow.makeVector(Int32Array.from({ length: n }, (_, i) => i)), s: arrow.vectorFromArray(words) });
    expect(dict.schema.fields[1].type.typeId).toBe(arrow.Type.Dictionary);
    const plain = new arrow.Table({ i: arrow.makeVector(Int32Array.from([n, n + 1])), s: arrow.vectorFromArray(['plain', null], new arrow.Utf8()) });
    await registerArrow(c, 'w', [dict.slice(7, 2500)]);
    await registerArrow(c, 'w', [plain, dict.slice(2500)], true);
    const rows = (await c.runAndReadAll('SELECT i, s FROM w ORDER BY i')).getRows();
    expect(rows.length).toBe(n - 7 + 2);
    for (const [i, s] of rows) {
      const k = Number(i);
      expect(s).toBe(k === n ? 'plain' : k === n + 1 ? null : words[k]);
    }
    c.closeSync();
  });

  it('a block whose column type differs from the first block is converted, not misread', async () => {
    const c = await conn();
    await registerArrow(c, 'u', [new arrow.Table({ k: arrow.makeVector(BigInt64Array.from([1n, 2n])) })]);
    await registerArrow(c, 'u', [new arrow.Table({ k: arrow.makeVector(Int32Array.from([3, 4, 5])) })], true);
    const r = (await c.runAndReadAll('SELECT sum(k)::BIGINT, typeof(any_value(k)) FROM u')).getRows()[0];
    expect([Number(r[0]), r[1]]).toEqual([15, 'BIGINT']);
    c.closeSync();
  });
});
