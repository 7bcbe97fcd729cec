import { readFileSync } from 'node:fs';
import { createSecureContext, type SecureContext } from 'node:tls';
import { AbortedError, InvalidArgumentError } from '../errors.js';
import { displayUrl } from './display-url.js';
import { classify, HttpError } from './errors.js';
import { hangUp, HttpConnection, type Origin } from './http-connection.js';
import { HttpResponse } from './http-response.js';
import { ResponseParser } from './response-parser.js';

export { classify, HttpResponse };

export interface HttpClientOptions {
  /** Sockets per host, kept alive between requests. Default 4. */
  maxSockets?: number;
  /** Extra CA certificates (PEM) trusted besides Node's store and NODE_EXTRA_CA_CERTS. */
  ca?: string | Buffer | Array<string | Buffer>;
  /** Accept any certificate (zsync's --no-check-certificate spirit). Default false. */
  insecure?: boolean;
  /** Abort a request whose socket has been idle this long (ms). Default 10 000. */
  stallTimeoutMs?: number;
  /** Redirects followed at most. Default 5. */
  maxRedirects?: number;
  /** Headers sent with every request (User-Agent...). */
  headers?: Record<string, string>;
  /** HTTP basic credentials by host (`host` or `host:port`), as `user:password` (zsync's -A). */
  auth?: Record<string, string>;
}

/** An aborted operation, by the caller's AbortSignal. */
// Defined beside ZsyncError, so that code that only checks a signal (the seed
// scan, also run in a worker thread) need not load the HTTP client and tls.
export { AbortedError };

/** The sockets to one origin: the idle ones, and room for more. */
interface Pool {
  idle: HttpConnection[];
  /** Sockets open, idle or busy. */
  open: number;
  /** Requests waiting for a socket. */
  waiting: Array<() => void>;
  /**
   * TLS: the last session a server of this origin issued, offered by the next
   * connection made to it, which then resumes it (no certificate sent and
   * checked again, a round trip less in TLS 1.2): a fetch opens up to
   * `concurrency` connections at once, and more after a reset.
   */
  session: Buffer | undefined;
}

/**
 * GET requests over HTTP/1.1 keep-alive connections of its own (at most
 * `maxSockets` per origin), redirects followed, a stall timeout, and trust that
 * only ever adds to Node's: the default store, NODE_EXTRA_CA_CERTS, plus `ca`.
 * A certificate error is final (never retried around).
 *
 * Not node:http: its sockets copy each read into a buffer of its own, which a
 * fetch of many MB turns into as many MB of malloc heap awaiting a GC. Ours
 * read into a few buffers per connection that they reuse (http-connection.ts),
 * and the body is parsed out of them in place (response-parser.ts).
 */
export class HttpClient {
  private readonly pools = new Map<string, Pool>();
  private readonly maxSockets: number;
  private readonly secureContext: SecureContext | undefined;
  private readonly insecure: boolean;
  private readonly stallTimeoutMs: number;
  private readonly maxRedirects: number;
  private readonly headers: Record<string, string>;
  private readonly auth: Record<string, string>;
  /** Connections carrying a request or a response's body. */
  private readonly busy = new Set<HttpConnection>();
  private closed = false;

  constructor(options: HttpClientOptions = {}) {
    this.maxSockets = Math.max(1, options.maxSockets ?? 4);
    if (options.ca !== undefined) {
      // A `ca` option of its own would replace Node's store (the bundled roots,
      // or the system/OpenSSL store with --use-openssl-ca). Start from a default
      // context, which has that store, and add to it: the first addition gives
      // the context its own copy of the roots, which leaves out
      // NODE_EXTRA_CA_CERTS (Node adds those to the shared store only), so they
      // are added back, then ours.
      const context = createSecureContext();
      const extraFile = process.env.NODE_EXTRA_CA_CERTS;
      const extra = extraFile ? tryRead(extraFile) : undefined;
      const add = (context.context as { addCACert(cert: string): void }).addCACert.bind(context.context);
      if (extra !== undefined) for (const pem of pemCertificates(extra, false)) add(pem);
      for (const pem of pemCertificates(options.ca)) add(pem);
      this.secureContext = context;
    }
    this.insecure = options.insecure === true;
    this.stallTimeoutMs = options.stallTimeoutMs ?? 10_000;
    this.maxRedirects = options.maxRedirects ?? 5;
    this.headers = { 'user-agent': 'zsync-streams/0.1' };
    for (const [name, value] of Object.entries(options.headers ?? {})) {
      checkHeader(name, value);
      this.headers[name.toLowerCase()] = value;
    }
    this.auth = options.auth ?? {};
  }

