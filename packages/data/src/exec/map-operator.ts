/**
 * Map operators: run a list of fused stages over each input block (or each read), as tasks or on a pool
 * of actors holding an instance of the user's class. One task per block; a task streams its output
 * block's size before the block (actors: the block is measured where it lives), then it is queued. Input blocks the executor made are freed as soon as their task is done.
 */
import { free, kill, get, nodes, type ObjectRef, type ObjectRefGenerator, type ActorHandle } from '@samsara/ray';
import type { BlockRef, Table } from '../block.js';
import type { MapTaskSpec, ShippedFn, Stage } from '../plan/stages.js';
import { PhysicalOperator, type WorkItem } from './physical-operator.js';
import { mapTaskMeasured, MapWorker } from './remote-fns.js';
import { measure, measuredBlock } from './measure.js';
import { unwrapError } from './unwrap-error.js';

/** Where and how the stages run. */
export interface ComputeSpec {
  readonly kind: 'tasks' | 'actors';
  readonly concurrency?: number;
  readonly numCpus?: number;
  readonly resources?: Readonly<Record<string, number>>;
  /** actors: the class and its constructor arguments. */
  readonly cls?: ShippedFn;
  readonly ctorArgs?: readonly unknown[];
}

/** Inputs at least this big are scheduled on their node while it has a free slot (soft affinity). */
const LOCALITY_BYTES = 1 << 20;

interface Running {
  readonly estBytes: number;
  readonly actor?: number;
}

export class MapOperator extends PhysicalOperator {
  private readonly running = new Set<Running>();
  private blockIndex = 0;
  /** Outputs finished out of order wait here so blocks leave in input order. */
  private readonly done = new Map<number, BlockRef>();
  private nextOut = 0;
  private avgOutBytes = 0;
  private actors: ActorHandle<InstanceType<typeof MapWorkerClass>>[] = [];
  private actorLoad: number[] = [];
  private maxConcurrency: number;
  /** CPU slots of each node for this operator's tasks, and its tasks sent to each node by locality. */
  private readonly slots = new Map<string, number>();
  private readonly pinned = new Map<string, number>();

  constructor(
    name: string,
    inputs: readonly PhysicalOperator[],
    private readonly stages: readonly Stage[],
    private readonly compute: ComputeSpec,
    defaultConcurrency: number,
    private readonly sources: WorkItem[] = [],
  ) {
    super(name, inputs);
    this.maxConcurrency = compute.kind === 'actors' ? (compute.concurrency ?? 1) * 2 : (compute.concurrency ?? defaultConcurrency);
  }

  override sourceItems(): WorkItem[] {
    return this.sources.splice(0);
  }

  protected override async startInner(): Promise<void> {
    if (this.compute.kind !== 'actors') {
      // Slots per node for locality: a task goes to its block's node only while that node has a free
      // slot among this operator's tasks (Ray's rule), else wherever the scheduler finds room.
      const per = this.compute.numCpus ?? 1;
      if (per > 0) {
        try {
          for (const n of await nodes()) if (n.alive) this.slots.set(n.nodeId, Math.floor((n.resources.CPU ?? 0) / per));
        } catch {
          /* no locality then */
        }
      }
      return;
    }
    const n = this.compute.concurrency ?? 1;
    const opts: { numCpus?: number; resources?: Record<string, number> } = {};
    if (this.compute.numCpus !== undefined) opts.numCpus = this.compute.numCpus;
    if (this.compute.resources) opts.resources = { ...this.compute.resources };
    const cls = Object.keys(opts).length ? MapWorker.options(opts) : MapWorker;
    this.actors = Array.from({ length: n }, () => cls.remote(this.compute.cls!, [...(this.compute.ctorArgs ?? [])], this.name) as never);
    this.actorLoad = this.actors.map(() => 0);
    try {
      await Promise.all(this.actors.map((a) => get((a as unknown as { ready: { remote(): ObjectRef<boolean> } }).ready.remote())));
    } catch (e) {
      throw unwrapError(e);
    }
  }

