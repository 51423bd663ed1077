/**
 * CoreWorker: the owner side of the runtime, one per driver process and one per node daemon (for tasks
 * its worker threads submit). It is responsible for the tasks and objects it creates: resolving
 * top-level ObjectRef arguments, choosing a node (placement policies from @samsara/ray-scheduler),
 * sending specs directly to that node over a batched stream, retries, and answering `get`/`wait` for
 * owned and borrowed refs. It is not responsible for running code (node daemon) or for the node table
 * (head): it only reads the head's view.
 *
 * Task states: resolving → (infeasible ⇄ resolving) → submitted → done; submitted → resolving on a
 * retry; any → done on cancel.
 */
import * as grpc from '@grpc/grpc-js';
import {
  ObjectRef,
  RefCache,
  newTaskId,
  objectIdOf,
  taskIdOfObject,
  decodeValue,
  decodeError,
  encodeValue,
  encodeError,
  INLINE_MAX_BYTES,
  GetTimeoutError,
  NodeDiedError,
  TaskCancelledError,
  RayError,
  ObjectLostError,
  OwnerDiedError,
  ActorDiedError,
  ActorUnavailableError,
  newActorId,
  SchedulingError,
  fits,
  isRayError,
  shortId,
  type ObjectId,
  type Logger,
  type ResourceMap,
} from '@samsara/ray-common';
import { chooseNode, matchesLabels, demandInGroup, SpreadState, type NodeView } from '@samsara/ray-scheduler';
import type { rayts } from '@samsara/ray-proto';
import { ObjectTable } from './object-table.js';
import { NodeConnection } from './node-connection.js';
import { ClusterView } from './cluster-view.js';
import type { ProcessStore } from './process-store.js';
import { PullClient } from '../rpc/pull-client.js';
import { ReferenceCounter } from './reference-counter.js';
import { BorrowTable } from './borrow-table.js';
import { relieveStorePressure, withStoreRoom } from './store-pressure.js';
import { encodeResult, type EncodedResult } from '../worker/values.js';
import { decodeFromStore, releaseWhenCollected, type ObjectView } from '@samsara/ray-object-store';
import { HeadClient, NodeClient, OwnerClient, pb } from '../rpc/services.js';
import { HEAD_CHANNEL_OPTIONS } from '../rpc/head-channel-options.js';
import { dialPeer } from '../edge/edge-address.js';
import { authMetadata, callUnary, fromGrpcError } from '../rpc/auth.js';
import { shipCallable, type CallableInfo, type ShippedCallable } from '../api/function-descriptor.js';
import type { ResolvedTaskOptions } from '../api/options.js';
import type { ResolvedActorOptions } from '../api/actor-options.js';

/** A ready object as `fetchObject` returns it. */

/** Node kinds an actor is placed on only when no other node fits (DEFAULT strategy). */
const AVOID_FOR_ACTORS: readonly string[] = ['head'];
export type Fetched = { readonly inline: Uint8Array } | { readonly view: ObjectView };

/** A ref inside an encoded value: its id and its owner's address. */
export type NestedRef = readonly [id: string, owner: string];

/** One argument of a task as the submitter holds it (`nested`: the refs inside an encoded value). */
export type TaskArg =
  | { readonly kind: 'value'; readonly bytes: Uint8Array; readonly nested?: readonly NestedRef[] }
  | { readonly kind: 'ref'; readonly ref: ObjectRef };

interface TaskRecord {
  /** Spillback: the node that handed this task back; placed elsewhere when any other node can run it. */
  avoidNode?: string;
  readonly taskId: string;
  readonly objectId: ObjectId;
  readonly name: string;
  readonly fn: ShippedCallable;
  readonly args: readonly TaskArg[];
  readonly opts: ResolvedTaskOptions;
  readonly demand: ResourceMap;
  attempt: number;
  retriesLeft: number;
  /** Times a node refused it for capacity (queue full): backpressure, not counted against retries. */
  refusals?: number;
  state: 'resolving' | 'infeasible' | 'submitted' | 'done';
  nodeId?: string;
  reason?: string;
  cancelled?: boolean;
  wireArgs?: rayts.IArg[];
  argBytesByNode?: Record<string, number>;
  /** Set for an actor's creation task. */
  creation?: { actorId: string; maxConcurrency: number; pgId: string };
  /** Set for an actor method call. */
  call?: { actorId: string; method: string };
  /** Owned refs this task holds (its arguments), released when it finishes. */
  argRefs?: string[];
  /** Borrowed refs (owned elsewhere) this task holds, released when it finishes. */
  borrowedArgs?: string[];
  /** Order of an actor call among this process's calls to that actor. */
  seq?: number;
}

/** A placement-group operation waiting to be sent to the head. */
type PgOp = { resolve: (r: rayts.PlacementGroupReply) => void; reject: (e: Error) => void } & (
  | { op: 'create'; group: rayts.IPlacementGroupInfo }
  | { op: 'remove'; pgId: string }
);

/** What this process knows of an actor it created or calls. */
interface ActorRef {
  readonly actorId: string;
  readonly className: string;
  state: 'pending' | 'alive' | 'dead';
  nodeId?: string;
  error?: Error;
  /** Calls in submission order, waiting for their arguments or for the actor to be placed. */
  queue: TaskRecord[];
  lookingUp?: boolean;
  maxTaskRetries: number;
  /** Restarts left (creator only; -1 = unlimited). Other callers follow the head's word. */
  restartsLeft: number;
  /** How to build it again (creator only). */
  template?: TaskRecord;
  /** Ended by kill(): never restarted. */
  killed?: boolean;
  /** Submission counter: calls keep their order across restarts and retries. */
  nextSeq: number;
  /** Resources this process placed the actor with, counted in its view until the actor ends. */
  held?: { nodeId: string; demand: ResourceMap };
}

const ACTOR_CALL_FN: ShippedCallable = { functionId: '', name: '', kind: 'function', source: '', modulePath: '', moduleIndex: -1, apiAliases: [], imports: [] };
/** How long an actor lookup waits for an unreachable head (down or restarting) before the actor counts as dead (Ray: 60 s). */
const HEAD_UNREACHABLE_GIVE_UP_MS = 60_000;
const NO_TASK_OPTIONS: ResolvedTaskOptions = Object.freeze({ demand: {}, maxRetries: 0, retryExceptions: false, scheduling: 'DEFAULT', bundleIndex: -1 });

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

/** Summary used by `get` timeouts and `rayts status`. */
export interface PendingTaskSummary {
  taskId: string;
  name: string;
  reason: string;
  resources: ResourceMap;
}

export class CoreWorker {
  readonly objects = new ObjectTable();
  readonly view: ClusterView;
  private readonly tasks = new Map<string, TaskRecord>();
  private readonly actorRefs = new Map<string, ActorRef>();
  private readonly conns = new Map<string, NodeConnection>();
  private readonly infeasible = new Set<TaskRecord>();
  private readonly spread = new SpreadState();
  private readonly head: grpc.Client;
  private readonly pulls: PullClient;
  private readonly ownerClients = new Map<string, grpc.Client>();
  private events: rayts.ITaskEvent[] = [];
  private eventTimer: NodeJS.Timeout;
  private closed = false;
  private readonly submitterId = newTaskId();
  /** Frees owned objects nothing refers to any more (drivers only; see ReferenceCounter). */
  private readonly refs?: ReferenceCounter;
  /** Refs this process holds to objects owned elsewhere (the borrower side; see BorrowTable). */
  private readonly borrows?: BorrowTable;
  /** Owned objects → the borrowed refs they contain (held until the container is freed). */
  private readonly borrowedIn = new Map<string, string[]>();
  private readonly borrowRegistry = new FinalizationRegistry<string>((id) => this.borrows?.unhold(id));
  /** The live instance decoded for each ref (see RefCache). */
  private readonly decoded = new RefCache();
  private readonly freeWhenSettled = new Set<string>();
  private readonly countInstances: boolean;
  /** The task that made each stored object still owned here, for lineage reconstruction. */
  private readonly lineage = new Map<string, TaskRecord>();