  /**
   * Starts a GET and resolves with the response (after redirects) and its final
   * URL. The body must be read to its end or the response destroyed.
   */
  async get(url: string, headers: Record<string, string> = {}, signal?: AbortSignal): Promise<{ response: HttpResponse; url: string }> {
    let current = url;
    const origin = new URL(url);
    let credentials = true;
    for (let hop = 0; ; hop++) {
      const response = await this.once(current, headers, signal, credentials);
      const status = response.statusCode;
      const location = response.headers.location;
      if (status >= 300 && status < 400 && status !== 304 && typeof location === 'string') {
        response.resume();
        if (hop >= this.maxRedirects) throw new HttpError('ERR_ZSYNC_HTTP_REDIRECTS', `more than ${this.maxRedirects} redirects from ${displayUrl(url)}`, { url: displayUrl(url), status });
        const next = new URL(location, current);
        // Credentials (ours by host, or in the URL) go to the host they were given
        // for and never over a downgrade from https to plain http.
        if (next.host !== origin.host || (origin.protocol === 'https:' && next.protocol !== 'https:')) {
          credentials = false;
          next.username = '';
          next.password = '';
        }
        current = next.toString();
        continue;
      }
      return { response, url: current };
    }
  }

  /** Closes every connection, busy or idle; requests in progress fail. */
  close(): void {
    this.closed = true;
    for (const pool of this.pools.values()) {
      for (const c of pool.idle) c.destroy();
      pool.idle.length = 0;
      for (const wake of pool.waiting.splice(0)) wake();
    }
    for (const c of this.busy) c.destroy();
  }

  private async once(url: string, headers: Record<string, string>, signal: AbortSignal | undefined, withCredentials: boolean): Promise<HttpResponse> {
    const target = new URL(url);
    const isHttps = target.protocol === 'https:';
    if (!isHttps && target.protocol !== 'http:') {
      throw new HttpError('ERR_ZSYNC_HTTP_PROTOCOL', `unsupported protocol ${target.protocol} in ${displayUrl(url)}`, { url: displayUrl(url) });
    }
    if (signal?.aborted) throw new AbortedError(signal.reason);
    const head = this.requestHead(target, headers, withCredentials);
    const origin: Origin = { https: isHttps, host: target.hostname.replace(/^\[(.*)\]$/, '$1'), port: Number(target.port || (isHttps ? 443 : 80)) };
    const stall = (): Error => new HttpError('ERR_ZSYNC_HTTP_STALL', `no data from ${displayUrl(url)} for ${this.stallTimeoutMs} ms`, { url: displayUrl(url), retryable: true });
    // A kept-alive connection the server has just closed fails before any
    // byte of an answer: the request goes again, once, on a new connection
    // (a GET may be repeated), as browsers and undici do.
    for (let attempt = 0; ; attempt++) {
      const connection = await this.acquire(origin, signal).catch((err: unknown) => {
        throw classify(err, url, signal);
      });
      const reused = connection.served > 0;
      try {
        connection.send(head, this.stallTimeoutMs, stall, signal);
        const parser = new ResponseParser();
        while (parser.head === undefined) {
          if (connection.buffer === undefined) {
            if (!(await connection.fill())) throw hangUp();
            continue;
          }
          connection.advance(parser.feed(connection.buffer, connection.pos, connection.end));
        }
        return new HttpResponse(url, parser.head, connection, parser, this.releaser);
      } catch (err) {
        this.releaser(connection, false);
        if (reused && !connection.answered && attempt === 0 && !signal?.aborted && isReset(err)) {
          // The other idle connections went quiet as long ago, and are as
          // likely gone (a server restart, a NAT that forgot them): the retry
          // goes on a new one.
          this.dropIdle(origin);
          continue;
        }
        throw classify(err, url, signal);
      }
    }
  }

  /** The request's head: the request line, Host, our headers, credentials, the caller's headers. */
  private requestHead(target: URL, headers: Record<string, string>, withCredentials: boolean): string {
    const all: Record<string, string> = { host: target.host, ...this.headers };
    // Credentials go only to the host they were given for (and survive no redirect elsewhere).
    const credentials = withCredentials ? (this.auth[target.host] ?? this.auth[target.hostname]) : undefined;
    if (credentials !== undefined) all.authorization = `Basic ${Buffer.from(credentials).toString('base64')}`;
    else if (target.username !== '' || target.password !== '') {
      all.authorization = `Basic ${Buffer.from(`${decodeURIComponent(target.username)}:${decodeURIComponent(target.password)}`).toString('base64')}`;
    }
    for (const [name, value] of Object.entries(headers)) {
      checkHeader(name, value);
      all[name.toLowerCase()] = value;
    }
    let head = `GET ${target.pathname}${target.search} HTTP/1.1\r\n`;
    for (const [name, value] of Object.entries(all)) head += `${name}: ${value}\r\n`;
    return `${head}\r\n`;
  }

