/**
 * `rayts job submit|status|logs|stop` (docs/jobs.md): the submitting side of the head's JobService.
 * `submit` packs the working dir (packWorkingDir, the same package `init({ runtimeEnv })` ships), asks
 * the head to run the entrypoint, prints the job id and — unless --no-wait — follows its log until it
 * ends, exiting with its status. The head is --address, else RAYTS_ADDRESS, else this machine's latest
 * session (as Ray's job CLI takes RAY_ADDRESS).
 */
import { existsSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { InvalidArgumentError, MAX_MESSAGE_BYTES, RayError } from '@samsara/ray-common';
import type { rayts } from '@samsara/ray-proto';
import { CHANNEL_OPTIONS } from '../rpc/services.js';
import { JobClient } from '../rpc/job-services.js';
import { authMetadata, callUnary, fromGrpcError } from '../rpc/auth.js';
import { packWorkingDir } from '../runtime-env/working-dir.js';
import { parse } from './args.js';
import { headAddress, plain, tokenFor } from './inspect.js';
import { channelCredentials } from '../rpc/tls.js';

export const JOB_USAGE =
  'rayts job submit [--address HOST:PORT] [--token T] [--working-dir DIR] [--no-wait] -- <entrypoint command...>\n' +
  '       rayts job status <id> [--address HOST:PORT] [--token T] [--json]\n' +
  '       rayts job logs <id> [--follow] [--address HOST:PORT] [--token T]\n' +
  '       rayts job stop <id> [--no-wait] [--address HOST:PORT] [--token T]';

const ID = /^job_[0-9a-f]{12}$/;
const COMMON = { address: { type: 'string' }, token: { type: 'string' } } as const;

interface Head {
  address: string;
  token: string;
  client: grpc.Client;
}

async function withJobs<T>(values: { address?: string; token?: string }, f: (h: Head) => Promise<T>): Promise<T> {
  const address = headAddress(values.address);
  const token = tokenFor(address, values.token);
  const client = new JobClient(address, channelCredentials(), CHANNEL_OPTIONS);
  try {
    return await f({ address, token, client });
  } finally {
    client.close();
  }
}

export async function job(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  switch (sub) {
    case 'submit':
      return submit(rest);
    case 'status':
      return status(rest);
    case 'logs':
      return logs(rest);
    case 'stop':
      return stop(rest);
    default:
      throw new InvalidArgumentError(`rayts job needs one of submit, status, logs, stop${sub ? `, got ${JSON.stringify(sub)}` : ''}.`, { hint: `Usage: ${JOB_USAGE}` });
  }
}

async function submit(argv: string[]): Promise<number> {
  const dash = argv.indexOf('--');
  const flags = dash < 0 ? argv : argv.slice(0, dash);
  const { values, positionals } = parse(flags, { ...COMMON, 'working-dir': { type: 'string' }, 'no-wait': { type: 'boolean' } }, JOB_USAGE);
  const entrypoint = dash < 0 ? positionals : [...positionals, ...argv.slice(dash + 1)];
  if (!entrypoint.length || !entrypoint[0].trim()) {
    throw new InvalidArgumentError('rayts job submit needs an entrypoint command after --.', { hint: 'Example: rayts job submit --working-dir ./proj -- node main.mjs' });
  }
  let pkg: ReturnType<typeof packWorkingDir> | undefined;
  const wd = values['working-dir'];
  if (wd !== undefined) {
    if (!existsSync(wd) || !statSync(wd).isDirectory()) throw new InvalidArgumentError(`--working-dir ${JSON.stringify(wd)} is not a directory.`, { hint: `Usage: ${JOB_USAGE}` });
    pkg = packWorkingDir(resolve(wd));
    if (pkg.bytes.byteLength > MAX_MESSAGE_BYTES - (1 << 20)) {
      throw new InvalidArgumentError(`--working-dir ${wd} packs to ${(pkg.bytes.byteLength / 2 ** 20).toFixed(1)} MiB compressed; one submission carries at most ${(MAX_MESSAGE_BYTES >> 20) - 1} MiB.`, {
        hint: 'Ship only code: move data into objects (put) or files on the nodes.',
      });
    }
  }
  return withJobs(values, async (h) => {
    const reply = await callUnary<rayts.ISubmitJobRequest, rayts.SubmitJobReply>(
      h.client,
      'submitJob',
      { entrypoint, workingDirHash: pkg?.hash ?? '', workingDirArchive: pkg?.bytes ?? new Uint8Array() },
      h.token,
      120_000,
    );
    const id = reply.submissionId;
    const out = [`Job ${id} submitted to ${h.address}.`, `  status: rayts job status ${id}`, `  logs:   rayts job logs ${id} --follow`, `  stop:   rayts job stop ${id}`];
    if (values['no-wait']) {
      process.stdout.write(out.join('\n') + '\n');
      return 0;
    }
    process.stdout.write(out.join('\n') + `\nFollowing the logs until the job ends (Ctrl-C leaves it running; --no-wait skips this):\n`);
    await streamLogs(h, id, true);
    const info = await getJob(h, id);
    process.stdout.write(`${endLine(info)}\n`);
    await flushStdout();
    return exitStatus(info);
  });
}

async function status(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, { ...COMMON, json: { type: 'boolean' } }, JOB_USAGE);
  const id = oneId(positionals, 'status');
  return withJobs(values, async (h) => {
    const j = await getJob(h, id);
    if (values.json) {
      process.stdout.write(JSON.stringify(plain(j), null, 2) + '\n');
      return 0;
    }
    const lines = [
      `Job ${j.submissionId}: ${j.state}${j.hasExitCode ? ` (exit code ${j.exitCode})` : ''}`,
      `  entrypoint: ${j.entrypoint}`,
      `  started:    ${new Date(j.startMs).toISOString()}${j.pid ? ` (pid ${j.pid} on the head machine)` : ''}`,
    ];
    if (j.endMs) lines.push(`  ended:      ${new Date(j.endMs).toISOString()} (after ${((j.endMs - j.startMs) / 1000).toFixed(1)} s)`);
    lines.push(j.jobId ? `  driver:     job ${j.jobId} ${j.driverState}${j.driverAddress ? ` at ${j.driverAddress}` : ''}` : '  driver:     none registered (the entrypoint has not called init())');
    if (j.message) lines.push(`  message:    ${j.message}`);
    lines.push(`  logs:       rayts job logs ${j.submissionId}   (${j.logPath} on the head)`);
    process.stdout.write(lines.join('\n') + '\n');
    return 0;
  });
}

