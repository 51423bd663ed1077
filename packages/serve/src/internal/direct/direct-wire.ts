/**
 * The direct path's wire format: length-prefixed msgpack frames on one TCP connection from a caller
 * process to a replica thread (see direct-server.ts and direct-client.ts). Only plain values travel on
 * it (see {@link plainKind}); anything else — ObjectRefs, Maps, class instances, thrown errors —
 * stays with the core, whose codec and reference bookkeeping handle them.
 *
 * Frames (each `[u32 big-endian length][msgpack array]`):
 *   caller → replica  HELLO   [0, secret, replicaId, processKey, linkId]   the last two offer a LocalLink
 *   replica → caller  WELCOME [1, ok, replicaId]                          (also sent on the link, see local-link.ts)
 *   caller → replica  REQUEST [2, id, kind, method, requestId, payload]   kind 0 = HTTP, 1 = method call
 *   replica → caller  REPLY   [3, id, status, value]                      status 0 = value, 1 = held (value = hold id)
 *
 * The common frames — an HTTP request and the HTTP reply to it — skip msgpack: their payload starts
 * with a tag byte msgpack never starts an array with (0x01, 0x02) and carries the fields at fixed
 * places (see {@link encodeHttpRequest}, {@link encodeHttpReply}); they decode to the same arrays as
 * above, so the rest of the code sees one shape. In memory the server queues an HTTP reply as
 * `[4, id, response]` (FrameType.httpReply) and a value holding a Node Buffer as `[5, id, value]`
 * (FrameType.bufferReply: never on the LocalLink, whose clone would make its Buffers plain
 * Uint8Arrays); both are encoded as a REPLY.
 */
import { readFileSync, readlinkSync } from 'node:fs';
import { hostname } from 'node:os';
import { Packr } from 'msgpackr';
import type { HttpRequestData, HttpResponseData } from '../spec.js';
// The endpoint is routing-table data (spec.ts); named here too for the direct path's modules.
export type { DirectEndpoint } from '../spec.js';

export const FrameType = { hello: 0, welcome: 1, request: 2, reply: 3, httpReply: 4, bufferReply: 5 } as const;
export const RequestKind = { http: 0, call: 1 } as const;
export const ReplyStatus = { value: 0, held: 1 } as const;

/** Largest frame either side accepts (a request body is limited by the proxy far below this). */
export const MAX_FRAME_BYTES = 256 * 1024 * 1024;

// moreTypes: a Uint8Array comes back a Uint8Array and a Buffer a Buffer, as through the core's codec.
const packr = new Packr({ useRecords: false, moreTypes: true, structuredClone: false } as never);

const TAG_HTTP_REQUEST = 0x01;
const TAG_HTTP_REPLY = 0x02;

/** Bytes a string takes at most in UTF-8, plus its u32 length. */
const strBound = (v: string): number => 4 + v.length * 3;

function headersBound(headers: unknown): number {
  if (!Array.isArray(headers) || headers.length > 0xffff) return -1;
  let n = 2;
  for (let i = 0; i < headers.length; i++) {
    const h = headers[i] as unknown;
    if (!Array.isArray(h) || h.length !== 2 || typeof h[0] !== 'string' || typeof h[1] !== 'string') return -1;
    n += strBound(h[0]) + strBound(h[1]);
  }
  return n;
}

/** Upper bound of an HTTP request frame's payload, or -1 when it is not the common shape (msgpack then). */
function httpRequestBound(m: readonly unknown[]): number {
  if (m.length !== 6 || typeof m[1] !== 'number' || typeof m[4] !== 'string') return -1;
  const d = m[5] as Record<string, unknown> | null;
  if (d === null || typeof d !== 'object' || typeof d.method !== 'string' || typeof d.url !== 'string') return -1;
  const body = d.body;
  if (body !== null && !(body instanceof Uint8Array)) return -1;
  const hb = headersBound(d.headers);
  if (hb < 0) return -1;
  return 1 + 4 + strBound(m[4]) + strBound(d.method) + strBound(d.url) + hb + 1 + (body === null ? 0 : 4 + body.byteLength);
}

/** Upper bound of an HTTP reply frame's payload, or -1 when the response is not the common shape. */
function httpReplyBound(m: readonly unknown[]): number {
  const r = m[2] as Record<string, unknown> | null;
  if (r === null || typeof r !== 'object' || Object.getPrototypeOf(r) !== Object.prototype) return -1;
  const status = r.status;
  if (typeof status !== 'number' || !Number.isInteger(status) || status < 0 || status > 0xffff) return -1;
  let keys = 0;
  for (const k in r) {
    keys++;
    if (k !== 'status' && k !== 'headers' && k !== 'body' && k !== 'error' && k !== 'stream') return -1;
  }
  if (keys < 3 || (r.error !== undefined && typeof r.error !== 'boolean') || (r.stream !== undefined && typeof r.stream !== 'boolean')) return -1;
  const body = r.body;
  const bb = typeof body === 'string' ? strBound(body) : body instanceof Uint8Array ? 4 + body.byteLength : -1;
  const hb = headersBound(r.headers);
  if (bb < 0 || hb < 0) return -1;
  return 1 + 4 + 2 + 1 + hb + 1 + bb;
}

