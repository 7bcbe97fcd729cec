import { setTimeout as delay } from 'node:timers/promises';
import type { ChunkSink, RemoteChunk } from '../engine/block-assembler.js';
import type { ByteRange } from '../engine/target-state.js';

import { parseContentRange, type ContentRange } from './content-range.js';
import { TruncatedInputError } from '../errors.js';
import { displayUrl } from './display-url.js';
import { HttpError, MultipartError } from './errors.js';
import { AbortedError, classify, HttpClient, httpClientOptions, type HttpClientOptions, type HttpResponse } from './http-client.js';
import { MultipartDecoder } from './multipart-decoder.js';
import { mergePacked, rangeHeader, rangeSpecLength, Wanted } from './range-plan.js';
import { checkRanges, type PackedRanges, type RangeList } from '../engine/packed-ranges.js';

export interface RangeFetcherOptions extends HttpClientOptions {
  /** Length of the file on the server, checked against every answer. */
  length?: number;
  /**
   * Ranges asked for in one request at most (and no more than fit in
   * maxRangeHeader). Default 128: fewer, bigger requests cost less of the
   * sync's CPU while the whole-file hash runs beside the fetch (1 GiB pair:
   * fetch 1.5 s with 32, 0.9 s with 128); a server that takes fewer is
   * adapted to.
   */
  maxRangesPerRequest?: number;
  /** Longest Range header sent, in characters. Default 4000 (servers cap request headers at 4-8 KiB). */
  maxRangeHeader?: number;
  /** Neighbouring ranges closer than this many bytes are fetched as one. Default 256. */
  mergeGap?: number;
  /** Requests in flight at once. Default 4. */
  concurrency?: number;
  /** Attempts per range before giving up (once every live mirror has been tried). Default 3. */
  maxAttempts?: number;
  /** Time spent retrying in all (backoff plus failed exchanges), in ms, before giving up. Default 30 000. */
  retryBudgetMs?: number;
  /** First backoff delay, doubled each attempt, in ms. Default 200. */
  backoffMs?: number;
  /** Consecutive failed exchanges after which a mirror is dropped while another is alive. Default 2. */
  mirrorFailures?: number;
  signal?: AbortSignal;
}

export interface FetchCallOptions {
  /** Attempts already spent on these ranges (a refetch round counts as one). Default 0. */
  attempts?: number;
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
  /** The URL as shown in messages (no password). */
  shown: string;
  /** Ranges per request this server has shown it honours. */
  maxRanges: number;
  /** Pinned validators: a change means the file changed under us. */
  etag: string | undefined;
  lastModified: string | undefined;
  dead: boolean;
  /** Failed exchanges in a row. */
  failures: number;
}

/** One range still to fetch, with its own attempt count and the mirrors it failed on. */
interface Item extends ByteRange {
  attempts: number;
  /** The mirrors it failed on; made at its first failure (a sync queues thousands of ranges). */
  tried: Set<Mirror> | undefined;
  /** The mirror it last failed on: retried elsewhere when there is a live alternative. */
  avoid: Mirror | undefined;
}

interface Job {
  /** Sorted, disjoint. */
  items: Item[];
}

export const DEFAULT_MAX_RANGES = 128;

/**
 * Turns byte ranges into HTTP Range requests against one or more mirrors, and
 * their answers into `{ offset, data }` chunks handed to `deliver` as they
 * arrive (never a whole response in memory). It adapts to what the server does:
 * several ranges per request while it answers them all; fewer, or one, when it
 * answers 501, sends only the first range, or caps the parts; the whole file
 * once if it ignores ranges (200). Every Content-Range is checked against what
 * was asked and the file's length; ETag/Last-Modified are pinned across requests.
 * Network errors, resets, stalls, 5xx and short answers are retried with
 * backoff on another live mirror when there is one, resuming from the bytes
 * already received, within `maxAttempts` per range and `retryBudgetMs` in all.
 *
 * `fetch()` may be called again (what was learned of the mirrors is kept, the
 * retry budget too); `close()` frees the connections at the end.
 */
