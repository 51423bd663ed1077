/**
 * loadWorkflow: YAML file → one frozen, validated {@link WorkflowDefinition}. Every problem becomes a
 * {@link DefinitionIssue} with its path, line and column; all of them are reported together.
 *
 * Order of checks: YAML syntax → the JSON Schema (schema.ts) → `imports:` (loaded, so custom ops are
 * registered) → per op: its type is registered, its literal args satisfy the op's args schema,
 * references name existing ops and declared outputs, `upstream` names existing ops → cycles → cron.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire, register } from 'node:module';
import { dirname, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Cron } from 'croner';
import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Document, type Node } from 'yaml';
import type { ErrorObject } from 'ajv';
import { WorkflowDefinitionError, type DefinitionIssue } from '../errors.js';
import { topologicalOrder } from '../graph.js';
import { getOp, opNames } from '../ops/registry.js';
import '../ops/builtins.js';
import { compileRetryPolicy, NO_RETRIES } from '../run/retry-policy.js';
import type { AlertTarget, OpSpec, ScheduleSpec, WorkflowDefinition } from './definition.js';
import { CONTEXT_FIELDS, findReferences, isWholeReference, type Reference } from './references.js';
import { workflowValidator } from './schema.js';

type Path = (string | number)[];

interface RawOp {
  op: string;
  description?: string;
  args?: Record<string, unknown>;
  upstream?: string[];
  retries?: number | { count: number; initialIntervalS?: number; backoffCoefficient?: number; maximumIntervalS?: number };
  timeoutS?: number;
  always?: boolean;
}
interface RawWorkflow {
  name: string;
  description?: string;
  schedule?: string | { cron: string; timezone?: string; concurrencyPolicy?: 'forbid' | 'allow'; catchUp?: boolean; maxCatchUp?: number };
  imports?: string[];
  alerts?: { onFailure?: { webhook: string; headers?: Record<string, string> }; onSuccess?: { webhook: string; headers?: Record<string, string> } };
  ops: Record<string, RawOp>;
}

/** Options of {@link loadWorkflow}. */
export interface LoadWorkflowOptions {
  /** The file's text, when it is already read (the path still names it in errors and resolves `imports`). */
  readonly source?: string;
}

/** Where things are in the document, for error positions. */
class Locator {
  constructor(
    private readonly doc: Document,
    private readonly lines: LineCounter,
    private readonly text: string,
  ) {}

  /** The node at `path`; with `key`, the key node of the last step (for unknown/extra keys). */
  node(path: Path, key = false): Node | undefined {
    let cur: unknown = this.doc.contents;
    let last: Node | undefined = cur as Node;
    for (let i = 0; i < path.length; i++) {
      const step = path[i];
      if (isMap(cur)) {
        const pair = cur.items.find((p) => (isScalar(p.key) ? String(p.key.value) : String(p.key)) === String(step));
        if (!pair) return last;
        if (key && i === path.length - 1) return pair.key as Node;
        cur = pair.value;
      } else if (isSeq(cur) && typeof step === 'number') {
        cur = cur.items[step];
      } else {
        return last;
      }
      if (cur && typeof cur === 'object' && 'range' in (cur as object)) last = cur as Node;
      else return last;
    }
    return last;
  }

  /** Line and column of `path` (of `needle` inside it when given and found). */
  at(path: Path, opts: { key?: boolean; needle?: string } = {}): { line: number; column: number } {
    const n = this.node(path, opts.key);
    if (!n?.range) return { line: 0, column: 0 };
    let offset = n.range[0];
    if (opts.needle) {
      const i = this.text.slice(n.range[0], n.range[1]).indexOf(opts.needle);
      if (i >= 0) offset += i;
    }
    const p = this.lines.linePos(offset);
    return { line: p.line, column: p.col };
  }
}

const dotted = (p: Path) => p.map(String).join('.');

/**
 * Loads and validates a workflow file: parses the YAML, checks it against the schema, imports the
 * modules under `imports:` (relative to the file) so their `registerOp` calls run, and checks op types,
 * arguments, references, `upstream`, cycles and the cron expression.
 *
 * @throws WorkflowDefinitionError (code WORKFLOW_INVALID) listing every problem with file:line:column and its path.
 */
