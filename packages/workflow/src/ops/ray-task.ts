/**
 * `ray_task`: calls an exported function of a module as one remote task on a running cluster, with
 * `numCpus`/`resources`, and returns its result as `result`. The call runs in a child process that is
 * a driver of that cluster (task-child.ts): the runner itself never calls `init()`, so one run can use
 * several clusters. The remote function is self-contained and imports the module by absolute path on
 * the worker, so the module must be readable at that path on the node that runs it (any node of a
 * cluster on this machine).
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { OpContext } from './registry.js';
import { runCommand } from './rayts-cli.js';
import type { RunServices } from '../run/services.js';

export interface RayTaskArgs {
  address: string;
  module: string;
  function?: string;
  args?: unknown[];
  numCpus?: number;
  resources?: Record<string, number>;
  token?: string;
}

export const rayTaskSchema = {
  args: {
    type: 'object',
    required: ['address', 'module'],
    additionalProperties: false,
    properties: {
      address: { type: 'string', minLength: 1 },
      module: { type: 'string', minLength: 1 },
      function: { type: 'string', minLength: 1 },
      args: { type: 'array' },
      numCpus: { type: 'number', minimum: 0 },
      resources: { type: 'object', additionalProperties: { type: 'number', minimum: 0 } },
      token: { type: 'string' },
    },
  },
  outputs: { type: 'object', properties: { result: {} } },
};

export const RESULT_MARK = '@@rayts-workflow-task-result ';
const CHILD = fileURLToPath(new URL('./task-child.js', import.meta.url));

export async function rayTask(args: RayTaskArgs, ctx: OpContext, svc: RunServices): Promise<{ result: unknown }> {
  const mod = resolve(ctx.workflowDir, args.module);
  if (!existsSync(mod)) throw new Error(`module ${mod} does not exist`);
  const env = svc.envFor(args.address, args.token);
  env.RAYTS_WF_TASK = JSON.stringify({
    address: args.address,
    url: pathToFileURL(mod).href,
    fn: args.function ?? 'default',
    args: args.args ?? [],
    options: { ...(args.numCpus !== undefined ? { numCpus: args.numCpus } : {}), ...(args.resources ? { resources: args.resources } : {}) },
  });
  ctx.log(`calling ${args.function ?? 'default'} of ${mod} on ${args.address}`);
  let result: unknown;
  let got = false;
  const r = await runCommand(process.execPath, [CHILD], {
    env,
    cwd: ctx.workflowDir,
    signal: ctx.signal,
    detached: true,
    onLine: (line) => {
      if (line.startsWith(RESULT_MARK)) {
        result = JSON.parse(line.slice(RESULT_MARK.length));
        got = true;
      } else if (line.trim()) ctx.log(line);
    },
  });
  if (r.code !== 0 || !got) throw new Error(`the task failed (exit ${r.code}): ${r.stderr.trim().split('\n').slice(-5).join('\n')}`);
  return { result };
}
