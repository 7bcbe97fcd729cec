/**
 * The socket transport end to end over loopback `net` sockets: one server,
 * many clients, the push of a new version. If this regressed, clients on a
 * socket would get other bytes than clients over HTTP, the server would read
 * its file once per client instead of once, or followers would miss versions.
 */
import { expect } from 'chai';
import { createHash, randomBytes } from 'node:crypto';
import { once, setMaxListeners } from 'node:events';
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, connect, type AddressInfo, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import tls from 'node:tls';
import { join } from 'node:path';
import { createSyncServer, type SyncServer, type SyncServerOptions } from '../lib/socket/server.js';
import { syncOverStream, type SocketSyncOptions, type SocketSyncResult } from '../lib/socket/client.js';
import { createRangeServer } from '../lib/transport/range-server.js';
import { zsync } from '../lib/zsync.js';
import { zsyncmake } from '../lib/zsyncmake.js';
import { makePair, rejection } from './support/sync-fixtures.js';
import { makeTestCa } from './support/test-ca.js';

interface Running {
  sync: SyncServer;
  net: Server;
  port: number;
  close(): Promise<void>;
}

async function startSocketServer(options: SyncServerOptions): Promise<Running> {
  const sync = createSyncServer(options);
  await sync.ready;
  const net = createServer(sync.handle).listen(0, '127.0.0.1');
  await once(net, 'listening');
  return {
    sync,
    net,
    port: (net.address() as AddressInfo).port,
    async close() {
      await sync.close();
      await new Promise<void>((resolve) => net.close(() => resolve()));
    },
  };
}

function syncFrom(port: number, options: SocketSyncOptions): Promise<SocketSyncResult> {
  return syncOverStream(connect(port, '127.0.0.1'), options);
}

function sha1(data: Buffer): string {
  return createHash('sha1').update(data).digest('hex');
}