export async function loadWorkflow(file: string, options: LoadWorkflowOptions = {}): Promise<WorkflowDefinition> {
  for (const k of Object.keys(options)) {
    if (k !== 'source') throw new WorkflowDefinitionError(file, [{ path: '', line: 0, column: 0, message: `loadWorkflow: unknown option ${JSON.stringify(k)}; the options are source.` }]);
  }
  const path = resolve(file);
  let text: string;
  try {
    text = options.source ?? readFileSync(path, 'utf8');
  } catch (e) {
    throw new WorkflowDefinitionError(file, [{ path: '', line: 0, column: 0, message: `cannot read the file: ${(e as Error).message}` }], { cause: e });
  }
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  const issues: DefinitionIssue[] = [];
  for (const e of doc.errors) {
    const p = lines.linePos(e.pos[0]);
    issues.push({ path: '', line: p.line, column: p.col, message: `YAML: ${e.message.split('\n')[0]}` });
  }
  if (issues.length) throw new WorkflowDefinitionError(file, issues);
  const raw = doc.toJS() as unknown;
  const loc = new Locator(doc, lines, text);
  const issue = (at: Path, message: string, opts: { key?: boolean; needle?: string } = {}) => issues.push({ path: dotted(at), ...loc.at(at, opts), message });

  const validate = workflowValidator();
  if (!validate(raw)) {
    for (const e of schemaIssues(validate.errors ?? [])) issue(e.path, e.message, { key: e.key });
    throw new WorkflowDefinitionError(file, dedupe(issues));
  }
  const wf = raw as RawWorkflow;
  const dir = dirname(path);

  const imports: string[] = [];
  if (wf.imports?.length) hookOurPackages();
  for (const [i, spec] of (wf.imports ?? []).entries()) {
    const target = resolve(dir, spec);
    imports.push(target);
    try {
      await import(pathToFileURL(target).href);
    } catch (e) {
      issue(['imports', i], `cannot import ${JSON.stringify(spec)} (${target}): ${(e as Error).message.split('\n')[0]}`);
    }
  }

  const names = Object.keys(wf.ops);
  const ops: Record<string, OpSpec> = {};
  for (const name of names) {
    const o = wf.ops[name];
    const at: Path = ['ops', name];
    const def = getOp(o.op);
    const args = o.args ?? {};
    if (!def) {
      const near = closest(o.op, opNames());
      issue([...at, 'op'], `unknown op '${o.op}'${near ? ` (did you mean '${near}'?)` : ''}; register it with registerOp in a module under imports:, or use one of: ${opNames().join(', ')}.`);
    } else if (def.validateArgs && !def.validateArgs(args)) {
      for (const e of def.validateArgs.errors ?? []) {
        const argPath = e.instancePath.split('/').slice(1).map(unescapePointer);
        const value = valueAt(args, argPath);
        // A reference stands for a value only known at run time: its type is checked before each attempt.
        if (typeof value === 'string' && (isWholeReference(value) || findReferences(value).length)) continue;
        const m = argMessage(e);
        issue([...at, 'args', ...argPath, ...(m.key ? [m.key] : [])], m.message, { key: !!m.key });
      }
    }
    const refs = findReferences(args);
    const deps: string[] = [];
    for (const r of refs) {
      const argAt: Path = [...at, 'args', ...r.argPath];
      const problem = referenceProblem(r, name, wf.ops);
      if (problem) issue(argAt, problem, { needle: r.text });
      else if (r.source !== 'context' && !deps.includes(r.source)) deps.push(r.source);
    }
    for (const [i, u] of (o.upstream ?? []).entries()) {
      if (u === name) issue([...at, 'upstream', i], `op ${name} lists itself in upstream.`);
      else if (!(u in wf.ops)) issue([...at, 'upstream', i], `upstream names op '${u}', which is not in ops${suggest(u, names)}.`);
      else if (!deps.includes(u)) deps.push(u);
    }
    const retry = compileRetryPolicy(o.retries);
    if (typeof retry === 'string') issue([...at, 'retries'], retry);
    ops[name] = deepFreeze({
      name,
      type: o.op,
      description: o.description ?? '',
      args,
      upstream: o.upstream ?? [],
      dependsOn: deps,
      references: refs,
      retry: typeof retry === 'string' ? NO_RETRIES : retry,
      ...(o.timeoutS !== undefined ? { timeoutS: o.timeoutS } : {}),
      always: o.always ?? false,
    }) as OpSpec;
  }

  const sorted = topologicalOrder(names.map((n) => ({ name: n, type: ops[n].type, dependsOn: ops[n].dependsOn })));
  if ('cycle' in sorted) issue(['ops', sorted.cycle[0]], `cycle: ${sorted.cycle.join(' -> ')} (each waits for the next through a reference or upstream).`, { key: true });

  let schedule: ScheduleSpec | undefined;
  if (wf.schedule !== undefined) {
    const s = typeof wf.schedule === 'string' ? { cron: wf.schedule } : wf.schedule;
    const at: Path = typeof wf.schedule === 'string' ? ['schedule'] : ['schedule', 'cron'];
    const bad = cronProblem(s.cron, s.timezone);
    if (bad) issue(at, `bad cron expression ${JSON.stringify(s.cron)}: ${bad}`);
    schedule = { cron: s.cron, ...(s.timezone ? { timezone: s.timezone } : {}), concurrencyPolicy: s.concurrencyPolicy ?? 'forbid', catchUp: s.catchUp ?? false, maxCatchUp: s.maxCatchUp ?? 10 };
  }
  if (issues.length) throw new WorkflowDefinitionError(file, dedupe(issues));

  const alert = (a?: { webhook: string; headers?: Record<string, string> }): AlertTarget | undefined => (a ? { webhook: a.webhook, headers: a.headers ?? {} } : undefined);
  const alerts: { onFailure?: AlertTarget; onSuccess?: AlertTarget } = {};
  if (wf.alerts?.onFailure) alerts.onFailure = alert(wf.alerts.onFailure);
  if (wf.alerts?.onSuccess) alerts.onSuccess = alert(wf.alerts.onSuccess);
  return deepFreeze({
    name: wf.name,
    description: wf.description ?? '',
    file: path,
    dir,
    fileHash: createHash('sha256').update(text).digest('hex'),
    ...(schedule ? { schedule } : {}),
    imports,
    alerts,
    ops,
    order: (sorted as { order: string[] }).order,
  });
}

