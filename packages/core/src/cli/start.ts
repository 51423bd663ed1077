/**
 * `rayts start --head` / `rayts start --address HOST:PORT`: validates flags, prepares the session and
 * token, launches the daemon detached (or in the foreground with --block), waits until it is ready and
 * prints the address, where the token is, and the line to join another node.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, openSync, readFileSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { DEFAULT_DASHBOARD_PORT } from '../dashboard/dashboard-server.js';
import { loadTls, type TlsOptions } from '../rpc/tls.js';
import { fileURLToPath } from 'node:url';
import { DEFAULT_HEAD_PORT, InvalidArgumentError, RayError, sessionsRoot, formatResources, randomId } from '@samsara/ray-common';
import { createSession, markLatest, resolveToken, sessionForAddress, tokenPath, writeToken } from '../session.js';
import { defaultNodeResources } from '../process/cluster-process.js';
import { addressFlag, labelsFlag, numberFlag, parse, portFlag, resourcesFlag } from './args.js';
import { runDaemon, type DaemonConfig } from './daemon.js';
import { findRestorableSession, type RestorableSession } from './restore-session.js';
import { forgetProcess } from './process-records.js';
import type { RecoverySummary } from '../head/head-recovery.js';

export const START_USAGE =
  'rayts start --head [--port N] [--num-cpus N] [--num-gpus N] [--resources JSON] [--labels k=v,...] [--object-store-memory BYTES] [--node-ip-address IP] [--restore | --fresh]\n' +
  '                   [--dashboard-port N] [--dashboard-host IP] [--metrics-port N] [--metrics-public] [TLS flags] [--block]\n' +
  '       rayts start --address HOST:PORT [--token T] [--num-cpus N] [--num-gpus N] [--resources JSON] [--labels k=v,...] [--object-store-memory BYTES] [--node-ip-address IP] [--metrics-port N] [--metrics-public] [TLS flags] [--block]\n' +
  '       TLS flags: --tls-cert FILE --tls-key FILE --tls-ca FILE [--tls-require-client-cert]  (make them with rayts cert create)';

const MAIN = fileURLToPath(new URL('./main.js', import.meta.url));

export async function start(argv: string[]): Promise<number> {
  const { values, positionals } = parse(
    argv,
    {
      head: { type: 'boolean' },
      address: { type: 'string' },
      port: { type: 'string' },
      'num-cpus': { type: 'string' },
      'num-gpus': { type: 'string' },
      resources: { type: 'string' },
      labels: { type: 'string' },
      token: { type: 'string' },
      'object-store-memory': { type: 'string' },
      'node-ip-address': { type: 'string' },
      block: { type: 'boolean' },
      restore: { type: 'boolean' },
      fresh: { type: 'boolean' },
      'dashboard-port': { type: 'string' },
      'dashboard-host': { type: 'string' },
      'metrics-port': { type: 'string' },
      'metrics-public': { type: 'boolean' },
      'tls-cert': { type: 'string' },
      'tls-key': { type: 'string' },
      'tls-ca': { type: 'string' },
      'tls-require-client-cert': { type: 'boolean' },
    },
    START_USAGE,
  );
  if (positionals.length) throw new InvalidArgumentError(`unexpected argument ${JSON.stringify(positionals[0])}.`, { hint: `Usage: ${START_USAGE}` });
  if (!!values.head === !!values.address) {
    throw new InvalidArgumentError('give exactly one of --head (start a cluster) or --address HOST:PORT (join one).', { hint: `Usage: ${START_USAGE}` });
  }
  const resources = defaultNodeResources(numberFlag(values['num-cpus'], 'num-cpus'), numberFlag(values['num-gpus'], 'num-gpus'), resourcesFlag(values.resources));
  const labels = labelsFlag(values.labels);
  const osm = numberFlag(values['object-store-memory'], 'object-store-memory');
  const host = values['node-ip-address'] ?? '127.0.0.1';

  let cfg: DaemonConfig;
  let token: string;
  let sessionDir: string;
  let restoring: RestorableSession | undefined;
  if (values.head) {
    restoring = restorableFor(values);
    if (restoring) {
      // The previous head of this session died: continue it on its address with its token.
      sessionDir = restoring.dir;
      token = restoring.token;
      forgetProcess(restoring.head.pid);
      const h = values['node-ip-address'] ?? restoring.host;
      cfg = { role: 'head', host: h, port: restoring.port, sessionDir, sessionName: restoring.name, resources, labels, objectStoreMemory: osm, readyFile: '', restore: true };
    } else {
      const port = portFlag(values.port, DEFAULT_HEAD_PORT);
      // Not session_latest until its head is ready: a start that fails (port in use) must leave the
      // running cluster's session the latest (issue 11.6).
      const s = createSession(undefined, { latest: false });
      sessionDir = s.dir;
      token = values.token ?? writeToken(s.dir);
      cfg = { role: 'head', host, port, sessionDir, sessionName: s.name, resources, labels, objectStoreMemory: osm, readyFile: '' };
    }
  } else {
    if (values.restore || values.fresh) throw new InvalidArgumentError('--restore and --fresh are for the head.', { hint: `Usage: ${START_USAGE}` });
    addressFlag(values.address!);
    if (values.port) throw new InvalidArgumentError('--port is for the head; worker nodes pick a free port.', { hint: `Usage: ${START_USAGE}` });
    token = resolveToken(values.token, undefined, values.address);
    // The session of the head it joins, when that head runs on this machine (with two clusters here,
    // not necessarily the latest).
    const own = sessionForAddress(values.address!);
    if (own) sessionDir = own;
    else {
      sessionDir = join(sessionsRoot(), `node_${Date.now()}_${randomId(3)}`);
      mkdirSync(join(sessionDir, 'logs'), { recursive: true, mode: 0o700 });
    }
    cfg = { role: 'worker', host, port: 0, headAddress: values.address, sessionDir, sessionName: '', resources, labels, objectStoreMemory: osm, readyFile: '' };
  }
  cfg.readyFile = join(sessionDir, `ready-${randomId(4)}.json`);
  Object.assign(cfg, opsFlags(values, cfg.role === 'head', host));

  if (values.block) {
    process.env.RAYTS_TOKEN = token;
    await runDaemon(cfg);
    if (cfg.role === 'head') markLatest(sessionDir);
    const ready = JSON.parse(readFileSync(cfg.readyFile, 'utf8')) as { address: string; nodeId: string };
    rmSync(cfg.readyFile, { force: true });
    printStarted(cfg, ready, sessionDir);
    return -1; // keep running
  }

  const out = openSync(join(sessionDir, 'logs', `${cfg.role}-start-${Date.now()}.out`), 'a', 0o600);
  // Node cannot call setrlimit: the daemon starts through sh, which raises the soft descriptor limit to
  // the hard one (a head holds a socket per peer and per connection attempt) and then execs node.
  const [cmd, args] =
    process.platform === 'win32'
      ? [process.execPath, [...process.execArgv, MAIN, '__daemon']]
      : ['/bin/sh', ['-c', 'ulimit -n "$(ulimit -Hn)" 2>/dev/null; exec "$0" "$@"', process.execPath, ...process.execArgv, MAIN, '__daemon']];
  const child = spawn(cmd, args, {
    detached: true,
    stdio: ['ignore', out, out],
    env: { ...process.env, RAYTS_TOKEN: token, RAYTS_DAEMON_CONFIG: JSON.stringify(cfg) },
  });
  let ready: { address: string; nodeId: string };
  try {
    ready = await waitReady(cfg.readyFile, child, sessionDir);
  } catch (e) {
    // A daemon that did not become ready must not linger.
    child.kill('SIGKILL');
    throw e;
  }
  child.unref();
  if (cfg.role === 'head') markLatest(sessionDir);
  printStarted(cfg, ready, sessionDir);
  return 0;
}

/**
 * The session `rayts start --head` continues, if any: by default the latest one when its head died
 * without a stop (and --port, if given, is its port); `--restore` insists on one; `--fresh` never.
 */
