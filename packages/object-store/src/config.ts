/**
 * Store options, resolved once into a frozen form, and the default store size.
 */
import { statfsSync } from 'node:fs';
import os from 'node:os';
import { InvalidArgumentError } from '@samsara/ray-common';
import { ALIGNMENT } from './allocator.js';
import { DEFAULT_SHM_DIR } from './shm-area.js';
import type { ObjectStoreOptions } from './types.js';

/** Fraction of available memory a store takes by default (Ray: 30%). */
export const DEFAULT_MEMORY_FRACTION = 0.3;
/** Upper bound of the default (Ray: 200 GB). */
export const DEFAULT_MEMORY_MAX_BYTES = 200e9;
/** Lower bound of the default, so that a busy machine still gets a usable store. */
export const DEFAULT_MEMORY_MIN_BYTES = 64 * 1024 * 1024;
/** Share of the free space of /dev/shm the default may take (the rest is left to other programs). */
export const SHM_HEADROOM_FRACTION = 0.9;

/**
 * Default `--object-store-memory`: 30% of the memory available now (`os.availableMemory()` where Node has
 * it, else `os.freemem()`), at most 200 GB, at most 90% of the free space of /dev/shm (a tmpfs whose size
 * limits how much can be mapped), at least 64 MiB, rounded down to whole MiB. The same rule as Ray's
 * default, with Ray's 200 GB cap.
 */
export function defaultObjectStoreMemory(shmDir = DEFAULT_SHM_DIR): number {
  const osx = os as typeof os & { availableMemory?: () => number };
  const available = typeof osx.availableMemory === 'function' ? osx.availableMemory() : os.freemem();
  let bytes = Math.min(available * DEFAULT_MEMORY_FRACTION, DEFAULT_MEMORY_MAX_BYTES);
  try {
    const fs = statfsSync(shmDir);
    bytes = Math.min(bytes, fs.bavail * fs.bsize * SHM_HEADROOM_FRACTION);
  } catch {
    // no /dev/shm (the store then uses process memory): the RAM rule alone applies
  }
  const mib = 1024 * 1024;
  return Math.max(DEFAULT_MEMORY_MIN_BYTES, Math.floor(bytes / mib) * mib);
}

/** Options after defaults, frozen. */
export interface ResolvedStoreOptions {
  readonly capacityBytes: number;
  readonly spillDir: string;
  readonly spillThreshold: number;
  readonly spillingEnabled: boolean;
  readonly useSharedMemoryFile: boolean;
  readonly shmDir: string;
  readonly prefault: boolean;
}

const VALID_KEYS = ['capacityBytes', 'spillDir', 'spillThreshold', 'spillingEnabled', 'useSharedMemoryFile', 'shmDir', 'prefault'];

/** Checks and completes store options. @throws InvalidArgumentError naming the bad option and what is valid. */
export function resolveStoreOptions(opts: ObjectStoreOptions): ResolvedStoreOptions {
  if (typeof opts !== 'object' || opts === null) {
    throw new InvalidArgumentError('SharedObjectStore options must be an object.', { hint: `Valid keys: ${VALID_KEYS.join(', ')}.` });
  }
  const unknown = Object.keys(opts).filter((k) => !VALID_KEYS.includes(k));
  if (unknown.length > 0) {
    throw new InvalidArgumentError(`SharedObjectStore: unknown option ${unknown.map((k) => `"${k}"`).join(', ')}.`, {
      hint: `Valid keys: ${VALID_KEYS.join(', ')}.`,
    });
  }
  const cap = opts.capacityBytes;
  if (!Number.isSafeInteger(cap) || cap < ALIGNMENT) {
    throw new InvalidArgumentError(`SharedObjectStore: capacityBytes must be an integer ≥ ${ALIGNMENT}, got ${String(cap)}.`, {
      hint: 'Pass --object-store-memory in bytes, or use defaultObjectStoreMemory().',
    });
  }
  if (typeof opts.spillDir !== 'string' || opts.spillDir === '') {
    throw new InvalidArgumentError(`SharedObjectStore: spillDir must be a non-empty path, got ${String(opts.spillDir)}.`);
  }
  const threshold = opts.spillThreshold ?? 0.8;
  if (!(typeof threshold === 'number' && threshold > 0 && threshold <= 1)) {
    throw new InvalidArgumentError(`SharedObjectStore: spillThreshold must be in (0, 1], got ${String(threshold)}.`);
  }
  return Object.freeze({
    capacityBytes: Math.floor(cap / ALIGNMENT) * ALIGNMENT,
    spillDir: opts.spillDir,
    spillThreshold: threshold,
    spillingEnabled: opts.spillingEnabled ?? true,
    useSharedMemoryFile: opts.useSharedMemoryFile ?? true,
    shmDir: opts.shmDir ?? DEFAULT_SHM_DIR,
    prefault: opts.prefault ?? false,
  });
}
