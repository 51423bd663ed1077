/**
 * User code a library ships: `captureCallable(fn)` on the driver turns a user's function or class into
 * a {@link CallableRef} (plain data that travels inside task arguments, actor arguments or specs), and
 * `loadCallable(ref)` rebuilds it on a worker with the bindings its module imports — by the same rules
 * and with the same errors as `remote()` / `actor()` (docs/core.md "Code on other nodes").
 */
import { InvalidArgumentError } from '@samsara/ray-common';
import { describeCallable, shipBySource, type CallableInfo, type ImportRef } from '../code/function-descriptor.js';
import { apiBindingsSet, loadCallable as loadShipped, setApiBindings } from '../worker/code-loader.js';
import type { WorkerThreadRuntime } from '../worker/worker-runtime.js';
import { currentRuntime } from '../runtime/runtime.js';
import { checkKnownKeys } from './options.js';

export type { ImportRef } from '../code/function-descriptor.js';

/**
 * A user callable captured to run elsewhere: its source and a reference per imported binding it uses.
 * Plain data (JSON and structured-clone safe); make one with {@link captureCallable}, rebuild it with
 * {@link loadCallable}.
 */
export interface CallableRef {
  readonly kind: 'function' | 'class';
  readonly name: string;
  /** Hash of the source and its imports: the cache key on workers. */
  readonly id: string;
  readonly source: string;
  /** The bindings of its defining module that it uses, imported again on the worker. */
  readonly imports: readonly ImportRef[];
  /** Free names used only as `x.<api function>` (e.g. `ray.get`): bound to the public API. */
  readonly apiAliases: readonly string[];
  /** A generator or async generator function. */
  readonly generator: boolean;
  /** Where it was defined (`file:line`), when known. */
  readonly definedAt?: string;
}

/** Options of {@link captureCallable}. */
export interface CaptureOptions {
  /** What the callable is to the library, for errors: `'mapBatches() function'` → "Cannot ship mapBatches() function score …". */
  what?: string;
  /** Free names the library binds itself when it loads the callable (`loadCallable(ref, { bindings })`). */
  provided?: readonly string[];
  /** What to do with module-level values instead, e.g. "Pass those values in the trainable's config". */
  hint?: string;
}

/** Options of {@link loadCallable}. */
export interface LoadCallableOptions {
  /**
   * Values for the names given as `provided` at capture. A callable is rebuilt once per worker thread
   * and these names, so pass the same values each time. An import of the same name wins.
   */
  bindings?: Readonly<Record<string, unknown>>;
}

interface CodeScope {
  /** The job's working directory: its source directory on a driver, its extracted copy on a worker. */
  readonly workingDir?: string;
  readonly entryScript?: string;
}

const SCOPE = Symbol.for('@samsara/ray.driverCodeScope');
type Holder = { [SCOPE]?: CodeScope };

/** Set by init() (and cleared by shutdown()): the driver's working directory and entry script. @internal */
export function setDriverCodeScope(s: CodeScope | undefined): void {
  (globalThis as Holder)[SCOPE] = s;
}

function codeScope(): CodeScope {
  const rt = currentRuntime();
  if (rt?.kind === 'worker') return { workingDir: (rt as WorkerThreadRuntime).scope.getStore()?.workingDirPath || undefined };
  return rt ? ((globalThis as Holder)[SCOPE] ?? {}) : {};
}

/** Where each captured callable was defined: found from the stack the first time it is captured. */
const described = new WeakMap<object, CallableInfo>();

/**
 * Captures a user's function, async function, generator or class for running on other workers, as
 * `remote()`/`actor()` would ship it: self-contained source, plus a reference per binding its defining
 * module imports at the top (`import { tableFromArrays } from 'apache-arrow'`, `import half from
 * './model.mjs'`, `import * as m from …`). The defining module is the caller's module whose text holds
 * the source (a library's own frames are skipped), remembered per callable the first time: capture
 * again after `init()` to pick up the job's working directory (relative modules then travel with it).
 *
 * @example
 * // in a library, on the driver:
 * const ref = captureCallable(userFn, { what: 'map function' });
 * const task = remote(async (ref, x) => (await loadCallable(ref))(x));
 * @throws InvalidArgumentError when `fn` is not a function or class.
 * @throws SerializationError naming the callable and the outer variables it closes over (module-level
 *   values other than imports), with the hint to pass them as arguments; or when it has no source.
 */
