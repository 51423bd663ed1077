/**
 * What the parts of an owner (CoreWorker) share: its options, its object table, the tasks it has not
 * finished, its task streams to nodes, the lineage of its stored objects and its view of the cluster.
 * Each part (reference counting, submission, actor calls, object resolution, generator streams,
 * placement groups, task events) keeps its own state besides, and reaches the shared state through one
 * OwnerState that CoreWorker builds.
 */
import type { Logger } from '@samsara/ray-common';
import type { ObjectTable } from './object-table.js';
import type { NodeConnection } from './node-connection.js';
import type { ClusterView } from './cluster-view.js';
import type { ProcessStore } from './process-store.js';
import type { PullClient } from '../rpc/pull-client.js';
import type { TaskRecord } from './task-record.js';

export interface CoreWorkerOptions {
  readonly headAddress: string;
  readonly token: string;
  readonly jobId: string;
  /** Address of this process's gRPC server (OwnerService + object pulls). */
  readonly ownAddress: string;
  /** The node in this process or on this machine, preferred by DEFAULT placement. */
  readonly localNodeId?: string;
  readonly store: ProcessStore;
  readonly log: Logger;
  readonly workingDir?: string;
  readonly workingDirArchive?: { hash: string; bytes: Uint8Array };
  readonly entryScript?: string;
  /** A driver's CoreWorker: its cluster watch tells the head the job is alive. */
  readonly isDriver?: boolean;
  /**
   * How local references are counted: 'instances' — ObjectRef instances in this process (drivers);
   * 'explicit' — reported by the worker threads that hold them (a node's owners). Default: none (never
   * freed automatically).
   */
  readonly refCounting?: 'instances' | 'explicit';
  /** Namespace of named actors this worker creates by default. */
  readonly namespace?: string;
}

export interface OwnerState {
  readonly o: CoreWorkerOptions;
  readonly objects: ObjectTable;
  readonly view: ClusterView;
  /** Tasks (and actor creations and calls) not finished, by task id. */
  readonly tasks: Map<string, TaskRecord>;
  /** Task streams to nodes, by node id. */
  readonly conns: Map<string, NodeConnection>;
  /** The task that made each stored object still owned here, for lineage reconstruction. */
  readonly lineage: Map<string, TaskRecord>;
  readonly pulls: PullClient;
  /** Set once the owner closed. */
  readonly closed: boolean;
  /** Head unary call with this worker's token. */
  headCall<Res>(method: string, req: unknown, timeoutMs?: number): Promise<Res>;
}
