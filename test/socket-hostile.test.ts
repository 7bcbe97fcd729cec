/**
 * The socket transport facing hostile or broken peers, over loopback `net`
 * sockets: garbage, unknown and oversized frames, bad WANTs, peers that
 * vanish mid-frame, never read or never say HELLO, and a served file that
 * changes under the server. If this regressed, one bad client could take the
 * server down or make it buffer without bound, a bad server could leave a
 * client hanging or with a corrupt OUTPUT, or a file changed on disk could be
 * served as its old version.
 */
import { expect } from 'chai';
import { once } from 'node:events';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { writeFileSync } from 'node:fs';
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Duplex } from 'node:stream';
import { prng } from './generators.js';
import { outputChecks, rejection, seededBytes } from './support/sync-fixtures.js';
import { PeerError } from '../lib/socket/errors.js';
import { createSyncServer, type SyncServer, type SyncServerOptions } from '../lib/socket/server.js';
import { syncOverStream, type SocketSyncOptions, type SocketSyncResult } from '../lib/socket/client.js';
import {
  controlHead,
  dataHead,
  errorPayload,
  frame,
  FrameType,
  helloPayload,
  parseControl,
  parseData,
  parseError,
  parseRequest,
  parseWant,
  requestPayload,
  wantPayload,
  type Frame,
  type FrameTypeCode,
  type Range,
} from '../lib/socket/protocol.js';
import { zsyncmake } from '../lib/zsyncmake.js';

/** Short bounds, so a peer that hangs fails a test quickly instead of hanging it. */
const STALL_MS = 400;
const HELLO_MS = 400;
/** The client's bound on a server's silence while it waits on it (idleTimeoutMs). */
const IDLE_MS = 800;

type CodedError = Error & { code?: string };

/**
 * One end of a connection, driven by the test: frames are written raw, and
 * the frames received are decoded as they come (the test decides when to
 * read them). Used as a hostile client and as a scripted fake server.
 */
class Peer {
  readonly frames: Frame[] = [];
  readonly closed: Promise<void>;
  isClosed = false;
  error?: Error;
  private buffered = Buffer.alloc(0);
  private read = 0;
  private waiters: Array<() => void> = [];

  constructor(readonly socket: Socket) {
    socket.on('data', (b: Buffer) => {
      this.buffered = Buffer.concat([this.buffered, b]);
      while (this.buffered.length >= 5) {
        const length = this.buffered.readUInt32BE(0);
        if (this.buffered.length < 4 + length) break;
        this.frames.push({ type: this.buffered.readUInt8(4) as FrameTypeCode, payload: Buffer.from(this.buffered.subarray(5, 4 + length)) });
        this.buffered = this.buffered.subarray(4 + length);
      }
      this.notify();
    });
    socket.on('error', (err) => {
      this.error = err;
    });
    this.closed = new Promise((resolve) =>
      socket.once('close', () => {
        this.isClosed = true;
        this.notify();
        resolve();
      }),
    );
  }

  send(type: FrameTypeCode, ...parts: Uint8Array[]): void {
    for (const b of frame(type, ...parts)) this.socket.write(b);
  }

  write(bytes: Uint8Array): void {
    this.socket.write(bytes);
  }

  /** The next frame not read yet; fails if it is not of one of `types` or the connection closes first. */
  async next(...types: FrameTypeCode[]): Promise<Frame> {
    for (;;) {
      const f = this.frames[this.read];
      if (f) {
        this.read++;
        if (!types.includes(f.type)) throw new Error(`expected frame type ${types.join(' or ')}, got ${f.type}${f.type === FrameType.ERROR ? ` (${parseError(f.payload).code})` : ''}`);
        return f;
      }
      if (this.isClosed) throw new Error(`connection closed while waiting for frame type ${types.join(' or ')}`);
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
  }

  /** Waits for the connection to close; the code of the session-ending ERROR frame received, if any. */
  async endCode(): Promise<string | undefined> {
    await this.closed;
    const fatal = this.frames.filter((f) => f.type === FrameType.ERROR).map((f) => parseError(f.payload)).find((e) => e.request === 0);
    return fatal?.code;
  }

  private notify(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const resolve of w) resolve();
  }
}

/**
 * The server's end of a loopback connection, seen through a slow link: each
 * chunk the server writes goes on to the socket `delayMs` after the one
 * before (a peer that reads slowly but steadily), and none at all while
 * `held` (a peer that reads nothing). What the peer sends comes through as is.
 */
class SlowLink extends Duplex {
  held = false;

  constructor(private readonly socket: Socket, private readonly delayMs: number) {
    super();
    socket.on('data', (b: Buffer) => {
      if (!this.push(b)) socket.pause();
    });
    socket.on('end', () => this.push(null));
    socket.on('error', (err) => this.destroy(err));
    socket.on('close', () => this.destroy());
  }

  override _read(): void {
    this.socket.resume();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (err?: Error | null) => void): void {
    setTimeout(() => {
      if (this.held || this.socket.destroyed) return; // never taken: the server's write waits for ever
      this.socket.write(chunk);
      callback();
    }, this.delayMs);
  }

  override _final(callback: (err?: Error | null) => void): void {
    this.socket.end();
    callback();
  }

  override _destroy(err: Error | null, callback: (err?: Error | null) => void): void {
    this.socket.destroy();
    callback(err);
  }
}

async function connectPeer(port: number): Promise<Peer> {
  const socket = connect(port, '127.0.0.1');
  await once(socket, 'connect');
  return new Peer(socket);
}

/** The client's half of the handshake: HELLO, then the server's HELLO and one whole CONTROL. */
async function handshake(peer: Peer, name = ''): Promise<{ version: number; control: Buffer }> {
  peer.send(FrameType.HELLO, helloPayload(name));
  await peer.next(FrameType.HELLO);
  const pieces: Buffer[] = [];
  for (;;) {
    const c = parseControl((await peer.next(FrameType.CONTROL)).payload);
    pieces.push(c.data);
    if (c.last) return { version: c.version, control: Buffer.concat(pieces) };
  }
}

interface Running {
  sync: SyncServer;
  net: Server;
  port: number;
  /** The server's side of every connection, in order of arrival. */
  sockets: Socket[];
  /** Every 'session-error' so far. */
  errors: CodedError[];
  /** The next 'session-error' (subscribe before provoking it). */
  nextError(): Promise<CodedError>;
  /** Resolves once no session is open. */
  idle(): Promise<void>;
  close(): Promise<void>;
}