function restorableFor(values: { restore?: boolean; fresh?: boolean; port?: string; token?: string }): RestorableSession | undefined {
  if (values.restore && values.fresh) throw new InvalidArgumentError('give at most one of --restore and --fresh.', { hint: `Usage: ${START_USAGE}` });
  if (values.fresh) return undefined;
  const prev = findRestorableSession();
  const port = values.port === undefined ? undefined : portFlag(values.port, DEFAULT_HEAD_PORT);
  const fits = prev && (port === undefined || port === prev.port) && (values.token === undefined || values.token === prev.token);
  if (values.restore && !fits) {
    throw new InvalidArgumentError(
      prev
        ? `--restore: session ${prev.name} ran on port ${prev.port}${port !== undefined && port !== prev.port ? `, not ${port}` : ''}${values.token !== undefined && values.token !== prev.token ? ' with another token' : ''}.`
        : '--restore: there is no session whose head died on this machine (a stopped head is not restored).',
      { hint: 'Leave out --port/--token to continue it as it was, or use --fresh for a new cluster.' },
    );
  }
  return fits ? prev : undefined;
}

/** Dashboard, metrics and TLS flags (docs/operations.md), checked before anything starts. */
function opsFlags(
  values: Record<string, string | boolean | undefined>,
  isHead: boolean,
  host: string,
): Pick<DaemonConfig, 'dashboard' | 'metricsPort' | 'metricsPublic' | 'tls'> {
  const out: Pick<DaemonConfig, 'dashboard' | 'metricsPort' | 'metricsPublic' | 'tls'> = {};
  const dp = values['dashboard-port'] as string | undefined;
  const dh = values['dashboard-host'] as string | undefined;
  if (!isHead && (dp !== undefined || dh !== undefined)) throw new InvalidArgumentError('--dashboard-port and --dashboard-host are for the head.', { hint: `Usage: ${START_USAGE}` });
  if (isHead) {
    out.dashboard = { host: dh ?? '127.0.0.1', port: namedPort(dp, 'dashboard-port', DEFAULT_DASHBOARD_PORT), fallbackToFreePort: dp === undefined };
  }
  const mp = values['metrics-port'] as string | undefined;
  if (mp !== undefined) out.metricsPort = namedPort(mp, 'metrics-port', 0);
  if (values['metrics-public']) out.metricsPublic = true;
  const tls: TlsOptions = {
    ca: values['tls-ca'] as string | undefined,
    cert: values['tls-cert'] as string | undefined,
    key: values['tls-key'] as string | undefined,
    requireClientCert: values['tls-require-client-cert'] ? true : undefined,
  };
  // Checked (and the files read) here, so a typo fails the command rather than the detached daemon.
  if ((tls.ca || tls.cert || tls.key) && !(tls.cert && tls.key)) {
    throw new InvalidArgumentError('TLS on a node needs --tls-cert and --tls-key (it serves other nodes), and --tls-ca to verify them.', {
      hint: 'Make them with rayts cert create --out DIR --host HOST.',
    });
  }
  if (tls.cert && !tls.ca) throw new InvalidArgumentError('--tls-ca is needed with --tls-cert: nodes verify each other against it.', { hint: 'rayts cert create writes ca.pem beside node.pem.' });
  if (loadTls(tls)) out.tls = Object.fromEntries(Object.entries(tls).filter(([, v]) => v !== undefined).map(([k, v]) => [k, typeof v === 'string' ? resolve(v) : v])) as TlsOptions;
  return out;
}

