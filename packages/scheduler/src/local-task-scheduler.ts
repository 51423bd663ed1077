/**
 * The node-local queue: tasks (or any item) admitted to one node wait here until the node's resources
 * cover their demand, then are handed to `dispatch`. A queue plus a policy (resource admission); it does
 * not run anything, talk to peers or keep time.
 *
 * Fairness rule (FIFO with bounded backfill): items of equal demand shape start in arrival order, and
 * among shapes the oldest waiting item that fits starts first. An older item that does not fit does not
 * block later ones that do (backfill), but each time a later item starts ahead of it, it is "bypassed";
 * after `maxBypass` bypasses it reserves what it is missing: no queued item that needs any of those
 * resources starts until it has started. Items using other resources still start. An item whose demand
 * exceeds the node's total never reserves anything (it waits for {@link LocalTaskScheduler.addTotal}).
 *
 * Re-acquisition ({@link LocalTaskScheduler.acquire}) comes first: pending acquires are granted before
 * any queued item starts, and while one waits, queued items needing what it is missing do not start.
 *
 * Leases and pipelining (Ray's lease reuse): an item enqueued with `{ lease: true }` is dispatched with a
 * {@link Lease}, the resources it holds. With `pipelineDepth > 1`, while every waiting item has the same
 * demand shape, no acquire is pending and nothing fits any more, queued items are dispatched onto open
 * leases of that shape (up to `pipelineDepth` items per lease) without taking more resources: the caller
 * runs them one after another on the lease, so its executor already holds the next item when one ends.
 * A lease ends, and its resources return, when its last item calls {@link LocalTaskScheduler.finish}.
 * Pipelining never bypasses an item of another shape, and it stops as soon as one waits.
 */
import { adjustResources, fits, missingResources, subtractResources, TaskCancelledError, type ResourceMap } from '@samsara/ray-common';
import { DEFAULT_MAX_BYPASS } from './config.js';
import { formatAmounts, formatDemand, formatNumber, plural } from './reasons.js';
import { demandedKeys, positivePart, shapeKey, toUnits } from './resource-units.js';

/** Options of {@link LocalTaskScheduler}. */
export interface LocalTaskSchedulerOptions {
  /**
   * How many later items may start ahead of an older one that does not fit before the queue reserves
   * the older item's missing resources. Default {@link DEFAULT_MAX_BYPASS}; 0 makes the queue strictly
   * FIFO per resource.
   */
  readonly maxBypass?: number;
  /**
   * Items one lease may carry at once (the running one plus those queued behind it). Default 1: no
   * pipelining; every item takes its own resources.
   */
  readonly pipelineDepth?: number;
  /**
   * Whether an item may run on a lease behind others (e.g. only tasks known to be short). Asked of the
   * item to pipeline and of every item already on the lease. Default: every item may.
   */
  readonly canPipeline?: (item: unknown) => boolean;
}

/** Options of {@link LocalTaskScheduler.enqueue}. */
export interface EnqueueOptions {
  /**
   * Dispatch the item with a {@link Lease}; the caller ends it with {@link LocalTaskScheduler.finish}
   * (instead of {@link LocalTaskScheduler.release}). Default false.
   */
  readonly lease?: boolean;
}

/** Options of {@link LocalTaskScheduler.finish}. */
export interface FinishOptions {
  /**
   * Resources the item had lent (released while it was blocked) and not taken back. They are not
   * returned again when the lease ends.
   */
  readonly lent?: ResourceMap;
}

/**
 * The resources held for a run of items of one demand shape (see the class doc). Opaque to callers: they
 * use it to keep a lease's items together (e.g. on one worker thread) and hand it back to `finish`.
 */
export interface Lease {
  /** What the lease holds. */
  readonly demand: ResourceMap;
}

/** Options of {@link LocalTaskScheduler.release}. */
export interface ReleaseOptions {
  /**
   * The item was blocked (it had released part of its demand temporarily and not re-acquired it) and
   * now gives back the rest as it finishes. Such a release returns resources but does not lower
   * `runningCount` again. Default false.
   */
  readonly blocked?: boolean;
}

/** One shape of demand that waits, and how many items of it. */
export interface PendingDemand {
  readonly resources: ResourceMap;
  readonly count: number;
}

interface Entry<T> {
  readonly item: T;
  readonly seq: number;
  /** Dispatched with a lease (see {@link EnqueueOptions.lease}). */
  readonly leased: boolean;
}

