import type { IncomingMessage } from 'node:http';
import type { RemoteChunk } from '../engine/block-assembler.js';
import type { ByteRange } from '../engine/target-state.js';

import { parseContentRange, type ContentRange } from './content-range.js';
import { TruncatedInputError } from '../errors.js';
import { HttpError, MultipartError } from './errors.js';
import { AbortedError, classify, HttpClient, type HttpClientOptions } from './http-client.js';
import { MultipartByterangesParser } from './multipart-parser.js';
import { mergeRanges, rangeHeader, Wanted } from './range-plan.js';

export interface RangeFetcherOptions extends HttpClientOptions {
  /** Length of the file on the server, checked against every answer. */
  length?: number;
  /** Ranges asked for in one request at most. Default 32. */
  maxRangesPerRequest?: number;
  /** Longest Range header sent, in characters. Default 4000 (servers cap request headers at 4-8 KiB). */
  maxRangeHeader?: number;
  /** Neighbouring ranges closer than this many bytes are fetched as one. Default 256. */
  mergeGap?: number;
  /** Requests in flight at once. Default 4. */
  concurrency?: number;
  /** Attempts per range before giving up. Default 3. */
  maxAttempts?: number;
  /** Time spent retrying in all, in ms, before giving up. Default 30 000. */
  retryBudgetMs?: number;
  /** First backoff delay, doubled each attempt, in ms. Default 200. */
  backoffMs?: number;
  signal?: AbortSignal;
}

export interface FetchStats {
  requests: number;
  /** Body bytes received, multipart headers and unneeded bytes included. */
  bytesOnWire: number;
  /** Bytes delivered that were asked for. */
  payloadBytes: number;
  retries: number;
  /** How each server was found to behave, e.g. "http://h/f: 1 range per request (501 to 32)". */
  adaptations: string[];
}

/** What we know of one mirror. */
interface Mirror {
  url: string;
  /** Ranges per request this server has shown it honours. */
  maxRanges: number;
  /** Pinned validators: a change means the file changed under us. */
  etag: string | undefined;
  lastModified: string | undefined;
  dead: boolean;
}

interface Job {
  ranges: ByteRange[];
  attempts: number;
}

type Deliver = (chunk: RemoteChunk) => Promise<void>;

/**
 * Turns byte ranges into HTTP Range requests against one or more mirrors, and
 * their answers into `{ offset, data }` chunks handed to `deliver` as they
 * arrive (never a whole response in memory). It adapts to what the server does:
 * several ranges per request while it answers them all; fewer, or one, when it
 * answers 501, sends only the first range, or caps the parts; the whole file
 * once if it ignores ranges (200). Every Content-Range is checked against what
 * was asked and the file's length; ETag/Last-Modified are pinned across requests.
 * Network errors, resets, stalls and 5xx are retried with backoff, resuming from
 * the bytes already received.
 */
export class HttpRangeFetcher {
  readonly stats: FetchStats = { requests: 0, bytesOnWire: 0, payloadBytes: 0, retries: 0, adaptations: [] };
  private readonly client: HttpClient;
  private readonly mirrors: Mirror[];
  private readonly options: RangeFetcherOptions;
  private readonly queue: Job[] = [];
  private next = 0;
  private retryDeadline: number | undefined;

  constructor(urls: readonly string[], options: RangeFetcherOptions = {}) {
    if (urls.length === 0) throw new HttpError('ERR_ZSYNC_NO_URL', 'no URL to fetch from', { url: '' });
    this.options = options;
    const clientOptions: HttpClientOptions = { maxSockets: options.concurrency ?? 4 };
    if (options.ca !== undefined) clientOptions.ca = options.ca;
    if (options.insecure !== undefined) clientOptions.insecure = options.insecure;
    if (options.stallTimeoutMs !== undefined) clientOptions.stallTimeoutMs = options.stallTimeoutMs;
    if (options.headers !== undefined) clientOptions.headers = options.headers;
    if (options.maxRedirects !== undefined) clientOptions.maxRedirects = options.maxRedirects;
    if (options.auth !== undefined) clientOptions.auth = options.auth;
    this.client = new HttpClient(clientOptions);
    const maxRanges = options.maxRangesPerRequest ?? 32;
    // Mirrors are tried in a random order, as zsync does, to spread the load.
    this.mirrors = shuffle(urls.map((url) => ({ url, maxRanges, etag: undefined, lastModified: undefined, dead: false })));
  }

