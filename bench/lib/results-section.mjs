/**
 * Library suites (data, tune, serve, workflow, ops…) own one section each of bench/RESULTS.md, between
 * `<!-- suite:NAME -->` and `<!-- /suite:NAME -->`. A suite rewrites only its own section; the core
 * report keeps every suite section when it regenerates the file (see report.mjs).
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';

export const RESULTS_MD = join(fileURLToPath(new URL('..', import.meta.url)), 'RESULTS.md');
const SECTION = /<!-- suite:([\w-]+) -->[\s\S]*?<!-- \/suite:\1 -->/g;

/** Every suite section of a RESULTS.md text, in order, joined by blank lines ('' when none). */
export function extractSuiteSections(md) {
  return [...md.matchAll(SECTION)].map((m) => m[0]).join('\n\n');
}

/** Replaces (or appends) the section of `suite` in bench/RESULTS.md with `markdown`. */
export function writeSuiteSection(suite, markdown, file = RESULTS_MD) {
  const md = existsSync(file) ? readFileSync(file, 'utf8') : '# rayts benchmarks\n';
  const block = `<!-- suite:${suite} -->\n${markdown.trim()}\n<!-- /suite:${suite} -->`;
  const re = new RegExp(`<!-- suite:${suite} -->[\\s\\S]*?<!-- /suite:${suite} -->`);
  const next = re.test(md) ? md.replace(re, () => block) : `${md.trimEnd()}\n\n${block}\n`;
  writeFileSync(file, next);
}
