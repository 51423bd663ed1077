/**
 * The long-running side of `rayts start`: a head (with its own node unless it has no resources) or a
 * worker node. Logs with pino into the session directory, records itself for `rayts stop`, writes a
 * ready file the starting CLI waits for, and exits cleanly on SIGTERM/SIGINT or a head shutdown order.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createRootLogger, type ResourceMap } from '@samsara/ray-common';
import { ClusterProcess } from '../process/cluster-process.js';
import { writeHeadRecord } from '../session.js';
import { forgetProcess, recordProcess } from './process-records.js';
import { markHeadStopped } from './restore-session.js';
import { configureTls, loadTls, type TlsOptions } from '../rpc/tls.js';
import { enableProcessMetrics } from '../metrics/node-metrics.js';

export interface DaemonConfig {
  role: 'head' | 'worker';
  host: string;
  port: number;
  headAddress?: string;
  sessionDir: string;
  sessionName: string;
  resources: ResourceMap;
  labels: Record<string, string>;
  objectStoreMemory?: number;
  readyFile: string;
  /** Head: continue the session's persisted state (its previous head died). */
  restore?: boolean;
  /** Head: dashboard listener (port 8265 falls back to a free one when busy and not asked for). */
  dashboard?: { host: string; port: number; fallbackToFreePort: boolean };
  /** Node: /metrics port. */
  metricsPort?: number;
  metricsPublic?: boolean;
  /** TLS files for every listener and dialer of the process. */
  tls?: TlsOptions;
}

export async function runDaemon(cfg: DaemonConfig): Promise<void> {
  const token = process.env.RAYTS_TOKEN ?? '';
  delete process.env.RAYTS_TOKEN;
  const log = createRootLogger(`rayts-${cfg.role}`, join(cfg.sessionDir, 'logs', `${cfg.role}-${process.pid}.log`));
  let proc: ClusterProcess | undefined;
  let stopping = false;
  const stop = async (why: string, code = 0) => {
    if (stopping) return;
    stopping = true;
    log.info({ why }, 'stopping');
    // Exit within 5 s whatever happens below (a close that hangs, a log that cannot flush).
    setTimeout(() => process.exit(code), 5000);
    try {
      await proc?.close();
    } catch (e) {
      log.error({ err: (e as Error).message }, 'error while stopping');
    }
    forgetProcess(process.pid);
    if (cfg.role === 'head') markHeadStopped(cfg.sessionDir, why);
    try {
      log.flush?.();
    } catch {
      /* the log file never opened: nothing to flush */
    }
    setTimeout(() => process.exit(code), 50);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('uncaughtException', (e) => {
    // A daemon must never die on what a peer sends; anything reaching here is a bug worth logging loudly.
    log.error({ err: e.message, stack: e.stack }, 'uncaught exception');
  });
  process.on('unhandledRejection', (e) => log.error({ err: (e as Error)?.message ?? String(e) }, 'unhandled rejection'));

  // Recorded from the start, so that `rayts stop` also ends a daemon that never finishes starting.
  recordProcess({ pid: process.pid, role: cfg.role, address: '', sessionDir: cfg.sessionDir, startedAt: new Date().toISOString() });
  const hasNode = Object.values(cfg.resources).some((v) => v > 0);
  configureTls(loadTls(cfg.tls));
  enableProcessMetrics();
  proc = await ClusterProcess.start({
    head: cfg.role === 'head',
    node: cfg.role === 'worker' || hasNode,
    headAddress: cfg.headAddress,
    host: cfg.host,
    port: cfg.port,
    token,
    sessionDir: cfg.sessionDir,
    sessionName: cfg.sessionName,
    resources: cfg.resources,
    labels: cfg.labels,
    kind: cfg.role,
    log,
    objectStoreMemory: cfg.objectStoreMemory,
    onShutdown: (reason) => void stop(`cluster shutdown: ${reason}`),
    persistHeadState: cfg.role === 'head',
    restoreHead: cfg.restore,
    dashboard: cfg.dashboard,
    metricsPort: cfg.metricsPort,
    metricsPublic: cfg.metricsPublic,
  });
  const dashboardUrl = proc.dashboard?.url;
  if (cfg.role === 'head') writeHeadRecord(cfg.sessionDir, { address: proc.address, pid: process.pid, sessionDir: cfg.sessionDir, dashboardUrl });
  recordProcess({ pid: process.pid, role: cfg.role, address: proc.address, sessionDir: cfg.sessionDir, startedAt: new Date().toISOString() });
  log.info({ address: proc.address, nodeId: proc.node?.nodeId, maxOpenFiles: openFilesLimit() }, 'ready');
  writeFileSync(cfg.readyFile, JSON.stringify({ address: proc.address, nodeId: proc.node?.nodeId ?? '', pid: process.pid, restored: proc.head?.restored, dashboardUrl, metricsPort: proc.metrics?.port }));
}

/** The soft descriptor limit (Linux: /proc/self/limits), for the ready log line; '' elsewhere. */
function openFilesLimit(): string {
  try {
    const m = /^Max open files\s+(\S+)\s+(\S+)/m.exec(readFileSync('/proc/self/limits', 'utf8'));
    return m ? `${m[1]} (hard ${m[2]})` : '';
  } catch {
    return '';
  }
}
