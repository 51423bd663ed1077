/**
 * TLS settings of this process, and everything built from them: gRPC server and channel credentials,
 * TLS options for the data plane's sockets and for the HTTP listeners (dashboard, /metrics).
 *
 * Set once at process start (`rayts start`/`rayts-edge` flags, `init({ tls })`, or the environment:
 * RAYTS_TLS_CA, RAYTS_TLS_CERT, RAYTS_TLS_KEY); with none, every listener and dialer is plaintext, as
 * before. With a CA, dialers verify peers against it (and the peer's certificate must name the host
 * dialed); with a certificate and key, listeners serve TLS and dialers present them (mutual TLS).
 * `requireClientCert` makes listeners refuse peers without a certificate signed by the CA.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import * as net from 'node:net';
import * as tls from 'node:tls';
import * as grpc from '@grpc/grpc-js';
import { InvalidArgumentError } from '@samsara/ray-common';

/** TLS options (file paths). */
export interface TlsOptions {
  /** PEM file of the CA that signs the cluster's certificates (verifies peers). */
  readonly ca?: string;
  /** PEM certificate this process presents (listeners; dialers too, for mutual TLS). */
  readonly cert?: string;
  /** PEM private key of `cert`. */
  readonly key?: string;
  /** Listeners refuse peers without a certificate signed by `ca` [false]. */
  readonly requireClientCert?: boolean;
}

/** Loaded TLS material. */
export interface TlsMaterial {
  readonly ca?: Buffer;
  readonly cert?: Buffer;
  readonly key?: Buffer;
  readonly requireClientCert: boolean;
  /** The paths it came from (passed on to processes this one starts). */
  readonly paths: TlsOptions;
}

let current: TlsMaterial | undefined;

function read(path: string | undefined, what: string): Buffer | undefined {
  if (!path) return undefined;
  try {
    return readFileSync(path);
  } catch (e) {
    throw new InvalidArgumentError(`cannot read the TLS ${what} ${path}: ${(e as Error).message}.`, { hint: 'Make certificates with `rayts cert create --out DIR --host HOST`.' });
  }
}

/** Checks and loads TLS options (files read now); undefined when no option is set. */
export function loadTls(o: TlsOptions | undefined): TlsMaterial | undefined {
  if (!o || (!o.ca && !o.cert && !o.key)) {
    if (o?.requireClientCert) throw new InvalidArgumentError('--tls-require-client-cert needs --tls-ca (and --tls-cert/--tls-key).');
    return undefined;
  }
  const allowed = ['ca', 'cert', 'key', 'requireClientCert'];
  const unknown = Object.keys(o).filter((k) => !allowed.includes(k));
  if (unknown.length) throw new InvalidArgumentError(`tls: unknown option ${unknown.join(', ')}; valid: ${allowed.join(', ')}.`);
  if (!!o.cert !== !!o.key) throw new InvalidArgumentError('TLS needs both a certificate and its key (--tls-cert and --tls-key).');
  if (o.requireClientCert && !o.ca) throw new InvalidArgumentError('--tls-require-client-cert needs --tls-ca to check client certificates against.');
  return { ca: read(o.ca, 'CA'), cert: read(o.cert, 'certificate'), key: read(o.key, 'key'), requireClientCert: !!o.requireClientCert, paths: { ...o } };
}

/** TLS options from RAYTS_TLS_CA / RAYTS_TLS_CERT / RAYTS_TLS_KEY / RAYTS_TLS_REQUIRE_CLIENT_CERT. */
export function tlsOptionsFromEnv(env: NodeJS.ProcessEnv = process.env): TlsOptions | undefined {
  const o: TlsOptions = {
    ca: env.RAYTS_TLS_CA || undefined,
    cert: env.RAYTS_TLS_CERT || undefined,
    key: env.RAYTS_TLS_KEY || undefined,
    requireClientCert: env.RAYTS_TLS_REQUIRE_CLIENT_CERT === '1' || undefined,
  };
  return o.ca || o.cert || o.key ? o : undefined;
}

/**
 * TLS options for a process that also listens (a driver, a node): with a CA but no certificate, the
 * `node.pem`/`node-key.pem` that `rayts cert create` wrote beside the CA; with neither, an error saying
 * what to give.
 */
export function servingTls(o: TlsOptions | undefined, who: string): TlsOptions | undefined {
  if (!o || !o.ca || (o.cert && o.key)) return o;
  const dir = dirname(o.ca);
  const cert = o.cert ?? join(dir, 'node.pem');
  const key = o.key ?? join(dir, 'node-key.pem');
  if (existsSync(cert) && existsSync(key)) return { ...o, cert, key };
  throw new InvalidArgumentError(
    `${who}: TLS needs a certificate and key for this process too: the cluster's nodes call back into it (object pulls, borrower updates), over TLS.`,
    { hint: `Set RAYTS_TLS_CERT and RAYTS_TLS_KEY (or --tls-cert/--tls-key), or keep node.pem and node-key.pem beside ${o.ca} as rayts cert create writes them.` },
  );
}

/**
 * TLS options for a process that only dials (the CLI, an edge agent): a CA alone is enough, and
 * `node.pem`/`node-key.pem` beside it are presented when present (clusters that require client
 * certificates accept them).
 */
