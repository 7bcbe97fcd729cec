/**
 * A scriptable misbehaving HTTP(S) server on 127.0.0.1 (port 0) for the range
 * fetcher and zsync() tests. It serves a few buffers by path and does Range
 * requests itself (single 206, multipart/byteranges), so that it can break them
 * on purpose: drop the connection mid-body, send wrong bytes, send fewer bytes
 * than announced, answer 200 instead of 206, answer only the first range, 501 to
 * a multi-range request, cap the parts, change the file between requests, stall,
 * throttle. Failing modes apply to the first `times` data requests, so a retry
 * can succeed; the "limited but honest" ones (200, first range, 501, cap) to all.
 * It counts requests and body bytes sent, per path.
 */
import { createHash, randomBytes } from 'node:crypto';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import https from 'node:https';
import type { AddressInfo, Socket } from 'node:net';

export type FaultMode =
  | 'none'
  /** Headers and about half of the body, then the socket is destroyed. */
  | 'drop'
  /** The right length, but every byte of the body inverted. */
  | 'wrong'
  /** Content-Range (and multipart part headers) promise more than is sent; the body ends cleanly by closing (no Content-Length). */
  | 'short'
  /** A 200 with the whole file, Range ignored. */
  | 'ignore-range'
  /** A multi-range request gets only its first range, as a plain 206. */
  | 'first-range-only'
  /** A multi-range request gets 501 Not Implemented. */
  | 'multi-501'
  /** A multi-range request gets only its first `cap` parts (a complete multipart body). */
  | 'cap-parts'
  /** After `times` data requests the file is replaced by `changed` (new ETag / Last-Modified). */
  | 'change'
  /** Headers, then nothing until the client gives up. */
  | 'stall'
  /** A 503. */
  | 'status-503';

export interface Fault {
  mode: FaultMode;
  /** Data requests the mode applies to (the first N); default: every request. */
  times?: number;
  /** For 'cap-parts': parts answered. */
  cap?: number;
  /** For 'change': the new content. */
  changed?: Buffer;
}

export interface FaultServerOptions {
  /** Files by URL path ('/new.bin'). Faults apply to `dataPath` only. */
  files: Record<string, Buffer>;
  dataPath: string;
  /** Send ETag headers (strong, from the content). Default true. */
  etag?: boolean;
  /** Send Last-Modified (and answer If-Modified-Since with 304). Default true. */
  lastModified?: boolean;
  /** Require HTTP basic auth with these credentials ('user:pass'). */
  auth?: string;
  /** Body bytes per second at most, per response (for the kill test). */
  bytesPerSecond?: number;
  /** Serve https with this key and certificate (PEM). */
  tls?: { key: Buffer; cert: Buffer };
  /** Paths that answer 302 to another path or URL. */
  redirects?: Record<string, string>;
}

export interface RequestLog {
  path: string;
  range: string | undefined;
  status: number;
  headers: http.IncomingHttpHeaders;
}

export class FaultServer {
  readonly server: http.Server | https.Server;
  readonly log: RequestLog[] = [];
  /** Body bytes written, by path. */
  readonly bytesSent = new Map<string, number>();
  fault: Fault = { mode: 'none' };
  /** TLS handshakes that failed (a client refusing our certificate). */
  tlsErrors = 0;
  private readonly files: Record<string, Buffer>;
  private readonly options: FaultServerOptions;
  private readonly sockets = new Set<Socket>();
  private dataRequests = 0;
  private readonly mtime = new Date(Date.UTC(2026, 0, 2, 3, 4, 5));
  private changedAt: Date | undefined;
  port = 0;

