/**
 * Child process: loads one case file and runs its definitions, reporting over IPC:
 *   { type: 'loaded', names }            the file imported; these benches will run
 *   { type: 'load-failed', reason }      the file could not be imported (e.g. '@samsara/ray' not built)
 *   { type: 'start', name, variant }     a bench begins (bench/run.mjs arms its hang watchdog)
 *   { type: 'result', result }           one bench's record (measured, skipped or failed)
 * One process per file keeps a crashed or hung case, its memory and its runtime state away from the
 * others. Env: RAYTS_BENCH_ONLY (regex on "name" and "name [variant]"), the timing variables of harness.mjs.
 */
import { pathToFileURL } from 'node:url';
import { benchesOf, formatNumber, messageOf, runBench, timingFromEnv } from '../harness.mjs';

const file = process.argv[2];
const send = (m) => new Promise((resolve) => process.send(m, resolve));
const only = process.env.RAYTS_BENCH_ONLY ? new RegExp(process.env.RAYTS_BENCH_ONLY) : undefined;
const verbose = process.env.RAYTS_BENCH_VERBOSE === '1';

function loadFailureReason(err) {
  const msg = messageOf(err);
  if (/@samsara\/ray/.test(msg)) return `cannot import @samsara/ray (core not built or incomplete): ${msg}`;
  return `cannot import ${file}: ${msg}`;
}

async function main() {
  let mod;
  try {
    mod = await import(pathToFileURL(file).href);
  } catch (err) {
    await send({ type: 'load-failed', reason: loadFailureReason(err) });
    return;
  }
  const selected = benchesOf(mod).filter(
    (b) => !only || only.test(b.name) || (b.variant && only.test(`${b.name} [${b.variant}]`)),
  );
  await send({ type: 'loaded', names: selected.map((b) => b.name) });
  const timing = timingFromEnv();
  for (const bench of selected) {
    await send({ type: 'start', name: bench.name, variant: bench.variant });
    const log = verbose ? (line) => process.stderr.write(`${line}\n`) : undefined;
    const result = await runBench(bench, timing, log);
    if (verbose && result.mean !== undefined) process.stderr.write(`  = ${formatNumber(result.mean)} ${result.unit}\n`);
    await send({ type: 'result', result });
  }
}

main().then(
  () => process.exit(0),
  async (err) => {
    await send({ type: 'load-failed', reason: `case runner crashed: ${messageOf(err)}` }).catch(() => {});
    process.exit(1);
  },
);
