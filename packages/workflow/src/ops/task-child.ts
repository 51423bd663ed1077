/**
 * The driver process of one `ray_task` op (ray-task.ts): joins the cluster, runs the module's function
 * as a remote task, prints the result on a marked line, shuts down. Its configuration comes in the
 * RAYTS_WF_TASK environment variable.
 */
import { get, init, remote, shutdown } from '@samsara/ray';

interface TaskConfig {
  address: string;
  url: string;
  fn: string;
  args: unknown[];
  options: { numCpus?: number; resources?: Record<string, number> };
}

const MARK = '@@rayts-workflow-task-result ';

async function main(): Promise<void> {
  const cfg = JSON.parse(process.env.RAYTS_WF_TASK ?? '{}') as TaskConfig;
  await init({ address: cfg.address });
  try {
    // Self-contained, so it ships as source: the worker imports the module itself.
    const call = remote(async (url: string, name: string, args: unknown[]) => {
      const m = (await import(url)) as Record<string, unknown>;
      const f = m[name];
      if (typeof f !== 'function') throw new Error(`${url} has no exported function ${name}`);
      return (await (f as (...a: unknown[]) => unknown)(...args)) ?? null;
    });
    const result = await get(call.options(cfg.options).remote(cfg.url, cfg.fn, cfg.args));
    process.stdout.write(`\n${MARK}${JSON.stringify(result)}\n`);
  } finally {
    await shutdown();
  }
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    process.stderr.write(`${e instanceof Error ? e.stack ?? e.message : String(e)}\n`);
    process.exit(1);
  },
);
