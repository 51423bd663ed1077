#!/usr/bin/env node
/**
 * Builds the rayts_shm addon (native/shm.cc -> build/Release/rayts_shm.node) with node-gyp, using the
 * headers of the running Node and downloading nothing. The addon uses the V8 API, so a build serves one
 * Node ABI (`process.versions.modules`: 115 for Node 20, 127 for 22, 137 for 24): a copy is kept in
 * build/abi-<N>/, which later builds for other versions keep, so one checkout serves several Node
 * versions (run this script once with each: `/path/to/node packages/object-store/native/build.mjs`). Runs as this package's `install` script, so
 * `npm ci` at the repository root builds it (npm runs the lifecycle scripts of workspace packages; the
 * root `allowScripts` policy is about registry dependencies).
 *
 * A failed build does not fail the install: the store then runs in 'heap' mode (a plain
 * SharedArrayBuffer shared by worker threads; other processes cannot map it). Set
 * RAYTS_OBJECT_STORE_REQUIRE_ADDON=1 to make a failure fatal (CI), RAYTS_OBJECT_STORE_NO_ADDON=1 to skip.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { homedir, tmpdir } from 'node:os';
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
// `node-gyp rebuild` empties build/: keep the builds for other Node versions aside meanwhile.
const buildDir = join(pkgDir, 'build');
const kept = mkdtempSync(join(tmpdir(), 'rayts-shm-abi-'));
const abiDirs = existsSync(buildDir) ? readdirSync(buildDir).filter((d) => /^abi-\d+$/.test(d)) : [];
for (const d of abiDirs) renameSync(join(buildDir, d), join(kept, d));
const r = spawnSync(process.execPath, args, { cwd: pkgDir, stdio: 'inherit' });
mkdirSync(buildDir, { recursive: true });
for (const d of abiDirs) if (!existsSync(join(buildDir, d))) renameSync(join(kept, d), join(buildDir, d));
rmSync(kept, { recursive: true, force: true });
if (r.status !== 0) give(`node-gyp exited with ${r.status ?? r.signal}`);
const abiDir = join(buildDir, `abi-${process.versions.modules}`);
mkdirSync(abiDir, { recursive: true });
copyFileSync(join(buildDir, 'Release', 'rayts_shm.node'), join(abiDir, 'rayts_shm.node'));
