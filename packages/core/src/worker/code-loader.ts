/**
 * Rebuilds shipped callables on a worker. Source-shipped code is evaluated with the public API names
 * bound (so a self-contained function may call `remote`, `get`, `put`… or `ray.get`) and with the
 * bindings it imports, imported here first (import-loader.ts); module-shipped code is imported from the
 * job's extracted working directory (TypeScript modules through tsx) and looked up by the index of its
 * `remote()`/`actor()` call in that module. Cached per function id (and working directory).
 */
import { pathToFileURL } from 'node:url';
import { join } from 'node:path';
import { RayError } from '@samsara/ray-common';
import { callableRegistry } from '../code/function-descriptor.js';
import { API_NAMES } from '../code/free-variables.js';
import { ensureTsx, loadImports } from './import-loader.js';
import type { WorkerFunction } from './protocol.js';

const cache = new Map<string, unknown>();
let apiValues: unknown[] | undefined;
let apiNamespace: Record<string, unknown> | undefined;

/** The values bound to API_NAMES when evaluating shipped source (set by the worker entry). */
export function setApiBindings(api: Record<string, unknown>): void {
  apiNamespace = api;
  apiValues = API_NAMES.map((n) => (n === 'ray' ? api : api[n]));
}

/** Whether setApiBindings was called in this thread. */
export function apiBindingsSet(): boolean {
  return apiValues !== undefined;
}

// esbuild/tsx inject `__name(fn, "name")` into transpiled code; define it so shipped source runs.
const nameHelper = (target: unknown, value: string) => {
  try {
    Object.defineProperty(target, 'name', { value, configurable: true });
  } catch {
    /* not configurable: harmless */
  }
  return target;
};

function evaluate(fn: WorkerFunction, imported: ReadonlyMap<string, unknown>, bindings: Readonly<Record<string, unknown>>): unknown {
  // Later bindings win (an import named like an API function, e.g. lodash's `get`); names stay unique.
  const bound = new Map<string, unknown>();
  API_NAMES.forEach((n, i) => bound.set(n, apiValues?.[i]));
  bound.set('__name', nameHelper);
  for (const a of fn.apiAliases) if (/^[A-Za-z_$][\w$]*$/.test(a)) bound.set(a, apiNamespace);
  for (const [n, v] of Object.entries(bindings)) if (/^[A-Za-z_$][\w$]*$/.test(n)) bound.set(n, v);
  for (const [n, v] of imported) bound.set(n, v);
  const params = [...bound.keys()];
  const args = [...bound.values()];
  const bodies = [`"use strict"; return (${fn.source});`, `"use strict"; return ({${fn.source}})[${JSON.stringify(fn.name)}];`];
  let lastErr: unknown;
  for (const body of bodies) {
    try {
      return new Function(...params, body)(...args);
    } catch (e) {
      lastErr = e;
      if (!(e instanceof SyntaxError)) break;
    }
  }
  throw new RayError(`Cannot rebuild ${fn.kind} ${fn.name} on this worker: ${(lastErr as Error)?.message}.`, {
    hint: 'Ship plain functions, arrow functions or classes; bound functions and native functions have no source.',
    ids: { function: fn.name },
  });
}

async function importModule(fn: WorkerFunction, workingDirPath: string): Promise<unknown> {
  if (!workingDirPath) {
    throw new RayError(`${fn.kind} ${fn.name} is shipped by module (${fn.modulePath}) but this job has no working directory on this node.`, {
      hint: 'Pass init({ runtimeEnv: { workingDir } }) in the driver.',
    });
  }
  const file = join(workingDirPath, fn.modulePath);
  await ensureTsx(file);
  await import(pathToFileURL(file).href);
  const list = callableRegistry().get(file);
  const found = list?.[fn.moduleIndex];
  if (!found) {
    throw new RayError(
      `Module ${fn.modulePath} of the working directory did not define ${fn.kind} ${fn.name} as call #${fn.moduleIndex} of remote()/actor() on this worker.`,
      { hint: 'Call remote()/actor() at the top level of the module, unconditionally, so that every process sees the same definitions.' },
    );
  }
  return found;
}

/**
 * The callable `fn` describes, rebuilt once per thread (cached by function id, working directory and
 * the names of `bindings`). `bindings` are extra names a library binds when it loads a user callable
 * (api/callable-ref.ts); imports of the same name win.
 */
export async function loadCallable(fn: WorkerFunction, workingDirPath: string, bindings: Readonly<Record<string, unknown>> = {}): Promise<unknown> {
  const imports = fn.imports ?? [];
  const names = Object.keys(bindings);
  let key = fn.modulePath || imports.some((i) => i.kind === 'workdir') ? `${workingDirPath}|${fn.functionId}` : fn.functionId;
  if (names.length) key += `|${names.sort().join(',')}`;
  const hit = cache.get(key);
  if (hit) return hit;
  const v = fn.modulePath ? await importModule(fn, workingDirPath) : evaluate(fn, imports.length ? await loadImports(fn, imports, workingDirPath, apiNamespace) : new Map(), bindings);
  cache.set(key, v);
  return v;
}
