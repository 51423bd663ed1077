/**
 * Wire format of the object data plane: a framed TCP protocol for object pulls between processes,
 * beside gRPC (see data-plane-server.ts and data-plane-client.ts, docs/object-store.md "Between nodes").
 *
 * Every control message is a frame `u32 payloadBytes | u8 type | payload` (big endian, payload at most
 * {@link MAX_FRAME_PAYLOAD_BYTES}). An OBJECT frame is followed by the object's raw bytes from the
 * requested offset to its end, unframed, so that the receiver can read them straight into its store.
 *
 * ```
 * client                                   server
 * HELLO  magic "RTDP", u16 version, u16 tokenBytes, token
 * PULL   f64 offset, u16 idBytes, objectId   (may follow HELLO at once)
 *                                          WELCOME u16 version          | ERROR AUTH, then close
 *                                          OBJECT  f64 totalBytes, f64 offset, u32 metaBytes, meta JSON,
 *                                                  then totalBytes - offset raw bytes
 *                                          | ERROR NOT_FOUND (the connection stays usable)
 * PULL ... (one at a time per connection; connections are reused)
 * ```
 * Anything else (bad magic, unknown type, oversized frame, a PULL before HELLO) is answered with
 * ERROR BAD_FRAME and the connection is closed.
 */

/** Protocol version spoken by this build (DataPlaneInfo.version). */
export const DATA_PLANE_VERSION = 1;
export const DATA_PLANE_MAGIC = 0x52544450; // "RTDP"

export const FRAME_HEADER_BYTES = 5;
/** Largest control payload either side accepts (tokens, ids and stored-form metadata are far smaller). */
export const MAX_FRAME_PAYLOAD_BYTES = 64 * 1024;
/** Longest object id a PULL may name. */
export const MAX_OBJECT_ID_BYTES = 1024;

export const FrameType = {
  HELLO: 0x01,
  PULL: 0x02,
  WELCOME: 0x81,
  OBJECT: 0x82,
  ERROR: 0xff,
} as const;

/** Codes of an ERROR frame. */
export const DataPlaneErrorCode = {
  AUTH: 1,
  BAD_FRAME: 2,
  NOT_FOUND: 3,
  INTERNAL: 4,
} as const;
export type DataPlaneErrorCode = (typeof DataPlaneErrorCode)[keyof typeof DataPlaneErrorCode];

/** A control frame as read from the wire. */
export interface Frame {
  readonly type: number;
  readonly payload: Buffer;
}

/** A malformed frame: the peer is not speaking this protocol (or this version of it). */
export class FrameError extends Error {}

function frame(type: number, payload: Buffer): Buffer {
  if (payload.length > MAX_FRAME_PAYLOAD_BYTES) throw new FrameError(`frame payload of ${payload.length} bytes is over ${MAX_FRAME_PAYLOAD_BYTES}`);
  const out = Buffer.allocUnsafe(FRAME_HEADER_BYTES + payload.length);
  out.writeUInt32BE(payload.length, 0);
  out.writeUInt8(type, 4);
  payload.copy(out, FRAME_HEADER_BYTES);
  return out;
}

export function encodeHello(token: string, version = DATA_PLANE_VERSION): Buffer {
  const t = Buffer.from(token, 'utf8');
  const p = Buffer.allocUnsafe(8 + t.length);
  p.writeUInt32BE(DATA_PLANE_MAGIC, 0);
  p.writeUInt16BE(version, 4);
  p.writeUInt16BE(t.length, 6);
  t.copy(p, 8);
  return frame(FrameType.HELLO, p);
}

export function decodeHello(payload: Buffer): { version: number; token: Buffer } {
  if (payload.length < 8 || payload.readUInt32BE(0) !== DATA_PLANE_MAGIC) throw new FrameError('HELLO without the RTDP magic');
  const version = payload.readUInt16BE(4);
  const n = payload.readUInt16BE(6);
  if (payload.length !== 8 + n) throw new FrameError(`HELLO token length ${n} does not match its frame`);
  return { version, token: payload.subarray(8) };
}