export function clientTls(o: TlsOptions | undefined): TlsOptions | undefined {
  if (!o || !o.ca || o.cert || o.key) return o;
  const dir = dirname(o.ca);
  const cert = join(dir, 'node.pem');
  const key = join(dir, 'node-key.pem');
  return existsSync(cert) && existsSync(key) ? { ...o, cert, key } : o;
}

/** Sets this process's TLS (undefined: plaintext). Call before any listener or channel is made. */
export function configureTls(m: TlsMaterial | undefined): void {
  current = m;
  if (m) quietIpServername();
}

let quieted = false;
/**
 * grpc-js always sends the dialed host as TLS SNI, and Node warns (DEP0123) when that is an IP address —
 * the normal case for cluster peers, whose certificates name their IPs. That one warning is dropped;
 * every other warning passes through.
 */
function quietIpServername(): void {
  if (quieted) return;
  quieted = true;
  const emit = process.emitWarning.bind(process) as (...a: unknown[]) => void;
  process.emitWarning = ((warning: unknown, ...rest: unknown[]) => {
    const code = typeof rest[0] === 'object' && rest[0] ? (rest[0] as { code?: string }).code : rest[1];
    if (code === 'DEP0123') return;
    emit(warning, ...rest);
  }) as typeof process.emitWarning;
}

/** The process's TLS, if any. */
export function processTls(): TlsMaterial | undefined {
  return current;
}

/** Environment variables that give a child process (a job's driver) the same TLS. */
export function tlsEnv(): Record<string, string> {
  const p = current?.paths;
  if (!p) return {};
  const out: Record<string, string> = {};
  if (p.ca) out.RAYTS_TLS_CA = p.ca;
  if (p.cert) out.RAYTS_TLS_CERT = p.cert;
  if (p.key) out.RAYTS_TLS_KEY = p.key;
  return out;
}

/** gRPC server credentials: TLS when the process has a certificate. */
export function serverCredentials(): grpc.ServerCredentials {
  const t = current;
  if (!t?.cert || !t.key) return grpc.ServerCredentials.createInsecure();
  return grpc.ServerCredentials.createSsl(t.ca ?? null, [{ private_key: t.key, cert_chain: t.cert }], t.requireClientCert);
}

/** gRPC channel credentials: TLS (verifying against the CA) when the process has TLS. */
export function channelCredentials(): grpc.ChannelCredentials {
  const t = current;
  if (!t) return grpc.credentials.createInsecure();
  return grpc.credentials.createSsl(t.ca ?? null, t.key ?? null, t.cert ?? null);
}

/** Options for `tls.createServer` (data plane, HTTPS), or undefined for plaintext. */
export function tlsServerOptions(): { ca?: Buffer; cert: Buffer; key: Buffer; requestCert: boolean; rejectUnauthorized: boolean; minVersion: 'TLSv1.2' } | undefined {
  const t = current;
  if (!t?.cert || !t.key) return undefined;
  return { ca: t.ca, cert: t.cert, key: t.key, requestCert: t.requireClientCert, rejectUnauthorized: t.requireClientCert, minVersion: 'TLSv1.2' };
}

/** Options for `tls.connect` to `host` (data plane), or undefined for plaintext. */
export function tlsClientOptions(host: string): { ca?: Buffer; cert?: Buffer; key?: Buffer; servername?: string; rejectUnauthorized: true; minVersion: 'TLSv1.2' } | undefined {
  const t = current;
  if (!t) return undefined;
  const isIp = /^[\d.]+$/.test(host) || host.includes(':');
  return { ca: t.ca, cert: t.cert, key: t.key, ...(isIp ? {} : { servername: host }), rejectUnauthorized: true, minVersion: 'TLSv1.2' };
}

/**
 * A TCP server for a framed protocol (the data plane): TLS when the process has a certificate. Handlers
 * get sockets once they are usable (after the TLS handshake); a peer that does not complete one within
 * 10 s, or speaks plaintext to it, is dropped and counted as a `tlsClientError`.
 */
export function createStreamServer(onSocket: (s: net.Socket) => void, onTlsError?: (e: Error) => void): net.Server {
  const t = tlsServerOptions();
  if (!t) {
    const s = net.createServer({ noDelay: true });
    s.on('connection', onSocket);
    return s;
  }
  const s = tls.createServer({ ...t, handshakeTimeout: 10_000 });
  s.on('secureConnection', (sock: tls.TLSSocket) => {
    sock.setNoDelay(true);
    onSocket(sock);
  });
  s.on('tlsClientError', (e: Error, sock: tls.TLSSocket) => {
    onTlsError?.(e);
    sock.destroy();
  });
  return s;
}

/** Dials a framed-protocol peer (the data plane): TLS when the process has TLS. */
export function connectStream(o: { host: string; port: number; onread?: net.OnReadOpts }): net.Socket {
  const t = tlsClientOptions(o.host);
  if (!t) return net.connect({ host: o.host, port: o.port, noDelay: true, ...(o.onread ? { onread: o.onread } : {}) });
  const s = tls.connect({ ...t, host: o.host, port: o.port, ...(o.onread ? { onread: o.onread } : {}) } as tls.ConnectionOptions);
  s.setNoDelay(true);
  return s;
}
