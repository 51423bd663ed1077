/**
 * Request batching (Ray Serve's @serve.batch): concurrent calls on one replica are gathered into one
 * call of `fn` with an array. The wait is timed from the *first* queued item (Ray #36510), the batch
 * goes as soon as it is full, the output length is checked, and an error reaches every caller of the batch.
 */
import { InvalidArgumentError } from '@samsara/ray';
import { BatchSizeError } from './errors.js';
import { replicaContext } from './internal/replica-context.js';

/** Options of {@link batch}. */
export interface BatchOptions {
  /** Most items per call [10]. */
  maxBatchSize?: number;
  /** How long the first item of a batch waits for more, in ms [10]. */
  batchWaitTimeoutMs?: number;
}

interface Pending<I, O> {
  readonly item: I;
  resolve(v: O): void;
  reject(e: unknown): void;
}

/** The queue behind one batched function. */
export class BatchQueue<I, O> {
  private queue: Pending<I, O>[] = [];
  private timer: NodeJS.Timeout | undefined;
  private running = 0;
  /** Batches run so far and items in them (for tests and stats). */
  readonly stats = { batches: 0, items: 0 };

  constructor(
    private readonly fn: (items: I[]) => Promise<O[]> | O[],
    readonly maxBatchSize: number,
    readonly batchWaitTimeoutMs: number,
  ) {}

  put(item: I): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      if (this.queue.length >= this.maxBatchSize) this.flush();
      else if (this.queue.length === 1) this.timer = setTimeout(() => this.flush(), this.batchWaitTimeoutMs);
    });
  }

  private flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    while (this.queue.length > 0) {
      const batch = this.queue.splice(0, this.maxBatchSize);
      void this.run(batch);
      if (this.queue.length < this.maxBatchSize) break;
    }
    if (this.queue.length > 0) this.timer = setTimeout(() => this.flush(), this.batchWaitTimeoutMs);
  }

  private async run(batch: Pending<I, O>[]): Promise<void> {
    this.running++;
    this.stats.batches++;
    this.stats.items += batch.length;
    try {
      const out = await this.fn(batch.map((p) => p.item));
      if (!Array.isArray(out) || out.length !== batch.length) throw new BatchSizeError(Array.isArray(out) ? out.length : -1, batch.length);
      batch.forEach((p, i) => p.resolve(out[i]));
    } catch (e) {
      for (const p of batch) p.reject(e);
    } finally {
      this.running--;
    }
  }
}

/**
 * Makes `fn(items[])` callable one item at a time; concurrent calls on a replica share a call of `fn`.
 * @example
 * detect = batch(async (frames: Frame[]) => frames.map(run), { maxBatchSize: 32, batchWaitTimeoutMs: 5 });
 * Fails with InvalidArgumentError on bad options; rejects every caller of a batch when `fn` throws or
 * returns a different number of results (BatchSizeError). Warns when maxBatchSize exceeds the
 * replica's maxOngoingRequests (batches could never fill).
 */
export function batch<I, O>(fn: (items: I[]) => Promise<O[]> | O[], options: BatchOptions = {}): (item: I) => Promise<O> {
  if (typeof fn !== 'function') throw new InvalidArgumentError(`batch() takes a function, got ${typeof fn}.`);
  for (const k of Object.keys(options)) {
    if (k !== 'maxBatchSize' && k !== 'batchWaitTimeoutMs') throw new InvalidArgumentError(`batch(): unknown option "${k}"; valid options are maxBatchSize, batchWaitTimeoutMs.`);
  }
  const size = options.maxBatchSize ?? 10;
  const wait = options.batchWaitTimeoutMs ?? 10;
  if (!Number.isInteger(size) || size < 1) throw new InvalidArgumentError(`batch(): maxBatchSize must be an integer ≥ 1, got ${String(options.maxBatchSize)}.`);
  if (typeof wait !== 'number' || !(wait >= 0)) throw new InvalidArgumentError(`batch(): batchWaitTimeoutMs must be a number ≥ 0, got ${String(options.batchWaitTimeoutMs)}.`);
  const ctx = replicaContext();
  if (ctx && size > ctx.maxOngoingRequests) {
    ctx.logger.warn(
      { deployment: ctx.deployment, maxBatchSize: size, maxOngoingRequests: ctx.maxOngoingRequests },
      `batch(): maxBatchSize ${size} > maxOngoingRequests ${ctx.maxOngoingRequests} of deployment ${ctx.deployment}: batches can never fill. Raise maxOngoingRequests.`,
    );
  }
  let queue: BatchQueue<I, O> | undefined;
  const batched = function (this: unknown, item: I): Promise<O> {
    // `this` of the first call binds fn when it is a method (arrow functions ignore it).
    queue ??= new BatchQueue<I, O>((items) => fn.call(this, items), size, wait);
    return queue.put(item);
  };
  return batched;
}
