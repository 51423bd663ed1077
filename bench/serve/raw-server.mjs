// The baseline: a raw node:http server doing the same work as the no-op deployment (answer "ok").
import { createServer } from 'node:http';

const server = createServer({ keepAliveTimeout: 65_000 }, (req, res) => {
  req.resume();
  req.on('end', () => {
    res.setHeader('content-type', 'text/plain; charset=utf-8');
    res.end('ok');
  });
});
server.listen(0, '127.0.0.1', () => process.send?.({ port: server.address().port }));
process.on('message', (m) => m === 'stop' && server.close(() => process.exit(0)));
