/**
 * The memory behind a store: one area, allocated once and reused for the store's lifetime.
 *
 * Responsible for: creating the area (a file in /dev/shm mapped by our native addon, exposed as a
 * SharedArrayBuffer; or, without the addon, a plain SharedArrayBuffer), mapping another process's area,
 * and giving the memory back on close. Not responsible for: what lives where inside it (see Allocator).
 *
 * The addon (`native/shm.cc`, built by node-gyp when the package is installed) uses the V8 API, so a build
 * serves one Node ABI. It is loaded from `build/abi-<process.versions.modules>/rayts_shm.node` (each
 * build leaves one there, for the Node that ran it), else `build/Release/rayts_shm.node` (the last build),
 * or `$RAYTS_OBJECT_STORE_ADDON`.
 * `RAYTS_OBJECT_STORE_NO_ADDON=1` ignores it (tests of the fallback).
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { InvalidArgumentError } from '@samsara/ray-common';

/**
 * How a store's memory is provided.
 * - `'shm'`: a file in /dev/shm mapped by the native addon; worker threads share it and other processes
 *   on the machine can map it (see {@link mapForeignArea}).
 * - `'heap'`: a plain SharedArrayBuffer (the addon is not built); worker threads share it, other processes
 *   cannot map it.
 */
export type AreaMode = 'shm' | 'heap';

interface NativeShm {
  create(path: string, size: number, prefault: boolean): SharedArrayBuffer;
  map(path: string): SharedArrayBuffer;
  discard(sab: SharedArrayBuffer): void;
  unlink(path: string): void;
  alias(sab: SharedArrayBuffer): ArrayBuffer;
}

let nativeCache: NativeShm | null | undefined;
let nativeLoadError: string | undefined;

/**
 * Absolute path of the compiled addon for this Node (it may not exist): the build for this Node's ABI
 * when there is one, else the last build; `RAYTS_OBJECT_STORE_ADDON` overrides it.
 */
export const NATIVE_ADDON_PATH = process.env.RAYTS_OBJECT_STORE_ADDON ?? defaultAddonPath();

function defaultAddonPath(): string {
  const forAbi = fileURLToPath(new URL(`../build/abi-${process.versions.modules}/rayts_shm.node`, import.meta.url));
  return existsSync(forAbi) ? forAbi : fileURLToPath(new URL('../build/Release/rayts_shm.node', import.meta.url));
}

function loadNative(): NativeShm | null {
  if (nativeCache !== undefined) return nativeCache;
  if (process.env.RAYTS_OBJECT_STORE_NO_ADDON === '1') {
    nativeLoadError = 'RAYTS_OBJECT_STORE_NO_ADDON=1 is set';
    return (nativeCache = null);
  }
  try {
    nativeCache = createRequire(import.meta.url)(NATIVE_ADDON_PATH) as NativeShm;
  } catch (e) {
    const msg = (e as Error).message;
    // Built for another Node: say how to build it for this one.
    nativeLoadError = /NODE_MODULE_VERSION/.test(msg)
      ? `${msg} Build it for this Node (ABI ${process.versions.modules}) with \`${process.execPath} ${fileURLToPath(new URL('../native/build.mjs', import.meta.url))}\`; builds for other versions are kept.`
      : msg;
    nativeCache = null;
  }
  return nativeCache;
}

/** Why the native addon is unavailable, or undefined when it loads. */
export function nativeAddonProblem(): string | undefined {
  loadNative();
  return nativeLoadError;
}

/** Default directory of area files. */
export const DEFAULT_SHM_DIR = '/dev/shm';
/** Area files are named `<prefix><pid>-<random>`, so stale ones of dead processes can be found. */
export const AREA_FILE_PREFIX = 'rayts-store-';

/** Options of {@link SharedArea.create}. */
export interface SharedAreaOptions {
  readonly capacityBytes: number;
  /** Use the /dev/shm file when the addon is available. Default true. */
  readonly useSharedMemoryFile?: boolean;
  /** Directory of the area file. Default /dev/shm. */
  readonly shmDir?: string;
  /** Touch every page at creation (MAP_POPULATE), so first puts run at warm-copy speed. Default false. */
  readonly prefault?: boolean;
}

/** One store's memory. */
export class SharedArea {
  private closed = false;