export function encodePull(objectId: string, offset: number): Buffer {
  const id = Buffer.from(objectId, 'utf8');
  const p = Buffer.allocUnsafe(10 + id.length);
  p.writeDoubleBE(offset, 0);
  p.writeUInt16BE(id.length, 8);
  id.copy(p, 10);
  return frame(FrameType.PULL, p);
}

export function decodePull(payload: Buffer): { objectId: string; offset: number } {
  if (payload.length < 10) throw new FrameError('PULL frame too short');
  const offset = payload.readDoubleBE(0);
  const n = payload.readUInt16BE(8);
  if (n === 0 || n > MAX_OBJECT_ID_BYTES || payload.length !== 10 + n) throw new FrameError(`PULL object id length ${n} is invalid`);
  if (!Number.isSafeInteger(offset) || offset < 0) throw new FrameError(`PULL offset ${offset} is not a non-negative integer`);
  return { objectId: payload.toString('utf8', 10), offset };
}

export function encodeWelcome(version = DATA_PLANE_VERSION): Buffer {
  const p = Buffer.allocUnsafe(2);
  p.writeUInt16BE(version, 0);
  return frame(FrameType.WELCOME, p);
}

export function encodeObjectHeader(totalBytes: number, offset: number, metaJson: string): Buffer {
  const m = Buffer.from(metaJson, 'utf8');
  const p = Buffer.allocUnsafe(20 + m.length);
  p.writeDoubleBE(totalBytes, 0);
  p.writeDoubleBE(offset, 8);
  p.writeUInt32BE(m.length, 16);
  m.copy(p, 20);
  return frame(FrameType.OBJECT, p);
}

export function decodeObjectHeader(payload: Buffer): { totalBytes: number; offset: number; meta: string } {
  if (payload.length < 20) throw new FrameError('OBJECT frame too short');
  const totalBytes = payload.readDoubleBE(0);
  const offset = payload.readDoubleBE(8);
  const n = payload.readUInt32BE(16);
  if (payload.length !== 20 + n) throw new FrameError('OBJECT meta length does not match its frame');
  if (!Number.isSafeInteger(totalBytes) || totalBytes < 0 || !Number.isSafeInteger(offset) || offset < 0 || offset > totalBytes) {
    throw new FrameError(`OBJECT header with offset ${offset} and size ${totalBytes} is invalid`);
  }
  return { totalBytes, offset, meta: payload.toString('utf8', 20) };
}

export function encodeError(code: DataPlaneErrorCode, message: string): Buffer {
  const m = Buffer.from(message.slice(0, 4096), 'utf8');
  const p = Buffer.allocUnsafe(2 + m.length);
  p.writeUInt16BE(code, 0);
  m.copy(p, 2);
  return frame(FrameType.ERROR, p);
}

export function decodeError(payload: Buffer): { code: number; message: string } {
  if (payload.length < 2) throw new FrameError('ERROR frame too short');
  return { code: payload.readUInt16BE(0), message: payload.toString('utf8', 2) };
}

/**
 * Cuts a byte stream into control frames, holding at most one partial frame (bounded by
 * {@link MAX_FRAME_PAYLOAD_BYTES}). Used by the server, which receives only control frames.
 */
export class FrameReader {
  private pending: Buffer = Buffer.alloc(0);

  /** Frames completed by `data`. @throws FrameError for a frame announced larger than the bound. */
  push(data: Buffer): Frame[] {
    let buf = this.pending.length ? Buffer.concat([this.pending, data]) : data;
    const out: Frame[] = [];
    while (buf.length >= FRAME_HEADER_BYTES) {
      const n = buf.readUInt32BE(0);
      if (n > MAX_FRAME_PAYLOAD_BYTES) throw new FrameError(`frame of ${n} bytes is over the ${MAX_FRAME_PAYLOAD_BYTES}-byte bound`);
      if (buf.length < FRAME_HEADER_BYTES + n) break;
      // Copied out: `data` belongs to the socket and the frame may outlive this call.
      out.push({ type: buf[4]!, payload: Buffer.from(buf.subarray(FRAME_HEADER_BYTES, FRAME_HEADER_BYTES + n)) });
      buf = buf.subarray(FRAME_HEADER_BYTES + n);
    }
    this.pending = buf.length ? Buffer.from(buf) : Buffer.alloc(0);
    return out;
  }
}
