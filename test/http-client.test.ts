/**
 * HttpClient, the library's own HTTP/1.1 client, against raw `node:net` and
 * `node:tls` servers on 127.0.0.1 written here, so that the bytes on the wire
 * are exactly the ones the test means. If this regressed, a sync could open a
 * connection per request (or more than maxSockets of them), fail on a
 * kept-alive connection the server had quietly closed, take a body with bytes
 * overwritten by a later read of the same buffer, hang on a silent server or
 * keep a finished process alive, reuse a connection that still holds another
 * response's bytes, or let a CR/LF in a header rewrite the request.
 */
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import net from 'node:net';
import { join } from 'node:path';
import tls from 'node:tls';
import { pathToFileURL } from 'node:url';
import { AbortedError, InvalidArgumentError } from '../lib/errors.js';
import { HttpClient, type HttpClientOptions } from '../lib/transport/http-client.js';
import type { HttpResponse } from '../lib/transport/http-response.js';
import { HttpError } from '../lib/transport/errors.js';
import { prng } from './generators.js';
import { rejection, ROOT, seededBytes } from './support/sync-fixtures.js';
import { makeTestCa, type TestCa } from './support/test-ca.js';

const MiB = 1 << 20;

/** A request as the server saw it. */
interface SeenRequest {
  /** The connection it came on (0 for the server's first). */
  conn: number;
  /** Its place among the requests of that connection (0 for the first). */
  nth: number;
  line: string;
  headers: Record<string, string>;
  socket: net.Socket;
}

/** What the test's server does with a request: writes an answer on the socket (or not). */
type Handler = (req: SeenRequest) => void;

/** A raw HTTP/1.1 server on 127.0.0.1 that counts its connections and hands each request to the test's script. */
interface RawServer {
  port: number;
  url(path?: string): string;
  requests: SeenRequest[];
  /** Connections accepted (for TLS: handshakes completed). */
  readonly connections: number;
  /** Connections open now, and the most ever open at once. */
  readonly open: number;
  readonly maxOpen: number;
  /** Resolves when connection `i` has closed. */
  closed(i: number): Promise<void>;
  handler: Handler;
  stop(): Promise<void>;
}

async function startServer(handler: Handler, secure?: { key: Buffer; cert: Buffer }): Promise<RawServer> {
  const sockets: net.Socket[] = [];
  const closedAt: Array<Promise<void>> = [];
  const state = { open: 0, maxOpen: 0 };
  const onSocket = (socket: net.Socket): void => {
    const conn = sockets.length;
    sockets.push(socket);
    state.open++;
    state.maxOpen = Math.max(state.maxOpen, state.open);
    // Not events.once: that rejects on the 'error' (a reset) that comes before 'close'.
    closedAt.push(new Promise<void>((resolve) => socket.on('close', () => {
      state.open--;
      resolve();
    })));
    socket.on('error', () => {});
    let pending = '';
    let nth = 0;
    socket.on('data', (data: Buffer) => {
      pending += data.toString('latin1');
      for (let end = pending.indexOf('\r\n\r\n'); end >= 0; end = pending.indexOf('\r\n\r\n')) {
        const [line, ...fields] = pending.slice(0, end).split('\r\n');
        pending = pending.slice(end + 4);
        const headers: Record<string, string> = {};
        for (const f of fields) {
          const colon = f.indexOf(':');
          headers[f.slice(0, colon).toLowerCase()] = f.slice(colon + 1).trim();
        }
        const req: SeenRequest = { conn, nth: nth++, line: line!, headers, socket };
        server.requests.push(req);
        // An answer to a socket the server has already ended (or that is gone) is not given.
        if (!socket.writableEnded && !socket.destroyed) server.handler(req);
      }
    });
  };
  const listener = secure ? tls.createServer({ key: secure.key, cert: secure.cert }, onSocket) : net.createServer(onSocket);
  listener.on('tlsClientError', () => {});
  await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
  const port = (listener.address() as net.AddressInfo).port;
  const server: RawServer = {
    port,
    url: (path = '/file') => `${secure ? 'https' : 'http'}://127.0.0.1:${port}${path}`,
    requests: [],
    get connections() {
      return sockets.length;
    },
    get open() {
      return state.open;
    },
    get maxOpen() {
      return state.maxOpen;
    },
    closed: (i) => closedAt[i]!,
    handler,
    async stop() {
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => listener.close(resolve));
    },
  };
  return server;
}

/** A complete HTTP/1.1 200 head with a Content-Length, and more headers if given. */
function okHead(length: number, more = ''): string {
  return `HTTP/1.1 200 OK\r\nContent-Length: ${length}\r\n${more}\r\n`;
}

/** Answers with `body` (Content-Length framed) in one write. */
function answer(socket: net.Socket, body: Buffer | string, more = ''): void {
  const b = typeof body === 'string' ? Buffer.from(body) : body;
  socket.write(Buffer.concat([Buffer.from(okHead(b.length, more)), b]));
}

/** Writes `parts` one after another, waiting for 'drain' as a server should; stops if the socket closes. */
async function writeAll(socket: net.Socket, parts: Iterable<Buffer | string>): Promise<void> {
  for (const part of parts) {
    if (socket.destroyed) return;
    if (!socket.write(part)) await drainedOrClosed(socket);
  }
}

function drainedOrClosed(socket: net.Socket): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      socket.off('drain', done);
      socket.off('close', done);
      resolve();
    };
    socket.on('drain', done);
    socket.on('close', done);
  });
}

