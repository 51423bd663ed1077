#!/usr/bin/env node
/**
 * `rayts-workflow` (also `rayts workflow …`): validate, graph, run, history, show, schedule, cancel.
 * Exit status: 0 done, 1 the run failed / the file is invalid / no such run, 2 bad usage, 130 cancelled.
 */
import { writeFileSync } from 'node:fs';
import { basename, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { isRayError } from '@samsara/ray';
import { WorkflowDefinitionError } from './errors.js';
import { graphMermaid, graphSvg, graphText, type GraphNode } from './graph.js';
import { loadWorkflow } from './spec/load.js';
import type { WorkflowDefinition } from './spec/definition.js';
import { runWorkflow } from './run/runner.js';
import { cancelRun } from './run/cancel.js';
import { RunStore } from './run/store.js';
import type { RunEvent, RunRecord } from './run/status.js';
import { WorkflowScheduler } from './schedule/scheduler.js';

const USAGE = `Usage: rayts workflow <command> ...
  validate FILE                         check the file; prints the ops in order
  graph FILE [--out PREFIX]             print the DAG; write PREFIX.mmd and PREFIX.svg (default ./<name>)
  run FILE [--run-id ID] [--run-date YYYY-MM-DD] [--quiet]
                                        run it now; Ctrl-C cancels (stops the jobs and clusters it started)
  history FILE [--limit N] [--json]     past runs of the file, newest first
  show RUN_ID [--json] [--logs N]       one run: status, lineage, each op's attempts, outputs, log tail
  schedule FILE                         run it on its schedule: until Ctrl-C
  cancel RUN_ID [--no-wait]             cancel a run going in another process
State: RAYTS_WORKFLOW_HOME (default ~/.rayts/workflows).`;

class UsageError extends Error {}

const out = (s: string) => process.stdout.write(s.endsWith('\n') ? s : s + '\n');

function args(argv: string[], options: Record<string, { type: 'string' | 'boolean' }>, positionals: number) {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  if (parsed.positionals.length !== positionals) throw new UsageError(`expected ${positionals} argument${positionals === 1 ? '' : 's'}, got ${parsed.positionals.length}${parsed.positionals.length ? `: ${parsed.positionals.join(' ')}` : ''}.`);
  return parsed as { values: Record<string, string | boolean | undefined>; positionals: string[] };
}

function nodesOf(def: WorkflowDefinition): GraphNode[] {
  return def.order.map((n) => {
    const op = def.ops[n];
    const data = new Set(op.references.filter((r) => r.source !== 'context').map((r) => r.source));
    return { name: n, type: op.type, dependsOn: op.dependsOn, upstreamOnly: op.dependsOn.filter((d) => !data.has(d)), always: op.always };
  });
}

const time = (t?: number) => (t ? new Date(t).toISOString().replace('T', ' ').slice(0, 19) : '-');
const dur = (a?: number, b?: number) => (a && b ? `${((b - a) / 1000).toFixed(1)} s` : '');

function eventLine(e: RunEvent, runId: string): string | undefined {
  switch (e.type) {
    case 'run_started':
      return `run ${runId} started`;
    case 'op_started':
      return `  ${e.op}: started${e.attempt > 1 ? ` (attempt ${e.attempt})` : ''}`;
    case 'op_succeeded':
      return `  ${e.op}: success${e.attempt > 1 ? ` (attempt ${e.attempt})` : ''}`;
    case 'op_retrying':
      return `  ${e.op}: attempt ${e.attempt} failed, retrying in ${(e.delayMs / 1000).toFixed(1)} s: ${e.error.message}`;
    case 'op_failed':
      return `  ${e.op}: FAILED: ${e.error.message}`;
    case 'op_canceled':
      return `  ${e.op}: canceled`;
    case 'op_skipped':
      return `  ${e.op}: skipped (${e.reason})`;
    case 'run_canceling':
      return `run ${runId} canceling: ${e.reason}`;
    case 'run_finished':
      return `run ${runId} ${e.status}`;
    case 'alert':
      return `  alert ${e.on} -> ${e.webhook}: ${e.ok ? 'sent' : 'FAILED'} (${e.detail})`;
    default:
      return undefined;
  }
}

async function validate(argv: string[]): Promise<number> {
  const { positionals } = args(argv, {}, 1);
  const def = await loadWorkflow(positionals[0]);
  out(`${positionals[0]} is valid: workflow ${def.name}, ${def.order.length} ops in order ${def.order.join(' -> ')}${def.schedule ? `, schedule "${def.schedule.cron}"` : ''}.`);
  return 0;
}

async function graph(argv: string[]): Promise<number> {
  const { values, positionals } = args(argv, { out: { type: 'string' } }, 1);
  const def = await loadWorkflow(positionals[0]);
  const nodes = nodesOf(def);
  const prefix = resolve(typeof values.out === 'string' ? values.out : `./${def.name}`);
  out(graphText(def.name, nodes, def.order));
  writeFileSync(`${prefix}.mmd`, graphMermaid(nodes));
  writeFileSync(`${prefix}.svg`, graphSvg(def.name, nodes, def.order));
  out(`wrote ${prefix}.mmd and ${prefix}.svg`);
  return 0;
}

async function run(argv: string[]): Promise<number> {
  const { values, positionals } = args(argv, { 'run-id': { type: 'string' }, 'run-date': { type: 'string' }, quiet: { type: 'boolean' } }, 1);
  let runDate: Date | undefined;
  if (typeof values['run-date'] === 'string') {
    runDate = new Date(`${values['run-date']}T00:00:00Z`);
    if (!/^\d{4}-\d{2}-\d{2}$/.test(values['run-date']) || Number.isNaN(runDate.getTime())) throw new UsageError(`--run-date must be YYYY-MM-DD, got ${JSON.stringify(values['run-date'])}.`);
  }
  const def = await loadWorkflow(positionals[0]);
  const ctrl = new AbortController();
  let firstSignal = 0;
  const onSignal = () => {
    // `rayts workflow run` forwards the terminal's SIGINT that reached it too: one Ctrl-C comes twice.
    if (!firstSignal) {
      firstSignal = Date.now();
      process.stderr.write('\ncancelling the run (stopping its jobs and clusters); Ctrl-C again to leave now\n');
      ctrl.abort();
    } else if (Date.now() - firstSignal > 1000) process.exit(130);
  };
  process.on('SIGINT', onSignal).on('SIGTERM', onSignal);
  const record = await runWorkflow(def, {
    ...(typeof values['run-id'] === 'string' ? { runId: values['run-id'] } : {}),
    ...(runDate ? { runDate } : {}),
    signal: ctrl.signal,
    raiseOnError: false,
    onEvent: (e, id) => {
      const l = eventLine(e, id);
      if (l) out(l);
    },
    ...(values.quiet ? {} : { onLog: (op: string, line: string) => out(`    [${op}] ${line}`) }),
  });
  out(`details: rayts workflow show ${record.runId}`);
  return record.status === 'success' ? 0 : record.status === 'canceled' ? 130 : 1;
}

function showRun(r: RunRecord, store: RunStore, logLines: number): string {
  const lines = [
    `run ${r.runId}: ${r.status}`,
    `  workflow: ${r.workflow} (${r.file})`,
    `  file sha256: ${r.fileHash}`,
    `  git: ${r.git ? `${r.git.commit}${r.git.dirty ? ' (dirty)' : ''} in ${r.git.root}` : 'not in a git repository'}`,
    `  trigger: ${r.trigger}, run date ${r.runDate}, process ${r.pid}`,
    `  started ${time(r.startedAt)}, ended ${time(r.endedAt)} ${dur(r.startedAt, r.endedAt)}`,
  ];
  if (r.error) lines.push(`  error: ${r.error.message}`);
  for (const a of r.alerts) lines.push(`  alert on ${a.on} -> ${a.webhook}: ${a.ok ? 'sent' : 'failed'} (${a.detail})`);
  if (r.liveResources.length) lines.push(`  still running: ${r.liveResources.map((x) => (x.kind === 'job' ? `job ${x.jobId}` : `cluster ${x.address}`)).join(', ')}`);
  lines.push('ops:');
  for (const op of Object.values(r.ops)) {
    lines.push(`  ${op.name} [${op.type}] ${op.status}${op.attempts ? `, ${op.attempts} attempt${op.attempts > 1 ? 's' : ''}` : ''} ${dur(op.startedAt, op.endedAt)}`.trimEnd());
    if (op.skipReason) lines.push(`    skipped: ${op.skipReason}`);
    if (op.error) lines.push(`    error: ${op.error.message.split('\n')[0]}`);
    if (op.output !== undefined) {
      const o = JSON.stringify(op.output);
      lines.push(`    output: ${o.length > 300 ? `${o.slice(0, 300)}…` : o}`);
    }
    const log = store.logs(r.runId, op.name);
    if (logLines > 0 && log.length) {
      lines.push(`    log (${log.length} lines${log.length > logLines ? `, last ${logLines}` : ''}):`);
      for (const l of log.slice(-logLines)) lines.push(`      ${l}`);
    }
  }
  return lines.join('\n');
}

async function show(argv: string[]): Promise<number> {
  const { values, positionals } = args(argv, { json: { type: 'boolean' }, logs: { type: 'string' } }, 1);
  const store = new RunStore();
  const r = store.get(positionals[0]);
  const n = typeof values.logs === 'string' ? Number(values.logs) : 10;
  if (!Number.isInteger(n) || n < 0) throw new UsageError(`--logs must be a count of lines, got ${JSON.stringify(values.logs)}.`);
  if (values.json) out(JSON.stringify({ ...r, logs: Object.fromEntries(store.loggedOps(r.runId).map((op) => [op, store.logs(r.runId, op)])) }, null, 2));
  else out(showRun(r, store, n));
  return 0;
}

async function history(argv: string[]): Promise<number> {
  const { values, positionals } = args(argv, { limit: { type: 'string' }, json: { type: 'boolean' } }, 1);
  const limit = typeof values.limit === 'string' ? Number(values.limit) : 20;
  if (!Number.isInteger(limit) || limit < 1) throw new UsageError(`--limit must be a positive integer, got ${JSON.stringify(values.limit)}.`);
  const file = resolve(positionals[0]);
  const store = new RunStore();
  const runs = store.list({ file }, limit);
  if (values.json) {
    out(JSON.stringify(runs, null, 2));
    return 0;
  }
  if (!runs.length) {
    out(`No runs of ${file} in ${store.runsDir}.`);
    return 0;
  }
  out(`runs of ${basename(file)} (newest first):`);
  for (const r of runs) {
    const ops = Object.values(r.ops);
    const ok = ops.filter((o) => o.status === 'success').length;
    out(`  ${r.runId}  ${r.status.padEnd(9)} ${time(r.startedAt ?? r.queuedAt)}  ${dur(r.startedAt, r.endedAt).padEnd(8)} ${ok}/${ops.length} ops ok  ${r.trigger}  git ${r.git ? `${r.git.commit.slice(0, 10)}${r.git.dirty ? '+dirty' : ''}` : '-'}`);
  }
  return 0;
}

async function schedule(argv: string[]): Promise<number> {
  const { positionals } = args(argv, {}, 1);
  const def = await loadWorkflow(positionals[0]);
  const s = new WorkflowScheduler(def, {
    onRunStart: (id, at, trigger) => out(`${trigger === 'catch_up' ? 'catching up' : 'starting'} run ${id} for ${at.toISOString()}`),
    onRunEnd: (r) => out(`run ${r.runId} ${r.status}${s.nextRun() ? `; next at ${s.nextRun()!.toISOString()}` : ''}`),
    onSkip: (at, active) => out(`skipped ${at.toISOString()}: run ${active.join(', ')} still going (concurrencyPolicy: forbid)`),
  });
  await s.start();
  out(`scheduler for ${def.name} (${def.schedule!.cron}${def.schedule!.timezone ? ` ${def.schedule!.timezone}` : ''}) started, process ${process.pid}; next run at ${s.nextRun()?.toISOString() ?? 'never'}. Ctrl-C stops it (and cancels a run going).`);
  await new Promise<void>((res) => {
    const stop = () => {
      out('stopping the scheduler');
      void s.destroy().then(res);
    };
    process.once('SIGINT', stop).once('SIGTERM', stop);
  });
  return 0;
}

async function cancel(argv: string[]): Promise<number> {
  const { values, positionals } = args(argv, { 'no-wait': { type: 'boolean' } }, 1);
  const r = await cancelRun(positionals[0], { wait: !values['no-wait'] });
  out(`run ${r.runId}: ${r.status}`);
  return 0;
}

const COMMANDS: Record<string, (argv: string[]) => Promise<number>> = { validate, graph, run, history, show, schedule, cancel };

async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  if (!cmd || cmd === '--help' || cmd === '-h' || cmd === 'help') {
    out(USAGE);
    return cmd ? 0 : 2;
  }
  const f = COMMANDS[cmd];
  if (!f) throw new UsageError(`unknown command ${JSON.stringify(cmd)}.`);
  return f(rest);
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e: unknown) => {
    if (e instanceof UsageError) {
      process.stderr.write(`rayts workflow: ${e.message}\n${USAGE}\n`);
      process.exit(2);
    }
    if (e instanceof WorkflowDefinitionError || isRayError(e)) process.stderr.write(`rayts workflow: ${(e as Error).message}\n`);
    else process.stderr.write(`rayts workflow: ${e instanceof Error ? e.stack ?? e.message : String(e)}\n`);
    process.exit(1);
  },
);
