/**
 * Data on a 3-process CLI cluster (head + two worker nodes, one offering `spark_executor`): SQL
 * executors land only on spark_executor nodes, a mapBatches with resources runs only there, and a
 * pipeline runs across processes.
 */
import { describe, it, expect } from 'vitest';
import { runtimeContext } from '@samsara/ray';
import * as data from '@samsara/ray-data';
import { useCliCluster } from '../../../test/helpers/cli-cluster.js';

const c = useCliCluster({ numCpus: 1 }, [{ numCpus: 2 }, { numCpus: 4, resources: { spark_executor: 3 } }]);

describe('Data on a CLI cluster', () => {
  it('every SQL executor is placed on the spark_executor node, and queries run there', async () => {
    const sparkNode = c.cluster.nodeIds[2];
    const sql = await data.sqlSession({ numExecutors: 2, resourcesPerExecutor: { spark_executor: 1 } });
    try {
      expect(await sql.executorNodeIds()).toEqual([sparkNode, sparkNode]);
      const trips = data.range(1000, { parallelism: 4 }).map((r) => ({ camera: (r.id as number) % 4, kmh: r.id }));
      const rows = await sql.query('SELECT camera, count(*) AS n, sum(kmh) AS s FROM trips GROUP BY camera ORDER BY camera', { trips }).takeAll();
      expect(rows).toEqual([0, 1, 2, 3].map((k) => ({ camera: k, n: 250, s: Array.from({ length: 250 }, (_, i) => i * 4 + k).reduce((a, b) => a + b, 0) })));
    } finally {
      await sql.close();
    }
  });

  it('mapBatches with resources runs only on the node that offers them', async () => {
    const where = await data
      .range(200, { parallelism: 4 })
      .mapBatches((b: unknown[]) => [{ node: runtimeContext().nodeId, n: b.length }], { batchFormat: 'rows', batchSize: null, resources: { spark_executor: 1 } })
      .takeAll();
    expect(where.map((r) => r.n).reduce((a, b) => (a as number) + (b as number), 0)).toBe(200);
    expect(new Set(where.map((r) => r.node))).toEqual(new Set([c.cluster.nodeIds[2]]));
    // Without the resource, work spreads to other nodes too, and all-to-all crosses processes.
    const sorted = await data.range(300, { parallelism: 6 }).map((r) => ({ v: ((r.id as number) * 7) % 300 })).sort('v').takeAll();
    expect(sorted.map((r) => r.v)).toEqual(Array.from({ length: 300 }, (_, i) => i));
  });
});
