// A function the ray_task op of pipeline.yaml runs as a remote task on the cluster.
import { runtimeContext } from '@samsara/ray';

export function summarize(result, minRows) {
  return { ok: result.rows >= minRows, rowsPerDay: result.rows / result.days, nodeId: runtimeContext().nodeId };
}