  constructor(options: FaultServerOptions) {
    this.options = options;
    this.files = { ...options.files };
    const handler = (req: IncomingMessage, res: ServerResponse): void => {
      this.handle(req, res).catch((err: unknown) => {
        if (!res.headersSent) res.writeHead(500).end(String(err));
        else res.destroy();
      });
    };
    this.server = options.tls ? https.createServer({ key: options.tls.key, cert: options.tls.cert }, handler) : http.createServer(handler);
    this.server.on('connection', (s: Socket) => {
      this.sockets.add(s);
      s.once('close', () => this.sockets.delete(s));
    });
    this.server.on('tlsClientError', () => {
      this.tlsErrors++;
    });
    this.server.on('secureConnection', (s: Socket) => {
      this.sockets.add(s);
      s.once('close', () => this.sockets.delete(s));
    });
  }

  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as AddressInfo).port;
    return this;
  }

  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  url(path: string): string {
    return `${this.options.tls ? 'https' : 'http'}://127.0.0.1:${this.port}/${path.replace(/^\//, '')}`;
  }

  /** Sets the fault and resets the data request count it is measured against. */
  setFault(fault: Fault): void {
    this.fault = fault;
    this.dataRequests = 0;
  }

  /** Forgets the counts and the log. */
  reset(): void {
    this.tlsErrors = 0;
    this.log.length = 0;
    this.bytesSent.clear();
    this.dataRequests = 0;
  }

  setFile(path: string, data: Buffer): void {
    this.files[path] = data;
  }

  requests(path?: string): number {
    return path === undefined ? this.log.length : this.log.filter((r) => r.path === path).length;
  }

  sent(path?: string): number {
    if (path !== undefined) return this.bytesSent.get(path) ?? 0;
    let n = 0;
    for (const v of this.bytesSent.values()) n += v;
    return n;
  }

  private etagOf(data: Buffer): string {
    return `"${createHash('sha1').update(data).digest('hex').slice(0, 16)}"`;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    const entry: RequestLog = { path, range: req.headers.range, status: 0, headers: req.headers };
    this.log.push(entry);
    const send = (status: number, headers: http.OutgoingHttpHeaders, body?: Buffer): void => {
      entry.status = status;
      res.writeHead(status, headers);
      if (body) this.count(path, body.length);
      res.end(body);
    };
    if (this.options.auth !== undefined) {
      const want = `Basic ${Buffer.from(this.options.auth).toString('base64')}`;
      if (req.headers.authorization !== want) {
        send(401, { 'www-authenticate': 'Basic realm="test"', 'content-length': 0 });
        return;
      }
    }
    const redirect = this.options.redirects?.[path];
    if (redirect !== undefined) {
      send(302, { location: redirect, 'content-length': 0 });
      return;
    }
    const isData = path === this.options.dataPath;
    let fault: FaultMode = 'none';
    if (isData) {
      this.dataRequests++;
      const f = this.fault;
      if (f.mode === 'change') {
        if (this.dataRequests > (f.times ?? 1) && f.changed && this.files[path] !== f.changed) {
          this.files[path] = f.changed;
          this.changedAt = new Date(this.mtime.getTime() + 3_600_000);
        }
      } else if (f.times === undefined || this.dataRequests <= f.times) {
        fault = f.mode;
      }
    }
    if (fault === 'status-503') {
      send(503, { 'content-type': 'text/plain', 'content-length': 12, 'retry-after': '0' }, Buffer.from('unavailable\n'));
      return;
    }
    const stored = this.files[path];
    // Wrong bytes: the right framing (lengths, part headers) around inverted data.
    const data = stored !== undefined && fault === 'wrong' ? Buffer.from(stored.map((b) => b ^ 0xff)) : stored;
    if (data === undefined || stored === undefined) {
      send(404, { 'content-type': 'text/plain', 'content-length': 10 }, Buffer.from('not found\n'));
      return;
    }
    const mtime = isData && this.changedAt ? this.changedAt : this.mtime;
    const base: http.OutgoingHttpHeaders = { 'accept-ranges': 'bytes', 'content-type': 'application/octet-stream' };
    if (this.options.etag !== false) base.etag = this.etagOf(stored);
    if (this.options.lastModified !== false) base['last-modified'] = mtime.toUTCString();
    const ifModifiedSince = req.headers['if-modified-since'];
    if (this.options.lastModified !== false && ifModifiedSince !== undefined && !Number.isNaN(Date.parse(ifModifiedSince)) && Math.floor(mtime.getTime() / 1000) <= Date.parse(ifModifiedSince) / 1000) {
      send(304, base);
      return;
    }
    const ifMatch = req.headers['if-match'];
    if (ifMatch !== undefined && base.etag !== undefined && ifMatch !== base.etag) {
      send(412, { ...base, 'content-length': 0 });
      return;
    }
    const spans = req.headers.range === undefined ? undefined : parseRanges(req.headers.range, data.length);
    if (spans === undefined || fault === 'ignore-range') {
      await this.body(req, res, entry, path, 200, { ...base, 'content-length': data.length }, [data], fault);
      return;
    }
    if (spans.length === 0) {
      send(416, { ...base, 'content-range': `bytes */${data.length}`, 'content-length': 0 });
      return;
    }
    if (spans.length > 1 && fault === 'multi-501') {
      send(501, { 'content-type': 'text/plain', 'content-length': 16 }, Buffer.from('not implemented\n'));
      return;
    }
    let parts = spans;
    if (spans.length > 1 && fault === 'first-range-only') parts = spans.slice(0, 1);
    if (spans.length > 1 && fault === 'cap-parts') parts = spans.slice(0, Math.max(1, this.fault.cap ?? 1));
    if (parts.length === 1 && (spans.length === 1 || fault === 'first-range-only')) {
      const [s] = parts as [Span];
      const headers: http.OutgoingHttpHeaders = { ...base, 'content-range': `bytes ${s.start}-${s.end - 1}/${data.length}` };
      if (fault === 'short') headers.connection = 'close';
      else headers['content-length'] = s.end - s.start;
      await this.body(req, res, entry, path, 206, headers, [data.subarray(s.start, s.end)], fault);
      return;
    }
    const boundary = randomBytes(8).toString('hex');
    const pieces: Buffer[] = [];
    parts.forEach((s, i) => {
      pieces.push(Buffer.from(`${i === 0 ? '' : '\r\n'}--${boundary}\r\nContent-Type: application/octet-stream\r\nContent-Range: bytes ${s.start}-${s.end - 1}/${data.length}\r\n\r\n`, 'latin1'));
      pieces.push(data.subarray(s.start, s.end));
    });
    pieces.push(Buffer.from(`\r\n--${boundary}--\r\n`, 'latin1'));
    const length = pieces.reduce((n, p) => n + p.length, 0);
    const headers: http.OutgoingHttpHeaders = { ...base, 'content-type': `multipart/byteranges; boundary=${boundary}` };
    if (fault === 'short') headers.connection = 'close';
    else headers['content-length'] = length;
    await this.body(req, res, entry, path, 206, headers, pieces, fault);
  }

  /** Writes a body, applying the body faults and the throttle. */
  private async body(req: IncomingMessage, res: ServerResponse, entry: RequestLog, path: string, status: number, headers: http.OutgoingHttpHeaders, pieces: Buffer[], fault: FaultMode): Promise<void> {
    entry.status = status;
    if (fault === 'stall') {
      res.writeHead(status, headers);
      res.flushHeaders();
      // Nothing more: the socket is closed by the client's stall timeout or by stop().
      return;
    }
    let body = Buffer.concat(pieces);
    if (fault === 'drop') body = body.subarray(0, Math.floor(body.length / 2));
    if (fault === 'short') body = body.subarray(0, Math.max(0, body.length - Math.max(1, Math.floor(body.length / 3))));
    res.writeHead(status, headers);
    if (req.method === 'HEAD') {
      res.end();
      return;
    }
    const rate = this.options.bytesPerSecond;
    const step = rate === undefined ? body.length : Math.max(1024, Math.floor(rate / 20));
    for (let o = 0; o < body.length; o += step) {
      if (res.destroyed) return;
      const piece = body.subarray(o, o + step);
      const ok = res.write(piece);
      this.count(path, piece.length);
      if (!ok) await new Promise<void>((resolve) => {
        res.once('drain', resolve);
        res.once('close', resolve);
      });
      if (rate !== undefined) await new Promise((r) => setTimeout(r, (piece.length / rate) * 1000));
    }
    if (fault === 'drop') {
      // Let the half body reach the client before the reset.
      await new Promise((r) => setTimeout(r, 20));
      res.socket?.destroy();
      return;
    }
    res.end();
  }

  private count(path: string, n: number): void {
    this.bytesSent.set(path, (this.bytesSent.get(path) ?? 0) + n);
  }
}

interface Span {
  start: number;
  end: number;
}

/** `bytes=a-b,c-d` (ends inclusive) to spans clipped to the file; [] if none is satisfiable; undefined if not understood. */
function parseRanges(header: string, size: number): Span[] | undefined {
  const m = /^bytes=(.+)$/.exec(header.trim());
  if (!m) return undefined;
  const out: Span[] = [];
  for (const part of m[1]!.split(',')) {
    const r = /^\s*(\d+)-(\d*)\s*$/.exec(part);
    if (!r) return undefined;
    const start = Number(r[1]);
    const end = r[2] === '' ? size : Math.min(size, Number(r[2]) + 1);
    if (start < size && end > start) out.push({ start, end });
  }
  return out;
}

export async function startFaultServer(options: FaultServerOptions): Promise<FaultServer> {
  return new FaultServer(options).start();
}
