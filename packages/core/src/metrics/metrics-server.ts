/**
 * A node's `/metrics` listener (`rayts start --metrics-port N`): Prometheus text from the process
 * registry, behind the cluster token unless the node was started with `--metrics-public`. Binds the
 * node's host (loopback unless --node-ip-address). The head serves the same route on its dashboard port.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ConnectionError, type Logger } from '@samsara/ray-common';
import { bearerOk } from '../http/bearer.js';
import { createHttpServer, type HttpServer } from '../http/http-server.js';
import { renderMetrics } from './node-metrics.js';

/** Options of {@link MetricsServer.listen}. */
export interface MetricsServerOptions {
  readonly host: string;
  readonly port: number;
  readonly token: string;
  /** Serve /metrics without the token [false]. */
  readonly public?: boolean;
  readonly log: Logger;
  /** Extra text appended to every scrape (the head's cluster metrics). */
  readonly extra?: () => Promise<string>;
}

/** Answers a /metrics request: 401 without the token (unless public), else the Prometheus text. */
export async function serveMetrics(req: IncomingMessage, res: ServerResponse, o: { token: string; public?: boolean; extra?: () => Promise<string> }): Promise<void> {
  if (!o.public && !bearerOk(req, o.token)) {
    res.writeHead(401, { 'content-type': 'text/plain; charset=utf-8', 'www-authenticate': 'Bearer realm="rayts"' });
    res.end('rayts: /metrics needs Authorization: Bearer <cluster token> (or start the node with --metrics-public).\n');
    return;
  }
  const m = await renderMetrics();
  const extra = o.extra ? await o.extra() : '';
  res.writeHead(200, { 'content-type': m.contentType, 'cache-control': 'no-store' });
  res.end(m.body + (extra ? `\n${extra}` : ''));
}

export class MetricsServer {
  private constructor(
    private readonly server: HttpServer,
    readonly port: number,
  ) {}

  static async listen(o: MetricsServerOptions): Promise<MetricsServer> {
    const server = createHttpServer((req, res) => {
      const path = (req.url ?? '/').split('?')[0];
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.writeHead(405, { allow: 'GET' }).end();
        return;
      }
      if (path !== '/metrics') {
        res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: this listener serves /metrics only\n');
        return;
      }
      serveMetrics(req, res, o).catch((e) => {
        o.log.warn({ err: (e as Error).message }, 'metrics scrape failed');
        if (!res.headersSent) res.writeHead(500);
        res.end();
      });
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', (e) =>
        reject(new ConnectionError(`Cannot serve /metrics on ${o.host}:${o.port}: ${e.message}.`, { hint: 'Pick another --metrics-port.' })),
      );
      server.listen(o.port, o.host, () => resolve());
    });
    return new MetricsServer(server, (server.address() as AddressInfo).port);
  }

  async close(): Promise<void> {
    await new Promise<void>((r) => {
      this.server.close(() => r());
      this.server.closeAllConnections?.();
    });
  }
}
