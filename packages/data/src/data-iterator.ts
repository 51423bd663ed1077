/**
 * Iterating blocks as batches or rows. `DataIterator` is what `streamingSplit(n)` hands to each training
 * worker: every iterator pulls from one shared execution, so each is fed while the others consume.
 */
import { get, free } from '@samsara/ray';
import { tableToRows, concatTables, type BlockRef, type Row, type Table } from './block.js';
import { checkOptions } from './config.js';
import { InvalidArgumentError } from '@samsara/ray';

/** Options of iterBatches. */
export interface IterBatchesOptions {
  /** Rows per batch; null gives whole blocks [256]. */
  batchSize?: number | null;
  /** 'arrow' (Tables, the default) or 'rows' (arrays of row objects). */
  batchFormat?: 'arrow' | 'rows';
}

/** Batches of `blocks`: owned blocks are freed once the iteration moved past them. */
export async function* batchesOf(blocks: AsyncIterable<BlockRef>, opts: IterBatchesOptions | undefined): AsyncGenerator<Table | Row[]> {
  const o = checkOptions(opts, ['batchSize', 'batchFormat'], 'iterBatches()');
  const size = o.batchSize === undefined ? 256 : o.batchSize;
  if (size !== null && (typeof size !== 'number' || !Number.isInteger(size) || size < 1)) {
    throw new InvalidArgumentError(`iterBatches(): batchSize must be a positive integer or null, got ${String(size)}.`);
  }
  const fmt = o.batchFormat ?? 'arrow';
  if (fmt !== 'arrow' && fmt !== 'rows') throw new InvalidArgumentError(`iterBatches(): batchFormat must be 'arrow' or 'rows', got ${String(fmt)}.`);
  const out = (t: Table): Table | Row[] => (fmt === 'rows' ? tableToRows(t) : t);
  let carry: Table | undefined;
  let prev: BlockRef | undefined;
  for await (const b of blocks) {
    const t = (await get(b.ref)) as Table;
    if (prev?.owned) await free([prev.ref]).catch(() => undefined);
    prev = b;
    if (size === null) {
      if (t.numRows) yield out(t);
      continue;
    }
    let cur = carry ? concatTables([carry, t]) : t;
    carry = undefined;
    let off = 0;
    while (cur.numRows - off >= size) {
      yield out(cur.slice(off, off + size));
      off += size;
    }
    if (off < cur.numRows) carry = cur.slice(off);
    cur = undefined as never;
  }
  if (prev?.owned) await free([prev.ref]).catch(() => undefined);
  if (carry && carry.numRows) yield out(carry);
}

/** One consumer's view of a dataset's blocks: batches and rows. */
export class DataIterator {
  constructor(private readonly blocks: () => AsyncIterable<BlockRef>) {}

  /** Batches of `batchSize` rows (Arrow Tables, or row arrays with batchFormat 'rows'). */
  iterBatches(opts?: { batchSize?: number | null; batchFormat?: 'arrow' }): AsyncGenerator<Table>;
  iterBatches(opts: { batchSize?: number | null; batchFormat: 'rows' }): AsyncGenerator<Row[]>;
  iterBatches(opts?: IterBatchesOptions): AsyncGenerator<Table | Row[]> {
    return batchesOf(this.blocks(), opts);
  }

  /** Rows as plain objects. */
  async *iterRows(): AsyncGenerator<Row> {
    for await (const b of batchesOf(this.blocks(), { batchSize: null, batchFormat: 'rows' })) yield* b as Row[];
  }
}

/**
 * Splits one stream of blocks among `n` consumers: whoever asks next gets the next block. The shared
 * execution starts on the first request and ends when every consumer finished (or one failed).
 */
export function splitStream(source: () => AsyncGenerator<BlockRef>, n: number): DataIterator[] {
  let it: AsyncGenerator<BlockRef> | undefined;
  let chain: Promise<unknown> = Promise.resolve();
  let exhausted = false;
  const nextBlock = (): Promise<IteratorResult<BlockRef>> => {
    const p = chain.then(async () => {
      if (exhausted) return { done: true, value: undefined } as IteratorResult<BlockRef>;
      it ??= source();
      const r = await it.next();
      if (r.done) exhausted = true;
      return r;
    });
    chain = p.catch(() => undefined);
    return p;
  };
  const each = (): AsyncIterable<BlockRef> => ({
    [Symbol.asyncIterator]: () => ({ next: nextBlock, return: async () => ({ done: true, value: undefined }) }),
  });
  return Array.from({ length: n }, () => new DataIterator(each));
}
