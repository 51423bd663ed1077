/**
 * The job's working directory, packaged once by the driver (gzip of a msgpack file list, content-hashed)
 * and cached by hash on each node under `<session>/runtime_resources/working_dir_<hash>/`. Shipped
 * modules resolve packages through a `node_modules` link: the original directory's own node_modules when
 * it exists on this machine, else the node_modules that holds this rayts installation.
 */
import { createHash } from 'node:crypto';
import { gzipSync, gunzipSync } from 'node:zlib';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync, renameSync, rmSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { InvalidArgumentError, packInternal, unpackInternal, RayError } from '@samsara/ray-common';

const SKIP = new Set(['node_modules', '.git', '.rayts-test']);
export const WORKING_DIR_MAX_BYTES = 200 * 1024 * 1024;

export interface WorkingDirPackage {
  readonly hash: string;
  readonly bytes: Uint8Array;
  readonly sourceDir: string;
}

export function packWorkingDir(dir: string): WorkingDirPackage {
  const root = resolve(dir);
  if (!existsSync(root) || !statSync(root).isDirectory()) {
    throw new InvalidArgumentError(`runtimeEnv.workingDir ${JSON.stringify(dir)} is not a directory.`, {
      hint: 'Pass the absolute path of your project directory, e.g. runtimeEnv: { workingDir: process.cwd() }.',
    });
  }
  const files: [string, Uint8Array][] = [];
  let total = 0;
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      if (SKIP.has(e.name)) continue;
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile()) {
        const data = readFileSync(p);
        total += data.byteLength;
        if (total > WORKING_DIR_MAX_BYTES) {
          throw new InvalidArgumentError(`runtimeEnv.workingDir ${root} holds more than ${WORKING_DIR_MAX_BYTES >> 20} MiB (node_modules and .git excluded).`, {
            hint: 'Ship only code: move data into objects (put) or files on the nodes.',
          });
        }
        files.push([relative(root, p).split(sep).join('/'), data]);
      }
    }
  };
  walk(root);
  const bytes = gzipSync(packInternal({ root, files }), { level: 1 });
  const hash = createHash('sha256').update(bytes).digest('hex').slice(0, 20);
  return { hash, bytes, sourceDir: root };
}

function rayNodeModules(): string | undefined {
  let d = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = join(d, 'node_modules');
    if (existsSync(join(candidate, '@samsara', 'ray'))) return candidate;
    const up = dirname(d);
    if (up === d) return undefined;
    d = up;
  }
}

/** Extracts (once) and returns the local path of a shipped working directory. */
export function ensureWorkingDir(sessionDir: string, hash: string, archive: Uint8Array | undefined): string {
  if (!/^[0-9a-f]{8,64}$/.test(hash)) throw new InvalidArgumentError(`working dir hash ${JSON.stringify(hash)} is malformed.`);
  const target = join(sessionDir, 'runtime_resources', `working_dir_${hash}`);
  if (existsSync(join(target, '.complete'))) return target;
  if (!archive || archive.byteLength === 0) {
    throw new RayError(`Working directory ${hash} is not cached on this node and was not sent.`, {
      hint: 'This is a bug in the submitter; resubmit the task.',
    });
  }
  if (createHash('sha256').update(archive).digest('hex').slice(0, 20) !== hash) {
    throw new InvalidArgumentError(`working dir archive does not match its hash ${hash}.`);
  }
  // Bounded like packing (plus the file list), so a small archive cannot unpack into gigabytes.
  const raw = gunzipSync(archive, { maxOutputLength: WORKING_DIR_MAX_BYTES + (16 << 20) });
  const { root, files } = unpackInternal<{ root: string; files: [string, Uint8Array][] }>(raw);
  const tmp = `${target}.tmp${process.pid}${Math.random().toString(16).slice(2, 8)}`;
  for (const [rel, data] of files) {
    const p = resolve(tmp, rel);
    if (!p.startsWith(tmp + sep)) throw new InvalidArgumentError(`working dir archive entry ${JSON.stringify(rel)} escapes its directory.`);
    mkdirSync(dirname(p), { recursive: true });
    writeFileSync(p, data);
  }
  mkdirSync(tmp, { recursive: true });
  const own = join(root, 'node_modules');
  const link = existsSync(own) ? own : rayNodeModules();
  if (link) symlinkSync(link, join(tmp, 'node_modules'), 'dir');
  writeFileSync(join(tmp, '.complete'), '');
  try {
    renameSync(tmp, target);
  } catch {
    // Another thread or process extracted it first.
    rmSync(tmp, { recursive: true, force: true });
  }
  return target;
}