  /** Fetches every range, handing the data to `deliver`. Resolves when all of it has been delivered. */
  async fetch(ranges: readonly ByteRange[], deliver: Deliver): Promise<FetchStats> {
    for (const r of mergeRanges(ranges, this.options.mergeGap ?? 256)) this.queue.push({ ranges: [r], attempts: 0 });
    const concurrency = Math.max(1, this.options.concurrency ?? 4);
    const running = new Set<Promise<void>>();
    let failure: unknown;
    try {
      while ((this.queue.length > 0 || running.size > 0) && failure === undefined) {
        while (this.queue.length > 0 && running.size < concurrency && failure === undefined) {
          const mirror = this.pickMirror();
          const job = this.takeJob(mirror);
          const task = this.run(mirror, job, deliver).catch((err: unknown) => {
            failure ??= err;
          });
          running.add(task);
          void task.finally(() => running.delete(task));
        }
        if (running.size > 0) await Promise.race(running);
      }
      if (failure === undefined) return this.stats;
      throw failure;
    } finally {
      // Let in-flight requests settle before the caller closes its output.
      await Promise.allSettled(running);
      this.client.close();
    }
  }

  private pickMirror(): Mirror {
    const alive = this.mirrors.filter((m) => !m.dead);
    if (alive.length === 0) throw new HttpError('ERR_ZSYNC_HTTP_NO_MIRROR', 'every URL failed', { url: this.mirrors[0]!.url });
    return alive[this.next++ % alive.length]!;
  }

  /** Takes as many queued ranges as this mirror takes in one request, in file order. */
  private takeJob(mirror: Mirror): Job {
    const first = this.queue.shift()!;
    const job: Job = { ranges: [...first.ranges], attempts: first.attempts };
    const maxHeader = this.options.maxRangeHeader ?? 4000;
    while (this.queue.length > 0 && job.ranges.length < mirror.maxRanges) {
      const candidate = this.queue[0]!;
      if (candidate.ranges.length + job.ranges.length > mirror.maxRanges) break;
      if (rangeHeader([...job.ranges, ...candidate.ranges]).length > maxHeader) break;
      this.queue.shift();
      job.ranges.push(...candidate.ranges);
      job.attempts = Math.max(job.attempts, candidate.attempts);
    }
    job.ranges.sort((a, b) => a.start - b.start);
    return job;
  }

  private async run(mirror: Mirror, job: Job, deliver: Deliver): Promise<void> {
    const wanted = new Wanted(job.ranges);
    try {
      await this.exchange(mirror, job, wanted, deliver);
    } catch (err) {
      const e = classify(err, mirror.url, this.options.signal);
      if (!(e instanceof HttpError) || !e.retryable) throw e;
      await this.retry(e, wanted, job.attempts);
      return;
    }
    if (!wanted.empty) {
      // The server answered, but not all of it (only the first range, fewer parts,
      // a short body): ask again for the rest, in smaller requests.
      this.requeue(wanted, job.attempts);
    }
  }

  private async retry(err: HttpError, wanted: Wanted, attempts: number): Promise<void> {
    const maxAttempts = this.options.maxAttempts ?? 3;
    const now = Date.now();
    this.retryDeadline ??= now + (this.options.retryBudgetMs ?? 30_000);
    if (attempts + 1 >= maxAttempts || now >= this.retryDeadline) {
      throw new HttpError(err.code, `${err.message} (gave up after ${attempts + 1} attempts)`, { url: err.url, ...(err.status === undefined ? {} : { status: err.status }), cause: err });
    }
    this.stats.retries++;
    const delay = Math.min((this.options.backoffMs ?? 200) * 2 ** attempts, Math.max(0, this.retryDeadline - now));
    await sleep(delay, this.options.signal);
    this.requeue(wanted, attempts + 1);
  }

  private requeue(wanted: Wanted, attempts: number): void {
    for (const r of wanted.list) this.queue.push({ ranges: [r], attempts });
    this.queue.sort((a, b) => a.ranges[0]!.start - b.ranges[0]!.start);
  }

