/**
 * A raw two-process HTTP server, the floor of a two-hop path (bench/serve/tail-probe.mjs): the front
 * (`front`, node:http) forwards each request as an 8-byte frame over one loopback TCP connection to the
 * back (`back`, forked by the front), which echoes it; the front answers "ok" when the echo returns.
 * The front sends { port } to its parent; the back exits with its parent.
 */
import { createConnection, createServer as createTcpServer } from 'node:net';
import { createServer } from 'node:http';
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const role = process.argv[2];
if (role === 'back') {
  process.on('disconnect', () => process.exit(0));
  const srv = createTcpServer((s) => {
    s.setNoDelay(true);
    s.on('data', (d) => s.write(d));
  });
  srv.listen(0, '127.0.0.1', () => process.send(srv.address().port));
} else {
  process.on('disconnect', () => process.exit(0));
  const back = fork(fileURLToPath(import.meta.url), ['back']);
  const port = await new Promise((r) => back.once('message', r));
  const s = createConnection(port, '127.0.0.1');
  s.setNoDelay(true);
  const waiting = [];
  let pending = 0;
  s.on('data', (d) => {
    pending += d.length;
    for (; pending >= 8; pending -= 8) waiting.shift()();
  });
  const frame = Buffer.alloc(8);
  const srv = createServer({ keepAliveTimeout: 65_000 }, (req, res) => {
    waiting.push(() => res.end('ok'));
    s.write(frame);
  });
  srv.listen(0, '127.0.0.1', () => process.send({ port: srv.address().port }));
}