/** `body` in slices of `size` (views, not copies). */
function* slices(body: Buffer, size: number): Generator<Buffer> {
  for (let at = 0; at < body.length; at += size) yield body.subarray(at, at + size);
}

/** `body` chunk-encoded, in chunks of seeded random sizes up to `max`, some with extensions, then trailers. */
function* chunkedParts(body: Buffer, seed: number, max: number): Generator<Buffer | string> {
  const rand = prng(seed);
  for (let at = 0; at < body.length; ) {
    const n = Math.min(body.length - at, 1 + (rand() % max));
    yield `${n.toString(16)}${rand() % 4 === 0 ? ';ext=1' : ''}\r\n`;
    yield body.subarray(at, at + n);
    yield '\r\n';
    at += n;
  }
  yield '0\r\nX-Trailer: done\r\n\r\n';
}

const sha1 = (b: Uint8Array): string => createHash('sha1').update(b).digest('hex');
const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** The whole body through chunks(), each chunk used (hashed) only after a turn of the event loop. */
async function hashChunksSlowly(response: HttpResponse): Promise<{ sha1: string; bytes: number }> {
  const hash = createHash('sha1');
  let bytes = 0;
  for await (const chunk of response.chunks()) {
    // The chunk must stay valid until the next one is asked for, however
    // long the consumer takes (and whatever the socket reads meanwhile).
    await turn();
    hash.update(chunk);
    bytes += chunk.length;
  }
  return { sha1: hash.digest('hex'), bytes };
}

async function readBody(response: HttpResponse): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const b of response) parts.push(b);
  return Buffer.concat(parts);
}