function writeStr(buf: Buffer, off: number, v: string): number {
  const n = buf.write(v, off + 4, 'utf8');
  buf.writeUInt32LE(n, off);
  return off + 4 + n;
}

function writeHeaders(buf: Buffer, off: number, headers: readonly (readonly [string, string])[]): number {
  buf.writeUInt16LE(headers.length, off);
  off += 2;
  for (let i = 0; i < headers.length; i++) {
    off = writeStr(buf, off, headers[i][0]);
    off = writeStr(buf, off, headers[i][1]);
  }
  return off;
}

function writeBytes(buf: Buffer, off: number, v: Uint8Array): number {
  buf.writeUInt32LE(v.byteLength, off);
  buf.set(v, off + 4);
  return off + 4 + v.byteLength;
}

/** HTTP request payload: tag, id u32, requestId, method, url, headers (u16 count, pairs), body (0 | 1 + bytes). */
function encodeHttpRequest(buf: Buffer, off: number, m: readonly unknown[]): number {
  const d = m[5] as HttpRequestData;
  buf[off++] = TAG_HTTP_REQUEST;
  buf.writeUInt32LE(m[1] as number, off);
  off = writeStr(buf, off + 4, m[4] as string);
  off = writeStr(buf, off, d.method);
  off = writeStr(buf, off, d.url);
  off = writeHeaders(buf, off, d.headers);
  if (d.body === null) {
    buf[off++] = 0;
    return off;
  }
  buf[off++] = 1;
  return writeBytes(buf, off, d.body);
}

/** HTTP reply payload: tag, id u32, status u16, flags (1 error, 2 stream), headers, body (0 string | 1 bytes). */
function encodeHttpReply(buf: Buffer, off: number, m: readonly unknown[]): number {
  const r = m[2] as HttpResponseData;
  buf[off++] = TAG_HTTP_REPLY;
  buf.writeUInt32LE(m[1] as number, off);
  buf.writeUInt16LE(r.status, off + 4);
  buf[off + 6] = (r.error === true ? 1 : 0) | (r.stream === true ? 2 : 0) | (r.error === false ? 4 : 0) | (r.stream === false ? 8 : 0);
  off = writeHeaders(buf, off + 7, r.headers);
  if (typeof r.body === 'string') {
    buf[off++] = 0;
    return writeStr(buf, off, r.body);
  }
  buf[off++] = 1;
  return writeBytes(buf, off, r.body);
}

/** Appends the frames of `msgs` to one buffer (one socket write for everything queued in a turn). */
export function encodeFrames(msgs: readonly unknown[]): Buffer {
  const bounds = new Array<number>(msgs.length);
  const packed = new Array<Buffer | undefined>(msgs.length);
  let cap = 0;
  for (let i = 0; i < msgs.length; i++) {
    const m = msgs[i] as unknown[];
    let b = -1;
    if (m[0] === FrameType.request && m[2] === RequestKind.http) b = httpRequestBound(m);
    else if (m[0] === FrameType.httpReply) b = httpReplyBound(m);
    if (b < 0) {
      // msgpack copies out of its scratch buffer: the next pack reuses it.
      const p = Buffer.from(packr.pack(m[0] === FrameType.httpReply || m[0] === FrameType.bufferReply ? [FrameType.reply, m[1], ReplyStatus.value, m[2]] : m));
      packed[i] = p;
      b = p.length;
    }
    bounds[i] = b;
    cap += 4 + b;
  }
  const buf = Buffer.allocUnsafe(cap);
  let off = 0;
  for (let i = 0; i < msgs.length; i++) {
    const m = msgs[i] as unknown[];
    const start = off + 4;
    const p = packed[i];
    let end: number;
    if (p) {
      p.copy(buf, start);
      end = start + p.length;
    } else if (m[0] === FrameType.httpReply) end = encodeHttpReply(buf, start, m);
    else end = encodeHttpRequest(buf, start, m);
    buf.writeUInt32BE(end - start, off);
    off = end;
  }
  return off === cap ? buf : buf.subarray(0, off);
}

/** Reads the fixed-layout payloads (see encodeHttpRequest / encodeHttpReply) back into frame arrays. */
class FixedReader {
  constructor(
    private readonly buf: Buffer,
    public off: number,
    private readonly end: number,
  ) {}
  private need(n: number): void {
    if (this.off + n > this.end) throw new RangeError('truncated frame');
  }
  u8(): number {
    this.need(1);
    return this.buf[this.off++];
  }
  u16(): number {
    this.need(2);
    const v = this.buf.readUInt16LE(this.off);
    this.off += 2;
    return v;
  }
  u32(): number {
    this.need(4);
    const v = this.buf.readUInt32LE(this.off);
    this.off += 4;
    return v;
  }
  str(): string {
    const n = this.u32();
    this.need(n);
    const v = this.buf.toString('utf8', this.off, this.off + n);
    this.off += n;
    return v;
  }
  bytes(): Buffer {
    const n = this.u32();
    this.need(n);
    // A copy: a view would keep the whole socket chunk alive with it.
    const v = Buffer.from(this.buf.subarray(this.off, this.off + n));
    this.off += n;
    return v;
  }
  headers(): [string, string][] {
    const n = this.u16();
    const out = new Array<[string, string]>(n);
    for (let i = 0; i < n; i++) out[i] = [this.str(), this.str()];
    return out;
  }
}