function namedPort(v: string | undefined, flag: string, dflt: number): number {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new InvalidArgumentError(`--${flag} must be an integer 0–65535, got ${JSON.stringify(v)}.`);
  return n;
}

function waitReady(file: string, child: ReturnType<typeof spawn>, sessionDir: string): Promise<{ address: string; nodeId: string; restored?: RecoverySummary; dashboardUrl?: string; metricsPort?: number }> {
  return new Promise((resolve, reject) => {
    const deadline = Date.now() + 30_000;
    let exited = false;
    child.once('exit', (code) => {
      exited = true;
      let why = `exited during start (code ${code})`;
      try {
        const r = JSON.parse(readFileSync(file, 'utf8')) as { error?: string };
        if (r.error) why = `failed to start: ${r.error}`;
        rmSync(file, { force: true });
      } catch {
        /* no ready file: the daemon died before it could say why */
      }
      reject(new RayError(`the rayts daemon ${why}`, { hint: `See the logs in ${join(sessionDir, 'logs')}.` }));
    });
    const tick = () => {
      if (exited) return;
      if (existsSync(file)) {
        try {
          const r = JSON.parse(readFileSync(file, 'utf8')) as { address: string; nodeId: string; error?: string; restored?: RecoverySummary };
          rmSync(file, { force: true });
          child.removeAllListeners('exit');
          if (r.error) reject(new RayError(`the rayts daemon failed to start: ${r.error}`, { hint: `See the logs in ${join(sessionDir, 'logs')}.` }));
          else resolve(r);
          return;
        } catch {
          /* partially written; try again */
        }
      }
      if (Date.now() > deadline) {
        reject(new RayError('the rayts daemon did not become ready within 30 s.', { hint: `See the logs in ${join(sessionDir, 'logs')}.` }));
        return;
      }
      setTimeout(tick, 50);
    };
    tick();
  });
}

