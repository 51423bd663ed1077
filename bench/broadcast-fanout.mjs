#!/usr/bin/env node
/**
 * What one worker→node request costs when every worker thread holds the node's request BroadcastChannel
 * (worker/worker-runtime.ts opens `new BroadcastChannel(requestChannelName(bridgeId))` in every task and
 * actor thread). A BroadcastChannel delivers each message to *every* other instance of that name, so
 * each request wakes every thread. Never part of `npm test`.
 *
 *   node bench/broadcast-fanout.mjs [THREADS=200] [MESSAGES=2000]
 */
import { Worker, BroadcastChannel } from 'node:worker_threads';

const N = Number(process.argv[2] || 200);
const M = Number(process.argv[3] || 2000);

async function run(n) {
  const ws = [];
  for (let i = 0; i < n; i++) {
    // Like an idle actor thread: holds the request channel, never reads it.
    ws.push(new Worker("const { BroadcastChannel, parentPort } = require('node:worker_threads'); new BroadcastChannel('req').unref(); parentPort.on('message', () => {});", { eval: true }));
  }
  await new Promise((r) => setTimeout(r, 2000));
  const cpu0 = process.cpuUsage();
  const sender = new BroadcastChannel('req');
  for (let i = 0; i < M; i++) sender.postMessage({ op: 'put', i, payload: 'x'.repeat(100) });
  // Until the threads have handled every message (the process's CPU time stops growing).
  let last = -1;
  for (;;) {
    await new Promise((r) => setTimeout(r, 500));
    const u = process.cpuUsage(cpu0);
    const now = u.user + u.system;
    if (now - last < 5_000) break;
    last = now;
  }
  const c = process.cpuUsage(cpu0);
  sender.close();
  await Promise.all(ws.map((w) => w.terminate()));
  return (c.user + c.system) / 1000;
}

for (const n of [1, N]) {
  const ms = await run(n);
  process.stdout.write(`${n} threads holding the channel: ${M} requests cost ${Math.round(ms)} ms of CPU (${(ms / M).toFixed(2)} ms each)\n`);
}