  private async exchange(mirror: Mirror, job: Job, wanted: Wanted, deliver: Deliver): Promise<void> {
    const headers: Record<string, string> = { range: rangeHeader(job.ranges) };
    if (mirror.etag !== undefined && !mirror.etag.startsWith('W/')) headers['if-match'] = mirror.etag;
    else if (mirror.lastModified !== undefined) headers['if-unmodified-since'] = mirror.lastModified;
    this.stats.requests++;
    const { response, url } = await this.client.get(mirror.url, headers, this.options.signal);
    try {
      const status = response.statusCode ?? 0;
      if (status === 206 || status === 200) this.pin(mirror, response, url);
      if (status === 206) {
        await this.partial(mirror, job, wanted, response, url, deliver);
      } else if (status === 200 && job.ranges.length > 1) {
        // Some servers (nginx past max_ranges) drop a multi-range header but do
        // single ranges: cheaper to ask again one by one than to read it all.
        this.adapt(mirror, 1, `200 to ${job.ranges.length} ranges`);
      } else if (status === 200) {
        await this.whole(mirror, wanted, response, url, deliver);
      } else if (status === 412) {
        throw new HttpError('ERR_ZSYNC_REMOTE_CHANGED', `${url} changed during the sync (412 to If-Match)`, { url, status });
      } else if ((status === 501 || status === 400 || status === 416) && job.ranges.length > 1) {
        // Multi-range refused: that server gets one range per request from now on.
        this.adapt(mirror, 1, `${status} to ${job.ranges.length} ranges`);
      } else if (status === 404 || status === 410 || status === 401 || status === 403) {
        mirror.dead = true;
        if (this.mirrors.every((m) => m.dead)) throw new HttpError('ERR_ZSYNC_HTTP_STATUS', `${url} answered ${status}`, { url, status });
      } else {
        throw new HttpError('ERR_ZSYNC_HTTP_STATUS', `${url} answered ${status} ${response.statusMessage ?? ''}`.trim(), { url, status, retryable: status >= 500 || status === 408 || status === 429 });
      }
    } finally {
      response.destroy();
    }
  }

