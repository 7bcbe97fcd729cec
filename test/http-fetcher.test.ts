/**
 * HttpRangeFetcher against scripted servers on 127.0.0.1: our range server and
 * a fault server that misbehaves on purpose. If this regressed, a sync would
 * fail (or worse, take wrong bytes) against CDNs that cap or refuse multi-range
 * requests, would refetch whole ranges after a reset instead of resuming,
 * would hang on a stalled server, or would retry around a bad certificate.
 */
import { expect } from 'chai';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { rangeBytes, unpackRanges, type RangeList } from '../lib/engine/packed-ranges.js';
import type { ByteRange } from '../lib/engine/target-state.js';
import { HttpRangeFetcher, type RangeFetcherOptions } from '../lib/transport/range-fetcher.js';
import { createRangeServer } from '../lib/transport/range-server.js';
import { prng, randomBytes } from './generators.js';
import { startFaultServer, type FaultServer } from './support/fault-server.js';
import { rejection } from './support/sync-fixtures.js';
import { makeTestCa, type TestCa } from './support/test-ca.js';

const SIZE = 1 << 20;
const DATA = randomBytes(prng(42), SIZE);

/** `count` disjoint random ranges, sorted, gaps of more than the merge gap. */
function someRanges(seed: number, count: number, maxLen = 20_000): ByteRange[] {
  const rand = prng(seed);
  const out: ByteRange[] = [];
  let o = rand() % 5000;
  for (let i = 0; i < count && o < SIZE; i++) {
    const len = 1 + (rand() % maxLen);
    out.push({ start: o, end: Math.min(SIZE, o + len) });
    o += len + 1000 + (rand() % 20_000);
  }
  return out;
}

/** `count` ranges of 100 bytes, 500 apart (farther than the merge gap), packed. */
function densePacked(count: number): Float64Array {
  const out = new Float64Array(2 * count);
  for (let i = 0; i < count; i++) {
    out[2 * i] = 7 + 500 * i;
    out[2 * i + 1] = 107 + 500 * i;
  }
  return out;
}

const RANGES = someRanges(1, 30);
const WANTED_BYTES = RANGES.reduce((n, r) => n + r.end - r.start, 0);

interface Outcome {
  buf: Buffer;
  covered: Uint8Array;
  delivered: number;
}

/** Fetches `ranges` and checks every byte delivered against DATA, each at most once. */
async function fetchInto(urls: string[], ranges: RangeList, options: RangeFetcherOptions & { onChunk?: (offset: number) => void } = {}): Promise<Outcome & { fetcher: HttpRangeFetcher }> {
  const fetcher = new HttpRangeFetcher(urls, { length: SIZE, backoffMs: 10, ...options });
  const out = { buf: Buffer.alloc(SIZE), covered: new Uint8Array(SIZE), delivered: 0, fetcher };
  try {
    await fetcher.fetch(ranges, async (chunk) => {
      options.onChunk?.(chunk.offset);
      for (let i = 0; i < chunk.data.length; i++) {
        const at = chunk.offset + i;
        if (out.covered[at] !== 0) expect.fail(`byte ${at} delivered twice`);
        out.covered[at] = 1;
      }
      out.buf.set(chunk.data, chunk.offset);
      out.delivered += chunk.data.length;
    });
  } finally {
    fetcher.close();
  }
  return out;
}

function expectAll(out: Outcome, ranges: ByteRange[]): void {
  for (const r of ranges) {
    expect(out.buf.subarray(r.start, r.end).equals(DATA.subarray(r.start, r.end)), `range ${r.start}-${r.end}`).to.equal(true);
    for (let i = r.start; i < r.end; i++) if (out.covered[i] !== 1) expect.fail(`byte ${i} never delivered`);
  }
}