describe('sync over a socket', function () {
  this.timeout(60_000);
  let dir: string;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'zsync-socket-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  describe('gives the same result as HTTP for the same pair', () => {
    // Server chunkings that cut blocks and the control data in odd places.
    const chunkings = [
      { chunkBytes: 1000, controlPieceBytes: 97 },
      { chunkBytes: 4096, controlPieceBytes: 4096 },
      { chunkBytes: 65536, controlPieceBytes: 65536 },
    ];
    for (const [i, seed] of [101, 102, 103, 104, 105, 106].entries()) {
      const chunking = chunkings[i % chunkings.length]!;
      it(`pair ${seed} (chunks of ${chunking.chunkBytes}, control pieces of ${chunking.controlPieceBytes}): identical output, reuse and fetch counts`, async () => {
        const pair = makePair(seed, 300_000 + seed * 3001);
        const served = join(dir, 'new.bin');
        await writeFile(served, pair.newData);
        await writeFile(join(dir, 'viaSocket.bin'), pair.oldData);
        await writeFile(join(dir, 'viaHttp.bin'), pair.oldData);

        const server = await startSocketServer({ files: served, ...chunking });
        let socket: SocketSyncResult;
        try {
          socket = await syncFrom(server.port, { output: join(dir, 'viaSocket.bin') });
        } finally {
          await server.close();
        }

        await zsyncmake(served, { output: join(dir, 'new.bin.zsync'), urls: 'new.bin' });
        const http = createRangeServer({ root: dir }).listen(0, '127.0.0.1');
        await once(http, 'listening');
        let web;
        try {
          web = await zsync(`http://127.0.0.1:${(http.address() as AddressInfo).port}/new.bin.zsync`, { output: join(dir, 'viaHttp.bin') });
        } finally {
          http.close();
          http.closeAllConnections();
        }

        expect((await readFile(join(dir, 'viaSocket.bin'))).equals(pair.newData), 'socket output is the new file').to.equal(true);
        expect((await readFile(join(dir, 'viaHttp.bin'))).equals(pair.newData), 'HTTP output is the new file').to.equal(true);
        expect(socket.bytesReused).to.equal(web.bytesReused);
        expect(socket.bytesFetched).to.equal(web.bytesFetched);
        expect(socket.seeds.map((s) => s.blocks)).to.deep.equal(web.seeds.map((s) => s.blocks));
        expect(socket.verified).to.deep.equal(['SHA-1']);
        expect(socket.version).to.equal(1);
      });
    }
  });

  it('uses -i seeds, and fetches the whole file when there is no seed at all', async () => {
    const pair = makePair(7, 200_000);
    const served = join(dir, 'served.bin');
    await writeFile(served, pair.newData);
    await writeFile(join(dir, 'seed.bin'), pair.oldData);
    const server = await startSocketServer({ files: served });
    try {
      const seeded = await syncFrom(server.port, { output: join(dir, 'a.bin'), seeds: [join(dir, 'seed.bin')] });
      expect(seeded.bytesReused).to.be.greaterThan(0);
      expect(seeded.bytesReused + seeded.bytesFetched).to.equal(pair.newData.length);
      const bare = await syncFrom(server.port, { output: join(dir, 'b.bin') });
      expect(bare.bytesReused).to.equal(0);
      expect(bare.bytesFetched).to.equal(pair.newData.length);
    } finally {
      await server.close();
    }
    expect((await readFile(join(dir, 'a.bin'))).equals(pair.newData)).to.equal(true);
    expect((await readFile(join(dir, 'b.bin'))).equals(pair.newData)).to.equal(true);
  });

  it('serves several files by name, the first by default, and refuses a name it does not serve', async () => {
    const one = makePair(8, 50_000).newData;
    const two = makePair(9, 70_000).newData;
    await writeFile(join(dir, 'one.bin'), one);
    await writeFile(join(dir, 'two.bin'), two);
    const server = await startSocketServer({ files: { one: join(dir, 'one.bin'), two: join(dir, 'two.bin') } });
    try {
      await syncFrom(server.port, { output: join(dir, 'default.out') });
      await syncFrom(server.port, { name: 'two', output: join(dir, 'two.out') });
      const err = await rejection(syncFrom(server.port, { name: 'three', output: join(dir, 'three.out') }));
      expect(err.code).to.equal('ERR_ZSYNC_NO_SUCH_FILE');
    } finally {
      await server.close();
    }
    expect((await readFile(join(dir, 'default.out'))).equals(one)).to.equal(true);
    expect((await readFile(join(dir, 'two.out'))).equals(two)).to.equal(true);
  });

  it('serves two files of the same base name under the names given ({ one: a/x.bin, two: b/x.bin }), each its own bytes', async () => {
    const one = makePair(15, 50_000).newData;
    const two = makePair(16, 60_000).newData;
    await mkdir(join(dir, 'a'));
    await mkdir(join(dir, 'b'));
    await writeFile(join(dir, 'a', 'x.bin'), one);
    await writeFile(join(dir, 'b', 'x.bin'), two);
    const server = await startSocketServer({ files: { one: join(dir, 'a', 'x.bin'), two: join(dir, 'b', 'x.bin') } });
    try {
      expect(server.sync.names).to.deep.equal(['one', 'two']);
      await syncFrom(server.port, { name: 'one', output: join(dir, 'one.out') });
      await syncFrom(server.port, { name: 'two', output: join(dir, 'two.out') });
    } finally {
      await server.close();
    }
    expect((await readFile(join(dir, 'one.out'))).equals(one)).to.equal(true);
    expect((await readFile(join(dir, 'two.out'))).equals(two)).to.equal(true);
  });

  it('names the output after the control data\'s Filename when none is given', async () => {
    const data = makePair(10, 40_000).newData;
    await writeFile(join(dir, 'release.img'), data);
    const server = await startSocketServer({ files: join(dir, 'release.img') });
    const out = await mkdtemp(join(dir, 'client-'));
    try {
      const result = await syncFrom(server.port, { directory: out });
      expect(result.output).to.equal(join(out, 'release.img'));
    } finally {
      await server.close();
    }
    expect((await readFile(join(out, 'release.img'))).equals(data)).to.equal(true);
  });

  describe('20 clients with the same old copy, then a pushed update', () => {
    it('all end byte-identical, the file is read about once (for version 1, and again for version 2), and update() brings every follower to version 2', async () => {
      const CLIENTS = 20;
      const pair = makePair(31, 2_000_000);
      const v2 = Buffer.from(pair.newData);
      v2.write('version two, a small change', 1_234_567);
      const served = join(dir, 'served.bin');
      await writeFile(served, pair.newData);
      await writeFile(join(dir, 'old.bin'), pair.oldData);
      const server = await startSocketServer({ files: served });
      const stop = new AbortController();
      setMaxListeners(CLIENTS + 5, stop.signal); // one listener per client on the shared signal
      const seen: SocketSyncResult[][] = Array.from({ length: CLIENTS }, () => []);
      const reached = (version: number): Promise<void> =>
        new Promise((resolve) => {
          const check = (): void => {
            if (seen.every((list) => list.some((r) => r.version === version))) resolve();
            else setTimeout(check, 20);
          };
          check();
        });
      try {
        const outputs = Array.from({ length: CLIENTS }, (_, i) => join(dir, `client${i}.bin`));
        await Promise.all(outputs.map((o) => copyFile(join(dir, 'old.bin'), o)));
        const clients = outputs.map((output, i) =>
          syncFrom(server.port, { output, follow: true, signal: stop.signal, onSynced: (r) => seen[i]!.push(r) }),
        );
        await reached(1);
        for (const o of outputs) expect(sha1(await readFile(o)), o).to.equal(sha1(pair.newData));
        const fetched = seen.map((list) => list[0]!.bytesFetched);
        // Same old copy, same missing blocks: the union of what was asked is one client's ask.
        expect(new Set(fetched).size, 'every client fetched the same bytes').to.equal(1);
        const union = fetched[0]!;
        expect(union).to.be.greaterThan(0);
        const v1Stats = server.sync.stats;
        expect(v1Stats.bytesAsked).to.equal(union * CLIENTS);
        expect(v1Stats.bytesRead, 'bytes read from the file').to.be.at.most(1.1 * union);
        expect(v1Stats.peakClients).to.equal(CLIENTS);

        await writeFile(served, v2);
        expect(await server.sync.update()).to.equal(2);
        await reached(2);
        for (const o of outputs) expect(sha1(await readFile(o)), o).to.equal(sha1(v2));
        for (const list of seen) {
          const second = list.find((r) => r.version === 2)!;
          // The current output (version 1) was the seed: only the changed block came over.
          expect(second.bytesFetched).to.be.at.most(2 * 2048);
        }
        // Version 2 too is read about once for all 20 followers, not once each.
        const fetched2 = seen.map((list) => list.find((r) => r.version === 2)!.bytesFetched);
        expect(new Set(fetched2).size, 'every client fetched the same bytes of version 2').to.equal(1);
        const union2 = fetched2[0]!;
        expect(union2).to.be.greaterThan(0);
        const v2Stats = server.sync.stats;
        expect(v2Stats.bytesAsked - v1Stats.bytesAsked).to.equal(union2 * CLIENTS);
        expect(v2Stats.bytesRead - v1Stats.bytesRead, 'bytes read from the file for version 2').to.be.at.most(1.1 * union2);
        stop.abort();
        const results = await Promise.all(clients);
        expect(results.map((r) => r.version)).to.deep.equal(Array(CLIENTS).fill(2));
      } finally {
        stop.abort();
        await server.close();
      }
    });
  });

  it('update() of a file whose bytes did not change announces nothing (same version id)', async () => {
    const data = makePair(13, 50_000).newData;
    await writeFile(join(dir, 'same.bin'), data);
    const server = await startSocketServer({ files: join(dir, 'same.bin') });
    const versions: number[] = [];
    server.sync.on('version', ({ version }: { version: number }) => versions.push(version));
    try {
      await writeFile(join(dir, 'same.bin'), data); // rewritten, same bytes
      expect(await server.sync.update()).to.equal(1);
      expect(versions).to.deep.equal([]);
      const changed = Buffer.from(data);
      changed[0] = changed[0]! ^ 1;
      await writeFile(join(dir, 'same.bin'), changed);
      expect(await server.sync.update()).to.equal(2);
      expect(versions).to.deep.equal([2]);
    } finally {
      await server.close();
    }
  });

  it('runs over TLS as over plain TCP (any duplex stream will do)', async function () {
    const ca = await makeTestCa().catch(() => undefined);
    if (!ca) this.skip(); // openssl missing: the https tests say so too
    const pair = makePair(14, 250_000);
    await writeFile(join(dir, 'tls.bin'), pair.newData);
    await writeFile(join(dir, 'out.bin'), pair.oldData);
    const sync = createSyncServer({ files: join(dir, 'tls.bin') });
    await sync.ready;
    const server = tls.createServer({ key: ca!.key, cert: ca!.cert }, sync.handle).listen(0, '127.0.0.1');
    await once(server, 'listening');
    try {
      const socket = tls.connect({ port: (server.address() as AddressInfo).port, host: '127.0.0.1', ca: ca!.ca, servername: 'localhost' });
      const result = await syncOverStream(socket, { output: join(dir, 'out.bin') });
      expect(result.bytesReused).to.be.greaterThan(0);
    } finally {
      await sync.close();
      server.close();
      await ca!.remove();
    }
    expect((await readFile(join(dir, 'out.bin'))).equals(pair.newData)).to.equal(true);
  });

  describe('a client waiting while the server computes a version', () => {
    // A client that connects before the first checksums are done waits on the
    // server; only the PINGs tell it the server is alive and working.
    async function connectEarly(pingMs: number): Promise<SocketSyncResult> {
      const big = join(dir, 'big.bin');
      await writeFile(big, randomBytes(64 << 20));
      const sync = createSyncServer({ files: big, pingMs });
      const server = createServer(sync.handle).listen(0, '127.0.0.1');
      await once(server, 'listening');
      try {
        return await syncFrom((server.address() as AddressInfo).port, { output: join(dir, 'big.out'), idleTimeoutMs: 100 });
      } finally {
        await sync.close();
        server.close();
      }
    }

    it('is kept alive by PINGs (every pingMs) past its idleTimeoutMs, and completes', async () => {
      const result = await connectEarly(20);
      expect(result.bytesFetched).to.equal(64 << 20);
    });

    it('without PINGs in time it gives up with ERR_ZSYNC_TIMEOUT (so the test above can fail)', async () => {
      const err = await rejection(connectEarly(60_000));
      expect(err.code).to.equal('ERR_ZSYNC_TIMEOUT');
    });
  });

  it('a follower that aborts between versions resolves with its last result', async () => {
    const data = makePair(12, 60_000).newData;
    await writeFile(join(dir, 'f.bin'), data);
    const server = await startSocketServer({ files: join(dir, 'f.bin') });
    const stop = new AbortController();
    try {
      const result = await syncFrom(server.port, {
        output: join(dir, 'out.bin'),
        follow: true,
        signal: stop.signal,
        onSynced: () => setImmediate(() => stop.abort()),
      });
      expect(result.version).to.equal(1);
    } finally {
      await server.close();
    }
    expect((await readFile(join(dir, 'out.bin'))).equals(data)).to.equal(true);
  });
});