  constructor(private readonly o: CoreWorkerOptions) {
    this.pulls = new PullClient(o.token, o.store);
    const counting = o.refCounting ?? (o.isDriver ? 'instances' : undefined);
    if (counting) {
      this.refs = new ReferenceCounter((id) => this.release(id));
      this.borrows = new BorrowTable({ update: (owner, deltas) => this.updateBorrowersAt(owner, this.o.ownAddress, deltas) });
    }
    this.countInstances = counting === 'instances';
    this.view = new ClusterView(o.headAddress, o.token, o.log, o.isDriver ? o.jobId : '');
    this.head = new HeadClient(o.headAddress, grpc.credentials.createInsecure(), HEAD_CHANNEL_OPTIONS);
    this.view.onChange((dead) => this.onClusterChange(dead));
    this.eventTimer = setInterval(() => this.flushEvents(), 250);
    this.eventTimer.unref();
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

  // ------------------------------------------------------------------------------------------------
  // References
  // ------------------------------------------------------------------------------------------------

  private ref(objectId: ObjectId): ObjectRef {
    const r = new ObjectRef(objectId, this.o.ownAddress);
    if (!this.refs) return r;
    if (this.countInstances) return this.refs.track(r);
    // Handed to a worker thread, which reports when its instance is collected.
    this.refs.addLocal([objectId]);
    return r;
  }

  /**
   * References reported by worker threads: `inc` new instances (id, owner), `dec` collected ones. An
   * instance of an object owned here is a local reference; of one owned elsewhere, a borrow.
   */
  workerRefs(inc: readonly NestedRef[], dec: readonly string[]): void {
    if (!this.refs) return;
    for (const [id, owner] of inc) {
      if (this.objects.has(id)) this.refs.addLocal([id]);
      else this.borrows!.hold(id, owner || this.o.ownAddress);
    }
    for (const id of dec) {
      if (this.borrows!.has(id)) this.borrows!.unhold(id);
      else this.refs.removeLocal([id]);
    }
  }

  /** Resolves when this process's borrower registrations in flight were acknowledged by the owners. */
  borrowsSettled(): Promise<void> {
    return this.borrows ? this.borrows.settled() : Promise.resolve();
  }

  /** Holds `n` borrows of a ref owned elsewhere (e.g. while a result carrying it is being sent). */
  holdBorrowed(id: string, owner: string): void {
    this.borrows?.hold(id, owner);
  }

  unholdBorrowed(id: string): void {
    this.borrows?.unhold(id);
  }

  /** OwnerService.UpdateBorrowers for objects owned here; returns the ids not known here. */
  updateBorrowers(borrower: string, deltas: readonly { objectId: string; delta: number }[]): string[] {
    if (!this.refs) return deltas.filter((d) => !this.objects.has(d.objectId)).map((d) => d.objectId);
    return this.refs.updateBorrowers(borrower, deltas);
  }

  /** Registers `borrower` (another process) with `owner` as a borrower of `ids`; resolves when counted. */
  async registerBorrowerFor(owner: string, borrower: string, ids: readonly string[]): Promise<void> {
    await this.updateBorrowersAt(owner, borrower, ids.map((objectId) => ({ objectId, delta: 1 }))).catch((e) =>
      this.o.log.warn({ err: (e as Error).message, owner, borrower }, 'could not register a borrower with the owner of refs in a result'),
    );
  }

  /** OwnerService.UpdateBorrowers at `owner`, for `borrower`. */
  private async updateBorrowersAt(owner: string, borrower: string, deltas: { objectId: string; delta: number }[]): Promise<void> {
    await callUnary(this.ownerClient(owner), 'updateBorrowers', { borrower, deltas }, this.o.token, 10_000);
  }

  /** A ref decoded in this process: a local reference when it names an object we own, else a borrow. */
  decodedRef(id: ObjectId, owner: string): ObjectRef {
    if (!this.refs || !this.countInstances) return new ObjectRef(id, owner);
    // One counted instance per object: decoding the same ref again returns it.
    const live = this.decoded.get(id);
    if (live) return live;
    const r = new ObjectRef(id, owner);
    if (this.objects.has(id)) this.refs.track(r);
    else {
      this.borrows!.hold(id, owner || this.o.ownAddress);
      this.borrowRegistry.register(r, id);
    }
    this.decoded.set(r);
    return r;
  }

  /**
   * Refs inside an object this process owns (a put value or a task result): owned ones are counted as
   * contained, borrowed ones held until the container is freed. `registered[i]` is the owner address
   * when the sender already registered us as a borrower of ref i (task results), else ''.
   */
  private holdContained(container: string, ids: readonly string[], owners: readonly string[] | undefined, registered: boolean): void {
    if (!this.refs) return;
    const owned: string[] = [];
    const borrowed: string[] = [];
    ids.forEach((id, i) => {
      const owner = owners?.[i] ?? '';
      if (this.objects.has(id)) {
        owned.push(id);
        // A node registered us as a borrower of our own object (it could not tell): undo it.
        if (registered && owner) this.refs!.updateBorrowers(this.o.ownAddress, [{ objectId: id, delta: -1 }]);
        return;
      }
      if (registered && owner) this.borrows!.registeredBy(id, owner);
      this.borrows!.hold(id, owner || this.o.ownAddress);
      borrowed.push(id);
    });
    if (owned.length) this.refs.addContained(container, owned);
    if (borrowed.length) this.borrowedIn.set(container, [...(this.borrowedIn.get(container) ?? []), ...borrowed]);
  }

  /** A result we will not keep: give back the borrower registrations its sender made for us. */
  private dropRegisteredContained(r: rayts.TaskResult): void {
    if (!r.containedRefs?.length || !r.containedOwners?.length || !this.borrows) return;
    r.containedRefs.forEach((id, i) => {
      const owner = r.containedOwners[i];
      if (!owner) return;
      if (this.objects.has(id)) this.refs?.updateBorrowers(this.o.ownAddress, [{ objectId: id, delta: -1 }]);
      else this.borrows!.giveBack(id, owner);
    });
  }

  private releaseContained(container: string): void {
    const held = this.borrowedIn.get(container);
    if (!held) return;
    this.borrowedIn.delete(container);
    for (const id of held) this.borrows?.unhold(id);
  }

  /** Records the refs a task holds (its arguments, top-level and nested) until it finishes. */
  private holdArgs(rec: TaskRecord): void {
    if (!this.refs) return;
    const owned: string[] = [];
    const borrowed: string[] = [];
    const add = (id: string, owner: string) => {
      if (this.objects.has(id)) owned.push(id);
      else {
        this.borrows!.hold(id, owner || this.o.ownAddress);
        borrowed.push(id);
      }
    };
    for (const a of rec.args) {
      if (a.kind === 'ref') add(a.ref.id, a.ref.ownerAddress);
      else if (a.nested) for (const [id, owner] of a.nested) add(id, owner);
    }
    rec.argRefs = owned;
    if (borrowed.length) rec.borrowedArgs = borrowed;
    this.refs.addSubmitted(owned);
  }

  /** Nothing refers to an owned object any more: drop it and its stored copies. */
  private release(id: string): void {
    this.releaseContained(id);
    const e = this.objects.get(id);
    if (!e) return;
    if (e.state === 'pending') {
      this.freeWhenSettled.add(id);
      return;
    }
    this.dropObject(id);
  }

  private dropObject(id: string): void {
    this.lineage.delete(id);
    const e = this.objects.delete(id);
    if (!e?.location) return;
    if (this.o.store.delete(id)) return;
    const loc = e.location;
    callUnary(this.pulls.client(loc), 'freeObjects', { objectIds: [id] }, this.o.token).catch(() => undefined);
  }

  // ------------------------------------------------------------------------------------------------
  // Submission
  // ------------------------------------------------------------------------------------------------

  /** Submits a task; returns the ref of its result at once. Throws SerializationError for unshippable code. */
  submit(info: CallableInfo, args: TaskArg[], opts: ResolvedTaskOptions, taskId = newTaskId()): ObjectRef {
    const fn = shipCallable(info, this.o.workingDir, this.o.entryScript);
    const objectId = objectIdOf(taskId as never, 0);
    const pg = opts.placementGroup;
    const demand = pg ? demandInGroup(pg.id, opts.bundleIndex, opts.demand) : { ...opts.demand };
    const rec: TaskRecord = {
      taskId,
      objectId,
      name: opts.name ?? info.name,
      fn,
      args,
      opts,
      demand,
      attempt: 0,
      retriesLeft: opts.maxRetries,
      state: 'resolving',
    };
    this.tasks.set(taskId, rec);
    this.objects.createPending(objectId);
    const ref = this.ref(objectId);
    this.holdArgs(rec);
    this.resolveArgs(rec);
    return ref;
  }

  private resolveArgs(rec: TaskRecord): void {
    const refs = rec.args.filter((a): a is { kind: 'ref'; ref: ObjectRef } => a.kind === 'ref');
    if (refs.length === 0) {
      rec.wireArgs = rec.args.map((a) => ({ inline: (a as { bytes: Uint8Array }).bytes }));
      this.argsReady(rec);
      return;
    }
    rec.reason = `waiting for ${refs.length} argument object${refs.length > 1 ? 's' : ''}`;
    Promise.all(refs.map((a) => this.resolveLocation(a.ref, undefined)))
      .then((resolved) => {
        if (rec.state === 'done') return;
        const byNode: Record<string, number> = {};
        let i = 0;
        rec.wireArgs = rec.args.map((a) => {
          if (a.kind === 'value') return { inline: a.bytes };
          const r = resolved[i++];
          if (r.inline) return { inline: r.inline, isRef: true };
          if (r.nodeId) byNode[r.nodeId] = (byNode[r.nodeId] ?? 0) + r.sizeBytes;
          return { objectId: a.ref.id, location: r.location, sizeBytes: r.sizeBytes, isRef: true };
        });
        rec.argBytesByNode = byNode;
        this.argsReady(rec);
      })
      .catch((e: unknown) => {
        // An argument failed: the task fails with the same error, as in Ray.
        this.finish(rec, undefined, e as Error);
      });
  }

  private argsReady(rec: TaskRecord): void {
    if (rec.call) this.flushActor(this.actorRefs.get(rec.call.actorId)!);
    else this.place(rec);
  }

  private place(rec: TaskRecord): void {
    if (rec.state === 'done' || this.closed) return;
    const all = this.view.placementNodes();
    const request = {
      demand: rec.demand,
      strategy: rec.opts.scheduling,
      labelSelector: rec.opts.labelSelector,
      localNodeId: this.o.localNodeId,
      argBytesByNode: rec.argBytesByNode,
      // An actor on the head's node dies with the head: use worker nodes first (docs/head-restart.md).
      avoidKinds: rec.creation ? AVOID_FOR_ACTORS : undefined,
    };
    const avoid = rec.avoidNode;
    rec.avoidNode = undefined;
    let nodes = avoid ? all.filter((n) => n.nodeId !== avoid) : all;
    let d = chooseNode(nodes, request, this.spread);
    if (avoid && d.kind === 'infeasible') {
      // Only the node that handed it back can run it: it goes back there (and stays: see NodeDaemon.spill).
      nodes = all;
      d = chooseNode(nodes, request, this.spread);
    }
    let nodeId: string | undefined;
    if (d.kind === 'placed') nodeId = d.nodeId;
    else if (d.kind === 'wait') nodeId = this.queueTarget(rec, nodes);
    if (!nodeId) {
      const reason = d.kind === 'placed' ? 'no node' : d.reason;
      if (rec.state !== 'infeasible' || rec.reason !== reason) {
        rec.reason = reason;
        this.event(rec, 'PENDING', reason);
      }
      rec.state = 'infeasible';
      this.infeasible.add(rec);
      return;
    }
    this.infeasible.delete(rec);
    this.dispatch(rec, nodeId);
  }

  /** Every feasible node is busy: queue on the one where this submitter has the least work. */
  private queueTarget(rec: TaskRecord, nodes: NodeView[]): string | undefined {
    const s = rec.opts.scheduling;
    const candidates = nodes.filter(
      (n) =>
        n.alive &&
        fits(rec.demand, n.total) &&
        (!rec.opts.labelSelector || matchesLabels(n.labels, rec.opts.labelSelector)) &&
        (typeof s !== 'object' || s.soft || n.nodeId === s.nodeId),
    );
    if (typeof s === 'object') {
      const target = candidates.find((n) => n.nodeId === s.nodeId);
      if (target) return target.nodeId;
    }
    let best: string | undefined;
    let bestLoad = Infinity;
    for (const n of candidates) {
      const load = this.view.queueLoad(n.nodeId);
      if (load < bestLoad) {
        bestLoad = load;
        best = n.nodeId;
      }
    }
    return best;
  }

  private connection(nodeId: string): NodeConnection | undefined {
    let c = this.conns.get(nodeId);
    if (c && !c.isClosed) return c;
    const node = this.view.get(nodeId);
    if (!node || !node.alive) return undefined;
    c = new NodeConnection(nodeId, node.address, this.o.token, this.submitterId, {
      onResults: (b) => this.onResults(b),
      onClosed: (conn, e) => this.onConnectionClosed(conn, e),
    });
    this.conns.set(nodeId, c);
    return c;
  }

  private dispatch(rec: TaskRecord, nodeId: string): void {
    const conn = this.connection(nodeId);
    if (!conn) {
      rec.state = 'infeasible';
      this.infeasible.add(rec);
      return;
    }
    rec.state = 'submitted';
    rec.nodeId = nodeId;
    rec.reason = undefined;
    this.view.addInflight(nodeId, rec.demand);
    const fnSent = conn.sentFunctions.has(rec.fn.functionId);
    if (!fnSent) conn.sentFunctions.add(rec.fn.functionId);
    const wd = this.o.workingDirArchive;
    let archive: Uint8Array | undefined;
    if (wd && !conn.sentWorkingDirs.has(wd.hash)) {
      conn.sentWorkingDirs.add(wd.hash);
      archive = wd.bytes;
    }
    conn.send({
      taskId: rec.taskId,
      jobId: this.o.jobId,
      fn: {
        functionId: rec.fn.functionId,
        // Actor classes keep their class name (the worker labels errors "Class.method").
        name: rec.creation ? rec.fn.name : rec.name,
        source: fnSent ? '' : rec.fn.source,
        modulePath: rec.fn.modulePath,
        moduleIndex: rec.fn.moduleIndex,
        kind: rec.fn.kind,
        apiAliases: rec.fn.apiAliases as string[],
        // Like the source, sent once per stream.
        imports: fnSent || rec.fn.imports.length === 0 ? undefined : (rec.fn.imports as rayts.IImportRef[]),
      },
      args: rec.wireArgs as rayts.Arg[],
      resources: rec.demand,
      attempt: rec.attempt,
      ownerAddress: this.o.ownAddress,
      maxRetries: rec.retriesLeft,
      workingDirHash: wd?.hash ?? '',
      workingDirArchive: archive,
      namespace: this.o.namespace ?? '',
      actorId: rec.creation?.actorId ?? '',
      actorCreation: !!rec.creation,
      maxConcurrency: rec.creation?.maxConcurrency ?? 0,
      pgId: rec.creation?.pgId ?? '',
    });
  }

  // ------------------------------------------------------------------------------------------------
  // Results and failures
  // ------------------------------------------------------------------------------------------------

  private onResults(batch: rayts.ResultBatch): void {
    for (const ev of batch.events as rayts.TaskEvent[]) {
      const rec = this.tasks.get(ev.taskId);
      if (rec && rec.state === 'submitted' && ev.attempt === rec.attempt && ev.state === 'PENDING') {
        rec.reason = ev.reason;
      }
    }
    for (const r of batch.results as rayts.TaskResult[]) this.onResult(r);
  }

  private onResult(r: rayts.TaskResult): void {
    const rec = this.tasks.get(r.taskId);
    if (!rec || rec.state !== 'submitted' || r.attempt !== rec.attempt) {
      this.dropRegisteredContained(r);
      return;
    }
    // An actor holds its creation's resources for its whole life: they stay counted until it ends.
    if (rec.nodeId && !(rec.creation && r.status === 'ok')) this.view.removeInflight(rec.nodeId, rec.demand);
    else if (rec.nodeId && rec.creation) {
      const ar = this.actorRefs.get(rec.creation.actorId);
      if (ar) ar.held = { nodeId: rec.nodeId, demand: rec.demand };
    }
    if (r.spilled && r.status === 'error' && !rec.cancelled) {
      // Spillback: the node handed it back before it started; place it again (no retry is spent).
      const from = rec.nodeId;
      rec.nodeId = undefined;
      rec.avoidNode = from;
      this.event(rec, 'PENDING', `handed back by busy node ${shortId(from ?? '')}; placing it again`);
      this.place(rec);
      return;
    }
    if (r.status === 'ok') {
      if (rec.cancelled) {
        this.dropRegisteredContained(r);
        this.finish(rec, undefined, this.cancelledError(rec));
        return;
      }
      if (r.stored) this.objects.resolveStored(rec.objectId, r.nodeAddress, r.nodeId, r.sizeBytes);
      else this.objects.resolveInline(rec.objectId, r.inline);
      if (r.stored && !rec.call && !rec.creation) this.lineage.set(rec.objectId, rec);
      if (r.containedRefs?.length) this.holdContained(rec.objectId, r.containedRefs, r.containedOwners, true);
      this.finish(rec, r.nodeId);
      if (rec.creation) this.actorAlive(rec.creation.actorId, r.nodeId);
      return;
    }
    const err = decodeError(r.inline);
    if (rec.creation) {
      this.actorDied(rec.creation.actorId, err);
      this.finish(rec, r.nodeId, err);
      return;
    }
    if (rec.call && isRayError(err) && err.code === 'ACTOR_DIED') {
      this.actorLost(rec.call.actorId, err);
      return;
    }
    if (rec.cancelled || (isRayError(err) && err.code === 'TASK_CANCELLED')) {
      this.finish(rec, r.nodeId, this.cancelledError(rec));
      return;
    }
    // The node could not fetch an argument this process owns (its holder died before the head said so):
    // rebuild the argument from lineage and run the task again once it is back.
    const lostArg = isRayError(err) && err.code === 'OBJECT_LOST' ? err.ids.objectId : undefined;
    const rebuilding = (id: string) => this.objects.get(id)?.state === 'pending' || this.objectLost(id, err.message);
    if (lostArg && rec.args.some((a) => a.kind === 'ref' && a.ref.id === lostArg) && rebuilding(lostArg)) {
      rec.attempt++;
      rec.state = 'resolving';
      rec.nodeId = undefined;
      this.resolveArgs(rec);
      return;
    }
    if (r.retriable) {
      this.retryOrFail(rec, err);
      return;
    }
    if (isRayError(err) && err.code === 'TASK_ERROR' && this.retriesException(rec, err)) {
      this.retryOrFail(rec, err);
      return;
    }
    this.finish(rec, r.nodeId, err);
  }

  private retriesException(rec: TaskRecord, err: RayError): boolean {
    const re = rec.opts.retryExceptions;
    if (re === true) return true;
    if (Array.isArray(re)) return re.includes((err as unknown as { originalName: string }).originalName);
    return false;
  }

  private retryOrFail(rec: TaskRecord, err: Error): void {
    if (isRayError(err) && err.ids.reason === 'queue_full' && !rec.cancelled) {
      // The node refused for capacity (its queue is full): backpressure, not a failure. Place the task
      // again after a jittered, growing wait (50 ms … 2 s) without spending a retry.
      rec.refusals = (rec.refusals ?? 0) + 1;
      rec.attempt++;
      rec.state = 'resolving';
      const refusedBy = rec.nodeId;
      rec.nodeId = undefined;
      const waitMs = Math.min(2000, 50 * 2 ** Math.min(rec.refusals - 1, 6)) * (0.5 + Math.random() / 2);
      this.event(rec, 'RETRYING', `refused for capacity (${rec.refusals}×), placing again in ${Math.round(waitMs)} ms: ${err.message}`, refusedBy);
      const t = setTimeout(() => {
        if (rec.state === 'resolving' && !rec.cancelled) this.place(rec);
      }, waitMs);
      t.unref();
      return;
    }
    if (rec.retriesLeft === 0 || rec.cancelled) {
      this.finish(rec, rec.nodeId, err);
      return;
    }
    if (rec.retriesLeft > 0) rec.retriesLeft--;
    rec.attempt++;
    rec.state = 'resolving';
    const failedOn = rec.nodeId;
    rec.nodeId = undefined;
    this.event(rec, 'RETRYING', `attempt ${rec.attempt} after: ${err.message}`, failedOn);
    this.o.log.debug({ taskId: rec.taskId, attempt: rec.attempt }, 'retrying task');
    if (isRayError(err) && err.ids.reason === 'memory') {
      // Killed by a node's memory monitor: back off so that memory can recover (0.5 s, 1 s, 2 s … 10 s).
      const t = setTimeout(() => this.place(rec), Math.min(10_000, 500 * 2 ** Math.min(rec.attempt - 1, 5)));
      t.unref();
      return;
    }
    this.place(rec);
  }

  private cancelledError(rec: TaskRecord): TaskCancelledError {
    return new TaskCancelledError(`Task ${rec.name} (task ${shortId(rec.taskId)}) was cancelled.`, {
      ids: { taskId: rec.taskId },
    });
  }

  private finish(rec: TaskRecord, nodeId: string | undefined, error?: Error): void {
    if (rec.state === 'done') return;
    rec.state = 'done';
    this.infeasible.delete(rec);
    this.tasks.delete(rec.taskId);
    if (rec.argRefs) this.refs?.removeSubmitted(rec.argRefs);
    if (rec.borrowedArgs) for (const id of rec.borrowedArgs) this.borrows?.unhold(id);
    rec.borrowedArgs = undefined;
    if (this.freeWhenSettled.delete(rec.objectId)) queueMicrotask(() => this.dropObject(rec.objectId));
    if (error) {
      this.objects.fail(rec.objectId, error);
      this.event(rec, error instanceof TaskCancelledError ? 'CANCELLED' : 'FAILED', error.message, nodeId);
    } else {
      this.event(rec, 'FINISHED', '', nodeId);
    }
  }

  private onConnectionClosed(conn: NodeConnection, e: Error | undefined): void {
    if (this.conns.get(conn.nodeId) === conn) this.conns.delete(conn.nodeId);
    if (this.closed) return;
    this.view.markUnreachable(conn.nodeId);
    this.failTasksOnNode(conn.nodeId, e?.message ?? 'stream closed');
  }

  private failTasksOnNode(nodeId: string, why: string): void {
    for (const rec of [...this.tasks.values()]) {
      if (rec.state !== 'submitted' || rec.nodeId !== nodeId) continue;
      this.view.removeInflight(nodeId, rec.demand);
      const actorId = rec.call?.actorId ?? rec.creation?.actorId;
      if (actorId) {
        const e = new ActorDiedError(`The actor ${shortId(actorId)} was on node ${shortId(nodeId)}, which died (${why}).`, {
          hint: 'Create a new actor, or give it maxRestarts to have it restarted after failures.',
          ids: { actorId, nodeId },
        });
        if (rec.creation) {
          // Its creation never finished: place it again (a restart that costs nothing).
          rec.state = 'resolving';
          rec.attempt++;
          rec.nodeId = undefined;
          this.place(rec);
        } else this.actorLost(actorId, e);
        continue;
      }
      const err = new NodeDiedError(
        `Task ${rec.name} (task ${shortId(rec.taskId)}) was running on node ${shortId(nodeId)}, which died or disconnected (${why}).`,
        { hint: 'Retries were exhausted; raise maxRetries to survive more node failures.', ids: { taskId: rec.taskId, nodeId } },
      );
      this.retryOrFail(rec, err);
    }
  }

  private onClusterChange(dead: { nodeId: string; address?: string }[]): void {
    for (const n of dead) {
      // What a dead node borrowed is released (its holders are gone).
      if (n.address) this.refs?.dropBorrower(n.address);
      this.conns.get(n.nodeId)?.close();
      this.conns.delete(n.nodeId);
      this.failTasksOnNode(n.nodeId, 'node declared dead by the head');
      for (const id of this.objects.storedOn(n.nodeId)) this.objectLost(id, `node ${shortId(n.nodeId)} holding it died`);
    }
    if (this.infeasible.size) for (const rec of [...this.infeasible]) this.place(rec);
  }

  /**
   * A stored object this process owns is gone (its node died, or a pull found nothing). Rebuilt by
   * running the task that made it again, within that task's retry budget (lineage reconstruction);
   * `put` objects and exhausted budgets fail with ObjectLostError. Returns true when rebuilding.
   */
  private objectLost(id: string, why: string): boolean {
    const e = this.objects.get(id);
    if (!e || e.state !== 'ready' || !e.location) return false;
    const rec = this.lineage.get(id);
    if (rec && rec.retriesLeft !== 0 && !this.closed) {
      if (rec.retriesLeft > 0) rec.retriesLeft--;
      rec.attempt++;
      rec.state = 'resolving';
      rec.nodeId = undefined;
      this.lineage.delete(id);
      rec.argRefs = undefined;
      rec.borrowedArgs = undefined;
      this.objects.reset(id);
      this.tasks.set(rec.taskId, rec);
      this.event(rec, 'RETRYING', `reconstructing object ${shortId(id)}: ${why}`);
      this.resolveArgs(rec);
      return true;
    }
    const put = !rec;
    this.objects.fail(
      id,
      new ObjectLostError(`Object ${shortId(id)} is lost: ${why}.`, {
        hint: put
          ? 'It was created by put() and cannot be rebuilt from lineage; put it again.'
          : 'The task that made it has no retries left to rebuild it; raise maxRetries.',
        ids: { objectId: id },
      }),
    );
    return false;
  }


  // ------------------------------------------------------------------------------------------------
  // Actors
  // ------------------------------------------------------------------------------------------------

  /**
   * Registers a new actor with the head, then places its creation like a task. Returns its id at once;
   * calls made meanwhile queue here until the actor is alive.
   */
  createActor(info: CallableInfo, args: TaskArg[], opts: ResolvedActorOptions, actorId: string = newActorId()): string {
    const fn = shipCallable(info, this.o.workingDir, this.o.entryScript);
    const taskId = newTaskId();
    const pg = opts.placementGroup;
    const demand = pg ? demandInGroup(pg.id, opts.bundleIndex, opts.demand) : { ...opts.demand };
    const ar: ActorRef = {
      actorId,
      className: info.name,
      state: 'pending',
      queue: [],
      maxTaskRetries: opts.maxTaskRetries,
      restartsLeft: opts.maxRestarts,
      nextSeq: 0,
    };
    this.actorRefs.set(actorId, ar);
    const rec: TaskRecord = {
      taskId,
      objectId: objectIdOf(taskId as never, 0),
      name: `${info.name}.constructor`,
      fn,
      args,
      opts: { ...NO_TASK_OPTIONS, scheduling: opts.scheduling, labelSelector: opts.labelSelector },
      demand,
      attempt: 0,
      retriesLeft: 0,
      state: 'resolving',
      creation: { actorId, maxConcurrency: opts.maxConcurrency, pgId: pg?.id ?? '' },
    };
    ar.template = rec;
    this.tasks.set(taskId, rec);
    this.objects.createPending(rec.objectId);
    this.holdArgs(rec);
    const namespace = opts.namespace ?? this.o.namespace ?? '';
    this.headCall<rayts.ActorDirectoryReply>('actorCall', {
      op: 'register',
      actor: {
        actorId,
        name: opts.name ?? '',
        namespace,
        className: info.name,
        state: 'PENDING',
        jobId: this.o.jobId,
        detached: opts.detached,
        resources: demand,
        ownerAddress: this.o.ownAddress,
        maxRestarts: opts.maxRestarts,
        pgId: pg?.id ?? '',
      },
      noRestart: opts.getIfExists,
    }).then(
      (reply) => {
        const existing = reply.actor?.actorId && reply.actor.actorId !== actorId ? reply.actor : undefined;
        if (existing) {
          // getIfExists: this handle refers to the actor that already had the name.
          this.finish(rec, undefined);
          this.objects.resolveInline(rec.objectId, encodeValue(null));
          this.adoptExisting(ar, existing);
          return;
        }
        this.resolveArgs(rec);
      },
      (e: Error) => {
        this.actorDied(actorId, e);
        this.finish(rec, undefined, e);
      },
    );
    return actorId;
  }

  private adoptExisting(ar: ActorRef, info: rayts.IActorInfo): void {
    this.actorRefs.set(info.actorId!, ar);
    (ar as { actorId: string }).actorId = info.actorId!;
    this.applyActorInfo(ar, info);
  }

  /** Submits a method call; calls from this process to one actor are delivered in submission order. */
  submitActorCall(actorId: string, className: string, method: string, args: TaskArg[], taskId: string = newTaskId()): ObjectRef {
    let ar = this.actorRefs.get(actorId);
    if (!ar) {
      ar = { actorId, className, state: 'pending', queue: [], maxTaskRetries: 0, restartsLeft: 0, nextSeq: 0 };
      this.actorRefs.set(actorId, ar);
    }
    const rec: TaskRecord = {
      taskId,
      objectId: objectIdOf(taskId as never, 0),
      name: `${className}.${method}`,
      fn: ACTOR_CALL_FN,
      args,
      opts: NO_TASK_OPTIONS,
      demand: {},
      attempt: 0,
      retriesLeft: ar.maxTaskRetries,
      state: 'resolving',
      call: { actorId: ar.actorId, method },
      seq: ar.nextSeq++,
    };
    this.tasks.set(taskId, rec);
    this.objects.createPending(rec.objectId);
    const ref = this.ref(rec.objectId);
    this.holdArgs(rec);
    if (ar.state === 'dead') {
      this.finish(rec, undefined, ar.error ?? this.deadActorError(ar, 'it is dead'));
      return ref;
    }
    ar.queue.push(rec);
    if (ar.state === 'pending' && !this.tasksCreating(ar.actorId)) this.lookupActor(ar);
    this.resolveArgs(rec);
    return ref;
  }

  private tasksCreating(actorId: string): boolean {
    for (const r of this.tasks.values()) if (r.creation?.actorId === actorId) return true;
    return false;
  }

  private deadActorError(ar: ActorRef, why: string): ActorDiedError {
    return new ActorDiedError(`The actor ${ar.className} (actor ${shortId(ar.actorId)}) is dead: ${why.replace(/\.+$/, '')}.`, {
      hint: 'Create a new actor, or give it maxRestarts to have it restarted after failures.',
      ids: { actorId: ar.actorId },
    });
  }

  /** Asks the head where an actor this process did not create lives (waiting while it is pending). */
  private lookupActor(ar: ActorRef, headDownSinceMs?: number): void {
    if (ar.lookingUp || this.closed) return;
    ar.lookingUp = true;
    this.headCall<rayts.ActorDirectoryReply>('actorCall', { op: 'wait', actor: { actorId: ar.actorId } }, 40_000).then(
      (reply) => {
        ar.lookingUp = false;
        if (!reply.found || !reply.actor) {
          this.actorDied(ar.actorId, this.deadActorError(ar, 'the head does not know it (it never existed or its cluster restarted)'));
          return;
        }
        this.applyActorInfo(ar, reply.actor);
        if (ar.state === 'pending') this.lookupActor(ar);
      },
      (e: Error) => {
        ar.lookingUp = false;
        // The head is down or restarting: its directory comes back with it (docs/head-restart.md).
        const since = headDownSinceMs ?? Date.now();
        if (isRayError(e) && e.code === 'CONNECTION' && Date.now() - since < HEAD_UNREACHABLE_GIVE_UP_MS) {
          setTimeout(() => this.lookupActor(ar, since), 500).unref();
          return;
        }
        this.actorDied(ar.actorId, e);
      },
    );
  }

  private applyActorInfo(ar: ActorRef, info: rayts.IActorInfo): void {
    if (info.state === 'ALIVE' && info.nodeId) this.actorAlive(ar.actorId, info.nodeId);
    else if (info.state === 'DEAD') this.actorDied(ar.actorId, this.deadActorError(ar, info.deathCause || info.reason || 'it ended'));
  }

  private actorAlive(actorId: string, nodeId: string): void {
    const ar = this.actorRefs.get(actorId);
    if (!ar || ar.state === 'dead') return;
    ar.state = 'alive';
    ar.nodeId = nodeId;
    this.flushActor(ar);
  }

  /**
   * The actor's worker or node died. Its creator restarts it while `maxRestarts` allows: calls that were
   * in flight are sent again if they have retries left (`maxTaskRetries`), else fail with
   * ActorUnavailableError; calls made meanwhile wait. Without restarts left it is dead: ActorDiedError.
   * A caller that did not create it asks the head whether it comes back.
   */
  private actorLost(actorId: string, err: Error): void {
    const ar = this.actorRefs.get(actorId);
    if (!ar || ar.state === 'dead') return;
    const inflight = [...this.tasks.values()]
      .filter((r) => r.call?.actorId === ar.actorId && r.state === 'submitted')
      .sort((a, b) => (a.seq ?? 0) - (b.seq ?? 0));
    this.releaseHeld(ar);
    const comesBack = !ar.killed && (ar.template ? ar.restartsLeft !== 0 : true);
    if (!comesBack) {
      for (const rec of inflight) this.finish(rec, rec.nodeId, err);
      this.actorDied(ar.actorId, err);
      return;
    }
    if (ar.state === 'alive') {
      ar.state = 'pending';
      ar.nodeId = undefined;
      if (ar.template) {
        if (ar.restartsLeft > 0) ar.restartsLeft--;
        this.recreateActor(ar);
      } else this.lookupActor(ar);
    }
    const requeue: TaskRecord[] = [];
    for (const rec of inflight) {
      if (rec.retriesLeft !== 0) {
        if (rec.retriesLeft > 0) rec.retriesLeft--;
        rec.attempt++;
        rec.state = 'resolving';
        rec.nodeId = undefined;
        requeue.push(rec);
      } else {
        this.finish(
          rec,
          rec.nodeId,
          new ActorUnavailableError(`${rec.name} (task ${shortId(rec.taskId)}) was in flight when actor ${shortId(ar.actorId)} failed (${err.message.replace(/\.+$/, '')}); the actor is restarting and the call is not retried.`, {
            hint: 'Give the actor maxTaskRetries to have calls in flight sent again after a restart.',
            ids: { actorId: ar.actorId, taskId: rec.taskId },
          }),
        );
      }
    }
    ar.queue = [...requeue, ...ar.queue].sort((a, b) => (a.seq ?? 0) - (b.seq ?? 0));
  }

  private releaseHeld(ar: ActorRef): void {
    if (!ar.held) return;
    this.view.removeInflight(ar.held.nodeId, ar.held.demand);
    ar.held = undefined;
  }

  /** Creates a restarted actor again from its creation template (same id, new creation task). */
  private recreateActor(ar: ActorRef): void {
    const t = ar.template!;
    const taskId = newTaskId();
    const rec: TaskRecord = { ...t, taskId, objectId: objectIdOf(taskId as never, 0), attempt: 0, state: 'resolving', nodeId: undefined, argRefs: undefined };
    this.tasks.set(taskId, rec);
    this.objects.createPending(rec.objectId);
    this.event(rec, 'RETRYING', `restarting actor ${shortId(ar.actorId)} (${ar.restartsLeft < 0 ? 'unlimited' : ar.restartsLeft} restarts left)`);
    if (t.wireArgs) this.place(rec);
    else this.resolveArgs(rec);
  }

  private actorDied(actorId: string, err: Error): void {
    const ar = this.actorRefs.get(actorId);
    if (!ar || ar.state === 'dead') return;
    ar.state = 'dead';
    this.releaseHeld(ar);
    ar.error = isRayError(err) && err.code === 'ACTOR_DIED' ? err : this.deadActorError(ar, err.message);
    for (const rec of ar.queue.splice(0)) this.finish(rec, undefined, ar.error);
    for (const rec of [...this.tasks.values()]) if (rec.call?.actorId === ar.actorId && rec.state === 'submitted') this.finish(rec, rec.nodeId, ar.error);
  }

  private flushActor(ar: ActorRef): void {
    if (ar.state !== 'alive' || !ar.nodeId) return;
    while (ar.queue.length && ar.queue[0].wireArgs) {
      const rec = ar.queue.shift()!;
      if (rec.state === 'done') continue;
      const conn = this.connection(ar.nodeId);
      if (!conn) {
        this.actorDied(ar.actorId, this.deadActorError(ar, `its node ${shortId(ar.nodeId)} is gone`));
        this.finish(rec, undefined, ar.error);
        return;
      }
      rec.state = 'submitted';
      rec.nodeId = ar.nodeId;
      conn.send({
        taskId: rec.taskId,
        jobId: this.o.jobId,
        args: rec.wireArgs as rayts.Arg[],
        attempt: rec.attempt,
        ownerAddress: this.o.ownAddress,
        actorId: ar.actorId,
        method: rec.call!.method,
        namespace: this.o.namespace ?? '',
      });
    }
  }

  async killActor(actorId: string): Promise<void> {
    const ar = this.actorRefs.get(actorId);
    if (ar) ar.killed = true;
    await this.headCall('actorCall', { op: 'kill', actor: { actorId: ar?.actorId ?? actorId, reason: 'killed by kill()' } });
    if (ar) this.actorDied(ar.actorId, this.deadActorError(ar, 'killed by kill()'));
  }

  async getActor(name: string, namespace: string): Promise<{ actorId: string; className: string } | undefined> {
    const reply = await this.headCall<rayts.ActorDirectoryReply>('actorCall', { op: 'get', name, namespace });
    const a = reply.found ? reply.actor : undefined;
    if (!a || a.state === 'DEAD') return undefined;
    return { actorId: a.actorId!, className: a.className ?? 'Actor' };
  }

  // ------------------------------------------------------------------------------------------------
  // Placement groups (reserved by the head)
  // ------------------------------------------------------------------------------------------------

  private readonly pgCreations = new Map<string, Promise<rayts.PlacementGroupReply>>();

  /** Creations and removals not yet sent, in call order. */
  private pgBatch: PgOp[] = [];
  /** The previous flush, so that batches reach the head in order. */
  private pgSent: Promise<void> = Promise.resolve();

  /** Queues a group's creation; creations made in one turn of the event loop go to the head in one call. */
  createPlacementGroup(id: string, bundles: readonly ResourceMap[], strategy: string, name: string): void {
    const p = new Promise<rayts.PlacementGroupReply>((resolve, reject) => {
      this.queuePgOp({ op: 'create', group: { pgId: id, name, strategy, jobId: this.o.jobId, bundles: bundles.map((b) => ({ resources: b })) }, resolve, reject });
    });
    p.catch(() => undefined);
    this.pgCreations.set(id, p);
  }

  private queuePgOp(op: PgOp): void {
    this.pgBatch.push(op);
    if (this.pgBatch.length === 1) setImmediate(() => this.flushPlacementGroups());
  }

  /** Sends queued operations as runs of create_many / remove_many, in order, after the previous flush. */
  private flushPlacementGroups(): void {
    const batch = this.pgBatch;
    this.pgBatch = [];
    const runs: PgOp[][] = [];
    for (const op of batch) {
      const last = runs[runs.length - 1];
      if (last && last[0].op === op.op) last.push(op);
      else runs.push([op]);
    }
    this.pgSent = this.pgSent.then(async () => {
      for (const run of runs) {
        const isCreate = run[0].op === 'create';
        const groups = run.map((o) => (o.op === 'create' ? o.group : { pgId: o.pgId }));
        try {
          const reply = await this.headCall<rayts.PlacementGroupReply>('placementGroupCall', { op: isCreate ? 'create_many' : 'remove_many', groups });
          run.forEach((o, i) => o.resolve({ group: reply.groups[i] } as rayts.PlacementGroupReply));
        } catch (e) {
          for (const o of run) o.reject(e as Error);
        }
      }
    });
  }

  async waitPlacementGroup(id: string, timeoutMs: number | undefined): Promise<void> {
    const created = await this.pgCreations.get(id);
    // The head places a group as it creates it: most groups are ready in the creation reply.
    if (created?.group?.state === 'CREATED') return;
    const deadline = timeoutMs === undefined ? Infinity : Date.now() + timeoutMs;
    // A removal queued before this wait reaches the head first.
    await this.pgSent;
    for (;;) {
      const slice = Math.max(1, Math.min(30_000, deadline - Date.now()));
      const r = await this.headCall<rayts.PlacementGroupReply>('placementGroupCall', { op: 'wait', pgId: id, timeoutMs: slice }, slice + 10_000);
      const g = r.group;
      if (g?.state === 'CREATED') return;
      if (!g || g.state === 'REMOVED') {
        throw new SchedulingError(`Placement group ${shortId(id)} was removed before it was ready.`, { ids: { pgId: id } });
      }
      if (Date.now() >= deadline) {
        throw new GetTimeoutError(`Placement group ${shortId(id)} is not ready after ${timeoutMs} ms: ${g.reason || 'waiting for resources'}.`, {
          hint: 'Add nodes that offer the missing resources, free resources, or choose a less strict strategy.',
          ids: { pgId: id },
        });
      }
    }
  }

  /**
   * Removes a group. The removal is queued in order with this process's other placement-group calls
   * (removals made in one turn of the event loop go to the head in one call) and resolves once it is
   * queued — like Ray's, it does not wait for nodes to hand the bundles back. `rayts list
   * placement-groups` and later calls from this process see the group removed.
   */
  async removePlacementGroup(id: string): Promise<void> {
    this.pgCreations.delete(id);
    const sent = new Promise<rayts.PlacementGroupReply>((resolve, reject) => this.queuePgOp({ op: 'remove', pgId: id, resolve, reject }));
    sent.catch((e: Error) => this.o.log.warn({ err: e.message, pgId: id }, 'could not remove a placement group'));
  }

  // ------------------------------------------------------------------------------------------------
  // Objects: put, get, wait, free
  // ------------------------------------------------------------------------------------------------

  async put(value: unknown): Promise<ObjectRef> {
    const r = encodeResult(value, 'put() value');
    if ('stored' in r) await relieveStorePressure(this.o.store, r.stored.meta.sizeBytes);
    return withStoreRoom(() => this.putEncoded(r));
  }

  /**
   * Stores a value this process encoded (inline bytes when small, else its stored form) as a new object
   * owned by this process: inline in the object table, or in the local store.
   */
  /** Takes ownership of an object already sealed in the local store under `id` (written by a worker thread). */
  adoptStored(id: ObjectId, sizeBytes: number, containedRefs?: readonly string[], containedOwners?: readonly string[]): ObjectRef {
    this.objects.resolveStored(id, this.o.ownAddress, this.o.localNodeId ?? '', sizeBytes);
    const ref = this.ref(id);
    if (containedRefs?.length) this.holdContained(id, containedRefs, containedOwners, false);
    return ref;
  }

  putEncoded(r: EncodedResult): ObjectRef {
    const id = objectIdOf(newTaskId(), 0);
    if ('value' in r) this.objects.resolveInline(id, r.value);
    else {
      const meta = this.o.store.putEncoded(id, r.stored);
      this.objects.resolveStored(id, this.o.ownAddress, this.o.localNodeId ?? '', meta.sizeBytes);
    }
    const ref = this.ref(id);
    if (r.containedRefs?.length) this.holdContained(id, r.containedRefs, r.containedOwners, false);
    return ref;
  }

  /**
   * Owned by this CoreWorker. Several CoreWorkers share one address (an embedded driver and its node's
   * owners for nested work), so an address match alone is not enough: a ref we do not know is asked of
   * the address's OwnerService, which routes it to the CoreWorker that has it.
   */
  private isOwned(ref: ObjectRef): boolean {
    return ref.ownerAddress === '' || (ref.ownerAddress === this.o.ownAddress && this.objects.has(ref.id));
  }

  /**
   * Where an object's value is: inline bytes or a location to pull from. Waits until ready (or the
   * deadline). Throws the object's error if it failed.
   */
  async resolveLocation(
    ref: ObjectRef,
    deadline: number | undefined,
  ): Promise<{ inline?: Uint8Array; location?: string; nodeId?: string; sizeBytes: number }> {
    if (this.isOwned(ref)) {
      let e = this.objects.get(ref.id);
      if (!e) throw this.unknownObject(ref);
      if (e.state === 'pending') {
        await this.waitSettled(ref.id, deadline);
        e = this.objects.get(ref.id);
        if (!e) throw this.unknownObject(ref);
      }
      if (e.state === 'failed') throw e.error!;
      if (e.state === 'pending') throw new GetTimeoutError('timeout'); // replaced by caller
      return { inline: e.inline, location: e.location, nodeId: e.locationNodeId, sizeBytes: e.sizeBytes };
    }
    const timeoutMs = deadline === undefined ? 0 : Math.max(1, deadline - Date.now());
    const reply = await this.askOwner(ref, timeoutMs);
    if (!reply.ready) throw new GetTimeoutError('timeout');
    if (reply.isError) throw decodeError(reply.inline);
    return { inline: reply.inline?.length ? reply.inline : undefined, location: reply.location || undefined, sizeBytes: reply.sizeBytes };
  }

  private unknownObject(ref: ObjectRef): RayError {
    return new ObjectLostError(`Object ${ref.id} is not known to its owner (it was freed, or belongs to an earlier session).`, {
      hint: 'Keep the ObjectRef referenced while you need the value; do not call free() on it before get().',
      ids: { objectId: ref.id },
    });
  }

  private waitSettled(id: string, deadline: number | undefined): Promise<void> {
    if (deadline === undefined) return this.objects.whenSettled(id);
    return new Promise((resolve) => {
      const t = setTimeout(resolve, Math.max(0, deadline - Date.now()));
      this.objects.onSettled(id, () => {
        clearTimeout(t);
        resolve();
      });
    });
  }

  private ownerClient(address: string): grpc.Client {
    let c = this.ownerClients.get(address);
    if (!c) {
      c = dialPeer(OwnerClient, address);
      this.ownerClients.set(address, c);
    }
    return c;
  }

  private async askOwner(ref: ObjectRef, timeoutMs: number): Promise<rayts.ResolvedObject> {
    const c = this.ownerClient(ref.ownerAddress);
    // Wait in slices so that a dead owner is noticed; 0 means "until ready".
    for (;;) {
      const slice = timeoutMs > 0 ? timeoutMs : 30_000;
      let reply: rayts.ResolveReply;
      try {
        reply = await callUnary<rayts.IResolveRequest, rayts.ResolveReply>(
          c,
          'resolveObjects',
          { objectIds: [ref.id], timeoutMs: slice },
          this.o.token,
          slice + 10_000,
        );
      } catch (e) {
        if (isRayError(e) && e.code === 'CONNECTION') {
          throw new OwnerDiedError(`The owner of object ${shortId(ref.id)} at ${ref.ownerAddress} is unreachable; its objects are lost.`, {
            hint: 'Objects live as long as the process that created them; keep that driver or worker running.',
            ids: { objectId: ref.id, owner: ref.ownerAddress },
          });
        }
        throw e;
      }
      const o = reply.objects[0] as rayts.ResolvedObject | undefined;
      if (o?.ready || timeoutMs > 0) return o ?? pb.ResolvedObject.create({ objectId: ref.id, ready: false });
    }
  }

  /**
   * A ready object: inline bytes, or a pinned view of it in the local store (pulled there first when it
   * lives elsewhere). The caller releases the view (or ties it to the decoded value's lifetime).
   */
  async fetchObject(ref: ObjectRef, deadline: number | undefined): Promise<Fetched> {
    const loc = await this.resolveLocation(ref, deadline);
    if (loc.inline) return { inline: loc.inline };
    const store = this.o.store;
    let view = await withStoreRoom(() => store.getAsync(ref.id));
    if (!view) {
      if (!loc.location) throw this.unknownObject(ref);
      try {
        await withStoreRoom(() => this.pulls.pull(ref.id, loc.location!));
      } catch (e) {
        const code = isRayError(e) ? e.code : '';
        if (this.isOwned(ref) && (code === 'OBJECT_LOST' || code === 'CONNECTION') && this.objectLost(ref.id, (e as Error).message)) {
          return this.fetchObject(ref, deadline);
        }
        throw e;
      }
      const pulled = await withStoreRoom(() => store.getAsync(ref.id));
      if (!pulled) throw this.unknownObject(ref);
      // A copy pulled here is a secondary one: it goes when the last value reading it is collected
      // (the store hides it at once and frees it at the last release).
      let released = false;
      view = {
        meta: pulled.meta,
        data: pulled.data,
        release: () => {
          if (released) return;
          released = true;
          pulled.release();
          store.delete(ref.id);
        },
      };
    }
    return { view };
  }

  /** Decodes a fetched object; a stored one stays pinned while the value is reachable (zero copy). */
  static decodeFetched(f: Fetched): unknown {
    if ('inline' in f) return decodeValue(f.inline);
    const v = decodeFromStore(f.view.meta, f.view.data);
    releaseWhenCollected(v, f.view);
    return v;
  }

  async getValues(refs: readonly ObjectRef[], timeoutMs: number | undefined): Promise<unknown[]> {
    return (await this.fetchAll(refs, timeoutMs)).map((f) => CoreWorker.decodeFetched(f));
  }

  /** Objects of refs, in order; GetTimeoutError (with pending reasons) after `timeoutMs`. */
  async fetchAll(refs: readonly ObjectRef[], timeoutMs: number | undefined): Promise<Fetched[]> {
    const deadline = timeoutMs === undefined ? undefined : Date.now() + timeoutMs;
    const got: Fetched[] = [];
    try {
      const all = await Promise.all(
        refs.map(async (r) => {
          const f = await this.fetchObject(r, deadline);
          got.push(f);
          return f;
        }),
      );
      return all;
    } catch (e) {
      for (const f of got) if ('view' in f) f.view.release();
      if (isRayError(e) && e.code === 'GET_TIMEOUT') throw this.timeoutError(refs, timeoutMs ?? 0);
      throw e;
    }
  }

  private timeoutError(refs: readonly ObjectRef[], timeoutMs: number): GetTimeoutError {
    const pending = refs.filter((r) => {
      const e = this.objects.get(r.id);
      return !e || e.state === 'pending';
    });
    const reasons: string[] = [];
    for (const r of pending.slice(0, 5)) {
      const rec = this.tasks.get(taskIdOfObject(r.id));
      if (rec) reasons.push(`${rec.name} (task ${shortId(rec.taskId)}): ${rec.reason ?? (rec.state === 'submitted' ? `running or queued on node ${shortId(rec.nodeId ?? '')}` : rec.state)}`);
    }
    const why = reasons.length ? ` Pending: ${reasons.join('; ')}.` : '';
    return new GetTimeoutError(`get() timed out after ${timeoutMs} ms waiting for ${pending.length} of ${refs.length} object(s).${why}`, {
      hint: reasons.some((r) => r.includes('no node')) ? 'Add a node that offers the missing resources, or change the options.' : 'Raise timeoutMs, or check `rayts status` for busy nodes.',
      ids: pending[0] ? { objectId: pending[0].id } : {},
    });
  }

  async wait(refs: readonly ObjectRef[], numReturns: number, timeoutMs: number | undefined): Promise<{ ready: ObjectRef[]; notReady: ObjectRef[] }> {
    const done = new Set<ObjectRef>();
    // Already settled owned objects need no callback; often that is enough.
    for (const r of refs) if (this.isOwned(r) && this.objects.isSettled(r.id)) done.add(r);
    if (done.size < numReturns) await new Promise<void>((resolve) => {
      let finished = false;
      const unsubscribe: (() => void)[] = [];
      const timer = timeoutMs === undefined ? undefined : setTimeout(() => finish(), timeoutMs);
      const finish = () => {
        if (finished) return;
        finished = true;
        if (timer) clearTimeout(timer);
        for (const u of unsubscribe) u();
        resolve();
      };
      const mark = (r: ObjectRef) => {
        done.add(r);
        if (done.size >= numReturns) finish();
      };
      for (const r of refs) {
        if (finished) break;
        if (done.has(r)) continue;
        if (this.isOwned(r)) unsubscribe.push(this.objects.onSettled(r.id, () => mark(r)));
        else {
          this.resolveLocation(r, timeoutMs === undefined ? undefined : Date.now() + timeoutMs).then(
            () => mark(r),
            (e) => {
              if (!(isRayError(e) && e.code === 'GET_TIMEOUT')) mark(r);
            },
          );
        }
      }
    });
    const ready: ObjectRef[] = [];
    const notReady: ObjectRef[] = [];
    for (const r of refs) (done.has(r) && ready.length < numReturns ? ready : notReady).push(r);
    return { ready, notReady };
  }

  /** Frees owned objects now (their ids become unknown) and drops stored copies. */
  async free(refs: readonly ObjectRef[]): Promise<void> {
    const byLocation = new Map<string, string[]>();
    for (const r of refs) {
      if (!this.isOwned(r)) continue;
      this.refs?.forget(r.id);
      this.releaseContained(r.id);
      const e = this.objects.delete(r.id);
      if (e?.location) {
        if (this.o.store.delete(r.id)) continue;
        const l = byLocation.get(e.location) ?? [];
        l.push(r.id);
        byLocation.set(e.location, l);
      }
    }
    await Promise.all(
      [...byLocation].map(([loc, ids]) => {
        const c = this.pulls.client(loc);
        return callUnary(c, 'freeObjects', { objectIds: ids }, this.o.token).catch(() => undefined);
      }),
    );
  }

  cancel(ref: ObjectRef, force: boolean): void {
    const rec = this.tasks.get(taskIdOfObject(ref.id));
    if (!rec || rec.state === 'done') return;
    rec.cancelled = true;
    rec.retriesLeft = 0;
    if (rec.state === 'submitted' && rec.nodeId) {
      this.conns.get(rec.nodeId)?.cancel(rec.taskId, force);
      return;
    }
    this.finish(rec, undefined, this.cancelledError(rec));
  }

  // ------------------------------------------------------------------------------------------------
  // Owner service (answers borrowers) and introspection
  // ------------------------------------------------------------------------------------------------

  async answerResolve(req: rayts.ResolveRequest): Promise<rayts.IResolveReply> {
    const deadline = Date.now() + Math.min(Math.max(req.timeoutMs || 30_000, 1), 300_000);
    const objects = await Promise.all(
      req.objectIds.map(async (id): Promise<rayts.IResolvedObject> => {
        if (!this.objects.has(id)) {
          return { objectId: id, ready: true, isError: true, inline: encodeError(this.unknownObject(new ObjectRef(id as ObjectId, ''))) };
        }
        await this.waitSettled(id, deadline);
        const e = this.objects.get(id);
        if (!e) return { objectId: id, ready: true, isError: true, inline: encodeError(this.unknownObject(new ObjectRef(id as ObjectId, ''))) };
        if (e.state === 'pending') return { objectId: id, ready: false };
        if (e.state === 'failed') return { objectId: id, ready: true, isError: true, inline: encodeError(e.error) };
        return { objectId: id, ready: true, inline: e.inline, location: e.location ?? '', sizeBytes: e.sizeBytes };
      }),
    );
    return { objects };
  }

  pendingTasks(): PendingTaskSummary[] {
    const out: PendingTaskSummary[] = [];
    for (const rec of this.tasks.values()) {
      if (rec.state === 'infeasible' || (rec.reason && rec.state !== 'done')) {
        out.push({ taskId: rec.taskId, name: rec.name, reason: rec.reason ?? '', resources: rec.demand });
      }
    }
    return out;
  }

  private event(rec: TaskRecord, state: string, reason: string, nodeId?: string): void {
    this.events.push({
      taskId: rec.taskId,
      jobId: this.o.jobId,
      name: rec.name,
      state,
      nodeId: nodeId ?? rec.nodeId ?? '',
      reason,
      timeMs: Date.now(),
      attempt: rec.attempt,
      resources: rec.demand,
    });
    if (this.events.length > 5000) this.flushEvents();
  }

  private flushEvents(): void {
    if (this.events.length === 0) return;
    const events = this.events;
    this.events = [];
    callUnary(this.head, 'reportEvents', { events }, this.o.token, 10_000).catch((e) =>
      this.o.log.debug({ err: (e as Error).message }, 'could not report task events'),
    );
  }

  /** Head unary call with this worker's token. */
  headCall<Res>(method: string, req: unknown, timeoutMs?: number): Promise<Res> {
    return callUnary<unknown, Res>(this.head, method, req, this.o.token, timeoutMs);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.flushEvents();
    this.closed = true;
    clearInterval(this.eventTimer);
    for (const rec of this.tasks.values()) {
      if (rec.state !== 'done') {
        this.objects.fail(rec.objectId, new RayError(`Task ${rec.name} was abandoned: the runtime shut down.`, { ids: { taskId: rec.taskId } }));
      }
    }
    this.tasks.clear();
    for (const c of this.conns.values()) c.close();
    this.conns.clear();
    this.view.close();
    this.head.close();
    this.pulls.close();
    this.borrows?.clear();
    for (const c of this.ownerClients.values()) c.close();
  }
}

