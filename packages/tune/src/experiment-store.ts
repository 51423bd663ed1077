/**
 * The files of an experiment under `storagePath/name/`:
 * - `experiment_state.json`: options summary, searcher and scheduler state, every trial's record
 *   (written atomically: a temporary file renamed over the old one);
 * - `trial_<id>/params.json`, `trial_<id>/result.jsonl` (one result per line, with telemetry),
 *   `trial_<id>/checkpoint_<iteration>/…`, `trial_<id>/error.txt`.
 */
import { appendFileSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { TuneRestoreError } from './errors.js';
import type { TrialRecord } from './trial.js';

export const STATE_FILE = 'experiment_state.json';
export const STATE_VERSION = 1;

export interface ExperimentState {
  readonly version: number;
  readonly name: string;
  readonly metric?: string;
  readonly mode: 'min' | 'max';
  readonly numSamples: number;
  readonly resourcesPerTrial: readonly Record<string, number>[];
  readonly startedAt: string;
  /** Seconds the experiment has run, over all sessions (for timeBudgetS). */
  readonly elapsedS: number;
  /** Whether the searcher has said FINISHED. */
  readonly searchFinished: boolean;
  readonly nextTrialIndex: number;
  readonly experimentTag: string;
  readonly searcher: { readonly type: string; readonly state: unknown };
  readonly scheduler: { readonly type: string; readonly state: unknown };
  readonly paramSpace: unknown;
  readonly trials: readonly TrialRecord[];
  readonly finished: boolean;
}

export class ExperimentStore {
  private readonly pending = new Map<string, string[]>();

  constructor(readonly root: string) {
    mkdirSync(root, { recursive: true });
  }

  trialDir(t: TrialRecord): string {
    return join(this.root, t.dir);
  }

  writeParams(t: TrialRecord): void {
    mkdirSync(this.trialDir(t), { recursive: true });
    writeFileSync(join(this.trialDir(t), 'params.json'), JSON.stringify(t.config, null, 2));
  }

  /** Buffers a result line; {@link flushResults} appends them. */
  addResult(t: TrialRecord, result: Record<string, unknown>): void {
    let list = this.pending.get(t.dir);
    if (!list) this.pending.set(t.dir, (list = []));
    list.push(JSON.stringify(result));
  }

  flushResults(): void {
    for (const [dir, lines] of this.pending) {
      mkdirSync(join(this.root, dir), { recursive: true });
      appendFileSync(join(this.root, dir, 'result.jsonl'), lines.join('\n') + '\n');
    }
    this.pending.clear();
  }

  writeError(t: TrialRecord, text: string): void {
    mkdirSync(this.trialDir(t), { recursive: true });
    writeFileSync(join(this.trialDir(t), 'error.txt'), text);
  }

  removeDir(path: string): void {
    rmSync(path, { recursive: true, force: true });
  }

  writeState(state: ExperimentState): void {
    const file = join(this.root, STATE_FILE);
    writeFileSync(file + '.tmp', JSON.stringify(state, null, 1));
    renameSync(file + '.tmp', file);
  }

  /** @throws TuneRestoreError when the directory holds no readable experiment state. */
  static readState(root: string): ExperimentState {
    const file = join(root, STATE_FILE);
    if (!existsSync(file)) {
      throw new TuneRestoreError(`No experiment at ${root}: ${STATE_FILE} is missing.`, { hint: 'Pass the experiment directory, storagePath/name (e.g. ./tune-results/detector).' });
    }
    let s: ExperimentState;
    try {
      s = JSON.parse(readFileSync(file, 'utf8')) as ExperimentState;
    } catch (e) {
      throw new TuneRestoreError(`${file} is not valid JSON: ${(e as Error).message}.`, { cause: e });
    }
    if (s.version !== STATE_VERSION) throw new TuneRestoreError(`${file} has version ${String(s.version)}; this Tune reads version ${STATE_VERSION}.`);
    return s;
  }
}

/** Reads a trial's result.jsonl (all results, in order). */
export function readResults(trialDir: string): Record<string, unknown>[] {
  const file = join(trialDir, 'result.jsonl');
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}