export class HttpRangeFetcher {
  /** Totals over every fetch() call. */
  readonly stats: FetchStats = { requests: 0, bytesOnWire: 0, payloadBytes: 0, retries: 0, adaptations: [] };
  private readonly client: HttpClient;
  private readonly mirrors: Mirror[];
  private readonly options: RangeFetcherOptions;
  /**
   * The ranges still to ask for, in file order: `queue`, then the packed
   * `fresh` ranges from `freshAt` on. Items are made from `fresh` a request's
   * worth at a time (fill()), so that the thousands a sync queues are not
   * objects for the whole fetch (see PackedRanges). Everything put back in
   * the queue comes from a request already taken, so it lies before `fresh`.
   */
  private queue: Item[] = [];
  private fresh: PackedRanges = new Float64Array(0);
  private freshAt = 0;
  private freshAttempts = 0;
  private next = 0;
  /** take()'s pieces, start and end pairs (see Wanted.takeInto). */
  private readonly pieces: number[] = [];
  /** Time spent retrying so far (backoff plus failed exchanges), in ms. */
  private retrySpent = 0;
  private busy = false;
  private closed = false;

  constructor(urls: readonly string[], options: RangeFetcherOptions = {}) {
    if (urls.length === 0) throw new HttpError('ERR_ZSYNC_NO_URL', 'no URL to fetch from', { url: '' });
    this.options = options;
    this.client = new HttpClient({ ...httpClientOptions(options), maxSockets: options.concurrency ?? 4 });
    const maxRanges = Math.max(1, options.maxRangesPerRequest ?? DEFAULT_MAX_RANGES);
    // Mirrors are tried in a random order, as zsync does, to spread the load.
    this.mirrors = shuffle(urls.map((url) => ({ url, shown: displayUrl(url), maxRanges, etag: undefined, lastModified: undefined, dead: false, failures: 0 })));
  }

  /**
   * Fetches every range, handing the data to `deliver`. Resolves when all of it
   * has been delivered, with this call's statistics. The first failure stops
   * every request at once and rejects. A chunk's `data` is a view of a read
   * buffer that is reused: it is valid until `deliver` returns, or until the
   * promise it returns settles (see ChunkSink); copy what you keep.
   */
  async fetch(ranges: RangeList, deliver: ChunkSink, call: FetchCallOptions = {}): Promise<FetchStats> {
    if (this.closed) throw new HttpError('ERR_ZSYNC_CLOSED', 'fetch() after close()', { url: this.mirrors[0]!.shown });
    if (this.busy) throw new HttpError('ERR_ZSYNC_BUSY', 'fetch() is already running on this fetcher', { url: this.mirrors[0]!.shown });
    checkRanges(ranges, this.options.length);
    this.busy = true;
    const before = { ...this.stats, adaptations: [...this.stats.adaptations] };
    // Our own controller, combined with the caller's: the first failure aborts
    // every other request, so that fetch() settles at once.
    const internal = new AbortController();
    const signal = this.options.signal ? AbortSignal.any([this.options.signal, internal.signal]) : internal.signal;
    const attempts = call.attempts ?? 0;
    this.queue = [];
    this.fresh = mergePacked(ranges, this.options.mergeGap ?? 256);
    this.freshAt = 0;
    this.freshAttempts = attempts;
    const concurrency = Math.max(1, this.options.concurrency ?? 4);
    const running = new Set<Promise<void>>();
    let failed = false;
    let failure: unknown;
    const fail = (err: unknown): void => {
      if (failed) return;
      failed = true;
      failure = err;
      internal.abort(err);
    };
    try {
      if (this.options.signal?.aborted) throw new AbortedError(this.options.signal.reason);
      while ((this.queued() || running.size > 0) && !failed) {
        while (this.queued() && running.size < concurrency && !failed) {
          let mirror: Mirror;
          let job: Job;
          try {
            mirror = this.pickMirror(this.first());
            job = this.takeJob(mirror);
          } catch (err) {
            fail(err);
            break;
          }
          const task = this.run(mirror, job, deliver, signal).catch(fail);
          running.add(task);
          void task.finally(() => running.delete(task));
        }
        if (running.size > 0) await Promise.race(running);
      }
    } catch (err) {
      fail(err);
    } finally {
      // Aborted on failure: the others stop now; wait for them so that nothing is
      // delivered after we return.
      await Promise.allSettled(running);
      this.queue = [];
      this.fresh = new Float64Array(0);
      this.freshAt = 0;
      this.busy = false;
    }
    if (failed) throw failure;
    return {
      requests: this.stats.requests - before.requests,
      bytesOnWire: this.stats.bytesOnWire - before.bytesOnWire,
      payloadBytes: this.stats.payloadBytes - before.payloadBytes,
      retries: this.stats.retries - before.retries,
      adaptations: this.stats.adaptations.filter((n) => !before.adaptations.includes(n)),
    };
  }

