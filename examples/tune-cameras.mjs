/**
 * Camera in the loop: tune a small MLP that detects harsh braking from accelerometer windows. Each
 * trial reserves one placement group of a worker CPU (training, with the edge runtime's SGD trainer)
 * and a dash cam (`camera: 1`, an edge agent), quantizes the model to int8 after every epoch, ships the
 * artifact to its camera, evaluates it there and reports accuracy with the camera's telemetry. ASHA
 * prunes weak configurations early; a trial whose camera drops out restarts from its last checkpoint
 * on another camera (failureConfig.maxFailures).
 *
 *   rayts start --head --port 6380 --num-cpus 2
 *   rayts-edge --address 127.0.0.1:6380 --num-cpus 0 --resources '{"camera":1}' --labels device=cam-01 &
 *   rayts-edge --address 127.0.0.1:6380 --num-cpus 0 --resources '{"camera":1}' --labels device=cam-02 &
 *
 * (`--num-cpus 0`: the cameras offer only `camera`, so a trial's CPU bundle lands on a worker node; an
 * agent that also offers a CPU could take both bundles, as placement groups pack by default.)
 *   node examples/tune-cameras.mjs 127.0.0.1:6380 [storagePath]
 *   rayts tune show ./tune-results/harsh-braking
 */
import { init, shutdown, remote, get, runtimeContext } from '@samsara/ray';
import { Tuner, tune, ASHAScheduler } from '@samsara/ray-tune';

/**
 * The trainable. Self-contained (the code-shipping rule): it uses only the public API names (remote, get,
 * runtimeContext — bound on every worker), imports the edge runtime on the worker, and builds its data
 * from the config's seed.
 */
export async function harshBraking(config, ctx) {
  const edge = await import('@samsara/ray-edge');
  const WINDOW = 16; // samples of (x, y, z) acceleration in g at 20 Hz

  // synthetic accelerometer windows: driving noise, road bumps (z), turns (y); harsh braking is a
  // sustained longitudinal deceleration below about -0.45 g (label 1)
  function windows(seed, n) {
    const rng = edge.createPrng(seed);
    const out = [];
    for (let k = 0; k < n; k++) {
      const harsh = rng.next() < 0.5;
      const x = new Float32Array(WINDOW * 3);
      const onset = rng.int(2, 8);
      const depth = harsh ? 0.45 + rng.next() * 0.4 : rng.next() * 0.3;
      const turn = (rng.next() - 0.5) * 0.6;
      for (let i = 0; i < WINDOW; i++) {
        const braking = i >= onset ? -depth * Math.min(1, (i - onset + 1) / 3) : 0;
        x[i * 3] = braking + rng.normal() * 0.08;
        x[i * 3 + 1] = turn * Math.sin(i / 3) + rng.normal() * 0.08;
        x[i * 3 + 2] = (rng.next() < 0.1 ? (rng.next() - 0.5) * 1.2 : 0) + rng.normal() * 0.05;
      }
      out.push({ input: x, label: harsh ? 1 : 0 });
    }
    return out;
  }

  const train = windows(config.seed, 1200);
  const test = windows(config.seed + 1_000_003, 400);
  const rng = edge.createPrng(config.seed ^ 0x5eed);
  const he = (fanIn, n) => Float32Array.from({ length: n }, () => rng.normal() * Math.sqrt(2 / fanIn));
  const saved = ctx.checkpoint;
  const dense = (i, o, w, b) => ({ kind: 'dense', inFeatures: i, outFeatures: o, weights: w ?? he(i, i * o), bias: b ?? new Float32Array(o) });
  const model = {
    dtype: 'float32',
    inputShape: [WINDOW * 3],
    layers: [
      dense(WINDOW * 3, config.hidden, saved && Float32Array.from(saved.w1), saved && Float32Array.from(saved.b1)),
      { kind: 'relu' },
      dense(config.hidden, 2, saved && Float32Array.from(saved.w2), saved && Float32Array.from(saved.b2)),
      { kind: 'softmax' },
    ],
  };
  const trainer = new edge.SgdTrainer(model);

  // runs on the trial's camera: load the int8 artifact and evaluate it on held-out windows
  const evalOnCamera = remote(async (bytes, samples) => {
    const e = await import('@samsara/ray-edge');
    const m = e.deserializeModel(bytes);
    const r = e.evaluate(m, samples);
    return { accuracy: r.accuracy, p50Ms: r.latencyMs.p50, nodeId: runtimeContext().nodeId };
  });

  for (let epoch = (saved?.epoch ?? 0) + 1; epoch <= config.epochs; epoch++) {
    trainer.epoch(train, config.lr, config.batchSize, rng);
    const int8 = edge.quantize(model, train.slice(0, 300).map((s) => s.input));
    const artifact = edge.serializeModel(int8);
    // maxRetries 0: if the camera dies, the trial fails now and Tune restarts it from the last checkpoint
    const onCamera = await get(evalOnCamera.options({ ...ctx.bundle(1), maxRetries: 0 }).remote(artifact, test));
    const [d1, , d2] = model.layers;
    await ctx.report(
      { accuracy: onCamera.accuracy, epoch, artifactBytes: artifact.length, cameraP50Ms: onCamera.p50Ms, cameraNode: onCamera.nodeId },
      { checkpoint: { epoch, w1: Array.from(d1.weights), b1: Array.from(d1.bias), w2: Array.from(d2.weights), b2: Array.from(d2.bias) } },
    );
    if (config.epochDelayMs) await new Promise((r) => setTimeout(r, config.epochDelayMs));
  }
}

/** The experiment: 8 configurations, 2 at a time (one per camera), ASHA pruning. */
export function camerasTuner(storagePath, overrides = {}) {
  return new Tuner(harshBraking, {
    paramSpace: {
      lr: tune.loguniform(1e-4, 0.3),
      hidden: tune.choice([8, 16, 32]),
      batchSize: tune.choice([8, 16]),
      seed: tune.randint(0, 1000),
      epochs: 6,
      epochDelayMs: 0,
      ...overrides.paramSpace,
    },
    tuneConfig: {
      metric: 'accuracy',
      mode: 'max',
      numSamples: 8,
      maxConcurrentTrials: 2,
      scheduler: new ASHAScheduler({ maxT: 6, gracePeriod: 1, reductionFactor: 2 }),
      ...overrides.tuneConfig,
    },
    resourcesPerTrial: [{ CPU: 1 }, { camera: 1 }],
    runConfig: { name: 'harsh-braking', storagePath, failureConfig: { maxFailures: 2 }, ...overrides.runConfig },
  });
}

if (process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href) {
  const address = process.argv[2];
  if (!address) {
    process.stderr.write('usage: node examples/tune-cameras.mjs HEAD_HOST:PORT [storagePath]\n');
    process.exit(2);
  }
  await init({ address });
  const grid = await camerasTuner(process.argv[3] ?? './tune-results').fit();
  const best = grid.getBestResult();
  console.log(grid.toTable());
  console.log(`best: ${best.trialId} accuracy ${best.metrics.accuracy} with ${JSON.stringify(best.config)}`);
  console.log(`camera telemetry at its last report: ${JSON.stringify(best.metrics.telemetry)}`);
  await shutdown();
}