describe('HttpRangeFetcher against our range server', () => {
  let dir: string;
  let server: Server;
  let base: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'zs-fetch-'));
    await writeFile(join(dir, 'data.bin'), DATA);
    server = createRangeServer({ root: dir });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
    await rm(dir, { recursive: true, force: true });
  });

  it('fetches 30 ranges in a few multi-range requests, every byte once', async () => {
    const out = await fetchInto([`${base}/data.bin`], RANGES, { maxRangesPerRequest: 8 });
    expectAll(out, RANGES);
    expect(out.delivered).to.equal(WANTED_BYTES);
    expect(out.fetcher.stats.requests).to.equal(4);
    expect(out.fetcher.stats.payloadBytes).to.equal(WANTED_BYTES);
    // Multipart headers cost a little on the wire, not much.
    expect(out.fetcher.stats.bytesOnWire).to.be.within(WANTED_BYTES, WANTED_BYTES + 30 * 200);
  });

  it('takes its ranges packed too: 2 000 of them in a Float64Array, made into requests as they go, every byte once', async () => {
    const packed = densePacked(2000);
    const ranges = unpackRanges(packed) as ByteRange[];
    const out = await fetchInto([`${base}/data.bin`], packed, { maxRangesPerRequest: 64, concurrency: 3 });
    expectAll(out, ranges);
    expect(out.delivered).to.equal(rangeBytes(packed));
    expect(out.fetcher.stats.requests).to.equal(Math.ceil(2000 / 64));
  });

  it('refuses what is not byte ranges with ERR_ZSYNC_INVALID_ARGUMENT, before any request: packed numbers not in pairs, or not whole bytes from 0', async () => {
    for (const bad of [Float64Array.from([0, 10, 20]), Float64Array.from([0, NaN]), Float64Array.from([-1, 10]), Float64Array.from([0, 1.5]), [{ start: 0, end: Infinity }], [{ start: 20, end: 10 }], Float64Array.from([SIZE - 10, SIZE + 1])]) {
      const fetcher = new HttpRangeFetcher([`${base}/data.bin`], { length: SIZE });
      let delivered = 0;
      const err = await rejection(fetcher.fetch(bad, () => {
        delivered++;
      }));
      fetcher.close();
      expect(err, String(bad)).to.have.property('code', 'ERR_ZSYNC_INVALID_ARGUMENT');
      expect(delivered).to.equal(0);
      expect(fetcher.stats.requests).to.equal(0);
    }
  });

  it('takes an empty list, and empty ranges, as nothing to fetch: no request', async () => {
    for (const none of [[], new Float64Array(0), [{ start: 5, end: 5 }], Float64Array.from([SIZE, SIZE])]) {
      const out = await fetchInto([`${base}/data.bin`], none);
      expect(out.delivered).to.equal(0);
      expect(out.fetcher.stats.requests).to.equal(0);
    }
  });

  it('coalesces ranges closer than the merge gap into one', async () => {
    const close = [{ start: 0, end: 100 }, { start: 150, end: 200 }, { start: 10_000, end: 10_010 }];
    const out = await fetchInto([`${base}/data.bin`], close, { mergeGap: 100, maxRangesPerRequest: 1 });
    expectAll(out, close);
    expect(out.fetcher.stats.requests).to.equal(2);
  });

  it('fails with ERR_ZSYNC_REMOTE_CHANGED when the file is not the length the control file says', async () => {
    const fetcher = new HttpRangeFetcher([`${base}/data.bin`], { length: SIZE + 1 });
    const err = await rejection(fetcher.fetch(RANGES.slice(0, 3), async () => {}));
    expect(err).to.have.property('code', 'ERR_ZSYNC_REMOTE_CHANGED');
  });

  it('skips a dead mirror (404) and takes everything from a good one', async () => {
    for (let i = 0; i < 3; i++) {
      const out = await fetchInto([`${base}/missing.bin`, `${base}/data.bin`], RANGES, { maxRangesPerRequest: 8 });
      expectAll(out, RANGES);
    }
  });

  it('fails with a typed error when every mirror is dead', async () => {
    const fetcher = new HttpRangeFetcher([`${base}/missing.bin`, `${base}/gone.bin`], { length: SIZE });
    const err = await rejection(fetcher.fetch(RANGES, async () => {}));
    expect(err.code).to.be.oneOf(['ERR_ZSYNC_HTTP_STATUS', 'ERR_ZSYNC_HTTP_NO_MIRROR']);
  });
});

