/**
 * Clear errors for TLS mismatches. gRPC reports them as UNAVAILABLE with transport details; these turn
 * them into a ConnectionError that says what is wrong and what to set:
 *
 * - this process uses TLS, the peer speaks plaintext ("wrong version number");
 * - the peer's certificate does not verify against our CA, or does not name the host we dialed;
 * - this process is plaintext and the peer speaks TLS (found by {@link probeTlsPeer}: a failed call is
 *   followed by one TLS handshake attempt to the same address).
 */
import * as tls from 'node:tls';
import { ConnectionError } from '@samsara/ray-common';
import { processTls } from './tls.js';

const PLAINTEXT_PEER = /wrong version number|WRONG_VERSION_NUMBER|packet length too long|unknown protocol|http_request/i;
const CERT_FAILURE = /certificate|self[- ]signed|unable to verify|CERT_|Hostname\/IP does not match|unable to get (local )?issuer/i;
const TLS_HINT = 'Give every node --tls-cert/--tls-key/--tls-ca (rayts start, rayts-edge), and drivers and CLIs RAYTS_TLS_CA (see docs/operations.md).';

/** A ConnectionError for transport `details` that show a TLS mismatch, or undefined. */
export function tlsMismatchError(address: string, details: string): ConnectionError | undefined {
  if (!processTls()) return undefined;
  if (PLAINTEXT_PEER.test(details)) {
    return new ConnectionError(`${address} does not speak TLS, but this process uses TLS: refusing a plaintext peer.`, { hint: TLS_HINT, ids: { address } });
  }
  if (/certificate required|alert number 116/i.test(details)) {
    return new ConnectionError(`${address} requires a client certificate (mutual TLS) and this process presents none.`, {
      hint: 'Set RAYTS_TLS_CERT and RAYTS_TLS_KEY (or --tls-cert/--tls-key) to a certificate signed by the cluster\'s CA.',
      ids: { address },
    });
  }
  if (CERT_FAILURE.test(details)) {
    return new ConnectionError(`TLS with ${address} failed: ${details}.`, {
      hint: 'Check that the CA (--tls-ca / RAYTS_TLS_CA) is the one that signed the cluster\'s certificates and that they name this host (rayts cert create --host HOST ...).',
      ids: { address },
    });
  }
  return undefined;
}

/**
 * When this process is plaintext and a call to `address` failed: is the peer a TLS server? Then the
 * error to show is that this process needs TLS settings. Resolves undefined otherwise (or when the
 * process uses TLS). One handshake attempt, at most `timeoutMs`.
 */
export function probeTlsPeer(address: string, timeoutMs = 2000): Promise<ConnectionError | undefined> {
  if (processTls()) return Promise.resolve(undefined);
  const i = address.lastIndexOf(':');
  const host = address.slice(0, i).replace(/^\[|\]$/g, '');
  const port = Number(address.slice(i + 1));
  if (!host || !Number.isInteger(port) || port <= 0) return Promise.resolve(undefined);
  return new Promise((resolve) => {
    let done = false;
    const finish = (r: ConnectionError | undefined) => {
      if (done) return;
      done = true;
      clearTimeout(t);
      s.destroy();
      resolve(r);
    };
    const s = tls.connect({ host, port, rejectUnauthorized: false, ALPNProtocols: ['h2'] }, () =>
      finish(
        new ConnectionError(`The cluster at ${address} uses TLS and this process does not: it refuses plaintext peers.`, {
          hint: 'Set RAYTS_TLS_CA to the cluster\'s CA (drivers, rayts CLI), or pass --tls-ca/--tls-cert/--tls-key (rayts start, rayts-edge).',
          ids: { address },
        }),
      ),
    );
    s.on('error', () => finish(undefined));
    const t = setTimeout(() => finish(undefined), timeoutMs);
    t.unref();
  });
}
