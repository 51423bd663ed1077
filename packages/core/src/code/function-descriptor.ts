/**
 * How code travels to other nodes. Every `remote(fn)` / `actor(Class)` call records:
 * - the source (`fn.toString()`) and its free variables;
 * - the module that defines it (from the stack: the first caller frame whose file contains the source)
 *   and the index of the remote()/actor() call within the calling module.
 * At submission the runtime ships, in this order of preference:
 * 1. the source, when the callable is self-contained;
 * 2. the source plus an import reference per free variable, when every free variable is a binding the
 *    defining module imports at its top (module-imports.ts says how each module is found);
 * 3. a reference (module path inside the job's working directory + index) when it closes over other
 *    module-level variables and its module (not the entry script) is inside the shipped working directory.
 * Otherwise submission fails with a SerializationError that names the callable, the variables it
 * closes over and what to do. The worker side rebuilds callables in {@link ../worker/code-loader.ts}.
 */
import { createHash } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { readFileSync } from 'node:fs';
import { dirname, relative, isAbsolute, sep } from 'node:path';
import { SerializationError } from '@samsara/ray-common';
import { analyzeFreeVariables } from './free-variables.js';
import { importRefOf, moduleImports, type ImportRef } from './module-imports.js';

export type { ImportRef } from './module-imports.js';

export type CallableKind = 'function' | 'class';

export interface CallableInfo {
  readonly kind: CallableKind;
  readonly name: string;
  readonly source: string;
  /** sha1 of kind + source: the cache key on workers. */
  readonly sourceId: string;
  /** Free variables, or the parse error that prevented the analysis. */
  readonly freeVars: readonly string[];
  /** Free names used only as `x.<api function>`: bound to the public API on workers. */
  readonly apiAliases: readonly string[];
  /** Global and API names it reads (an import of the defining module with that name wins). */
  readonly globalsUsed: readonly string[];
  readonly parseError?: string;
  /** Absolute path of the module that called remote()/actor(), when it could be found. */
  readonly definedIn?: string;
  readonly definedAt?: string;
  /** Absolute path of the module that called remote()/actor() (usually `definedIn`). */
  readonly calledIn?: string;
  /** The n-th remote()/actor() call in `calledIn`. */
  readonly moduleIndex: number;
  /** A function that is a generator or async generator: its calls stream items (ObjectRefGenerator). */
  readonly generator: boolean;
  /** For a class: the methods that are generators or async generators (their calls stream items). */
  readonly generatorMethods: readonly string[];
}

const GENERATOR_CONSTRUCTORS = new Set(['GeneratorFunction', 'AsyncGeneratorFunction']);

/**
 * Whether `fn` is a generator or async generator function (`function*`, `async function*`, a `*method`
 * of a class or object). Decided from the function itself: its constructor (GeneratorFunction /
 * AsyncGeneratorFunction), which is what a native generator has, with its source (`function*`,
 * `async function*`, `*name(`) as the fallback for functions whose prototype chain was replaced.
 */
