/**
 * Finds the free variables of a function's or class's source: names it reads that it does not declare
 * and that are not globals of a fresh worker. A function with free variables closes over outer state
 * that does not exist on another worker, so shipping its source would give a wrong result or a
 * ReferenceError; the caller turns a non-empty answer into a SerializationError naming the variables.
 *
 * Scoping is flattened (a name declared anywhere inside counts as declared everywhere inside). That can
 * miss a free variable shadowed in a sibling block, which then fails on the worker with a ReferenceError
 * (still an error, never a silent wrong value).
 */
import { createRequire } from 'node:module';
import { runInNewContext } from 'node:vm';

// acorn is loaded on the first parse, not at import: every actor thread imports the API, few ship code.
let acornParse: typeof import('acorn').parse | undefined;
function parse(...a: Parameters<typeof import('acorn').parse>): ReturnType<typeof import('acorn').parse> {
  acornParse ??= (createRequire(import.meta.url)('acorn') as typeof import('acorn')).parse;
  return acornParse(...a);
}

type Node = { type: string; [k: string]: unknown };

/** Names the runtime binds when it evaluates shipped code on a worker (the public API and `ray`). */
export const API_NAMES = [
  'ray', 'init', 'shutdown', 'remote', 'actor', 'get', 'put', 'wait', 'cancel', 'kill', 'getActor',
  'placementGroup', 'removePlacementGroup', 'runtimeContext', 'nodes', 'clusterResources',
  'availableResources', 'objectStoreStats', 'free', 'ObjectRef', 'kv', 'ActorPool',
] as const;

const NODE_GLOBALS = [
  'Buffer', 'process', 'setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'setImmediate',
  'clearImmediate', 'queueMicrotask', 'structuredClone', 'console', 'URL', 'URLSearchParams', 'TextEncoder',
  'TextDecoder', 'AbortController', 'AbortSignal', 'EventTarget', 'Event', 'fetch', 'performance', 'crypto',
  'atob', 'btoa', 'BroadcastChannel', 'MessageChannel', 'MessagePort', 'Blob', 'global', 'globalThis',
  'WebAssembly', 'Headers', 'Request', 'Response', 'FormData', 'DOMException', 'navigator',
  'undefined', 'NaN', 'Infinity', 'arguments', '__name', 'SharedArrayBuffer', 'Atomics',
];

let knownGlobals: Set<string> | undefined;
function globals(): Set<string> {
  if (!knownGlobals) {
    const builtins = runInNewContext('Object.getOwnPropertyNames(globalThis)') as string[];
    knownGlobals = new Set([...builtins, ...NODE_GLOBALS, ...API_NAMES]);
  }
  return knownGlobals;
}

/** Parses function/class source in the forms `fn.toString()` produces (including method shorthand). */
export function parseCallableSource(source: string): Node {
  const attempts = [`(${source})`, `({${source}})`];
  let lastErr: unknown;
  for (const text of attempts) {
    try {
      return parse(text, { ecmaVersion: 'latest', sourceType: 'script', allowAwaitOutsideFunction: false }) as unknown as Node;
    } catch (e) {
      lastErr = e;
    }
  }
  throw lastErr;
}

function declarePattern(p: Node | null | undefined, declared: Set<string>, visit: (n: unknown) => void): void {
  if (!p) return;
  switch (p.type) {
    case 'Identifier':
      declared.add(p.name as string);
      return;
    case 'ObjectPattern':
      for (const prop of p.properties as Node[]) {
        if (prop.type === 'RestElement') declarePattern(prop.argument as Node, declared, visit);
        else {
          if (prop.computed) visit(prop.key);
          declarePattern(prop.value as Node, declared, visit);
        }
      }
      return;
    case 'ArrayPattern':
      for (const el of p.elements as (Node | null)[]) declarePattern(el, declared, visit);
      return;
    case 'RestElement':
      declarePattern(p.argument as Node, declared, visit);
      return;
    case 'AssignmentPattern':
      declarePattern(p.left as Node, declared, visit);
      visit(p.right);
      return;
    default:
      // MemberExpression as an assignment target inside for-in/of etc.
      visit(p);
  }
}

export interface FreeVariableReport {
  /** Names read but neither declared inside nor globals: the callable closes over them. */
  readonly free: string[];
  /**
   * Free names used only as `name.apiFunction` (e.g. `ray.get`, or what a transpiler makes of an import:
   * `import_ray.get`, `__vite_ssr_import_1__.remote`). The worker binds them to the public API.
   */
  readonly apiAliases: string[];
  /**
   * Names read that are not declared inside but are globals or public API names (`get`, `Buffer`…).
   * The defining module may import one of them (`import { get } from 'lodash'`): then the import wins.
   */
  readonly globalsUsed: string[];
}

/** Returns the sorted free variable names of the callable whose source is given. */
export function freeVariables(source: string): string[] {
  return analyzeFreeVariables(source).free;
}

const API_SET: ReadonlySet<string> = new Set(API_NAMES);

export function analyzeFreeVariables(source: string): FreeVariableReport {
  const ast = parseCallableSource(source);
  const declared = new Set<string>();
  const referenced = new Set<string>();
  const aliasUses = new Set<string>();

  const visit = (n: unknown): void => {
    if (!n || typeof n !== 'object') return;
    if (Array.isArray(n)) {
      for (const c of n) visit(c);
      return;
    }
    const node = n as Node;
    switch (node.type) {
      case 'Identifier':
        referenced.add(node.name as string);
        return;
      case 'MemberExpression': {
        const obj = node.object as Node;
        const prop = node.property as Node;
        if (obj.type === 'Identifier' && !node.computed && API_SET.has(prop.name as string)) aliasUses.add(obj.name as string);
        else visit(obj);
        if (node.computed) visit(node.property);
        return;
      }
      case 'Property':
      case 'MethodDefinition':
      case 'PropertyDefinition':
        if (node.computed) visit(node.key);
        visit(node.value);
        return;
      case 'LabeledStatement':
        visit(node.body);
        return;
      case 'BreakStatement':
      case 'ContinueStatement':
      case 'MetaProperty':
      case 'ThisExpression':
      case 'Super':
        return;
      case 'VariableDeclarator':
        declarePattern(node.id as Node, declared, visit);
        visit(node.init);
        return;
      case 'FunctionDeclaration':
      case 'FunctionExpression':
      case 'ArrowFunctionExpression':
        if (node.id) declared.add((node.id as Node).name as string);
        for (const p of node.params as Node[]) declarePattern(p, declared, visit);
        visit(node.body);
        return;
      case 'ClassDeclaration':
      case 'ClassExpression':
        if (node.id) declared.add((node.id as Node).name as string);
        visit(node.superClass);
        visit(node.body);
        return;
      case 'CatchClause':
        declarePattern(node.param as Node, declared, visit);
        visit(node.body);
        return;
      default:
        for (const k of Object.keys(node)) {
          if (k === 'type' || k === 'start' || k === 'end' || k === 'loc' || k === 'range') continue;
          visit(node[k]);
        }
    }
  };
  visit(ast);
  const g = globals();
  const isFree = (name: string) => !declared.has(name) && !g.has(name);
  return {
    free: [...referenced].filter(isFree).sort(),
    apiAliases: [...aliasUses].filter((n) => isFree(n) && !referenced.has(n)).sort(),
    globalsUsed: [...referenced, ...aliasUses].filter((n) => !declared.has(n) && g.has(n)).sort(),
  };
}
