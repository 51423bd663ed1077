/**
 * The top-level imports of the module that defines a remote function or actor class, and how each
 * imported module is referred to on another worker (issue 11.8, docs/core.md "Code on other nodes").
 *
 * A shipped callable that uses an imported binding carries an {@link ImportRef} per binding: the local
 * name, the export it takes (`default`, `*` for a namespace import, or a name) and a module reference:
 *
 * - `bare`: a package name or a builtin (`apache-arrow`, `@samsara/ray-data/x`, `node:fs`), imported
 *   by that specifier on the worker (resolved from where `@samsara/ray` is installed there).
 * - `workdir`: a file inside the job's working directory, as a path relative to it; it comes with the
 *   working directory (`init({ runtimeEnv: { workingDir } })`, `rayts job submit --working-dir`).
 * - `file`: any other file, by absolute path — a library's own sibling module, a workspace package,
 *   a script outside the working directory. Found on a worker of the same machine; elsewhere, when the
 *   file belongs to a package (`packageName` + `subpath`), the worker looks for that package in its
 *   node_modules.
 *
 * The module's source is read once per file (TypeScript stripped with esbuild, as tsx runs it).
 */
import { readFileSync, existsSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, extname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

/** How a worker finds an imported module. */
export interface ImportRef {
  /** The name the callable uses. */
  readonly local: string;
  /** The export: a name, 'default', or '*' (the namespace). */
  readonly exportName: string;
  readonly kind: 'bare' | 'workdir' | 'file';
  /** The specifier (bare), the path relative to the working directory (workdir), or the absolute path (file). */
  readonly module: string;
  /** For 'file' inside a package: its name and the file's path inside it (a fallback on other machines). */
  readonly packageName?: string;
  readonly subpath?: string;
}

/** One top-level import binding of a module, as written. */
export interface ImportBinding {
  readonly specifier: string;
  readonly exportName: string;
}

const TS_EXT = /\.(c|m)?tsx?$/;
const tables = new Map<string, ReadonlyMap<string, ImportBinding>>();
const require_ = createRequire(import.meta.url);

/** The module's top-level import bindings by local name (empty when it cannot be read or parsed). */
export function moduleImports(file: string): ReadonlyMap<string, ImportBinding> {
  let t = tables.get(file);
  if (!t) {
    t = readImports(file);
    tables.set(file, t);
  }
  return t;
}

function readImports(file: string): ReadonlyMap<string, ImportBinding> {
  const out = new Map<string, ImportBinding>();
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return out;
  }
  if (!/\bimport\b/.test(text)) return out;
  try {
    if (TS_EXT.test(file)) {
      // As tsx runs it: types and type-only imports gone, the other imports kept as written.
      const esbuild = require_(require_.resolve('esbuild', { paths: [dirname(require_.resolve('tsx/package.json'))] })) as typeof import('esbuild');
      text = esbuild.transformSync(text, { loader: file.endsWith('x') ? 'tsx' : 'ts', format: 'esm', sourcefile: file }).code;
    }
    const acorn = require_('acorn') as typeof import('acorn');
    const ast = acorn.parse(text, { ecmaVersion: 'latest', sourceType: 'module', allowHashBang: true, allowAwaitOutsideFunction: true });
    for (const node of ast.body) {
      if (node.type !== 'ImportDeclaration') continue;
      const specifier = String(node.source.value);
      for (const s of node.specifiers) {
        if (s.type === 'ImportDefaultSpecifier') out.set(s.local.name, { specifier, exportName: 'default' });
        else if (s.type === 'ImportNamespaceSpecifier') out.set(s.local.name, { specifier, exportName: '*' });
        else {
          const imported = s.imported.type === 'Identifier' ? s.imported.name : String(s.imported.value);
          out.set(s.local.name, { specifier, exportName: imported });
        }
      }
    }
  } catch {
    // CommonJS, or syntax acorn does not know: no import bindings (the free variables stay refused).
  }
  return out;
}

const CANDIDATE_EXTS = ['.ts', '.mts', '.tsx', '.js', '.mjs', '.cjs'];

/** The file a relative/absolute specifier names (tsx's `./x.js` → `./x.ts`, extensionless → first that exists). */
function resolveFile(fromFile: string, specifier: string): string {
  const p = specifier.startsWith('file:') ? fileURLToPath(specifier) : resolve(dirname(fromFile), specifier);
  if (existsSync(p) && !isDirectory(p)) return p;
  const ext = extname(p);
  const stem = ext === '.js' || ext === '.mjs' || ext === '.cjs' ? p.slice(0, -ext.length) : p;
  for (const e of CANDIDATE_EXTS) if (existsSync(stem + e)) return stem + e;
  for (const e of CANDIDATE_EXTS) if (existsSync(join(p, `index${e}`))) return join(p, `index${e}`);
  return p;
}

function isDirectory(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}

/** The package a file belongs to: its name and the file's path inside it, if any. */
function packageOf(file: string): { name: string; subpath: string } | undefined {
  let dir = dirname(file);
  for (;;) {
    const pj = join(dir, 'package.json');
    if (existsSync(pj)) {
      try {
        const name = (JSON.parse(readFileSync(pj, 'utf8')) as { name?: unknown }).name;
        if (typeof name === 'string' && name) return { name, subpath: relative(dir, file).split(sep).join('/') };
      } catch {
        /* unreadable package.json: keep looking up */
      }
    }
    const up = dirname(dir);
    if (up === dir) return undefined;
    dir = up;
  }
}

/** How a worker finds `specifier` imported by `fromFile`, for a job whose working directory is `workingDir`. */
export function importRefOf(local: string, b: ImportBinding, fromFile: string, workingDir: string | undefined): ImportRef {
  const s = b.specifier;
  const isPath = s.startsWith('.') || s.startsWith('/') || s.startsWith('file:') || isAbsolute(s);
  if (!isPath) return { local, exportName: b.exportName, kind: 'bare', module: s };
  const file = resolveFile(fromFile, s);
  if (workingDir) {
    const rel = relative(workingDir, file);
    if (rel && !rel.startsWith('..') && !isAbsolute(rel)) return { local, exportName: b.exportName, kind: 'workdir', module: rel.split(sep).join('/') };
  }
  const pkg = packageOf(file);
  return { local, exportName: b.exportName, kind: 'file', module: file, packageName: pkg?.name, subpath: pkg?.subpath };
}