export function isGeneratorFunction(fn: unknown): boolean {
  if (typeof fn !== 'function') return false;
  const ctor = (Object.getPrototypeOf(fn) as { constructor?: { name?: string } } | null)?.constructor?.name;
  if (ctor && GENERATOR_CONSTRUCTORS.has(ctor)) return true;
  const src = Function.prototype.toString.call(fn);
  return /^\s*(?:async\s+)?(?:function\s*\*|\*)/.test(src) || /^\s*(?:static\s+)?(?:async\s*)?\*\s*[\w$[]/.test(src);
}

/** The generator methods of a class (own and inherited, not the constructor). */
export function generatorMethodsOf(cls: unknown): string[] {
  const out = new Set<string>();
  if (typeof cls !== 'function') return [];
  for (let p = (cls as { prototype?: object }).prototype; p && p !== Object.prototype; p = Object.getPrototypeOf(p) as object) {
    for (const k of Object.getOwnPropertyNames(p)) {
      if (k === 'constructor') continue;
      const d = Object.getOwnPropertyDescriptor(p, k);
      if (d && 'value' in d && isGeneratorFunction(d.value)) out.add(k);
    }
  }
  return [...out];
}

const REGISTRY = Symbol.for('@samsara/ray.callables');
type Registry = Map<string, unknown[]>;

/** Callables by defining module, shared by every copy of this package in a thread. */
export function callableRegistry(): Registry {
  const g = globalThis as unknown as Record<symbol, Registry>;
  return (g[REGISTRY] ??= new Map());
}

// The package root (frames in src/ and dist/ both belong to rayts itself; stacks may be source-mapped).
const ownDir = dirname(dirname(dirname(fileURLToPath(import.meta.url))));

const FRAME = /\(?((?:file:\/\/)?\/[^():]+):(\d+):(\d+)\)?\s*$/;
const JS_FILE = /\.(c|m)?js$/;
const TS_FILE = /\.(c|m)?tsx?$/;

/** Text of files looked at for callable sources (a few modules define most callables). */
const fileTexts = new Map<string, string | undefined>();
function fileText(file: string): string | undefined {
  if (!fileTexts.has(file)) {
    if (fileTexts.size >= 64) fileTexts.delete(fileTexts.keys().next().value as string);
    let text: string | undefined;
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      text = undefined;
    }
    fileTexts.set(file, text);
  }
  return fileTexts.get(file);
}

/**
 * The frames outside rayts that lead to a remote()/actor() call: the first is the calling module, and
 * the defining module is the first JavaScript module on the stack whose text contains the source (a
 * library that calls remote() on a function its user wrote is not where that function's imports are);
 * else a JavaScript module the stack's modules import by path whose text contains it (importedDefiner);
 * else the first TypeScript module (it runs transpiled, so it cannot be checked and counts as a match).
 */
function callerLocation(source: string): { file?: string; at?: string; callerFile?: string; matched: boolean } {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 40; // a user's frame may sit below a library's few
  const stack = new Error().stack?.split('\n').slice(1) ?? [];
  Error.stackTraceLimit = limit;
  const frames: { file: string; at: string }[] = [];
  for (const line of stack) {
    const m = FRAME.exec(line.trim());
    if (!m) continue;
    let file = m[1];
    if (file.startsWith('file://')) file = fileURLToPath(file);
    if (file.startsWith(ownDir + sep) && !file.startsWith(`${ownDir}${sep}test${sep}`)) continue;
    frames.push({ file, at: `${file}:${m[2]}` });
  }
  if (frames.length === 0) return { matched: false };
  const callerFile = frames[0].file;
  const found =
    frames.find((f) => JS_FILE.test(f.file) && fileText(f.file)?.includes(source)) ??
    importedDefiner(frames, source) ??
    frames.find((f) => TS_FILE.test(f.file));
  const defining = found ?? frames[0];
  return { file: defining.file, at: defining.at, callerFile, matched: !!found };
}

/** How many modules importedDefiner reads at most. */
const IMPORT_SEARCH_LIMIT = 40;

/**
 * The module that defines a callable whose source is in no file on the stack: one the stack's modules
 * import by path, directly or not (`import { prep } from './pipeline.mjs'; ds.map(prep)`). Searched
 * from the outermost frame (the user's script) inwards, breadth first, outside node_modules.
 */
function importedDefiner(frames: readonly { file: string }[], source: string): { file: string; at: string } | undefined {
  const seen = new Set<string>();
  const queue = [...new Set(frames.map((f) => f.file).reverse())];
  while (queue.length && seen.size < IMPORT_SEARCH_LIMIT) {
    const file = queue.shift()!;
    if (seen.has(file) || file.includes(`${sep}node_modules${sep}`)) continue;
    seen.add(file);
    if (JS_FILE.test(file) && !frames.some((f) => f.file === file) && fileText(file)?.includes(source)) return { file, at: file };
    for (const [local, b] of moduleImports(file)) {
      const r = importRefOf(local, b, file, undefined);
      if (r.kind === 'file' && !seen.has(r.module)) queue.push(r.module);
    }
  }
  return undefined;
}

