#!/usr/bin/env node
/**
 * The ML lifecycle on one cluster, in one script: data → tuning with cameras in the loop → serving.
 *
 *   npm run demo                        # builds, then: node examples/lifecycle.mjs
 *   node examples/lifecycle.mjs --small # smaller sizes (the test uses this)
 *
 * With no address it starts a local cluster itself — a head and a worker offering `spark_executor`
 * (`rayts start`, in a private RAYTS_TMPDIR) and two simulated dash cams (`rayts-edge` agents offering
 * `camera: 1`) — and stops all of it at the end, also on Ctrl-C. With `--address HOST:PORT` (or
 * RAYTS_ADDRESS, as inside `rayts job submit` / the workflow examples/lifecycle.yaml) it joins that
 * cluster instead and starts only the two dash cams, stopping them at the end.
 *
 *   1. Data  — a synthetic fleet recording (accelerometer windows of many vehicles, some braking hard)
 *              is generated on the cluster, written as Parquet, read back, cleaned and featurized with
 *              `mapBatches` on `spark_executor` nodes, summarised by SQL (DuckDB executors pinned to
 *              `spark_executor`), and split into train/test.
 *   2. Tune  — ASHA searches a small MLP's hyperparameters; each trial trains on a worker CPU with the
 *              edge runtime's SGD trainer, quantizes to int8 and evaluates the artifact on its camera.
 *   3. Serve — the best int8 model goes behind HTTP with request batching; a burst of requests gives
 *              accuracy, p50/p99 latency and the batch sizes the replica saw.
 *
 * Sizes: --windows N --vehicles N --samples N --epochs N --requests N (or LIFECYCLE_WINDOWS, …).
 * The last line of output is a JSON summary (machine-readable; test/lifecycle.test.ts reads it).
 */
import { spawn, execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs, promisify } from 'node:util';
import { init, shutdown, nodes, kv, runtimeContext } from '@samsara/ray';
import * as data from '@samsara/ray-data';
import { Tuner, tune, ASHAScheduler, formatTable } from '@samsara/ray-tune';
import { serve, deployment } from '@samsara/ray-serve';
import * as edge from '@samsara/ray-edge';

const T0 = performance.now();
const run = promisify(execFile);