/** The FIFO of items of one demand shape. */
interface ShapeQueue<T> {
  readonly demand: ResourceMap;
  readonly keys: readonly string[];
  items: Entry<T>[];
  head: number;
  /** How many later items started while the head item waited (reset when the head changes). */
  bypassed: number;
}

interface LeaseState<T> extends Lease {
  readonly key: string;
  /** Items dispatched on the lease and not finished, in dispatch order. */
  items: Entry<T>[];
  /** Accepts more items (false once an item was taken back with `requeue`, or the lease ended). */
  open: boolean;
  lent?: ResourceMap;
}

interface PendingAcquire {
  readonly demand: ResourceMap;
  readonly resolve: () => void;
  readonly reject: (e: Error) => void;
}

/** Merges two lists sorted by seq. */
function mergeBySeq<T>(a: readonly Entry<T>[], b: readonly Entry<T>[]): Entry<T>[] {
  const out: Entry<T>[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    if (j >= b.length || (i < a.length && a[i].seq < b[j].seq)) out.push(a[i++]);
    else out.push(b[j++]);
  }
  return out;
}

/**
 * Admits queued items to one node's resources. Generic over the queued item.
 *
 * `runningCount` counts items that hold resources now: +1 when an item is dispatched or an
 * {@link acquire} is granted, −1 on {@link release} (an item finished, or blocked and lent its
 * resources), unchanged on `release(rest, { blocked: true })` (a blocked item finishing).
 *
 * `dispatch` is called synchronously from `enqueue`, `release`, `acquire`, `remove` and `addTotal`;
 * it may call back into the scheduler (re-entrant calls are deferred, not lost). It should not throw:
 * if it does, the error propagates to the caller and that item counts as running (call `release`).
 *
 * @example
 * const s = new LocalTaskScheduler<Task>({ CPU: 2 }, (t) => run(t));
 * s.enqueue(task, { CPU: 1 });     // runs now
 * s.release({ CPU: 1 });           // when it finishes
 */
export class LocalTaskScheduler<T> {
  private totalRes: ResourceMap;
  private avail: ResourceMap;
  private readonly shapes = new Map<string, ShapeQueue<T>>();
  private readonly acquires: PendingAcquire[] = [];
  private readonly maxBypass: number;
  private seq = 0;
  private queued = 0;
  private running = 0;
  private pumping = false;
  private repump = false;
  private pipelined = 0;
  private readonly pipelineDepth: number;
  private readonly canPipeline: (item: T) => boolean;
  /** Open leases by shape key. */
  private readonly leases = new Map<string, LeaseState<T>[]>();

  /**
   * @param total - the node's resources.
   * @param dispatch - starts an item once its demand is reserved.
   * @param options - see {@link LocalTaskSchedulerOptions}.
   */
  constructor(
    total: ResourceMap,
    private readonly dispatch: (item: T, lease?: Lease) => void,
    options: LocalTaskSchedulerOptions = {},
  ) {
    this.totalRes = { ...total };
    this.avail = { ...total };
    this.maxBypass = options.maxBypass ?? DEFAULT_MAX_BYPASS;
    this.pipelineDepth = Math.max(1, Math.floor(options.pipelineDepth ?? 1));
    this.canPipeline = (options.canPipeline as ((item: T) => boolean) | undefined) ?? (() => true);
  }

  /** Items waiting in the queue. */
  get queuedCount(): number {
    return this.queued;
  }

  /** Items holding resources now (see the class doc). */
  get runningCount(): number {
    return this.running;
  }

  /** Items dispatched onto a lease behind another item of it (they wait for that lease, not for resources). */
  get pipelinedCount(): number {
    return this.pipelined;
  }

  /** Resources not reserved by a running item (may be negative after {@link removeTotal}). */
  available(): ResourceMap {
    return this.visible(this.avail);
  }

  /** The node's resources, including committed placement-group bundles. */
  total(): ResourceMap {
    return this.visible(this.totalRes);
  }

  /**
   * Queues `item`; dispatches it (and anything else that now fits) at once when its demand is
   * available and the fairness rule allows. An empty demand always starts at once.
   */
  enqueue(item: T, demand: ResourceMap, options: EnqueueOptions = {}): void {
    const q = this.shapeQueue(demand);
    q.items.push({ item, seq: this.seq++, leased: options.lease === true });
    this.queued++;
    this.pump();
  }

