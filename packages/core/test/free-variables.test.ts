import { describe, expect, it } from 'vitest';
import { freeVariables } from '../src/code/free-variables.js';

describe('freeVariables', () => {
  it('freeVariables - a self-contained arrow function has none', () => {
    expect(freeVariables('(x) => { const y = x * 2; return Math.max(y, 1); }')).toEqual([]);
  });
  it('freeVariables - an outer variable is reported', () => {
    expect(freeVariables('(x) => x * factor + offset')).toEqual(['factor', 'offset']);
  });
  it('freeVariables - destructured params, defaults, catch and loops are declared', () => {
    const src = `function f({ a, b: [c, ...d] }, e = a + 1) { try { for (const k of d) c += k; } catch (err) { return err; } return c + e; }`;
    expect(freeVariables(src)).toEqual([]);
  });
  it('freeVariables - member properties and object keys are not references', () => {
    expect(freeVariables('(o) => ({ key: o.field, [o.k]: 1 }).key')).toEqual([]);
  });
  it('freeVariables - API names and globals are allowed', () => {
    expect(freeVariables('async (r) => { const x = await get(r); return JSON.stringify(Buffer.from(x)); }')).toEqual([]);
  });
  it('freeVariables - method shorthand and classes parse', () => {
    expect(freeVariables('incr(by = 1) { return this.n += by + step; }')).toEqual(['step']);
    expect(freeVariables('class C extends Base { n = 0; get() { return this.n; } }')).toEqual(['Base']);
  });
  it('freeVariables - a named function expression can call itself', () => {
    expect(freeVariables('function fib(n) { return n < 2 ? n : fib(n - 1) + fib(n - 2); }')).toEqual([]);
  });
});

describe('analyzeFreeVariables', () => {
  it('analyzeFreeVariables - a namespace used only for API calls is an alias, not a closure', async () => {
    const { analyzeFreeVariables } = await import('../src/code/free-variables.js');
    expect(analyzeFreeVariables('(r) => import_ray.get(r)')).toMatchObject({ free: [], apiAliases: ['import_ray'] });
    expect(analyzeFreeVariables('(r) => rt.get(r) + rt.other')).toMatchObject({ free: ['rt'], apiAliases: [] });
  });
});
