/**
 * `rayts status` and `rayts list nodes|tasks|jobs`: read the head's view and print it for people (a
 * table) or tools (`--json`). The head is found from --address or this machine's latest session.
 */
import * as grpc from '@grpc/grpc-js';
import { InvalidArgumentError, RayError, formatResources, shortId } from '@samsara/ray-common';
import type { rayts } from '@samsara/ray-proto';
import type { NodeBundle } from '@samsara/ray-scheduler';
import { HeadClient, CHANNEL_OPTIONS } from '../rpc/services.js';
import { callUnary } from '../rpc/auth.js';
import { liveSession, resolveTokenSource, sessionsWithHead } from '../session.js';
import { noteTokenSource } from '../rpc/auth.js';
import { parse } from './args.js';
import { nodeSummaries } from '../runtime/node-summaries.js';
import { listObjects } from './list-objects.js';
import { channelCredentials } from '../rpc/tls.js';

export const STATUS_USAGE = 'rayts status [--address HOST:PORT] [--token T] [--json]';
export const LIST_USAGE = 'rayts list nodes|actors|tasks|placement-groups|jobs|objects [--address HOST:PORT] [--token T] [--json] [--limit N]';

/**
 * The head to talk to: `--address`, else RAYTS_ADDRESS, else the newest session on this machine whose
 * head process is running. Sessions whose head is gone (stopped, crashed, or a start that failed) do
 * not count: with only those, there is no running cluster, and the error says so.
 */
export function headAddress(explicit: string | undefined): string {
  if (explicit) return explicit;
  const env = process.env.RAYTS_ADDRESS?.trim();
  if (env) return env;
  const live = liveSession();
  if (live) return live.head.address;
  const stale = sessionsWithHead()[0];
  throw new RayError(
    `No running cluster found on this machine${stale ? ` (the last one, at ${stale.head.address}, is not running)` : ''}.`,
    { hint: 'Start one with `rayts start --head`, or pass --address HOST:PORT (or set RAYTS_ADDRESS) for a cluster elsewhere.' },
  );
}

/** The token for the head at `address` (the session that runs it, when it is on this machine). */
export function tokenFor(address: string, explicit: string | undefined): string {
  const { token, source } = resolveTokenSource(explicit, undefined, address);
  noteTokenSource(address, source);
  return token;
}

async function withHead<T>(address: string, token: string, f: (c: grpc.Client) => Promise<T>): Promise<T> {
  const c = new HeadClient(address, channelCredentials(), CHANNEL_OPTIONS);
  try {
    return await f(c);
  } finally {
    c.close();
  }
}

export function table(rows: string[][]): string {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) => r.map((c, i) => c.padEnd(widths[i])).join('  ').trimEnd()).join('\n');
}

function usage(total: Readonly<Record<string, number>>, available: Readonly<Record<string, number>>): string {
  return Object.keys(total)
    .sort((a, b) => (a === 'CPU' ? -1 : b === 'CPU' ? 1 : a.localeCompare(b)))
    .map((k) => `${k} ${+(total[k] - (available[k] ?? 0)).toFixed(4)}/${total[k]}`)
    .join(', ');
}

/** What a node's placement-group bundles reserve, and use of it: " (in groups: CPU 1/2)" or "". */
function groupUsage(bundles: readonly NodeBundle[]): string {
  if (!bundles.length) return '';
  const total: Record<string, number> = {};
  const free: Record<string, number> = {};
  for (const b of bundles) {
    for (const [k, v] of Object.entries(b.resources)) total[k] = (total[k] ?? 0) + v;
    for (const [k, v] of Object.entries(b.available)) free[k] = (free[k] ?? 0) + v;
  }
  return ` (in ${bundles.length} bundle${bundles.length > 1 ? 's' : ''}: ${usage(total, free)})`;
}

interface View {
  sessionName: string;
  nodes: rayts.NodeInfo[];
  pending: rayts.PendingTaskInfo[];
  actors: rayts.ActorInfo[];
  placementGroups: rayts.PlacementGroupInfo[];
}

/** Decoded messages carry defaults on their prototypes; this view types them as complete. */
function asView(v: rayts.ClusterView): View {
  return v as unknown as View;
}

/** A decoded message as a plain object, defaults included (JSON.stringify skips prototype fields). */
export function plain(m: object): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const proto = Object.getPrototypeOf(m) as Record<string, unknown>;
  for (const k of new Set([...Object.keys(proto), ...Object.keys(m)])) {
    const v = (m as Record<string, unknown>)[k];
    if (typeof v === 'function' || k.startsWith('$')) continue;
    out[k] = v instanceof Uint8Array ? undefined : v;
  }
  return out;
}

