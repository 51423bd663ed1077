#!/usr/bin/env node
/**
 * The long fuzz run (issue 13): the same properties `npm test` runs briefly, with many more inputs.
 *
 *   node scripts/fuzz.mjs [--runs N] [--rpc-runs M]
 *
 * --runs N      inputs per decoder property (value codec, data-plane frames, edge tunnel, codec
 *               extensions; rayts command lines get N/40) [3000]
 * --rpc-runs M  inputs per gRPC method with the right token on a live head; job submissions get 4 M [80]
 *
 * Runs packages/common/test/codec-property.test.ts, test/fuzz-decoders.test.ts and test/auth-sweep.test.ts
 * with RAYTS_FUZZ_RUNS / RAYTS_RPC_FUZZ_RUNS set, prints each file's counts, and exits non-zero on any
 * failure (a crash, an untyped error, a value accepted but unreadable). Needs `npm run build` first.
 */
import { spawnSync } from 'node:child_process';
import { parseArgs } from 'node:util';

const { values } = parseArgs({ options: { runs: { type: 'string' }, 'rpc-runs': { type: 'string' } } });
const runs = Number(values.runs ?? 3000);
const rpcRuns = Number(values['rpc-runs'] ?? 80);
if (!Number.isInteger(runs) || runs < 1 || !Number.isInteger(rpcRuns) || rpcRuns < 1) {
  process.stderr.write('usage: node scripts/fuzz.mjs [--runs N] [--rpc-runs M] (positive integers)\n');
  process.exit(2);
}
const files = ['packages/common/test/codec-property.test.ts', 'test/fuzz-decoders.test.ts', 'test/auth-sweep.test.ts'];
const started = Date.now();
const r = spawnSync('npx', ['vitest', 'run', ...files], {
  env: { ...process.env, RAYTS_FUZZ_RUNS: String(runs), RAYTS_RPC_FUZZ_RUNS: String(rpcRuns) },
  encoding: 'utf8',
  maxBuffer: 64 << 20,
});
const out = `${r.stdout}\n${r.stderr}`;
for (const line of out.split('\n')) if (/fuzz: |fuzz counts|Tests |Test Files|×/.test(line)) process.stdout.write(line.trim() + '\n');
process.stdout.write(`fuzz: --runs ${runs} --rpc-runs ${rpcRuns}: ${((Date.now() - started) / 1000).toFixed(0)} s, exit ${r.status}\n`);
process.exit(r.status ?? 1);