  /** A 206: one range in the body, or several as multipart/byteranges. */
  private async partial(mirror: Mirror, job: Job, wanted: Wanted, response: IncomingMessage, url: string, deliver: Deliver): Promise<void> {
    const type = response.headers['content-type'] ?? '';
    const boundary = /^\s*multipart\/byteranges\s*;.*boundary\s*=\s*"?([^";]+)"?/i.exec(type)?.[1];
    if (boundary !== undefined) {
      const parser = new MultipartByterangesParser({ boundary, onPart: (range) => this.checkRange(range, wanted, url) });
      response.on('data', (b: Buffer) => {
        this.stats.bytesOnWire += b.length;
      });
      response.on('error', (err) => parser.destroy(err));
      response.pipe(parser as unknown as NodeJS.WritableStream);
      try {
        for await (const chunk of parser as AsyncIterable<RemoteChunk>) await this.take(chunk, wanted, deliver);
      } catch (err) {
        // A body that ends cleanly but short of what its parts announced is a
        // short answer like any other: retried, resuming from what arrived.
        if (err instanceof TruncatedInputError) throw new HttpError('ERR_ZSYNC_HTTP_SHORT', `${url}: ${err.message}`, { url, status: 206, retryable: true, cause: err });
        throw err;
      }
      if (job.ranges.length > 1 && parser.parts.length < job.ranges.length && !wanted.empty) {
        this.adapt(mirror, Math.max(1, parser.parts.length), `${parser.parts.length} parts for ${job.ranges.length} ranges`);
      }
      return;
    }
    const range = parseContentRange(header(response, 'content-range'));
    if (!range) throw new HttpError('ERR_ZSYNC_HTTP_BAD_RANGE', `206 from ${url} without a usable Content-Range`, { url, status: 206 });
    this.checkRange(range, wanted, url);
    let offset = range.start;
    for await (const b of response as AsyncIterable<Buffer>) {
      this.stats.bytesOnWire += b.length;
      const piece = b.subarray(0, Math.max(0, range.end - offset));
      if (piece.length > 0) await this.take({ offset, data: piece }, wanted, deliver);
      offset += b.length;
    }
    if (offset < range.end) {
      throw new HttpError('ERR_ZSYNC_HTTP_SHORT', `${url} sent ${offset - range.start} of ${range.end - range.start} bytes`, { url, status: 206, retryable: true });
    }
    if (job.ranges.length > 1 && !wanted.empty) this.adapt(mirror, 1, `one range answered to ${job.ranges.length}`);
  }

  /** A 200: the server ignored Range. Take every wanted byte from this one body, and stop early. */
  private async whole(mirror: Mirror, wanted: Wanted, response: IncomingMessage, url: string, deliver: Deliver): Promise<void> {
    const length = Number(header(response, 'content-length') ?? NaN);
    if (this.options.length !== undefined && Number.isFinite(length) && length !== this.options.length) {
      throw new HttpError('ERR_ZSYNC_REMOTE_CHANGED', `${url} is ${length} bytes, the control file says ${this.options.length}`, { url, status: 200 });
    }
    this.adapt(mirror, 1, 'ignores Range (200): reading the whole file once');
    // Everything still queued comes out of this body too.
    for (const job of this.queue.splice(0)) for (const r of job.ranges) wanted.add(r);
    let offset = 0;
    for await (const b of response as AsyncIterable<Buffer>) {
      this.stats.bytesOnWire += b.length;
      await this.take({ offset, data: b }, wanted, deliver);
      offset += b.length;
      if (wanted.empty || offset >= wanted.last) return;
    }
    if (!wanted.empty) throw new HttpError('ERR_ZSYNC_HTTP_SHORT', `${url} ended at ${offset} bytes`, { url, status: 200, retryable: true });
  }

  /** Delivers the parts of a chunk that are still wanted. */
  private async take(chunk: RemoteChunk, wanted: Wanted, deliver: Deliver): Promise<void> {
    // Bytes already in flight when the caller aborted are dropped, not delivered.
    if (this.options.signal?.aborted) throw new AbortedError(this.options.signal.reason);
    const end = chunk.offset + chunk.data.length;
    for (const r of [...wanted.list]) {
      if (r.end <= chunk.offset) continue;
      if (r.start >= end) break;
      const s = Math.max(r.start, chunk.offset);
      const e = Math.min(r.end, end);
      wanted.remove(s, e);
      this.stats.payloadBytes += e - s;
      await deliver({ offset: s, data: chunk.data.subarray(s - chunk.offset, e - chunk.offset) });
    }
  }

  private checkRange(range: ContentRange, wanted: Wanted, url: string): void {
    if (this.options.length !== undefined && range.total !== undefined && range.total !== this.options.length) {
      throw new HttpError('ERR_ZSYNC_REMOTE_CHANGED', `${url} is ${range.total} bytes, the control file says ${this.options.length}`, { url, status: 206 });
    }
    if (!wanted.overlaps(range.start, range.end)) {
      throw new MultipartError(`${url} sent bytes ${range.start}-${range.end - 1}, which were not asked for`);
    }
  }

  private pin(mirror: Mirror, response: IncomingMessage, url: string): void {
    const etag = header(response, 'etag');
    const lastModified = header(response, 'last-modified');
    if (mirror.etag !== undefined && etag !== undefined && etag !== mirror.etag) {
      throw new HttpError('ERR_ZSYNC_REMOTE_CHANGED', `${url} changed during the sync (ETag ${mirror.etag} became ${etag})`, { url });
    }
    if (mirror.etag === undefined && mirror.lastModified !== undefined && lastModified !== undefined && lastModified !== mirror.lastModified) {
      throw new HttpError('ERR_ZSYNC_REMOTE_CHANGED', `${url} changed during the sync (Last-Modified ${mirror.lastModified} became ${lastModified})`, { url });
    }
    mirror.etag ??= etag;
    mirror.lastModified ??= lastModified;
  }

  private adapt(mirror: Mirror, maxRanges: number, why: string): void {
    if (maxRanges < mirror.maxRanges || why.startsWith('ignores')) {
      const note = `${mirror.url}: ${why}; now ${maxRanges} range${maxRanges === 1 ? '' : 's'} per request`;
      if (!this.stats.adaptations.includes(note)) this.stats.adaptations.push(note);
    }
    mirror.maxRanges = Math.min(mirror.maxRanges, maxRanges);
  }
}

function header(response: IncomingMessage, name: string): string | undefined {
  const v = response.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

function shuffle<T>(list: T[]): T[] {
  for (let i = list.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [list[i], list[j]] = [list[j]!, list[i]!];
  }
  return list;
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(new AbortedError(signal.reason));
      return;
    }
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(new AbortedError(signal?.reason));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