describe('HttpRangeFetcher against a misbehaving server', () => {
  let fs: FaultServer;
  const url = (): string => fs.url('/data.bin');

  before(async () => {
    fs = await startFaultServer({ files: { '/data.bin': DATA, '/moved.bin': DATA }, dataPath: '/data.bin', redirects: { '/old.bin': '/data.bin' } });
  });
  beforeEach(() => {
    fs.reset();
    fs.setFault({ mode: 'none' });
  });
  after(async () => {
    await fs.stop();
  });

  // The merely limited servers: every one must give every byte.
  for (const [mode, note] of [
    ['ignore-range', /200/],
    ['first-range-only', /one range|first|parts/],
    ['multi-501', /501/],
    ['cap-parts', /parts/],
  ] as const) {
    it(`adapts to a server that does '${mode}' and gets every byte`, async () => {
      fs.setFault({ mode, cap: 3 });
      const out = await fetchInto([url()], RANGES, { maxRangesPerRequest: 16 });
      expectAll(out, RANGES);
      expect(out.fetcher.stats.adaptations.join('\n')).to.match(note);
      if (mode === 'ignore-range') {
        // Read once, stopped early: never more than the file, and one or two requests.
        expect(out.fetcher.stats.bytesOnWire).to.be.at.most(SIZE);
        expect(fs.requests('/data.bin')).to.be.at.most(8);
      } else {
        expect(out.fetcher.stats.bytesOnWire).to.be.below(WANTED_BYTES * 1.1);
        // Falling back must not mean refetching: nothing far beyond one request per range.
        expect(fs.requests('/data.bin')).to.be.at.most(RANGES.length + 2);
      }
    });
  }

  // Packed ranges are made into queue items a request's worth at a time: what
  // a limited server leaves is put back before the ranges not yet made, and a
  // server that ignores Range takes every one of them from its one body.
  for (const mode of ['ignore-range', 'first-range-only', 'multi-501', 'cap-parts'] as const) {
    it(`gets every byte of 300 packed ranges from a server that does '${mode}', in file order`, async () => {
      fs.setFault({ mode, cap: 3 });
      const packed = densePacked(300);
      const offsets: number[] = [];
      const out = await fetchInto([url()], packed, { maxRangesPerRequest: 16, concurrency: 1, onChunk: (offset) => offsets.push(offset) });
      expectAll(out, unpackRanges(packed) as ByteRange[]);
      expect(out.delivered).to.equal(rangeBytes(packed));
      expect(offsets).to.deep.equal([...offsets].sort((a, b) => a - b));
      // One body for all of them, not one per range made later.
      if (mode === 'ignore-range') expect(fs.requests('/data.bin')).to.be.at.most(2);
    });
  }

  it('uses the parts a capping server sends and asks only for the rest', async () => {
    fs.setFault({ mode: 'cap-parts', cap: 4 });
    const out = await fetchInto([url()], RANGES, { maxRangesPerRequest: 10 });
    expectAll(out, RANGES);
    expect(fs.sent('/data.bin')).to.be.below(WANTED_BYTES * 1.1);
  });

  it('keeps the Range header under maxRangeHeader by splitting requests', async () => {
    const many = someRanges(3, 200, 50);
    const out = await fetchInto([url()], many, { maxRangesPerRequest: 1000, maxRangeHeader: 300 });
    expectAll(out, many);
    const headers = fs.log.map((r) => r.range ?? '');
    expect(headers.length).to.be.at.least(Math.ceil(many.length / 25));
    for (const h of headers) expect(h.length).to.be.at.most(300);
  });

  it('follows a redirect for the data', async () => {
    const out = await fetchInto([fs.url('/old.bin')], RANGES.slice(0, 5));
    expectAll(out, RANGES.slice(0, 5));
  });

  for (const mode of ['drop', 'short', 'status-503'] as const) {
    it(`retries '${mode}' (first 2 requests) and resumes, getting every byte once`, async () => {
      fs.setFault({ mode, times: 2 });
      const out = await fetchInto([url()], RANGES, { maxRangesPerRequest: 16, concurrency: 2 });
      expectAll(out, RANGES);
      expect(out.delivered).to.equal(WANTED_BYTES);
      expect(out.fetcher.stats.retries).to.be.greaterThan(0);
      // Resumed, not refetched: the failed halves cost at most one extra copy.
      expect(fs.sent('/data.bin')).to.be.below(WANTED_BYTES * 2);
    });
  }

  for (const [mode, code] of [
    ['drop', 'ERR_ZSYNC_HTTP_NETWORK'],
    ['status-503', 'ERR_ZSYNC_HTTP_STATUS'],
  ] as const) {
    it(`gives up on a server that always does '${mode}' with ${code}, within the attempt bound`, async () => {
      fs.setFault({ mode });
      const t0 = Date.now();
      const ranges = RANGES.slice(0, 4);
      const err = await rejection(fetchInto([url()], ranges, { maxRangesPerRequest: 1, maxAttempts: 3, concurrency: 1 }));
      expect(err).to.have.property('code', code);
      expect(Date.now() - t0).to.be.below(10_000);
      // 3 attempts for the first range that exhausts them, plus what ran before it was noticed.
      expect(fs.requests('/data.bin')).to.be.within(3, 3 * ranges.length);
    });
  }

  it('gives up on a server that always sends fewer bytes than announced', async () => {
    fs.setFault({ mode: 'short' });
    const ranges = RANGES.slice(0, 3);
    const err = await rejection(fetchInto([url()], ranges, { maxRangesPerRequest: 1, maxAttempts: 3, concurrency: 1 }));
    expect(err.code).to.match(/^ERR_ZSYNC_(HTTP_SHORT|TRUNCATED|HTTP_NETWORK)$/);
    expect(fs.requests('/data.bin')).to.be.at.most(3 * 6);
  });

  it('stops after the retry budget even with attempts left', async () => {
    fs.setFault({ mode: 'status-503' });
    const t0 = Date.now();
    const err = await rejection(fetchInto([url()], RANGES, { maxAttempts: 100, retryBudgetMs: 500, backoffMs: 50, concurrency: 1, maxRangesPerRequest: 1 }));
    expect(err).to.have.property('code', 'ERR_ZSYNC_HTTP_STATUS');
    expect(Date.now() - t0).to.be.below(3000);
  });

  it('retries a stalled response after the stall timeout and succeeds', async () => {
    fs.setFault({ mode: 'stall', times: 1 });
    const t0 = Date.now();
    const out = await fetchInto([url()], RANGES.slice(0, 6), { stallTimeoutMs: 300, concurrency: 1, maxRangesPerRequest: 16 });
    expectAll(out, RANGES.slice(0, 6));
    expect(Date.now() - t0).to.be.below(5000);
    expect(out.fetcher.stats.retries).to.equal(1);
  });

  it('gives up on a server that always stalls with ERR_ZSYNC_HTTP_STALL', async () => {
    fs.setFault({ mode: 'stall' });
    const t0 = Date.now();
    const err = await rejection(fetchInto([url()], RANGES.slice(0, 2), { stallTimeoutMs: 200, maxAttempts: 2, concurrency: 1 }));
    expect(err).to.have.property('code', 'ERR_ZSYNC_HTTP_STALL');
    expect(Date.now() - t0).to.be.below(5000);
  });

  it('detects a file changed between requests by its ETag (ERR_ZSYNC_REMOTE_CHANGED)', async () => {
    const changed = Buffer.from(DATA);
    changed.fill(7, 0, 1000);
    fs.setFault({ mode: 'change', times: 1, changed });
    try {
      const err = await rejection(fetchInto([url()], RANGES, { maxRangesPerRequest: 4, concurrency: 1 }));
      expect(err).to.have.property('code', 'ERR_ZSYNC_REMOTE_CHANGED');
      // The change was seen on the second request, not after reading everything.
      expect(fs.requests('/data.bin')).to.equal(2);
    } finally {
      fs.setFile('/data.bin', DATA);
    }
  });

  it('detects a change by Last-Modified when the server sends no ETag', async () => {
    const lm = await startFaultServer({ files: { '/data.bin': DATA }, dataPath: '/data.bin', etag: false });
    try {
      const changed = Buffer.from(DATA);
      changed.fill(9, 0, 1000);
      lm.setFault({ mode: 'change', times: 1, changed });
      const err = await rejection(fetchInto([lm.url('/data.bin')], RANGES, { maxRangesPerRequest: 4, concurrency: 1 }));
      expect(err).to.have.property('code', 'ERR_ZSYNC_REMOTE_CHANGED');
      expect(lm.log[1]!.headers['if-unmodified-since']).to.be.a('string');
    } finally {
      await lm.stop();
    }
  });

  it('aborts cleanly on an AbortSignal with ERR_ZSYNC_ABORTED and delivers nothing after', async () => {
    const slow = await startFaultServer({ files: { '/data.bin': DATA }, dataPath: '/data.bin', bytesPerSecond: 200_000 });
    try {
      const controller = new AbortController();
      let afterAbort = 0;
      let delivered = 0;
      const fetcher = new HttpRangeFetcher([slow.url('/data.bin')], { length: SIZE, signal: controller.signal });
      const t0 = Date.now();
      const p = fetcher.fetch(RANGES, async (chunk) => {
        delivered += chunk.data.length;
        if (controller.signal.aborted) afterAbort++;
        if (delivered > 50_000 && !controller.signal.aborted) controller.abort();
      });
      const err = await rejection(p);
      expect(err).to.have.property('code', 'ERR_ZSYNC_ABORTED');
      expect(afterAbort).to.equal(0);
      expect(Date.now() - t0).to.be.below(3000);
    } finally {
      await slow.stop();
    }
  });

  it('rejects at once with ERR_ZSYNC_ABORTED when the signal is already aborted', async () => {
    const fetcher = new HttpRangeFetcher([url()], { length: SIZE, signal: AbortSignal.abort() });
    const err = await rejection(fetcher.fetch(RANGES, async () => {}));
    expect(err).to.have.property('code', 'ERR_ZSYNC_ABORTED');
  });
});