  /** Closes the keep-alive connections. */
  close(): void {
    this.closed = true;
    this.client.close();
  }

  /** True while some range is still to be asked for. */
  private queued(): boolean {
    return this.queue.length > 0 || this.freshAt < this.fresh.length;
  }

  /** The first range still to be asked for (only when queued()). */
  private first(): Item {
    if (this.queue.length === 0) this.fill(1);
    return this.queue[0]!;
  }

  /** Makes up to `n` more queue items from the packed ranges; returns how many it made. */
  private fill(n: number): number {
    const fresh = this.fresh;
    let made = 0;
    for (; made < n && this.freshAt < fresh.length; made++, this.freshAt += 2) {
      this.queue.push({ start: fresh[this.freshAt]!, end: fresh[this.freshAt + 1]!, attempts: this.freshAttempts, tried: undefined, avoid: undefined });
    }
    return made;
  }

  private alive(): Mirror[] {
    return this.mirrors.filter((m) => !m.dead);
  }

  /** A live mirror for this range: one it has not failed on yet if possible, else not the last one it failed on. */
  private pickMirror(item: Item): Mirror {
    const alive = this.alive();
    if (alive.length === 0) throw new HttpError('ERR_ZSYNC_HTTP_NO_MIRROR', 'every URL failed', { url: this.mirrors[0]!.shown });
    let candidates = alive.filter((m) => !item.tried?.has(m));
    if (candidates.length === 0) candidates = alive.filter((m) => m !== item.avoid);
    if (candidates.length === 0) candidates = alive;
    return candidates[this.next++ % candidates.length]!;
  }

  /** Takes as many queued ranges as this mirror takes in one request, in file order. */
  private takeJob(mirror: Mirror): Job {
    const maxHeader = this.options.maxRangeHeader ?? 4000;
    const hasAlternative = this.alive().length > 1;
    const items: Item[] = [];
    const taken: number[] = [];
    let header = 'bytes='.length - 1;
    for (let i = 0; items.length < mirror.maxRanges; i++) {
      if (i === this.queue.length && this.fill(mirror.maxRanges) === 0) break;
      const item = this.queue[i]!;
      // Ranges that just failed on this mirror wait for another one.
      if (items.length > 0 && hasAlternative && item.avoid === mirror) continue;
      const spec = rangeSpecLength(item) + 1;
      if (items.length > 0 && header + spec > maxHeader) break;
      header += spec;
      items.push(item);
      taken.push(i);
    }
    // One pass to take them out (usually a prefix of the queue).
    if (taken.length === taken[taken.length - 1]! + 1) this.queue.splice(0, taken.length);
    else for (let k = taken.length - 1; k >= 0; k--) this.queue.splice(taken[k]!, 1);
    return { items };
  }

  private async run(mirror: Mirror, job: Job, deliver: ChunkSink, signal: AbortSignal): Promise<void> {
    const wanted = new Wanted(job.items);
    const asked = job.items.length;
    const wasDead = mirror.dead;
    const t0 = performance.now();
    try {
      await this.exchange(mirror, job, wanted, deliver, signal);
    } catch (err) {
      const e = classify(err, mirror.url, signal);
      if (!(e instanceof HttpError) || !e.retryable) throw e;
      await this.retry(e, mirror, job, wanted, performance.now() - t0, signal);
      return;
    }
    if (wanted.empty) {
      mirror.failures = 0;
      return;
    }
    // The server answered, but not all of it. When we learned something that
    // changes the next request (this server takes fewer ranges than we asked, or
    // it is dead), ask again for the rest at no cost: that can happen only a
    // bounded number of times. Otherwise it is a short answer like any other.
    if (asked > mirror.maxRanges || (mirror.dead && !wasDead)) {
      this.requeue(this.leftover(wanted, job));
      return;
    }
    const short = new HttpError('ERR_ZSYNC_HTTP_SHORT', `${mirror.shown} left ${wanted.bytes} of the bytes asked for unanswered`, { url: mirror.shown, status: 206, retryable: true });
    await this.retry(short, mirror, job, wanted, performance.now() - t0, signal);
  }

