/**
 * Ray 2.48.0's published core microbenchmark, copied from /work/shared/anchors/ray-microbenchmark.md
 * (source: ray-project/ray release/perf_metrics/microbenchmark.json; one m5.16xlarge, 64 vCPU; harness
 * python/ray/_private/ray_perf.py: 1 s warm-up, four ~2 s runs, mean). Run-to-run noise about ±15%.
 *
 * `metric` is Ray's metric name exactly; `file` is the case file in bench/cases/core/ that measures it.
 * Order is the anchor's order, which RESULTS.md keeps.
 *
 * Units: Ray's "GB" in the *_gigabytes rows is 1000 MiB (ray_perf.py counts an 800 MiB array as 0.8), and
 * our *_gigabytes rows and memcpy_gigabytes count the same way so the ratios compare like with like.
 */
export const RAY_248 = Object.freeze([
  { metric: 'single_client_get_calls_Plasma_Store', file: 'single_client_get_calls', value: 10620, unit: 'gets/s', does: 'get of an object put earlier' },
  { metric: 'single_client_put_calls_Plasma_Store', file: 'single_client_put_calls', value: 5173, unit: 'puts/s', does: 'put of a small value' },
  { metric: 'multi_client_put_calls_Plasma_Store', file: 'multi_client_put_calls', value: 16526, unit: 'puts/s', does: '10 tasks × 100 small puts' },
  { metric: 'single_client_put_gigabytes', file: 'single_client_put_gigabytes', value: 19.9, unit: 'GB/s', does: 'put of an 800 MiB array' },
  { metric: 'multi_client_put_gigabytes', file: 'multi_client_put_gigabytes', value: 38.1, unit: 'GB/s', does: '10 tasks × 10 puts of 80 MiB' },
  { metric: 'single_client_tasks_and_get_batch', file: 'single_client_tasks_and_get_batch', value: 5.8, unit: 'batches/s', does: 'submit 1000 no-op tasks, get all' },
  { metric: 'single_client_get_object_containing_10k_refs', file: 'single_client_get_object_containing_10k_refs', value: 13.4, unit: 'gets/s', does: 'get a value holding 10,000 refs' },
  { metric: 'single_client_wait_1k_refs', file: 'single_client_wait_1k_refs', value: 5.1, unit: 'rounds/s', does: 'submit 1000 tasks, wait one at a time' },
  { metric: 'single_client_tasks_sync', file: 'single_client_tasks_sync', value: 981, unit: 'tasks/s', does: 'submit one no-op task, get it' },
  { metric: 'single_client_tasks_async', file: 'single_client_tasks_async', value: 8041, unit: 'tasks/s', does: 'submit 1000, get all' },
  { metric: 'multi_client_tasks_async', file: 'multi_client_tasks_async', value: 21230, unit: 'tasks/s', does: '4 actors each submit+get 10,000' },
  { metric: '1_1_actor_calls_sync', file: '1_1_actor_calls_sync', value: 2012, unit: 'calls/s', does: 'one call, get it' },
  { metric: '1_1_actor_calls_async', file: '1_1_actor_calls_async', value: 8664, unit: 'calls/s', does: '1000 calls, get all' },
  { metric: '1_1_actor_calls_concurrent', file: '1_1_actor_calls_concurrent', value: 5775, unit: 'calls/s', does: 'same, actor max concurrency 16' },
  { metric: '1_n_actor_calls_async', file: '1_n_actor_calls_async', value: 8038, unit: 'calls/s', does: 'one client, 5000 calls to each of n actors' },
  { metric: 'n_n_actor_calls_async', file: 'n_n_actor_calls_async', value: 27376, unit: 'calls/s', does: '4 clients, 5000 calls round-robin over n actors' },
  { metric: 'n_n_actor_calls_with_arg_async', file: 'n_n_actor_calls_with_arg_async', value: 2759, unit: 'calls/s', does: 'n clients, 1000 calls each with a ref argument' },
  { metric: '1_1_async_actor_calls_sync', file: '1_1_async_actor_calls_sync', value: 1460, unit: 'calls/s', does: 'async actor, one call, get it' },
  { metric: '1_1_async_actor_calls_async', file: '1_1_async_actor_calls_async', value: 4260, unit: 'calls/s', does: 'async actor, 1000 calls' },
  { metric: 'placement_group_create/removal', file: 'placement_group_create_removal', value: 765, unit: 'groups/s', does: 'create 100 one-bundle groups, wait ready, remove' },
].map(Object.freeze));

/** Ray 2.48's row for a metric name, or undefined. */
export function ray248(metric) {
  return RAY_248.find((r) => r.metric === metric);
}

/** Where Ray's figures come from, for the RESULTS.md header. `n_cpu` in the 1:n and n:n rows is cores / 2. */
export const RAY_BENCH_NOTES = Object.freeze({
  machine: 'AWS m5.16xlarge, 64 vCPU',
  source: 'ray-project/ray release/perf_metrics/microbenchmark.json (Ray 2.48.0)',
  noise: '±15% run to run',
});
