/**
 * Question: what does grpc-js carry on TCP loopback on this machine, per call and per message?
 * The ceiling for any rayts path that rides gRPC (the cluster variants of the core rows).
 * The server runs in a child process, so client and server are separate event loops sharing the cores.
 */
import * as grpc from '@grpc/grpc-js';
import { fileURLToPath } from 'node:url';
import { defineBench } from '../harness.mjs';
import { forkReady, stopChild } from '../lib/child.mjs';
import { ECHO_SERVICE, MESSAGE_BYTES } from '../lib/grpc-echo-service.mjs';

const SERVER = fileURLToPath(new URL('../lib/grpc-echo-server.mjs', import.meta.url));
const EchoClient = grpc.makeGenericClientConstructor(ECHO_SERVICE, 'Echo');
const payload = Buffer.alloc(MESSAGE_BYTES, 1);

async function connect() {
  const { child, message } = await forkReady(SERVER);
  const client = new EchoClient(`127.0.0.1:${message.port}`, grpc.credentials.createInsecure());
  await new Promise((resolve, reject) => client.waitForReady(Date.now() + 10_000, (e) => (e ? reject(e) : resolve())));
  return { child, client };
}

async function disconnect(ctx) {
  ctx.state?.client.close();
  await stopChild(ctx.state?.child);
}

const unary = (client) =>
  new Promise((resolve, reject) => client.unary(payload, (err, res) => (err ? reject(err) : resolve(res))));

export const unaryOneAtATime = defineBench({
  name: 'grpc_unary_calls',
  unit: 'calls/s',
  anchor: 1744,
  setup: connect,
  run: async ({ state }) => {
    await unary(state.client);
    return 1;
  },
  teardown: disconnect,
});

const LANES = 32;
const CALLS_PER_LANE = 8;

export const unary32InFlight = defineBench({
  name: 'grpc_unary_calls_32_in_flight',
  unit: 'calls/s',
  anchor: 3100,
  setup: connect,
  run: async ({ state }) => {
    // 32 lanes each making calls back to back keep 32 calls in flight (except while the last ones drain).
    const lane = async () => {
      for (let i = 0; i < CALLS_PER_LANE; i += 1) await unary(state.client);
    };
    await Promise.all(Array.from({ length: LANES }, lane));
    return LANES * CALLS_PER_LANE;
  },
  teardown: disconnect,
});

const STREAM_MSGS = 10_000;

export const serverStream = defineBench({
  name: 'grpc_stream_msgs',
  unit: 'msgs/s',
  anchor: 32500,
  setup: connect,
  run: ({ state }) =>
    new Promise((resolve, reject) => {
      const req = Buffer.alloc(4);
      req.writeUInt32LE(STREAM_MSGS, 0);
      let n = 0;
      const call = state.client.stream(req);
      call.on('data', () => (n += 1));
      call.on('error', reject);
      call.on('end', () => resolve(n));
    }),
  teardown: disconnect,
});

const BIDI_BATCH = 1000;

export const bidiEcho = defineBench({
  name: 'grpc_bidi_echo',
  unit: 'msgs/s',
  anchor: 19300,
  setup: async () => {
    const s = await connect();
    const call = s.client.bidi();
    const st = { ...s, call, pending: 0, done: undefined };
    call.on('data', () => {
      st.pending -= 1;
      if (st.pending === 0) st.done?.();
    });
    call.on('error', (e) => st.fail?.(e));
    return st;
  },
  // One batch: write 1000 messages on the open stream and wait until all 1000 echoes came back.
  run: ({ state }) =>
    new Promise((resolve, reject) => {
      state.pending = BIDI_BATCH;
      state.done = () => resolve(BIDI_BATCH);
      state.fail = reject;
      for (let i = 0; i < BIDI_BATCH; i += 1) state.call.write(payload);
    }),
  teardown: async (ctx) => {
    ctx.state?.call.end();
    await disconnect(ctx);
  },
});

const BULK_BYTES = 100e6;
const BULK_CHUNK = 4 * 1024 * 1024;

/** The transport ceiling for object transfer: rayts pulls objects as a gRPC stream of 4 MiB chunks. */
export const bulkStream = defineBench({
  name: 'grpc_stream_100mb_4mib_chunks',
  unit: 'MB/s',
  setup: async () => {
    const { child, message } = await forkReady(SERVER);
    const client = new EchoClient(`127.0.0.1:${message.port}`, grpc.credentials.createInsecure(), { 'grpc.max_receive_message_length': -1 });
    await new Promise((resolve, reject) => client.waitForReady(Date.now() + 10_000, (e) => (e ? reject(e) : resolve())));
    return { child, client };
  },
  run: ({ state }) =>
    new Promise((resolve, reject) => {
      const req = Buffer.alloc(8);
      req.writeUInt32LE(BULK_BYTES, 0);
      req.writeUInt32LE(BULK_CHUNK, 4);
      let n = 0;
      const call = state.client.bulk(req);
      call.on('data', (b) => (n += b.length));
      call.on('error', reject);
      call.on('end', () => (n === BULK_BYTES ? resolve(BULK_BYTES / 1e6) : reject(new Error(`got ${n} bytes`))));
    }),
  teardown: disconnect,
});

/** Declaration order, for the report. */
export default [unaryOneAtATime, unary32InFlight, serverStream, bidiEcho, bulkStream];
