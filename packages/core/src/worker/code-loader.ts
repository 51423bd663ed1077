/**
 * Rebuilds shipped callables on a worker. Source-shipped code is evaluated with the public API names
 * bound (so a self-contained function may call `remote`, `get`, `put`… or `ray.get`); module-shipped
 * code is imported from the job's extracted working directory (TypeScript modules through tsx) and
 * looked up by the index of its `remote()`/`actor()` call in that module. Cached per function id.
 */
import { pathToFileURL } from 'node:url';
import { join } from 'node:path';
import { RayError } from '@samsara/ray-common';
import { callableRegistry } from '../api/function-descriptor.js';
import { API_NAMES } from '../api/free-variables.js';
import type { WorkerFunction } from './protocol.js';

const cache = new Map<string, unknown>();
let apiValues: unknown[] | undefined;
let apiNamespace: Record<string, unknown> | undefined;
let tsxRegistered = false;

/** The values bound to API_NAMES when evaluating shipped source (set by the worker entry). */
export function setApiBindings(api: Record<string, unknown>): void {
  apiNamespace = api;
  apiValues = API_NAMES.map((n) => (n === 'ray' ? api : api[n]));
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

function evaluate(fn: WorkerFunction): unknown {
  const aliases = fn.apiAliases.filter((a) => /^[A-Za-z_$][\w$]*$/.test(a));
  const params = [...API_NAMES, '__name', ...aliases];
  const args = [...(apiValues ?? API_NAMES.map(() => undefined)), nameHelper, ...aliases.map(() => apiNamespace)];
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
  if (/\.(c|m)?tsx?$/.test(file) && !tsxRegistered) {
    const api = (await import('tsx/esm/api')) as { register: () => unknown };
    api.register();
    tsxRegistered = true;
  }
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

export async function loadCallable(fn: WorkerFunction, workingDirPath: string): Promise<unknown> {
  const key = fn.modulePath ? `${workingDirPath}|${fn.functionId}` : fn.functionId;
  const hit = cache.get(key);
  if (hit) return hit;
  const v = fn.modulePath ? await importModule(fn, workingDirPath) : evaluate(fn);
  cache.set(key, v);
  return v;
}