  activeTasks(): number {
    return this.running.size + this.done.size;
  }

  protected runningBytes(): number {
    let n = 0;
    for (const b of this.done.values()) n += b.sizeBytes;
    for (const r of this.running) n += this.avgOutBytes || r.estBytes;
    return n;
  }

  protected override canAddInputInner(): boolean {
    return this.running.size < this.maxConcurrency;
  }

  protected addInputInner(item: WorkItem): void {
    const index = this.blockIndex++;
    const spec: MapTaskSpec = { opName: this.name, blockIndex: index, stages: this.stages, ...(item.read ? { read: item.read } : {}) };
    const args = item.block ? [item.block.ref] : [];
    let actor: number | undefined;
    let pinnedTo: string | undefined;
    let result: Promise<BlockRef>;
    if (this.compute.kind === 'actors') {
      actor = this.actorLoad.indexOf(Math.min(...this.actorLoad));
      this.actorLoad[actor]++;
      result = measure((this.actors[actor] as unknown as { run: { remote(...a: unknown[]): ObjectRef<Table> } }).run.remote(spec, ...args), true);
    } else {
      const opts: { numCpus?: number; resources?: Record<string, number>; scheduling?: { nodeId: string; soft: true } } = {};
      if (this.compute.numCpus !== undefined) opts.numCpus = this.compute.numCpus;
      if (this.compute.resources) opts.resources = { ...this.compute.resources };
      // A big input runs where it is stored while that node has a free slot for this operator (soft
      // affinity), rather than pulling the block across nodes; when it has none, wherever there is room.
      const home = item.block?.nodeId;
      if (home && item.block!.sizeBytes >= LOCALITY_BYTES && (this.slots.get(home) ?? 0) > (this.pinned.get(home) ?? 0)) {
        opts.scheduling = { nodeId: home, soft: true };
        pinnedTo = home;
        this.pinned.set(home, (this.pinned.get(home) ?? 0) + 1);
      }
      // The task streams its output's size before the block: no measuring task per block.
      const fn = Object.keys(opts).length ? mapTaskMeasured.options(opts) : mapTaskMeasured;
      result = measuredBlock(fn.remote(spec, ...args) as unknown as ObjectRefGenerator<unknown>, true);
    }
    const run: Running = { estBytes: item.estBytes, actor };
    this.running.add(run);
    this.metrics.tasksStarted++;
    const t0 = performance.now();
    const unpin = (): void => {
      if (pinnedTo !== undefined) this.pinned.set(pinnedTo, (this.pinned.get(pinnedTo) ?? 1) - 1);
    };
    result.then(
      (b) => {
        unpin();
        this.running.delete(run);
        if (actor !== undefined) this.actorLoad[actor]--;
        this.metrics.tasksFinished++;
        this.metrics.taskMs += performance.now() - t0;
        this.avgOutBytes = this.avgOutBytes ? (this.avgOutBytes * 3 + b.sizeBytes) / 4 : b.sizeBytes;
        if (item.block?.owned) void free([item.block.ref]).catch(() => undefined);
        this.done.set(index, b);
        while (this.done.has(this.nextOut)) {
          this.emit(this.done.get(this.nextOut)!);
          this.done.delete(this.nextOut++);
        }
        this.ctx.wake();
      },
      (e) => {
        unpin();
        this.running.delete(run);
        if (actor !== undefined) this.actorLoad[actor]--;
        this.fail(e);
      },
    );
  }

  protected override async shutdownInner(): Promise<void> {
    this.running.clear();
    for (const a of this.actors) await kill(a as never).catch(() => undefined);
    this.actors = [];
  }
}

// Only for the handle's type.
declare class MapWorkerClass {
  ready(): Promise<boolean>;
}

/** Frees the blocks the executor owns among `blocks`. */
export async function freeOwned(blocks: readonly BlockRef[]): Promise<void> {
  const refs = blocks.filter((b) => b.owned).map((b) => b.ref);
  if (refs.length) await free(refs).catch(() => undefined);
}