describe('HttpRangeFetcher with basic auth and https', () => {
  let ca: TestCa;
  let tls: FaultServer;
  let auth: FaultServer;

  before(async function () {
    this.timeout(20_000);
    ca = await makeTestCa();
    tls = await startFaultServer({ files: { '/data.bin': DATA }, dataPath: '/data.bin', tls: { key: ca.key, cert: ca.cert } });
    auth = await startFaultServer({ files: { '/data.bin': DATA }, dataPath: '/data.bin', auth: 'alice:s3cret' });
  });
  after(async () => {
    await tls?.stop();
    await auth?.stop();
    await ca?.remove();
  });

  it('fetches over https trusting a CA given as `ca`', async () => {
    const out = await fetchInto([tls.url('/data.bin')], RANGES, { ca: ca.ca });
    expectAll(out, RANGES);
  });

  it('fails with ERR_ZSYNC_TLS without the CA, and never retries it', async () => {
    tls.reset();
    const err = await rejection(fetchInto([tls.url('/data.bin')], RANGES, { maxRangesPerRequest: 64, concurrency: 1 }));
    expect(err).to.have.property('code', 'ERR_ZSYNC_TLS');
    // One handshake refused (the server hears of it a moment later), none tried again.
    for (let i = 0; i < 50 && tls.tlsErrors === 0; i++) await new Promise((r) => setTimeout(r, 20));
    await new Promise((r) => setTimeout(r, 100));
    expect(tls.tlsErrors).to.equal(1);
    expect(tls.requests()).to.equal(0);
  });

  it('never sends credentials on a redirect to another host, nor on a downgrade from https to http', async () => {
    const other = await startFaultServer({ files: { '/data.bin': DATA }, dataPath: '/data.bin' });
    const jump = await startFaultServer({ files: { '/data.bin': DATA }, dataPath: '/data.bin', auth: 'alice:s3cret', redirects: { '/away.bin': other.url('/data.bin') } });
    const secure = await startFaultServer({ files: { '/data.bin': DATA }, dataPath: '/data.bin', auth: 'alice:s3cret', tls: { key: ca.key, cert: ca.cert }, redirects: { '/down.bin': other.url('/data.bin') } });
    try {
      // In the URL and by host: both reach the first host, neither the second.
      const viaUrl = jump.url('/away.bin').replace('http://', 'http://alice:s3cret@');
      expectAll(await fetchInto([viaUrl], RANGES.slice(0, 3), { auth: { '127.0.0.1': 'alice:s3cret' } }), RANGES.slice(0, 3));
      expectAll(await fetchInto([secure.url('/down.bin')], RANGES.slice(0, 3), { ca: ca.ca, auth: { '127.0.0.1': 'alice:s3cret' } }), RANGES.slice(0, 3));
      expect(jump.log.every((r) => r.headers.authorization !== undefined)).to.equal(true);
      expect(secure.log.every((r) => r.headers.authorization !== undefined)).to.equal(true);
      expect(other.requests('/data.bin')).to.be.greaterThan(1);
      for (const r of other.log) expect(r.headers.authorization, 'credentials sent to the other host').to.equal(undefined);
    } finally {
      await other.stop();
      await jump.stop();
      await secure.stop();
    }
  });

  it('fetches over https with insecure: true', async () => {
    const out = await fetchInto([tls.url('/data.bin')], RANGES, { insecure: true });
    expectAll(out, RANGES);
  });

  it('sends basic credentials to their host and only there', async () => {
    const host = `127.0.0.1:${auth.port}`;
    const out = await fetchInto([auth.url('/data.bin')], RANGES, { auth: { [host]: 'alice:s3cret' } });
    expectAll(out, RANGES);
    const err = await rejection(fetchInto([auth.url('/data.bin')], RANGES, { auth: { 'example.org': 'alice:s3cret' } }));
    expect(err).to.have.property('code', 'ERR_ZSYNC_HTTP_STATUS');
  });
});

