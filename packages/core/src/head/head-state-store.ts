/**
 * HeadStateStore: the part of the head's state that survives a head restart — nodes, actors,
 * placement groups, jobs and KV — written to a {@link StateJournal} in the session directory.
 * Responsible for what is persisted of each table and when: the head marks a table dirty when it
 * changes, and the store diffs that table against what is on disk once per flush (50 ms), so a burst
 * of changes costs one write. KV entries are written per key (values can be large). Task events and
 * node load (available resources, telemetry) are not persisted: they are rebuilt by the next reports.
 *
 * Not responsible for putting the state back (head-recovery.ts) nor for deciding whether a start
 * restores (the CLI, cli/restore-session.ts).
 */
import { join } from 'node:path';
import type { Logger } from '@samsara/ray-common';
import type { HeadTables } from './head-tables.js';
import type { NodeRecord } from './node-table.js';
import { StateJournal, type JournalTables, type StateJournalStats } from './state-journal.js';

/** File name of the head's journal inside the session directory. */
export const HEAD_STATE_FILE = 'head-state.jsonl';

/** Tables the store diffs on flush (KV is written per key). */
export type HeadTable = 'nodes' | 'actors' | 'groups' | 'jobs';
const DIFFED: readonly HeadTable[] = ['nodes', 'actors', 'groups', 'jobs'];

/** What is persisted of a node: identity and capacity, not its load. */
export type PersistedNode = Pick<
  NodeRecord,
  'nodeId' | 'address' | 'total' | 'labels' | 'kind' | 'isHead' | 'hostname' | 'pid' | 'alive' | 'startedAtMs' | 'deathReason'
>;

export function persistedNode(n: NodeRecord): PersistedNode {
  return {
    nodeId: n.nodeId,
    address: n.address,
    total: n.total,
    labels: n.labels,
    kind: n.kind,
    isHead: n.isHead,
    hostname: n.hostname,
    pid: n.pid,
    alive: n.alive,
    startedAtMs: n.startedAtMs,
    deathReason: n.deathReason,
  };
}

export interface HeadStateStoreOptions {
  readonly sessionDir: string;
  /** Read what an earlier head of this session wrote (else start empty). */
  readonly restore: boolean;
  readonly log: Logger;
  readonly flushIntervalMs?: number;
}

export class HeadStateStore {
  private readonly dirty = new Set<HeadTable>();
  /** Actors changed since the last flush (the directory can hold many: only these are encoded). */
  private readonly dirtyActors = new Set<string>();
  readonly journal: StateJournal;
  /** The tables replayed at open (empty unless restoring). */
  readonly replayed: JournalTables;

  constructor(
    private readonly head: HeadTables,
    o: HeadStateStoreOptions,
  ) {
    const { journal, tables } = StateJournal.open(
      { path: join(o.sessionDir, HEAD_STATE_FILE), log: o.log, flushIntervalMs: o.flushIntervalMs, beforeFlush: () => this.collect() },
      o.restore,
    );
    this.journal = journal;
    this.replayed = tables;
  }

  /** The head changed these tables; they are diffed and written within the flush interval. */
  markDirty(...tables: HeadTable[]): void {
    for (const t of tables) this.dirty.add(t);
    this.journal.requestFlush();
  }

  /** These actors changed (all of them without ids). */
  markActorsDirty(actorIds?: readonly string[]): void {
    if (!actorIds) {
      this.markDirty('actors');
      return;
    }
    for (const id of actorIds) this.dirtyActors.add(id);
    this.journal.requestFlush();
  }

  markAllDirty(): void {
    this.markDirty(...DIFFED);
  }

  /** Writes a KV entry now; resolves once it is on disk (a put is acknowledged only then). */
  kvPut(key: string, value: Uint8Array): Promise<void> {
    this.journal.put('kv', key, value);
    return this.journal.flush();
  }

  /** Deletes a KV entry now; resolves once that is on disk. */
  kvDelete(key: string): Promise<void> {
    this.journal.delete('kv', key);
    return this.journal.flush();
  }

  get stats(): StateJournalStats {
    return this.journal.stats;
  }

  private collect(): void {
    const h = this.head;
    if (this.dirtyActors.size && !this.dirty.has('actors')) {
      for (const id of this.dirtyActors) {
        const a = h.actors.get(id);
        if (a && a.actorId === id) this.journal.putIfChanged('actors', id, a);
        else this.journal.delete('actors', id);
      }
    }
    this.dirtyActors.clear();
    if (this.dirty.size === 0) return;
    for (const t of this.dirty) {
      switch (t) {
        case 'nodes':
          this.journal.syncTable('nodes', h.nodes.all().map((n) => [n.nodeId, persistedNode(n)] as const));
          break;
        case 'actors':
          this.journal.syncTable('actors', h.actors.list().map((a) => [a.actorId, a] as const));
          break;
        case 'groups':
          this.journal.syncTable('groups', h.placementGroups.list().map((g) => [g.pgId ?? '', g] as const));
          break;
        case 'jobs':
          this.journal.syncTable('jobs', [...h.jobs.values()].map((j) => [j.jobId, j] as const));
          break;
      }
    }
    this.dirty.clear();
  }

  /** Writes what is pending; later changes are not persisted. */
  close(): Promise<void> {
    return this.journal.close();
  }
}