  private shapeQueue(demand: ResourceMap, key = shapeKey(demand)): ShapeQueue<T> {
    let q = this.shapes.get(key);
    if (!q) {
      const d = positivePart(demand);
      q = { demand: d, keys: Object.keys(d), items: [], head: 0, bypassed: 0 };
      this.shapes.set(key, q);
    }
    return q;
  }

  /**
   * `item`, dispatched on `lease`, finished (or was dropped). When it was the lease's last item the
   * lease ends and its resources (less what was lent, see {@link FinishOptions}) return; otherwise the
   * lease carries on with its next item and may take more.
   */
  finish(lease: Lease, item: T, options: FinishOptions = {}): void {
    const l = lease as LeaseState<T>;
    const i = l.items.findIndex((e) => e.item === item);
    if (i < 0) return;
    if (options.lent) l.lent = options.lent;
    const before = l.items.length;
    l.items.splice(i, 1);
    this.pipelined -= Math.max(0, before - 1) - Math.max(0, l.items.length - 1);
    if (l.items.length > 0) {
      this.pump();
      return;
    }
    this.closeLease(l);
    if (l.lent) this.release(subtractResources(l.demand, positivePart(l.lent)), { blocked: true });
    else this.release(l.demand);
  }

  /**
   * Takes `items` (dispatched on `lease` but not started, e.g. queued behind an item that blocked) back
   * into the queue, ahead of everything that arrived after them; the lease takes no more items. The
   * lease keeps its resources for the items still on it.
   */
  requeue(lease: Lease, items: readonly T[]): void {
    const l = lease as LeaseState<T>;
    this.closeLease(l);
    const back = new Set(items);
    const taken = l.items.filter((e) => back.has(e.item));
    if (taken.length === 0) return;
    const before = l.items.length;
    l.items = l.items.filter((e) => !back.has(e.item));
    this.pipelined -= Math.max(0, before - 1) - Math.max(0, l.items.length - 1);
    const q = this.shapeQueue(l.demand, l.key);
    taken.sort((a, b) => a.seq - b.seq);
    const first = q.items[q.head];
    if (q.head >= taken.length && (!first || taken[taken.length - 1].seq < first.seq)) {
      // The usual case: they were taken from the head of this queue; put them back where they were.
      q.head -= taken.length;
      for (let i = 0; i < taken.length; i++) q.items[q.head + i] = taken[i];
    } else {
      q.items = mergeBySeq(taken, q.items.slice(q.head));
      q.head = 0;
    }
    q.bypassed = 0;
    this.queued += taken.length;
    if (l.items.length === 0) {
      // Nothing left on it: the lease ends here (callers take back only items behind a running one).
      if (l.lent) this.release(subtractResources(l.demand, positivePart(l.lent)), { blocked: true });
      else this.release(l.demand);
      return;
    }
    this.pump();
  }

  private closeLease(l: LeaseState<T>): void {
    if (!l.open) return;
    l.open = false;
    const list = this.leases.get(l.key);
    if (!list) return;
    const i = list.indexOf(l);
    if (i >= 0) list.splice(i, 1);
    if (list.length === 0) this.leases.delete(l.key);
  }

  /**
   * A running item gives `demand` back: when it finishes, or temporarily while it is blocked (e.g. a
   * task waiting in `get` lends its CPU; it calls {@link acquire} to take it back). Dispatches queued
   * items that now fit.
   */
  release(demand: ResourceMap, options: ReleaseOptions = {}): void {
    adjustResources(this.avail, positivePart(demand));
    if (!options.blocked) this.running = Math.max(0, this.running - 1);
    this.pump();
  }

