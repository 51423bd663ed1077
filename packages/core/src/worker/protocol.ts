/**
 * Messages between a node's main thread and its worker threads.
 * - Tasks go main → worker through the node's own thread pool ({@link WorkerTask} → {@link WorkerReply};
 *   node/task-thread-protocol.ts has the batching messages).
 * - Calls user code makes inside a task (nested submit, get, put, wait…) go worker → main on the
 *   thread's own port (`WorkerInit.bridgePort`), or, for a thread started without one, over a
 *   BroadcastChannel named `rayts:req:<bridgeId>` answered on `rayts:rep:<bridgeId>:<threadId>`.
 */
import type { ErrorWire } from '@samsara/ray-common';
import type { ShippedCallable } from '../code/function-descriptor.js';
import type { EncodedResult, WorkerArg } from './values.js';
import type { StoredMeta } from '@samsara/ray-object-store';
import type { MessagePort } from 'node:worker_threads';
import type { GeneratorPlan } from './generator-driver.js';
import type { KvRequest } from '../runtime/runtime.js';

/** A callable as a worker rebuilds it: exactly what the submitter shipped. */
export type WorkerFunction = ShippedCallable;

export interface WorkerTask {
  readonly taskId: string;
  readonly jobId: string;
  readonly nodeId: string;
  readonly attempt: number;
  readonly name: string;
  readonly fn: WorkerFunction;
  /** Extracted working directory of the job on this node, or ''. */
  readonly workingDirPath: string;
  /** Arguments (top-level refs already resolved): inline bytes or slices of the shared area. */
  readonly args: readonly WorkerArg[];
  /** The job's namespace for named actors. */
  readonly namespace: string;
  /** Set for a streaming task: the function is a generator whose items stream back. */
  readonly generator?: GeneratorPlan;
}

/** A task's reply. For a streaming task, `itemCount` is the number of items its generator produced. */
export type WorkerReply = (({ readonly ok: true } & EncodedResult) | { readonly ok: false; readonly error: ErrorWire }) & { readonly itemCount?: number };

export interface WorkerInit {
  readonly bridgeId: string;
  /** Address of the node (owner of objects that worker code creates). */
  readonly nodeAddress: string;
  readonly nodeId: string;
  /** The node's shared object area, where stored arguments are read without a copy. */
  readonly sharedBuffer?: SharedArrayBuffer;
  /**
   * This thread's own port to the node's WorkerBridge (requests and replies), transferred with the
   * thread's workerData; without it the thread uses the shared BroadcastChannels below.
   */
  readonly bridgePort?: MessagePort;
}

/** A ref inside an encoded value: id and owner address. */
export type NestedRefPair = readonly [id: string, owner: string];

export type BridgeArg = { kind: 'value'; bytes: Uint8Array; nested?: NestedRefPair[] } | { kind: 'ref'; id: string; owner: string };

export type BridgeRequest =
  | { op: 'submit'; reqId: number; threadId: number; parentTaskId: string; jobId: string; taskId: string; info: unknown; args: BridgeArg[]; opts: unknown }
  | { op: 'get'; reqId: number; threadId: number; parentTaskId: string; jobId: string; refs: [string, string][]; timeoutMs?: number }
  | { op: 'put'; reqId: number; threadId: number; parentTaskId: string; jobId: string; value: EncodedResult }
  | { op: 'release'; reqId: number; threadId: number; parentTaskId: string; jobId: string; pins: number[] }
  | { op: 'putAlloc'; reqId: number; threadId: number; parentTaskId: string; jobId: string; meta: StoredMeta }
  | { op: 'putCommit'; reqId: number; threadId: number; parentTaskId: string; jobId: string; write: number; containedRefs?: string[]; containedOwners?: string[] }
  | { op: 'refs'; reqId: number; threadId: number; parentTaskId: string; jobId: string; inc: NestedRefPair[]; dec: string[] }
  | { op: 'wait'; reqId: number; threadId: number; parentTaskId: string; jobId: string; refs: [string, string][]; numReturns: number; timeoutMs?: number }
  | { op: 'cancel'; reqId: number; threadId: number; parentTaskId: string; jobId: string; ref: [string, string]; force: boolean }
  | { op: 'free'; reqId: number; threadId: number; parentTaskId: string; jobId: string; refs: [string, string][] }
  | { op: 'nodes'; reqId: number; threadId: number; parentTaskId: string; jobId: string }
  | { op: 'stats'; reqId: number; threadId: number; parentTaskId: string; jobId: string }
  | { op: 'createActor'; reqId: number; threadId: number; parentTaskId: string; jobId: string; actorId: string; info: unknown; args: BridgeArg[]; opts: unknown }
  | { op: 'actorCall'; reqId: number; threadId: number; parentTaskId: string; jobId: string; actorId: string; className: string; method: string; taskId: string; args: BridgeArg[] }
  | { op: 'submitGenerator'; reqId: number; threadId: number; parentTaskId: string; jobId: string; taskId: string; info: unknown; args: BridgeArg[]; opts: unknown }
  | { op: 'actorGeneratorCall'; reqId: number; threadId: number; parentTaskId: string; jobId: string; actorId: string; className: string; method: string; taskId: string; args: BridgeArg[]; backpressure: number }
  | { op: 'genNext'; reqId: number; threadId: number; parentTaskId: string; jobId: string; taskId: string }
  | { op: 'genClose'; reqId: number; threadId: number; parentTaskId: string; jobId: string; taskId: string }
  | { op: 'killActor'; reqId: number; threadId: number; parentTaskId: string; jobId: string; actorId: string; noRestart: boolean }
  | { op: 'getActor'; reqId: number; threadId: number; parentTaskId: string; jobId: string; name: string; namespace: string }
  | { op: 'pgCreate'; reqId: number; threadId: number; parentTaskId: string; jobId: string; id: string; bundles: Record<string, number>[]; strategy: string; name: string }
  | { op: 'pgWait'; reqId: number; threadId: number; parentTaskId: string; jobId: string; id: string; timeoutMs?: number }
  | { op: 'pgRemove'; reqId: number; threadId: number; parentTaskId: string; jobId: string; id: string }
  | { op: 'kv'; reqId: number; threadId: number; parentTaskId: string; jobId: string; req: KvRequest };

export interface BridgeReply {
  reqId: number;
  ok: boolean;
  error?: ErrorWire;
  value?: unknown;
}

export function requestChannelName(bridgeId: string): string {
  return `rayts:req:${bridgeId}`;
}
export function replyChannelName(bridgeId: string, threadId: number): string {
  return `rayts:rep:${bridgeId}:${threadId}`;
}