/** How {@link describeCallable} looks at its caller. */
export interface DescribeOptions {
  /**
   * Count the call in the calling module's registry (remote()/actor(): module shipping, case 3 below).
   * Default true.
   */
  readonly register?: boolean;
  /**
   * Only a module whose text contains the source defines it (a library capturing a user callable):
   * when no frame matches, `definedIn` stays unset and no module's imports are used. Default false.
   */
  readonly sourceMustMatch?: boolean;
}

/** Records what is needed to ship `fn` (called from remote()/actor()). */
export function describeCallable(fn: unknown, kind: CallableKind, opts: DescribeOptions = {}): CallableInfo {
  const source = Function.prototype.toString.call(fn);
  const name = (fn as { name?: string }).name || 'anonymous';
  let freeVars: string[] = [];
  let apiAliases: string[] = [];
  let globalsUsed: string[] = [];
  let parseError: string | undefined;
  if (/\{\s*\[native code\]\s*\}$/.test(source)) {
    parseError = 'it is a native or bound function, whose source is not available';
  } else {
    try {
      ({ free: freeVars, apiAliases, globalsUsed } = analyzeFreeVariables(source));
    } catch (e) {
      parseError = `its source could not be parsed (${(e as Error).message})`;
    }
  }
  const { file, at, callerFile, matched } = callerLocation(source);
  // The registry (module shipping, case 3) indexes remote()/actor() calls by the calling module.
  let moduleIndex = -1;
  if (callerFile && opts.register !== false) {
    const reg = callableRegistry();
    const list = reg.get(callerFile) ?? [];
    moduleIndex = list.length;
    list.push(fn);
    reg.set(callerFile, list);
  }
  const sourceId = createHash('sha1').update(kind).update('\0').update(source).digest('hex').slice(0, 24);
  const generator = kind === 'function' && isGeneratorFunction(fn);
  const generatorMethods = kind === 'class' ? generatorMethodsOf(fn) : [];
  return {
    kind,
    name,
    source,
    sourceId,
    freeVars,
    apiAliases,
    globalsUsed,
    parseError,
    definedIn: opts.sourceMustMatch && !matched ? undefined : file,
    definedAt: at,
    calledIn: callerFile,
    moduleIndex,
    generator,
    generatorMethods,
  };
}

/** What a submission sends: the source (with the imports it uses), or a module reference inside the working directory. */
export interface ShippedCallable {
  readonly functionId: string;
  readonly name: string;
  readonly kind: CallableKind;
  readonly source: string;
  readonly modulePath: string;
  readonly moduleIndex: number;
  readonly apiAliases: readonly string[];
  /** Imported bindings the source uses: the worker imports them before the call. */
  readonly imports: readonly ImportRef[];
}

/** The public package: its API names are bound on workers anyway (worker-api.ts). */
const SELF_PACKAGE = '@samsara/ray';

/** shipCallable's answers per callable and working directory (it runs on every submission). */
const shipped = new WeakMap<CallableInfo, Map<string, ShippedCallable>>();

/**
 * Decides how to ship a callable for a job whose working directory is `workingDir` (if any). Throws
 * SerializationError when it cannot be shipped correctly.
 */
export function shipCallable(info: CallableInfo, workingDir: string | undefined, entryScript: string | undefined): ShippedCallable {
  let byDir = shipped.get(info);
  const key = `${workingDir ?? ''}\0${entryScript ?? ''}`;
  const hit = byDir?.get(key);
  if (hit) return hit;
  const out = decideShipping(info, workingDir, entryScript);
  if (!byDir) shipped.set(info, (byDir = new Map()));
  byDir.set(key, out);
  return out;
}

/** How a library's callable is shipped (api/callable-ref.ts): always by source, named as the library says. */
export interface ShipOptions {
  /** What the callable is, for errors ("mapBatches() function"); default "remote function" / "actor class". */
  readonly what?: string;
  /** Free names the loader binds itself (loadCallable's `bindings`): not refused. */
  readonly provided?: readonly string[];
  /** What to do instead, replacing the first sentence of the hint when outer variables are refused. */
  readonly hint?: string;
  /** Never ship by module reference (case 3): a library loads its callables from source. */
  readonly bySourceOnly?: boolean;
}

