/**
 * V8's optimizing compilers for the threads that run work — not for the agent's start-up.
 *
 * Starting, the agent loads ~200 modules; path, URL and CommonJS-lexer helpers of Node's loader run
 * thousands of times and V8 optimizes them with TurboFan (and, on Node ≥ 22, Maglev). That pulls the
 * compilers' code (megabytes of the node binary) and their allocations into memory for good, for
 * functions that never run again: an idle agent measured ~4.5 MB more RSS with TurboFan on (Node 20),
 * ~3.5 MB more with both on (Node 24). Likewise `--optimize-for-size` (V8 keeps its heap tighter:
 * ~2 MB less on Node 20) is meant for the idle agent, not for the inference loops. So the launcher
 * starts node with `--no-turbofan --no-maglev --optimize-for-size`, and V8's defaults are restored
 * (process-wide V8 flags, read when V8 decides to tier up, inline or size its heap) as soon as the
 * agent starts its first worker thread — a task or an actor, where inference runs — before that thread
 * runs any user code. From then on everything, the new thread and the main thread alike, runs as in any
 * node process.
 */
import { setFlagsFromString } from 'node:v8';

/** The V8 flags the launcher starts node with for the idle agent (see the file comment). */
export const IDLE_V8_FLAGS = ['--no-turbofan', '--no-maglev', '--optimize-for-size'] as const;

/**
 * Whether this V8 runs Maglev by default: from V8 11.7 (Node ≥ 21) on x64 and arm64. Elsewhere the flag
 * stays as it was (`--no-maglev` is then the default anyway).
 */
export function maglevByDefault(v8Version: string = process.versions.v8, arch: string = process.arch): boolean {
  const [major, minor] = v8Version.split('.').map(Number);
  return (arch === 'x64' || arch === 'arm64') && (major > 11 || (major === 11 && minor >= 7));
}

let armed = false;

/**
 * Restores V8's defaults for what {@link IDLE_V8_FLAGS} changed — TurboFan, Maglev where it is the
 * default, no optimize-for-size — when this process creates its first worker thread (Node's `process`
 * 'worker' event, emitted on the tick after `new Worker()`, while the thread is still booting). Only
 * the flags node was started with; arms once.
 */
export function optimizeFromFirstThread(execArgv: readonly string[] = process.execArgv): void {
  if (armed) return;
  const flags: string[] = [];
  if (execArgv.includes('--no-turbofan')) flags.push('--turbofan');
  if (execArgv.includes('--no-maglev') && maglevByDefault()) flags.push('--maglev');
  if (execArgv.includes('--optimize-for-size')) flags.push('--no-optimize-for-size');
  if (flags.length === 0) return;
  armed = true;
  process.once('worker', () => {
    for (const f of flags) setFlagsFromString(f);
  });
}
