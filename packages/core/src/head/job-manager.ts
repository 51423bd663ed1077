/**
 * JobManager: the head's side of `rayts job submit|status|logs|stop` (docs/jobs.md). Responsible for
 * running each submitted entrypoint as a child process on the head machine — in its unpacked working
 * directory, with RAYTS_ADDRESS/RAYTS_TOKEN/RAYTS_SUBMISSION_ID so that `init()` joins this cluster —
 * writing its output to `<session>/logs/job-<id>.log`, serving that log (followed while the job runs),
 * stopping it (SIGTERM to its processes, SIGKILL after a grace period) and tracking its state. When the
 * entrypoint ends, whatever it left running in its session (`sleep 431 &`) is ended too (job-processes.ts).
 * Not responsible for the driver job the entrypoint registers (HeadServer's job table); it only links
 * to it, so that status shows both.
 *
 * Submission states:
 *   PENDING → RUNNING (the process started) | FAILED (it could not start) | STOPPED (stopped first)
 *   RUNNING → SUCCEEDED (exit 0) | FAILED (non-zero exit or killed) | STOPPED (ended after a stop)
 *
 * RPC failure behaviour: malformed input is INVALID_ARGUMENT; an unknown id is `found: false` (JobLogs:
 * NOT_FOUND); submissions are not persisted across a head restart.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { constants as osConstants } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { InvalidArgumentError, RayError, isRayError, randomId, type Logger } from '@samsara/ray-common';
import type { rayts } from '@samsara/ray-proto';
import { ensureWorkingDir, WORKING_DIR_MAX_BYTES } from '../runtime-env/working-dir.js';
import { jobServiceDefinition } from '../rpc/job-services.js';
import type { HostedService } from '../rpc/server-host.js';
import { sessionMembers, signalJobProcesses } from './job-processes.js';
import { tlsEnv } from '../rpc/tls.js';

export type SubmissionState = 'PENDING' | 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'STOPPED';

/** Bounds on what a submitter may send. */
export const ENTRYPOINT_MAX_ARGS = 1024;
export const ENTRYPOINT_MAX_CHARS = 128 * 1024;
/** Ended submissions kept for status and logs; older ones are forgotten (their log files stay). */
export const ENDED_JOBS_KEPT = 1000;
const LOG_CHUNK_BYTES = 256 * 1024;
const SUBMISSION_ID = /^job_[0-9a-f]{12}$/;

export interface JobManagerOptions {
  /** The head's session directory: logs and unpacked working dirs go there. Without it, submit fails. */
  readonly sessionDir?: string;
  readonly token: string;
  /** The head's address, given to jobs as RAYTS_ADDRESS. */
  readonly headAddress: () => string;
  /** The driver job a submission's entrypoint registered, for its state. */
  readonly driverJob: (jobId: string) => { state: string; driverAddress: string } | undefined;
  readonly log: Logger;
  /** Time between SIGTERM and SIGKILL when stopping a job [5000]. */
  readonly stopGraceMs?: number;
  /** How often a followed log is checked for new output [100]. */
  readonly followPollMs?: number;
}

interface Submission {
  readonly submissionId: string;
  readonly entrypoint: readonly string[];
  readonly logPath: string;
  readonly startMs: number;
  state: SubmissionState;
  endMs: number;
  pid: number;
  exitCode?: number;
  message: string;
  /** Driver jobs its entrypoint registered, latest last. */
  driverJobIds: string[];
  child?: ChildProcess;
  stopRequested: boolean;
  killTimer?: NodeJS.Timeout;
  /** SIGKILL for what the entrypoint left running when it exited. */
  leftoverTimer?: NodeJS.Timeout;
}

export class JobManager {
  private readonly jobs = new Map<string, Submission>();
  private closed = false;

  constructor(private readonly o: JobManagerOptions) {}

