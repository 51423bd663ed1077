/**
 * RunStore: the durable local record of runs (layout in config.ts). A run's journal is append-only
 * JSONL written synchronously, so a record survives the process that wrote it; readers fold the events
 * (status.ts). Lines that cannot be parsed (a write cut by a crash) are skipped.
 */
import { randomBytes } from 'node:crypto';
import { appendFileSync, closeSync, existsSync, mkdirSync, openSync, readFileSync, readdirSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { InvalidArgumentError } from '@samsara/ray';
import { WorkflowNotFoundError } from '../errors.js';
import { workflowHome } from '../config.js';
import { foldRun, type RunEvent, type RunRecord } from './status.js';

const RUN_ID = /^wr_[0-9a-f]{12}$/;

/** A new run id: `wr_` and 12 hex digits. */
export function newRunId(): string {
  return `wr_${randomBytes(6).toString('hex')}`;
}

/** The journal and logs of one run being written. */
export class RunJournal {
  private readonly fd: number;
  private readonly logFds = new Map<string, number>();
  private readonly tails = new Map<string, string[]>();
  private closed = false;

  constructor(readonly dir: string) {
    mkdirSync(join(dir, 'logs'), { recursive: true });
    this.fd = openSync(join(dir, 'events.jsonl'), 'a', 0o600);
  }

  append(e: RunEvent): void {
    if (this.closed) return;
    writeSync(this.fd, JSON.stringify(e) + '\n');
  }

  /** Appends a line to an op's log (and keeps the last 50 in memory for alerts). */
  log(op: string, line: string): void {
    const tail = this.tails.get(op) ?? [];
    tail.push(line);
    if (tail.length > 50) tail.shift();
    this.tails.set(op, tail);
    if (this.closed) return;
    let fd = this.logFds.get(op);
    if (fd === undefined) {
      fd = openSync(join(this.dir, 'logs', `${op}.log`), 'a', 0o600);
      this.logFds.set(op, fd);
    }
    writeSync(fd, line.endsWith('\n') ? line : line + '\n');
  }

  tail(op: string, n = 20): string[] {
    return (this.tails.get(op) ?? []).slice(-n);
  }

  cancelRequested(): boolean {
    return existsSync(join(this.dir, 'cancel'));
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    closeSync(this.fd);
    for (const fd of this.logFds.values()) closeSync(fd);
  }
}

/** Reads and writes runs under the workflow home. */
export class RunStore {
  readonly home: string;
  readonly runsDir: string;

  constructor(home?: string) {
    this.home = workflowHome(home);
    this.runsDir = join(this.home, 'runs');
  }

  /** Starts the journal of a new run (its first event must be `run_queued`). */
  create(first: Extract<RunEvent, { type: 'run_queued' }>): RunJournal {
    if (!RUN_ID.test(first.runId) && !/^[A-Za-z0-9_.-]{1,80}$/.test(first.runId)) {
      throw new InvalidArgumentError(`Run id ${JSON.stringify(first.runId)} is not valid: use up to 80 letters, digits, _ . -.`, { hint: 'Leave runId out to get a new wr_… id.' });
    }
    const dir = join(this.runsDir, first.runId);
    if (existsSync(join(dir, 'events.jsonl'))) {
      throw new InvalidArgumentError(`Run ${first.runId} already exists in ${this.runsDir}.`, { hint: 'Each run needs its own id; leave runId out to get a new one.' });
    }
    const j = new RunJournal(dir);
    j.append(first);
    appendFileSync(join(this.runsDir, 'index.jsonl'), JSON.stringify({ runId: first.runId, workflow: first.workflow, file: first.file, t: first.t }) + '\n', { mode: 0o600 });
    return j;
  }

  /** Appends an event to an existing run (used by `cancel` when the runner is gone). */
  appendTo(runId: string, e: RunEvent): void {
    appendFileSync(this.eventsPath(runId), JSON.stringify(e) + '\n');
  }

  dir(runId: string): string {
    return join(this.runsDir, runId);
  }

  private eventsPath(runId: string): string {
    if (!/^[A-Za-z0-9_.-]{1,80}$/.test(runId)) throw new WorkflowNotFoundError(runId, this.runsDir);
    const p = join(this.runsDir, runId, 'events.jsonl');
    if (!existsSync(p)) throw new WorkflowNotFoundError(runId, this.runsDir);
    return p;
  }

  events(runId: string): RunEvent[] {
    const out: RunEvent[] = [];
    for (const line of readFileSync(this.eventsPath(runId), 'utf8').split('\n')) {
      if (!line) continue;
      try {
        out.push(JSON.parse(line) as RunEvent);
      } catch {
        /* a line cut by a crash */
      }
    }
    return out;
  }

  /** The run's record, folded from its journal. @throws WorkflowNotFoundError */
  get(runId: string): RunRecord {
    return foldRun(this.events(runId));
  }

  /** An op's log lines. */
  logs(runId: string, op: string): string[] {
    const p = join(this.runsDir, runId, 'logs', `${op}.log`);
    return existsSync(p) ? readFileSync(p, 'utf8').split('\n').filter((l, i, a) => l || i < a.length - 1) : [];
  }

  /** Every op that has a log in the run. */
  loggedOps(runId: string): string[] {
    const d = join(this.runsDir, runId, 'logs');
    return existsSync(d) ? readdirSync(d).filter((f) => f.endsWith('.log')).map((f) => f.slice(0, -4)) : [];
  }

  /** Runs of a workflow file (absolute path) or name, newest first. */
  list(filter: { file?: string; workflow?: string } = {}, limit = 20): RunRecord[] {
    const index = join(this.runsDir, 'index.jsonl');
    if (!existsSync(index)) return [];
    const ids: string[] = [];
    for (const line of readFileSync(index, 'utf8').split('\n')) {
      if (!line) continue;
      try {
        const e = JSON.parse(line) as { runId: string; workflow: string; file: string };
        if ((filter.file === undefined || e.file === filter.file) && (filter.workflow === undefined || e.workflow === filter.workflow)) ids.push(e.runId);
      } catch {
        /* cut line */
      }
    }
    const out: RunRecord[] = [];
    for (const id of ids.reverse()) {
      if (out.length >= limit) break;
      try {
        out.push(this.get(id));
      } catch {
        /* removed by hand */
      }
    }
    return out;
  }
}
