/**
 * TurboFan, V8's optimizing compiler, for the threads that run work — not for the agent's start-up.
 *
 * Starting, the agent loads ~200 modules; path, URL and CommonJS-lexer helpers of Node's loader run
 * thousands of times and V8 optimizes them with TurboFan. That pulls the optimizing compiler's code
 * (~4 MB of the node binary) and its allocations into memory for good, for functions that never run
 * again: an idle agent measured ~4.5 MB more RSS with TurboFan on than with it off. So the launcher
 * starts node with `--no-turbofan`, and TurboFan is switched back on (a process-wide V8 flag, read at
 * every tier-up decision) as soon as the agent starts its first worker thread — a task or an actor,
 * where inference runs — before that thread runs any user code. From then on everything, the new
 * thread and the main thread alike, is optimized as in any node process.
 */
import { setFlagsFromString } from 'node:v8';

/** The flag the launcher starts node with (see the file comment). */
export const NO_TURBOFAN_FLAG = '--no-turbofan';

let armed = false;

/**
 * Turns TurboFan on when this process creates its first worker thread (Node's `process` 'worker'
 * event, emitted on the tick after `new Worker()`, while the thread is still booting). Does nothing
 * when node was not started with {@link NO_TURBOFAN_FLAG}, and arms once.
 */
export function optimizeFromFirstThread(execArgv: readonly string[] = process.execArgv): void {
  if (armed || !execArgv.includes(NO_TURBOFAN_FLAG)) return;
  armed = true;
  process.once('worker', () => setFlagsFromString('--turbofan'));
}