  /** Starts a job; returns its submission id once the process was spawned (or failed to start). */
  submit(req: rayts.SubmitJobRequest): { submissionId: string; logPath: string } {
    const entrypoint = validateEntrypoint(req.entrypoint);
    const sessionDir = this.o.sessionDir;
    if (!sessionDir) throw new RayError('This head has no session directory, so it cannot run jobs.', { hint: 'Submit to a head started with `rayts start --head`.' });
    if (this.closed) throw new RayError('The head is shutting down; no new jobs are accepted.');
    let cwd: string;
    const submissionId = `job_${randomId(6)}`;
    if (req.workingDirHash) {
      if (req.workingDirArchive.byteLength > WORKING_DIR_MAX_BYTES) {
        throw new InvalidArgumentError(`SubmitJob: the working dir archive is larger than ${WORKING_DIR_MAX_BYTES >> 20} MiB.`);
      }
      try {
        cwd = ensureWorkingDir(sessionDir, req.workingDirHash, req.workingDirArchive);
      } catch (e) {
        if (isRayError(e)) throw e;
        throw new InvalidArgumentError(`SubmitJob: the working dir archive cannot be unpacked: ${(e as Error).message}.`);
      }
    } else {
      cwd = join(sessionDir, 'runtime_resources', `${submissionId}_cwd`);
      mkdirSync(cwd, { recursive: true, mode: 0o700 });
    }
    const logPath = join(sessionDir, 'logs', `job-${submissionId}.log`);
    mkdirSync(join(sessionDir, 'logs'), { recursive: true, mode: 0o700 });
    const fd = openSync(logPath, 'a', 0o600);
    const s: Submission = {
      submissionId,
      entrypoint,
      logPath,
      startMs: Date.now(),
      state: 'PENDING',
      endMs: 0,
      pid: 0,
      message: '',
      driverJobIds: [],
      stopRequested: false,
    };
    this.jobs.set(submissionId, s);
    this.forgetOldJobs();
    this.o.log.info({ submissionId, entrypoint, cwd }, 'starting job');
    try {
      // Its own process group (detached), so that a stop reaches whatever the entrypoint started.
      const child = spawn(entrypoint[0], entrypoint.slice(1), {
        cwd,
        detached: true,
        stdio: ['ignore', fd, fd],
        env: {
          ...process.env,
          ...tlsEnv(),
          RAYTS_ADDRESS: this.o.headAddress(),
          RAYTS_TOKEN: this.o.token,
          RAYTS_SUBMISSION_ID: submissionId,
          ...(req.workingDirHash ? { RAYTS_JOB_WORKING_DIR: cwd } : {}),
        },
      });
      s.child = child;
      s.pid = child.pid ?? 0;
      child.once('spawn', () => {
        s.pid = child.pid ?? 0;
        if (s.state === 'PENDING') s.state = 'RUNNING';
      });
      child.once('error', (e) => {
        // A start failure (no exit follows): note it in the log for `rayts job logs`.
        if (s.state !== 'PENDING') return;
        const why = `cannot start ${JSON.stringify(entrypoint[0])}: ${e.message}`;
        try {
          const efd = openSync(logPath, 'a');
          writeSync(efd, `rayts: ${why}\n`);
          closeSync(efd);
        } catch {
          /* the log is best effort */
        }
        this.ended(s, 'FAILED', undefined, why);
      });
      child.once('exit', (code, signal) => {
        this.endLeftovers(s);
        if (code !== null) {
          if (code === 0 && !s.stopRequested) this.ended(s, 'SUCCEEDED', 0, '');
          else this.ended(s, s.stopRequested ? 'STOPPED' : 'FAILED', code, s.stopRequested ? 'stopped by `rayts job stop`' : `the entrypoint exited with code ${code}`);
        } else {
          const sig = signal ?? 'SIGKILL';
          const n = (osConstants.signals as Record<string, number>)[sig] ?? 9;
          this.ended(s, s.stopRequested ? 'STOPPED' : 'FAILED', 128 + n, s.stopRequested ? `stopped by \`rayts job stop\` (${sig})` : `the entrypoint was killed by ${sig}`);
        }
      });
    } finally {
      closeSync(fd);
    }
    return { submissionId, logPath };
  }

  /** The driver of a submitted job registered itself (RegisterJob with RAYTS_SUBMISSION_ID). */
  driverRegistered(submissionId: string, jobId: string): void {
    const s = submissionId ? this.jobs.get(submissionId) : undefined;
    if (s) s.driverJobIds.push(jobId);
  }

  info(submissionId: string): rayts.IJobInfo | undefined {
    const s = this.jobs.get(submissionId);
    return s && this.toInfo(s);
  }

  /** Submissions first (newest last), then driver jobs that no submission started. */
  list(drivers: Iterable<rayts.IJobInfo>): rayts.IJobInfo[] {
    const linked = new Set<string>();
    for (const s of this.jobs.values()) for (const id of s.driverJobIds) linked.add(id);
    const out: rayts.IJobInfo[] = [...this.jobs.values()].map((s) => this.toInfo(s));
    for (const d of drivers) if (!linked.has(d.jobId ?? '')) out.push({ ...d, type: 'DRIVER' });
    return out;
  }

