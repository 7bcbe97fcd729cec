import { randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { realpath, stat } from 'node:fs/promises';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import { extname, join, resolve, sep } from 'node:path';
import { pipeline } from 'node:stream/promises';

export interface RangeServerOptions {
  /** Folder whose files are served; nothing outside it is reachable. */
  root: string;
  /** Ranges honoured in one request; more get the whole file (200). Default 256. */
  maxRanges?: number;
}

interface Span {
  start: number;
  end: number; // exclusive
}

const TYPES: Record<string, string> = {
  '.zsync': 'application/x-zsync',
  '.txt': 'text/plain; charset=utf-8',
  '.html': 'text/html; charset=utf-8',
  '.json': 'application/json',
};

/**
 * A static file server that does Range requests properly: single ranges,
 * several as multipart/byteranges, If-Match / If-Range, 416 with the file's
 * size, ETag and Last-Modified. What `zsync-streams serve` runs, and the
 * test server beside nginx.
 */
export function createRangeServer(options: RangeServerOptions): http.Server {
  const maxRanges = options.maxRanges ?? 256;
  const root = resolve(options.root);
  return http.createServer((req, res) => {
    handle(req, res, root, maxRanges).catch((err: unknown) => {
      if (!res.headersSent) {
        res.writeHead(500, { 'content-type': 'text/plain' });
        res.end(`${(err as Error).message}\n`);
      } else {
        res.destroy(err as Error);
      }
    });
  });
}

async function handle(req: IncomingMessage, res: ServerResponse, root: string, maxRanges: number): Promise<void> {
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.writeHead(405, { allow: 'GET, HEAD' }).end();
    return;
  }
  const path = await resolveInside(root, decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname));
  const info = path ? await stat(path).catch(() => undefined) : undefined;
  if (!path || !info || !info.isFile()) {
    res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
    return;
  }
  const size = info.size;
  const etag = `"${info.size.toString(16)}-${Math.floor(info.mtimeMs).toString(16)}-${info.ino.toString(16)}"`;
  const lastModified = info.mtime.toUTCString();
  const base = {
    'accept-ranges': 'bytes',
    etag,
    'last-modified': lastModified,
    'content-type': TYPES[extname(path)] ?? 'application/octet-stream',
  };
  const ifMatch = req.headers['if-match'];
  if (ifMatch !== undefined && ifMatch !== '*' && !ifMatch.split(',').map((s) => s.trim()).includes(etag)) {
    res.writeHead(412, base).end();
    return;
  }
  const ifRange = req.headers['if-range'];
  const rangeHeader = ifRange === undefined || ifRange === etag || ifRange === lastModified ? req.headers.range : undefined;
  const spans = rangeHeader === undefined ? undefined : parseRange(rangeHeader, size);
  if (spans === null) {
    res.writeHead(416, { ...base, 'content-range': `bytes */${size}` }).end();
    return;
  }
  if (spans === undefined || spans.length > maxRanges) {
    res.writeHead(200, { ...base, 'content-length': size });
    if (req.method === 'HEAD') res.end();
    else await pipeline(createReadStream(path), res);
    return;
  }
  if (spans.length === 1) {
    const [{ start, end }] = spans as [Span];
    res.writeHead(206, { ...base, 'content-length': end - start, 'content-range': `bytes ${start}-${end - 1}/${size}` });
    if (req.method === 'HEAD') res.end();
    else await pipeline(createReadStream(path, { start, end: end - 1 }), res);
    return;
  }
  const boundary = randomBytes(12).toString('hex');
  const heads = spans.map((s, i) => Buffer.from(`${i === 0 ? '' : '\r\n'}--${boundary}\r\nContent-Type: ${base['content-type']}\r\nContent-Range: bytes ${s.start}-${s.end - 1}/${size}\r\n\r\n`, 'latin1'));
  const tail = Buffer.from(`\r\n--${boundary}--\r\n`, 'latin1');
  const length = heads.reduce((n, h, i) => n + h.length + spans[i]!.end - spans[i]!.start, tail.length);
  res.writeHead(206, { ...base, 'content-type': `multipart/byteranges; boundary=${boundary}`, 'content-length': length });
  if (req.method === 'HEAD') {
    res.end();
    return;
  }
  async function* body(): AsyncGenerator<Buffer> {
    for (let i = 0; i < spans!.length; i++) {
      yield heads[i]!;
      const s = spans![i]!;
      for await (const chunk of createReadStream(path!, { start: s.start, end: s.end - 1 })) yield chunk as Buffer;
    }
    yield tail;
  }
  await pipeline(body(), res);
}

/**
 * Parses `bytes=a-b,c-,-n`. Returns undefined for a header we ignore (not bytes,
 * malformed: serve the whole file, as RFC 9110 allows), null when no range is
 * satisfiable (416).
 */
export function parseRange(header: string, size: number): Span[] | undefined | null {
  const m = /^\s*bytes\s*=\s*(.+)$/i.exec(header);
  if (!m) return undefined;
  const spans: Span[] = [];
  for (const part of m[1]!.split(',')) {
    const r = /^\s*(\d*)\s*-\s*(\d*)\s*$/.exec(part);
    if (!r || (r[1] === '' && r[2] === '')) return undefined;
    let start: number;
    let end: number;
    if (r[1] === '') {
      const n = Number(r[2]);
      start = Math.max(0, size - n);
      end = size;
      if (n === 0) continue;
    } else {
      start = Number(r[1]);
      end = r[2] === '' ? size : Math.min(size, Number(r[2]) + 1);
      if (r[2] !== '' && Number(r[2]) < start) return undefined;
    }
    if (start >= size) continue;
    spans.push({ start, end });
  }
  return spans.length === 0 ? null : spans;
}

/** The real path of `urlPath` under `root`, or undefined if it would leave it. */
async function resolveInside(root: string, urlPath: string): Promise<string | undefined> {
  if (urlPath.includes('\0')) return undefined;
  const candidate = resolve(join(root, urlPath));
  const real = await realpath(candidate).catch(() => undefined);
  const realRoot = await realpath(root).catch(() => root);
  if (!real || (real !== realRoot && !real.startsWith(realRoot + sep))) return undefined;
  return real;
}
