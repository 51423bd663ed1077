import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { tableFromArrays } from 'apache-arrow';
import { isArrowTable, decodeValue, encodeValue } from '../src/index.js';

const DIST = fileURLToPath(new URL('../dist/index.js', import.meta.url));

/**
 * Runs `body` in a fresh Node process that imported the built common package as `c`; `scripts()` lists
 * the script URLs V8 has parsed in that process (through the inspector: ES modules and CommonJS alike).
 */
function inFreshProcess(body: string, env: Record<string, string> = {}): unknown {
  const src = `
    import { Session } from 'node:inspector';
    const c = await import(${JSON.stringify(DIST)});
    const scripts = () => new Promise((resolve) => {
      const s = new Session(); s.connect(); const urls = [];
      s.on('Debugger.scriptParsed', (m) => urls.push(m.params.url));
      s.post('Debugger.enable', () => s.post('Debugger.disable', () => { s.disconnect(); resolve(urls); }));
    });
    const out = await (async () => { ${body} })();
    process.stdout.write(JSON.stringify(out));
  `;
  return JSON.parse(execFileSync(process.execPath, ['--input-type=module', '-e', src], { encoding: 'utf8', cwd: fileURLToPath(new URL('..', import.meta.url)), env: { ...process.env, ...env } }));
}

describe('arrow (lazy)', () => {
  it('isArrowTable - tells tables from look-alikes without apache-arrow', () => {
    expect(isArrowTable(tableFromArrays({ x: new Int32Array([1]) }))).toBe(true);
    expect(isArrowTable({ schema: { fields: [] }, batches: [] })).toBe(false);
    expect(isArrowTable(new Map())).toBe(false);
    expect(isArrowTable(null)).toBe(false);
  });

  it('codec - a table inside a value round-trips and comes back as the caller\'s Table class', () => {
    const t = tableFromArrays({ x: new Int32Array([1, 2]) });
    const out = decodeValue(encodeValue({ t })) as { t: typeof t };
    expect(out.t).toBeInstanceOf(t.constructor);
    expect(Array.from(out.t.getChild('x')!.toArray() as Int32Array)).toEqual([1, 2]);
  });

  it('common - importing it and coding plain values does not load apache-arrow or pino', () => {
    const r = inFreshProcess(`
      c.decodeValue(c.encodeValue({ a: [1, 'x', new Map([[1, 2]])] }));
      const urls = await scripts();
      return { arrow: urls.some((u) => u.includes('/apache-arrow/')), pino: urls.some((u) => u.includes('/pino/')), loaded: c.arrowLoaded() };
    `);
    expect(r).toEqual({ arrow: false, pino: false, loaded: false });
  });

  it('common - decoding a table loads the ES module build, whose Table is the one user code imports', () => {
    const r = inFreshProcess(`
      const { tableToIPC, tableFromArrays } = await import('apache-arrow');
      const bytes = c.encodeValue({ t: tableFromArrays({ x: new Float64Array([0.5]) }) });
      const before = c.arrowLoaded();
      const out = c.decodeValue(bytes);
      const { Table } = await import('apache-arrow');
      return { before, after: c.arrowLoaded(), same: out.t instanceof Table, x: out.t.getChild('x').get(0) };
    `);
    // Encoding a table loads apache-arrow (through the user's already loaded module) — before is true.
    expect(r).toEqual({ before: true, after: true, same: true, x: 0.5 });
  });

  it('common - a table decoded before user code imports apache-arrow is an instance of the Table it imports later', () => {
    const r = inFreshProcess(`
      const bytes = Buffer.from(process.env.BYTES, 'base64');
      const out = c.decodeValue(bytes);
      const { Table } = await import('apache-arrow');
      return { same: out instanceof Table, rows: out.numRows };
    `, { BYTES: Buffer.from(encodeValue(tableFromArrays({ x: new Int32Array([1, 2]) }))).toString('base64') });
    expect(r).toEqual({ same: true, rows: 2 });
  });
});