let hooked = false;

/** Installs resolve-hook.ts once (Node ≥ 20.6; older Nodes resolve as usual). */
function hookOurPackages(): void {
  if (hooked || typeof register !== 'function') return;
  hooked = true;
  try {
    const fallback: Record<string, string> = { '@samsara/ray-workflow': new URL('../index.js', import.meta.url).href };
    fallback['@samsara/ray'] = pathToFileURL(createRequire(import.meta.url).resolve('@samsara/ray')).href;
    register(new URL('./resolve-hook.js', import.meta.url), { data: { fallback } });
  } catch {
    /* resolution stays Node's own */
  }
}

/** Why a reference is wrong, or undefined. */
function referenceProblem(r: Reference, self: string, ops: Record<string, RawOp>): string | undefined {
  if (r.source === 'context') {
    if (r.path.length !== 1 || !(CONTEXT_FIELDS as readonly string[]).includes(r.path[0])) return `${r.text}: context offers ${CONTEXT_FIELDS.map((f) => `{context.${f}}`).join(', ')}.`;
    return undefined;
  }
  if (r.source === self) return `${r.text} refers to the op itself.`;
  const target = ops[r.source];
  if (!target) return `${r.text} refers to op '${r.source}', which is not in ops${suggest(r.source, Object.keys(ops))}.`;
  const field = r.path[0];
  if (field === 'output') return undefined;
  const outputs = getOp(target.op)?.outputNames;
  if (outputs && !outputs.includes(field)) {
    return `${r.text}: op '${r.source}' (${target.op}) has no output '${field}'; its outputs are ${outputs.map((o) => `'${o}'`).join(', ') || 'none'} (or {${r.source}.output} for the whole output).`;
  }
  return undefined;
}

