/**
 * Creates the process's HTTP listeners (dashboard, /metrics): plain HTTP, or HTTPS when the process
 * runs with TLS (rpc/tls.ts). One place, so every listener gets the same TLS settings.
 */
import { createServer, type RequestListener, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { tlsServerOptions } from '../rpc/tls.js';

export type HttpServer = Server;

/** `https` when the process's listeners use TLS, else `http`. */
export function httpScheme(): 'http' | 'https' {
  return tlsServerOptions() ? 'https' : 'http';
}

/** An HTTP(S) server for `handler`; not listening yet. */
export function createHttpServer(handler: RequestListener): HttpServer {
  const t = tlsServerOptions();
  // Browsers and Prometheus present no client certificate: HTTP routes are guarded by the token or the
  // session cookie, even when the cluster's gRPC listeners require client certificates.
  const tls = t && { ...t, requestCert: false, rejectUnauthorized: false };
  const s = (tls ? createHttpsServer(tls, handler) : createServer(handler)) as Server;
  s.headersTimeout = 20_000;
  s.requestTimeout = 60_000;
  return s;
}
