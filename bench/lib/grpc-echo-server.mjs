/**
 * Child process: serves ECHO_SERVICE on 127.0.0.1 on a random port and reports `{ port }` over IPC.
 * Exits when the parent disconnects (so a crashed bench never leaves it behind) or on SIGTERM.
 */
import * as grpc from '@grpc/grpc-js';
import { ECHO_SERVICE, MESSAGE_BYTES } from './grpc-echo-service.mjs';

const payload = Buffer.alloc(MESSAGE_BYTES, 7);

function streamN(call) {
  const n = call.request.length >= 4 ? call.request.readUInt32LE(0) : 0;
  let sent = 0;
  const pump = () => {
    while (sent < n) {
      sent += 1;
      if (!call.write(payload)) {
        call.once('drain', pump);
        return;
      }
    }
    call.end();
  };
  pump();
}

let bulkBuf = Buffer.alloc(0);

function bulk(call) {
  const total = call.request.readUInt32LE(0);
  const chunk = call.request.readUInt32LE(4);
  if (bulkBuf.length < chunk) bulkBuf = Buffer.alloc(chunk, 7);
  let sent = 0;
  const pump = () => {
    while (sent < total) {
      const n = Math.min(chunk, total - sent);
      sent += n;
      if (!call.write(bulkBuf.subarray(0, n))) {
        call.once('drain', pump);
        return;
      }
    }
    call.end();
  };
  pump();
}

const server = new grpc.Server({ 'grpc.max_send_message_length': -1, 'grpc.max_receive_message_length': -1 });
server.addService(ECHO_SERVICE, {
  unary: (call, callback) => callback(null, call.request),
  stream: streamN,
  bulk,
  bidi: (call) => {
    call.on('data', (msg) => call.write(msg));
    call.on('end', () => call.end());
  },
});
server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, port) => {
  if (err) {
    process.send?.({ error: err.message });
    process.exit(1);
  }
  process.send?.({ port });
});

const stop = () => server.tryShutdown(() => process.exit(0));
process.on('disconnect', () => process.exit(0));
process.on('SIGTERM', stop);
