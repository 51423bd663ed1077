#!/usr/bin/env node
/**
 * `rayts` command line: start, stop, status, list, job. Prints for people; errors go to stderr as
 * "rayts: <what failed>. <what to do>" with exit code 2 for bad usage and 1 for other failures.
 */
import { writeFileSync } from 'node:fs';
import { isRayError } from '@samsara/ray-common';
import { start, START_USAGE } from './start.js';
import { stop } from './stop.js';
import { status, list, STATUS_USAGE, LIST_USAGE } from './inspect.js';
import { runDaemon, type DaemonConfig } from './daemon.js';
import { forgetProcess } from './process-records.js';
import { job, JOB_USAGE } from './job.js';
import { runExternal } from './external.js';
import { dashboard, DASHBOARD_USAGE } from './dashboard.js';
import { cert, CERT_USAGE } from './cert.js';
import { clientTls, configureTls, loadTls, tlsOptionsFromEnv } from '../rpc/tls.js';

const USAGE = `rayts — a Ray-like cluster for Node.js

Usage:
  ${START_USAGE}
  rayts stop [--force]
  ${STATUS_USAGE}
  ${LIST_USAGE}
  ${JOB_USAGE}
  ${DASHBOARD_USAGE}     prints a one-time login link
  ${CERT_USAGE}
  rayts <library> ...      runs rayts-<library> (serve, tune, workflow) when installed
`;

async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  // Client commands (status, list, job, dashboard, stop) dial with RAYTS_TLS_CA & co when set; daemons
  // take their TLS from their flags.
  if (cmd !== 'start' && cmd !== '__daemon') configureTls(loadTls(clientTls(tlsOptionsFromEnv())));
  switch (cmd) {
    case 'start':
      return start(rest);
    case 'stop':
      return stop(rest);
    case 'status':
      return status(rest);
    case 'list':
      return list(rest);
    case 'job':
      return job(rest);
    case 'dashboard':
      return dashboard(rest);
    case 'cert':
      return cert(rest);
    case '__daemon': {
      const cfg = JSON.parse(process.env.RAYTS_DAEMON_CONFIG ?? '{}') as DaemonConfig;
      delete process.env.RAYTS_DAEMON_CONFIG;
      try {
        await runDaemon(cfg);
      } catch (e) {
        const msg = (e as Error).message;
        forgetProcess(process.pid);
        process.stderr.write(`rayts daemon: ${msg}\n`);
        writeFileSync(cfg.readyFile, JSON.stringify({ error: msg }));
        return 1;
      }
      return -1;
    }
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(USAGE);
      return cmd === undefined ? 2 : 0;
    default: {
      const code = await runExternal(cmd, rest);
      if (code !== undefined) return code;
      process.stderr.write(`rayts: unknown command ${JSON.stringify(cmd)}.\n\n${USAGE}`);
      return 2;
    }
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code >= 0) process.exit(code);
  },
  (e: unknown) => {
    const usage = isRayError(e) && e.code === 'INVALID_ARGUMENT';
    process.stderr.write(`rayts: ${(e as Error)?.message ?? String(e)}\n`);
    process.exit(usage ? 2 : 1);
  },
);