function decodeFixed(buf: Buffer, start: number, end: number): unknown[] {
  const r = new FixedReader(buf, start + 1, end);
  let msg: unknown[];
  if (buf[start] === TAG_HTTP_REQUEST) {
    const id = r.u32();
    const requestId = r.str();
    const method = r.str();
    const url = r.str();
    const headers = r.headers();
    const body = r.u8() === 0 ? null : r.bytes();
    msg = [FrameType.request, id, RequestKind.http, null, requestId, { method, url, headers, body }];
  } else {
    const id = r.u32();
    const status = r.u16();
    const flags = r.u8();
    const headers = r.headers();
    const body = r.u8() === 0 ? r.str() : r.bytes();
    const res: Record<string, unknown> = { status, headers, body };
    if (flags & 5) res.error = (flags & 1) !== 0;
    if (flags & 10) res.stream = (flags & 2) !== 0;
    msg = [FrameType.reply, id, ReplyStatus.value, res];
  }
  if (r.off !== end) throw new RangeError('frame has bytes left over');
  return msg;
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
      const tag = len > 0 ? this.buf[off + 4] : -1;
      const msg = tag === TAG_HTTP_REQUEST || tag === TAG_HTTP_REPLY ? decodeFixed(this.buf, off + 4, off + 4 + len) : (packr.unpack(this.buf.subarray(off + 4, off + 4 + len)) as unknown);
      off += 4 + len;
      if (!Array.isArray(msg)) throw new TypeError('frame is not an array');
      onFrame(msg);
    }
    this.buf = off === this.buf.length ? Buffer.alloc(0) : this.buf.subarray(off);
  }
}

/** What {@link plainKind} found: not plain, plain, or plain with a Node Buffer somewhere in it. */
export const Plain = { no: 0, yes: 1, withBuffer: 2 } as const;

/**
 * Whether `v` travels on the direct path unchanged: null/undefined, booleans, numbers, strings, bytes
 * (Uint8Array/Buffer), Dates, and arrays and plain objects of those, nested at most 32 deep
 * ({@link Plain.no} otherwise). {@link Plain.withBuffer} marks values holding a Buffer: they go as TCP
 * frames, not on the LocalLink, whose structured clone would hand the receiver a plain Uint8Array.
 */
export function plainKind(v: unknown, depth = 0): number {
  if (v === null || v === undefined) return Plain.yes;
  const t = typeof v;
  if (t === 'string' || t === 'number' || t === 'boolean') return Plain.yes;
  if (t !== 'object' || depth > 32) return Plain.no;
  let kind: number = Plain.yes;
  if (Array.isArray(v)) {
    for (const x of v) {
      const k = plainKind(x, depth + 1);
      if (k === Plain.no) return k;
      if (k === Plain.withBuffer) kind = k;
    }
    return kind;
  }
  if (v instanceof Uint8Array) return v.constructor === Uint8Array ? Plain.yes : Buffer.isBuffer(v) ? Plain.withBuffer : Plain.no;
  if (v instanceof Date) return Plain.yes;
  const proto = Object.getPrototypeOf(v);
  if (proto !== Object.prototype && proto !== null) return Plain.no;
  for (const k in v as Record<string, unknown>) {
    const p = plainKind((v as Record<string, unknown>)[k], depth + 1);
    if (p === Plain.no) return p;
    if (p === Plain.withBuffer) kind = p;
  }
  return kind;
}

let key: string | undefined;
/** This process's `kind` namespace (as /proc/self/ns names it), or '' where there are none to tell apart. */
export function namespaceOf(kind: 'net' | 'pid'): string {
  try {
    return readlinkSync(`/proc/self/ns/${kind}`);
  } catch {
    return '';
  }
}

/**
 * The identity of this machine's loopback for {@link DirectEndpoint.hostKey}: the kernel's boot id
 * and the network namespace (containers on one machine each have their own 127.0.0.1), else the
 * host name. A wrong guess costs little: a connection that does not reach the replica falls back.
 */
export function machineKey(): string {
  if (key) return key;
  try {
    key = `boot:${readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim()}/${namespaceOf('net')}`;
  } catch {
    key = `host:${hostname()}`;
  }
  return key;
}

/**
 * True when `v` is an HTTP reply the wire carries in its fixed layout (status, string headers, a
 * string or byte body); anything else goes as msgpack after the plain-value check.
 */
export function isHttpResponse(v: unknown): v is HttpResponseData {
  return v !== null && typeof v === 'object' && httpReplyBound([FrameType.httpReply, 0, v]) >= 0;
}
