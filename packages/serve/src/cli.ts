#!/usr/bin/env node
/**
 * rayts-serve (also `rayts serve …`): run, deploy, status, shutdown against a running cluster
 * (--address, else RAYTS_ADDRESS, else the local session).
 *
 *   rayts serve run module.mjs:app [--name N] [--route-prefix /p] [--port 8000] [--host H]
 *   rayts serve deploy serve.yaml
 *   rayts serve status [--json]
 *   rayts serve shutdown
 */
import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { init, shutdown } from '@samsara/ray';
import { parse as parseYaml } from 'yaml';
import { serve } from './api.js';
import { Application } from './deployment.js';
import { checkKeys } from './config.js';
import type { DeploymentOptions } from './config.js';

const USAGE = `Usage:
  rayts serve run MODULE:EXPORT [--name N] [--route-prefix /p] [--port 8000] [--host 127.0.0.1] [--address HOST:PORT]
  rayts serve deploy serve.yaml [--address HOST:PORT]
  rayts serve status [--json] [--address HOST:PORT]
  rayts serve shutdown [--address HOST:PORT]`;

class UsageError extends Error {}

async function connect(address: string | undefined): Promise<void> {
  await init({ address: address ?? process.env.RAYTS_ADDRESS ?? 'auto' });
}

async function loadApp(target: string, base: string): Promise<Application> {
  const i = target.lastIndexOf(':');
  if (i <= 0) throw new UsageError(`Expected MODULE:EXPORT (e.g. app.mjs:app), got "${target}".`);
  const file = target.slice(0, i);
  const name = target.slice(i + 1);
  const path = isAbsolute(file) ? file : resolve(base, file);
  const mod = (await import(pathToFileURL(path).href)) as Record<string, unknown>;
  const app = mod[name];
  if (!(app instanceof Application)) {
    throw new UsageError(`${file} has no export "${name}" that is a bound deployment (Deployment.bind(...)); its exports are: ${Object.keys(mod).join(', ') || 'none'}.`);
  }
  return app;
}

interface YamlApp {
  name?: string;
  routePrefix?: string | null;
  importPath: string;
  deployments?: (DeploymentOptions & { name: string })[];
}

/** Applies per-deployment overrides from YAML to the bound tree (matched by deployment name). */
function override(app: Application, overrides: Map<string, DeploymentOptions>, seen = new Set<Application>()): Application {
  if (seen.has(app)) return app;
  seen.add(app);
  const args = app.args.map((a) => (a instanceof Application ? override(a, overrides, seen) : a));
  const o = overrides.get(app.deployment.name);
  const dep = o ? app.deployment.options(o) : app.deployment;
  return new Application(dep, args);
}

async function deploy(file: string): Promise<void> {
  const text = readFileSync(file, 'utf8');
  const doc = parseYaml(text) as { proxy?: { host?: string; port?: number }; applications?: YamlApp[] };
  checkKeys(doc, ['proxy', 'applications'], file);
  checkKeys(doc.proxy, ['host', 'port'], `${file}: proxy`);
  if (!Array.isArray(doc.applications) || doc.applications.length === 0) throw new UsageError(`${file}: applications must be a non-empty list.`);
  const base = dirname(resolve(file));
  for (const [i, a] of doc.applications.entries()) {
    const where = `${file}: applications[${i}]`;
    checkKeys(a, ['name', 'routePrefix', 'importPath', 'deployments'], where);
    if (typeof a.importPath !== 'string') throw new UsageError(`${where}.importPath must be MODULE:EXPORT.`);
    const overrides = new Map<string, DeploymentOptions>();
    for (const d of a.deployments ?? []) {
      const { name, ...rest } = d;
      if (typeof name !== 'string') throw new UsageError(`${where}.deployments: every entry needs a name.`);
      overrides.set(name, rest);
    }
    const app = override(await loadApp(a.importPath, base), overrides);
    await serve.run(app, { name: a.name, routePrefix: a.routePrefix, port: doc.proxy?.port, host: doc.proxy?.host });
    const st = await serve.status();
    process.stdout.write(`Deployed ${a.name ?? 'default'} at http://${st.proxy?.host ?? '127.0.0.1'}:${st.proxy?.port ?? 8000}${a.routePrefix ?? '/'}\n`);
  }
  process.stdout.write('Applications keep running after this command exits; `rayts serve status` shows them, `rayts serve shutdown` stops them.\n');
}

