/**
 * How code travels to other nodes. Every `remote(fn)` / `actor(Class)` call records:
 * - the source (`fn.toString()`) and its free variables;
 * - the module that made the call (from the stack) and the call's index within that module.
 * At submission the runtime ships the source when the callable is self-contained, or a reference
 * (module path inside the job's working directory + index) when it has imports and the working
 * directory is shipped. Otherwise submission fails with a SerializationError that names the callable,
 * the variables it closes over and what to do. The worker side rebuilds callables in
 * {@link ../worker/code-loader.ts}.
 */
import { createHash } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { dirname, relative, isAbsolute, sep } from 'node:path';
import { SerializationError } from '@samsara/ray-common';
import { analyzeFreeVariables } from './free-variables.js';

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
  readonly parseError?: string;
  /** Absolute path of the module that called remote()/actor(), when it could be found. */
  readonly definedIn?: string;
  readonly definedAt?: string;
  /** The n-th remote()/actor() call in that module. */
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

function callerLocation(): { file?: string; at?: string } {
  const stack = new Error().stack?.split('\n').slice(1) ?? [];
  for (const line of stack) {
    const m = /\(?((?:file:\/\/)?\/[^():]+):(\d+):(\d+)\)?\s*$/.exec(line.trim());
    if (!m) continue;
    let file = m[1];
    if (file.startsWith('file://')) file = fileURLToPath(file);
    if ((file.startsWith(ownDir + sep) && !file.startsWith(`${ownDir}${sep}test${sep}`)) || file.includes(`${sep}node_modules${sep}`)) continue;
    if (file.startsWith('node:')) continue;
    return { file, at: `${file}:${m[2]}` };
  }
  return {};
}

/** Records what is needed to ship `fn` (called from remote()/actor()). */
export function describeCallable(fn: unknown, kind: CallableKind): CallableInfo {
  const source = Function.prototype.toString.call(fn);
  const name = (fn as { name?: string }).name || 'anonymous';
  let freeVars: string[] = [];
  let apiAliases: string[] = [];
  let parseError: string | undefined;
  if (/\{\s*\[native code\]\s*\}$/.test(source)) {
    parseError = 'it is a native or bound function, whose source is not available';
  } else {
    try {
      ({ free: freeVars, apiAliases } = analyzeFreeVariables(source));
    } catch (e) {
      parseError = `its source could not be parsed (${(e as Error).message})`;
    }
  }
  const { file, at } = callerLocation();
  let moduleIndex = -1;
  if (file) {
    const reg = callableRegistry();
    const list = reg.get(file) ?? [];
    moduleIndex = list.length;
    list.push(fn);
    reg.set(file, list);
  }
  const sourceId = createHash('sha1').update(kind).update('\0').update(source).digest('hex').slice(0, 24);
  const generator = kind === 'function' && isGeneratorFunction(fn);
  const generatorMethods = kind === 'class' ? generatorMethodsOf(fn) : [];
  return { kind, name, source, sourceId, freeVars, apiAliases, parseError, definedIn: file, definedAt: at, moduleIndex, generator, generatorMethods };
}

/** What a submission sends: the source, or a module reference inside the working directory. */
export interface ShippedCallable {
  readonly functionId: string;
  readonly name: string;
  readonly kind: CallableKind;
  readonly source: string;
  readonly modulePath: string;
  readonly moduleIndex: number;
  readonly apiAliases: readonly string[];
}

/**
 * Decides how to ship a callable for a job whose working directory is `workingDir` (if any). Throws
 * SerializationError when it cannot be shipped correctly.
 */
export function shipCallable(info: CallableInfo, workingDir: string | undefined, entryScript: string | undefined): ShippedCallable {
  const what = info.kind === 'class' ? `actor class ${info.name}` : `remote function ${info.name}`;
  const where = info.definedAt ? ` (defined at ${info.definedAt})` : '';
  if (!info.parseError && info.freeVars.length === 0) {
    return { functionId: info.sourceId, name: info.name, kind: info.kind, source: info.source, modulePath: '', moduleIndex: -1, apiAliases: info.apiAliases };
  }
  const inDir =
    workingDir && info.definedIn && info.moduleIndex >= 0 && isInside(workingDir, info.definedIn) && info.definedIn !== entryScript;
  if (inDir) {
    const rel = relative(workingDir!, info.definedIn!);
    return {
      functionId: `mod:${rel}#${info.moduleIndex}`,
      name: info.name,
      kind: info.kind,
      source: '',
      modulePath: rel,
      moduleIndex: info.moduleIndex,
      apiAliases: [],
    };
  }
  const reason = info.parseError
    ? info.parseError
    : `it closes over outer variable${info.freeVars.length > 1 ? 's' : ''} ${info.freeVars.map((v) => `\`${v}\``).join(', ')}, which do${info.freeVars.length > 1 ? '' : 'es'} not exist on other workers`;
  const hint =
    info.definedIn && info.definedIn === entryScript
      ? 'Make it self-contained (pass those values as arguments), or move it into a module of the working directory (not the entry script) and call init({ runtimeEnv: { workingDir } }).'
      : workingDir
        ? `Make it self-contained (pass those values as arguments), or define it at the top level of a module inside ${workingDir}.`
        : 'Make it self-contained (pass those values as arguments), or define it in a module of your project and call init({ runtimeEnv: { workingDir: <project dir> } }) so that modules ship with their imports.';
  throw new SerializationError(`Cannot ship ${what}${where}: ${reason}.`, { hint, ids: { function: info.name } });
}

function isInside(dir: string, file: string): boolean {
  const rel = relative(dir, file);
  return !!rel && !rel.startsWith('..') && !isAbsolute(rel);
}