// ---------------------------------------------------------------------------------------------------
// Options
// ---------------------------------------------------------------------------------------------------
const { values: flags } = parseArgs({
  options: {
    small: { type: 'boolean', default: false },
    address: { type: 'string' },
    windows: { type: 'string' },
    vehicles: { type: 'string' },
    samples: { type: 'string' },
    epochs: { type: 'string' },
    requests: { type: 'string' },
    cameras: { type: 'string' },
    workdir: { type: 'string' },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (flags.help) {
  process.stdout.write(readFileSync(fileURLToPath(import.meta.url), 'utf8').split('*/')[0].replace(/^#!.*\n\/\*\*?/, '').replace(/^ \* ?/gm, '') + '\n');
  process.exit(0);
}
const small = flags.small || process.env.LIFECYCLE_SMALL === '1';
const size = (name, full, reduced) => {
  const raw = flags[name] ?? process.env[`LIFECYCLE_${name.toUpperCase()}`];
  const v = raw === undefined ? (small ? reduced : full) : Number(raw);
  if (!Number.isInteger(v) || v < 1) {
    process.stderr.write(`lifecycle: --${name} must be a positive integer, got ${JSON.stringify(raw)}\n`);
    process.exit(2);
  }
  return v;
};
const SIZES = {
  windows: size('windows', 4000, 1200), // accelerometer windows in the fleet recording
  vehicles: size('vehicles', 40, 12),
  samples: size('samples', 8, 4), // tune trials
  epochs: size('epochs', 6, 3), // ASHA's maxT
  requests: size('requests', 400, 120), // HTTP burst
  cameras: size('cameras', 2, 2),
};
const attachTo = flags.address ?? process.env.RAYTS_ADDRESS;

const here = dirname(fileURLToPath(import.meta.url));
const RAYTS_CLI = join(dirname(fileURLToPath(import.meta.resolve('@samsara/ray'))), 'cli', 'main.js');
const EDGE_CLI = join(dirname(fileURLToPath(import.meta.resolve('@samsara/ray-edge'))), 'cli.js');
const secs = () => ((performance.now() - T0) / 1000).toFixed(1);
const say = (line) => process.stdout.write(`${line}\n`);
const short = (id) => String(id).slice(0, 8);

// ---------------------------------------------------------------------------------------------------
// The local cluster: rayts start (head + spark_executor worker) and rayts-edge dash cams
// ---------------------------------------------------------------------------------------------------
const procs = { tmp: undefined, started: false, agents: [], pids: [], workdir: undefined };

async function freePort() {
  return new Promise((res, rej) => {
    const s = createServer();
    s.once('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const p = s.address().port;
      s.close(() => res(p));
    });
  });
}

function clusterEnv() {
  const env = { ...process.env, RAYTS_TMPDIR: procs.tmp };
  delete env.RAYTS_TOKEN;
  delete env.RAYTS_ADDRESS;
  return env;
}

async function rayts(args) {
  try {
    const { stdout } = await run(process.execPath, [RAYTS_CLI, ...args], { env: clusterEnv(), timeout: 120_000 });
    return stdout;
  } catch (e) {
    throw new Error(`rayts ${args.join(' ')} failed: ${e.stderr || e.stdout || e.message}`);
  }
}

async function startLocalCluster() {
  procs.tmp = mkdtempSync(join(tmpdir(), 'rayts-lifecycle-'));
  const port = await freePort();
  procs.started = true;
  await rayts(['start', '--head', '--port', String(port), '--num-cpus', '1', '--labels', 'role=head']);
  const address = `127.0.0.1:${port}`;
  await rayts(['start', '--address', address, '--num-cpus', '2', '--resources', '{"spark_executor":2}', '--labels', 'role=spark-executor']);
  const token = readFileSync(join(procs.tmp, 'session_latest', 'token'), 'utf8').trim();
  for (const f of readdirSync(join(procs.tmp, 'processes'))) {
    try {
      procs.pids.push(JSON.parse(readFileSync(join(procs.tmp, 'processes', f), 'utf8')).pid);
    } catch {
      /* being written */
    }
  }
  return { address, token };
}

/** Starts one simulated dash cam: a `rayts-edge` agent offering only `camera: 1` (no CPU). */
async function startCamera(address, device, env) {
  const proc = spawn(process.execPath, [EDGE_CLI, '--address', address, '--num-cpus', '0', '--resources', '{"camera":1}', '--labels', `device=${device},soc=qcs6490`], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  procs.agents.push(proc);
  procs.pids.push(proc.pid);
  let out = '';
  return new Promise((resolve, reject) => {
    const onData = (d) => {
      out += d.toString();
      const m = /edge node ([0-9a-f]+) joined/.exec(out);
      if (m) {
        proc.stdout.off('data', onData);
        proc.stderr.off('data', onData);
        proc.stdout.resume();
        proc.stderr.resume();
        resolve({ device, nodeId: m[1], pid: proc.pid });
      }
    };
    proc.stdout.on('data', onData);
    proc.stderr.on('data', onData);
    proc.once('exit', (code) => reject(new Error(`rayts-edge ${device} exited ${code} before joining: ${out.trim()}`)));
  });
}

/** After a failure: which nodes were alive where, and the end of each daemon's log (before cleanup removes them). */
async function explainFailure() {
  try {
    const all = await Promise.race([nodes(), new Promise((_, rej) => setTimeout(() => rej(new Error('no answer in 5 s')), 5000))]);
    for (const n of all) process.stderr.write(`  node ${short(n.nodeId)} ${n.kind} ${n.address} pid ${n.pid} ${n.alive ? 'alive' : 'DEAD'}\n`);
  } catch (err) {
    process.stderr.write(`  (could not list the nodes: ${err?.message ?? err})\n`);
  }
  if (!procs.tmp) return;
  const logs = join(procs.tmp, 'session_latest', 'logs');
  let files = [];
  try {
    files = readdirSync(logs);
  } catch {
    return;
  }
  for (const f of files) {
    const text = readFileSync(join(logs, f), 'utf8');
    const lines = text.trim().split('\n').filter((l) => /"level":(40|50|60)|Error|error/.test(l)).slice(-6);
    if (lines.length) process.stderr.write(`  -- ${f} (last warnings and errors)\n${lines.map((l) => `     ${l.slice(0, 400)}`).join('\n')}\n`);
  }
}

let cleaning;
/** Stops everything this script started: serve, the driver, the dash cams, the local cluster. Idempotent. */
function cleanup() {
  cleaning ??= (async () => {
    try {
      await serve.shutdown();
    } catch {
      /* not started, or the cluster is gone */
    }
    try {
      await shutdown();
    } catch {
      /* not connected */
    }
    await Promise.all(
      procs.agents.map(
        (p) =>
          new Promise((res) => {
            if (p.exitCode !== null || p.signalCode !== null) return res();
            const force = setTimeout(() => p.kill('SIGKILL'), 5000);
            p.once('exit', () => (clearTimeout(force), res()));
            p.kill('SIGTERM');
          }),
      ),
    );
    if (procs.started) {
      try {
        await rayts(['stop']);
      } catch (e) {
        process.stderr.write(`${e.message}\n`);
      }
      rmSync(procs.tmp, { recursive: true, force: true });
    }
    if (procs.workdir) rmSync(procs.workdir, { recursive: true, force: true });
  })();
  return cleaning;
}

for (const sig of ['SIGINT', 'SIGTERM']) {
  process.once(sig, () => {
    process.stderr.write(`\nlifecycle: ${sig}, stopping the cluster and the dash cams…\n`);
    cleanup().finally(() => process.exit(130));
  });
}

// ---------------------------------------------------------------------------------------------------
// 1. Data
// ---------------------------------------------------------------------------------------------------
const WINDOW = 16; // samples of (x, y, z) acceleration in g at 20 Hz
const FEATURES = WINDOW * 3 + 3;

/** Runs on the cluster (self-contained): one accelerometer window per `id`, from a seeded generator. */
function recordWindows(rows, seed, vehicles, window) {
  const out = [];
  for (const { id } of rows) {
    let s = (Math.imul(id + 1, 0x9e3779b1) ^ seed) >>> 0;
    const next = () => {
      s = (s + 0x6d2b79f5) >>> 0;
      let t = s;
      t = Math.imul(t ^ (t >>> 15), t | 1);
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
    const normal = () => Math.sqrt(-2 * Math.log(next() + 1e-12)) * Math.cos(2 * Math.PI * next());
    const vehicle = id % vehicles;
    // some vehicles brake hard far more often (the SQL summary finds them)
    const harshRate = vehicle % 5 === 0 ? 0.6 : 0.35;
    const harsh = next() < harshRate;
    const onset = 2 + Math.floor(next() * 6);
    // hard braking is a sustained deceleration past ~0.4 g; ordinary braking overlaps it a little
    const depth = harsh ? 0.38 + next() * 0.45 : next() * 0.36;
    const turn = (next() - 0.5) * 0.6;
    const row = { vehicle: `truck-${String(vehicle).padStart(3, '0')}`, window: id, t_ms: id * 800, harsh: harsh ? 1 : 0 };
    const glitch = next(); // 3% of windows have a sensor glitch (NaN sample), 2% a dropout (all zeros)
    for (let i = 0; i < window; i++) {
      const braking = i >= onset ? -depth * Math.min(1, (i - onset + 1) / 3) : 0;
      let x = braking + normal() * 0.1;
      let y = turn * Math.sin(i / 3) + normal() * 0.08;
      let z = (next() < 0.1 ? (next() - 0.5) * 1.2 : 0) + normal() * 0.05;
      if (glitch < 0.02) x = y = z = 0;
      if (glitch >= 0.02 && glitch < 0.05 && i === 7) y = Number.NaN;
      row[`x${i}`] = x;
      row[`y${i}`] = y;
      row[`z${i}`] = z;
    }
    out.push(row);
  }
  return out;
}

/** Runs on `spark_executor` nodes (self-contained): drops broken windows and computes the model's features. */
function featurize(rows, window) {
  const node = runtimeContext().nodeId;
  const out = [];
  for (const r of rows) {
    const f = [];
    let bad = false;
    let energy = 0;
    for (let i = 0; i < window; i++) {
      for (const axis of ['x', 'y', 'z']) {
        const v = r[`${axis}${i}`];
        if (typeof v !== 'number' || !Number.isFinite(v)) bad = true;
        energy += Math.abs(v);
        f.push(v);
      }
    }
    if (bad || energy < 1e-6) continue; // a glitch or a dropout: not a usable recording
    let minX = Infinity;
    let meanX = 0;
    let jerk = 0;
    for (let i = 0; i < window; i++) {
      const x = r[`x${i}`];
      minX = Math.min(minX, x);
      meanX += x / window;
      if (i > 0) jerk = Math.min(jerk, x - r[`x${i - 1}`]);
    }
    out.push({ vehicle: r.vehicle, harsh: r.harsh, min_x: minX, mean_x: meanX, jerk, features: JSON.stringify([...f, minX, meanX, jerk].map((v) => Math.round(v * 1e4) / 1e4)), node });
  }
  return out;
}

function pack(rows) {
  const n = rows.length;
  const header = new Uint32Array([n, FEATURES]);
  const x = new Float32Array(n * FEATURES);
  const y = new Uint8Array(n);
  rows.forEach((r, i) => {
    x.set(JSON.parse(r.features), i * FEATURES);
    y[i] = Number(r.harsh);
  });
  const bytes = new Uint8Array(8 + x.byteLength + n);
  bytes.set(new Uint8Array(header.buffer), 0);
  bytes.set(new Uint8Array(x.buffer), 8);
  bytes.set(y, 8 + x.byteLength);
  return bytes;
}

function unpack(bytes) {
  const b = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
  const [n, d] = new Uint32Array(b, 0, 2);
  const x = new Float32Array(b, 8, n * d);
  const y = new Uint8Array(b, 8 + n * d * 4, n);
  return Array.from({ length: n }, (_, i) => ({ input: x.slice(i * d, (i + 1) * d), label: y[i] }));
}

async function dataStage(workdir, runKey) {
  say(`\n== 1. Data: a fleet recording of ${SIZES.windows} accelerometer windows from ${SIZES.vehicles} vehicles`);
  const t = performance.now();
  const parquetDir = join(workdir, 'fleet-recording');
  const recording = data
    .range(SIZES.windows, { parallelism: 4 })
    .mapBatches(recordWindows, { batchFormat: 'rows', batchSize: null, fnArgs: [20261205, SIZES.vehicles, WINDOW] });
  const files = await recording.writeParquet(parquetDir);
  say(`  wrote ${files.length} Parquet files to ${parquetDir}`);

  const raw = data.readParquet(parquetDir);
  const rawCount = await raw.count();
  const features = await raw
    .mapBatches(featurize, { batchFormat: 'rows', batchSize: 500, fnArgs: [WINDOW], resources: { spark_executor: 1 } })
    .materialize();
  const clean = await features.count();
  say(`  read back ${rawCount} windows; ${rawCount - clean} dropped by cleaning (sensor glitches, dropouts); ${clean} featurized (${FEATURES} features each)`);

  const sql = await data.sqlSession({ numExecutors: 1, resourcesPerExecutor: { spark_executor: 1 } });
  let top;
  let sqlNodes;
  try {
    sqlNodes = await sql.executorNodeIds();
    top = await sql
      .query(
        `SELECT vehicle, count(*) AS windows, sum(harsh) AS harsh_events, round(avg(harsh), 3) AS harsh_rate, round(min(min_x), 3) AS peak_decel_g
           FROM windows GROUP BY vehicle ORDER BY harsh_rate DESC, vehicle LIMIT 5`,
        { windows: features.selectColumns(['vehicle', 'harsh', 'min_x']) },
      )
      .takeAll();
  } finally {
    await sql.close();
  }
  say(`  SQL (DuckDB executor on ${sqlNodes.map(short).join(', ')}): vehicles braking hard most often`);
  for (const r of top) say(`    ${r.vehicle}  windows ${r.windows}  harsh ${r.harsh_events}  rate ${r.harsh_rate}  peak ${r.peak_decel_g} g`);

  const mapNodes = [...new Set((await features.selectColumns(['node']).takeAll()).map((r) => r.node))];
  const [train, test] = features.selectColumns(['features', 'harsh']).trainTestSplit(0.25, { seed: 1 });
  const [trainRows, testRows] = await Promise.all([train.takeAll(), test.takeAll()]);
  const trainBytes = pack(trainRows);
  const testBytes = pack(testRows);
  await kv.put('lifecycle', `${runKey}/train`, trainBytes);
  await kv.put('lifecycle', `${runKey}/test`, testBytes);
  say(`  split: ${trainRows.length} train / ${testRows.length} test windows, in the cluster KV (${((trainBytes.length + testBytes.length) / 1024).toFixed(0)} KiB)`);
  say(`  featurize ran on ${mapNodes.map(short).join(', ')} (spark_executor); data stage ${((performance.now() - t) / 1000).toFixed(1)} s`);
  return {
    rows: rawCount,
    clean,
    train: trainRows.length,
    test: testRows.length,
    positives: testRows.filter((r) => Number(r.harsh) === 1).length,
    topVehicles: top.map((r) => r.vehicle),
    mapNodes,
    sqlNodes,
    trainSet: unpack(trainBytes),
    testSet: unpack(testBytes),
  };
}

// ---------------------------------------------------------------------------------------------------
// 2. Tune
// ---------------------------------------------------------------------------------------------------
/** The trainable (self-contained, as shipped code must be): trains on the trial's CPU, evaluates int8 on its camera. */
async function harshBrakingTrial(config, ctx) {
  const e = await import('@samsara/ray-edge');
  const ray = await import('@samsara/ray');
  const load = async (key) => {
    const bytes = await ray.kv.get('lifecycle', key);
    const b = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
    const [n, d] = new Uint32Array(b, 0, 2);
    const x = new Float32Array(b, 8, n * d);
    const y = new Uint8Array(b, 8 + n * d * 4, n);
    return Array.from({ length: n }, (_, i) => ({ input: x.slice(i * d, (i + 1) * d), label: y[i] }));
  };
  const [train, test] = await Promise.all([load(`${config.data}/train`), load(`${config.data}/test`)]);
  const inputs = train[0].input.length;
  const rng = e.createPrng(config.seed);
  const he = (fanIn, n) => Float32Array.from({ length: n }, () => rng.normal() * Math.sqrt(2 / fanIn));
  const saved = ctx.checkpoint;
  const dense = (i, o, w, b) => ({ kind: 'dense', inFeatures: i, outFeatures: o, weights: w ?? he(i, i * o), bias: b ?? new Float32Array(o) });
  const model = {
    dtype: 'float32',
    inputShape: [inputs],
    layers: [
      dense(inputs, config.hidden, saved && Float32Array.from(saved.w1), saved && Float32Array.from(saved.b1)),
      { kind: 'relu' },
      dense(config.hidden, 2, saved && Float32Array.from(saved.w2), saved && Float32Array.from(saved.b2)),
      { kind: 'softmax' },
    ],
  };
  const trainer = new e.SgdTrainer(model);
  const evalOnCamera = ray.remote(async (bytes, samples) => {
    const m = (await import('@samsara/ray-edge')).deserializeModel(bytes);
    const r = (await import('@samsara/ray-edge')).evaluate(m, samples);
    return { accuracy: r.accuracy, p50Ms: r.latencyMs.p50, nodeId: runtimeContext().nodeId };
  });
  for (let epoch = (saved?.epoch ?? 0) + 1; epoch <= config.epochs; epoch++) {
    trainer.epoch(train, config.lr, config.batchSize, rng);
    const int8 = e.quantize(model, train.slice(0, 256).map((s) => s.input));
    const artifact = e.serializeModel(int8);
    const onCamera = await ray.get(evalOnCamera.options({ ...ctx.bundle(1), maxRetries: 0 }).remote(artifact, test));
    const [d1, , d2] = model.layers;
    await ctx.report(
      { accuracy: onCamera.accuracy, epoch, artifactBytes: artifact.length, cameraP50Ms: onCamera.p50Ms, cameraNode: onCamera.nodeId, trainNode: runtimeContext().nodeId },
      { checkpoint: { epoch, hidden: config.hidden, w1: Array.from(d1.weights), b1: Array.from(d1.bias), w2: Array.from(d2.weights), b2: Array.from(d2.bias) } },
    );
  }
}

async function tuneStage(workdir, runKey) {
  say(`\n== 2. Tune: ASHA over ${SIZES.samples} configurations of a small MLP, ${SIZES.epochs} epochs max, each trial = 1 worker CPU + 1 dash cam`);
  const t = performance.now();
  const storagePath = join(workdir, 'tune-results');
  const tuner = new Tuner(harshBrakingTrial, {
    paramSpace: {
      lr: tune.loguniform(3e-3, 0.3),
      hidden: tune.choice([8, 16, 32]),
      batchSize: tune.choice([16, 32]),
      seed: tune.randint(0, 1000),
      epochs: SIZES.epochs,
      data: runKey,
    },
    tuneConfig: {
      metric: 'accuracy',
      mode: 'max',
      numSamples: SIZES.samples,
      maxConcurrentTrials: 2,
      scheduler: new ASHAScheduler({ maxT: SIZES.epochs, gracePeriod: 1, reductionFactor: 2 }),
    },
    resourcesPerTrial: [{ CPU: 1 }, { camera: 1 }],
    runConfig: { name: 'harsh-braking', storagePath, failureConfig: { maxFailures: 2 } },
  });
  // On a terminal the Tuner redraws its live trial table itself; elsewhere (a log, a test) print the
  // table from the experiment's state file whenever it changes.
  let last = '';
  const stateFile = join(storagePath, 'harsh-braking', 'experiment_state.json');
  const poll = process.stdout.isTTY
    ? undefined
    : setInterval(() => {
        try {
          const st = JSON.parse(readFileSync(stateFile, 'utf8'));
          const table = formatTable(st.trials, 'accuracy');
          const counts = table.split('\n')[0];
          if (counts !== last) {
            last = counts;
            say(`  [${secs()} s] ${counts}`);
          }
        } catch {
          /* not written yet, or being replaced */
        }
      }, 1000);
  let grid;
  try {
    grid = await tuner.fit();
  } finally {
    if (poll) clearInterval(poll);
  }
  say(grid.toTable().replace(/^/gm, '  '));
  const best = grid.getBestResult();
  say(`  best: ${best.trialId} accuracy ${best.metrics.accuracy.toFixed(4)} (on camera ${short(best.metrics.cameraNode)}) with lr ${best.config.lr.toFixed(4)}, hidden ${best.config.hidden}, batch ${best.config.batchSize}; tune stage ${((performance.now() - t) / 1000).toFixed(1)} s`);
  const results = [...grid];
  const where = new Map();
  for (const r of results) {
    if (!r.metrics?.trainNode) continue;
    const k = `${short(r.metrics.trainNode)} → camera ${short(r.metrics.cameraNode)}`;
    where.set(k, (where.get(k) ?? 0) + 1);
  }
  return {
    trials: results.length,
    terminatedEarly: results.filter((r) => (r.metrics?.epoch ?? 0) < SIZES.epochs).length,
    errors: grid.errors.length,
    best: { trialId: best.trialId, config: best.config, accuracy: best.metrics.accuracy, epoch: best.metrics.epoch },
    checkpoint: best.checkpoint.load(),
    trainNodes: [...new Set(results.map((r) => r.metrics?.trainNode).filter(Boolean))],
    cameraNodes: [...new Set(results.map((r) => r.metrics?.cameraNode).filter(Boolean))],
    where: Object.fromEntries(where),
  };
}

// ---------------------------------------------------------------------------------------------------
// 3. Serve
// ---------------------------------------------------------------------------------------------------
/** The int8 model from the best trial's checkpoint, calibrated on training windows as the trials did. */
function bestInt8(ckpt, trainSet) {
  const inputs = trainSet[0].input.length;
  const model = {
    dtype: 'float32',
    inputShape: [inputs],
    layers: [
      { kind: 'dense', inFeatures: inputs, outFeatures: ckpt.hidden, weights: Float32Array.from(ckpt.w1), bias: Float32Array.from(ckpt.b1) },
      { kind: 'relu' },
      { kind: 'dense', inFeatures: ckpt.hidden, outFeatures: 2, weights: Float32Array.from(ckpt.w2), bias: Float32Array.from(ckpt.b2) },
      { kind: 'softmax' },
    ],
  };
  return edge.quantize(model, trainSet.slice(0, 256).map((s) => s.input));
}

const Detector = deployment(
  class Detector {
    constructor(modelBase64) {
      this.model = import('@samsara/ray-edge').then((e) => ({ e, m: e.deserializeModel(Uint8Array.from(Buffer.from(modelBase64, 'base64'))) }));
    }
    detect = batch(
      async (windows) => {
        const { e, m } = await this.model;
        return windows.map((w) => {
          const p = e.runInt8(m, Float32Array.from(w));
          return { harsh: p[1] > p[0] ? 1 : 0, p: Math.round(p[1] * 1e4) / 1e4, batchSize: windows.length, replica: runtimeContext().nodeId };
        });
      },
      { maxBatchSize: 16, batchWaitTimeoutMs: 5 },
    );
  },
  { numReplicas: 1, maxOngoingRequests: 64, maxQueuedRequests: 1000, rayActorOptions: { numCpus: 0.5 } },
);

const Api = deployment(
  class Api {
    constructor(detector) {
      this.detector = detector;
    }
    async fetch(req) {
      const body = await req.json();
      if (!Array.isArray(body.window)) return new Response(JSON.stringify({ error: 'POST {"window": [numbers]}' }), { status: 400 });
      return this.detector.detect.remote(body.window);
    }
  },
  { numReplicas: 1, maxOngoingRequests: 64, maxQueuedRequests: 1000, rayActorOptions: { numCpus: 0.25 } },
);

async function serveStage(tuned, dataOut) {
  say(`\n== 3. Serve: the best int8 model behind HTTP with request batching, a burst of ${SIZES.requests} requests`);
  const t = performance.now();
  const int8 = bestInt8(tuned.checkpoint, dataOut.trainSet);
  const bytes = edge.serializeModel(int8);
  const port = await freePort();
  await serve.run(Api.bind(Detector.bind(Buffer.from(bytes).toString('base64'))), { name: 'harsh-braking', routePrefix: '/detect', port });
  const url = `http://127.0.0.1:${port}/detect`;
  say(`  deployed ${bytes.length}-byte int8 model at ${url}`);

  const windows = Array.from({ length: SIZES.requests }, (_, i) => dataOut.testSet[i % dataOut.testSet.length]);
  const offline = windows.map((w) => {
    const p = edge.runInt8(int8, w.input);
    return p[1] > p[0] ? 1 : 0;
  });
  const post = async (w) => {
    const t0 = performance.now();
    const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ window: Array.from(w.input) }) });
    if (!res.ok) throw new Error(`POST ${url} → ${res.status}: ${await res.text()}`);
    const answer = await res.json();
    return { answer, ms: performance.now() - t0 };
  };
  // serve.run resolves once the app is RUNNING, but the proxy learns the new route from the controller's
  // long-polled table a moment later: until then it answers 404. Wait for the route (bounded) before the burst.
  for (const deadline = Date.now() + 60_000; ; ) {
    const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ window: Array.from(windows[0].input) }) });
    const text = await res.text();
    if (res.ok) break;
    if (res.status !== 404 || Date.now() > deadline) throw new Error(`POST ${url} → ${res.status}: ${text}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  const CONCURRENCY = 32;
  const answers = new Array(windows.length);
  let next = 0;
  const burst = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < windows.length) {
        const i = next++;
        answers[i] = await post(windows[i]);
      }
    }),
  );
  const burstS = (performance.now() - burst) / 1000;
  const lat = answers.map((a) => a.ms).sort((a, b) => a - b);
  const pct = (q) => lat[Math.min(lat.length - 1, Math.floor(q * lat.length))];
  const correct = answers.filter((a, i) => a.answer.harsh === windows[i].label).length;
  const matches = answers.filter((a, i) => a.answer.harsh === offline[i]).length;
  const sizes = new Map();
  for (const a of answers) sizes.set(a.answer.batchSize, (sizes.get(a.answer.batchSize) ?? 0) + 1);
  const status = await serve.status();
  const replicas = Object.values(status.applications['harsh-braking'].deployments).flatMap((d) => d.replicas.map((r) => ({ deployment: r.actorName ?? '', nodeId: r.nodeId })));
  const result = {
    requests: answers.length,
    accuracy: correct / answers.length,
    matchesOffline: matches / answers.length,
    p50Ms: pct(0.5),
    p99Ms: pct(0.99),
    requestsPerS: answers.length / burstS,
    batchSizes: Object.fromEntries([...sizes].sort((a, b) => a[0] - b[0])),
    replicaNodes: [...new Set(replicas.map((r) => r.nodeId))],
    modelBytes: bytes.length,
  };
  say(`  accuracy ${(result.accuracy * 100).toFixed(1)}% over ${result.requests} requests; served = offline int8 prediction for ${(result.matchesOffline * 100).toFixed(1)}%`);
  say(`  latency p50 ${result.p50Ms.toFixed(1)} ms, p99 ${result.p99Ms.toFixed(1)} ms at ${CONCURRENCY} concurrent (${result.requestsPerS.toFixed(0)} req/s)`);
  say(`  batch sizes seen (size: requests): ${Object.entries(result.batchSizes).map(([k, v]) => `${k}: ${v}`).join(', ')}`);
  say(`  replicas on ${result.replicaNodes.map(short).join(', ')}; serve stage ${((performance.now() - t) / 1000).toFixed(1)} s`);
  await serve.delete('harsh-braking');
  return result;
}

// ---------------------------------------------------------------------------------------------------
// main
// ---------------------------------------------------------------------------------------------------
let summary = { ok: false };
let exitCode = 0;
try {
  let address;
  let token;
  if (attachTo) {
    address = attachTo;
    token = process.env.RAYTS_TOKEN;
    say(`lifecycle: joining the cluster at ${address}`);
  } else {
    say('lifecycle: starting a local cluster (head, a spark_executor worker, 2 dash cams)…');
    ({ address, token } = await startLocalCluster());
    say(`  head and worker up at ${address} (RAYTS_TMPDIR=${procs.tmp})`);
  }
  await init({ address, ...(token ? { token } : {}) });
  const cameraEnv = attachTo ? { ...process.env } : { ...clusterEnv() };
  const cams = await Promise.all(Array.from({ length: SIZES.cameras }, (_, i) => startCamera(address, `cam-${String(i + 1).padStart(2, '0')}`, cameraEnv)));
  // wait until every node (and camera) shows up alive
  for (;;) {
    const alive = (await nodes()).filter((n) => n.alive);
    if (cams.every((c) => alive.some((n) => n.nodeId === c.nodeId)) && alive.some((n) => n.resources.spark_executor)) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  const cluster = (await nodes()).filter((n) => n.alive);
  const label = new Map(cluster.map((n) => [n.nodeId, n.labels.device ?? n.labels.role ?? n.kind]));
  say(`cluster at ${address} up in ${secs()} s:`);
  for (const n of cluster) say(`  ${short(n.nodeId)}  ${n.kind.padEnd(6)} ${JSON.stringify(n.resources)}  ${JSON.stringify(n.labels)}`);

  const workdir = flags.workdir ?? (procs.workdir = mkdtempSync(join(tmpdir(), 'rayts-lifecycle-data-')));
  const runKey = `run-${Date.now().toString(36)}`;
  {
    const d = await dataStage(workdir, runKey);
    const tuned = await tuneStage(workdir, runKey);
    const served = await serveStage(tuned, d);
    await kv.del('lifecycle', `${runKey}/train`, `${runKey}/test`).catch(() => {});

    const name = (id) => `${short(id)} (${label.get(id) ?? '?'})`;
    say('\n== What ran where');
    say(`  data    featurize (mapBatches, spark_executor): ${d.mapNodes.map(name).join(', ')}; SQL executor: ${d.sqlNodes.map(name).join(', ')}`);
    say(`  tune    training: ${tuned.trainNodes.map(name).join(', ')}; int8 evaluation: ${tuned.cameraNodes.map(name).join(', ')}`);
    say(`  serve   replicas: ${served.replicaNodes.map(name).join(', ')}`);
    const { trainSet, testSet, ...dataSummary } = d;
    const { checkpoint, ...tuneSummary } = tuned;
    summary = {
      ok: true,
      wallS: Number(secs()),
      sizes: SIZES,
      tmpdir: procs.tmp ?? null,
      pids: procs.pids,
      nodes: cluster.map((n) => ({ nodeId: n.nodeId, kind: n.kind, labels: n.labels, resources: n.resources })),
      data: dataSummary,
      tune: tuneSummary,
      serve: served,
    };
  }
} catch (e) {
  exitCode = 1;
  process.stderr.write(`lifecycle failed: ${e?.stack ?? e}\n`);
  await explainFailure();
  summary = { ok: false, error: String(e?.message ?? e), tmpdir: procs.tmp ?? null, pids: procs.pids };
} finally {
  await cleanup();
}
say(`\ndone in ${secs()} s; the cluster and the dash cams are stopped.`);
say(JSON.stringify(summary));
process.exit(exitCode);
