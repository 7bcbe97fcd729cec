import type { IncomingHttpHeaders } from 'node:http';
import { ByteQueue } from '../engine/byte-queue.js';

/** The status line and headers of a response. */
export interface ResponseHead {
  statusCode: number;
  statusMessage: string;
  httpVersion: '1.0' | '1.1';
  /**
   * By lower-case name. Repeated headers are joined with ", ", as node:http
   * does, except those that may appear once (the first one is kept) and
   * set-cookie (a list).
   */
  headers: IncomingHttpHeaders;
}

/** A response that breaks HTTP/1.1's syntax or framing. */
export class ResponseSyntaxError extends Error {
  readonly code = 'ERR_ZSYNC_HTTP_BAD_RESPONSE';
}

/** The most bytes a response head (status line, headers) may have: node:http's own limit is 16 KiB. */
export const MAX_HEAD_BYTES = 64 << 10;
/** The most bytes of a chunk-size line (extensions included) or of a trailer line; the trailers in all are held to MAX_HEAD_BYTES. */
const MAX_LINE_BYTES = 4096;

// Headers of which node:http keeps the first and drops any repeat.
const SINGLE = new Set(['age', 'authorization', 'content-length', 'content-type', 'etag', 'expires', 'from', 'host', 'if-modified-since', 'if-unmodified-since', 'last-modified', 'location', 'max-forwards', 'proxy-authorization', 'referer', 'retry-after', 'server', 'user-agent']);
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

type Phase = 'head' | 'length' | 'close' | 'chunk-size' | 'chunk-data' | 'chunk-end' | 'trailers' | 'done';

/**
 * An HTTP/1.1 response parser for a GET that reads from the caller's buffers
 * and hands out body bytes as positions in them: no copy of the body, and no
 * allocation for it. (node:http copies every socket read into a buffer of its
 * own, freed only at the next young-generation GC: a fetch's worth of them
 * grew the malloc heap by 10 MB over a 1 GiB sync.) Only the head, chunk-size
 * lines and trailers are copied, into a small queue.
 *
 * Use: call feed() with the unread bytes until `head` is set, then until
 * `done`; after each call, body bytes lie at [sliceStart, sliceEnd) of the
 * buffer given, when that is not empty. eof() when the connection ends.
 * Throws ResponseSyntaxError at a fault.
 */
export class ResponseParser {
  head: ResponseHead | undefined;
  /** After feed(): body bytes at [sliceStart, sliceEnd) of its buffer (none when equal). */
  sliceStart = 0;
  sliceEnd = 0;
  /** Whether the connection may carry another request once this response is done. */
  keepAlive = false;
  private phase: Phase = 'head';
  /** Body bytes (Content-Length) or bytes of the current chunk still to come. */
  private remaining = 0;
  private readonly queue = new ByteQueue();
  /** Head scanning: 0 within a line, 1 just after a LF, 2 after a LF and a CR. */
  private lineState = 0;
  /** Bytes of the interim (1xx) heads so far, and of the last head. */
  private interimBytes = 0;
  private lastHeadBytes = 0;

  /** The whole response has been read. */
  get done(): boolean {
    return this.phase === 'done';
  }

  /** True while the body runs until the connection closes (no length, not chunked). */
  get closeDelimited(): boolean {
    return this.phase === 'close';
  }

  /**
   * Parses from data[pos, end), and returns where it stopped: at the end of the
   * head, after one slice of body, at the end of the response, or at `end`.
   * Each call with pos < end takes at least one byte unless the response is done.
   */
  feed(data: Uint8Array, pos: number, end: number): number {
    this.sliceStart = this.sliceEnd = pos;
    switch (this.phase) {
      case 'head':
        return this.feedHead(data, pos, end);
      case 'length':
      case 'chunk-data': {
        const n = Math.min(this.remaining, end - pos);
        this.sliceEnd = pos + n;
        this.remaining -= n;
        if (this.remaining === 0) this.phase = this.phase === 'length' ? 'done' : 'chunk-end';
        return pos + n;
      }
      case 'close':
        this.sliceEnd = end;
        return end;
      case 'chunk-size':
      case 'chunk-end':
      case 'trailers':
        return this.feedLine(data, pos, end);
      case 'done':
        return pos;
    }
  }

  /**
   * The connection ended. True when that ends the response (a body that runs
   * to the close); false when the response is cut short.
   */
  eof(): boolean {
    if (this.phase === 'close') this.phase = 'done';
    return this.phase === 'done';
  }

  private feedHead(data: Uint8Array, pos: number, end: number): number {
    let state = this.lineState;
    let i = pos;
    for (; i < end; i++) {
      const c = data[i]!;
      if (c === 10) {
        if (state !== 0) break;
        state = 1;
      } else state = c === 13 && state === 1 ? 2 : 0;
    }
    const found = i < end;
    const stop = found ? i + 1 : end;
    // Interim (1xx) heads count too: a server sending them without end must not hold us for ever.
    if (this.interimBytes + this.queue.length + (stop - pos) > MAX_HEAD_BYTES) throw new ResponseSyntaxError(`response head longer than ${MAX_HEAD_BYTES} bytes`);
    this.queue.append(data.subarray(pos, stop));
    this.lineState = found ? 0 : state;
    if (found) {
      this.lastHeadBytes = this.queue.length;
      const text = this.queue.toString('latin1');
      this.queue.consume(this.queue.length);
      this.startBody(parseHead(text));
    }
    return stop;
  }