describe('HttpClient', function () {
  this.timeout(30_000);

  /** A throwaway CA and a certificate for 127.0.0.1, for the TLS servers. */
  let ca: TestCa;
  before(async function () {
    this.timeout(20_000);
    ca = await makeTestCa();
  });
  after(async () => {
    await ca?.remove();
  });

  const clients: HttpClient[] = [];
  const servers: RawServer[] = [];

  async function serve(handler: Handler, secure?: { key: Buffer; cert: Buffer }): Promise<RawServer> {
    const s = await startServer(handler, secure);
    servers.push(s);
    return s;
  }
  function makeClient(options: HttpClientOptions = {}): HttpClient {
    const c = new HttpClient(options);
    clients.push(c);
    return c;
  }

  afterEach(async () => {
    for (const c of clients.splice(0)) c.close();
    for (const s of servers.splice(0)) await s.stop();
  });

  describe('keeps connections alive', () => {
    it('carries two sequential GETs read to their end on one connection', async () => {
      const s = await serve((req) => answer(req.socket, `body of ${req.line}`));
      const c = makeClient();
      for (const path of ['/a', '/b']) {
        const { response, url } = await c.get(s.url(path));
        expect(url).to.equal(s.url(path));
        expect(response.statusCode).to.equal(200);
        expect((await readBody(response)).toString()).to.equal(`body of GET ${path} HTTP/1.1`);
        expect(response.complete).to.equal(true);
      }
      expect(s.connections).to.equal(1);
      expect(s.requests.map((r) => [r.conn, r.nth])).to.deep.equal([[0, 0], [0, 1]]);
    });

    it('carries a chunked response and a 204 on the same connection as the next GET', async () => {
      const s = await serve((req) => {
        if (req.nth === 0) req.socket.write('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;x\r\nde\r\n0\r\n\r\n');
        else if (req.nth === 1) req.socket.write('HTTP/1.1 204 No Content\r\n\r\n');
        else answer(req.socket, 'last');
      });
      const c = makeClient();
      expect((await readBody((await c.get(s.url())).response)).toString()).to.equal('abcde');
      const empty = (await c.get(s.url())).response;
      expect(empty.statusCode).to.equal(204);
      expect(empty.complete).to.equal(true);
      expect((await readBody((await c.get(s.url())).response)).toString()).to.equal('last');
      expect(s.connections).to.equal(1);
    });

    it('keeps the connection of a body whose reader leaves at its last chunk', async () => {
      const body = seededBytes(prng(8), 300_000);
      const s = await serve((req) => answer(req.socket, body));
      const c = makeClient({ maxSockets: 1 });
      for (let i = 0; i < 3; i++) {
        const { response } = await c.get(s.url());
        let got = 0;
        for await (const chunk of response.chunks()) {
          got += chunk.length;
          if (response.complete) break;
        }
        expect(got).to.equal(body.length);
      }
      expect(s.connections).to.equal(1);
    });

    // The server sends part of the body and holds the rest back: the client
    // must drop the connection itself (the rest cannot arrive and give it away).
    it('closes the connection of a response destroyed before its end; the next GET goes on a new one', async () => {
      const part = seededBytes(prng(1), 1000);
      const s = await serve((req) => {
        if (req.conn === 0) req.socket.write(Buffer.concat([Buffer.from(okHead(100_000)), part]));
        else answer(req.socket, 'second');
      });
      const c = makeClient();
      const first = (await c.get(s.url())).response;
      for await (const chunk of first.chunks()) {
        expect(chunk.equals(part)).to.equal(true);
        break;
      }
      expect(first.complete).to.equal(false);
      expect((await readBody((await c.get(s.url())).response)).toString()).to.equal('second');
      expect(s.requests.map((r) => [r.conn, r.nth])).to.deep.equal([[0, 0], [1, 0]]);
      await s.closed(0);
    });

    it('closes the connection of a response destroyed before anything of its body was read', async () => {
      const s = await serve((req) => {
        if (req.conn === 0) req.socket.write(okHead(100_000));
        else answer(req.socket, 'second');
      });
      const c = makeClient();
      (await c.get(s.url())).response.destroy();
      expect((await readBody((await c.get(s.url())).response)).toString()).to.equal('second');
      expect(s.requests.map((r) => [r.conn, r.nth])).to.deep.equal([[0, 0], [1, 0]]);
      await s.closed(0);
    });

    it('keeps the connection of a response destroyed after it was read to its end', async () => {
      const s = await serve((req) => answer(req.socket, 'whole'));
      const c = makeClient();
      const { response } = await c.get(s.url());
      await readBody(response);
      response.destroy();
      await readBody((await c.get(s.url())).response);
      expect(s.connections).to.equal(1);
    });

    it('drains a short body with resume() and reuses its connection; a long one costs its connection', async () => {
      const long = Buffer.alloc(1 << 20, 7);
      const s = await serve((req) => {
        if (req.line.includes('/short')) answer(req.socket, 'short body');
        else void writeAll(req.socket, [okHead(long.length), ...slices(long, 64 << 10)]);
      });
      // One socket: the next GET waits for the drained one, or for its place.
      const c = makeClient({ maxSockets: 1 });
      (await c.get(s.url('/short'))).response.resume();
      await readBody((await c.get(s.url('/short'))).response);
      expect(s.connections).to.equal(1);
      (await c.get(s.url('/long'))).response.resume();
      await readBody((await c.get(s.url('/short'))).response);
      expect(s.connections).to.equal(2);
      expect(s.requests.map((r) => r.conn)).to.deep.equal([0, 0, 0, 1]);
    });

    it('does not reuse a connection after Connection: close, an HTTP/1.0 answer, or a body that ran to the close', async () => {
      const s = await serve((req) => {
        const kind = req.conn % 4;
        if (kind === 0) answer(req.socket, 'x', 'Connection: close\r\n');
        else if (kind === 1) req.socket.write('HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\nx');
        else if (kind === 2) req.socket.end('HTTP/1.1 200 OK\r\n\r\nx');
        else answer(req.socket, 'x');
      });
      const c = makeClient();
      for (let i = 0; i < 4; i++) expect((await readBody((await c.get(s.url())).response)).toString()).to.equal('x');
      expect(s.connections).to.equal(4);
    });

    it('does not reuse a connection on which bytes came after the end of a response', async () => {
      const s = await serve((req) => {
        if (req.conn === 0) req.socket.write(`${okHead(5)}helloHTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nstray`);
        else answer(req.socket, 'fresh');
      });
      const c = makeClient();
      expect((await readBody((await c.get(s.url())).response)).toString()).to.equal('hello');
      expect((await readBody((await c.get(s.url())).response)).toString()).to.equal('fresh');
      expect(s.connections).to.equal(2);
      expect(s.requests.map((r) => r.conn)).to.deep.equal([0, 1]);
    });

    it('closes an idle kept-alive connection on which the server sends bytes unasked, and uses a new one', async () => {
      const s = await serve((req) => answer(req.socket, 'hello'));
      const c = makeClient();
      expect((await readBody((await c.get(s.url())).response)).toString()).to.equal('hello');
      // The connection is idle now: bytes nobody asked for (what a next answer would look like).
      s.requests[0]!.socket.write('HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nstray');
      // The client drops the connection when they arrive.
      await s.closed(0);
      expect((await readBody((await c.get(s.url())).response)).toString()).to.equal('hello');
      expect(s.requests.map((r) => r.conn)).to.deep.equal([0, 1]);
    });
  });

  describe('on a kept-alive connection the server has closed', () => {
    it('goes on a new connection when the server ended the connection after its first answer', async () => {
      const s = await serve((req) => {
        answer(req.socket, `answer ${req.conn}`);
        req.socket.end();
      });
      const c = makeClient();
      expect((await readBody((await c.get(s.url())).response)).toString()).to.equal('answer 0');
      const { response } = await c.get(s.url());
      expect((await readBody(response)).toString()).to.equal('answer 1');
      expect(s.connections).to.equal(2);
    });

    for (const [how, close] of [
      ['closes (FIN)', (socket: net.Socket) => socket.destroy()],
      ['resets (RST)', (socket: net.Socket) => socket.resetAndDestroy()],
    ] as const) {
      it(`retries the request once on a new connection, transparently, when the server ${how} the reused connection on the second request without answering`, async () => {
        const s = await serve((req) => {
          if (req.nth === 1) close(req.socket);
          else answer(req.socket, `answer ${req.conn}`);
        });
        const c = makeClient();
        expect((await readBody((await c.get(s.url())).response)).toString()).to.equal('answer 0');
        const { response } = await c.get(s.url());
        expect(response.statusCode).to.equal(200);
        expect((await readBody(response)).toString()).to.equal('answer 1');
        expect(s.requests.map((r) => [r.conn, r.nth])).to.deep.equal([[0, 0], [0, 1], [1, 0]]);
      });
    }

    it('retries on a new connection with maxSockets 1 too (the stale one gives its place up)', async () => {
      const s = await serve((req) => {
        if (req.nth === 1) req.socket.resetAndDestroy();
        else answer(req.socket, `answer ${req.conn}`);
      });
      const c = makeClient({ maxSockets: 1, stallTimeoutMs: 600_000 });
      await readBody((await c.get(s.url())).response);
      expect((await readBody((await c.get(s.url())).response)).toString()).to.equal('answer 1');
      expect(s.requests.map((r) => [r.conn, r.nth])).to.deep.equal([[0, 0], [0, 1], [1, 0]]);
    });

    // When every idle connection went stale at once (a NAT or firewall that
    // dropped them silently, a server restarted), a retry on another idle one
    // would fail as the first attempt did.
    it('retries on a new connection, not on another idle one that may be as stale', async () => {
      const s = await serve((req) => {
        if (req.nth === 0) answer(req.socket, `answer ${req.conn}`);
        else req.socket.resetAndDestroy();
      });
      const c = makeClient();
      // Two connections (two GETs at once), both left idle.
      await Promise.all([0, 1].map(async () => readBody((await c.get(s.url())).response)));
      expect(s.connections).to.equal(2);
      const { response } = await c.get(s.url());
      expect((await readBody(response)).toString()).to.equal('answer 2');
      expect(s.requests.filter((r) => r.nth === 1).length).to.equal(1);
    });

    it('fails with ERR_ZSYNC_HTTP_NETWORK, and does not retry, when a fresh connection is reset', async () => {
      const s = await serve((req) => req.socket.resetAndDestroy());
      const c = makeClient();
      const err = await rejection(c.get(s.url()));
      expect(err).to.be.instanceOf(HttpError);
      expect(err).to.have.property('code', 'ERR_ZSYNC_HTTP_NETWORK');
      expect(err).to.have.property('retryable', true);
      expect(s.requests.length).to.equal(1);
      expect(s.connections).to.equal(1);
    });

    it('retries once only when the new connection is reset too, then fails with ERR_ZSYNC_HTTP_NETWORK', async () => {
      const s = await serve((req) => {
        if (req.conn === 0 && req.nth === 0) answer(req.socket, 'first');
        else req.socket.resetAndDestroy();
      });
      const c = makeClient();
      await readBody((await c.get(s.url())).response);
      const err = await rejection(c.get(s.url()));
      expect(err).to.have.property('code', 'ERR_ZSYNC_HTTP_NETWORK');
      // The stale connection, then one new one: no more.
      expect(s.requests.map((r) => [r.conn, r.nth])).to.deep.equal([[0, 0], [0, 1], [1, 0]]);
      expect(s.connections).to.equal(2);
    });

    it('does not retry a request the reused connection had begun to answer', async () => {
      const s = await serve((req) => {
        if (req.nth === 0) answer(req.socket, 'first');
        else {
          req.socket.write('HTTP/1.1 200 OK\r\nContent-');
          setImmediate(() => req.socket.destroy());
        }
      });
      const c = makeClient();
      await readBody((await c.get(s.url())).response);
      const err = await rejection(c.get(s.url()));
      expect(err).to.have.property('code', 'ERR_ZSYNC_HTTP_NETWORK');
      expect(s.requests.length).to.equal(2);
    });
  });

  describe('maxSockets', () => {
    it('with maxSockets 2, runs 6 concurrent GETs over at most 2 connections open at once, and completes them all', async () => {
      const s = await serve((req) => {
        const body = `answer to ${req.line.split(' ')[1]}`;
        // A little later: the other GETs queue meanwhile.
        setTimeout(() => answer(req.socket, body), 10);
      });
      const c = makeClient({ maxSockets: 2 });
      const bodies = await Promise.all(
        Array.from({ length: 6 }, async (_, i) => {
          const { response } = await c.get(s.url(`/${i}`));
          return (await readBody(response)).toString();
        }),
      );
      expect(bodies).to.deep.equal(Array.from({ length: 6 }, (_, i) => `answer to /${i}`));
      expect(s.requests.length).to.equal(6);
      expect(s.maxOpen).to.equal(2);
      expect(s.connections).to.equal(2);
    });

    it('counts sockets per origin: two servers get their own', async () => {
      const a = await serve((req) => setTimeout(() => answer(req.socket, 'a'), 10));
      const b = await serve((req) => setTimeout(() => answer(req.socket, 'b'), 10));
      const c = makeClient({ maxSockets: 1 });
      const got = await Promise.all([a, b, a, b].map(async (srv) => (await readBody((await c.get(srv.url())).response)).toString()));
      expect(got).to.deep.equal(['a', 'b', 'a', 'b']);
      expect([a.connections, b.connections]).to.deep.equal([1, 1]);
    });
  });

  describe('body integrity', () => {
    const BIG = 16 * MiB;
    let big: Buffer;
    before(() => {
      big = seededBytes(prng(16), BIG);
    });

    for (const secure of [false, true]) {
      const over = secure ? 'TLS' : 'plain TCP';

      it(`reads a ${BIG / MiB} MiB body through chunks() intact over ${over}, with a consumer that yields to the event loop between chunks`, async () => {
        const s = await serve((req) => void writeAll(req.socket, [okHead(big.length), ...slices(big, 256 << 10)]), secure ? ca : undefined);
        const c = makeClient({ ca: ca.ca });
        const { response } = await c.get(s.url());
        const got = await hashChunksSlowly(response);
        expect(got.bytes).to.equal(big.length);
        expect(got.sha1).to.equal(sha1(big));
        expect(response.complete).to.equal(true);
      });

      it(`reads a ${BIG / MiB} MiB chunk-encoded body through chunks() intact over ${over}`, async () => {
        const s = await serve((req) => void writeAll(req.socket, ['HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n', ...chunkedParts(big, 5, 100_000)]), secure ? ca : undefined);
        const c = makeClient({ ca: ca.ca });
        const { response } = await c.get(s.url());
        const got = await hashChunksSlowly(response);
        expect(got.bytes).to.equal(big.length);
        expect(got.sha1).to.equal(sha1(big));
        // And the connection carries the next request.
        await readBody((await c.get(s.url())).response);
        expect(s.connections).to.equal(1);
      });

      it(`gives copies from the async iterator that stay intact after later chunks arrive, over ${over}`, async () => {
        const body = big.subarray(0, 4 * MiB);
        const s = await serve((req) => void writeAll(req.socket, [okHead(body.length), ...slices(body, 100_000)]), secure ? ca : undefined);
        const c = makeClient({ ca: ca.ca });
        const { response } = await c.get(s.url());
        const kept: Buffer[] = [];
        for await (const b of response) {
          kept.push(b);
          await turn();
        }
        expect(kept.length).to.be.greaterThan(4);
        expect(sha1(Buffer.concat(kept))).to.equal(sha1(body));
      });
    }

    it('reads a body that runs to the close of the connection, and does not reuse that connection', async () => {
      const body = big.subarray(0, 2 * MiB);
      const s = await serve((req) => void writeAll(req.socket, ['HTTP/1.1 200 OK\r\n\r\n', ...slices(body, 64 << 10)]).then(() => req.socket.end()));
      const c = makeClient();
      const { response } = await c.get(s.url());
      const got = await hashChunksSlowly(response);
      expect(got.sha1).to.equal(sha1(body));
      expect(response.complete).to.equal(true);
      await readBody((await c.get(s.url())).response);
      expect(s.connections).to.equal(2);
    });
  });

  describe('TLS trust', () => {
    it('trusts a server certificate signed by the CA given as `ca`', async () => {
      const s = await serve((req) => answer(req.socket, 'secret'), ca);
      expect((await readBody((await makeClient({ ca: ca.ca }).get(s.url())).response)).toString()).to.equal('secret');
    });

    it('fails with ERR_ZSYNC_TLS (not retryable) without that CA, and sends no request', async () => {
      const s = await serve((req) => answer(req.socket, 'secret'), ca);
      const err = await rejection(makeClient().get(s.url()));
      expect(err).to.be.instanceOf(HttpError);
      expect(err).to.have.property('code', 'ERR_ZSYNC_TLS');
      expect(err).to.have.property('retryable', false);
      expect(s.requests.length).to.equal(0);
    });

    it('resumes the TLS session of its last connection to the origin: a new connection skips the full handshake', async () => {
      // The server closes each connection after its answer: every request needs a new one.
      const reused: boolean[] = [];
      const s = await serve((req) => {
        reused.push((req.socket as tls.TLSSocket).isSessionReused());
        answer(req.socket, 'secret', 'Connection: close\r\n');
        req.socket.end();
      }, ca);
      const client = makeClient({ ca: ca.ca });
      for (let i = 0; i < 3; i++) expect((await readBody((await client.get(s.url())).response)).toString()).to.equal('secret');
      expect(s.connections).to.equal(3);
      expect(reused, 'session reused, by connection').to.deep.equal([false, true, true]);
      // Another client has its own sessions: it starts with a full handshake.
      expect((await readBody((await makeClient({ ca: ca.ca }).get(s.url())).response)).toString()).to.equal('secret');
      expect(reused[3]).to.equal(false);
      // With trust waived (insecure), sessions are resumed all the same.
      const careless = makeClient({ insecure: true });
      for (let i = 0; i < 2; i++) expect((await readBody((await careless.get(s.url())).response)).toString()).to.equal('secret');
      expect(reused.slice(4)).to.deep.equal([false, true]);
    });

    it('accepts any certificate with insecure: true', async () => {
      const s = await serve((req) => answer(req.socket, 'secret'), ca);
      expect((await readBody((await makeClient({ insecure: true }).get(s.url())).response)).toString()).to.equal('secret');
    });
  });

  describe('redirects', () => {
    it('follows a relative Location to the final URL, draining the redirect body on the same connection', async () => {
      const s = await serve((req) => {
        if (req.line.startsWith('GET /old ')) req.socket.write('HTTP/1.1 302 Found\r\nLocation: /new?x=1\r\nContent-Length: 5\r\n\r\nmoved');
        else answer(req.socket, 'here');
      });
      const c = makeClient({ maxSockets: 1 });
      const { response, url } = await c.get(s.url('/old'));
      expect(url).to.equal(s.url('/new?x=1'));
      expect(response.statusCode).to.equal(200);
      expect((await readBody(response)).toString()).to.equal('here');
      expect(s.requests.map((r) => [r.conn, r.line])).to.deep.equal([[0, 'GET /old HTTP/1.1'], [0, 'GET /new?x=1 HTTP/1.1']]);
    });

    // The drain stops past 64 KiB; a body whose last chunk crosses that mark
    // once left its connection counted as busy for good: with maxSockets 1,
    // the GET after the redirect waited for ever.
    it('gives back the connection of a redirect whose body is 64-128 KiB, read or not', async () => {
      const moved = seededBytes(prng(7), 100_000);
      const s = await serve((req) => {
        if (req.line.startsWith('GET /old ')) req.socket.write(Buffer.concat([Buffer.from(`HTTP/1.1 302 Found\r\nLocation: /new\r\nContent-Length: ${moved.length}\r\n\r\n`), moved]));
        else answer(req.socket, 'here');
      });
      const c = makeClient({ maxSockets: 1 });
      for (let i = 0; i < 3; i++) {
        const { response } = await c.get(s.url('/old'));
        expect((await readBody(response)).toString()).to.equal('here');
      }
      expect(s.requests.length).to.equal(6);
    });

    it('gives up after maxRedirects with ERR_ZSYNC_HTTP_REDIRECTS', async () => {
      const s = await serve((req) => req.socket.write('HTTP/1.1 301 Moved\r\nLocation: /again\r\nContent-Length: 0\r\n\r\n'));
      const err = await rejection(makeClient({ maxRedirects: 3 }).get(s.url()));
      expect(err).to.have.property('code', 'ERR_ZSYNC_HTTP_REDIRECTS');
      expect(s.requests.length).to.equal(4);
    });
  });

  describe('failures', () => {
    it('turns a malformed response head into an HttpError with code ERR_ZSYNC_HTTP_BAD_RESPONSE', async () => {
      const s = await serve((req) => req.socket.write('HTTP/1.1 200 OK\r\nContent-Length: 5\r\nBroken header line\r\n\r\nhello'));
      const c = makeClient();
      const err = await rejection(c.get(s.url()));
      expect(err).to.be.instanceOf(HttpError);
      expect(err).to.have.property('code', 'ERR_ZSYNC_HTTP_BAD_RESPONSE');
      expect(err.message).to.contain('127.0.0.1');
    });

    it('does not wait for ever on a server that sends 100 Continue without end: ERR_ZSYNC_HTTP_BAD_RESPONSE', async () => {
      const s = await serve((req) => {
        const timer = setInterval(() => {
          if (req.socket.destroyed) clearInterval(timer);
          else req.socket.write('HTTP/1.1 100 Continue\r\n\r\n'.repeat(200));
        }, 5);
      });
      const err = await rejection(makeClient({ stallTimeoutMs: 60_000 }).get(s.url()));
      expect(err).to.have.property('code', 'ERR_ZSYNC_HTTP_BAD_RESPONSE');
    });

    it('refuses a header value with a bare CR in it (ERR_ZSYNC_HTTP_BAD_RESPONSE), which would be sent back as If-Match', async () => {
      const s = await serve((req) => req.socket.write('HTTP/1.1 200 OK\r\nETag: "a\rb"\r\nContent-Length: 2\r\n\r\nok'));
      const err = await rejection(makeClient().get(s.url()));
      expect(err).to.have.property('code', 'ERR_ZSYNC_HTTP_BAD_RESPONSE');
    });

    it('turns a response that is not HTTP at all into ERR_ZSYNC_HTTP_BAD_RESPONSE', async () => {
      const s = await serve((req) => req.socket.write('SSH-2.0-OpenSSH_9.6\r\n\r\n'));
      const err = await rejection(makeClient().get(s.url()));
      expect(err).to.be.instanceOf(HttpError);
      expect(err).to.have.property('code', 'ERR_ZSYNC_HTTP_BAD_RESPONSE');
    });

    it('fails the body with ERR_ZSYNC_HTTP_BAD_RESPONSE at a bad chunk, and drops the connection', async () => {
      const s = await serve((req) => {
        if (req.conn === 0) req.socket.write('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\nnot hex\r\n');
        else answer(req.socket, 'ok');
      });
      const c = makeClient();
      const { response } = await c.get(s.url());
      const err = await rejection(readBody(response));
      expect(err).to.have.property('code', 'ERR_ZSYNC_HTTP_BAD_RESPONSE');
      await s.closed(0);
      expect((await readBody((await c.get(s.url())).response)).toString()).to.equal('ok');
    });

    it('fails with ERR_ZSYNC_HTTP_STALL (retryable) when the server sends the head and then nothing', async () => {
      const s = await serve((req) => req.socket.write(`${okHead(1000)}first bytes`));
      const c = makeClient({ stallTimeoutMs: 1000 });
      const { response } = await c.get(s.url());
      expect(response.statusCode).to.equal(200);
      const err = await rejection(readBody(response));
      expect(err).to.be.instanceOf(HttpError);
      expect(err).to.have.property('code', 'ERR_ZSYNC_HTTP_STALL');
      expect(err).to.have.property('retryable', true);
      await s.closed(0);
    });

    it('fails with ERR_ZSYNC_HTTP_STALL when the server sends nothing at all', async () => {
      const s = await serve(() => {});
      const c = makeClient({ stallTimeoutMs: 1000 });
      const err = await rejection(c.get(s.url()));
      expect(err).to.be.instanceOf(HttpError);
      expect(err).to.have.property('code', 'ERR_ZSYNC_HTTP_STALL');
      expect(err).to.have.property('retryable', true);
      await s.closed(0);
    });

    it('fails with ERR_ZSYNC_HTTP_STALL when the server stops in the middle of the head', async () => {
      const s = await serve((req) => req.socket.write('HTTP/1.1 200 OK\r\nContent-Len'));
      const err = await rejection(makeClient({ stallTimeoutMs: 1000 }).get(s.url()));
      expect(err).to.have.property('code', 'ERR_ZSYNC_HTTP_STALL');
    });

    it('rejects the body with ERR_ZSYNC_ABORTED when the signal aborts while the body is being read', async () => {
      const s = await serve((req) => req.socket.write(`${okHead(1000)}first bytes`));
      const c = makeClient();
      const controller = new AbortController();
      const { response } = await c.get(s.url(), {}, controller.signal);
      const err = await rejection(
        (async () => {
          for await (const chunk of response.chunks()) {
            expect(chunk.toString()).to.equal('first bytes');
            controller.abort();
          }
        })(),
      );
      expect(err).to.have.property('code', 'ERR_ZSYNC_ABORTED');
      expect(err).to.be.instanceOf(AbortedError);
      await s.closed(0);
    });

    it('fails with ERR_ZSYNC_ABORTED when the signal aborts while waiting for the head', async () => {
      const s = await serve(() => {});
      const controller = new AbortController();
      // No stall timeout to end the wait instead of the abort.
      const c = makeClient({ stallTimeoutMs: 600_000 });
      const p = c.get(s.url(), {}, controller.signal);
      while (s.requests.length === 0) await turn();
      controller.abort();
      const err = await rejection(p);
      expect(err).to.be.instanceOf(AbortedError);
      expect(err).to.have.property('code', 'ERR_ZSYNC_ABORTED');
      await s.closed(0);
    });

    it('fails with ERR_ZSYNC_ABORTED when the signal aborts while waiting for a socket, and at once when already aborted', async () => {
      const s = await serve(() => {});
      // No stall timeout to free the socket instead of the abort.
      const c = makeClient({ maxSockets: 1, stallTimeoutMs: 600_000 });
      const hog = c.get(s.url());
      hog.catch(() => {});
      const controller = new AbortController();
      const waiting = c.get(s.url(), {}, controller.signal);
      while (s.requests.length === 0) await turn();
      controller.abort();
      expect(await rejection(waiting)).to.have.property('code', 'ERR_ZSYNC_ABORTED');
      expect(await rejection(c.get(s.url(), {}, AbortSignal.abort()))).to.have.property('code', 'ERR_ZSYNC_ABORTED');
      expect(s.requests.length).to.equal(1);
    });

    it('rejects the body with a retryable ERR_ZSYNC_HTTP_NETWORK ("socket hang up") when the connection closes before Content-Length bytes', async () => {
      const s = await serve((req) => req.socket.end(`${okHead(1000)}${'x'.repeat(500)}`));
      const c = makeClient();
      const { response } = await c.get(s.url());
      let got = 0;
      const err = await rejection(
        (async () => {
          for await (const chunk of response.chunks()) got += chunk.length;
        })(),
      );
      expect(got).to.equal(500);
      expect(err).to.be.instanceOf(HttpError);
      expect(err).to.have.property('code', 'ERR_ZSYNC_HTTP_NETWORK');
      expect(err).to.have.property('retryable', true);
      expect(err.message).to.match(/socket hang up/);
      expect(response.complete).to.equal(false);
    });

    it('rejects a chunked body cut short by the close the same way', async () => {
      const s = await serve((req) => req.socket.end('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n'));
      const { response } = await makeClient().get(s.url());
      const err = await rejection(readBody(response));
      expect(err).to.have.property('code', 'ERR_ZSYNC_HTTP_NETWORK');
      expect(err).to.have.property('retryable', true);
    });

    it('fails with ERR_ZSYNC_HTTP_NETWORK when nothing listens', async () => {
      const s = await serve(() => {});
      const url = s.url();
      await s.stop();
      const err = await rejection(makeClient().get(url));
      expect(err).to.be.instanceOf(HttpError);
      expect(err).to.have.property('code', 'ERR_ZSYNC_HTTP_NETWORK');
      expect(err).to.have.property('retryable', true);
    });

    it('fails requests in progress, and refuses new ones, after close()', async () => {
      const s = await serve(() => {});
      const c = makeClient();
      const p = c.get(s.url());
      while (s.requests.length === 0) await turn();
      c.close();
      expect(await rejection(p)).to.be.instanceOf(HttpError);
      expect(await rejection(c.get(s.url()))).to.have.property('code', 'ERR_ZSYNC_CLOSED');
    });
  });

  describe('request headers', () => {
    it('refuses a header value with CR or LF (InvalidArgumentError) before anything is sent', async () => {
      const s = await serve((req) => answer(req.socket, 'ok'));
      const c = makeClient();
      for (const value of ['a\r\nX-Injected: 1', 'a\nb', 'a\rb', 'a\0b']) {
        const err = await rejection(c.get(s.url(), { 'x-test': value }));
        expect(err, JSON.stringify(value)).to.be.instanceOf(InvalidArgumentError);
        expect(err).to.have.property('code', 'ERR_ZSYNC_INVALID_ARGUMENT');
      }
      expect(() => new HttpClient({ headers: { 'user-agent': 'evil\r\nX-Injected: 1' } })).to.throw(InvalidArgumentError);
      expect(s.connections).to.equal(0);
    });

    // The head goes out one byte a character (latin1): U+010D would be a CR on the wire.
    it('refuses a header value with characters past U+00FF or controls other than tab', async () => {
      const s = await serve((req) => answer(req.socket, 'ok'));
      const c = makeClient();
      for (const value of ['b\u010d\u010aX-Injected: 1', 'caf\u00e9 \u2603', 'a\u0007b', 'a\u007fb']) {
        const err = await rejection(c.get(s.url(), { 'x-test': value }));
        expect(err, JSON.stringify(value)).to.have.property('code', 'ERR_ZSYNC_INVALID_ARGUMENT');
      }
      expect(s.connections).to.equal(0);
      expect((await readBody((await c.get(s.url(), { 'x-test': 'caf\u00e9\tok' })).response)).toString()).to.equal('ok');
      expect(s.requests[0]!.headers['x-test']).to.equal('caf\u00e9\tok');
    });

    it('refuses a header name that is not a token', async () => {
      const s = await serve((req) => answer(req.socket, 'ok'));
      const c = makeClient();
      for (const name of ['bad name', 'x:y', 'x\r\ny', '']) {
        const err = await rejection(c.get(s.url(), { [name]: 'v' }));
        expect(err, JSON.stringify(name)).to.have.property('code', 'ERR_ZSYNC_INVALID_ARGUMENT');
      }
      expect(s.connections).to.equal(0);
    });

    it('sends the request line, Host, the client\'s and the request\'s headers', async () => {
      const s = await serve((req) => answer(req.socket, 'ok'));
      const c = makeClient({ headers: { 'User-Agent': 'test-agent/1', 'X-Every': 'one' } });
      await readBody((await c.get(`${s.url('/path/file.bin')}?q=1`, { Range: 'bytes=0-9' })).response);
      const [req] = s.requests;
      expect(req!.line).to.equal('GET /path/file.bin?q=1 HTTP/1.1');
      expect(req!.headers).to.deep.include({ host: `127.0.0.1:${s.port}`, 'user-agent': 'test-agent/1', 'x-every': 'one', range: 'bytes=0-9' });
    });

    it('sends basic credentials from the URL, percent-decoded', async () => {
      const s = await serve((req) => answer(req.socket, 'ok'));
      const c = makeClient();
      await readBody((await c.get(`http://user:pa%40ss@127.0.0.1:${s.port}/file`)).response);
      expect(s.requests[0]!.headers.authorization).to.equal(`Basic ${Buffer.from('user:pa@ss').toString('base64')}`);
    });
  });

  describe('memory', () => {
    it('reads a 32 MiB body through chunks() without an ArrayBuffer per read (arrayBuffers grows by less than 4 MB)', async () => {
      const SIZE = 32 * MiB;
      const slab = Buffer.allocUnsafeSlow(MiB);
      seededBytes(prng(32), MiB).copy(slab);
      const s = await serve((req) => void writeAll(req.socket, [okHead(SIZE), ...Array.from({ length: SIZE / MiB }, () => slab)]));
      const c = makeClient();
      const { response } = await c.get(s.url());
      let before = -1;
      let bytes = 0;
      // The memory behind the chunks, kept: a per-read allocation (or copy)
      // then shows in full in arrayBuffers, which a GC during the read would
      // otherwise hide, and in the count of distinct ArrayBuffers.
      const behind = new Set<ArrayBufferLike>();
      for await (const chunk of response.chunks()) {
        if (before < 0) before = process.memoryUsage().arrayBuffers;
        behind.add(chunk.buffer);
        bytes += chunk.length;
      }
      const after = process.memoryUsage().arrayBuffers;
      expect(bytes).to.equal(SIZE);
      expect(behind.size, 'distinct ArrayBuffers behind the chunks').to.be.at.most(10);
      expect(after - before).to.be.below(4_000_000);
    });
  });

  describe('backpressure', () => {
    it('reads the socket only as fast as the body is taken: a consumer that holds a chunk stops the server', async () => {
      const SIZE = 64 * MiB;
      const slab = seededBytes(prng(64), MiB);
      let slabsWritten = 0;
      const s = await serve((req) => {
        void (async () => {
          req.socket.write(okHead(SIZE));
          for (let i = 0; i < SIZE / MiB && !req.socket.destroyed; i++) {
            const more = req.socket.write(slab);
            slabsWritten++;
            if (!more) await drainedOrClosed(req.socket);
          }
        })();
      });
      const c = makeClient({ stallTimeoutMs: 600_000 });
      const { response } = await c.get(s.url());
      const hash = createHash('sha1');
      const expected = createHash('sha1');
      for (let i = 0; i < SIZE / MiB; i++) expected.update(slab);
      let bytes = 0;
      let held = false;
      for await (const chunk of response.chunks()) {
        if (!held) {
          held = true;
          // Long enough for the whole body to cross loopback many times over,
          // were the client reading on: it may take in a few buffers, and the
          // kernel's socket buffers fill; then the server must wait.
          await new Promise((resolve) => setTimeout(resolve, 500));
          expect(slabsWritten, 'MiB the server could write while the consumer held a chunk').to.be.below(SIZE / MiB / 2);
        }
        hash.update(chunk);
        bytes += chunk.length;
      }
      expect(bytes).to.equal(SIZE);
      expect(hash.digest('hex')).to.equal(expected.digest('hex'));
    });
  });

  describe('process lifetime', () => {
    it('does not keep the process alive with an idle kept-alive connection (no close() called)', async () => {
      const body = Buffer.alloc(100_000, 3);
      const s = await serve((req) => answer(req.socket, body));
      const script = `
        import { HttpClient } from ${JSON.stringify(pathToFileURL(join(ROOT, 'dist', 'index.js')).href)};
        // A stall timeout longer than the test's patience: a timer of its own must not hold the process either.
        const client = new HttpClient({ stallTimeoutMs: 60000 });
        const { response } = await client.get(process.argv[1]);
        let n = 0;
        for await (const b of response.chunks()) n += b.length;
        console.log(JSON.stringify({ status: response.statusCode, n, complete: response.complete }));
      `;
      const child = spawn(process.execPath, ['--input-type=module', '-e', script, s.url()], { stdio: ['ignore', 'pipe', 'pipe'], timeout: 10_000 });
      let out = '';
      let errText = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      child.stderr.on('data', (d: Buffer) => (errText += d.toString()));
      const [code, signal] = (await once(child, 'exit')) as [number | null, NodeJS.Signals | null];
      expect(signal, `killed after 10 s: the process did not exit by itself. stderr: ${errText}`).to.equal(null);
      expect(code, errText).to.equal(0);
      expect(JSON.parse(out)).to.deep.equal({ status: 200, n: body.length, complete: true });
      // The connection was kept alive by the server to the end: the child's exit closed it.
      expect(s.connections).to.equal(1);
    });
  });
});