  /**
   * The area as bytes for the owner's own writes. In mode 'shm' this is a plain ArrayBuffer over the same
   * memory, because V8 copies into a SharedArrayBuffer with relaxed atomics (about half memcpy speed) and
   * into an ArrayBuffer with memcpy. Never hand it out: readers get views of {@link buffer}.
   */
  readonly writeBytes: Uint8Array;

  private constructor(
    /** The whole area; views of objects are subarrays of it. */
    readonly buffer: SharedArrayBuffer,
    readonly mode: AreaMode,
    /** The area file (mode 'shm'), or undefined. */
    readonly path: string | undefined,
    private readonly native: NativeShm | null,
  ) {
    this.writeBytes = new Uint8Array(native ? native.alias(buffer) : buffer);
  }

  /** Creates an area of `capacityBytes`; falls back to a plain SharedArrayBuffer without the addon. */
  static create(opts: SharedAreaOptions): SharedArea {
    const native = opts.useSharedMemoryFile === false ? null : loadNative();
    if (!native) {
      const sab = new SharedArrayBuffer(opts.capacityBytes);
      if (opts.prefault) new Uint8Array(sab).fill(0);
      return new SharedArea(sab, 'heap', undefined, null);
    }
    const dir = opts.shmDir ?? DEFAULT_SHM_DIR;
    const path = join(dir, `${AREA_FILE_PREFIX}${process.pid}-${randomBytes(6).toString('hex')}`);
    const sab = native.create(path, opts.capacityBytes, opts.prefault === true);
    return new SharedArea(sab, 'shm', path, native);
  }

  /**
   * Returns the memory now: the file is removed and (mode 'shm') its pages are replaced by zero pages, so
   * any view still held reads zeros instead of crashing. The mapping is unmapped when the last view is
   * garbage-collected. Idempotent.
   */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.native && this.path) {
      this.native.unlink(this.path);
      this.native.discard(this.buffer);
    }
  }
}

/** A read-only (copy-on-write) mapping of another process's area. */
export interface ForeignArea {
  /** The area; the owner's writes are visible, writes here stay private to this process. */
  readonly buffer: SharedArrayBuffer | ArrayBuffer;
  /** Drops the mapping; views still held read zeros afterwards. Idempotent. */
  close(): void;
}

/**
 * Maps another process's area (the `path` from `SharedObjectStore.locate`) for reading without a copy.
 * The mapping is private copy-on-write: the owner's objects are read in place, and a write through a view
 * only changes this process's copy of that page, never the store.
 *
 * @throws InvalidArgumentError when the native addon is not built or the file cannot be mapped.
 */
export function mapForeignArea(path: string): ForeignArea {
  const native = loadNative();
  if (!native) {
    throw new InvalidArgumentError(`Cannot map object store area ${path}: the native addon is not available (${nativeLoadError}).`, {
      hint: 'Build it with `npm rebuild -w @samsara/ray-object-store` (needs g++ and the Node headers), or read the object through the node instead.',
    });
  }
  let buffer: SharedArrayBuffer;
  try {
    buffer = native.map(path);
  } catch (e) {
    throw new InvalidArgumentError(`Cannot map object store area ${path}: ${(e as Error).message}.`, {
      cause: e,
      hint: 'Check that the node is alive and on this machine; its store path comes from locate().',
    });
  }
  let closed = false;
  return {
    buffer,
    close() {
      if (closed) return;
      closed = true;
      native.discard(buffer);
    },
  };
}

/**
 * Removes area files in `dir` left by processes that no longer exist (a node killed with SIGKILL cannot
 * remove its own). Returns the paths removed. Call it at node start.
 */
export function removeStaleAreas(dir = DEFAULT_SHM_DIR): string[] {
  const native = loadNative();
  if (!native || !existsSync(dir)) return [];
  const removed: string[] = [];
  for (const name of readdirSync(dir)) {
    if (!name.startsWith(AREA_FILE_PREFIX)) continue;
    const pid = Number(name.slice(AREA_FILE_PREFIX.length).split('-')[0]);
    if (!Number.isInteger(pid) || pid <= 0 || isAlive(pid)) continue;
    try {
      native.unlink(join(dir, name));
      removed.push(join(dir, name));
    } catch {
      // another process removed it first, or it is not ours to remove
    }
  }
  return removed;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}