  private startBody(head: ResponseHead): void {
    const status = head.statusCode;
    if (status === 101) throw new ResponseSyntaxError('101 Switching Protocols to a request that asked for no upgrade');
    // 1xx are interim: the response proper follows.
    if (status < 200) {
      this.interimBytes += this.lastHeadBytes;
      return;
    }
    this.head = head;
    const h = head.headers;
    const connection = (joined(h.connection) ?? '').toLowerCase().split(/\s*,\s*/);
    const te = joined(h['transfer-encoding']);
    const length = h['content-length'];
    let framed = true;
    if (status === 204 || status === 304) {
      this.phase = 'done';
    } else if (te !== undefined) {
      // The last coding must be chunked for the message to have an end of its own.
      this.phase = /(^|,)\s*chunked\s*$/i.test(te) ? 'chunk-size' : 'close';
      // Both headers: a smuggling attempt or a broken proxy; read by the
      // chunks, and the connection not trusted again.
      framed = length === undefined && this.phase !== 'close';
    } else if (length !== undefined) {
      const text = Array.isArray(length) ? length[0]! : length;
      if (!/^\d{1,15}$/.test(text.trim())) throw new ResponseSyntaxError(`bad Content-Length: ${text}`);
      this.remaining = Number(text.trim());
      this.phase = this.remaining === 0 ? 'done' : 'length';
    } else {
      this.phase = 'close';
      framed = false;
    }
    this.keepAlive = framed && head.httpVersion === '1.1' && !connection.includes('close');
  }

  /** A chunk-size line, the CRLF after a chunk's data, or the trailers: copied a line at a time. */
  private feedLine(data: Uint8Array, pos: number, end: number): number {
    const lf = indexOfLf(data, pos, end);
    const stop = lf < 0 ? end : lf + 1;
    if (this.queue.length + (stop - pos) > MAX_LINE_BYTES) throw new ResponseSyntaxError(`chunked framing line longer than ${MAX_LINE_BYTES} bytes`);
    this.queue.append(data.subarray(pos, stop));
    if (lf < 0) return stop;
    const lineBytes = this.queue.length;
    const line = this.queue.toString('latin1').replace(/\r?\n$/, '');
    this.queue.consume(this.queue.length);
    if (this.phase === 'chunk-end') {
      if (line !== '') throw new ResponseSyntaxError('chunk data longer than its size');
      this.phase = 'chunk-size';
    } else if (this.phase === 'chunk-size') {
      const m = /^([0-9a-fA-F]{1,12})[ \t]*(;.*)?$/.exec(line);
      if (!m) throw new ResponseSyntaxError(`bad chunk size line: ${JSON.stringify(line.slice(0, 40))}`);
      this.remaining = parseInt(m[1]!, 16);
      this.phase = this.remaining === 0 ? 'trailers' : 'chunk-data';
    } else if (line === '') {
      this.phase = 'done';
    } else if ((this.interimBytes += lineBytes) > MAX_HEAD_BYTES) {
      // Trailers are a head of sorts: bounded as one (the interim heads' count is done with).
      throw new ResponseSyntaxError(`trailers longer than ${MAX_HEAD_BYTES} bytes`);
    }
    return stop;
  }
}

function parseHead(text: string): ResponseHead {
  const lines = text.split(/\r?\n/);
  const status = /^HTTP\/1\.([01]) ([1-5]\d\d)(?: (.*))?$/.exec(lines[0]!);
  if (!status) throw new ResponseSyntaxError(`not an HTTP/1.x status line: ${JSON.stringify(lines[0]!.slice(0, 60))}`);
  const headers = Object.create(null) as Record<string, string | string[]>;
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]!;
    if (line === '') continue;
    const colon = line.indexOf(':');
    const name = colon > 0 ? line.slice(0, colon) : '';
    // Folded lines (obs-fold) and names with spaces are refused, as llhttp does.
    if (!TOKEN.test(name)) throw new ResponseSyntaxError(`bad header line: ${JSON.stringify(line.slice(0, 60))}`);
    const key = name.toLowerCase();
    // Around the value, spaces and tabs only; within it, no control character
    // but the tab (llhttp's rule): values such as an ETag are sent back.
    const value = line.slice(colon + 1).replace(/^[ \t]+|[ \t]+$/g, '');
    if (/[\x00-\x08\x0a-\x1f\x7f]/.test(value)) throw new ResponseSyntaxError(`control character in header ${name}`);
    const before = headers[key];
    if (key === 'set-cookie') headers[key] = [...((before as string[] | undefined) ?? []), value];
    else if (before === undefined) headers[key] = value;
    else if (key === 'content-length') {
      if (before !== value) throw new ResponseSyntaxError(`two different Content-Length headers: ${String(before)} and ${value}`);
    } else if (!SINGLE.has(key)) headers[key] = `${String(before)}, ${value}`;
  }
  return { statusCode: Number(status[2]), statusMessage: status[3] ?? '', httpVersion: status[1] === '1' ? '1.1' : '1.0', headers };
}

function joined(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v.join(', ') : v;
}

function indexOfLf(data: Uint8Array, from: number, to: number): number {
  for (let i = from; i < to; i++) if (data[i] === 10) return i;
  return -1;
}