function actorPlain(a: rayts.ActorInfo): Record<string, unknown> {
  const p = plain(a);
  delete p.spec;
  return p;
}

function gib(b: number): string {
  return b >= 1 << 30 ? `${(b / (1 << 30)).toFixed(2)} GiB` : `${(b / (1 << 20)).toFixed(1)} MiB`;
}

/** CPU load per core, memory used/total and temperature of a node's last report; "-" where absent. */
function telemetryColumns(
  t: { cpuLoad?: number | null; memUsedBytes?: number | null; memTotalBytes?: number | null; hasTemperature?: boolean | null; temperatureC?: number | null } | null | undefined,
): [string, string, string] {
  if (!t) return ['-', '-', '-'];
  const hasTemp = t.hasTemperature ?? t.temperatureC !== undefined;
  return [
    (t.cpuLoad ?? 0).toFixed(2),
    `${gib(t.memUsedBytes ?? 0)}/${gib(t.memTotalBytes ?? 0)}`,
    hasTemp ? `${(t.temperatureC ?? 0).toFixed(1)} °C` : '-',
  ];
}

export async function status(argv: string[]): Promise<number> {
  const { values } = parse(argv, { address: { type: 'string' }, token: { type: 'string' }, json: { type: 'boolean' } }, STATUS_USAGE);
  const address = headAddress(values.address as string | undefined);
  const token = tokenFor(address, values.token as string | undefined);
  const view = asView(await withHead(address, token, (c) => callUnary<unknown, rayts.ClusterView>(c, 'clusterStatus', {}, token, 10_000)));
  if (values.json) {
    process.stdout.write(JSON.stringify({ sessionName: view.sessionName, nodes: nodeSummaries(view), pending: view.pending.map(plain), actors: view.actors.map(actorPlain), placementGroups: view.placementGroups.map(plain) }, null, 2) + '\n');
    return 0;
  }
  const alive = view.nodes.filter((n) => n.alive);
  const out: string[] = [`rayts cluster at ${address} (${view.sessionName})`, '', `Nodes: ${alive.length} alive, ${view.nodes.length - alive.length} dead`];
  const rows = [['NODE', 'KIND', 'ADDRESS', 'STATE', 'RESOURCES (used/total)', 'QUEUED', 'RUNNING', 'STORE', 'LOAD', 'MEM', 'TEMP', 'LABELS']];
  // Capacity as nodes offer it; bundles' reservations count as used and are detailed in parentheses.
  const summaries = new Map(nodeSummaries(view).map((s) => [s.nodeId, s]));
  for (const n of view.nodes) {
    const s = summaries.get(n.nodeId)!;
    rows.push([
      shortId(n.nodeId),
      n.kind || 'worker',
      n.address,
      n.alive ? 'ALIVE' : `DEAD (${n.deathReason})`,
      n.alive ? usage(s.resources, s.available) + groupUsage(s.bundles) : '-',
      String(n.queuedTasks ?? 0),
      String(n.runningTasks ?? 0),
      n.store ? `${gib(n.store.usedBytes ?? 0)}/${gib(n.store.capacityBytes ?? 0)}, ${n.store.numObjects ?? 0} obj${n.store.spilledBytes ? `, ${gib(n.store.spilledBytes)} spilled` : ''}` : '-',
      ...telemetryColumns(n.alive ? n.telemetry : undefined),
      Object.entries(n.labels).map(([k, v]) => `${k}=${v}`).join(','),
    ]);
  }
  out.push(table(rows));
  const totals: Record<string, number> = {};
  const avail: Record<string, number> = {};
  for (const n of alive) {
    const s = summaries.get(n.nodeId)!;
    for (const [k, v] of Object.entries(s.resources)) totals[k] = (totals[k] ?? 0) + v;
    for (const [k, v] of Object.entries(s.available)) avail[k] = (avail[k] ?? 0) + v;
  }
  out.push('', `Resources (used/total): ${usage(totals, avail) || 'none'}${groupUsage(alive.flatMap((n) => summaries.get(n.nodeId)!.bundles))}`);
  const st = alive.reduce((a, n) => ({ used: a.used + (n.store?.usedBytes ?? 0), cap: a.cap + (n.store?.capacityBytes ?? 0), spilled: a.spilled + (n.store?.spilledBytes ?? 0), objs: a.objs + (n.store?.numObjects ?? 0) }), { used: 0, cap: 0, spilled: 0, objs: 0 });
  out.push(`Object store: ${gib(st.used)} used of ${gib(st.cap)}, ${gib(st.spilled)} spilled, ${st.objs} objects`);
  if (view.actors?.length) {
    out.push('', 'Actors:');
    out.push(table([['ACTOR', 'CLASS', 'NAME', 'STATE', 'NODE', 'REASON'], ...view.actors.map((a) => [shortId(a.actorId), a.className, a.name, a.state, shortId(a.nodeId), a.reason])]));
  }
  if (view.placementGroups?.length) {
    out.push('', 'Placement groups:');
    out.push(table([['GROUP', 'NAME', 'STRATEGY', 'STATE', 'REASON'], ...view.placementGroups.map((g) => [shortId(g.pgId), g.name, g.strategy, g.state, g.reason])]));
  }
  out.push('', view.pending.length ? `Pending tasks (${view.pending.length}):` : 'Pending tasks: none');
  for (const p of view.pending) out.push(`  ${p.name} (task ${shortId(p.taskId)}) needs ${formatResources(p.resources)}: ${p.reason}`);
  const demands = alive.flatMap((n) => (n.queuedTasks ? [`  ${shortId(n.nodeId)}: ${n.queuedTasks} queued`] : []));
  if (demands.length) out.push('', 'Queued on nodes:', ...demands);
  process.stdout.write(out.join('\n') + '\n');
  return 0;
}

