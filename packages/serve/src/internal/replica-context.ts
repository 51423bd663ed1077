/** The replica being constructed in this thread (read by batch() to warn about its limits). */
import type { Logger } from 'pino';

export interface ReplicaContext {
  readonly deployment: string;
  readonly maxOngoingRequests: number;
  readonly logger: Logger;
}

let ctx: ReplicaContext | undefined;

export function replicaContext(): ReplicaContext | undefined {
  return ctx;
}

export function setReplicaContext(c: ReplicaContext | undefined): void {
  ctx = c;
}
