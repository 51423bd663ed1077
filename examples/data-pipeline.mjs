// A Data pipeline on an embedded cluster: read Parquet, transform, aggregate, split for training.
// Run: npm run build && node examples/data-pipeline.mjs
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { init, shutdown } from '@samsara/ray';
import * as data from '@samsara/ray-data';

await init();
const dir = mkdtempSync(join(tmpdir(), 'trips-'));
try {
  // Some trips to read back: 4 Parquet files.
  const files = await data
    .range(20_000, { parallelism: 4 })
    .map((r) => ({ camera: r.id % 12, mps: (r.id * 7919) % 40, ts: r.id }))
    .writeParquet(join(dir, 'trips'));
  console.log(`wrote ${files.length} files`);

  const trips = data
    .readParquet(join(dir, 'trips'), { columns: ['camera', 'mps'] })
    .map((row) => ({ ...row, kmh: row.mps * 3.6 }))
    .filter((row) => row.kmh > 0);
  console.log('plan:', trips.explain());

  class Labeler {
    constructor(limit) {
      this.limit = limit;
    }
    call(rows) {
      return rows.map((r) => ({ ...r, fast: r.kmh > this.limit }));
    }
  }
  const labeled = trips.mapBatches(Labeler, { concurrency: 2, fnConstructorArgs: [100], batchFormat: 'rows' });

  const perCamera = await labeled
    .groupBy('camera')
    .aggregate(data.count(), data.mean('kmh'), data.max('kmh'), data.std('kmh'))
    .sort('mean(kmh)', { descending: true })
    .take(3);
  console.log('fastest cameras:', perCamera);

  const [train, test] = labeled.trainTestSplit(0.2, { seed: 1 });
  console.log('train/test rows:', await train.count(), await test.count());
  const shards = train.streamingSplit(2);
  const counts = await Promise.all(
    shards.map(async (it) => {
      let n = 0;
      for await (const batch of it.iterBatches({ batchSize: 1024 })) n += batch.numRows;
      return n;
    }),
  );
  console.log('rows per training shard:', counts);
  console.log(String(train.stats() ?? ''));
} finally {
  rmSync(dir, { recursive: true, force: true });
  await shutdown();
}
