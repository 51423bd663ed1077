/**
 * Question: how fast does a plain TCP socket on loopback move bulk bytes between two processes here?
 * The ceiling for an object-transfer data plane that does not ride grpc-js (compare with
 * grpc_stream_100mb_4mib_chunks and transfer_100mb_between_nodes in the same run).
 */
import { connect } from 'node:net';
import { fileURLToPath } from 'node:url';
import { defineBench } from '../harness.mjs';
import { forkReady, stopChild } from '../lib/child.mjs';

const SERVER = fileURLToPath(new URL('../lib/tcp-bulk-server.mjs', import.meta.url));
const BYTES = 100e6;
const CHUNK = 4 * 1024 * 1024;

export default defineBench({
  name: 'tcp_socket_100mb',
  unit: 'MB/s',
  setup: async () => {
    const { child, message } = await forkReady(SERVER);
    const sock = connect({ host: '127.0.0.1', port: message.port });
    await new Promise((resolve, reject) => {
      sock.once('connect', resolve);
      sock.once('error', reject);
    });
    return { child, sock };
  },
  // One unit: ask for 100 MB and receive it into a preallocated buffer (as a pull fills its target).
  run: ({ state }) =>
    new Promise((resolve, reject) => {
      const out = (state.out ??= Buffer.alloc(BYTES));
      let n = 0;
      const onData = (d) => {
        d.copy(out, n);
        n += d.length;
        if (n >= BYTES) {
          state.sock.off('data', onData);
          state.sock.off('error', reject);
          resolve(BYTES / 1e6);
        }
      };
      state.sock.on('data', onData);
      state.sock.once('error', reject);
      const req = Buffer.alloc(8);
      req.writeUInt32LE(BYTES, 0);
      req.writeUInt32LE(CHUNK, 4);
      state.sock.write(req);
    }),
  teardown: async (ctx) => {
    ctx.state?.sock.destroy();
    await stopChild(ctx.state?.child);
  },
});
