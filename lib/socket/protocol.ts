/**
 * The zsync-streams socket protocol, version 1: length-prefixed binary frames
 * over one duplex byte stream. Every frame is
 *
 *     u32 length (big-endian; counts the type byte and the payload)  u8 type  payload
 *
 * and both sides refuse a frame longer than their bound before buffering it.
 * Offsets and range ends are u64 big-endian (below 2^53). See the README's
 * "Sync over a socket" for the exchange.
 */
import { printable } from '../errors.js';
import { ProtocolError } from './errors.js';

export const PROTOCOL_VERSION = 1;
/** First bytes of every HELLO payload: a peer speaking something else is told at once. */
export const MAGIC = Buffer.from('ZSYN', 'latin1');

export const FrameType = {
  /** Both ways, first: magic, u16 version; client: utf-8 name of the file wanted (may be empty). */
  HELLO: 1,
  /** Server: u32 version id, u8 last (1 on the final piece), a piece of that version's .zsync bytes. */
  CONTROL: 2,
  /** Client: u32 request id, u32 version id, then (u64 start, u64 end) pairs, ascending. */
  WANT: 3,
  /** Server: u32 request id, u64 offset, bytes of the file at that offset. */
  DATA: 4,
  /** Server: u32 request id: every byte of that WANT was sent. */
  DONE: 5,
  /** Either: u32 request id (0: the session ends), u8 code length, code (ascii), message (utf-8). */
  ERROR: 6,
  /** Client: it is leaving; the server closes the session. */
  BYE: 7,
  /** Server, empty: still here (a version the client waits for is being computed). */
  PING: 8,
} as const;
export type FrameTypeCode = (typeof FrameType)[keyof typeof FrameType];

/** Largest file data in one DATA frame, and .zsync bytes in one CONTROL frame, a server sends: 1 MiB. */
export const MAX_CHUNK_BYTES = 1 << 20;

export interface Frame {
  type: FrameTypeCode;
  payload: Buffer;
}

const HEADER = 5;

/** A frame on the wire: header and payload, as one buffer or two. */
export function frame(type: FrameTypeCode, ...parts: Uint8Array[]): Buffer[] {
  const length = 1 + parts.reduce((n, p) => n + p.length, 0);
  const head = Buffer.allocUnsafe(HEADER);
  head.writeUInt32BE(length, 0);
  head.writeUInt8(type, 4);
  return [head, ...parts.map((p) => (Buffer.isBuffer(p) ? p : Buffer.from(p.buffer, p.byteOffset, p.length)))];
}

export function helloPayload(name = ''): Buffer {
  const n = Buffer.from(name, 'utf8');
  const b = Buffer.allocUnsafe(MAGIC.length + 2 + n.length);
  MAGIC.copy(b, 0);
  b.writeUInt16BE(PROTOCOL_VERSION, MAGIC.length);
  n.copy(b, MAGIC.length + 2);
  return b;
}

export function parseHello(p: Buffer): { version: number; name: string } {
  if (p.length < MAGIC.length + 2 || !p.subarray(0, MAGIC.length).equals(MAGIC)) throw new ProtocolError('the peer does not speak the zsync-streams protocol (bad HELLO)');
  const version = p.readUInt16BE(MAGIC.length);
  if (version !== PROTOCOL_VERSION) throw new ProtocolError(`the peer speaks protocol version ${version}, we speak ${PROTOCOL_VERSION}`, 'ERR_ZSYNC_PROTOCOL_VERSION');
  return { version, name: p.subarray(MAGIC.length + 2).toString('utf8') };
}

export function controlHead(version: number, last: boolean): Buffer {
  const b = Buffer.allocUnsafe(5);
  b.writeUInt32BE(version, 0);
  b.writeUInt8(last ? 1 : 0, 4);
  return b;
}

export function parseControl(p: Buffer): { version: number; last: boolean; data: Buffer } {
  if (p.length < 5) throw new ProtocolError('short CONTROL frame');
  const last = p.readUInt8(4);
  if (last > 1) throw new ProtocolError('bad CONTROL flag');
  return { version: p.readUInt32BE(0), last: last === 1, data: p.subarray(5) };
}