  /**
   * Takes `demand` back after a temporary {@link release}. Resolves when granted. Pending acquires are
   * served in order before any queued item starts.
   *
   * @throws (rejects) TaskCancelledError, or the error given to {@link destroy}, when the scheduler is
   *   destroyed first.
   */
  acquire(demand: ResourceMap): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.acquires.push({ demand: positivePart(demand), resolve, reject });
      this.pump();
    });
  }

  /**
   * Removes the queued items for which `pred` holds (e.g. cancelled tasks) and returns them in queue
   * order. Running items are not affected. Items behind the removed ones may start.
   */
  /** The items waiting in the queue (not started), oldest first. */
  queuedItems(): T[] {
    const out: Entry<T>[] = [];
    for (const q of this.shapes.values()) for (let i = q.head; i < q.items.length; i++) out.push(q.items[i]);
    return out.sort((a, b) => a.seq - b.seq).map((e) => e.item);
  }

  remove(pred: (item: T) => boolean): T[] {
    const removed: Entry<T>[] = [];
    for (const [key, q] of this.shapes) {
      const keep: Entry<T>[] = [];
      const oldHead = q.items[q.head];
      for (let i = q.head; i < q.items.length; i++) {
        const e = q.items[i];
        if (pred(e.item)) removed.push(e);
        else keep.push(e);
      }
      q.items = keep;
      q.head = 0;
      if (keep[0] !== oldHead) q.bypassed = 0;
      if (keep.length === 0) this.shapes.delete(key);
    }
    this.queued -= removed.length;
    if (removed.length > 0) this.pump();
    return removed.sort((a, b) => a.seq - b.seq).map((e) => e.item);
  }

  /** Adds capacity (a placement-group bundle committed on this node); queued items may start. */
  addTotal(r: ResourceMap): void {
    const p = positivePart(r);
    adjustResources(this.totalRes, p);
    adjustResources(this.avail, p);
    this.pump();
  }

  /**
   * Removes capacity (a placement-group bundle returned). Items still holding it keep it until they
   * release it, so `available()` may be negative meanwhile.
   */
  removeTotal(r: ResourceMap): void {
    const p = positivePart(r);
    adjustResources(this.totalRes, p, -1);
    adjustResources(this.avail, p, -1);
    for (const k of Object.keys(p)) {
      if (toUnits(this.totalRes[k]) === 0 && toUnits(this.avail[k]) === 0) {
        delete this.totalRes[k];
        delete this.avail[k];
      }
    }
  }

  /** The shapes of what waits in the queue with their counts, oldest shape first. */
  pendingDemands(): PendingDemand[] {
    return [...this.shapes.values()]
      .sort((a, b) => a.items[a.head].seq - b.items[b.head].seq)
      .map((q) => ({ resources: { ...q.demand }, count: q.items.length - q.head }));
  }

  /**
   * Why an item with `demand` waits on this node, e.g.
   * "waiting for {CPU: 1}: 2 of 2 CPU in use on this node".
   */
  waitReason(demand: ResourceMap): string {
    const d = positivePart(demand);
    const what = `waiting for ${formatDemand(d)}`;
    if (!fits(d, this.totalRes)) {
      const lack = Object.keys(missingResources(d, this.totalRes));
      return `${what}: this node has only ${formatAmounts(this.totalRes, lack)} in total`;
    }
    const missing = Object.keys(missingResources(d, this.avail));
    if (missing.length > 0) {
      const parts = missing.map((k) => {
        const used = subtractResources({ [k]: this.totalRes[k] ?? 0 }, { [k]: this.avail[k] ?? 0 })[k];
        return `${formatNumber(used)} of ${formatNumber(this.totalRes[k] ?? 0)} ${k} in use on this node`;
      });
      return `${what}: ${parts.join(', ')}`;
    }
    const keys = demandedKeys(d);
    const acquireHeld = this.heldForAcquires();
    if (keys.some((k) => acquireHeld.has(k))) {
      return `${what}: held for ${plural(this.acquires.length, 'blocked task')} resuming on this node`;
    }
    const starving = this.starvingHeads().find((h) => h.missing.some((k) => keys.includes(k)));
    if (starving) return `${what}: held for an older task that needs ${formatDemand(starving.queue.demand)}`;
    return `${what}: ${plural(this.queued, 'item')} queued on this node`;
  }

  /**
   * Rejects pending acquires with `error` (default TaskCancelledError) and empties the queue,
   * returning the queued items so the caller can fail them.
   */
  destroy(error: Error = new TaskCancelledError('the node-local scheduler was destroyed')): T[] {
    for (const a of this.acquires.splice(0)) a.reject(error);
    return this.remove(() => true);
  }

  private visible(r: ResourceMap): ResourceMap {
    const out: ResourceMap = {};
    for (const k of Object.keys(r)) {
      if (toUnits(r[k]) !== 0 || toUnits(this.totalRes[k]) !== 0) out[k] = r[k];
    }
    return out;
  }

  /** Resources missing for pending acquires: no queued item needing them starts. */
  private heldForAcquires(): Set<string> {
    const held = new Set<string>();
    for (const a of this.acquires) {
      // An acquire the node can no longer ever grant (capacity removed) must not stall the queue.
      if (!fits(a.demand, this.totalRes)) continue;
      for (const k of Object.keys(missingResources(a.demand, this.avail))) held.add(k);
    }
    return held;
  }

  /** Queue heads bypassed too often that cannot start yet: they reserve what they are missing. */
  private starvingHeads(): { seq: number; queue: ShapeQueue<T>; missing: string[] }[] {
    const out: { seq: number; queue: ShapeQueue<T>; missing: string[] }[] = [];
    for (const q of this.shapes.values()) {
      if (q.bypassed < this.maxBypass || fits(q.demand, this.avail) || !fits(q.demand, this.totalRes)) continue;
      out.push({ seq: q.items[q.head].seq, queue: q, missing: Object.keys(missingResources(q.demand, this.avail)) });
    }
    return out.sort((a, b) => a.seq - b.seq);
  }

  private pump(): void {
    if (this.pumping) {
      this.repump = true;
      return;
    }
    this.pumping = true;
    try {
      do {
        this.repump = false;
        this.grantAcquires();
        this.startQueued();
        this.pipeline();
      } while (this.repump);
    } finally {
      this.pumping = false;
    }
  }

  private grantAcquires(): void {
    for (let i = 0; i < this.acquires.length; ) {
      const a = this.acquires[i];
      if (!fits(a.demand, this.avail)) {
        i++;
        continue;
      }
      this.acquires.splice(i, 1);
      adjustResources(this.avail, a.demand, -1);
      this.running++;
      a.resolve();
    }
  }

  private startQueued(): void {
    for (;;) {
      const acquireHeld = this.heldForAcquires();
      const starving = this.starvingHeads();
      let best: ShapeQueue<T> | undefined;
      let bestKey = '';
      for (const [key, q] of this.shapes) {
        const seq = q.items[q.head].seq;
        if (best && seq > best.items[best.head].seq) continue;
        if (!fits(q.demand, this.avail)) continue;
        const held = (k: string): boolean => acquireHeld.has(k) || starving.some((h) => h.seq < seq && h.missing.includes(k));
        if (q.keys.some(held)) continue;
        best = q;
        bestKey = key;
      }
      if (!best) return;
      const entry = best.items[best.head++];
      for (const q of this.shapes.values()) {
        if (q !== best && q.head < q.items.length && q.items[q.head].seq < entry.seq && !fits(q.demand, this.avail)) q.bypassed++;
      }
      this.queued--;
      best.bypassed = 0;
      if (best.head === best.items.length) this.shapes.delete(bestKey);
      else if (best.head > 1024 && best.head * 2 > best.items.length) {
        best.items = best.items.slice(best.head);
        best.head = 0;
      }
      adjustResources(this.avail, best.demand, -1);
      this.running++;
      if (!entry.leased) {
        this.dispatch(entry.item);
        continue;
      }
      const lease: LeaseState<T> = { demand: best.demand, key: bestKey, items: [entry], open: this.pipelineDepth > 1 };
      if (lease.open) {
        const list = this.leases.get(bestKey);
        if (list) list.push(lease);
        else this.leases.set(bestKey, [lease]);
      }
      this.dispatch(entry.item, lease);
    }
  }

  /** Dispatches queued items onto open leases of their shape when that bypasses nobody (class doc). */
  private pipeline(): void {
    if (this.leases.size === 0 || this.shapes.size !== 1 || this.acquires.length > 0) return;
    const [key, q] = this.shapes.entries().next().value as [string, ShapeQueue<T>];
    const list = this.leases.get(key);
    if (!list) return;
    while (q.head < q.items.length) {
      const entry = q.items[q.head];
      if (!entry.leased || !this.canPipeline(entry.item)) return;
      let best: LeaseState<T> | undefined;
      for (const l of list) {
        if (l.items.length >= this.pipelineDepth || (best && l.items.length >= best.items.length)) continue;
        if (l.items.every((e) => this.canPipeline(e.item))) best = l;
      }
      if (!best) return;
      q.head++;
      this.queued--;
      this.pipelined++;
      best.items.push(entry);
      if (q.head === q.items.length) this.shapes.delete(key);
      else if (q.head > 1024 && q.head * 2 > q.items.length) {
        q.items = q.items.slice(q.head);
        q.head = 0;
      }
      this.dispatch(entry.item, best);
    }
  }
}