/** A raw loopback server whose handler is the test's script. */
async function scripted(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<{ url: string; requests: () => number; stop: () => Promise<void> }> {
  let n = 0;
  const server = createServer((req, res) => {
    n++;
    handler(req, res);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/data.bin`,
    requests: () => n,
    stop: async () => {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}

function askedRange(req: IncomingMessage): { start: number; end: number } {
  const m = /bytes=(\d+)-(\d+)/.exec(req.headers.range ?? '')!;
  return { start: Number(m[1]), end: Number(m[2]) + 1 };
}

describe('HttpRangeFetcher stays within its bounds', function () {
  this.timeout(20_000);

  it('a 206 multipart answer with no part is ERR_ZSYNC_HTTP_SHORT within maxAttempts requests (it used to loop forever)', async () => {
    const s = await scripted((_req, res) => {
      const body = '--B--\r\n';
      res.writeHead(206, { 'content-type': 'multipart/byteranges; boundary=B', 'content-length': body.length });
      res.end(body);
    });
    try {
      const err = await rejection(fetchInto([s.url], [{ start: 0, end: 1000 }], { maxAttempts: 3, retryBudgetMs: 2000 }));
      expect(err).to.have.property('code', 'ERR_ZSYNC_HTTP_SHORT');
      expect(s.requests()).to.equal(3);
    } finally {
      await s.stop();
    }
  });

  it('a server sending one byte per answer costs maxAttempts requests, not one per byte', async () => {
    const s = await scripted((req, res) => {
      const { start } = askedRange(req);
      const body = Buffer.concat([Buffer.from(`--B\r\nContent-Range: bytes ${start}-${start}/${SIZE}\r\n\r\n`), DATA.subarray(start, start + 1), Buffer.from('\r\n--B--\r\n')]);
      res.writeHead(206, { 'content-type': 'multipart/byteranges; boundary=B', 'content-length': body.length });
      res.end(body);
    });
    try {
      const err = await rejection(fetchInto([s.url], [{ start: 0, end: 1000 }], { maxAttempts: 3 }));
      expect(err).to.have.property('code', 'ERR_ZSYNC_HTTP_SHORT');
      expect(s.requests()).to.equal(3);
    } finally {
      await s.stop();
    }
  });

  it('stops reading a single-range 206 at its end, and a multipart one at its closing boundary, when the body runs on forever', async () => {
    const timers = new Set<NodeJS.Timeout>();
    const s = await scripted((req, res) => {
      const { start, end } = askedRange(req);
      const many = (req.headers.range ?? '').includes(',');
      if (many) {
        res.writeHead(206, { 'content-type': 'multipart/byteranges; boundary=B' });
        res.write(Buffer.concat([Buffer.from(`--B\r\nContent-Range: bytes ${start}-${end - 1}/${SIZE}\r\n\r\n`), DATA.subarray(start, end), Buffer.from('\r\n--B--\r\n')]));
      } else {
        res.writeHead(206, { 'content-range': `bytes ${start}-${end - 1}/${SIZE}` });
        res.write(DATA.subarray(start, end));
      }
      // ...and then garbage, forever (never a stall).
      const t = setInterval(() => res.write(Buffer.alloc(1000, 0x55)), 20);
      timers.add(t);
      res.on('close', () => clearInterval(t));
    });
    try {
      const single = [{ start: 100, end: 5000 }];
      const t0 = Date.now();
      expectAll(await fetchInto([s.url], single, { maxRangesPerRequest: 1 }), single);
      const two = [{ start: 10_000, end: 12_000 }, { start: 50_000, end: 51_000 }];
      // The server answers only the first of two ranges (one part), then runs on.
      expectAll(await fetchInto([s.url], two, { maxRangesPerRequest: 2 }), two);
      expect(Date.now() - t0).to.be.below(3000);
    } finally {
      for (const t of timers) clearInterval(t);
      await s.stop();
    }
  });

  it('fails over from a mirror that is down at the network level to a good one, every time', async () => {
    const s = await scripted((req, res) => {
      const { start, end } = askedRange(req);
      const e = Math.min(end, SIZE);
      res.writeHead(206, { 'content-range': `bytes ${start}-${e - 1}/${SIZE}`, 'content-length': e - start });
      res.end(DATA.subarray(start, e));
    });
    try {
      const ranges = someRanges(9, 120, 500);
      for (let i = 0; i < 4; i++) {
        const out = await fetchInto(['http://127.0.0.1:1/data.bin', s.url], ranges, { maxRangesPerRequest: 1, backoffMs: 5 });
        expectAll(out, ranges);
        expect(out.fetcher.stats.adaptations.join('\n')).to.match(/127\.0\.0\.1:1\/.*not used any more/);
      }
    } finally {
      await s.stop();
    }
  });

  it('counts time spent retrying against the budget, not the time since the first retry', async () => {
    let n = 0;
    const s = await scripted((req, res) => {
      n++;
      if (n === 1 || n === 6) {
        res.writeHead(503, { 'content-length': 0 });
        res.end();
        return;
      }
      const { start, end } = askedRange(req);
      setTimeout(() => {
        res.writeHead(206, { 'content-range': `bytes ${start}-${end - 1}/${SIZE}`, 'content-length': end - start });
        res.end(DATA.subarray(start, end));
      }, 150);
    });
    try {
      const ranges = someRanges(4, 8, 100);
      // 8 slow answers take over a second in all; only two quick failures are retries.
      const out = await fetchInto([s.url], ranges, { maxAttempts: 3, retryBudgetMs: 500, backoffMs: 10, concurrency: 1, maxRangesPerRequest: 1 });
      expectAll(out, ranges);
      expect(out.fetcher.stats.retries).to.equal(2);
    } finally {
      await s.stop();
    }
  });

  it('a fatal answer stops every other request at once (fetch() does not wait for a trickling one)', async () => {
    let trickleClosed = false;
    const s = await scripted((req, res) => {
      const { start, end } = askedRange(req);
      if (start === 0) {
        res.writeHead(416, { 'content-length': 0 });
        res.end();
        return;
      }
      res.writeHead(206, { 'content-range': `bytes ${start}-${end - 1}/${SIZE}`, 'content-length': end - start });
      res.flushHeaders();
      let i = start;
      const t = setInterval(() => {
        if (i < end) res.write(DATA.subarray(i, ++i));
      }, 300);
      res.on('close', () => {
        trickleClosed = true;
        clearInterval(t);
      });
    });
    try {
      const t0 = Date.now();
      const ranges = [{ start: 50_000, end: 50_100 }, { start: 0, end: 10 }];
      const err = await rejection(fetchInto([s.url], ranges, { concurrency: 2, maxRangesPerRequest: 1 }));
      expect(err).to.have.property('code', 'ERR_ZSYNC_HTTP_STATUS');
      expect(Date.now() - t0).to.be.below(1500);
      await new Promise((r) => setTimeout(r, 100));
      expect(trickleClosed, 'the trickling request was stopped').to.equal(true);
    } finally {
      await s.stop();
    }
  });

  it('can fetch again after a first call, keeping what it learned of the server, until close()', async () => {
    const fs2 = await startFaultServer({ files: { '/data.bin': DATA }, dataPath: '/data.bin' });
    try {
      fs2.setFault({ mode: 'multi-501' });
      const fetcher = new HttpRangeFetcher([fs2.url('/data.bin')], { length: SIZE, maxRangesPerRequest: 8 });
      await fetcher.fetch(RANGES.slice(0, 8), async () => {});
      const first = fs2.requests('/data.bin');
      await fetcher.fetch(RANGES.slice(8, 16), async () => {});
      // No 501 the second time: one range per request from the start.
      expect(fs2.requests('/data.bin') - first).to.equal(8);
      fetcher.close();
      expect((await rejection(fetcher.fetch(RANGES.slice(0, 1), async () => {}))).code).to.equal('ERR_ZSYNC_CLOSED');
    } finally {
      await fs2.stop();
    }
  });
});