export async function list(argv: string[]): Promise<number> {
  const { values, positionals } = parse(
    argv,
    { address: { type: 'string' }, token: { type: 'string' }, json: { type: 'boolean' }, limit: { type: 'string' } },
    LIST_USAGE,
  );
  const what = positionals[0];
  const kinds = ['nodes', 'actors', 'tasks', 'placement-groups', 'jobs', 'objects'];
  if (!what || !kinds.includes(what)) {
    throw new InvalidArgumentError(`rayts list needs one of ${kinds.join(', ')}${what ? `, got ${JSON.stringify(what)}` : ''}.`, { hint: `Usage: ${LIST_USAGE}` });
  }
  const address = headAddress(values.address as string | undefined);
  const token = tokenFor(address, values.token as string | undefined);
  const limit = values.limit ? Number(values.limit) : 1000;
  if (!Number.isInteger(limit) || limit < 1) throw new InvalidArgumentError(`--limit must be a positive integer, got ${JSON.stringify(values.limit)}.`, { hint: `Usage: ${LIST_USAGE}` });
  const data = await withHead(address, token, async (c) => {
    switch (what) {
      case 'tasks':
        return (await callUnary<unknown, rayts.TaskList>(c, 'listTasks', { limit }, token)).tasks.map(plain);
      case 'jobs':
        return (await callUnary<unknown, rayts.JobList>(c, 'listJobs', {}, token)).jobs.map(plain);
      default: {
        const v = asView(await callUnary<unknown, rayts.ClusterView>(c, 'clusterStatus', {}, token));
        if (what === 'nodes') {
          return nodeSummaries(v).map((n) => {
            const [load, mem, temp] = telemetryColumns(n.alive ? n.telemetry : undefined);
            return { ...n, total: n.resources, load, mem, temp };
          });
        }
        if (what === 'actors') return v.actors.map(actorPlain);
        if (what === 'placement-groups') return v.placementGroups.map(plain);
        const jobs = (await callUnary<unknown, rayts.JobList>(c, 'listJobs', {}, token)).jobs as rayts.JobInfo[];
        const objs = await listObjects(v.nodes, jobs, token, limit);
        for (const u of objs.unreachable) process.stderr.write(`rayts: could not list the objects of ${u}\n`);
        if (objs.total > objs.rows.length && !values.json) process.stderr.write(`rayts: showing ${objs.rows.length} of ${objs.total} objects (--limit N shows more)\n`);
        return objs.rows;
      }
    }
  });
  if (values.json) {
    process.stdout.write(JSON.stringify(data, null, 2) + '\n');
    return 0;
  }
  const rows = data as Record<string, unknown>[];
  const columns: Record<string, string[]> = {
    nodes: ['nodeId', 'kind', 'address', 'alive', 'total', 'load', 'mem', 'temp', 'labels'],
    tasks: ['taskId', 'name', 'state', 'nodeId', 'attempt', 'reason'],
    jobs: ['submissionId', 'jobId', 'type', 'state', 'pid', 'driverAddress', 'entrypoint'],
    actors: ['actorId', 'className', 'name', 'namespace', 'state', 'nodeId', 'numRestarts', 'reason'],
    'placement-groups': ['pgId', 'name', 'strategy', 'state', 'reason'],
    objects: ['objectId', 'size', 'state', 'location'],
  };
  const cols = columns[what];
  const fmt = (v: unknown): string => (v === undefined || v === null ? '' : typeof v === 'object' ? Object.entries(v).map(([k, x]) => `${k}=${x}`).join(',') : String(v));
  process.stdout.write(table([cols.map((c) => c.toUpperCase()), ...rows.map((r) => cols.map((c) => fmt(r[c])))]) + `\n${rows.length} ${what}\n`);
  return 0;
}
