/**
 * Head recovery: puts the state an earlier head of the same session persisted (head-state-store.ts)
 * back into a new HeadServer, before it serves anything.
 *
 * What it decides:
 * - Nodes that were alive stay alive, counted as heard from at the restart: a node whose NodeChannel
 *   comes back within `deadAfterMs` keeps its id (its reports are accepted); one that does not is
 *   declared dead by the usual sweep, and its actors and bundles with it.
 * - The node that lived inside the old head process (kind head) died with it: dead at once.
 * - Actors, placement groups, jobs and KV come back as they were. A job whose driver does not
 *   resubscribe to the cluster view within `deadAfterMs` ended while the head was down: it is marked
 *   FAILED and its non-detached actors and groups end, as when a driver disconnects.
 */
import type { Logger, ResourceMap } from '@samsara/ray-common';
import type { rayts } from '@samsara/ray-proto';
import type { HeadTables, JobRecord } from './head-tables.js';
import type { JournalTables } from './state-journal.js';
import type { PersistedNode } from './head-state-store.js';

export interface RecoverySummary {
  nodes: number;
  aliveNodes: number;
  actors: number;
  placementGroups: number;
  jobs: number;
  kvKeys: number;
}

function values<T>(tables: JournalTables, t: string): T[] {
  return [...(tables.get(t)?.values() ?? [])] as T[];
}

/** Restores `tables` into `head`. Returns what came back. */
export function restoreHeadState(head: HeadTables, tables: JournalTables, deadAfterMs: number, log: Logger): RecoverySummary {
  const nodes = values<PersistedNode>(tables, 'nodes');
  for (const n of nodes) {
    head.nodes.restore({
      ...n,
      total: { ...n.total } as ResourceMap,
      labels: { ...n.labels },
      available: {},
      lastHeartbeatMs: 0,
      queuedTasks: 0,
      runningTasks: 0,
      pending: [],
    });
  }
  for (const g of values<rayts.IPlacementGroupInfo>(tables, 'groups')) head.placementGroups.restore(g);
  // Dead actors first: a live actor's name wins over a dead one's.
  const actors = values<rayts.IActorInfo & { actorId: string; state: string }>(tables, 'actors').sort(
    (a, b) => (a.state === 'DEAD' ? 0 : 1) - (b.state === 'DEAD' ? 0 : 1),
  );
  for (const a of actors) {
    try {
      head.actors.register(a);
    } catch (e) {
      log.warn({ actorId: a.actorId, err: (e as Error).message }, 'could not restore actor');
    }
  }
  const jobs = values<JobRecord>(tables, 'jobs');
  for (const j of jobs) head.jobs.set(j.jobId, { ...j });
  const kv = tables.get('kv');
  for (const [k, v] of kv ?? []) if (v instanceof Uint8Array) head.kv.set(k, v);

  for (const n of head.nodes.all()) {
    if (n.alive && n.isHead) {
      const why = 'it ran inside the head process, which restarted';
      head.nodes.markDead(n.nodeId, why);
      head.actors.nodeDied(n.nodeId, why);
      head.placementGroups.nodeDied(n.nodeId);
    }
  }
  const t = setTimeout(() => head.endJobsWithoutDriver('its driver did not reconnect after the head restarted'), deadAfterMs);
  t.unref();
  const summary: RecoverySummary = {
    nodes: nodes.length,
    aliveNodes: head.nodes.all().filter((n) => n.alive).length,
    actors: actors.length,
    placementGroups: head.placementGroups.list().length,
    jobs: jobs.length,
    kvKeys: kv?.size ?? 0,
  };
  log.info({ ...summary, deadAfterMs }, 'head state restored; alive nodes have the dead deadline to reconnect');
  return summary;
}
