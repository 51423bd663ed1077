/**
 * `rayts cert create --out DIR --host H [--host H ...] [--days N] [--force]`: a CA and one certificate
 * for a test cluster — `ca.pem`, `ca-key.pem`, `node.pem`, `node-key.pem` — made with @peculiar/x509
 * (a maintained, pure-TypeScript X.509 library over WebCrypto: no openssl binary needed, works the same
 * on every platform Node runs on). Keys are ECDSA P-256; the node certificate names every --host
 * (DNS names and IP addresses) and is good for both server and client authentication, so the same
 * pair serves listeners and mutual TLS. Keys are written with mode 0600.
 */
import { existsSync, mkdirSync, writeFileSync, chmodSync } from 'node:fs';
import { isIP } from 'node:net';
import { join, resolve } from 'node:path';
import { webcrypto, type webcrypto as WebCrypto } from 'node:crypto';

type CryptoKeyPair = WebCrypto.CryptoKeyPair;
type CryptoKey = WebCrypto.CryptoKey;
import { InvalidArgumentError } from '@samsara/ray-common';
import { parse } from './args.js';

export const CERT_USAGE = 'rayts cert create --out DIR --host HOST [--host HOST ...] [--days N] [--force]';

const ALG = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;

export async function cert(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub !== 'create') throw new InvalidArgumentError(`unknown cert command ${JSON.stringify(sub ?? '')}.`, { hint: `Usage: ${CERT_USAGE}` });
  const { values, positionals } = parse(
    rest,
    { out: { type: 'string' }, host: { type: 'string', multiple: true }, days: { type: 'string' }, force: { type: 'boolean' } },
    CERT_USAGE,
  );
  if (positionals.length) throw new InvalidArgumentError(`unexpected argument ${JSON.stringify(positionals[0])}.`, { hint: `Usage: ${CERT_USAGE}` });
  if (!values.out) throw new InvalidArgumentError('--out DIR is required.', { hint: `Usage: ${CERT_USAGE}` });
  const hosts = (values.host as unknown as string[] | undefined) ?? [];
  if (!hosts.length) throw new InvalidArgumentError('give at least one --host (a DNS name or IP address peers dial).', { hint: 'Example: --host 127.0.0.1 --host localhost --host head.example.com' });
  for (const h of hosts) {
    if (!isIP(h) && !/^(\*\.)?[A-Za-z0-9]([A-Za-z0-9-]{0,62})(\.[A-Za-z0-9]([A-Za-z0-9-]{0,62}))*$/.test(h)) throw new InvalidArgumentError(`--host ${JSON.stringify(h)} is neither an IP address nor a DNS name.`);
  }
  const days = values.days === undefined ? 365 : Number(values.days);
  if (!Number.isInteger(days) || days < 1 || days > 3650) throw new InvalidArgumentError(`--days must be an integer 1–3650, got ${JSON.stringify(values.days)}.`);
  const out = resolve(values.out);
  const files = ['ca.pem', 'ca-key.pem', 'node.pem', 'node-key.pem'].map((f) => join(out, f));
  const existing = files.filter((f) => existsSync(f));
  if (existing.length && !values.force) throw new InvalidArgumentError(`${existing.join(', ')} already exist${existing.length === 1 ? 's' : ''}.`, { hint: 'Pass --force to replace them, or another --out.' });

  const made = await createClusterCertificates(hosts, days);
  mkdirSync(out, { recursive: true, mode: 0o700 });
  const write = (name: string, pem: string, secret: boolean) => {
    const p = join(out, name);
    writeFileSync(p, pem, { mode: secret ? 0o600 : 0o644 });
    chmodSync(p, secret ? 0o600 : 0o644);
  };
  write('ca.pem', made.caCert, false);
  write('ca-key.pem', made.caKey, true);
  write('node.pem', made.nodeCert, false);
  write('node-key.pem', made.nodeKey, true);
  process.stdout.write(
    [
      `Wrote a CA and a node certificate for ${hosts.join(', ')} (valid ${days} days) to ${out}:`,
      '  ca.pem  ca-key.pem (keep it safe: it signs certificates)  node.pem  node-key.pem',
      'Start the cluster with TLS:',
      `  rayts start --head --tls-cert ${join(out, 'node.pem')} --tls-key ${join(out, 'node-key.pem')} --tls-ca ${join(out, 'ca.pem')}`,
      `  rayts start --address HEAD:PORT --tls-cert ${join(out, 'node.pem')} --tls-key ${join(out, 'node-key.pem')} --tls-ca ${join(out, 'ca.pem')}`,
      `  rayts-edge --address HEAD:PORT --tls-ca ${join(out, 'ca.pem')} ...        drivers: RAYTS_TLS_CA=${join(out, 'ca.pem')}`,
      '',
    ].join('\n'),
  );
  return 0;
}

/** PEM texts of a new CA and a node certificate signed by it for `hosts`. */
export async function createClusterCertificates(hosts: readonly string[], days: number): Promise<{ caCert: string; caKey: string; nodeCert: string; nodeKey: string }> {
  // tsyringe (inside @peculiar/x509) needs the Reflect metadata polyfill; loaded only by this command.
  await import('reflect-metadata');
  const x509 = await import('@peculiar/x509');
  x509.cryptoProvider.set(webcrypto as never);
  const subtle = webcrypto.subtle;
  const notBefore = new Date(Date.now() - 60_000);
  const notAfter = new Date(Date.now() + days * 86_400_000);
  const caKeys = (await subtle.generateKey(ALG, true, ['sign', 'verify'])) as CryptoKeyPair;
  const ca = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(),
    name: 'CN=rayts cluster CA',
    notBefore,
    notAfter,
    signingAlgorithm: ALG,
    keys: caKeys as never,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(caKeys.publicKey as never),
    ],
  });
  const nodeKeys = (await subtle.generateKey(ALG, true, ['sign', 'verify'])) as CryptoKeyPair;
  const node = await x509.X509CertificateGenerator.create({
    serialNumber: serial(),
    subject: `CN=${hosts[0].replace(/[,=+<>#;"\\]/g, '_')}`,
    issuer: ca.subject,
    notBefore,
    notAfter,
    signingAlgorithm: ALG,
    publicKey: nodeKeys.publicKey as never,
    signingKey: caKeys.privateKey as never,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyAgreement, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth]),
      new x509.SubjectAlternativeNameExtension(hosts.map((h) => ({ type: isIP(h) ? 'ip' : 'dns', value: h }) as const)),
      await x509.AuthorityKeyIdentifierExtension.create(ca),
    ],
  });
  const pem = async (k: CryptoKey) => x509.PemConverter.encode(await subtle.exportKey('pkcs8', k), 'PRIVATE KEY');
  return { caCert: ca.toString('pem'), caKey: await pem(caKeys.privateKey), nodeCert: node.toString('pem'), nodeKey: await pem(nodeKeys.privateKey) };
}

function serial(): string {
  const b = webcrypto.getRandomValues(new Uint8Array(16));
  b[0] &= 0x7f;
  return Buffer.from(b).toString('hex');
}
