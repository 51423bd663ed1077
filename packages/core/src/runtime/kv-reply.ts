/** The head's KvReply in the runtime's form (a driver and a node's bridge for worker threads share it). */
import type { KvReply } from './runtime.js';

interface WireKvReply {
  found?: boolean | null;
  value?: Uint8Array | null;
  keys?: string[] | null;
}

/** Copies the value out of the receive buffer (a decoded `bytes` field is a view into it). */
export function kvReplyOf(r: WireKvReply): KvReply {
  const value = r.found && r.value ? new Uint8Array(r.value) : undefined;
  return { found: !!r.found, value, keys: r.keys ?? [] };
}
