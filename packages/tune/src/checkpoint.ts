/**
 * Checkpoint values as they travel between a trial and the driver. A trainable reports a checkpoint as
 * a JSON-able value, as bytes (`Uint8Array`), or as a directory (`ctx.directoryCheckpoint(path)`, whose
 * files are read on the trial's node and written under the experiment on the driver's machine). The
 * driver stores it as `checkpoint_<iteration>/checkpoint.json`, `checkpoint.bin` or the directory's
 * files, and hands it back as `ctx.checkpoint` on restore (a directory is rebuilt in a temporary
 * directory on the trial's node and given as `{ directory }`).
 */
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';

const DIR_MARK = '__tuneCheckpointDirectory';

/** The wire form of a checkpoint. */
export type CheckpointPayload =
  | { readonly kind: 'json'; readonly value: unknown }
  | { readonly kind: 'bytes'; readonly bytes: Uint8Array }
  | { readonly kind: 'directory'; readonly files: Record<string, Uint8Array> };

/** What `ctx.directoryCheckpoint(path)` returns: a marker the report turns into the directory's files. */
export interface DirectoryCheckpoint {
  readonly [DIR_MARK]: string;
}

export function directoryCheckpoint(path: string): DirectoryCheckpoint {
  return { [DIR_MARK]: path };
}

/** Every file under `root`, by its path relative to `root`. */
function readTree(root: string): Record<string, Uint8Array> {
  const files: Record<string, Uint8Array> = {};
  const walk = (d: string): void => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      if (statSync(p).isDirectory()) walk(p);
      else files[relative(root, p)] = new Uint8Array(readFileSync(p));
    }
  };
  walk(root);
  return files;
}

/** Writes `files` (relative path → bytes) under `root`, making the directories. */
function writeTree(root: string, files: Readonly<Record<string, Uint8Array>>): void {
  for (const [rel, bytes] of Object.entries(files)) {
    const f = join(root, rel);
    mkdirSync(dirname(f), { recursive: true });
    writeFileSync(f, bytes);
  }
}

/** Turns what a trainable reported into the wire form (reads a directory's files). */
export function toPayload(value: unknown): CheckpointPayload {
  if (value instanceof Uint8Array) return { kind: 'bytes', bytes: value };
  if (value && typeof value === 'object' && typeof (value as Record<string, unknown>)[DIR_MARK] === 'string') {
    return { kind: 'directory', files: readTree((value as Record<string, string>)[DIR_MARK]) };
  }
  return { kind: 'json', value };
}

/** Writes a payload into `dir` (created). */
export function writePayload(dir: string, p: CheckpointPayload): void {
  mkdirSync(dir, { recursive: true });
  if (p.kind === 'json') writeFileSync(join(dir, 'checkpoint.json'), JSON.stringify(p.value));
  else if (p.kind === 'bytes') writeFileSync(join(dir, 'checkpoint.bin'), p.bytes);
  else {
    mkdirSync(join(dir, 'files'), { recursive: true });
    writeTree(join(dir, 'files'), p.files);
  }
}

/** Reads a payload written by {@link writePayload}. */
export function readPayload(dir: string): CheckpointPayload {
  const names = readdirSync(dir);
  if (names.includes('checkpoint.json')) return { kind: 'json', value: JSON.parse(readFileSync(join(dir, 'checkpoint.json'), 'utf8')) };
  if (names.includes('checkpoint.bin')) return { kind: 'bytes', bytes: new Uint8Array(readFileSync(join(dir, 'checkpoint.bin'))) };
  return { kind: 'directory', files: readTree(join(dir, 'files')) };
}

/** The value a trainable sees as `ctx.checkpoint` (a directory is written to `tmpDir`). */
export function fromPayload(p: CheckpointPayload, tmpDir: () => string): unknown {
  if (p.kind === 'json') return p.value;
  if (p.kind === 'bytes') return p.bytes;
  const dir = tmpDir();
  writeTree(dir, p.files);
  return { directory: dir };
}
