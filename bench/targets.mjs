/**
 * Issue 7's targets for this 2-core machine, by Ray metric name. RESULTS.md shows them and whether each
 * measured row meets them; nothing fails on them (no timed assertions). `ratioOf` compares with a
 * baseline measured in the same run.
 * Not a Ray row: "100 MB between two nodes ≥ 1 GB/s" is transfer_100mb_between_nodes (MB/s, MB = 10^6 B;
 * cases/core/transfer_between_nodes.mjs).
 */
export const ISSUE_7_TARGETS = Object.freeze({
  single_client_tasks_async: { atLeast: 10_000, ratioOf: { baseline: 'piscina_noop_tasks', atLeast: 0.4 } },
  single_client_tasks_sync: { atLeast: 2_000 },
  '1_1_actor_calls_async': { atLeast: 10_000 },
  '1_1_actor_calls_sync': { atLeast: 3_000 },
  single_client_put_calls_Plasma_Store: { atLeast: 20_000 },
  single_client_get_calls_Plasma_Store: { atLeast: 20_000 },
  single_client_put_gigabytes: { ratioOf: { baseline: 'memcpy_gigabytes', atLeast: 0.5 } },
  'placement_group_create/removal': { atLeast: 1_000 },
  transfer_100mb_between_nodes: { atLeast: 1_000 },
});
