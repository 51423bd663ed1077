/**
 * The head's state tables as its persistence (HeadStateStore) and its recovery after a restart
 * (restoreHeadState) read and write them. HeadServer holds them; these two depend on this shape, not on
 * the server, so that the server can use them without an import circle.
 */
import type { NodeTable } from './node-table.js';
import type { ActorDirectory } from './actor-directory.js';
import type { PlacementGroupManager } from './placement-group-manager.js';

/** A driver job as the head records it. */
export interface JobRecord {
  jobId: string;
  driverAddress: string;
  state: 'RUNNING' | 'SUCCEEDED' | 'FAILED';
  startMs: number;
  endMs: number;
  pid: number;
  entrypoint: string;
}

export interface HeadTables {
  readonly nodes: NodeTable;
  readonly actors: ActorDirectory;
  readonly placementGroups: PlacementGroupManager;
  readonly jobs: Map<string, JobRecord>;
  readonly kv: Map<string, Uint8Array>;
  /** Ends the jobs whose driver is not connected (after a restart: did not come back in time). */
  endJobsWithoutDriver(reason: string): void;
}