/** Schema errors as issues at useful nodes with readable messages; the oneOf noise folded. */
function schemaIssues(errors: ErrorObject[]): { path: Path; message: string; key?: boolean }[] {
  const out: { path: Path; message: string; key?: boolean }[] = [];
  const oneOfPaths = new Set(errors.filter((e) => e.keyword === 'oneOf').map((e) => e.instancePath));
  for (const e of errors) {
    const path: Path = e.instancePath.split('/').slice(1).map(unescapePointer);
    if (oneOfPaths.has(e.instancePath) && e.keyword !== 'oneOf') continue;
    if ([...oneOfPaths].some((p) => e.instancePath.startsWith(p + '/')) && e.keyword !== 'additionalProperties' && e.keyword !== 'required') continue;
    switch (e.keyword) {
      case 'additionalProperties': {
        const extra = String((e.params as { additionalProperty: string }).additionalProperty);
        const allowed = allowedKeys(e.parentSchema);
        out.push({ path: [...path, extra], key: true, message: `unknown key '${extra}'${allowed ? `; the keys here are ${allowed.join(', ')}` : ''}.` });
        break;
      }
      case 'required':
        out.push({ path, message: `missing required key '${(e.params as { missingProperty: string }).missingProperty}'.` });
        break;
      case 'propertyNames': {
        const bad = String((e.params as { propertyName: string }).propertyName);
        out.push({ path: [...path, bad], key: true, message: `'${bad}' is not a valid op name: use letters, digits and _ (not starting with a digit); 'context' is reserved.` });
        break;
      }
      case 'pattern':
      case 'not':
        if (e.propertyName !== undefined || e.instancePath === '' || path[0] === 'ops' && path.length === 2) break; // reported by propertyNames
        out.push({ path, message: e.message ?? 'invalid' });
        break;
      case 'oneOf':
        out.push({ path, message: path[path.length - 1] === 'retries' ? 'retries is a count (retries: 2) or { count, initialIntervalS, backoffCoefficient, maximumIntervalS }.' : 'schedule is a cron string or { cron, timezone, concurrencyPolicy, catchUp, maxCatchUp }.' });
        break;
      default:
        out.push({ path, message: `${e.message ?? 'invalid'}${e.keyword === 'enum' ? `: ${(e.params as { allowedValues: unknown[] }).allowedValues.join(', ')}` : ''}.` });
    }
  }
  return out;
}

function argMessage(e: ErrorObject): { message: string; key?: string } {
  if (e.keyword === 'required') return { message: `missing required argument '${(e.params as { missingProperty: string }).missingProperty}'.` };
  if (e.keyword === 'additionalProperties') {
    const extra = String((e.params as { additionalProperty: string }).additionalProperty);
    const allowed = allowedKeys(e.parentSchema);
    return { key: extra, message: `unknown argument '${extra}'${allowed ? `; the arguments are ${allowed.join(', ')}` : ''}.` };
  }
  if (e.keyword === 'if') return { message: 'arguments do not fit together (see the op\'s documentation).' };
  return { message: `${e.message ?? 'invalid'}${e.keyword === 'enum' ? `: ${(e.params as { allowedValues: unknown[] }).allowedValues.join(', ')}` : ''}.` };
}

function allowedKeys(schema: unknown): string[] | undefined {
  const p = (schema as { properties?: Record<string, unknown> } | undefined)?.properties;
  return p ? Object.keys(p) : undefined;
}

function cronProblem(cron: string, timezone?: string): string | undefined {
  try {
    const c = new Cron(cron, { paused: true, ...(timezone ? { timezone } : {}) });
    c.stop();
    return undefined;
  } catch (e) {
    return (e as Error).message;
  }
}

function valueAt(v: unknown, path: string[]): unknown {
  let cur = v;
  for (const k of path) cur = cur !== null && typeof cur === 'object' ? (cur as Record<string, unknown>)[k] : undefined;
  return cur;
}

function unescapePointer(s: string): string {
  return s.replace(/~1/g, '/').replace(/~0/g, '~');
}

function dedupe(issues: DefinitionIssue[]): DefinitionIssue[] {
  const seen = new Set<string>();
  return issues.filter((i) => {
    const k = `${i.line}:${i.column}:${i.message}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

function suggest(name: string, names: string[]): string {
  const near = closest(name, names);
  return near ? ` (did you mean '${near}'?)` : '';
}

/** The closest name within edit distance 2, if any. */
function closest(name: string, names: string[]): string | undefined {
  let best: string | undefined;
  let bestD = 3;
  for (const n of names) {
    const d = editDistance(name, n);
    if (d < bestD) [best, bestD] = [n, d];
  }
  return best;
}

function editDistance(a: string, b: string): number {
  const dp = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = dp[0];
    dp[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = dp[j];
      dp[j] = Math.min(dp[j] + 1, dp[j - 1] + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return dp[b.length];
}

function deepFreeze<T>(v: T): T {
  if (v && typeof v === 'object' && !Object.isFrozen(v)) {
    Object.freeze(v);
    for (const x of Object.values(v)) deepFreeze(x);
  }
  return v;
}