async function startServer(options: SyncServerOptions): Promise<Running> {
  const sync = createSyncServer({ stallTimeoutMs: STALL_MS, helloTimeoutMs: HELLO_MS, ...options });
  await sync.ready;
  const sockets: Socket[] = [];
  const errors: CodedError[] = [];
  sync.on('session-error', (err: CodedError) => errors.push(err));
  const net = createServer((s) => {
    sockets.push(s);
    sync.handle(s);
  }).listen(0, '127.0.0.1');
  await once(net, 'listening');
  return {
    sync,
    net,
    port: (net.address() as AddressInfo).port,
    sockets,
    errors,
    async nextError() {
      const [err] = (await once(sync, 'session-error')) as [CodedError];
      return err;
    },
    async idle() {
      while (sync.stats.clients > 0) await new Promise((resolve) => setTimeout(resolve, 5));
    },
    async close() {
      await sync.close();
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => net.close(() => resolve()));
    },
  };
}

function clientOptions(output: string, extra: SocketSyncOptions = {}): SocketSyncOptions {
  return { output, stallTimeoutMs: STALL_MS * 4, helloTimeoutMs: HELLO_MS * 4, idleTimeoutMs: IDLE_MS, ...extra };
}

async function exists(path: string): Promise<boolean> {
  return (await stat(path).catch(() => undefined)) !== undefined;
}

/** A 200 KB file and an old copy of it with three stretches overwritten (so a sync must fetch). */
function makeFiles(seed: number): { oldData: Buffer; newData: Buffer } {
  const rand = prng(seed);
  const newData = seededBytes(rand, 200_000);
  const oldData = Buffer.from(newData);
  for (const at of [10_000, 90_000, 170_000]) seededBytes(rand, 5_000).copy(oldData, at);
  return { oldData, newData };
}

