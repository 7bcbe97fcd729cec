import { readFileSync } from 'node:fs';
import http, { type IncomingMessage } from 'node:http';
import https from 'node:https';
import { createSecureContext } from 'node:tls';
import { AbortedError, InvalidArgumentError, ZsyncError } from '../errors.js';
import { displayUrl } from './display-url.js';
import { HttpError } from './errors.js';

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
// scan, also run in a worker thread) need not load node:http, https and tls.
export { AbortedError };

const RETRYABLE_CODES = new Set(['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT', 'EAI_AGAIN', 'ECONNABORTED', 'EHOSTUNREACH', 'ENETUNREACH', 'UND_ERR_SOCKET']);

/**
 * GET requests over keep-alive agents, redirects followed, a stall timeout, and
 * trust that only ever adds to Node's: the default store, NODE_EXTRA_CA_CERTS,
 * plus `ca`. A certificate error is final (never retried around).
 */
export class HttpClient {
  private readonly httpAgent: http.Agent;
  private readonly httpsAgent: https.Agent;
  private readonly stallTimeoutMs: number;
  private readonly maxRedirects: number;
  private readonly headers: Record<string, string>;
  private readonly auth: Record<string, string>;

  constructor(options: HttpClientOptions = {}) {
    const maxSockets = options.maxSockets ?? 4;
    this.httpAgent = new http.Agent({ keepAlive: true, maxSockets });
    const tlsOptions: https.AgentOptions = { keepAlive: true, maxSockets };
    if (options.ca !== undefined) {
      // Passing `ca` to the agent would replace Node's store (the bundled roots,
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
      tlsOptions.secureContext = context;
    }
    if (options.insecure === true) tlsOptions.rejectUnauthorized = false;
    this.httpsAgent = new https.Agent(tlsOptions);
    this.stallTimeoutMs = options.stallTimeoutMs ?? 10_000;
    this.maxRedirects = options.maxRedirects ?? 5;
    this.headers = { 'user-agent': 'zsync-streams/0.1', ...options.headers };
    this.auth = options.auth ?? {};
  }

  /**
   * Starts a GET and resolves with the response (after redirects) and its final
   * URL. The body must be consumed or destroyed by the caller.
   */
  async get(url: string, headers: Record<string, string> = {}, signal?: AbortSignal): Promise<{ response: IncomingMessage; url: string }> {
    let current = url;
    const origin = new URL(url);
    let credentials = true;
    for (let hop = 0; ; hop++) {
      const response = await this.once(current, headers, signal, credentials);
      const status = response.statusCode ?? 0;
      const location = response.headers.location;
      if (status >= 300 && status < 400 && status !== 304 && location !== undefined) {
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

  close(): void {
    this.httpAgent.destroy();
    this.httpsAgent.destroy();
  }

  private once(url: string, headers: Record<string, string>, signal: AbortSignal | undefined, withCredentials: boolean): Promise<IncomingMessage> {
    const target = new URL(url);
    const isHttps = target.protocol === 'https:';
    if (!isHttps && target.protocol !== 'http:') {
      return Promise.reject(new HttpError('ERR_ZSYNC_HTTP_PROTOCOL', `unsupported protocol ${target.protocol} in ${displayUrl(url)}`, { url: displayUrl(url) }));
    }
    if (signal?.aborted) return Promise.reject(new AbortedError(signal.reason));
    // Credentials go only to the host they were given for (and survive no redirect elsewhere).
    const credentials = withCredentials ? (this.auth[target.host] ?? this.auth[target.hostname]) : undefined;
    const authorization: Record<string, string> = credentials === undefined ? {} : { authorization: `Basic ${Buffer.from(credentials).toString('base64')}` };
    return new Promise((resolve, reject) => {
      const request = (isHttps ? https : http).request(target, {
        method: 'GET',
        agent: isHttps ? this.httpsAgent : this.httpAgent,
        headers: { ...this.headers, ...authorization, ...headers },
        ...(signal ? { signal } : {}),
      });
      let response: IncomingMessage | undefined;
      request.setTimeout(this.stallTimeoutMs, () => {
        const stall = new HttpError('ERR_ZSYNC_HTTP_STALL', `no data from ${displayUrl(url)} for ${this.stallTimeoutMs} ms`, { url: displayUrl(url), retryable: true });
        // Once the headers are in, the body reader sees the response's error, not
        // the request's: give it the stall, not a bare "aborted".
        response?.destroy(stall);
        request.destroy(stall);
      });
      request.once('response', (r: IncomingMessage) => {
        response = r;
        resolve(r);
      });
      request.once('error', (err) => reject(classify(err, url, signal)));
      request.end();
    });
  }
}

/** Turns a socket/TLS error into a coded HttpError that says whether a retry may help. */
export function classify(err: unknown, rawUrl: string, signal?: AbortSignal): Error {
  if (err instanceof ZsyncError) return err;
  if (signal?.aborted) return new AbortedError(signal.reason);
  const url = displayUrl(rawUrl);
  const e = err as NodeJS.ErrnoException;
  const code = e.code ?? '';
  if (/CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_TLS|ALTNAME|UNABLE_TO_GET_ISSUER/.test(code)) {
    return new HttpError('ERR_ZSYNC_TLS', `TLS certificate check failed for ${url}: ${e.message}`, { url, retryable: false, cause: err });
  }
  return new HttpError('ERR_ZSYNC_HTTP_NETWORK', `network error from ${url}: ${e.message}`, { url, retryable: RETRYABLE_CODES.has(code) || /socket hang up|aborted/i.test(e.message), cause: err });
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
