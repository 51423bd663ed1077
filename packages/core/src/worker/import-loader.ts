/**
 * Imports, on a worker, the bindings a shipped function uses (ImportRef, code/module-imports.ts) and
 * returns them by local name. A bare specifier is imported as written, resolved from where
 * `@samsara/ray` is installed (the project's node_modules), else from the job's working directory;
 * `@samsara/ray` itself gives the worker API of this thread. A working-directory path is imported from
 * the job's extracted working directory; an absolute path directly when the file exists on this
 * machine, else from the named package found in a node_modules directory. TypeScript goes through tsx.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { RayError } from '@samsara/ray-common';
import type { ImportRef } from '../code/module-imports.js';
import type { WorkerFunction } from './protocol.js';

const SELF_PACKAGE = '@samsara/ray';
let tsxRegistered = false;

/** Registers tsx's ESM loader before the first TypeScript module is imported. */
export async function ensureTsx(file: string): Promise<void> {
  if (tsxRegistered || !/\.(c|m)?tsx?$/.test(file)) return;
  const api = (await import('tsx/esm/api')) as { register: () => unknown };
  api.register();
  tsxRegistered = true;
}

function cannot(fn: WorkerFunction, r: ImportRef, why: string, hint: string): RayError {
  return new RayError(`Cannot import \`${r.local}\` (${r.exportName === '*' ? 'namespace' : r.exportName} of ${r.module}) for ${fn.kind} ${fn.name} on this worker: ${why}.`, {
    hint,
    ids: { function: fn.name, module: r.module },
  });
}

/** node_modules directories from `start` up to the root. */
function nodeModulesFrom(start: string): string[] {
  const out: string[] = [];
  for (let dir = start; ; dir = dirname(dir)) {
    out.push(join(dir, 'node_modules'));
    if (dirname(dir) === dir) return out;
  }
}

async function importBare(fn: WorkerFunction, r: ImportRef, workingDirPath: string): Promise<Record<string, unknown>> {
  try {
    return (await import(r.module)) as Record<string, unknown>;
  } catch (e) {
    const code = (e as { code?: string }).code;
    if (code !== 'ERR_MODULE_NOT_FOUND' || !workingDirPath) throw cannot(fn, r, (e as Error).message, 'Install the package on every node (or in the working directory shipped with the job).');
    try {
      const file = createRequire(join(workingDirPath, 'package.json')).resolve(r.module);
      return (await import(pathToFileURL(file).href)) as Record<string, unknown>;
    } catch (e2) {
      throw cannot(fn, r, (e2 as Error).message, 'Install the package on every node (or in the working directory shipped with the job).');
    }
  }
}

async function importFile(fn: WorkerFunction, r: ImportRef, workingDirPath: string): Promise<Record<string, unknown>> {
  let file: string | undefined;
  if (r.kind === 'workdir') {
    if (!workingDirPath) {
      throw cannot(fn, r, 'this job has no working directory on this node', 'Pass init({ runtimeEnv: { workingDir } }) in the driver (rayts job submit --working-dir).');
    }
    file = join(workingDirPath, r.module);
  } else if (existsSync(r.module)) {
    file = r.module;
  } else if (r.packageName && r.subpath) {
    const starts = [workingDirPath, dirname(fileURLToPath(import.meta.url))].filter(Boolean);
    for (const s of starts) {
      file = nodeModulesFrom(s)
        .map((d) => join(d, r.packageName!, r.subpath!))
        .find((f) => existsSync(f));
      if (file) break;
    }
  }
  if (!file) {
    throw cannot(
      fn,
      r,
      `the file is not on this machine${r.packageName ? ` and no node_modules here has ${r.packageName}/${r.subpath}` : ''}`,
      'Keep the modules your functions import inside the working directory (init({ runtimeEnv: { workingDir } })), or install their package on every node.',
    );
  }
  await ensureTsx(file);
  try {
    return (await import(pathToFileURL(file).href)) as Record<string, unknown>;
  } catch (e) {
    throw cannot(fn, r, (e as Error).message, 'Check that the module loads on its own (node --input-type=module -e "import(...)").');
  }
}

/** The imported bindings of `fn` by local name; throws RayError naming the binding and module that failed. */
export async function loadImports(
  fn: WorkerFunction,
  imports: readonly ImportRef[],
  workingDirPath: string,
  api: Record<string, unknown> | undefined,
): Promise<Map<string, unknown>> {
  const out = new Map<string, unknown>();
  for (const r of imports) {
    let ns: Record<string, unknown>;
    if (r.kind === 'bare' && r.module === SELF_PACKAGE && api && (r.exportName === '*' || r.exportName in api)) ns = api;
    else if (r.kind === 'bare') ns = await importBare(fn, r, workingDirPath);
    else ns = await importFile(fn, r, workingDirPath);
    if (r.exportName === '*') out.set(r.local, ns);
    else if (r.exportName in ns) out.set(r.local, ns[r.exportName]);
    else throw cannot(fn, r, `the module has no export named ${r.exportName}`, 'Install the same version of the module on every node.');
  }
  return out;
}
