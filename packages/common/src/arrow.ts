/**
 * apache-arrow, loaded only when a value needs it. It costs ~9 MiB of heap and code in every thread
 * that loads it, and every actor is a thread: a codec that imported it at start paid that per actor
 * (and ~18 MB in the edge agent) for values that are almost never tables.
 *
 * - Telling a table from other values needs no import: {@link isArrowTable} is a duck-typed check.
 * - Encoding a table or decoding Arrow IPC needs the library: {@link arrow} loads it synchronously on
 *   first use. It loads the *ES module* build (the one `import 'apache-arrow'` gives user code), so the
 *   tables rayts decodes are instances of the user's `Table` class and the user's tables are
 *   recognised. That takes `require()` of an ES module (Node ≥ 20.19, 22.12, 24). On a Node without it
 *   this module imports apache-arrow at start instead (the old behaviour), because a synchronous
 *   fallback to the CommonJS build would hand user code tables of a second, different `Table` class.
 */
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

type ArrowModule = typeof import('apache-arrow');

let loaded: ArrowModule | undefined;

/** True when this Node can `require()` an ES module (then apache-arrow is loaded lazily). */
const canRequireEsm = (process.features as { require_module?: boolean }).require_module === true;

const req = createRequire(import.meta.url);

/**
 * The file of apache-arrow's ES module build for Node, as `import 'apache-arrow'` resolves it (the
 * package's `exports["."].node.import`), found without importing anything.
 */
function esmEntry(): string {
  const cjs = req.resolve('apache-arrow');
  const dir = dirname(cjs);
  try {
    const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as {
      exports?: Record<string, { node?: { import?: { default?: string } | string } }>;
      module?: string;
    };
    const imp = pkg.exports?.['.']?.node?.import;
    const entry = typeof imp === 'string' ? imp : (imp?.default ?? pkg.module);
    if (entry) return join(dir, entry);
  } catch {
    /* not the layout we know: use the CommonJS entry below */
  }
  return cjs;
}

/**
 * Module hooks (tsx, ts-node and other `--import`/`--loader`/`--require` hooks) can give `require()` of
 * an ES module an instance of its own, apart from the one `import` gives user code: two `Table` classes,
 * and a table of one written by the other's IPC writer loses data. Under hooks, load through `import`
 * at start (the old behaviour); without them, `require()` shares the loader's instance.
 */
const hooked = process.execArgv.some((a) => /^(--import|--loader|--experimental-loader|--require|-r)(=|$)/.test(a));

if (!canRequireEsm || hooked) loaded = await import('apache-arrow');

/**
 * The apache-arrow module, loaded on first call (synchronously; ~30–60 ms the first time).
 *
 * @throws Error when apache-arrow is not installed (it is a dependency of @samsara/ray-common).
 */
export function arrow(): ArrowModule {
  loaded ??= req(esmEntry()) as ArrowModule;
  return loaded;
}

/** Whether apache-arrow has been loaded in this thread (by rayts or, as far as rayts knows, for it). */
export function arrowLoaded(): boolean {
  return loaded !== undefined;
}

/**
 * Whether `v` is an Arrow `Table`, without loading apache-arrow: a table's class carries
 * `Symbol.toStringTag` "Table" and the instance has a schema with fields and an array of record
 * batches. (A value that is a table was made by code that loaded apache-arrow already.)
 */
export function isArrowTable(v: unknown): boolean {
  if (typeof v !== 'object' || v === null) return false;
  const ctor = (v as { constructor?: { [Symbol.toStringTag]?: unknown } }).constructor;
  if (typeof ctor !== 'function' || ctor[Symbol.toStringTag] !== 'Table') return false;
  const t = v as { schema?: { fields?: unknown }; batches?: unknown };
  return Array.isArray(t.batches) && typeof t.schema === 'object' && t.schema !== null && Array.isArray(t.schema.fields);
}

/**
 * A class whose `instanceof` is {@link isArrowTable}, for APIs that match values by class (msgpackr
 * extensions) without the real `Table` class at hand.
 */
export class ArrowTableLike {
  static [Symbol.hasInstance](v: unknown): boolean {
    return isArrowTable(v);
  }
}
