/**
 * CoreWorker: the owner side of the runtime, one per driver process and one per node daemon and job
 * (for tasks its worker threads submit). It is responsible for the tasks and objects it creates and is
 * not responsible for running code (node daemon) or for the node table (head): it only reads the head's
 * view. It is a thin face over its parts, one concern each, sharing one OwnerState:
 *
 * - OwnerReferences (owner-references.ts): reference counting of owned objects, borrowing of others';
 * - TaskSubmitter (task-submitter.ts): argument resolution, placement, dispatch, results, retries,
 *   cancel, lineage reconstruction;
 * - ActorCaller (actor-caller.ts): actor creation, ordered calls, restarts;
 * - ObjectResolver (object-resolver.ts): put, get, wait, free, and answers to borrowers;
 * - GeneratorStreams (generator-streams.ts): items of streaming generator tasks;
 * - PlacementGroupClient (placement-group-client.ts) and TaskEventLog (task-event-log.ts).
 */
import type * as grpc from '@grpc/grpc-js';
import { RayError, newActorId, newTaskId, type ObjectId, type ObjectRef, type ResourceMap } from '@samsara/ray-common';
import type { rayts } from '@samsara/ray-proto';
import { ObjectTable } from './object-table.js';
import type { NodeConnection } from './node-connection.js';
import { ClusterView } from './cluster-view.js';
import { PullClient } from '../rpc/pull-client.js';
import { HeadClient } from '../rpc/services.js';
import { HEAD_CHANNEL_OPTIONS } from '../rpc/head-channel-options.js';
import { callUnary } from '../rpc/auth.js';
import { channelCredentials } from '../rpc/tls.js';
import type { EncodedResult } from '../worker/values.js';
import type { CallableInfo } from '../code/function-descriptor.js';
import type { ResolvedTaskOptions } from '../runtime/resolved-options.js';
import type { ResolvedActorOptions } from '../runtime/resolved-options.js';
import type { CoreWorkerOptions, OwnerState } from './owner-state.js';
import type { NestedRef, TaskArg, TaskRecord } from './task-record.js';
import { OwnerReferences } from './owner-references.js';
import { TaskEventLog } from './task-event-log.js';
import { GeneratorStreams } from './generator-streams.js';
import { ObjectResolver, type Fetched } from './object-resolver.js';
import { TaskSubmitter, type PendingTaskSummary } from './task-submitter.js';
import { ActorCaller } from './actor-caller.js';
import { PlacementGroupClient } from './placement-group-client.js';
import type { GeneratorStreamState } from './generator-stream.js';

export type { CoreWorkerOptions } from './owner-state.js';
export type { NestedRef, TaskArg } from './task-record.js';
export type { Fetched } from './object-resolver.js';
export type { PendingTaskSummary } from './task-submitter.js';

export class CoreWorker {
  readonly objects = new ObjectTable();
  readonly view: ClusterView;
  private readonly head: grpc.Client;
  private readonly pulls: PullClient;
  private readonly state: OwnerState & { closed: boolean };
  private readonly references: OwnerReferences;
  private readonly events: TaskEventLog;
  private readonly streams: GeneratorStreams;
  private readonly resolver: ObjectResolver;
  private readonly submitter: TaskSubmitter;
  private readonly actors: ActorCaller;
  private readonly groups: PlacementGroupClient;

  constructor(private readonly o: CoreWorkerOptions) {
    this.pulls = new PullClient(o.token, o.store);
    this.view = new ClusterView(o.headAddress, o.token, o.log, o.isDriver ? o.jobId : '');
    this.head = new HeadClient(o.headAddress, channelCredentials(), HEAD_CHANNEL_OPTIONS);
    const head = this.head;
    this.state = {
      o,
      objects: this.objects,
      view: this.view,
      tasks: new Map<string, TaskRecord>(),
      conns: new Map<string, NodeConnection>(),
      lineage: new Map<string, TaskRecord>(),
      pulls: this.pulls,
      closed: false,
      headCall: <Res>(method: string, req: unknown, timeoutMs?: number) => callUnary<unknown, Res>(head, method, req, o.token, timeoutMs),
    };
    this.references = new OwnerReferences(this.state);
    this.events = new TaskEventLog(this.state);
    this.streams = new GeneratorStreams(this.state, this.references, (taskId) => this.submitter.cancelTask(taskId, false));
    this.resolver = new ObjectResolver(this.state, this.references, { objectLost: (id, why) => this.submitter.objectLost(id, why) });
    this.submitter = new TaskSubmitter(this.state, this.references, this.events, this.resolver, this.streams);
    this.actors = new ActorCaller(this.state, this.references, this.events, this.submitter, this.streams);
    this.submitter.actors = this.actors;
    this.view.onActors((actors) => this.actors.onClusterView(actors));
    this.groups = new PlacementGroupClient(this.state);
  }

