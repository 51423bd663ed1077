// Custom ops for lifecycle.yaml: registered by name, referred to by name in the YAML.
import { registerOp } from '@samsara/ray-workflow';

// The quality gate: fails the run unless the lifecycle job finished, its served model is accurate enough,
// and the HTTP answers are exactly the int8 model's offline predictions.
registerOp(
  'lifecycle_gate',
  ({ summary, min_accuracy }, ctx) => {
    if (!summary || summary.ok !== true) throw new Error(`the lifecycle job did not finish: ${summary?.error ?? 'no summary printed'}`);
    const { serve, tune } = summary;
    ctx.log(`best trial ${tune.best.trialId} (${(tune.best.accuracy * 100).toFixed(1)}% on its camera); served ${serve.requests} requests: ${(serve.accuracy * 100).toFixed(1)}% accurate, p50 ${serve.p50Ms.toFixed(1)} ms, p99 ${serve.p99Ms.toFixed(1)} ms`);
    if (serve.accuracy < min_accuracy) throw new Error(`served accuracy ${serve.accuracy.toFixed(3)} is below the gate's ${min_accuracy}`);
    if (serve.matchesOffline !== 1) throw new Error(`only ${(serve.matchesOffline * 100).toFixed(1)}% of served answers match the offline int8 predictions`);
    return { best_trial: tune.best.trialId, accuracy: serve.accuracy, p99_ms: serve.p99Ms };
  },
  {
    schema: {
      args: {
        type: 'object',
        required: ['summary'],
        additionalProperties: false,
        properties: { summary: {}, min_accuracy: { type: 'number', minimum: 0, maximum: 1 } },
      },
      outputs: { type: 'object', properties: { best_trial: { type: 'string' }, accuracy: { type: 'number' }, p99_ms: { type: 'number' } } },
    },
  },
);
