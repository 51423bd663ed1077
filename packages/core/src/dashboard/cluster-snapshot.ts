/**
 * The JSON the dashboard's API routes answer, read straight from the head's state (node table, task
 * events, actor directory, placement groups, jobs, KV). Plain objects with stable field names: the
 * browser client and scripts read them. Bounded: lists are capped, log reads are chunked.
 */
import { splitNodeResources } from '@samsara/ray-scheduler';
import type { HeadServer } from '../head/head-server.js';
import type { NodeRecord } from '../head/node-table.js';
import { readSections, type SectionView } from './library-sections.js';

const MAX_TASKS = 500;

function used(total: Record<string, number>, available: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(total)) out[k] = Math.round((v - (available[k] ?? 0)) * 1000) / 1000;
  return out;
}

function nodeView(n: NodeRecord, now: number) {
  const t = n.telemetry;
  // Capacity as the node offers it; `used` counts what bundles reserve; the bundles are listed apart.
  const r = splitNodeResources(n.total, n.available);
  return {
    nodeId: n.nodeId,
    kind: n.kind || (n.isHead ? 'head' : 'worker'),
    isHead: n.isHead,
    address: n.address,
    hostname: n.hostname,
    pid: n.pid,
    state: n.alive ? 'ALIVE' : 'DEAD',
    deathReason: n.deathReason,
    labels: n.labels,
    total: r.resources,
    used: used(r.resources, r.available),
    bundles: r.bundles.map((b) => ({ pgId: b.pgId, bundleIndex: b.bundleIndex, resources: b.resources, used: used(b.resources, b.available) })),
    queuedTasks: n.queuedTasks,
    runningTasks: n.runningTasks,
    heartbeatAgoMs: Math.max(0, now - n.lastHeartbeatMs),
    startedAtMs: n.startedAtMs,
    telemetry: t
      ? {
          cpuLoad: t.cpuLoad ?? 0,
          memUsedBytes: t.memUsedBytes ?? 0,
          memTotalBytes: t.memTotalBytes ?? 0,
          rssBytes: t.rssBytes ?? 0,
          temperatureC: t.hasTemperature ? (t.temperatureC ?? 0) : null,
        }
      : null,
    store: n.store
      ? { usedBytes: n.store.usedBytes ?? 0, capacityBytes: n.store.capacityBytes ?? 0, spilledBytes: n.store.spilledBytes ?? 0, numObjects: n.store.numObjects ?? 0 }
      : null,
  };
}

function countBy<T>(items: Iterable<T>, key: (t: T) => string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const i of items) out[key(i)] = (out[key(i)] ?? 0) + 1;
  return out;
}

/** Cluster overview: nodes (edge cameras included) and counts of everything else. */
export function clusterView(head: HeadServer, headAddress: string) {
  const now = Date.now();
  const nodes = head.nodes.all().map((n) => nodeView(n, now));
  nodes.sort((a, b) => Number(b.isHead) - Number(a.isHead) || a.kind.localeCompare(b.kind) || a.startedAtMs - b.startedAtMs);
  return {
    headAddress,
    nodes,
    counts: {
      nodes: countBy(nodes, (n) => n.state),
      tasks: head.tasks.countByState(),
      actors: countBy(head.actors.list(), (a) => a.state),
      placementGroups: countBy(head.placementGroups.list(), (p) => p.state ?? ''),
      jobs: countBy(head.submissions.list(head.jobs.values()), (j) => j.state ?? ''),
    },
    serverTimeMs: now,
  };
}

/** Filters of the tasks view (query parameters `state`, `job`, `node`, `name`). */
export interface TaskFilter {
  state?: string;
  job?: string;
  node?: string;
  name?: string;
}

export function tasksView(head: HeadServer, f: TaskFilter) {
  const all = head.tasks.list(Number.MAX_SAFE_INTEGER, '');
  const name = f.name?.toLowerCase();
  const match = all.filter(
    (t) =>
      (!f.state || t.state === f.state) &&
      (!f.job || t.jobId === f.job) &&
      (!f.node || (t.nodeId ?? '').startsWith(f.node)) &&
      (!name || (t.name ?? '').toLowerCase().includes(name)),
  );
  const tasks = match
    .slice(-MAX_TASKS)
    .reverse()
    .map((t) => ({
      taskId: t.taskId ?? '',
      name: t.name ?? '',
      state: t.state ?? '',
      jobId: t.jobId ?? '',
      nodeId: t.nodeId ?? '',
      actorId: t.actorId ?? '',
      attempt: t.attempt ?? 0,
      reason: t.reason ?? '',
      timeMs: t.timeMs ?? 0,
      resources: t.resources ?? {},
    }));
  return { counts: countBy(all, (t) => t.state ?? ''), matched: match.length, tasks, pending: head.tasks.pending() };
}

export function actorsView(head: HeadServer) {
  return {
    actors: head.actors.list().map((a) => ({
      actorId: a.actorId,
      name: a.name ?? '',
      namespace: a.namespace ?? '',
      className: a.className ?? '',
      state: a.state,
      nodeId: a.nodeId ?? '',
      jobId: a.jobId ?? '',
      detached: !!a.detached,
      numRestarts: a.numRestarts ?? 0,
      maxRestarts: a.maxRestarts ?? 0,
      reason: a.reason ?? '',
      deathCause: a.deathCause ?? '',
      resources: a.resources ?? {},
      pgId: a.pgId ?? '',
    })),
  };
}

export function placementGroupsView(head: HeadServer) {
  return {
    placementGroups: head.placementGroups.list().map((g) => ({
      pgId: g.pgId ?? '',
      name: g.name ?? '',
      strategy: g.strategy ?? '',
      state: g.state ?? '',
      reason: g.reason ?? '',
      jobId: g.jobId ?? '',
      bundles: (g.bundles ?? []).map((b) => ({ resources: b.resources ?? {}, nodeId: b.nodeId ?? '' })),
    })),
  };
}

export function jobsView(head: HeadServer) {
  return {
    jobs: head.submissions
      .list(head.jobs.values())
      .map((j) => ({
        type: j.type || 'DRIVER',
        submissionId: j.submissionId ?? '',
        jobId: j.jobId ?? '',
        state: j.state ?? '',
        entrypoint: j.entrypoint ?? '',
        startMs: j.startMs ?? 0,
        endMs: j.endMs ?? 0,
        pid: j.pid ?? 0,
        exitCode: j.hasExitCode ? (j.exitCode ?? 0) : null,
        message: j.message ?? '',
        driverAddress: j.driverAddress ?? '',
      }))
      .reverse(),
  };
}

export function objectsView(head: HeadServer) {
  const now = Date.now();
  const nodes = head.nodes
    .all()
    .filter((n) => n.alive)
    .map((n) => {
      const v = nodeView(n, now);
      return { nodeId: v.nodeId, kind: v.kind, address: v.address, store: v.store };
    });
  const sum = (k: 'usedBytes' | 'capacityBytes' | 'spilledBytes' | 'numObjects') => nodes.reduce((s, n) => s + (n.store?.[k] ?? 0), 0);
  return { nodes, total: { usedBytes: sum('usedBytes'), capacityBytes: sum('capacityBytes'), spilledBytes: sum('spilledBytes'), numObjects: sum('numObjects') } };
}

export function sectionsView(head: HeadServer, library?: string): { sections: SectionView[] } {
  return { sections: readSections(head.kv, library) };
}
