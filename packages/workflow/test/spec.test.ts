import { describe, expect, it } from 'vitest';
import { loadWorkflow, registerOp, WorkflowDefinitionError, splitWords, interpolate, findReferences, compileRetryPolicy, retryDelayMs, graphMermaid, graphSvg, type DefinitionIssue } from '@samsara/ray-workflow';
import { tempWorkspace, workflowCli } from './helpers.js';

registerOp('dates_for_spec', () => ({ start_date: '2024-01-01', end_date: '2024-01-08' }), {
  schema: {
    args: { type: 'object', required: ['days'], properties: { days: { type: 'integer' } } },
    outputs: { type: 'object', properties: { start_date: { type: 'string' }, end_date: { type: 'string' } } },
  },
});

const ws = tempWorkspace();
let files = 0;

async function issuesOf(text: string): Promise<DefinitionIssue[]> {
  const file = ws.write(`wf-${++files}.yaml`, text);
  try {
    await loadWorkflow(file);
  } catch (e) {
    expect(e).toBeInstanceOf(WorkflowDefinitionError);
    expect((e as WorkflowDefinitionError).code).toBe('WORKFLOW_INVALID');
    return [...(e as WorkflowDefinitionError).issues];
  }
  throw new Error('expected the workflow to be invalid');
}

describe('loadWorkflow - validation errors carry line and column', () => {
  it('unknown op type, with a suggestion', async () => {
    const issues = await issuesOf(['name: w', 'ops:', '  extract: { op: shel, args: { command: [ls] } }', ''].join('\n'));
    expect(issues).toHaveLength(1);
    expect(issues[0]).toMatchObject({ path: 'ops.extract.op', line: 3, column: 18 });
    expect(issues[0].message).toMatch(/unknown op 'shel' \(did you mean 'shell'\?\)/);
  });

  it('reference to a missing op and to an undeclared output field', async () => {
    const issues = await issuesOf(
      [
        'name: w',
        'ops:',
        '  dates: { op: dates_for_spec, args: { days: 7 } }',
        '  a:',
        '    op: noop',
        '    args:',
        '      value: "x-{datez.end_date}-{dates.finish}"',
        '',
      ].join('\n'),
    );
    expect(issues).toHaveLength(2);
    expect(issues[0]).toMatchObject({ path: 'ops.a.args.value', line: 7, column: 17 });
    expect(issues[0].message).toMatch(/refers to op 'datez', which is not in ops \(did you mean 'dates'\?\)/);
    expect(issues[1]).toMatchObject({ path: 'ops.a.args.value', line: 7, column: 34 });
    expect(issues[1].message).toMatch(/op 'dates' \(dates_for_spec\) has no output 'finish'; its outputs are 'start_date', 'end_date'/);
  });

  it('a cycle names its ops', async () => {
    const issues = await issuesOf(['name: w', 'ops:', '  a: { op: noop, args: { value: "{c.value}" } }', '  b: { op: noop, args: { value: "{a.value}" } }', '  c: { op: noop, upstream: [b] }', ''].join('\n'));
    expect(issues).toHaveLength(1);
    expect(issues[0].message).toMatch(/cycle: a -> c -> b -> a/);
    expect(issues[0]).toMatchObject({ line: 3, column: 3 });
  });

  it('a bad cron expression', async () => {
    const issues = await issuesOf(['name: w', 'schedule: "61 * * * *"', 'ops:', '  a: { op: noop }', ''].join('\n'));
    expect(issues).toHaveLength(1);
    expect(issues[0]).toMatchObject({ path: 'schedule', line: 2, column: 11 });
    expect(issues[0].message).toMatch(/bad cron expression "61 \* \* \* \*"/);
  });

  it('a missing required argument, an unknown argument and a wrong literal type', async () => {
    const issues = await issuesOf(
      ['name: w', 'ops:', '  job:', '    op: ray_job', '    args:', '      entrypoint: node x.mjs', '      workDir: .', '  c:', '    op: ray_cluster_start', '    args: { numCpus: two }', ''].join('\n'),
    );
    const byMsg = (re: RegExp) => issues.find((i) => re.test(i.message));
    expect(byMsg(/missing required argument 'address'/)).toMatchObject({ path: 'ops.job.args', line: 6, column: 7 });
    expect(byMsg(/unknown argument 'workDir'; the arguments are address, entrypoint, workingDir, token/)).toMatchObject({ path: 'ops.job.args.workDir', line: 7, column: 7 });
    expect(byMsg(/must be number/)).toMatchObject({ path: 'ops.c.args.numCpus', line: 10, column: 22 });
  });

  it('schema errors: unknown keys, missing op, bad names; YAML syntax', async () => {
    const issues = await issuesOf(['name: w', 'ops:', '  a: { op: noop, retry: 2 }', '  b: { args: {} }', '  3x: { op: noop }', ''].join('\n'));
    expect(issues.map((i) => `${i.line}:${i.column} ${i.path}`)).toEqual(expect.arrayContaining(['3:18 ops.a.retry', '4:6 ops.b', '5:3 ops.3x']));
    expect(issues.find((i) => i.path === 'ops.a.retry')!.message).toMatch(/unknown key 'retry'; the keys here are op, description, args, upstream, retries, timeoutS, always/);
    const yamlIssues = await issuesOf('name: w\nops: { a: [\n');
    expect(yamlIssues[0].message).toMatch(/^YAML:/);
    expect(yamlIssues[0].line).toBeGreaterThan(0);
  });

  it('references are fine when the value is only known at run time', async () => {
    const file = ws.write(
      'ok.yaml',
      ['name: ok', 'ops:', '  c: { op: noop, args: { value: 2 } }', '  s: { op: ray_cluster_start, args: { numCpus: "{c.value}" } }', '  d: { op: dates_for_spec, args: { days: 1 }, upstream: [c] }', ''].join('\n'),
    );
    const def = await loadWorkflow(file);
    expect(def.order.indexOf('c')).toBeLessThan(def.order.indexOf('s'));
    expect(def.ops.s.dependsOn).toEqual(['c']);
    expect(def.ops.d.dependsOn).toEqual(['c']);
    expect(Object.isFrozen(def.ops.s.args)).toBe(true);
    expect(def.fileHash).toMatch(/^[0-9a-f]{64}$/);
  });
});