describe('socket transport, hostile peers', function () {
  this.timeout(10_000);
  let dir: string;
  const { oldData, newData } = makeFiles(601);
  const oldMtime = new Date('2020-01-02T03:04:05Z');
  const checks = outputChecks(oldData, newData, oldMtime);
  let outputs = 0;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'zsync-hostile-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  /** A well-behaved client syncs an old copy to exactly the served bytes. */
  async function expectServes(server: Running, data = newData): Promise<void> {
    const output = join(dir, `good-${++outputs}.bin`);
    await checks.oldOutput(output);
    const result = await syncOverStream(connect(server.port, '127.0.0.1'), clientOptions(output));
    expect(result.bytesFetched, 'the good client fetched the changed blocks').to.be.greaterThan(0);
    await checks.expectNew(output, data);
  }

  describe('the server, facing a hostile client, ends that session with a typed error and keeps serving the others', () => {
    let server: Running;
    let served: string;

    beforeEach(async () => {
      served = join(dir, 'served.bin');
      await writeFile(served, newData);
      server = await startServer({ files: served, chunkBytes: 16 << 10, maxFrameBytes: 4096 });
    });
    afterEach(async () => {
      await server.close();
    });

    /** Sends `bytes` from a fresh client (after a handshake when `hello`), expects the session to fail with `code`. */
    async function expectRefused(bytes: Uint8Array[], code: string, hello: boolean): Promise<void> {
      const peer = await connectPeer(server.port);
      if (hello) await handshake(peer);
      const failed = server.nextError();
      for (const b of bytes) peer.write(b);
      expect((await failed).code, 'session-error').to.equal(code);
      expect(await peer.endCode(), 'the ERROR frame the client was sent').to.equal(code);
      await expectServes(server);
      expect(server.errors).to.have.length(1);
    }

    const beforeHello = (label: string): string => `${label}, before HELLO`;
    const garbage: Array<{ label: string; bytes: Buffer[]; code: string; hello: boolean }> = [
      { label: beforeHello('an HTTP request (its first bytes read as a huge length)'), bytes: [Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n')], code: 'ERR_ZSYNC_FRAME_TOO_LARGE', hello: false },
      { label: beforeHello('a HELLO frame without the magic'), bytes: frame(FrameType.HELLO, Buffer.from('HTTP\x00\x01')), code: 'ERR_ZSYNC_PROTOCOL', hello: false },
      { label: beforeHello('a HELLO of another protocol version'), bytes: frame(FrameType.HELLO, Buffer.from('ZSYN\x00\x63')), code: 'ERR_ZSYNC_PROTOCOL_VERSION', hello: false },
      { label: beforeHello('a WANT'), bytes: frame(FrameType.WANT, wantPayload(1, 1, [{ start: 0, end: 10 }])), code: 'ERR_ZSYNC_PROTOCOL', hello: false },
      { label: beforeHello('a frame of unknown type 0x42'), bytes: frame(0x42 as FrameTypeCode, Buffer.alloc(8)), code: 'ERR_ZSYNC_PROTOCOL', hello: false },
      { label: 'a frame of unknown type 0x42, after HELLO', bytes: frame(0x42 as FrameTypeCode, Buffer.alloc(8)), code: 'ERR_ZSYNC_PROTOCOL', hello: true },
      { label: 'a frame only servers send (DATA)', bytes: frame(FrameType.DATA, dataHead(1, 0), Buffer.alloc(10)), code: 'ERR_ZSYNC_PROTOCOL', hello: true },
      { label: 'a frame of length 0', bytes: [Buffer.alloc(4)], code: 'ERR_ZSYNC_PROTOCOL', hello: true },
      { label: 'a second HELLO', bytes: frame(FrameType.HELLO, helloPayload()), code: 'ERR_ZSYNC_PROTOCOL', hello: true },
      { label: 'a HELLO for a file not served', bytes: frame(FrameType.HELLO, helloPayload('../../etc/passwd')), code: 'ERR_ZSYNC_NO_SUCH_FILE', hello: false },
    ];
    for (const g of garbage) {
      it(`${g.label}: ${g.code}`, async () => {
        await expectRefused(g.bytes, g.code, g.hello);
      });
    }

    for (const hello of [false, true]) {
      it(`refuses a length prefix of 0xFFFFFFFF ${hello ? 'after' : 'before'} HELLO as soon as it arrives, without waiting for (or buffering) its payload`, async () => {
        const peer = await connectPeer(server.port);
        if (hello) await handshake(peer);
        const failed = server.nextError();
        // The prefix and a type byte, then nothing: a server that waits for the payload
        // would time out (ERR_ZSYNC_TIMEOUT before HELLO) or hang (after it).
        peer.write(Buffer.from([0xff, 0xff, 0xff, 0xff, FrameType.WANT]));
        expect((await failed).code).to.equal('ERR_ZSYNC_FRAME_TOO_LARGE');
        expect(await peer.endCode()).to.equal('ERR_ZSYNC_FRAME_TOO_LARGE');
        await expectServes(server);
      });
    }

    for (const hello of [false, true]) {
      it(`refuses a frame of unknown type announcing 4000 bytes (within maxFrameBytes) ${hello ? 'after' : 'before'} HELLO as soon as its 5-byte header arrives, without waiting for its payload`, async () => {
        const peer = await connectPeer(server.port);
        if (hello) await handshake(peer);
        const failed = server.nextError();
        // The header only: a server that waits for the payload would time out (before HELLO) or hang (after it).
        const head = Buffer.alloc(5);
        head.writeUInt32BE(4000, 0);
        head.writeUInt8(0x42, 4);
        peer.write(head);
        expect((await failed).code).to.equal('ERR_ZSYNC_PROTOCOL');
        expect(await peer.endCode()).to.equal('ERR_ZSYNC_PROTOCOL');
        await expectServes(server);
      });
    }

    it('refuses a frame one byte longer than maxFrameBytes, with its payload streaming in', async () => {
      const peer = await connectPeer(server.port);
      await handshake(peer);
      const failed = server.nextError();
      const head = Buffer.alloc(5);
      head.writeUInt32BE(4097, 0);
      head.writeUInt8(FrameType.WANT, 4);
      peer.write(head);
      peer.write(Buffer.alloc(1000));
      expect((await failed).code).to.equal('ERR_ZSYNC_FRAME_TOO_LARGE');
      expect(await peer.endCode()).to.equal('ERR_ZSYNC_FRAME_TOO_LARGE');
      await expectServes(server);
    });

    const length = newData.length;
    const badWants: Array<{ label: string; payload: () => Buffer }> = [
      { label: 'ranges out of order', payload: () => wantPayload(1, 1, [{ start: 5000, end: 6000 }, { start: 0, end: 100 }]) },
      { label: 'overlapping ranges', payload: () => wantPayload(1, 1, [{ start: 0, end: 1000 }, { start: 500, end: 1500 }]) },
      { label: 'a range past the end of the file', payload: () => wantPayload(1, 1, [{ start: length - 10, end: length + 1 }]) },
      { label: 'a range starting past the end of the file', payload: () => wantPayload(1, 1, [{ start: length + 100, end: length + 200 }]) },
      { label: 'an empty range', payload: () => wantPayload(1, 1, [{ start: 100, end: 100 }]) },
      { label: 'a reversed range', payload: () => wantPayload(1, 1, [{ start: 200, end: 100 }]) },
      { label: 'request id 0', payload: () => wantPayload(0, 1, [{ start: 0, end: 100 }]) },
      { label: 'no ranges', payload: () => wantPayload(1, 1, []) },
      { label: 'a length that is not whole ranges', payload: () => Buffer.concat([wantPayload(1, 1, [{ start: 0, end: 100 }]), Buffer.alloc(6)]) },
      {
        label: 'an offset beyond 2^53',
        payload: () => {
          const p = wantPayload(1, 1, [{ start: 0, end: 100 }]);
          p.writeBigUInt64BE(1n << 60n, 16);
          return p;
        },
      },
    ];
    for (const w of badWants) {
      it(`a WANT with ${w.label}: ERR_ZSYNC_PROTOCOL, nothing of the file sent`, async () => {
        const peer = await connectPeer(server.port);
        await handshake(peer);
        const failed = server.nextError();
        peer.send(FrameType.WANT, w.payload());
        expect((await failed).code).to.equal('ERR_ZSYNC_PROTOCOL');
        expect(await peer.endCode()).to.equal('ERR_ZSYNC_PROTOCOL');
        expect(peer.frames.filter((f) => f.type === FrameType.DATA)).to.have.length(0);
        expect(server.sync.stats.bytesSent).to.equal(0);
        await expectServes(server);
      });
    }

    it('a WANT for a version not served gets a per-request stale-version ERROR; the session goes on', async () => {
      const peer = await connectPeer(server.port);
      const { version } = await handshake(peer);
      peer.send(FrameType.WANT, wantPayload(7, version + 5, [{ start: 0, end: 100 }]));
      const e = parseError((await peer.next(FrameType.ERROR)).payload);
      expect(e).to.include({ request: 7, code: 'ERR_ZSYNC_STALE_VERSION' });
      peer.send(FrameType.WANT, wantPayload(8, version, [{ start: 0, end: 100 }]));
      const d = parseData((await peer.next(FrameType.DATA)).payload);
      expect(d.request).to.equal(8);
      expect(d.data.equals(newData.subarray(0, 100))).to.equal(true);
      expect(parseRequest((await peer.next(FrameType.DONE)).payload)).to.equal(8);
      peer.send(FrameType.BYE);
      expect(await peer.endCode()).to.equal(undefined);
      expect(server.errors).to.have.length(0);
    });

    it('a client that ends its side in the middle of a frame: ERR_ZSYNC_TRUNCATED_FRAME', async () => {
      const peer = await connectPeer(server.port);
      await handshake(peer);
      const failed = server.nextError();
      const want = Buffer.concat(frame(FrameType.WANT, wantPayload(1, 1, [{ start: 0, end: 100 }])));
      peer.socket.end(want.subarray(0, 11));
      expect((await failed).code).to.equal('ERR_ZSYNC_TRUNCATED_FRAME');
      await peer.closed;
      await expectServes(server);
    });

    it('a client that resets the connection in the middle of a frame: ERR_ZSYNC_TRUNCATED_FRAME too (not the socket\'s ECONNRESET)', async () => {
      const peer = await connectPeer(server.port);
      await handshake(peer);
      const serverSide = server.sockets[0]!;
      const failed = server.nextError();
      const want = Buffer.concat(frame(FrameType.WANT, wantPayload(1, 1, [{ start: 0, end: 100 }])));
      const before = serverSide.bytesRead;
      peer.write(want.subarray(0, 11));
      // Reset only once the server holds the partial frame.
      while (serverSide.bytesRead < before + 11) await new Promise((resolve) => setTimeout(resolve, 2));
      peer.socket.resetAndDestroy();
      expect((await failed).code).to.equal('ERR_ZSYNC_TRUNCATED_FRAME');
      await expectServes(server);
      expect(server.errors).to.have.length(1);
    });

    for (const how of ['resets', 'closes'] as const) {
      it(`a client that ${how} the connection between frames, while data is being sent to it, has left: no session-error`, async () => {
        const peer = await connectPeer(server.port);
        const { version } = await handshake(peer);
        peer.send(FrameType.WANT, wantPayload(1, version, [{ start: 0, end: length }]));
        await peer.next(FrameType.DATA);
        if (how === 'resets') peer.socket.resetAndDestroy();
        else peer.socket.end();
        await server.idle();
        expect(server.errors.map((e) => `${e.code}: ${e.message}`)).to.deep.equal([]);
        await expectServes(server);
      });
    }

    it('a client that says HELLO and leaves (no BYE) has left: no session-error', async () => {
      const peer = await connectPeer(server.port);
      await handshake(peer);
      peer.socket.end();
      await peer.closed;
      await server.idle();
      expect(server.errors).to.have.length(0);
    });

    it('a client that says BYE and keeps its side of the connection open (half-open) is cut off by the server after a short grace: the connection closes', async () => {
      const socket = connect({ port: server.port, host: '127.0.0.1', allowHalfOpen: true });
      await once(socket, 'connect');
      const peer = new Peer(socket);
      await handshake(peer);
      const serverSide = server.sockets[0]!;
      const serverClosed = once(serverSide, 'close');
      peer.send(FrameType.BYE);
      // We never end our side; the server must not wait for us for ever.
      await serverClosed;
      expect(serverSide.destroyed).to.equal(true);
      await server.idle();
      expect(server.errors).to.have.length(0);
      socket.destroy();
    });

    it('a client refused as busy (maxClients reached) that keeps its side open is cut off too, after its ERR_ZSYNC_BUSY', async () => {
      const busy = await startServer({ files: served, maxClients: 1 });
      try {
        const first = await connectPeer(busy.port);
        await handshake(first);
        const socket = connect({ port: busy.port, host: '127.0.0.1', allowHalfOpen: true });
        await once(socket, 'connect');
        const refused = new Peer(socket);
        const busyFrame = parseError((await refused.next(FrameType.ERROR)).payload);
        expect(busyFrame).to.include({ request: 0, code: 'ERR_ZSYNC_BUSY' });
        while (busy.sockets.length < 2) await new Promise((resolve) => setTimeout(resolve, 5));
        const serverSide = busy.sockets[1]!;
        if (!serverSide.destroyed) await once(serverSide, 'close');
        expect(serverSide.destroyed).to.equal(true);
        socket.destroy();
        first.socket.destroy();
      } finally {
        await busy.close();
      }
    });

    it('a client that never says HELLO is dropped after helloTimeoutMs (ERR_ZSYNC_TIMEOUT); others are served meanwhile', async () => {
      const failed = server.nextError();
      const silent = await connectPeer(server.port);
      // And one that sends half a frame header, then nothing.
      const slow = await connectPeer(server.port);
      slow.write(Buffer.from([0, 0]));
      await expectServes(server);
      expect((await failed).code).to.equal('ERR_ZSYNC_TIMEOUT');
      expect(await silent.endCode()).to.equal('ERR_ZSYNC_TIMEOUT');
      expect(await slow.endCode()).to.equal('ERR_ZSYNC_TIMEOUT');
      expect(server.errors.map((e) => e.code)).to.deep.equal(['ERR_ZSYNC_TIMEOUT', 'ERR_ZSYNC_TIMEOUT']);
      await expectServes(server);
    });

    describe('a stall is no progress for stallTimeoutMs, not a slow drain', () => {
      /** A server (stallTimeoutMs 500) whose every connection goes through a SlowLink of `delayMs` a chunk. */
      async function slowServer(delayMs: number): Promise<{ sync: SyncServer; port: number; links: SlowLink[]; errors: CodedError[]; close(): Promise<void> }> {
        const sync = createSyncServer({ files: served, chunkBytes: 16 << 10, stallTimeoutMs: 500, helloTimeoutMs: 2000 });
        await sync.ready;
        const links: SlowLink[] = [];
        const errors: CodedError[] = [];
        sync.on('session-error', (err: CodedError) => errors.push(err));
        const net = createServer((s) => {
          const link = new SlowLink(s, delayMs);
          links.push(link);
          sync.handle(link);
        }).listen(0, '127.0.0.1');
        await once(net, 'listening');
        return {
          sync,
          port: (net.address() as AddressInfo).port,
          links,
          errors,
          async close() {
            await sync.close();
            for (const l of links) l.destroy();
            await new Promise<void>((resolve) => net.close(() => resolve()));
          },
        };
      }

      it('a client that reads slowly but steadily (one chunk every 60 ms, a drain taking longer than stallTimeoutMs) is served to the end, byte for byte', async () => {
        const slow = await slowServer(60);
        try {
          const output = join(dir, 'slow.bin');
          await checks.oldOutput(output);
          const result = await syncOverStream(connect(slow.port, '127.0.0.1'), clientOptions(output, { idleTimeoutMs: 5000, stallTimeoutMs: 5000 }));
          expect(result.bytesFetched).to.be.greaterThan(16 << 10);
          await checks.expectNew(output);
          expect(slow.errors.map((e) => e.code)).to.deep.equal([]);
        } finally {
          await slow.close();
        }
      });

      it('a client that reads nothing after its WANT is dropped with ERR_ZSYNC_PEER_STALLED', async () => {
        const slow = await slowServer(1);
        try {
          const peer = await connectPeer(slow.port);
          const { version } = await handshake(peer);
          slow.links[0]!.held = true;
          const failed = once(slow.sync, 'session-error') as Promise<[CodedError]>;
          peer.send(FrameType.WANT, wantPayload(1, version, [{ start: 0, end: length }]));
          const [err] = await failed;
          expect(err.code).to.equal('ERR_ZSYNC_PEER_STALLED');
          expect(slow.links[0]!.destroyed).to.equal(true);
          await peer.closed;
        } finally {
          await slow.close();
        }
      });
    });

    it('a client that sends HELLO, WANTs a lot and never reads is dropped with ERR_ZSYNC_PEER_STALLED; the server buffers at most one frame past its socket buffer', async () => {
      const peer = await connectPeer(server.port);
      const { version } = await handshake(peer);
      const serverSide = server.sockets[0]!;
      // Record how much the server's socket holds after every write it makes; fail at once past the bound.
      const oneFrame = 4 + 1 + 12 + (16 << 10);
      const bound = serverSide.writableHighWaterMark + oneFrame;
      let most = 0;
      let overflow!: (err: Error) => void;
      const overflowed = new Promise<never>((_, reject) => (overflow = reject));
      const write = serverSide.write.bind(serverSide) as (chunk: Buffer) => boolean;
      serverSide.write = ((chunk: Buffer) => {
        const ok = write(chunk);
        most = Math.max(most, serverSide.writableLength);
        if (most > bound) overflow(new Error(`the server queued ${most} bytes for a client that does not read (bound ${bound})`));
        return ok;
      }) as typeof serverSide.write;
      peer.socket.pause();
      const failed = server.nextError();
      // 400 WANTs of the whole file: 80 MB, more than loopback's socket buffers can hold.
      const wants = 400;
      for (let id = 1; id <= wants; id++) peer.send(FrameType.WANT, wantPayload(id, version, [{ start: 0, end: length }]));
      // A good client, while the server is stuck writing to the one that does not read.
      while (serverSide.writableLength === 0 && !serverSide.destroyed) await new Promise((resolve) => setTimeout(resolve, 5));
      await Promise.race([expectServes(server), overflowed]);
      // A new version announced to it queues behind the stuck DATA: the session still fails once, as stalled.
      const changed = Buffer.from(newData);
      changed.fill(7, 50_000, 60_000);
      await writeFile(served, changed);
      expect(await server.sync.update()).to.equal(2);
      const err = await Promise.race([failed, overflowed]);
      expect(err.code).to.equal('ERR_ZSYNC_PEER_STALLED');
      expect(most, 'bytes queued in the server socket').to.be.at.most(bound);
      expect(server.sync.stats.bytesSent, 'the server stopped sending').to.be.below(wants * length);
      expect(serverSide.destroyed).to.equal(true);
      peer.socket.destroy();
      await server.idle();
      await expectServes(server, changed);
      expect(server.errors.map((e) => e.code)).to.deep.equal(['ERR_ZSYNC_PEER_STALLED']);
    });
  });

  describe('the client, facing a hostile server, rejects with a typed error and leaves OUTPUT as it was', () => {
    let control: Buffer;
    before(async () => {
      const tmp = await mkdtemp(join(tmpdir(), 'zsync-hostile-control-'));
      try {
        await writeFile(join(tmp, 'new.bin'), newData);
        await zsyncmake(join(tmp, 'new.bin'), { output: join(tmp, 'new.zsync') });
        control = await readFile(join(tmp, 'new.zsync'));
      } finally {
        await rm(tmp, { recursive: true, force: true });
      }
    });

    /** The server's half of a normal start: HELLO in, HELLO and the CONTROL out. */
    async function greet(peer: Peer): Promise<void> {
      await peer.next(FrameType.HELLO);
      peer.send(FrameType.HELLO, helloPayload());
      peer.send(FrameType.CONTROL, controlHead(1, true), control);
    }

    async function nextWant(peer: Peer): Promise<{ request: number; ranges: Range[] }> {
      return parseWant((await peer.next(FrameType.WANT)).payload, newData.length);
    }

    interface Script {
      label: string;
      code: string;
      run(peer: Peer): Promise<void>;
    }
    const scripts: Script[] = [
      {
        label: 'garbage instead of frames (an HTTP response)',
        code: 'ERR_ZSYNC_FRAME_TOO_LARGE',
        async run(peer) {
          peer.write(Buffer.from('HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n'));
        },
      },
      {
        label: 'a HELLO without the magic',
        code: 'ERR_ZSYNC_PROTOCOL',
        async run(peer) {
          await peer.next(FrameType.HELLO);
          peer.send(FrameType.HELLO, Buffer.from('ZSYX\x00\x01'));
        },
      },
      {
        label: 'CONTROL before HELLO',
        code: 'ERR_ZSYNC_PROTOCOL',
        async run(peer) {
          await peer.next(FrameType.HELLO);
          peer.send(FrameType.CONTROL, controlHead(1, true), control);
        },
      },
      {
        label: 'a frame of unknown type',
        code: 'ERR_ZSYNC_PROTOCOL',
        async run(peer) {
          await greet(peer);
          await nextWant(peer);
          peer.send(0x42 as FrameTypeCode, Buffer.alloc(12));
        },
      },
      {
        label: 'a frame only clients send (WANT)',
        code: 'ERR_ZSYNC_PROTOCOL',
        async run(peer) {
          await greet(peer);
          await nextWant(peer);
          peer.send(FrameType.WANT, wantPayload(1, 1, [{ start: 0, end: 10 }]));
        },
      },
      {
        label: 'a length prefix of 0xFFFFFFFF (and nothing after it; the connection stays open)',
        code: 'ERR_ZSYNC_FRAME_TOO_LARGE',
        async run(peer) {
          await greet(peer);
          await nextWant(peer);
          peer.write(Buffer.from([0xff, 0xff, 0xff, 0xff, FrameType.DATA]));
        },
      },
      {
        label: 'DATA for a request never made',
        code: 'ERR_ZSYNC_PROTOCOL',
        async run(peer) {
          await greet(peer);
          const want = await nextWant(peer);
          const r = want.ranges[0]!;
          peer.send(FrameType.DATA, dataHead(want.request + 100, r.start), newData.subarray(r.start, r.end));
        },
      },
      {
        label: 'DONE before all bytes were sent',
        code: 'ERR_ZSYNC_PROTOCOL',
        async run(peer) {
          await greet(peer);
          const want = await nextWant(peer);
          const r = want.ranges[0]!;
          // Half the first range, then DONE.
          const half = r.start + Math.ceil((r.end - r.start) / 2);
          peer.send(FrameType.DATA, dataHead(want.request, r.start), newData.subarray(r.start, half));
          peer.send(FrameType.DONE, requestPayload(want.request));
        },
      },
      {
        label: 'DONE for a request never made',
        code: 'ERR_ZSYNC_PROTOCOL',
        async run(peer) {
          await greet(peer);
          const want = await nextWant(peer);
          peer.send(FrameType.DONE, requestPayload(want.request + 1));
        },
      },
      {
        label: 'an end of the connection in the middle of a DATA frame',
        code: 'ERR_ZSYNC_TRUNCATED_FRAME',
        async run(peer) {
          await greet(peer);
          const want = await nextWant(peer);
          const r = want.ranges[0]!;
          const whole = Buffer.concat(frame(FrameType.DATA, dataHead(want.request, r.start), newData.subarray(r.start, r.end)));
          peer.socket.end(whole.subarray(0, 30));
        },
      },
      {
        label: 'a reset of the connection in the middle of a DATA frame',
        code: 'ERR_ZSYNC_TRUNCATED_FRAME',
        async run(peer) {
          await greet(peer);
          const want = await nextWant(peer);
          const r = want.ranges[0]!;
          const whole = Buffer.concat(frame(FrameType.DATA, dataHead(want.request, r.start), newData.subarray(r.start, r.end)));
          await new Promise<void>((resolve) => peer.socket.write(whole.subarray(0, 30), () => resolve()));
          peer.socket.resetAndDestroy();
        },
      },
      {
        label: 'a reset of the connection between frames, with a request open',
        code: 'ERR_ZSYNC_PEER_CLOSED',
        async run(peer) {
          await greet(peer);
          await nextWant(peer);
          peer.socket.resetAndDestroy();
        },
      },
      {
        label: 'an end of the connection between frames, with a request open',
        code: 'ERR_ZSYNC_PEER_CLOSED',
        async run(peer) {
          await greet(peer);
          await nextWant(peer);
          peer.socket.end();
        },
      },
      {
        label: 'wrong bytes for every block, in every fetch round',
        code: 'ERR_ZSYNC_BLOCK_CHECKSUM',
        async run(peer) {
          await greet(peer);
          const rand = prng(77);
          for (;;) {
            const want = await nextWant(peer);
            for (const r of want.ranges) peer.send(FrameType.DATA, dataHead(want.request, r.start), seededBytes(rand, r.end - r.start));
            peer.send(FrameType.DONE, requestPayload(want.request));
          }
        },
      },
      {
        label: 'a fatal ERROR frame',
        code: 'ERR_ZSYNC_TEST_BOOM',
        async run(peer) {
          await greet(peer);
          await nextWant(peer);
          peer.send(FrameType.ERROR, errorPayload(0, 'ERR_ZSYNC_TEST_BOOM', 'the fake server gives up'));
        },
      },
      {
        label: 'a fatal ERROR frame instead of HELLO (a busy server)',
        code: 'ERR_ZSYNC_BUSY',
        async run(peer) {
          peer.send(FrameType.ERROR, errorPayload(0, 'ERR_ZSYNC_BUSY', 'too many clients'));
          peer.socket.end();
        },
      },
      {
        label: 'a malformed ERROR frame',
        code: 'ERR_ZSYNC_PROTOCOL',
        async run(peer) {
          await greet(peer);
          await nextWant(peer);
          peer.send(FrameType.ERROR, Buffer.from([0, 0, 0, 0, 200, 65]));
        },
      },
      {
        label: 'no answer to HELLO (helloTimeoutMs)',
        code: 'ERR_ZSYNC_TIMEOUT',
        async run(peer) {
          await peer.next(FrameType.HELLO);
        },
      },
      {
        label: 'HELLO answered, then silence: no CONTROL ever comes to a one-shot client (idleTimeoutMs)',
        code: 'ERR_ZSYNC_TIMEOUT',
        async run(peer) {
          await peer.next(FrameType.HELLO);
          peer.send(FrameType.HELLO, helloPayload());
        },
      },
      {
        label: 'the first piece of a CONTROL (last=0), then silence (idleTimeoutMs)',
        code: 'ERR_ZSYNC_TIMEOUT',
        async run(peer) {
          await peer.next(FrameType.HELLO);
          peer.send(FrameType.HELLO, helloPayload());
          peer.send(FrameType.CONTROL, controlHead(1, false), control.subarray(0, 100));
        },
      },
      {
        label: 'some DATA of a WANT, then silence (idleTimeoutMs)',
        code: 'ERR_ZSYNC_TIMEOUT',
        async run(peer) {
          await greet(peer);
          const want = await nextWant(peer);
          const r = want.ranges[0]!;
          peer.send(FrameType.DATA, dataHead(want.request, r.start), newData.subarray(r.start, r.start + Math.ceil((r.end - r.start) / 2)));
        },
      },
      {
        label: 'the 5-byte header of a frame of unknown type announcing 100 000 bytes (allowed), and no payload (the connection stays open)',
        code: 'ERR_ZSYNC_PROTOCOL',
        async run(peer) {
          await greet(peer);
          await nextWant(peer);
          const head = Buffer.alloc(5);
          head.writeUInt32BE(100_000, 0);
          head.writeUInt8(0x42, 4);
          peer.write(head);
        },
      },
      {
        label: 'a fatal ERROR (ERR_ZSYNC_FILE_CHANGED), then the end of the connection at once',
        code: 'ERR_ZSYNC_FILE_CHANGED',
        async run(peer) {
          await greet(peer);
          await nextWant(peer);
          peer.send(FrameType.ERROR, errorPayload(0, 'ERR_ZSYNC_FILE_CHANGED', 'the file changed on disk'));
          peer.socket.end();
        },
      },
      {
        label: 'every DATA of a WANT, a fatal ERROR (ERR_ZSYNC_FILE_CHANGED) instead of DONE, then the end of the connection at once (the frames still queued are read)',
        code: 'ERR_ZSYNC_FILE_CHANGED',
        async run(peer) {
          await greet(peer);
          const want = await nextWant(peer);
          for (const r of want.ranges) {
            for (let at = r.start; at < r.end; at += 1000) peer.send(FrameType.DATA, dataHead(want.request, at), newData.subarray(at, Math.min(r.end, at + 1000)));
          }
          peer.send(FrameType.ERROR, errorPayload(0, 'ERR_ZSYNC_FILE_CHANGED', 'the file changed on disk'));
          peer.socket.end();
        },
      },
    ];

    /** A raw TCP server that runs `script` on each connection. */
    async function fakeServer(script: (peer: Peer) => Promise<void>): Promise<{ port: number; peers: Peer[]; close(): Promise<void> }> {
      const peers: Peer[] = [];
      const net = createServer((s) => {
        const peer = new Peer(s);
        peers.push(peer);
        // A script stops where the client hangs up; that is the client's right.
        script(peer).catch(() => {});
      }).listen(0, '127.0.0.1');
      await once(net, 'listening');
      return {
        port: (net.address() as AddressInfo).port,
        peers,
        async close() {
          for (const p of peers) p.socket.destroy();
          await new Promise<void>((resolve) => net.close(() => resolve()));
        },
      };
    }

    for (const s of scripts) {
      for (const existing of [true, false]) {
        it(`${s.label}: ${s.code}; ${existing ? 'the existing OUTPUT is unchanged byte for byte' : 'no OUTPUT appears'}`, async () => {
          const fake = await fakeServer((peer) => s.run(peer));
          try {
            const output = join(dir, 'out.bin');
            if (existing) await checks.oldOutput(output);
            const stream = connect(fake.port, '127.0.0.1');
            const err = await rejection(syncOverStream(stream, clientOptions(output, { maxFrameBytes: 1 << 20 })));
            expect(err.code, err.message).to.equal(s.code);
            if (s.code === 'ERR_ZSYNC_TEST_BOOM') expect(err).to.be.instanceOf(PeerError).with.property('fatal', true);
            if (existing) await checks.expectUntouched(output);
            else expect(await exists(output), 'OUTPUT exists').to.equal(false);
            expect(await exists(join(dir, '.out.bin.zs-new')), 'the working file is removed').to.equal(false);
            // The client closed its end: the fake server's connection ends without its help.
            await fake.peers[0]!.closed;
            expect(stream.destroyed || stream.writableEnded, 'the client ended its stream').to.equal(true);
          } finally {
            await fake.close();
          }
        });
      }
    }

    it('an ERROR frame with terminal escape sequences and a code not of the ERR_ZSYNC_* shape: the client reports ERR_ZSYNC_PEER, and no control character reaches its message', async () => {
      const fake = await fakeServer(async (peer) => {
        await greet(peer);
        await nextWant(peer);
        peer.send(FrameType.ERROR, errorPayload(0, 'EVIL\x1b]0;owned\x07', '\x1b[31mred\x1b[0m\r\n$ fake prompt\x07\u009b2J\u2028done'));
      });
      try {
        const output = join(dir, 'out.bin');
        await checks.oldOutput(output);
        const err = await rejection(syncOverStream(connect(fake.port, '127.0.0.1'), clientOptions(output)));
        expect(err).to.be.instanceOf(PeerError);
        expect(err.code).to.equal('ERR_ZSYNC_PEER');
        // eslint-disable-next-line no-control-regex
        expect(err.message).to.not.match(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/);
        expect(err.message, 'the printable words are kept').to.include('red').and.to.include('fake prompt');
        await checks.expectUntouched(output);
      } finally {
        await fake.close();
      }
    });

    it('an abort (signal) while the server has not answered HELLO rejects with ERR_ZSYNC_ABORTED, not the HELLO timeout nor a closed connection', async () => {
      const fake = await fakeServer(async (peer) => {
        await peer.next(FrameType.HELLO);
      });
      try {
        const output = join(dir, 'out.bin');
        await checks.oldOutput(output);
        const controller = new AbortController();
        const done = rejection(syncOverStream(connect(fake.port, '127.0.0.1'), clientOptions(output, { signal: controller.signal, helloTimeoutMs: 5000 })));
        // Abort once the HELLO is out and unanswered.
        while (fake.peers[0]?.frames.length !== 1) await new Promise((resolve) => setTimeout(resolve, 5));
        controller.abort();
        const err = await done;
        expect(err.code, err.message).to.equal('ERR_ZSYNC_ABORTED');
        await checks.expectUntouched(output);
        await fake.peers[0]!.closed;
      } finally {
        await fake.close();
      }
    });
  });

  describe('a file that changes on disk under the server (before update() is called)', () => {
    /** The same length as newData, three blocks' worth changed; or a truncated copy. */
    const changes = [
      { label: 'rewritten in place, same length', data: (() => { const b = Buffer.from(newData); seededBytes(prng(9), 3000).copy(b, 100_000); return b; })() },
      { label: 'truncated', data: newData.subarray(0, 120_000) },
    ];

    it('a WANT for the previous version with a range past the end of the new, shorter version gets a per-request stale-version answer, not a fatal protocol error', async () => {
      const served = join(dir, 'served.bin');
      await writeFile(served, newData);
      const server = await startServer({ files: served });
      try {
        const peer = await connectPeer(server.port);
        const { version } = await handshake(peer);
        await writeFile(served, newData.subarray(0, 120_000));
        const next = await server.sync.update();
        expect(next).to.be.greaterThan(version);
        // The client has not read the new CONTROL yet: its WANT is for the version it knows, 200 000 bytes long.
        peer.send(FrameType.WANT, wantPayload(1, version, [{ start: 170_000, end: 176_000 }]));
        const answer = await peer.next(FrameType.CONTROL, FrameType.ERROR);
        const error = answer.type === FrameType.ERROR ? answer : await peer.next(FrameType.ERROR);
        const e = parseError(error.payload);
        expect({ request: e.request, code: e.code }, e.message).to.deep.equal({ request: 1, code: 'ERR_ZSYNC_STALE_VERSION' });
        peer.send(FrameType.WANT, wantPayload(2, next, [{ start: 0, end: 100 }]));
        let data: Frame;
        do data = await peer.next(FrameType.CONTROL, FrameType.DATA);
        while (data.type === FrameType.CONTROL);
        expect(parseData(data.payload).data.equals(newData.subarray(0, 100))).to.equal(true);
        peer.send(FrameType.BYE);
        expect(await peer.endCode()).to.equal(undefined);
        expect(server.errors).to.have.length(0);
      } finally {
        await server.close();
      }
    });

    it('a file truncated for a moment, then restored with the same bytes: a one-shot client told its version is stale is sent the current version again and completes', async () => {
      const served = join(dir, 'served.bin');
      await writeFile(served, newData);
      const server = await startServer({ files: served });
      const versions: number[] = [];
      server.sync.on('version', ({ version }: { version: number }) => versions.push(version));
      try {
        // Short on disk now: the client's WANT meets a file that no longer matches version 1.
        await writeFile(served, Buffer.alloc(0));
        const socket = connect(server.port, '127.0.0.1');
        await once(socket, 'connect');
        while (server.sockets.length < 1) await new Promise((resolve) => setTimeout(resolve, 2));
        // The bytes come back the moment the server writes its stale-version answer, before it
        // looks at the file again: it finds the content of version 1, so no new version is made.
        const serverSide = server.sockets[0]!;
        const write = serverSide.write.bind(serverSide) as (chunk: Buffer) => boolean;
        let stale = 0;
        serverSide.write = ((chunk: Buffer) => {
          if (chunk.includes('ERR_ZSYNC_STALE_VERSION') && stale++ === 0) writeFileSync(served, newData);
          return write(chunk);
        }) as typeof serverSide.write;
        const output = join(dir, 'out.bin');
        await checks.oldOutput(output);
        const result = await syncOverStream(socket, clientOptions(output));
        expect(stale, 'stale-version answers sent').to.equal(1);
        expect(result.version).to.equal(1);
        expect(versions, 'no new version was announced').to.deep.equal([]);
        await checks.expectNew(output);
        expect(server.errors).to.have.length(0);
      } finally {
        await server.close();
      }
    });

    for (const change of changes) {
      it(`(${change.label}) is never served as its old version: the old version's WANT gets DATA of the old bytes only, then a stale-version ERROR and the new CONTROL`, async () => {
        const served = join(dir, 'served.bin');
        await writeFile(served, newData);
        const server = await startServer({ files: served, chunkBytes: 4096, maxBytes: 8192 });
        try {
          const peer = await connectPeer(server.port);
          const { version } = await handshake(peer);
          await writeFile(served, change.data);
          peer.send(FrameType.WANT, wantPayload(1, version, [{ start: 0, end: newData.length }]));
          let end: Frame | undefined;
          for (;;) {
            const next = await peer.next(FrameType.DATA, FrameType.DONE, FrameType.ERROR);
            if (next.type !== FrameType.DATA) {
              end = next;
              break;
            }
            const d = parseData(next.payload);
            expect(d.data.equals(newData.subarray(d.offset, d.offset + d.data.length)), `DATA at ${d.offset} is the old version's bytes`).to.equal(true);
          }
          expect(end.type, 'the request ends with an ERROR').to.equal(FrameType.ERROR);
          expect(parseError(end.payload)).to.include({ request: 1, code: 'ERR_ZSYNC_STALE_VERSION' });
          // The server noticed and announces the new version by itself.
          const pieces: Buffer[] = [];
          let announced: number;
          for (;;) {
            const c = parseControl((await peer.next(FrameType.CONTROL)).payload);
            pieces.push(c.data);
            if (c.last) {
              announced = c.version;
              break;
            }
          }
          expect(announced).to.be.greaterThan(version);
          peer.send(FrameType.WANT, wantPayload(2, announced, [{ start: 0, end: change.data.length }]));
          const got: Buffer[] = [];
          for (;;) {
            const next = await peer.next(FrameType.DATA, FrameType.DONE);
            if (next.type === FrameType.DONE) break;
            got.push(parseData(next.payload).data);
          }
          expect(Buffer.concat(got).equals(change.data), 'the new version is served whole').to.equal(true);
          peer.send(FrameType.BYE);
          await peer.closed;
          expect(server.errors).to.have.length(0);
        } finally {
          await server.close();
        }
      });

      it(`(${change.label}) while clients sync: a one-shot client ends with a correct file of some version or a typed error, every follower reaches the version update() announces, never a corrupt OUTPUT`, async () => {
        const served = join(dir, 'served.bin');
        await writeFile(served, newData);
        const server = await startServer({ files: served, chunkBytes: 4096, maxBytes: 8192 });
        const byVersion = new Map<number, Buffer>([[1, newData]]);
        server.sync.on('version', ({ version }: { version: number }) => byVersion.set(version, change.data));
        let changed = false;
        const changeOnce = (): void => {
          if (changed) return;
          changed = true;
          // In place, under the server's feet (not atomically).
          writeFileSync(served, change.data);
        };
        try {
          const followers = new Map<string, { controller: AbortController; versions: number[]; reached?: () => void }>();
          const runs: Array<{ output: string; follow: boolean; done: Promise<SocketSyncResult | CodedError> }> = [];
          for (let i = 0; i < 6; i++) {
            const output = join(dir, `client-${i}.bin`);
            await checks.oldOutput(output);
            const follow = i % 2 === 1;
            const controller = new AbortController();
            const f = { controller, versions: [] as number[], reached: undefined as (() => void) | undefined };
            if (follow) followers.set(output, f);
            const options = clientOptions(output, {
              follow,
              signal: controller.signal,
              onProgress: (p) => {
                if (p.phase === 'fetch' && p.done > 0) changeOnce();
              },
              onSynced: (r) => {
                f.versions.push(r.version);
                f.reached?.();
              },
            });
            const done = syncOverStream(connect(server.port, '127.0.0.1'), options).catch((err: CodedError) => err);
            runs.push({ output, follow, done });
          }
          // Non-followers end by themselves.
          for (const r of runs.filter((x) => !x.follow)) {
            const result = await r.done;
            const content = await readFile(r.output);
            if (result instanceof Error) {
              expect(result.code, result.message).to.match(/^ERR_ZSYNC_/);
              await checks.expectUntouched(r.output);
            } else {
              expect(content.equals(byVersion.get(result.version)!), `OUTPUT is version ${result.version}, whole`).to.equal(true);
            }
          }
          changeOnce();
          // Now the server is told; every follower still connected must reach that version.
          const final = await server.sync.update();
          for (const r of runs.filter((x) => x.follow)) {
            const f = followers.get(r.output)!;
            const settled = await Promise.race([
              r.done.then(() => 'ended' as const),
              new Promise<'reached'>((resolve) => {
                if (f.versions.includes(final)) resolve('reached');
                f.reached = () => f.versions.includes(final) && resolve('reached');
              }),
            ]);
            f.controller.abort();
            const result = await r.done;
            const content = await readFile(r.output);
            // A follower is told of every version (a stale answer is always followed by one): it must get there.
            if (result instanceof Error) expect.fail(`a follower failed: ${result.code}: ${result.message}`);
            expect(settled, 'the follower reached the version announced by update()').to.equal('reached');
            expect(result.version).to.equal(final);
            expect(content.equals(change.data), 'OUTPUT is the new content').to.equal(true);
          }
          await expectServes(server, change.data);
        } finally {
          await server.close();
        }
      });
    }
  });

  describe("a follower's wait between versions, and a server that shuts down", () => {
    let served: string;
    let server: Running;
    beforeEach(async () => {
      served = join(dir, 'served.bin');
      await writeFile(served, newData);
      server = await startServer({ files: served });
    });
    afterEach(async () => {
      await server.close();
    });

    /** A follower of `server`, with the versions it has synced and a way to wait for one. */
    function follow(output: string, extra: SocketSyncOptions = {}): { done: Promise<SocketSyncResult>; versions: number[]; reached(version: number): Promise<void>; stop(): void } {
      const controller = new AbortController();
      const versions: number[] = [];
      let wake = (): void => {};
      const done = syncOverStream(connect(server.port, '127.0.0.1'), clientOptions(output, {
        follow: true,
        signal: controller.signal,
        onSynced: (r) => {
          versions.push(r.version);
          wake();
        },
        ...extra,
      }));
      done.catch(() => {});
      return {
        done,
        versions,
        async reached(version) {
          while (!versions.includes(version)) {
            await Promise.race([new Promise<void>((resolve) => (wake = resolve)), done.then(() => {
              throw new Error(`the follower ended before version ${version}`);
            })]);
          }
        },
        stop: () => controller.abort(),
      };
    }

    it('a follower that has synced is not timed out while the server is silent between versions (longer than idleTimeoutMs), and gets the next version pushed', async () => {
      const output = join(dir, 'follower.bin');
      await checks.oldOutput(output);
      const f = follow(output, { idleTimeoutMs: 150 });
      await f.reached(1);
      // Several idleTimeoutMs of silence: nothing is owed to a follower between versions.
      await new Promise((resolve) => setTimeout(resolve, 600));
      const v2 = Buffer.from(newData);
      v2.write('version two', 123_456);
      await writeFile(served, v2);
      expect(await server.sync.update()).to.equal(2);
      await f.reached(2);
      f.stop();
      const result = await f.done;
      expect(result.version).to.equal(2);
      await checks.expectNew(output, v2);
      expect(server.errors).to.have.length(0);
    });

    it('server.close() while a follower waits for versions: the follower rejects with ERR_ZSYNC_SERVER_CLOSING (it does not resolve as if the session had ended normally)', async () => {
      const output = join(dir, 'follower.bin');
      await checks.oldOutput(output);
      const f = follow(output);
      await f.reached(1);
      await server.sync.close();
      const err = await rejection(f.done);
      expect(err.code, err.message).to.equal('ERR_ZSYNC_SERVER_CLOSING');
      expect(err).to.be.instanceOf(PeerError);
      await checks.expectNew(output);
    });
  });
});
