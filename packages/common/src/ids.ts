/**
 * Branded ids. An id is a hex string: a random per-process prefix plus a counter, so minting one costs a
 * string concatenation, not a call into the random number generator.
 *
 * An ObjectId is its producing TaskId plus a return index (`<taskId>.<index>`); a `put` object uses a
 * put-task id of the putting process. JobId, NodeId, ActorId and PlacementGroupId are random.
 */
import { randomBytes } from 'node:crypto';

export type TaskId = string & { readonly __brand: 'TaskId' };
export type ObjectId = string & { readonly __brand: 'ObjectId' };
export type NodeId = string & { readonly __brand: 'NodeId' };
export type JobId = string & { readonly __brand: 'JobId' };
export type ActorId = string & { readonly __brand: 'ActorId' };
export type PlacementGroupId = string & { readonly __brand: 'PlacementGroupId' };

/** Mints ids unique across the cluster: a random 8-byte prefix per generator and a counter. */
export class IdGenerator {
  private readonly prefix: string;
  private counter = 0;
  constructor(prefix = randomBytes(6).toString('hex')) {
    this.prefix = prefix;
  }
  next(): string {
    return this.prefix + (++this.counter).toString(16).padStart(6, '0');
  }
}

const processIds = new IdGenerator();

export function newTaskId(): TaskId {
  return processIds.next() as TaskId;
}
export function objectIdOf(taskId: TaskId, index = 0): ObjectId {
  return `${taskId}.${index}` as ObjectId;
}
export function taskIdOfObject(objectId: ObjectId): TaskId {
  const dot = objectId.lastIndexOf('.');
  return (dot < 0 ? objectId : objectId.slice(0, dot)) as TaskId;
}
export function randomId(bytes = 8): string {
  return randomBytes(bytes).toString('hex');
}
export function newNodeId(): NodeId {
  return randomId(10) as NodeId;
}
export function newJobId(): JobId {
  return randomId(4) as JobId;
}
export function newActorId(): ActorId {
  return randomId(8) as ActorId;
}
export function newPlacementGroupId(): PlacementGroupId {
  return randomId(8) as PlacementGroupId;
}

/** Short form for messages and tables: the first 8 characters followed by an ellipsis. */
export function shortId(id: string): string {
  return id.length > 10 ? `${id.slice(0, 8)}…` : id;
}