describe('loadWorkflow - imports', () => {
  it('an ops module outside any project still imports @samsara/ray-workflow', async () => {
    ws.write('outside-ops.mjs', "import { registerOp } from '@samsara/ray-workflow';\nregisterOp('outside_op', () => ({ ok: true }), { schema: { outputs: { type: 'object', properties: { ok: { type: 'boolean' } } } } });\n");
    const def = await loadWorkflow(ws.write('outside.yaml', 'name: outside\nimports: [./outside-ops.mjs]\nops:\n  a: { op: outside_op }\n  b: { op: noop, args: { value: "{a.ok}" } }\n'));
    expect(def.imports).toEqual([`${ws.dir}/outside-ops.mjs`]);
    expect(def.ops.b.dependsOn).toEqual(['a']);
  });

  it('an import that fails is reported at its line', async () => {
    const issues = await issuesOf('name: w\nimports:\n  - ./missing.mjs\nops:\n  a: { op: noop }\n');
    expect(issues).toHaveLength(1);
    expect(issues[0]).toMatchObject({ path: 'imports.0', line: 3, column: 5 });
    expect(issues[0].message).toMatch(/cannot import "\.\/missing\.mjs"/);
  });
});

describe('references - inference and interpolation', () => {
  it('finds several references in one string and nested in objects and lists', () => {
    const refs = findReferences({ a: 'x {p.q}-{r.s.t}', b: [{ c: '{context.run_id}' }], d: '{"json": 1}', e: '{single}' });
    expect(refs.map((r) => `${r.source}:${r.path.join('.')}@${r.argPath.join('.')}`)).toEqual(['p:q@a', 'r:s.t@a', 'context:run_id@b.0.c']);
  });

  it('a whole-string reference keeps its type; inside a longer string it becomes text', () => {
    const values: Record<string, unknown> = { 'n.count': 3, 'n.obj': { a: [1] }, 'n.flag': false };
    const resolve = (s: string, p: readonly string[]) => values[`${s}.${p.join('.')}`];
    expect(interpolate({ x: '{n.count}', y: '{n.obj}', z: 'c={n.count} o={n.obj} f={n.flag}', w: ['{n.flag}'] }, resolve)).toEqual({
      x: 3,
      y: { a: [1] },
      z: 'c=3 o={"a":[1]} f=false',
      w: [false],
    });
  });
});

