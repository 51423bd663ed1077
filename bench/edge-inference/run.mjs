// Question: how many frames/s does the on-device runtime sustain on the tiny classifier, float32 vs int8?
// Build first: npx tsc -p packages/edge-agent --noEmit false   Run: node bench/edge-inference/run.mjs
// Each executor runs in its own phase (warm-up, then timed rounds over the held-out frames); frames/s is
// the median round. evaluate() gives per-frame percentiles (they include the clock's own overhead).
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import {
  FloatExecutor,
  Int8Executor,
  deserializeModel,
  evaluate,
  quantize,
  serializeModel,
  trainTinyClassifier,
} from '../../packages/edge-agent/dist/inference/index.js';

const ROUNDS = Number(process.env.ROUNDS ?? 7);
const FRAMES_PER_ROUND = Number(process.env.FRAMES ?? 50_000);

function framesPerSecond(executor, frames) {
  for (let i = 0; i < 20_000; i++) executor.run(frames[i % frames.length]);
  const rates = [];
  for (let r = 0; r < ROUNDS; r++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < FRAMES_PER_ROUND; i++) executor.run(frames[i % frames.length]);
    const s = Number(process.hrtime.bigint() - t0) / 1e9;
    rates.push(FRAMES_PER_ROUND / s);
  }
  rates.sort((a, b) => a - b);
  return { median: rates[Math.floor(rates.length / 2)], min: rates[0], max: rates[rates.length - 1] };
}

const t0 = process.hrtime.bigint();
const tiny = trainTinyClassifier();
const trainMs = Number(process.hrtime.bigint() - t0) / 1e6;
const int8 = deserializeModel(serializeModel(quantize(tiny.model, tiny.calibration)));
const frames = tiny.test.map((s) => s.input);

const float32 = framesPerSecond(new FloatExecutor(tiny.model), frames);
const int8Rate = framesPerSecond(new Int8Executor(int8), frames);
const evalFloat = evaluate(tiny.model, tiny.test);
const evalInt8 = evaluate(int8, tiny.test);

const floatBytes = tiny.model.layers.reduce((n, l) => n + ('weights' in l ? 4 * (l.weights.length + l.bias.length) : 0), 0);
const result = {
  question: 'frames/s of the tiny shapes classifier, float32 vs int8, pure TypeScript executors',
  model: 'conv3x3(8)+relu, maxpool2, dense 128->32+relu, dense 32->5, softmax; input 8x8x1 NHWC',
  date: new Date().toISOString(),
  node: process.version,
  cpu: os.cpus()[0]?.model ?? 'unknown',
  rounds: ROUNDS,
  framesPerRound: FRAMES_PER_ROUND,
  trainMs: Math.round(trainMs),
  float32: {
    framesPerSecond: Math.round(float32.median),
    range: [Math.round(float32.min), Math.round(float32.max)],
    accuracy: evalFloat.accuracy,
    latencyMs: evalFloat.latencyMs,
    weightBytes: floatBytes,
  },
  int8: {
    framesPerSecond: Math.round(int8Rate.median),
    range: [Math.round(int8Rate.min), Math.round(int8Rate.max)],
    accuracy: evalInt8.accuracy,
    latencyMs: evalInt8.latencyMs,
    modelFileBytes: serializeModel(int8).length,
  },
  speedup: Number((int8Rate.median / float32.median).toFixed(2)),
};

const out = fileURLToPath(new URL('./results.json', import.meta.url));
writeFileSync(out, JSON.stringify(result, null, 2) + '\n');
console.log(`tiny classifier (trained in ${result.trainMs} ms), ${ROUNDS} rounds x ${FRAMES_PER_ROUND} frames, median:`);
console.log(`  float32 ${result.float32.framesPerSecond.toLocaleString('en-US')} frames/s  accuracy ${(evalFloat.accuracy * 100).toFixed(1)}%  p50 ${evalFloat.latencyMs.p50.toFixed(4)} ms  p99 ${evalFloat.latencyMs.p99.toFixed(4)} ms`);
console.log(`  int8    ${result.int8.framesPerSecond.toLocaleString('en-US')} frames/s  accuracy ${(evalInt8.accuracy * 100).toFixed(1)}%  p50 ${evalInt8.latencyMs.p50.toFixed(4)} ms  p99 ${evalInt8.latencyMs.p99.toFixed(4)} ms`);
console.log(`  int8/float32 ${result.speedup}x; weights ${floatBytes} B float32 vs ${result.int8.modelFileBytes} B int8 file`);
console.log(`written to ${out}`);
