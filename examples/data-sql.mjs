// SQL on executors: DuckDB in actors placed by the `spark_executor` resource.
// Run: npm run build && node examples/data-sql.mjs
import { init, shutdown } from '@samsara/ray';
import * as data from '@samsara/ray-data';

// The embedded node offers spark_executor; on a cluster give it to `rayts start --resources`.
await init({ resources: { spark_executor: 2 } });
const sql = await data.sqlSession({ numExecutors: 2, resourcesPerExecutor: { spark_executor: 1 } });
try {
  console.log('executors on nodes', await sql.executorNodeIds());
  const trips = data.range(100_000, { parallelism: 8 }).map((r) => ({ camera: r.id % 50, kmh: (r.id * 37) % 130 }));
  const cameras = data.fromItems(Array.from({ length: 50 }, (_, c) => ({ camera: c, site: `site-${c % 5}` })));

  const top = sql.query('SELECT camera, avg(kmh) AS v, count(*) AS n FROM trips GROUP BY camera ORDER BY v DESC LIMIT 5', { trips });
  console.log(await top.takeAll());
  console.log(String(top.stats()));

  const joined = sql.query('SELECT t.camera, max(c.site) AS site, count(*) AS n FROM trips t JOIN cameras c ON t.camera = c.camera GROUP BY t.camera ORDER BY camera LIMIT 3', { trips, cameras });
  console.log(await joined.takeAll());

  try {
    await sql.query('SELECT speed FROM trips', { trips }).take(1);
  } catch (e) {
    console.log(`${e.name} at position ${e.position}: ${e.message.split('\n')[0]}`);
  }
} finally {
  await sql.close();
  await shutdown();
}