  /** A connection to `origin`: an idle one, a new one within maxSockets, or the next one freed. */
  private async acquire(origin: Origin, signal: AbortSignal | undefined): Promise<HttpConnection> {
    const key = poolKey(origin);
    let pool = this.pools.get(key);
    if (!pool) this.pools.set(key, (pool = { idle: [], open: 0, waiting: [], session: undefined }));
    for (;;) {
      if (this.closed) throw new HttpError('ERR_ZSYNC_CLOSED', 'the HTTP client was closed', { url: key });
      if (signal?.aborted) throw new AbortedError(signal.reason);
      const idle = pool.idle.pop();
      if (idle !== undefined) {
        if (!idle.usable) continue;
        this.busy.add(idle);
        return idle;
      }
      if (pool.open < this.maxSockets) {
        const p = pool;
        const c = new HttpConnection(origin, {
          ...(this.secureContext ? { secureContext: this.secureContext } : {}),
          insecure: this.insecure,
          ...(p.session ? { session: p.session } : {}),
          onSession: (session) => {
            p.session = session;
          },
        });
        pool.open++;
        c.whenClosed(() => {
          p.open--;
          const at = p.idle.indexOf(c);
          if (at >= 0) p.idle.splice(at, 1);
          this.busy.delete(c);
          p.waiting.shift()?.();
        });
        this.busy.add(c);
        return c;
      }
      await new Promise<void>((resolve, reject) => {
        const wake = (): void => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        };
        const onAbort = (): void => {
          const at = pool.waiting.indexOf(wake);
          if (at >= 0) pool.waiting.splice(at, 1);
          reject(new AbortedError(signal?.reason));
        };
        pool.waiting.push(wake);
        signal?.addEventListener('abort', onAbort, { once: true });
      });
    }
  }

  /** Closes the idle connections to `origin`. */
  private dropIdle(origin: Origin): void {
    const pool = this.pools.get(poolKey(origin));
    for (const c of pool?.idle.splice(0) ?? []) c.destroy();
  }

  /** Where a response leaves its connection: back in its pool, or closed (which frees its place). */
  private readonly releaser = (connection: HttpConnection, reusable: boolean): void => {
    if (!this.busy.delete(connection)) return;
    const pool = this.pools.get(poolKey(connection.origin));
    if (!reusable || this.closed || !connection.usable || pool === undefined) {
      connection.destroy();
      return;
    }
    connection.served++;
    connection.rest();
    pool.idle.push(connection);
    pool.waiting.shift()?.();
  };
}

/** The client options out of a larger options object (zsync(), the fetcher): one place that knows them. */
export function httpClientOptions(o: HttpClientOptions): HttpClientOptions {
  const c: HttpClientOptions = {};
  if (o.maxSockets !== undefined) c.maxSockets = o.maxSockets;
  if (o.ca !== undefined) c.ca = o.ca;
  if (o.insecure !== undefined) c.insecure = o.insecure;
  if (o.stallTimeoutMs !== undefined) c.stallTimeoutMs = o.stallTimeoutMs;
  if (o.maxRedirects !== undefined) c.maxRedirects = o.maxRedirects;
  if (o.headers !== undefined) c.headers = o.headers;
  if (o.auth !== undefined) c.auth = o.auth;
  return c;
}

/**
 * Refuses a header that would break the request, as node:http does: a value
 * may hold tabs and bytes 0x20-0x7e and 0x80-0xff only. (The head goes out as
 * latin1, one byte a character: U+010D would go out as a CR.)
 */
function checkHeader(name: string, value: string): void {
  if (!/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/.test(name)) throw new InvalidArgumentError(`invalid HTTP header name ${JSON.stringify(name)}`);
  if (/[^\t\x20-\x7e\x80-\xff]/.test(value)) throw new InvalidArgumentError(`invalid character in the value of HTTP header ${name}`);
}

function poolKey(origin: Origin): string {
  return `${origin.https ? 'https' : 'http'}://${origin.host}:${origin.port}`;
}

/** A connection reset or closed under a request: what a stale keep-alive connection does. */
function isReset(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException).code;
  return code === 'ECONNRESET' || code === 'EPIPE';
}

/** Every PEM certificate in the given buffers or strings. */
function pemCertificates(ca: string | Buffer | Array<string | Buffer>, required = true): string[] {
  const out: string[] = [];
  for (const item of Array.isArray(ca) ? ca : [ca]) {
    const text = item.toString();
    const found = text.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
    if (found.length === 0 && required) throw new InvalidArgumentError('no PEM certificate in the CA data given');
    out.push(...found);
  }
  return out;
}

/** A file's bytes, or undefined if it cannot be read (Node itself only warns about a bad NODE_EXTRA_CA_CERTS). */
function tryRead(path: string): Buffer | undefined {
  try {
    return readFileSync(path);
  } catch {
    return undefined;
  }
}
