/**
 * `shell`: runs a command on this machine. `command` is an argv list (no shell), or a string run by
 * `/bin/sh` when `shell: true`. Outputs stdout and stderr (trailing newlines trimmed) and exitCode; an
 * exit code outside `okExitCodes` (default [0]) fails the op. The command runs in its own process
 * group, which a timeout or cancel terminates.
 */
import { resolve } from 'node:path';
import type { OpContext } from './registry.js';
import { runCommand } from './rayts-cli.js';

export interface ShellArgs {
  command: string | (string | number)[];
  shell?: boolean;
  cwd?: string;
  env?: Record<string, string>;
  okExitCodes?: number[];
}

export const shellSchema = {
  args: {
    type: 'object',
    required: ['command'],
    additionalProperties: false,
    properties: {
      command: { oneOf: [{ type: 'string', minLength: 1 }, { type: 'array', minItems: 1, items: { type: ['string', 'number'] } }] },
      shell: { type: 'boolean' },
      cwd: { type: 'string' },
      env: { type: 'object', additionalProperties: { type: 'string' } },
      okExitCodes: { type: 'array', items: { type: 'integer' } },
    },
    if: { properties: { command: { type: 'string' } } },
    then: { required: ['shell'], properties: { shell: { const: true } } },
  },
  outputs: { type: 'object', properties: { stdout: { type: 'string' }, stderr: { type: 'string' }, exitCode: { type: 'integer' } } },
};

export async function shellOp(args: ShellArgs, ctx: OpContext): Promise<{ stdout: string; stderr: string; exitCode: number }> {
  if (typeof args.command === 'string' && args.shell !== true) throw new Error('command is a string: set shell: true to run it with /bin/sh, or give an argv list');
  const [cmd, ...rest] = typeof args.command === 'string' ? [args.command] : args.command.map(String);
  const r = await runCommand(cmd, rest, {
    shell: typeof args.command === 'string',
    detached: true,
    cwd: resolve(ctx.workflowDir, args.cwd ?? '.'),
    env: { ...process.env, ...(args.env ?? {}) },
    signal: ctx.signal,
    onLine: (l, s) => ctx.log(s === 'stderr' ? `[stderr] ${l}` : l),
  });
  const ok = args.okExitCodes ?? [0];
  const out = { stdout: r.stdout.replace(/\n+$/, ''), stderr: r.stderr.replace(/\n+$/, ''), exitCode: r.code };
  if (!ok.includes(r.code)) throw new Error(`${cmd} exited ${r.code}${r.signal ? ` (${r.signal})` : ''}${out.stderr ? `: ${out.stderr.split('\n').slice(-3).join(' ')}` : ''}`);
  return out;
}