describe('splitWords - as a shell splits, without expanding', () => {
  it('quotes, escapes, and no expansion', () => {
    expect(splitWords(`node prep.mjs "a b" 'c $HOME' d\\ e "x\\"y" * && ~`)).toEqual(['node', 'prep.mjs', 'a b', 'c $HOME', 'd e', 'x"y', '*', '&&', '~']);
    expect(() => splitWords('node "unterminated')).toThrow(/unterminated double quote/);
  });
});

describe('retry policy - Temporal shape', () => {
  it('doubles from the initial interval up to the cap', () => {
    const p = compileRetryPolicy({ count: 5, initialIntervalS: 1, maximumIntervalS: 5 });
    expect(typeof p).not.toBe('string');
    const policy = p as Exclude<typeof p, string>;
    expect([1, 2, 3, 4, 5].map((n) => retryDelayMs(policy, n))).toEqual([1000, 2000, 4000, 5000, 5000]);
    expect(compileRetryPolicy({ count: 1, initialIntervalS: 5, maximumIntervalS: 1 })).toMatch(/maximumIntervalS \(1\) must be at least initialIntervalS \(5\)/);
  });
});

describe('graph - Mermaid and SVG', () => {
  it('draws data edges solid and upstream-only edges dashed', () => {
    const nodes = [
      { name: 'a', type: 'noop', dependsOn: [] },
      { name: 'b', type: 'noop', dependsOn: ['a'] },
      { name: 'c', type: 'noop', dependsOn: ['a', 'b'], upstreamOnly: ['b'] },
    ];
    const mmd = graphMermaid(nodes);
    expect(mmd).toContain('a --> b');
    expect(mmd).toContain('b -.-> c');
    const svg = graphSvg('w', nodes, ['a', 'b', 'c']);
    expect(svg.match(/<rect /g)).toHaveLength(3);
    expect(svg.match(/<line /g)).toHaveLength(3);
    expect(svg.match(/stroke-dasharray/g)).toHaveLength(1);
  });
});

describe('rayts workflow validate|graph - CLI', () => {
  it('exits non-zero with file:line:column on a bad file, 0 on a good one; graph writes .mmd and .svg', async () => {
    const bad = ws.write('bad.yaml', 'name: w\nops:\n  a: { op: nope }\n');
    const r = await workflowCli(['validate', bad], { RAYTS_WORKFLOW_HOME: ws.home }, 120_000, true);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`${bad}:3:12 ops.a.op: unknown op 'nope'`);
    const good = ws.write('good.yaml', 'name: good\nops:\n  a: { op: noop }\n  b: { op: noop, args: { value: "{a.value}" } }\n');
    const ok = await workflowCli(['validate', good], { RAYTS_WORKFLOW_HOME: ws.home });
    expect(ok.code).toBe(0);
    expect(ok.stdout).toContain('2 ops in order a -> b');
    const g = await workflowCli(['graph', good, '--out', `${ws.dir}/g`], { RAYTS_WORKFLOW_HOME: ws.home });
    expect(g.code).toBe(0);
    expect(g.stdout).toContain('b [noop] <- a');
    const { readFileSync } = await import('node:fs');
    expect(readFileSync(`${ws.dir}/g.mmd`, 'utf8')).toContain('a --> b');
    expect(readFileSync(`${ws.dir}/g.svg`, 'utf8')).toMatch(/^<svg /);
    const usage = await workflowCli(['frobnicate'], { RAYTS_WORKFLOW_HOME: ws.home });
    expect(usage.code).toBe(2);
    expect(usage.stderr).toMatch(/unknown command "frobnicate"/);
    const missing = await workflowCli(['show', 'wr_000000000000'], { RAYTS_WORKFLOW_HOME: ws.home });
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/No workflow run "wr_000000000000"/);
  }, 180_000);
});