  /**
   * Up to `maxBytes` of a submission's log from `offset` (the dashboard polls it), or undefined for an
   * unknown submission.
   */
  async readLog(submissionId: string, offset: number, maxBytes = LOG_CHUNK_BYTES): Promise<{ data: Buffer; offset: number; ended: boolean } | undefined> {
    const s = this.jobs.get(submissionId);
    if (!s) return undefined;
    const from = Math.max(0, Math.floor(offset) || 0);
    const fh = await open(s.logPath, 'r');
    try {
      const buf = Buffer.allocUnsafe(Math.max(1, Math.min(maxBytes, 4 << 20)));
      const { bytesRead } = await fh.read(buf, 0, buf.length, from);
      return { data: buf.subarray(0, bytesRead), offset: from + bytesRead, ended: s.endMs > 0 };
    } finally {
      await fh.close();
    }
  }

  /** SIGTERM to the job's process group now, SIGKILL after the grace period. */
  stop(submissionId: string): { found: boolean; stopping: boolean } {
    const s = this.jobs.get(submissionId);
    if (!s) return { found: false, stopping: false };
    if (s.endMs || !s.child) return { found: true, stopping: false };
    s.stopRequested = true;
    this.signal(s, 'SIGTERM');
    clearTimeout(s.killTimer);
    s.killTimer = setTimeout(() => this.signal(s, 'SIGKILL'), this.o.stopGraceMs ?? 5000);
    s.killTimer.unref();
    this.o.log.info({ submissionId }, 'stopping job');
    return { found: true, stopping: true };
  }

  service(): HostedService {
    const impl = {
      submitJob: async (call: grpc.ServerUnaryCall<rayts.SubmitJobRequest, unknown>): Promise<rayts.ISubmitJobReply> => this.submit(call.request),
      getJob: async (call: grpc.ServerUnaryCall<rayts.JobRequest, unknown>): Promise<rayts.IGetJobReply> => {
        const job = this.info(checkId(call.request.submissionId));
        return { found: !!job, job };
      },
      stopJob: async (call: grpc.ServerUnaryCall<rayts.JobRequest, unknown>): Promise<rayts.IStopJobReply> => {
        const id = checkId(call.request.submissionId);
        const r = this.stop(id);
        return { ...r, job: this.info(id) };
      },
      jobLogs: (call: grpc.ServerWritableStream<rayts.JobLogsRequest, rayts.JobLogChunk>) => this.streamLogs(call),
    };
    return { definition: jobServiceDefinition, implementation: impl as unknown as HostedService['implementation'] };
  }

  /**
   * Stops every running job (the head is going away) without waiting for them: SIGTERM to each job's
   * processes, and SIGKILL to what an ended job still left behind (it already had its SIGTERM).
   */
  close(): void {
    this.closed = true;
    for (const s of this.jobs.values()) {
      if (!s.endMs && s.child) {
        s.stopRequested = true;
        this.signal(s, 'SIGTERM');
      } else if (s.leftoverTimer && s.pid) {
        signalJobProcesses(s.pid, 'SIGKILL');
      }
      clearTimeout(s.killTimer);
      clearTimeout(s.leftoverTimer);
    }
  }

  /**
   * The entrypoint exited: SIGTERM what it left in its session (background processes), SIGKILL after the
   * grace period if anything is still there. A job is its entrypoint plus what it started, as in Ray.
   */
  private endLeftovers(s: Submission): void {
    const leader = s.pid;
    if (!leader) return;
    const n = signalJobProcesses(leader, 'SIGTERM');
    if (n === 0 && process.platform === 'linux') return;
    this.o.log.info({ submissionId: s.submissionId, processes: n }, 'job ended with processes still running: SIGTERM sent');
    clearTimeout(s.leftoverTimer);
    s.leftoverTimer = setTimeout(() => {
      s.leftoverTimer = undefined;
      if (sessionMembers(leader).length > 0 || process.platform !== 'linux') signalJobProcesses(leader, 'SIGKILL');
    }, this.o.stopGraceMs ?? 5000);
    s.leftoverTimer.unref();
  }

