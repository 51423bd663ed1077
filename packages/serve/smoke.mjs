import { init, shutdown } from '@samsara/ray';
import { serve, deployment } from '@samsara/ray-serve';
await init({ numCpus: 2 });
const t0 = Date.now();
const Model = deployment(class Model { constructor(k) { this.k = k; } mul(x) { return x * this.k; } }, { numReplicas: 2 });
const Api = deployment(class Api {
  constructor(model) { this.model = model; }
  async fetch(req) { const b = await req.json(); return { y: await this.model.mul.remote(b.x) }; }
});
const h = await serve.run(Api.bind(Model.bind(3)), { name: 'a', routePrefix: '/a', port: 18123 });
console.log('deployed in', Date.now() - t0);
const r = await fetch('http://127.0.0.1:18123/a', { method: 'POST', body: JSON.stringify({ x: 5 }) });
console.log(r.status, r.headers.get('x-request-id'), await r.text());
const r2 = await fetch('http://127.0.0.1:18123/a', { method: 'POST', body: '{bad' });
console.log(r2.status, await r2.text());
const r3 = await fetch('http://127.0.0.1:18123/zzz');
console.log(r3.status, await r3.text());
console.log(JSON.stringify((await serve.status()).applications.a.deployments.Model.metrics));
await serve.shutdown();
await shutdown();
