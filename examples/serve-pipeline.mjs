// A model pipeline on Serve: an HTTP ingress composed with a batched "model", then a canary.
//   node examples/serve-pipeline.mjs                 (embedded cluster)
//   RAYTS_ADDRESS=127.0.0.1:6380 node examples/serve-pipeline.mjs   (a running cluster)
import { init, shutdown } from '@samsara/ray';
import { serve, deployment } from '@samsara/ray-serve';

await init();

// `batch` is in scope inside a deployment class (the replica provides it).
const Detector = deployment(
  class Detector {
    constructor(threshold) {
      this.threshold = threshold;
    }
    detect = batch(
      async (frames) => frames.map((f) => ({ boxes: f.filter((v) => v > this.threshold).length, batchSize: frames.length })),
      { maxBatchSize: 16, batchWaitTimeoutMs: 5 },
    );
  },
  { numReplicas: 2, maxOngoingRequests: 16 },
);

const Api = deployment(
  class Api {
    constructor(detector, version) {
      this.detector = detector;
      this.version = version;
    }
    async fetch(req) {
      const frame = await req.json(); // an invalid body answers 400
      return { version: this.version, ...(await this.detector.detect.remote(frame)) };
    }
  },
);

const port = Number(process.env.PORT ?? 8000);
await serve.run(Api.bind(Detector.bind(0.5), 'v1'), { name: 'detector', routePrefix: '/detect', port });
const post = (body) => fetch(`http://127.0.0.1:${port}/detect`, { method: 'POST', body: JSON.stringify(body) }).then((r) => r.json());

console.log(await Promise.all(Array.from({ length: 8 }, (_, i) => post([0.1, 0.6, i / 8]))));

// A canary with 20% of the traffic, then promoted.
await serve.run(Api.bind(Detector.bind(0.5), 'v2'), { name: 'detector', routePrefix: '/detect', port, canary: { weight: 0.2 } });
const versions = {};
for (let i = 0; i < 100; i++) {
  const { version } = await post([0.9]);
  versions[version] = (versions[version] ?? 0) + 1;
}
console.log('split with a 20% canary:', versions);
await serve.promote('detector');

const st = await serve.status();
for (const [name, d] of Object.entries(st.applications.detector.deployments)) {
  console.log(name, d.status, `${d.metrics.replicas} replicas`, `${d.metrics.requests} requests`, `p50 ${d.metrics.latencyMs.p50} ms`);
}
await serve.shutdown();
await shutdown();
