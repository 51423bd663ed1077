/**
 * `ray_job`: submits an entrypoint to a cluster with the job API (`rayts job submit --working-dir`),
 * follows its logs into the op's log until it ends, and returns its exit code, job id and result (the
 * last line of its output that parses as JSON). A cancelled or timed-out op stops the job
 * (`rayts job stop`), since leaving the follower alone would leave the job running.
 */
import { existsSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import type { OpContext } from './registry.js';
import { rayts } from './rayts-cli.js';
import { splitWords } from './split-words.js';
import { stopJob, type RunServices } from '../run/services.js';

export interface RayJobArgs {
  address: string;
  entrypoint: string | string[];
  workingDir?: string;
  token?: string;
}

export const rayJobSchema = {
  args: {
    type: 'object',
    required: ['address', 'entrypoint'],
    additionalProperties: false,
    properties: {
      address: { type: 'string', minLength: 1 },
      entrypoint: { oneOf: [{ type: 'string', minLength: 1 }, { type: 'array', minItems: 1, items: { type: ['string', 'number', 'boolean'] } }] },
      workingDir: { type: 'string' },
      token: { type: 'string' },
    },
  },
  outputs: { type: 'object', properties: { exitCode: { type: 'integer' }, jobId: { type: 'string' }, result: {} } },
};

const SUBMITTED = /Job (job_[0-9a-f]{12}) submitted/;

export async function rayJob(args: RayJobArgs, ctx: OpContext, svc: RunServices): Promise<{ exitCode: number; jobId: string; result: unknown }> {
  const argv = typeof args.entrypoint === 'string' ? splitWords(args.entrypoint) : args.entrypoint.map(String);
  if (!argv.length) throw new Error('the entrypoint is empty');
  const wd = resolve(ctx.workflowDir, args.workingDir ?? '.');
  if (!existsSync(wd) || !statSync(wd).isDirectory()) throw new Error(`workingDir ${wd} is not a directory`);
  const env = svc.envFor(args.address, args.token);
  let jobId = '';
  let result: unknown;
  const lines: string[] = [];
  let stopping: Promise<void> | undefined;
  const stopOnAbort = () => {
    if (jobId && !stopping) stopping = stopJob(args.address, jobId, env).catch(() => undefined);
  };
  ctx.signal.addEventListener('abort', stopOnAbort, { once: true });
  ctx.log(`submitting ${JSON.stringify(argv)} to ${args.address} (working dir ${wd})`);
  try {
    const r = await rayts(['job', 'submit', '--address', args.address, '--working-dir', wd, '--', ...argv], {
      env,
      signal: ctx.signal,
      onLine: (line) => {
        if (!jobId) {
          const m = SUBMITTED.exec(line);
          if (m) {
            jobId = m[1];
            svc.addJob(args.address, jobId, env);
            if (ctx.signal.aborted) stopOnAbort();
          }
        }
        lines.push(line);
        ctx.log(line);
      },
    });
    await stopping;
    if (jobId) svc.jobEnded(jobId);
    for (let i = lines.length - 1; i >= 0; i--) {
      const l = lines[i].trim();
      if (!l) continue;
      try {
        result = JSON.parse(l);
        break;
      } catch {
        /* not JSON */
      }
    }
    if (ctx.signal.aborted) throw new Error(`job ${jobId || '(not submitted)'} stopped`);
    if (r.code !== 0) {
      const tail = lines.filter((l) => l.trim()).slice(-5).join('\n');
      throw new Error(`job ${jobId || '(not submitted)'} on ${args.address} failed with exit code ${r.code}${tail ? `:\n${tail}` : ''}`);
    }
    return { exitCode: r.code, jobId, result: result ?? null };
  } finally {
    ctx.signal.removeEventListener('abort', stopOnAbort);
  }
}