  /** What is left of a job, as queue items keeping each range's own attempt count. */
  private leftover(wanted: Wanted, job: Job): Item[] {
    const out: Item[] = [];
    let k = 0;
    for (const piece of wanted.list) {
      while (k < job.items.length && job.items[k]!.end <= piece.start) k++;
      // A piece lies within one item (items are disjoint and never touch); be safe anyway.
      let owner = job.items[k];
      for (let j = k + 1; j < job.items.length && job.items[j]!.start < piece.end; j++) {
        if (owner === undefined || job.items[j]!.attempts > owner.attempts) owner = job.items[j];
      }
      out.push({ start: piece.start, end: piece.end, attempts: owner?.attempts ?? 0, tried: owner?.tried ? new Set(owner.tried) : undefined, avoid: owner?.avoid });
    }
    return out;
  }

  private async retry(err: HttpError, mirror: Mirror, job: Job, wanted: Wanted, spentMs: number, signal: AbortSignal): Promise<void> {
    const maxAttempts = Math.max(1, this.options.maxAttempts ?? 3);
    const budget = this.options.retryBudgetMs ?? 30_000;
    this.retrySpent += spentMs;
    mirror.failures++;
    const alive = this.alive();
    if (mirror.failures >= (this.options.mirrorFailures ?? 2) && alive.length > 1 && !mirror.dead) {
      mirror.dead = true;
      this.note(`${mirror.shown}: ${mirror.failures} failures in a row (${err.message}); not used any more`);
    }
    const left = this.leftover(wanted, job);
    let most = 0;
    let exhausted = false;
    const live = this.alive();
    for (const item of left) {
      item.attempts++;
      (item.tried ??= new Set()).add(mirror);
      item.avoid = mirror;
      most = Math.max(most, item.attempts);
      // Out of attempts once every live mirror has had its chance; a hard bound besides.
      if ((item.attempts >= maxAttempts && live.every((m) => item.tried!.has(m))) || item.attempts >= maxAttempts + this.mirrors.length) exhausted = true;
    }
    if (exhausted || this.retrySpent >= budget) {
      const why = exhausted ? `gave up after ${most} attempts` : `gave up after ${Math.round(this.retrySpent)} ms of retrying`;
      throw new HttpError(err.code, `${err.message} (${why})`, { url: err.url, ...(err.status === undefined ? {} : { status: err.status }), cause: err });
    }
    this.stats.retries++;
    const wait = Math.max(0, Math.min((this.options.backoffMs ?? 200) * 2 ** (most - 1), budget - this.retrySpent));
    this.retrySpent += wait;
    await sleep(wait, signal);
    this.requeue(left);
  }