export function captureCallable(fn: unknown, opts: CaptureOptions = {}): CallableRef {
  if (typeof fn !== 'function') {
    throw new InvalidArgumentError(`captureCallable(): expected a function or class${opts.what ? ` (${opts.what})` : ''}, got ${fn === null ? 'null' : typeof fn}.`);
  }
  checkKnownKeys(opts, ['what', 'provided', 'hint'], 'captureCallable()');
  if (opts.provided !== undefined && (!Array.isArray(opts.provided) || !opts.provided.every((n) => typeof n === 'string'))) {
    throw new InvalidArgumentError('captureCallable(): provided must be a list of names.', { hint: "Example: { provided: ['batch'] }." });
  }
  let info = described.get(fn);
  if (!info) {
    const isClass = /^class[\s{]/.test(Function.prototype.toString.call(fn));
    info = describeCallable(fn, isClass ? 'class' : 'function', { register: false, sourceMustMatch: true });
    described.set(fn, info);
  }
  const scope = codeScope();
  const what = opts.what ?? info.kind;
  const shipped = shipBySource(info, scope.workingDir, scope.entryScript, { what, provided: opts.provided, hint: opts.hint });
  return {
    kind: info.kind,
    name: info.name,
    id: shipped.functionId,
    source: shipped.source,
    imports: shipped.imports,
    apiAliases: shipped.apiAliases,
    generator: info.generator,
    ...(info.definedAt ? { definedAt: info.definedAt } : {}),
  };
}

const IDENT = /^[A-Za-z_$][\w$]*$/;
const IMPORT_KINDS = new Set(['bare', 'workdir', 'file']);

/** The ref, checked: it may come from a peer or a stored spec. */
function checked(ref: unknown): CallableRef {
  const r = ref as Partial<CallableRef> | null;
  const bad = (why: string) => new InvalidArgumentError(`loadCallable(): not a CallableRef (${why}).`, { hint: 'Pass what captureCallable() returned, unchanged.' });
  if (!r || typeof r !== 'object') throw bad(`got ${r === null ? 'null' : typeof r}`);
  if (r.kind !== 'function' && r.kind !== 'class') throw bad(`kind ${JSON.stringify(r.kind)}`);
  if (typeof r.name !== 'string' || typeof r.id !== 'string' || !r.id || typeof r.source !== 'string' || !r.source) throw bad('name, id or source missing');
  if (!Array.isArray(r.imports) || !Array.isArray(r.apiAliases)) throw bad('imports or apiAliases missing');
  for (const i of r.imports) {
    if (!i || !IDENT.test(i.local) || !IMPORT_KINDS.has(i.kind) || typeof i.module !== 'string' || !i.module || typeof i.exportName !== 'string' || !i.exportName) {
      throw bad(`malformed import ${JSON.stringify(i)}`);
    }
  }
  return r as CallableRef;
}

/**
 * Rebuilds a captured callable on this worker (or driver): imports the modules of its bindings (relative
 * ones from the job's working directory), evaluates the source with them and the public API names bound,
 * and caches the result per thread by the ref's id. Errors are RayErrors naming the callable and, for
 * an import that fails, the binding and module.
 * @example
 * const score = await loadCallable<(x: number) => number>(ref);
 */
export async function loadCallable<T = unknown>(ref: CallableRef, opts: LoadCallableOptions = {}): Promise<T> {
  const r = checked(ref);
  checkKnownKeys(opts, ['bindings'], 'loadCallable()');
  // Set in worker threads by their entry; elsewhere (a driver, another copy of this package) the same
  // names from the worker API module (its init/shutdown only check the runtime).
  if (!apiBindingsSet()) setApiBindings((await import('./worker-api.js')) as unknown as Record<string, unknown>);
  const fn = { functionId: r.id, name: r.name, kind: r.kind, source: r.source, modulePath: '', moduleIndex: -1, apiAliases: r.apiAliases, imports: r.imports };
  return (await loadShipped(fn, codeScope().workingDir ?? '', opts.bindings ?? {})) as T;
}