async function logs(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, { ...COMMON, follow: { type: 'boolean', short: 'f' } }, JOB_USAGE);
  const id = oneId(positionals, 'logs');
  return withJobs(values, async (h) => {
    await getJob(h, id);
    await streamLogs(h, id, !!values.follow);
    await flushStdout();
    return 0;
  });
}

async function stop(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, { ...COMMON, 'no-wait': { type: 'boolean' } }, JOB_USAGE);
  const id = oneId(positionals, 'stop');
  return withJobs(values, async (h) => {
    // As for status and logs: a string that is not a job id names no job (the head would answer
    // INVALID_ARGUMENT, exit 2, with another message than docs/jobs.md gives).
    if (!ID.test(id)) throw unknownJob(id, h.address);
    const r = await callUnary<rayts.IJobRequest, rayts.StopJobReply>(h.client, 'stopJob', { submissionId: id }, h.token, 10_000);
    if (!r.found) throw unknownJob(id, h.address);
    if (!r.stopping) {
      process.stdout.write(`Job ${id} had already ended: ${r.job?.state}.\n`);
      return 0;
    }
    process.stdout.write(`Stopping job ${id} (SIGTERM now, SIGKILL after 5 s)...\n`);
    if (values['no-wait']) return 0;
    const deadline = Date.now() + 15_000;
    for (;;) {
      const j = await getJob(h, id);
      if (j.endMs) {
        process.stdout.write(`Job ${id} ${j.state}.\n`);
        return 0;
      }
      if (Date.now() > deadline) throw new RayError(`Job ${id} did not end within 15 s of being stopped.`, { hint: `Check it with \`rayts job status ${id}\`.` });
      await new Promise((res) => setTimeout(res, 100));
    }
  });
}

function oneId(positionals: string[], what: string): string {
  if (positionals.length !== 1) {
    throw new InvalidArgumentError(`rayts job ${what} needs one job id${positionals.length ? `, got ${positionals.length}` : ''}.`, { hint: `Usage: ${JOB_USAGE}` });
  }
  return positionals[0];
}

function unknownJob(id: string, address: string): RayError {
  return new RayError(`No job ${JSON.stringify(id)} on the cluster at ${address}.`, { hint: 'List jobs with `rayts list jobs`.', ids: { submissionId: id } });
}

async function getJob(h: Head, id: string): Promise<rayts.JobInfo> {
  // A malformed id cannot name a job: it is as unknown as a well-formed one the head never saw.
  if (!ID.test(id)) throw unknownJob(id, h.address);
  const r = await callUnary<rayts.IJobRequest, rayts.GetJobReply>(h.client, 'getJob', { submissionId: id }, h.token, 10_000);
  if (!r.found || !r.job) throw unknownJob(id, h.address);
  return r.job as rayts.JobInfo;
}

/** Writes the job's log to stdout; with `follow`, until the job ended and all of it was written. */
function streamLogs(h: Head, id: string, follow: boolean): Promise<void> {
  return new Promise((res, rej) => {
    const fn = (h.client as unknown as Record<string, (req: unknown, md: grpc.Metadata) => grpc.ClientReadableStream<rayts.JobLogChunk>>).jobLogs;
    const call = fn.call(h.client, { submissionId: id, follow, offset: 0 }, authMetadata(h.token));
    call.on('data', (c: rayts.JobLogChunk) => {
      if (!process.stdout.write(c.data)) {
        call.pause();
        process.stdout.once('drain', () => call.resume());
      }
    });
    call.on('error', (e) => rej(fromGrpcError(e, 'jobLogs', h.address)));
    call.on('end', () => res());
  });
}

function flushStdout(): Promise<void> {
  return new Promise((res) => process.stdout.write('', () => res()));
}

function endLine(j: rayts.JobInfo): string {
  switch (j.state) {
    case 'SUCCEEDED':
      return `Job ${j.submissionId} succeeded.`;
    case 'STOPPED':
      return `Job ${j.submissionId} was stopped.`;
    default:
      return `Job ${j.submissionId} ${j.state === 'FAILED' ? 'failed' : `ended ${j.state}`}${j.message ? `: ${j.message}` : ''}. See \`rayts job status ${j.submissionId}\`.`;
  }
}

/** 0 when the job succeeded; else its exit code when it had one in 1–255, else 1. */
function exitStatus(j: rayts.JobInfo): number {
  if (j.state === 'SUCCEEDED') return 0;
  return j.hasExitCode && j.exitCode > 0 && j.exitCode < 256 ? j.exitCode : 1;
}
