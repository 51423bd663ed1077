#!/usr/bin/env node
/**
 * Builds the rayts_shm addon (native/shm.cc -> build/Release/rayts_shm.node) with node-gyp, using the
 * headers of the running Node and downloading nothing. Runs as this package's `install` script, so
 * `npm ci` at the repository root builds it (npm runs the lifecycle scripts of workspace packages; the
 * root `allowScripts` policy is about registry dependencies).
 *
 * A failed build does not fail the install: the store then runs in 'heap' mode (a plain
 * SharedArrayBuffer shared by worker threads; other processes cannot map it). Set
 * RAYTS_OBJECT_STORE_REQUIRE_ADDON=1 to make a failure fatal (CI), RAYTS_OBJECT_STORE_NO_ADDON=1 to skip.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const pkgDir = join(dirname(fileURLToPath(import.meta.url)), '..');
const required = process.env.RAYTS_OBJECT_STORE_REQUIRE_ADDON === '1';

function give(reason) {
  const msg = `@samsara/ray-object-store: native addon not built (${reason}); the object store will use process memory ('heap' mode), which other processes cannot map.`;
  if (required) {
    console.error(msg);
    process.exit(1);
  }
  console.warn(msg);
  process.exit(0);
}

if (process.env.RAYTS_OBJECT_STORE_NO_ADDON === '1') give('RAYTS_OBJECT_STORE_NO_ADDON=1');
if (process.platform !== 'linux') give(`platform ${process.platform}: only Linux is supported`);

function findNodeGyp() {
  if (process.env.npm_config_node_gyp && existsSync(process.env.npm_config_node_gyp)) return process.env.npm_config_node_gyp;
  try {
    return createRequire(join(pkgDir, 'package.json')).resolve('node-gyp/bin/node-gyp.js');
  } catch {
    return undefined;
  }
}

/** Headers of the running Node: npm's nodedir, the installation prefix, or node-gyp's cache. */
function findNodeDir() {
  const fromNpm = process.env.npm_config_nodedir;
  if (fromNpm && existsSync(join(fromNpm, 'include', 'node', 'node.h'))) return fromNpm;
  const prefix = dirname(dirname(process.execPath));
  if (existsSync(join(prefix, 'include', 'node', 'node.h'))) return prefix;
  const cached = join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'node-gyp', process.versions.node);
  if (existsSync(join(cached, 'include', 'node', 'node.h'))) return cached;
  return undefined;
}

const nodeGyp = findNodeGyp();
if (!nodeGyp) give('node-gyp not found');
const nodedir = findNodeDir();
if (!nodedir) give(`no headers for Node ${process.versions.node} on this machine (install the Node headers or nodejs-dev)`);

const args = [nodeGyp, 'rebuild', `--nodedir=${nodedir}`];
const r = spawnSync(process.execPath, args, { cwd: pkgDir, stdio: 'inherit' });
if (r.status !== 0) give(`node-gyp exited with ${r.status ?? r.signal}`);
