/**
 * Registers the built-in ops (imported once by load.ts):
 * ray_cluster_start, ray_cluster_stop, ray_job, ray_task, shell, http, noop.
 */
import { registerBuiltin } from './registry.js';
import { clusterStart, clusterStartSchema, clusterStop, clusterStopSchema } from './cluster-ops.js';
import { rayJob, rayJobSchema } from './ray-job.js';
import { rayTask, rayTaskSchema } from './ray-task.js';
import { shellOp, shellSchema } from './shell-op.js';
import { httpOp, httpSchema } from './http-op.js';

registerBuiltin('ray_cluster_start', clusterStart, { schema: clusterStartSchema, description: 'starts a cluster of rayts daemons (head and workers); outputs address' });
registerBuiltin('ray_cluster_stop', clusterStop, { schema: clusterStopSchema, description: 'stops a cluster started by ray_cluster_start' });
registerBuiltin('ray_job', rayJob, { schema: rayJobSchema, description: 'submits a job, follows its logs; outputs exitCode, jobId, result' });
registerBuiltin('ray_task', rayTask, { schema: rayTaskSchema, description: "runs a module's exported function as a remote task; outputs result" });
registerBuiltin('shell', shellOp, { schema: shellSchema, description: 'runs a command; outputs stdout, stderr, exitCode' });
registerBuiltin('http', httpOp, { schema: httpSchema, description: 'one HTTP request; outputs status, headers, body' });
registerBuiltin('noop', (args: { value?: unknown }) => ({ value: args.value ?? null }), {
  schema: { args: { type: 'object', additionalProperties: false, properties: { value: {} } }, outputs: { type: 'object', properties: { value: {} } } },
  description: 'does nothing; outputs value (its argument)',
});
