/**
 * Child process: a plain TCP server on 127.0.0.1 (random port, reported as `{ port }` over IPC). For each
 * 8-byte request (uint32 total bytes, uint32 chunk bytes) on a connection it writes that many bytes in
 * chunks of that size from one preallocated buffer, honouring back-pressure. Exits with its parent.
 */
import { createServer } from 'node:net';

let buf = Buffer.alloc(0);
const server = createServer((sock) => {
  let pending = Buffer.alloc(0);
  sock.on('data', (d) => {
    pending = Buffer.concat([pending, d]);
    while (pending.length >= 8) {
      const total = pending.readUInt32LE(0);
      const chunk = pending.readUInt32LE(4);
      pending = pending.subarray(8);
      if (buf.length < chunk) buf = Buffer.alloc(chunk, 7);
      let sent = 0;
      const pump = () => {
        while (sent < total) {
          const n = Math.min(chunk, total - sent);
          sent += n;
          if (!sock.write(buf.subarray(0, n))) {
            sock.once('drain', pump);
            return;
          }
        }
      };
      pump();
    }
  });
  sock.on('error', () => sock.destroy());
});
server.listen(0, '127.0.0.1', () => process.send?.({ port: server.address().port }));
process.on('disconnect', () => process.exit(0));
process.on('SIGTERM', () => process.exit(0));
