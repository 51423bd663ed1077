/**
 * The driver process that publishes a run's dashboard section to one cluster's KV (dashboard-publisher.ts):
 * joins the cluster named by RAYTS_WF_PUBLISH_ADDRESS, then for each JSON line on stdin
 * (`{ "key": …, "value": … }`) puts the value under namespace `dashboard`; shuts down when stdin ends.
 */
import { createInterface } from 'node:readline';
import { init, kv, shutdown } from '@samsara/ray';

async function main(): Promise<void> {
  await init({ address: process.env.RAYTS_WF_PUBLISH_ADDRESS! });
  try {
    for await (const line of createInterface({ input: process.stdin })) {
      if (!line) continue;
      const { key, value } = JSON.parse(line) as { key: string; value: string };
      try {
        await kv.put('dashboard', key, value);
      } catch (e) {
        process.stderr.write(`kv.put dashboard/${key}: ${(e as Error).message}\n`);
      }
    }
  } finally {
    await shutdown();
  }
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    process.stderr.write(`${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(1);
  },
);