function printStarted(cfg: DaemonConfig, ready: { address: string; nodeId: string; restored?: RecoverySummary; dashboardUrl?: string; metricsPort?: number }, sessionDir: string): void {
  const lines: string[] = [];
  if (cfg.role === 'head') {
    lines.push(`rayts head started at ${ready.address}${ready.nodeId ? ` (node ${ready.nodeId}, ${formatResources(cfg.resources)})` : ' (no node: --num-cpus 0)'}`);
    const r = ready.restored;
    if (r) {
      lines.push(
        `  restored: the previous head of this session died; ${r.aliveNodes} node(s) may reconnect under their ids, ` +
          `${r.actors} actor(s), ${r.placementGroups} placement group(s), ${r.jobs} job(s), ${r.kvKeys} KV key(s) are back (--fresh starts a new cluster)`,
      );
    }
    lines.push(`  session:  ${sessionDir}`);
    lines.push(`  token:    ${tokenPath(sessionDir)}  (mode 0600; other machines need it as RAYTS_TOKEN)`);
    lines.push(`  logs:     ${join(sessionDir, 'logs')}`);
    if (ready.dashboardUrl) lines.push(`  dashboard: ${ready.dashboardUrl}  (log in: rayts dashboard; /metrics there too)`);
    if (ready.metricsPort) lines.push(`  metrics:  /metrics on port ${ready.metricsPort}${cfg.metricsPublic ? ' (public)' : ' (Authorization: Bearer <token>)'}`);
    if (cfg.tls) lines.push(`  tls:      on (CA ${cfg.tls.ca ?? 'system'}${cfg.tls.requireClientCert ? ', client certificates required' : ''}); peers need --tls-ca / RAYTS_TLS_CA`);
    lines.push('');
    lines.push('Join another node on this machine:');
    lines.push(`  rayts start --address ${ready.address}`);
    lines.push('Join from another machine (start the head with --node-ip-address <reachable IP>):');
    lines.push(`  RAYTS_TOKEN=$(cat ${tokenPath(sessionDir)}) rayts start --address ${ready.address}`);
    lines.push('Connect a driver:');
    lines.push(`  await init({ address: '${ready.address}' })`);
    lines.push('Check the cluster: rayts status     Stop what this machine started: rayts stop');
  } else {
    lines.push(`rayts node ${ready.nodeId} joined ${cfg.headAddress} (${formatResources(cfg.resources)}${Object.keys(cfg.labels).length ? `, labels ${JSON.stringify(cfg.labels)}` : ''})`);
    lines.push(`  listening on ${ready.address}; logs in ${join(sessionDir, 'logs')}`);
    if (ready.metricsPort) lines.push(`  metrics: /metrics on port ${ready.metricsPort}`);
    lines.push('Check the cluster: rayts status     Stop what this machine started: rayts stop');
  }
  process.stdout.write(lines.join('\n') + '\n');
}