  private async streamLogs(call: grpc.ServerWritableStream<rayts.JobLogsRequest, rayts.JobLogChunk>): Promise<void> {
    const id = checkId(call.request.submissionId);
    const s = this.jobs.get(id);
    if (!s) {
      call.emit('error', { code: grpc.status.NOT_FOUND, details: `no job ${id} on this head` });
      return;
    }
    let gone = false;
    call.on('cancelled', () => (gone = true));
    call.on('close', () => (gone = true));
    let offset = Math.max(0, Math.floor(call.request.offset || 0));
    const fh = await open(s.logPath, 'r');
    try {
      const buf = Buffer.allocUnsafe(LOG_CHUNK_BYTES);
      for (;;) {
        // Decided before reading: once the job has ended, one more read to the end sends everything.
        const endedBefore = s.endMs > 0 || this.closed;
        for (;;) {
          if (gone) return;
          const { bytesRead } = await fh.read(buf, 0, LOG_CHUNK_BYTES, offset);
          if (bytesRead === 0) break;
          const ok = call.write({ data: Buffer.from(buf.subarray(0, bytesRead)), offset });
          offset += bytesRead;
          if (!ok) await new Promise<void>((r) => call.once('drain', () => r()));
        }
        if (!call.request.follow || endedBefore) break;
        await new Promise((r) => setTimeout(r, this.o.followPollMs ?? 100));
      }
      if (!gone) call.end();
    } finally {
      await fh.close();
    }
  }

  private ended(s: Submission, state: SubmissionState, exitCode: number | undefined, message: string): void {
    if (s.endMs) return;
    s.state = state;
    s.exitCode = exitCode;
    s.message = message;
    s.endMs = Date.now();
    s.child = undefined;
    clearTimeout(s.killTimer);
    this.o.log.info({ submissionId: s.submissionId, state, exitCode, message }, 'job ended');
  }

  private signal(s: Submission, sig: NodeJS.Signals): void {
    if (!s.pid || s.endMs) return;
    signalJobProcesses(s.pid, sig);
    try {
      process.kill(s.pid, sig);
    } catch {
      /* already gone */
    }
  }

  private forgetOldJobs(): void {
    let ended = 0;
    for (const s of this.jobs.values()) if (s.endMs) ended++;
    for (const s of this.jobs.values()) {
      if (ended <= ENDED_JOBS_KEPT) break;
      if (s.endMs) {
        this.jobs.delete(s.submissionId);
        ended--;
      }
    }
  }

  private toInfo(s: Submission): rayts.IJobInfo {
    const driverJobId = s.driverJobIds.at(-1) ?? '';
    const driver = driverJobId ? this.o.driverJob(driverJobId) : undefined;
    return {
      jobId: driverJobId,
      submissionId: s.submissionId,
      type: 'SUBMISSION',
      state: s.state,
      startMs: s.startMs,
      endMs: s.endMs,
      pid: s.pid,
      entrypoint: s.entrypoint.map(quoteArg).join(' '),
      driverAddress: driver?.driverAddress ?? '',
      driverState: driver?.state ?? '',
      hasExitCode: s.exitCode !== undefined,
      exitCode: s.exitCode ?? 0,
      message: s.message,
      logPath: s.logPath,
    };
  }
}

function checkId(id: string): string {
  if (typeof id !== 'string' || !SUBMISSION_ID.test(id)) {
    throw new InvalidArgumentError(`${JSON.stringify(id)} is not a job submission id (job_ followed by 12 hex digits).`, { hint: 'List jobs with `rayts list jobs`.' });
  }
  return id;
}

/** The entrypoint as argv: 1 to 1024 arguments, 128 Ki characters in all, a non-empty command, no NUL. */
export function validateEntrypoint(argv: unknown): string[] {
  if (!Array.isArray(argv) || argv.length === 0) {
    throw new InvalidArgumentError('SubmitJob: the entrypoint is empty.', { hint: 'Example: rayts job submit -- node main.mjs' });
  }
  if (argv.length > ENTRYPOINT_MAX_ARGS) throw new InvalidArgumentError(`SubmitJob: the entrypoint has ${argv.length} arguments; at most ${ENTRYPOINT_MAX_ARGS} are allowed.`);
  let chars = 0;
  for (const a of argv) {
    if (typeof a !== 'string') throw new InvalidArgumentError('SubmitJob: every entrypoint argument must be a string.');
    if (a.includes('\0')) throw new InvalidArgumentError('SubmitJob: an entrypoint argument contains a NUL byte.');
    chars += a.length;
  }
  if (chars > ENTRYPOINT_MAX_CHARS) throw new InvalidArgumentError(`SubmitJob: the entrypoint is ${chars} characters long; at most ${ENTRYPOINT_MAX_CHARS} are allowed.`);
  if (!(argv[0] as string).trim()) throw new InvalidArgumentError('SubmitJob: the entrypoint command (its first argument) is empty.');
  return [...(argv as string[])];
}

/** An argument as a shell would need it, for display only (the entrypoint never runs through a shell). */
export function quoteArg(a: string): string {
  return /^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`;
}