  get address(): string {
    return this.o.ownAddress;
  }
  get jobId(): string {
    return this.o.jobId;
  }
  get token(): string {
    return this.o.token;
  }
  get headAddress(): string {
    return this.o.headAddress;
  }
  get localNodeId(): string | undefined {
    return this.o.localNodeId;
  }
  get namespace(): string {
    return this.o.namespace ?? '';
  }

  // ---- references (OwnerReferences) ----

  /**
   * References reported by worker threads: `inc` new instances (id, owner), `dec` collected ones. An
   * instance of an object owned here is a local reference; of one owned elsewhere, a borrow.
   */
  workerRefs(inc: readonly NestedRef[], dec: readonly string[]): void {
    this.references.workerRefs(inc, dec);
  }

  /** Resolves when this process's borrower registrations in flight were acknowledged by the owners. */
  borrowsSettled(): Promise<void> {
    return this.references.borrowsSettled();
  }

  /** Holds a borrow of a ref owned elsewhere (e.g. while a result carrying it is being sent). */
  holdBorrowed(id: string, owner: string): void {
    this.references.holdBorrowed(id, owner);
  }

  unholdBorrowed(id: string): void {
    this.references.unholdBorrowed(id);
  }

  /** OwnerService.UpdateBorrowers for objects owned here; returns the ids not known here. */
  updateBorrowers(borrower: string, deltas: readonly { objectId: string; delta: number }[]): string[] {
    return this.references.updateBorrowers(borrower, deltas);
  }

  /** Registers `borrower` (another process) with `owner` as a borrower of `ids`; resolves when counted. */
  registerBorrowerFor(owner: string, borrower: string, ids: readonly string[]): Promise<void> {
    return this.references.registerBorrowerFor(owner, borrower, ids);
  }

  /** A ref decoded in this process: a local reference when it names an object we own, else a borrow. */
  decodedRef(id: ObjectId, owner: string): ObjectRef {
    return this.references.decodedRef(id, owner);
  }

  // ---- tasks (TaskSubmitter) and streams (GeneratorStreams) ----

  /** Submits a task; returns the ref of its result at once. Throws SerializationError for unshippable code. */
  submit(info: CallableInfo, args: TaskArg[], opts: ResolvedTaskOptions, taskId = newTaskId()): ObjectRef {
    return this.submitter.submit(info, args, opts, taskId);
  }

  /** Submits a generator function's task: its items stream back while it runs. */
  submitGenerator(info: CallableInfo, args: TaskArg[], opts: ResolvedTaskOptions, taskId = newTaskId()): GeneratorStreamState {
    return this.submitter.submitGenerator(info, args, opts, taskId);
  }

  /** A stream that failed before it was submitted (e.g. unshippable code): it yields the error and ends. */
  failedStream(taskId: string, error: Error): void {
    this.streams.failedStream(taskId, error);
  }

  /** The next item of a stream this process reads (for worker threads, through the bridge); undefined at its end. */
  streamNext(taskId: string): Promise<ObjectRef | undefined> {
    return this.streams.streamNext(taskId);
  }

  /** The reader of a stream left early (see GeneratorStreamState.close). */
  streamClose(taskId: string): void {
    this.streams.streamClose(taskId);
  }

  /** Cancels the task that makes `ref` (see TaskSubmitter.cancelTask). */
  cancel(ref: ObjectRef, force: boolean): void {
    this.submitter.cancel(ref, force);
  }

  pendingTasks(): PendingTaskSummary[] {
    return this.submitter.pendingTasks();
  }

  // ---- actors (ActorCaller) ----

  /**
   * Registers a new actor with the head, then places its creation like a task. Returns its id at once;
   * calls made meanwhile queue here until the actor is alive.
   */
  createActor(info: CallableInfo, args: TaskArg[], opts: ResolvedActorOptions, actorId: string = newActorId()): string {
    return this.actors.createActor(info, args, opts, actorId);
  }

  /** Submits a call of an actor method that is a generator: its items stream back (0 = unbounded backpressure). */
  submitActorGeneratorCall(actorId: string, className: string, method: string, args: TaskArg[], backpressure: number, taskId: string = newTaskId()): GeneratorStreamState {
    return this.actors.submitActorGeneratorCall(actorId, className, method, args, backpressure, taskId);
  }