async function printStatus(json: boolean): Promise<void> {
  const st = await serve.status();
  if (json) {
    process.stdout.write(`${JSON.stringify(st, null, 2)}\n`);
    return;
  }
  if (!st.proxy && Object.keys(st.applications).length === 0) {
    process.stdout.write('Serve is not running. Start an application with `rayts serve run module.mjs:app` or `rayts serve deploy serve.yaml`.\n');
    return;
  }
  if (st.proxy) process.stdout.write(`proxy: http://${st.proxy.host}:${st.proxy.port} (node ${st.proxy.nodeId ?? '?'}, ${st.proxy.state})\n`);
  for (const a of Object.values(st.applications)) {
    process.stdout.write(`app ${a.name}: ${a.status}${a.routePrefix ? ` route ${a.routePrefix}` : ''}${a.message ? ` — ${a.message}` : ''}\n`);
    const groups: [string, Record<string, import('./internal/controller.js').DeploymentStatus>][] = [['', a.deployments]];
    if (a.canary) groups.push([` [canary ${a.canary.weight}]`, a.canary.deployments]);
    if (a.shadow) groups.push([` [shadow ${a.shadow.weight}]`, a.shadow.deployments]);
    for (const [tag, deps] of groups) {
      for (const d of Object.values(deps)) {
        const m = d.metrics;
        process.stdout.write(
          `  deployment ${d.name}${tag}: ${d.status} ${m.replicas}/${d.targetReplicas} replicas, version ${d.version}, requests ${m.requests}, errors ${m.errors}, p50 ${m.latencyMs.p50} ms, p99 ${m.latencyMs.p99} ms, queued ${m.queued}${d.message ? ` — ${d.message}` : ''}\n`,
        );
        for (const r of d.replicas) process.stdout.write(`    replica ${r.replicaId}: ${r.state} on node ${r.nodeId ?? '?'} (version ${r.version})${r.reason ? ` — ${r.reason}` : ''}\n`);
      }
    }
  }
}

async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  if (!cmd || cmd === '--help' || cmd === '-h' || cmd === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return cmd ? 0 : 2;
  }
  const { values, positionals } = parseArgs({
    args: rest,
    allowPositionals: true,
    options: {
      address: { type: 'string' },
      name: { type: 'string' },
      'route-prefix': { type: 'string' },
      port: { type: 'string' },
      host: { type: 'string' },
      json: { type: 'boolean' },
    },
  });
  switch (cmd) {
    case 'run': {
      if (positionals.length !== 1) throw new UsageError('rayts serve run takes one MODULE:EXPORT.');
      const app = await loadApp(positionals[0], process.cwd());
      await connect(values.address);
      const port = values.port === undefined ? undefined : Number(values.port);
      if (port !== undefined && !Number.isInteger(port)) throw new UsageError(`--port must be an integer, got ${values.port}.`);
      const name = values.name ?? 'default';
      await serve.run(app, { name, routePrefix: values['route-prefix'], port, host: values.host });
      const st = await serve.status();
      process.stdout.write(`Serving ${name} at http://${st.proxy?.host}:${st.proxy?.port}${values['route-prefix'] ?? '/'} — Ctrl-C deletes it.\n`);
      await new Promise<void>((r) => {
        process.once('SIGINT', r);
        process.once('SIGTERM', r);
      });
      await serve.delete(name);
      await shutdown();
      return 0;
    }
    case 'deploy': {
      if (positionals.length !== 1) throw new UsageError('rayts serve deploy takes one YAML file.');
      await connect(values.address);
      await deploy(positionals[0]);
      await shutdown();
      return 0;
    }
    case 'status':
      await connect(values.address);
      await printStatus(values.json === true);
      await shutdown();
      return 0;
    case 'shutdown':
      await connect(values.address);
      await serve.shutdown();
      process.stdout.write('Serve shut down: applications deleted, proxy and controller stopped.\n');
      await shutdown();
      return 0;
    default:
      throw new UsageError(`Unknown command "${cmd}".`);
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e: unknown) => {
    const usage = e instanceof UsageError;
    process.stderr.write(`rayts serve: ${(e as Error)?.message ?? String(e)}${usage ? `\n${USAGE}` : ''}\n`);
    process.exit(usage ? 2 : 1);
  },
);
