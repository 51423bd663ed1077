/**
 * Expands a read path — a file, a directory (its files with the format's extensions, recursively,
 * hidden files skipped) or a glob (`*`, `?`, `**`) — into a sorted list of files. A path that matches
 * nothing is a DataReadError naming it.
 */
import { readdirSync, statSync } from 'node:fs';
import { join, resolve, sep } from 'node:path';
import { DataReadError } from '../errors.js';

function walk(dir: string, out: string[]): void {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    if (e.name.startsWith('.') || e.name.startsWith('_')) continue;
    const p = join(dir, e.name);
    if (e.isDirectory()) walk(p, out);
    else if (e.isFile()) out.push(p);
  }
}

function globToRegex(glob: string): RegExp {
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i];
    if (c === '*' && glob[i + 1] === '*') {
      re += '.*';
      i++;
      if (glob[i + 1] === '/') i++;
    } else if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else re += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

/** Files of `paths` (each a file, directory or glob) with one of `exts` when listed from a directory. */
export function expandPaths(paths: string | readonly string[], exts: readonly string[], what: string): string[] {
  const list = typeof paths === 'string' ? [paths] : [...paths];
  const out: string[] = [];
  for (const raw of list) {
    const p = resolve(raw);
    if (/[*?]/.test(raw)) {
      const firstGlob = p.search(/[*?]/);
      const base = p.slice(0, p.lastIndexOf(sep, firstGlob)) || sep;
      const re = globToRegex(p);
      const all: string[] = [];
      try {
        walk(base, all);
      } catch {
        /* base missing: no match */
      }
      const hits = all.filter((f) => re.test(f));
      if (!hits.length) throw new DataReadError(`${what}: no file matches ${raw}.`, { ids: { path: raw }, hint: 'Check the pattern and the directory.' });
      out.push(...hits.sort());
      continue;
    }
    let st;
    try {
      st = statSync(p);
    } catch {
      throw new DataReadError(`${what}: ${raw} does not exist.`, { ids: { path: raw }, hint: 'Check the path (relative paths are resolved against the driver\u2019s working directory).' });
    }
    if (st.isDirectory()) {
      const all: string[] = [];
      walk(p, all);
      const hits = all.filter((f) => exts.some((e) => f.endsWith(e))).sort();
      if (!hits.length) throw new DataReadError(`${what}: directory ${raw} has no ${exts.join('/')} files.`, { ids: { path: raw } });
      out.push(...hits);
    } else out.push(p);
  }
  return out;
}