/**
 * shipCallable for a callable a library ships itself: by source with its imports (cases 1 and 2), or
 * a SerializationError naming it and what it closes over. Not cached (a library calls it once per use).
 */
export function shipBySource(info: CallableInfo, workingDir: string | undefined, entryScript: string | undefined, opts: ShipOptions): ShippedCallable {
  return decideShipping(info, workingDir, entryScript, { ...opts, bySourceOnly: true });
}

function decideShipping(info: CallableInfo, workingDir: string | undefined, entryScript: string | undefined, opts: ShipOptions = {}): ShippedCallable {
  const what = `${opts.what ?? (info.kind === 'class' ? 'actor class' : 'remote function')} ${info.name}`;
  const where = info.definedAt ? ` (defined at ${info.definedAt})` : '';
  const bySource = (imports: ImportRef[]): ShippedCallable => ({
    functionId: imports.length ? idWithImports(info.sourceId, imports) : info.sourceId,
    name: info.name,
    kind: info.kind,
    source: info.source,
    modulePath: '',
    moduleIndex: -1,
    apiAliases: info.apiAliases,
    imports,
  });
  let rest = info.freeVars;
  let imports: ImportRef[] = [];
  if (!info.parseError && info.definedIn && (info.freeVars.length > 0 || info.globalsUsed.length > 0)) {
    const table = moduleImports(info.definedIn);
    if (table.size > 0) {
      const from = info.definedIn;
      const use = (n: string) => {
        const b = table.get(n);
        return b && !(b.specifier === SELF_PACKAGE && info.globalsUsed.includes(n)) ? importRefOf(n, b, from, workingDir) : undefined;
      };
      imports = [...info.freeVars, ...info.globalsUsed].map(use).filter((r): r is ImportRef => r !== undefined);
      rest = info.freeVars.filter((n) => !table.has(n));
    }
  }
  if (opts.provided?.length) rest = rest.filter((n) => !opts.provided!.includes(n));
  if (!info.parseError && rest.length === 0) return bySource(imports);
  const modFile = info.calledIn;
  const inDir = !opts.bySourceOnly && workingDir && modFile && info.moduleIndex >= 0 && isInside(workingDir, modFile) && modFile !== entryScript;
  if (inDir && !info.parseError) {
    const rel = relative(workingDir!, modFile!);
    return {
      functionId: `mod:${rel}#${info.moduleIndex}`,
      name: info.name,
      kind: info.kind,
      source: '',
      modulePath: rel,
      moduleIndex: info.moduleIndex,
      apiAliases: [],
      imports: [],
    };
  }
  const reason = info.parseError
    ? info.parseError
    : `it closes over outer variable${rest.length > 1 ? 's' : ''} ${rest.map((v) => `\`${v}\``).join(', ')}, which do${rest.length > 1 ? '' : 'es'} not exist on other workers (imported bindings travel; other module-level variables do not)`;
  const args = 'Pass those values as arguments (a library function takes them as fnArgs / fnConstructorArgs)';
  let hint: string;
  if (info.parseError) hint = 'Ship plain functions, arrow functions or classes.';
  else if (opts.hint) hint = `${opts.hint}, or export them from a module and import them (imported bindings travel).`;
  else if (opts.bySourceOnly || (info.definedIn && info.definedIn === entryScript)) hint = `${args}, or export them from a module of the working directory and import them.`;
  else if (workingDir) hint = `${args}, or define the function at the top level of a module inside ${workingDir}.`;
  else hint = `${args}, or define the function in a module of your project and call init({ runtimeEnv: { workingDir: <project dir> } }) so that modules ship with their imports.`;
  throw new SerializationError(`Cannot ship ${what}${where}: ${reason}.`, { hint, ids: { function: info.name } });
}

function idWithImports(sourceId: string, imports: readonly ImportRef[]): string {
  const h = createHash('sha1').update(sourceId);
  for (const r of imports) h.update('\0').update(r.local).update('\0').update(r.exportName).update('\0').update(r.kind).update('\0').update(r.module);
  return h.digest('hex').slice(0, 24);
}

function isInside(dir: string, file: string): boolean {
  const rel = relative(dir, file);
  return !!rel && !rel.startsWith('..') && !isAbsolute(rel);
}
