/**
 * KvTable: the head's cluster KV (behind `kv.put/get/del/list`, api/kv.ts). Responsible for checking
 * what a peer sends (namespace, key, size), answering the four operations, and asking the state store
 * to persist each change before the put/delete is acknowledged. Not responsible for what a value
 * means: values are opaque bytes here (the public API prefixes a one-byte type tag, api/kv.ts).
 *
 * Entries live in the head's `kv` map under `<namespace>\0<key>`; NUL is refused in both parts, so the
 * split is unambiguous.
 */
import { InvalidArgumentError } from '@samsara/ray-common';
import type { rayts } from '@samsara/ray-proto';

/** Largest value `kv.put` accepts (bytes, or the UTF-8 bytes of a string): 4 MiB. */
export const KV_MAX_VALUE_BYTES = 4 * 1024 * 1024;
/** What the head stores per value: the value plus the public API's one-byte type tag. */
export const KV_MAX_STORED_BYTES = KV_MAX_VALUE_BYTES + 1;
export const KV_MAX_NAMESPACE_CHARS = 256;
export const KV_MAX_KEY_CHARS = 1024;

/**
 * Checks a namespace, key or prefix; returns a message saying what is wrong, or undefined.
 * A prefix may be empty; a namespace and a key may not.
 */
export function kvNameProblem(what: 'namespace' | 'key' | 'prefix', value: unknown): string | undefined {
  const max = what === 'namespace' ? KV_MAX_NAMESPACE_CHARS : KV_MAX_KEY_CHARS;
  if (typeof value !== 'string') return `the ${what} must be a string, got ${value === null ? 'null' : typeof value}`;
  if (value.length === 0 && what !== 'prefix') return `the ${what} must not be empty`;
  if (value.length > max) return `the ${what} is ${value.length} characters long, more than the ${max} allowed`;
  if (value.includes('\0')) return `the ${what} ${JSON.stringify(value)} contains a NUL character`;
  return undefined;
}

/** Persistence hooks: each resolves once the change is durable. */
export interface KvPersistence {
  put(storedKey: string, value: Uint8Array): Promise<void>;
  delete(storedKey: string): Promise<void>;
}

export class KvTable {
  constructor(
    private readonly entries: Map<string, Uint8Array>,
    private readonly persist?: () => KvPersistence | undefined,
  ) {}

  /** Answers one KvCall. Throws InvalidArgumentError for a bad request (the guard answers INVALID_ARGUMENT). */
  async call(r: rayts.IKvRequest): Promise<rayts.IKvReply> {
    const op = r.op ?? '';
    const ns = r.namespace ?? '';
    const key = r.key ?? '';
    const bad = kvNameProblem('namespace', ns) ?? kvNameProblem(op === 'keys' ? 'prefix' : 'key', key);
    if (bad) throw new InvalidArgumentError(`KV ${op || 'call'}: ${bad}.`, { ids: { namespace: String(ns).slice(0, 64) } });
    const stored = `${ns}\0${key}`;
    switch (op) {
      case 'put': {
        const value = r.value instanceof Uint8Array ? r.value : new Uint8Array(0);
        if (value.byteLength > KV_MAX_STORED_BYTES) {
          throw new InvalidArgumentError(
            `KV put of ${ns}/${key}: the value is ${value.byteLength - 1} bytes, more than the ${KV_MAX_VALUE_BYTES} bytes (4 MiB) allowed.`,
            { ids: { namespace: ns, key }, hint: 'Store large values as objects (put()) and keep their reference, or split them over several keys.' },
          );
        }
        // A copy: the decoded request may be a view into a larger receive buffer.
        const copy = new Uint8Array(value);
        this.entries.set(stored, copy);
        await this.persist?.()?.put(stored, copy);
        return { found: true };
      }
      case 'get': {
        const v = this.entries.get(stored);
        return { found: v !== undefined, value: v };
      }
      case 'delete': {
        const found = this.entries.delete(stored);
        if (found) await this.persist?.()?.delete(stored);
        return { found };
      }
      case 'keys': {
        const keys: string[] = [];
        for (const k of this.entries.keys()) if (k.startsWith(stored)) keys.push(k.slice(ns.length + 1));
        return { keys: keys.sort() };
      }
      default:
        throw new InvalidArgumentError(`KV op ${JSON.stringify(op)} is not one of put, get, delete, keys.`);
    }
  }
}
