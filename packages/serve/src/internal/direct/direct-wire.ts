/**
 * The direct path's wire format: length-prefixed msgpack frames on one TCP connection from a caller
 * process to a replica thread (see direct-server.ts and direct-client.ts). Only plain values travel on
 * it (see {@link isPlainValue}); anything else — ObjectRefs, Maps, class instances, thrown errors —
 * stays with the core, whose codec and reference bookkeeping handle them.
 *
 * Frames (each `[u32 big-endian length][msgpack array]`):
 *   caller → replica  HELLO   [0, secret, replicaId]
 *   replica → caller  WELCOME [1, ok, replicaId]
 *   caller → replica  REQUEST [2, id, kind, method, requestId, payload]   kind 0 = HTTP, 1 = method call
 *   replica → caller  REPLY   [3, id, status, value]                      status 0 = value, 1 = held (value = hold id)
 */
import { readFileSync, readlinkSync } from 'node:fs';
import { hostname } from 'node:os';
import { Packr } from 'msgpackr';

export const FrameType = { hello: 0, welcome: 1, request: 2, reply: 3 } as const;
export const RequestKind = { http: 0, call: 1 } as const;
export const ReplyStatus = { value: 0, held: 1 } as const;

/** Where a caller reaches a replica directly; published in the deployment's routing table. */
export interface DirectEndpoint {
  readonly host: string;
  readonly port: number;
  /** Identifies the machine: callers on another machine use the core's actor calls instead. */
  readonly hostKey: string;
  /** Random per replica; a connection that does not present it is closed. */
  readonly secret: string;
}

/** Largest frame either side accepts (a request body is limited by the proxy far below this). */
export const MAX_FRAME_BYTES = 256 * 1024 * 1024;

const packr = new Packr({ useRecords: false, moreTypes: false, structuredClone: false } as never);

/** Appends the frames of `msgs` to one buffer (one socket write for everything queued in a turn). */
export function encodeFrames(msgs: readonly unknown[]): Buffer {
  const parts: Buffer[] = [];
  for (const m of msgs) {
    const body = packr.pack(m);
    const head = Buffer.allocUnsafe(4);
    head.writeUInt32BE(body.length, 0);
    parts.push(head, Buffer.from(body));
  }
  return Buffer.concat(parts);
}

/**
 * Splits a byte stream into decoded frames; throws on a frame over the limit or bytes that do not
 * decode. The chunks of a frame that is not complete yet are kept aside and joined once it is (a large
 * body is copied once, not once per chunk).
 */
export class FrameReader {
  private buf: Buffer = Buffer.alloc(0);
  private waiting: Buffer[] = [];
  private waitingBytes = 0;
  /** Bytes `buf` must hold before the next frame can be read (0: parse what there is). */
  private need = 0;
  /** Largest frame accepted now (a server lowers it until the peer has authenticated). */
  maxFrameBytes = MAX_FRAME_BYTES;

  push(chunk: Buffer, onFrame: (msg: unknown[]) => void): void {
    if (this.need > 0) {
      this.waiting.push(chunk);
      this.waitingBytes += chunk.length;
      if (this.buf.length + this.waitingBytes < this.need) return;
      this.buf = Buffer.concat([this.buf, ...this.waiting]);
      this.waiting = [];
      this.waitingBytes = 0;
      this.need = 0;
    } else {
      this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    }
    let off = 0;
    while (this.buf.length - off >= 4) {
      const len = this.buf.readUInt32BE(off);
      if (len > this.maxFrameBytes) throw new RangeError(`frame of ${len} bytes is over the limit of ${this.maxFrameBytes}`);
      if (this.buf.length - off - 4 < len) {
        this.need = 4 + len;
        break;
      }
      const msg = packr.unpack(this.buf.subarray(off + 4, off + 4 + len)) as unknown;
      off += 4 + len;
      if (!Array.isArray(msg)) throw new TypeError('frame is not an array');
      onFrame(msg);
    }
    this.buf = off === this.buf.length ? Buffer.alloc(0) : this.buf.subarray(off);
  }
}

/**
 * True when `v` travels on the direct path unchanged: null/undefined, booleans, numbers, strings, bytes
 * (Uint8Array/Buffer), Dates, and arrays and plain objects of those, nested at most 32 deep.
 */
export function isPlainValue(v: unknown, depth = 0): boolean {
  if (v === null || v === undefined) return true;
  const t = typeof v;
  if (t === 'string' || t === 'number' || t === 'boolean') return true;
  if (t !== 'object' || depth > 32) return false;
  if (Array.isArray(v)) {
    for (const x of v) if (!isPlainValue(x, depth + 1)) return false;
    return true;
  }
  if (v instanceof Uint8Array) return v.constructor === Uint8Array || Buffer.isBuffer(v);
  if (v instanceof Date) return true;
  const proto = Object.getPrototypeOf(v);
  if (proto !== Object.prototype && proto !== null) return false;
  for (const k in v as Record<string, unknown>) if (!isPlainValue((v as Record<string, unknown>)[k], depth + 1)) return false;
  return true;
}

let key: string | undefined;
/**
 * The identity of this machine's loopback for {@link DirectEndpoint.hostKey}: the kernel's boot id
 * and the network namespace (containers on one machine each have their own 127.0.0.1), else the
 * host name. A wrong guess costs little: a connection that does not reach the replica falls back.
 */
export function machineKey(): string {
  if (key) return key;
  try {
    let netns = '';
    try {
      netns = readlinkSync('/proc/self/ns/net');
    } catch {
      /* no namespaces to tell apart */
    }
    key = `boot:${readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim()}/${netns}`;
  } catch {
    key = `host:${hostname()}`;
  }
  return key;
}