export interface Range {
  start: number;
  end: number;
}

export function wantPayload(request: number, version: number, ranges: readonly Range[]): Buffer {
  const b = Buffer.allocUnsafe(8 + ranges.length * 16);
  b.writeUInt32BE(request, 0);
  b.writeUInt32BE(version, 4);
  ranges.forEach((r, i) => {
    b.writeBigUInt64BE(BigInt(r.start), 8 + i * 16);
    b.writeBigUInt64BE(BigInt(r.end), 16 + i * 16);
  });
  return b;
}

/** A WANT's ranges, checked: ascending, not overlapping, not empty, within `length`. */
export function parseWant(p: Buffer, length: number): { request: number; version: number; ranges: Range[] } {
  if (p.length < 24 || (p.length - 8) % 16 !== 0) throw new ProtocolError('malformed WANT frame');
  const request = p.readUInt32BE(0);
  if (request === 0) throw new ProtocolError('WANT with request id 0');
  const ranges: Range[] = [];
  let previous = 0;
  for (let at = 8; at < p.length; at += 16) {
    const start = readOffset(p, at);
    const end = readOffset(p, at + 8);
    if (start >= end || start < previous || end > length) throw new ProtocolError(`WANT range ${start}-${end} is empty, out of order or past the end (${length})`);
    ranges.push({ start, end });
    previous = end;
  }
  return { request, version: p.readUInt32BE(4), ranges };
}

/** How many ranges fit in one WANT frame of at most `maxFrame` bytes. */
export function rangesPerWant(maxFrame: number): number {
  return Math.max(1, Math.floor((maxFrame - 1 - 8) / 16));
}

export function dataHead(request: number, offset: number): Buffer {
  const b = Buffer.allocUnsafe(12);
  b.writeUInt32BE(request, 0);
  b.writeBigUInt64BE(BigInt(offset), 4);
  return b;
}

export function parseData(p: Buffer): { request: number; offset: number; data: Buffer } {
  if (p.length < 12) throw new ProtocolError('short DATA frame');
  return { request: p.readUInt32BE(0), offset: readOffset(p, 4), data: p.subarray(12) };
}

export function requestPayload(request: number): Buffer {
  const b = Buffer.allocUnsafe(4);
  b.writeUInt32BE(request, 0);
  return b;
}

export function parseRequest(p: Buffer): number {
  if (p.length !== 4) throw new ProtocolError('malformed DONE frame');
  return p.readUInt32BE(0);
}

export function errorPayload(request: number, code: string, message: string): Buffer {
  const c = Buffer.from(code.slice(0, 255), 'latin1');
  const m = Buffer.from(message.slice(0, 1000), 'utf8');
  const b = Buffer.allocUnsafe(5 + c.length + m.length);
  b.writeUInt32BE(request, 0);
  b.writeUInt8(c.length, 4);
  c.copy(b, 5);
  m.copy(b, 5 + c.length);
  return b;
}

/**
 * An ERROR frame's fields, made safe to print: the peer's words end up on
 * terminals and in logs, so control characters (escape sequences) are
 * replaced, and a code that is not of our ERR_ZSYNC_* shape becomes ERR_ZSYNC_PEER.
 */
export function parseError(p: Buffer): { request: number; code: string; message: string } {
  if (p.length < 5 || p.length < 5 + p.readUInt8(4)) throw new ProtocolError('malformed ERROR frame');
  const n = p.readUInt8(4);
  const code = p.subarray(5, 5 + n).toString('latin1');
  return {
    request: p.readUInt32BE(0),
    code: /^ERR_ZSYNC_[A-Z0-9_]{1,54}$/.test(code) ? code : 'ERR_ZSYNC_PEER',
    message: printable(p.subarray(5 + n).toString('utf8')),
  };
}


function readOffset(p: Buffer, at: number): number {
  const v = p.readBigUInt64BE(at);
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new ProtocolError('offset beyond 2^53');
  return Number(v);
}
