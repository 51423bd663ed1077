/**
 * The searcher interface: a searcher decides *what to try* (ask/tell underneath); schedulers decide
 * *when to stop*. The Tuner calls `setup` once, then `suggest` whenever it can start a trial, and
 * reports back with `onTrialResult` / `onTrialComplete`. State is data (`save`/`restore`), so a
 * restored experiment continues the same sequence.
 */
import type { ParsedSpace } from '../search-space.js';

/** `suggest` returns this when no more trials will come. */
export const FINISHED = 'FINISHED' as const;

/** What the Tuner tells a searcher once (metric/mode live only in `tuneConfig`). */
export interface SearcherSetup {
  readonly metric: string | undefined;
  readonly mode: 'min' | 'max';
  readonly space: ParsedSpace;
  readonly numSamples: number;
}

/** Decides which configurations to try. */
export interface Searcher {
  /** Called once before the first suggestion. @throws TuneConfigError if the space does not suit the searcher. */
  setup(setup: SearcherSetup): void;
  /** A config for `trialId`; `undefined` when none can be given yet (waiting for results); FINISHED when done. */
  suggest(trialId: string): Record<string, unknown> | undefined | typeof FINISHED;
  /** An intermediate result (optional). */
  onTrialResult?(trialId: string, result: Readonly<Record<string, unknown>>): void;
  /** The trial ended: its last result, or `undefined` with `error` true when it failed. */
  onTrialComplete(trialId: string, result: Readonly<Record<string, unknown>> | undefined, error: boolean): void;
  /** The searcher's state as plain data. */
  save(): unknown;
  /** Continues from {@link save}'s data. */
  restore(state: unknown): void;
}