  /** Submits a method call; calls from this process to one actor are delivered in submission order. */
  submitActorCall(actorId: string, className: string, method: string, args: TaskArg[], taskId: string = newTaskId()): ObjectRef {
    return this.actors.submitActorCall(actorId, className, method, args, taskId);
  }

  killActor(actorId: string, noRestart = true): Promise<void> {
    return this.actors.killActor(actorId, noRestart);
  }

  getActor(name: string, namespace: string): Promise<{ actorId: string; className: string; generatorMethods: string[] } | undefined> {
    return this.actors.getActor(name, namespace);
  }

  // ---- placement groups (PlacementGroupClient) ----

  /** Queues a group's creation; creations made in one turn of the event loop go to the head in one call. */
  createPlacementGroup(id: string, bundles: readonly ResourceMap[], strategy: string, name: string): void {
    this.groups.createPlacementGroup(id, bundles, strategy, name);
  }

  waitPlacementGroup(id: string, timeoutMs: number | undefined): Promise<void> {
    return this.groups.waitPlacementGroup(id, timeoutMs);
  }

  /** Removes a group (queued in order with this process's other placement-group calls). */
  removePlacementGroup(id: string): Promise<void> {
    return this.groups.removePlacementGroup(id);
  }

  // ---- objects (ObjectResolver) ----

  put(value: unknown): Promise<ObjectRef> {
    return this.resolver.put(value);
  }

  /** Takes ownership of an object already sealed in the local store under `id` (written by a worker thread). */
  adoptStored(id: ObjectId, sizeBytes: number, containedRefs?: readonly string[], containedOwners?: readonly string[]): ObjectRef {
    return this.resolver.adoptStored(id, sizeBytes, containedRefs, containedOwners);
  }

  /** Stores a value this process encoded as a new object owned by this process. */
  putEncoded(r: EncodedResult): ObjectRef {
    return this.resolver.putEncoded(r);
  }

  /** Where an object's value is: inline bytes or a location to pull from (waits until ready or the deadline). */
  resolveLocation(ref: ObjectRef, deadline: number | undefined): Promise<{ inline?: Uint8Array; location?: string; nodeId?: string; sizeBytes: number }> {
    return this.resolver.resolveLocation(ref, deadline);
  }

  /** A ready object: inline bytes, or a pinned view of it in the local store (pulled there first). */
  fetchObject(ref: ObjectRef, deadline: number | undefined): Promise<Fetched> {
    return this.resolver.fetchObject(ref, deadline);
  }

  /** Decodes a fetched object; a stored one stays pinned while the value is reachable (zero copy). */
  static decodeFetched(f: Fetched): unknown {
    return ObjectResolver.decodeFetched(f);
  }

  getValues(refs: readonly ObjectRef[], timeoutMs: number | undefined): Promise<unknown[]> {
    return this.resolver.getValues(refs, timeoutMs);
  }

  /** Objects of refs, in order; GetTimeoutError (with pending reasons) after `timeoutMs`. */
  fetchAll(refs: readonly ObjectRef[], timeoutMs: number | undefined): Promise<Fetched[]> {
    return this.resolver.fetchAll(refs, timeoutMs);
  }

  wait(refs: readonly ObjectRef[], numReturns: number, timeoutMs: number | undefined): Promise<{ ready: ObjectRef[]; notReady: ObjectRef[] }> {
    return this.resolver.wait(refs, numReturns, timeoutMs);
  }

  /** Frees owned objects now (their ids become unknown) and drops stored copies. */
  free(refs: readonly ObjectRef[]): Promise<void> {
    return this.resolver.free(refs);
  }

  /** OwnerService.ResolveObjects: waits (bounded) for objects owned here and says where they are. */
  answerResolve(req: rayts.ResolveRequest): Promise<rayts.IResolveReply> {
    return this.resolver.answerResolve(req);
  }

  /** Head unary call with this worker's token. */
  headCall<Res>(method: string, req: unknown, timeoutMs?: number): Promise<Res> {
    return this.state.headCall<Res>(method, req, timeoutMs);
  }

  async close(): Promise<void> {
    if (this.state.closed) return;
    this.events.close();
    this.state.closed = true;
    this.submitter.abandonAll((rec) => new RayError(`Task ${rec.name} was abandoned: the runtime shut down.`, { ids: { taskId: rec.taskId } }));
    this.streams.endAll(new RayError('The stream was abandoned: the runtime shut down.'));
    for (const c of this.state.conns.values()) c.close();
    this.state.conns.clear();
    this.view.close();
    this.head.close();
    this.pulls.close();
    this.references.close();
  }
}
