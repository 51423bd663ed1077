/**
 * The cluster KV (Ray's internal KV): small named values kept by the head, shared by every driver,
 * task and actor of the cluster and persisted with the head's state, so they survive a head restart
 * (docs/head-restart.md). Libraries keep their metadata here (Serve's app configs, the dashboard's
 * page sections, Tune's experiment index).
 *
 * Values are bytes or strings, at most {@link KV_MAX_VALUE_BYTES} (4 MiB). `get` gives back the kind
 * that was put: a string stays a string, a Buffer comes back as a Buffer, a Uint8Array as a Uint8Array
 * (the head stores a one-byte type tag in front of the bytes). Objects go in as JSON strings.
 *
 * @example
 * import { kv } from '@samsara/ray';
 * await kv.put('serve', 'app/detector', JSON.stringify(config));
 * const text = await kv.get('serve', 'app/detector');        // string | undefined
 * await kv.list('serve', 'app/');                              // ['app/detector']
 * await kv.del('serve', 'app/detector');                       // true (it existed)
 */
import { InvalidArgumentError, describe } from '@samsara/ray-common';
import { requireRuntime } from '../runtime/runtime.js';
import { KV_MAX_VALUE_BYTES, kvNameProblem } from '../head/kv-table.js';

export { KV_MAX_VALUE_BYTES };

/** What `kv.put` stores and `kv.get` returns. */
export type KvValue = string | Uint8Array;

/** Type tags (first stored byte). */
const TAG_BYTES = 1;
const TAG_BUFFER = 2;
const TAG_STRING = 3;

function checkName(what: 'namespace' | 'key' | 'prefix', value: unknown, call: string): string {
  const bad = kvNameProblem(what, value);
  if (bad) {
    throw new InvalidArgumentError(`${call}: ${bad}.`, {
      hint: 'Namespaces are 1–256 characters and keys 1–1024 characters, without NUL.',
    });
  }
  return value as string;
}

function encode(namespace: string, key: string, value: unknown): Uint8Array {
  let tag: number;
  let body: Uint8Array;
  if (typeof value === 'string') {
    tag = TAG_STRING;
    body = Buffer.from(value, 'utf8');
  } else if (Buffer.isBuffer(value)) {
    tag = TAG_BUFFER;
    body = value;
  } else if (value instanceof Uint8Array) {
    tag = TAG_BYTES;
    body = value;
  } else {
    throw new InvalidArgumentError(`kv.put(${JSON.stringify(namespace)}, ${JSON.stringify(key)}): the value must be a string, a Uint8Array or a Buffer, got ${describe(value)}.`, {
      hint: 'Store objects as JSON.stringify(value), other typed arrays as new Uint8Array(x.buffer, x.byteOffset, x.byteLength).',
      ids: { namespace, key },
    });
  }
  if (body.byteLength > KV_MAX_VALUE_BYTES) {
    throw new InvalidArgumentError(
      `kv.put(${JSON.stringify(namespace)}, ${JSON.stringify(key)}): the value is ${body.byteLength} bytes, more than the ${KV_MAX_VALUE_BYTES} bytes (4 MiB) allowed.`,
      { hint: 'Store large values as objects (put()) and keep their reference, or split them over several keys.', ids: { namespace, key } },
    );
  }
  const out = new Uint8Array(body.byteLength + 1);
  out[0] = tag;
  out.set(body, 1);
  return out;
}

function decode(stored: Uint8Array): KvValue {
  const body = stored.subarray(1);
  switch (stored[0]) {
    case TAG_STRING:
      return Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('utf8');
    case TAG_BUFFER:
      return Buffer.from(body.buffer, body.byteOffset, body.byteLength);
    default:
      // Tagged bytes, or an entry written without the public API (raw bytes): returned as they are.
      return stored[0] === TAG_BYTES ? body : stored;
  }
}

/** The cluster KV. Every call needs a running runtime (a driver after `init()`, or code in a task or actor). */
export const kv = Object.freeze({
  /**
   * Stores `value` under `namespace`/`key`, replacing what was there. Resolves once the head has it
   * (and, on a CLI cluster, once it is on disk). Throws InvalidArgumentError for a bad namespace or
   * key, a value that is not a string/Uint8Array/Buffer, or one larger than 4 MiB.
   */
  async put(namespace: string, key: string, value: KvValue): Promise<void> {
    checkName('namespace', namespace, 'kv.put()');
    checkName('key', key, 'kv.put()');
    const bytes = encode(namespace, key, value);
    await requireRuntime('kv.put()').kvCall({ op: 'put', namespace, key, value: bytes });
  },

  /** The value under `namespace`/`key` (a string if a string was put, else bytes), or undefined. */
  async get(namespace: string, key: string): Promise<KvValue | undefined> {
    checkName('namespace', namespace, 'kv.get()');
    checkName('key', key, 'kv.get()');
    const r = await requireRuntime('kv.get()').kvCall({ op: 'get', namespace, key });
    return r.found && r.value ? decode(r.value) : undefined;
  },

  /** Deletes `namespace`/`key`; resolves true if it existed. */
  async del(namespace: string, key: string): Promise<boolean> {
    checkName('namespace', namespace, 'kv.del()');
    checkName('key', key, 'kv.del()');
    return (await requireRuntime('kv.del()').kvCall({ op: 'delete', namespace, key })).found;
  },

  /** The keys of `namespace` that start with `prefix` ('' for all), sorted. */
  async list(namespace: string, prefix = ''): Promise<string[]> {
    checkName('namespace', namespace, 'kv.list()');
    checkName('prefix', prefix, 'kv.list()');
    return (await requireRuntime('kv.list()').kvCall({ op: 'keys', namespace, key: prefix })).keys;
  },
});

/** The type of {@link kv}. */
export type Kv = typeof kv;
