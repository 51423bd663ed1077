/**
 * `rayts dashboard [--url URL] [--token T]`: asks the head's dashboard for a one-time login code (with
 * the cluster token) and prints the login link. The link works once, for a short time; opening it sets
 * the browser's session cookie. The URL comes from the local session (head.json) unless given.
 */
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { ConnectionError, InvalidArgumentError, RayError } from '@samsara/ray-common';
import { latestSessionDir, readHeadRecord, resolveToken } from '../session.js';
import { parse } from './args.js';
import { processTls, configureTls, loadTls, tlsOptionsFromEnv } from '../rpc/tls.js';

export const DASHBOARD_USAGE = 'rayts dashboard [--url http://HOST:PORT] [--token T] [--tls-ca FILE]';

export async function dashboard(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, { url: { type: 'string' }, token: { type: 'string' }, 'tls-ca': { type: 'string' } }, DASHBOARD_USAGE);
  if (positionals.length) throw new InvalidArgumentError(`unexpected argument ${JSON.stringify(positionals[0])}.`, { hint: `Usage: ${DASHBOARD_USAGE}` });
  const token = resolveToken(values.token);
  let base = values.url;
  if (!base) {
    const dir = latestSessionDir();
    base = dir ? readHeadRecord(dir)?.dashboardUrl : undefined;
    if (!base) {
      throw new RayError('No dashboard found: there is no local head with a dashboard.', {
        hint: 'Start one with rayts start --head, or pass --url http://HOST:8265 of a head elsewhere.',
      });
    }
  }
  let u: URL;
  try {
    u = new URL('/api/login-codes', base);
  } catch {
    throw new InvalidArgumentError(`--url must be an http(s) URL, got ${JSON.stringify(base)}.`);
  }
  if (!processTls()) configureTls(loadTls(values['tls-ca'] ? { ca: values['tls-ca'] } : tlsOptionsFromEnv()));
  const r = await post(u, token);
  if (r.status === 401) throw new RayError(`The dashboard at ${base} refused the token.`, { hint: 'Use the token of that cluster (RAYTS_TOKEN or --token).' });
  if (r.status !== 200) throw new RayError(`The dashboard at ${base} answered ${r.status}: ${r.body.slice(0, 200)}`);
  const { url, expiresInMs } = JSON.parse(r.body) as { url: string; expiresInMs: number };
  // The head knows its own address; a --url given here (a tunnel, a DNS name) is what the person opens.
  const link = values.url ? new URL(new URL(url).pathname + new URL(url).search, base).toString() : url;
  process.stdout.write(`Open this link to log in (it works once, within ${Math.round(expiresInMs / 1000)} s):\n  ${link}\n`);
  return 0;
}

function post(u: URL, token: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const tls = processTls();
    const opts = { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-length': 0 }, ...(u.protocol === 'https:' && tls?.ca ? { ca: tls.ca } : {}) };
    const req = (u.protocol === 'https:' ? httpsRequest : httpRequest)(u, opts, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', (e) => reject(new ConnectionError(`cannot reach the dashboard at ${u.origin}: ${e.message}.`, { hint: 'Is the head running (rayts status)? With TLS, pass --tls-ca or set RAYTS_TLS_CA.' })));
    req.end();
  });
}
