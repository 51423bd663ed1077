/**
 * A run that targets a running cluster publishes its section to that cluster's KV (namespace
 * `dashboard`, key `section/workflow/<runId>`), which the dashboard renders.
 */
import { describe, expect, it } from 'vitest';
import { kv } from '@samsara/ray';
import { runWorkflow } from '@samsara/ray-workflow';
import { useCliCluster } from '../../../test/helpers/cli-cluster.js';
import { EXAMPLE_DIR, tempWorkspace } from './helpers.js';

const ws = tempWorkspace();
const holder = useCliCluster({ numCpus: 1, resources: { spark_executor: 1 } }, []);

describe('dashboard section - published to the cluster KV', () => {
  it('shows the run with one row per op', async () => {
    const c = holder.cluster;
    const file = ws.write(
      'dash.yaml',
      `name: dash
ops:
  task:
    op: ray_task
    args: { address: "${c.address}", token: "${c.token}", module: ${EXAMPLE_DIR}/tasks.mjs, function: summarize, args: [{ rows: 20, days: 2 }, 10], resources: { spark_executor: 1 } }
  after: { op: noop, args: { value: "{task.result.rowsPerDay}" } }
`,
    );
    const run = await runWorkflow(file, { home: ws.home });
    expect(run.ops.after.output).toEqual({ value: 10 });
    const text = await kv.get('dashboard', `section/workflow/${run.runId}`);
    expect(typeof text).toBe('string');
    const section = JSON.parse(text as string) as { title: string; columns: string[]; rows: unknown[][]; note: string };
    expect(section.title).toBe(`Workflow dash — run ${run.runId}: success`);
    expect(section.columns).toEqual(['op', 'type', 'status', 'attempts', 'seconds', 'error']);
    expect(section.rows.map((r) => r.slice(0, 4))).toEqual([
      ['task', 'ray_task', 'success', 1],
      ['after', 'noop', 'success', 1],
    ]);
  });
});
