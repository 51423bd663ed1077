/** Messages between a node's main thread and an actor's dedicated worker thread. */
import type { ErrorWire } from '@samsara/ray-common';
import type { WorkerFunction, WorkerInit, WorkerReply } from './protocol.js';
import type { WorkerArg } from './values.js';
import type { GeneratorPlan, StreamItem } from './generator-driver.js';

export interface ActorWorkerData {
  readonly rayts: WorkerInit;
  readonly actorId: string;
  readonly jobId: string;
  readonly nodeId: string;
  readonly creationTaskId: string;
  readonly fn: WorkerFunction;
  readonly workingDirPath: string;
  readonly maxConcurrency: number;
  readonly namespace: string;
}

/** A warm thread: booted ahead with only the node's init, waiting for the actor it will host. */
export interface WarmActorWorkerData {
  readonly rayts: WorkerInit;
  readonly warm: true;
}

export type MainToActor =
  /** Gives a warm thread its actor (always the first message to a warm thread). */
  | { type: 'assign'; data: Omit<ActorWorkerData, 'rayts'> }
  | { type: 'create'; args: WorkerArg[] }
  | { type: 'call'; taskId: string; method: string; args: WorkerArg[]; generator?: GeneratorPlan }
  /** Calls that arrived in one turn of the node's event loop, in order: one message instead of one each. */
  | { type: 'calls'; calls: Omit<Extract<MainToActor, { type: 'call' }>, 'type'>[] }
  /** A streaming call's caller consumed `consumed` items / wants it stopped. */
  | { type: 'genAck'; taskId: string; consumed: number }
  | { type: 'genStop'; taskId: string }
  | { type: 'shutdown' };

export type ActorToMain =
  /** The thread loaded its modules (the node lets the next queued actor thread boot). */
  | { type: 'booted' }
  | { type: 'created' }
  | { type: 'create_failed'; error: ErrorWire }
  | { type: 'result'; taskId: string; reply: WorkerReply }
  /** Results of calls that ended in one turn of the actor's event loop, in order. */
  | { type: 'results'; results: { taskId: string; reply: WorkerReply }[] }
  /** Items of a streaming call, in order (before its result). */
  | { type: 'items'; taskId: string; items: StreamItem[] }
  | { type: 'shutdown_done' };
