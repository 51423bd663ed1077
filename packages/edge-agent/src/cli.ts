#!/usr/bin/env -S node --max-semi-space-size=1 --v8-pool-size=1 --no-turbofan --no-maglev --optimize-for-size
/**
 * `rayts-edge` launcher: puts the process in its lean idle shape, then loads the agent (main.ts).
 *
 * A dash cam has little RAM, so the edge agent runs with settings that cost the on-device inference
 * nothing (see docs/edge-agent.md, "Memory"):
 *
 * - `--max-semi-space-size=1` (MiB): V8's young generation stays small instead of growing to tens of
 *   MB during start-up and never giving it back (~8–10 MB of idle RSS). Inference loops over typed
 *   arrays allocate little, so scavenges stay rare; the optimizing compiler is untouched (unlike
 *   `--lite-mode`/`--jitless`, which this launcher never uses).
 * - `--v8-pool-size=1`: one V8 platform thread instead of one per core (~2 MB of stacks and arenas).
 * - `--no-turbofan --no-maglev --optimize-for-size` until the first worker thread starts (optimizer.ts):
 *   start-up would otherwise have the optimizing compilers compile Node's module-loader helpers and
 *   keep megabytes of compiler pages resident (~4.5 MB), and an idle heap is kept tighter (~2 MB); V8's
 *   defaults are back before any task or actor thread runs user code, so inference runs as usual.
 * - `MSGPACKR_NATIVE_ACCELERATION_DISABLED=true`: no native msgpack string extractor addon in the
 *   process (its shared libraries cost ~1–2 MB; the values an edge node decodes are small).
 *
 * V8 flags only take effect when the isolate is created, so they come from how node is started: the
 * shebang above (executing the bin, as `rayts-edge …` does, uses them; it needs an `env` with `-S`,
 * GNU coreutils ≥ 8.30), or, when started as `node …/cli.js` without them, a re-exec of this process
 * in place with `process.execve` where Node has it (≥ 22.15 / 23.11). `RAYTS_EDGE_LEAN=0` turns all of
 * this off (the process then starts as node was told).
 */
import { fileURLToPath } from 'node:url';
import { IDLE_V8_FLAGS, optimizeFromFirstThread } from './optimizer.js';

/** The V8/Node flags the edge agent runs with; see the file comment. */
export const LEAN_NODE_FLAGS = ['--max-semi-space-size=1', '--v8-pool-size=1', ...IDLE_V8_FLAGS] as const;

const lean = process.env.RAYTS_EDGE_LEAN !== '0';
if (lean) {
  // Before msgpackr loads (it reads this once, at import). Inherited by the worker threads.
  process.env.MSGPACKR_NATIVE_ACCELERATION_DISABLED ??= 'true';
  const execve = (process as unknown as { execve?: (file: string, args: string[], env: NodeJS.ProcessEnv) => never }).execve;
  const flagged = (f: string) => process.execArgv.some((a) => a.split('=')[0] === f.split('=')[0]);
  const missing = LEAN_NODE_FLAGS.filter((f) => !flagged(f));
  if (missing.length > 0 && typeof execve === 'function' && process.env.RAYTS_EDGE_REEXEC !== '1') {
    // Replaces this process (same pid, stdio and parent), so supervisors and `rayts stop` see no change.
    execve(process.execPath, [process.execPath, ...missing, ...process.execArgv, fileURLToPath(import.meta.url), ...process.argv.slice(2)], {
      ...process.env,
      RAYTS_EDGE_REEXEC: '1',
    });
  }
}
// Whenever node runs without its optimizing compilers (the shebang gives those flags even with
// RAYTS_EDGE_LEAN=0), the first worker thread turns them back on.
optimizeFromFirstThread();
await import('./main.js');