  /** Puts items back in the queue, in file order. */
  private requeue(items: Item[]): void {
    for (const item of items) {
      let lo = 0;
      let hi = this.queue.length;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (this.queue[mid]!.start < item.start) lo = mid + 1;
        else hi = mid;
      }
      this.queue.splice(lo, 0, item);
    }
  }

  private async exchange(mirror: Mirror, job: Job, wanted: Wanted, deliver: ChunkSink, signal: AbortSignal): Promise<void> {
    const headers: Record<string, string> = { range: rangeHeader(job.items) };
    if (mirror.etag !== undefined && !mirror.etag.startsWith('W/')) headers['if-match'] = mirror.etag;
    else if (mirror.lastModified !== undefined) headers['if-unmodified-since'] = mirror.lastModified;
    this.stats.requests++;
    const got = await this.client.get(mirror.url, headers, signal);
    const { response } = got;
    const url = displayUrl(got.url);
    try {
      const status = response.statusCode;
      if (status === 206 || status === 200) this.pin(mirror, response, url);
      if (status === 206) {
        await this.partial(mirror, job, wanted, response, url, deliver, signal);
      } else if (status === 200 && job.items.length > 1) {
        // Some servers (nginx past max_ranges) drop a multi-range header but do
        // single ranges: cheaper to ask again one by one than to read it all.
        this.adapt(mirror, 1, `200 to ${job.items.length} ranges`);
      } else if (status === 200) {
        await this.whole(mirror, job, wanted, response, url, deliver, signal);
      } else if (status === 412) {
        throw new HttpError('ERR_ZSYNC_REMOTE_CHANGED', `${url} changed during the sync (412 to If-Match)`, { url, status });
      } else if ((status === 501 || status === 400 || status === 416) && job.items.length > 1) {
        // Multi-range refused: that server gets one range per request from now on.
        this.adapt(mirror, 1, `${status} to ${job.items.length} ranges`);
      } else if (status === 404 || status === 410 || status === 401 || status === 403) {
        if (!mirror.dead) {
          mirror.dead = true;
          this.note(`${mirror.shown}: answered ${status}; not used any more`);
        }
        if (this.mirrors.every((m) => m.dead)) throw new HttpError('ERR_ZSYNC_HTTP_STATUS', `${url} answered ${status}`, { url, status });
      } else {
        throw new HttpError('ERR_ZSYNC_HTTP_STATUS', `${url} answered ${status} ${response.statusMessage}`.trim(), { url, status, retryable: status >= 500 || status === 408 || status === 429 });
      }
    } finally {
      // Ends the exchange; a complete response keeps its keep-alive connection.
      response.destroy();
    }
  }

  /** A 206: one range in the body, or several as multipart/byteranges. */
  private async partial(mirror: Mirror, job: Job, wanted: Wanted, response: HttpResponse, url: string, deliver: ChunkSink, signal: AbortSignal): Promise<void> {
    const type = response.headers['content-type'] ?? '';
    const boundary = /^\s*multipart\/byteranges\s*;.*boundary\s*=\s*"?([^";]+)"?/i.exec(type)?.[1];
    if (boundary !== undefined) {
      await this.multipart(mirror, job, wanted, response, url, boundary, deliver, signal);
      return;
    }
    const range = parseContentRange(header(response, 'content-range'));
    if (!range) throw new HttpError('ERR_ZSYNC_HTTP_BAD_RANGE', `206 from ${url} without a usable Content-Range`, { url, status: 206 });
    this.checkRange(range, wanted, url);
    let offset = range.start;
    for await (const b of response.chunks()) {
      this.stats.bytesOnWire += b.length;
      const piece = b.subarray(0, Math.max(0, range.end - offset));
      const pending = piece.length > 0 ? this.take({ offset, data: piece }, wanted, deliver, signal) : undefined;
      if (pending) await pending;
      offset += b.length;
      // Everything announced is in: a body running on past it (or forever) is not read further.
      if (offset >= range.end && !response.complete) break;
    }
    if (offset < range.end) {
      throw new HttpError('ERR_ZSYNC_HTTP_SHORT', `${url} sent ${offset - range.start} of ${range.end - range.start} bytes`, { url, status: 206, retryable: true });
    }
    if (job.items.length > 1 && !wanted.empty) this.adapt(mirror, 1, `one range answered to ${job.items.length}`);
  }

  private async multipart(mirror: Mirror, job: Job, wanted: Wanted, response: HttpResponse, url: string, boundary: string, deliver: ChunkSink, signal: AbortSignal): Promise<void> {
    const parser = new MultipartDecoder({ boundary, onPart: (range) => this.checkRange(range, wanted, url) });
    // Each chunk of the body is decoded, and its part data taken (awaited: the
    // consumer's backpressure), before the next is read; the views of the chunk
    // are not used after that. No Transform stream in between.
    const ready: RemoteChunk[] = [];
    const collect = (chunk: RemoteChunk): void => {
      ready.push(chunk);
    };
    try {
      for await (const b of response.chunks()) {
        this.stats.bytesOnWire += b.length;
        parser.write(b, collect);
        for (let i = 0; i < ready.length; i++) {
          const pending = this.take(ready[i]!, wanted, deliver, signal);
          if (pending) await pending;
        }
        ready.length = 0;
        // The body, up to the closing boundary: a body that runs on past it (or
        // forever) is not read further.
        if (parser.complete && !response.complete) break;
      }
      parser.end();
    } catch (err) {
      // A body that ends cleanly but short of what its parts announced is a
      // short answer like any other: retried, resuming from what arrived.
      if (err instanceof TruncatedInputError) throw new HttpError('ERR_ZSYNC_HTTP_SHORT', `${url}: ${err.message}`, { url, status: 206, retryable: true, cause: err });
      throw err;
    }
    if (parser.parts.length === 0) {
      throw new HttpError('ERR_ZSYNC_HTTP_SHORT', `${url} answered ${job.items.length} range${job.items.length === 1 ? '' : 's'} with no part`, { url, status: 206, retryable: true });
    }
    if (job.items.length > 1 && parser.parts.length < job.items.length && !wanted.empty) {
      this.adapt(mirror, parser.parts.length, `${parser.parts.length} parts for ${job.items.length} ranges`);
    }
  }

  /** A 200: the server ignored Range. Take every wanted byte from this one body, and stop early. */
  private async whole(mirror: Mirror, job: Job, wanted: Wanted, response: HttpResponse, url: string, deliver: ChunkSink, signal: AbortSignal): Promise<void> {
    const length = Number(header(response, 'content-length') ?? NaN);
    if (this.options.length !== undefined && Number.isFinite(length) && length !== this.options.length) {
      throw new HttpError('ERR_ZSYNC_REMOTE_CHANGED', `${url} is ${length} bytes, the control file says ${this.options.length}`, { url, status: 200 });
    }
    this.adapt(mirror, 1, 'ignores Range (200): reading the whole file once');
    // Everything still queued comes out of this body too.
    this.fill(Infinity);
    const queued = this.queue.splice(0);
    if (queued.length > 0) {
      wanted.add(queued);
      job.items = [...job.items, ...queued].sort((a, b) => a.start - b.start);
    }
    let offset = 0;
    for await (const b of response.chunks()) {
      this.stats.bytesOnWire += b.length;
      const pending = this.take({ offset, data: b }, wanted, deliver, signal);
      if (pending) await pending;
      offset += b.length;
      if (wanted.empty || offset >= wanted.last) return;
    }
    if (!wanted.empty) throw new HttpError('ERR_ZSYNC_HTTP_SHORT', `${url} ended at ${offset} bytes`, { url, status: 200, retryable: true });
  }

  /**
   * Delivers the parts of a chunk that are still wanted. Returns a promise only
   * once a delivery has returned one: a synchronous consumer (the sync's own)
   * costs no promise per chunk.
   */
  private take(chunk: RemoteChunk, wanted: Wanted, deliver: ChunkSink, signal: AbortSignal): Promise<void> | undefined {
    // Reused: filled and read before anything else can run (a delivery that
    // returns a promise gets a copy of what is left).
    const pieces = this.pieces;
    pieces.length = 0;
    wanted.takeInto(chunk.offset, chunk.offset + chunk.data.length, pieces);
    for (let i = 0; i < pieces.length; i += 2) {
      const pending = this.deliverPiece(pieces[i]!, pieces[i + 1]!, chunk, deliver, signal);
      if (pending !== undefined) return this.takeRest(pending, pieces.slice(i + 2), chunk, deliver, signal);
    }
    return undefined;
  }

  private async takeRest(pending: Promise<void>, pieces: number[], chunk: RemoteChunk, deliver: ChunkSink, signal: AbortSignal): Promise<void> {
    await pending;
    for (let i = 0; i < pieces.length; i += 2) await this.deliverPiece(pieces[i]!, pieces[i + 1]!, chunk, deliver, signal);
  }

  private deliverPiece(start: number, end: number, chunk: RemoteChunk, deliver: ChunkSink, signal: AbortSignal): Promise<void> | undefined {
    // Bytes in flight when the fetch was aborted (or failed) are dropped, not delivered.
    if (signal.aborted) throw new AbortedError(signal.reason);
    this.stats.payloadBytes += end - start;
    // All of the chunk wanted, the usual case: the chunk itself, not a copy of its description.
    if (start === chunk.offset && end === chunk.offset + chunk.data.length) return deliver(chunk) ?? undefined;
    return deliver({ offset: start, data: chunk.data.subarray(start - chunk.offset, end - chunk.offset) }) ?? undefined;
  }

  private checkRange(range: ContentRange, wanted: Wanted, url: string): void {
    if (this.options.length !== undefined && range.total !== undefined && range.total !== this.options.length) {
      throw new HttpError('ERR_ZSYNC_REMOTE_CHANGED', `${url} is ${range.total} bytes, the control file says ${this.options.length}`, { url, status: 206 });
    }
    if (!wanted.overlaps(range.start, range.end)) {
      throw new MultipartError(`${url} sent bytes ${range.start}-${range.end - 1}, which were not asked for`);
    }
  }

  private pin(mirror: Mirror, response: HttpResponse, url: string): void {
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
      this.note(`${mirror.shown}: ${why}; now ${maxRanges} range${maxRanges === 1 ? '' : 's'} per request`);
    }
    mirror.maxRanges = Math.max(1, Math.min(mirror.maxRanges, maxRanges));
  }

  private note(text: string): void {
    if (!this.stats.adaptations.includes(text)) this.stats.adaptations.push(text);
  }
}

function header(response: HttpResponse, name: string): string | undefined {
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

async function sleep(ms: number, signal: AbortSignal): Promise<void> {
  try {
    await delay(ms, undefined, { signal });
  } catch (err) {
    if (signal.aborted) throw new AbortedError(signal.reason);
    throw err;
  }
}
