/**
 * 20 seeded old/new pairs (1-8 MiB; inserts, deletes, overwrites) synced over
 * HTTP from a real nginx and from our own range server, through zsync() and
 * through the built CLI, each compared with the real zsync 0.6.2 client on the
 * same nginx and the same files. If this regressed, a sync would produce wrong
 * bytes against a real server, or fetch noticeably more than zsync does.
 */
import { expect } from 'chai';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRangeServer } from '../lib/transport/range-server.js';
import { zsync, type ZsyncResult } from '../lib/zsync.js';
import { startNginx, type Nginx } from './support/nginx.js';
import { cli, makePair, parseSummary, run, zsyncmake } from './support/sync-fixtures.js';
import { needTool } from './support/tools.js';

const MiB = 1 << 20;
/** Mostly 1-3 MiB (time), one of 5 MiB and one of 8 MiB. */
function sizeOf(i: number): number {
  if (i === 7) return 8 * MiB;
  if (i === 13) return 5 * MiB;
  return MiB + ((i * 2_654_435_761) % (2 * MiB));
}

interface Row {
  pair: number;
  size: number;
  zsync: number;
  oursNginx: number;
  oursWireNginx: number;
  oursOwn: number;
}

describe('sync over HTTP: 20 random pairs vs nginx, our server and zsync 0.6.2', function () {
  this.timeout(60_000);
  let dir: string;
  let root: string;
  let nginx: Nginx;
  let own: Server;
  let ownBase: string;
  let zsyncTool: string;
  let makeTool: string;
  const rows: Row[] = [];

  before(async function () {
    const nginxTool = needTool(this, 'nginx');
    zsyncTool = needTool(this, 'zsync');
    makeTool = needTool(this, 'zsyncmake');
    dir = await mkdtemp(join(tmpdir(), 'zs-interop-'));
    root = join(dir, 'www');
    await mkdir(root);
    nginx = await startNginx(nginxTool, root);
    own = createRangeServer({ root });
    await new Promise<void>((r) => own.listen(0, '127.0.0.1', r));
    ownBase = `http://127.0.0.1:${(own.address() as AddressInfo).port}`;
  });

  after(async () => {
    await nginx?.stop();
    if (own) {
      own.closeAllConnections();
      await new Promise((r) => own.close(r));
    }
    if (dir) await rm(dir, { recursive: true, force: true });
    if (rows.length > 0) {
      const worst = Math.max(...rows.map((r) => r.oursNginx / Math.max(1, r.zsync)));
      const total = rows.reduce((a, r) => ({ z: a.z + r.zsync, o: a.o + r.oursNginx, w: a.w + r.oursWireNginx }), { z: 0, o: 0, w: 0 });
      // eslint-disable-next-line no-console
      console.log(`      bytes fetched vs zsync 0.6.2 over ${rows.length} pairs: total ${(total.o / total.z).toFixed(4)}x (on the wire ${(total.w / total.z).toFixed(4)}x), worst pair ${worst.toFixed(4)}x`);
    }
  });

  it('syncs from an nginx with max_ranges 1 (200 to multi-range requests) by falling back to single ranges', async function () {
    const limited = await startNginx(needTool(this, 'nginx'), root, 'max_ranges 1;');
    const work = join(dir, 'limited');
    await mkdir(work);
    try {
      const pair = makePair(999, 2 * MiB);
      await writeFile(join(root, 'limited.bin'), pair.newData);
      await writeFile(join(work, 'old.bin'), pair.oldData);
      await zsyncmake(makeTool, join(root, 'limited.bin'), 'limited.bin', join(root, 'limited.bin.zsync'));
      const r = await zsync(limited.url('limited.bin.zsync'), { seeds: [join(work, 'old.bin')], output: join(work, 'out.bin') });
      expect((await readFile(join(work, 'out.bin'))).equals(pair.newData)).to.equal(true);
      expect(r.adaptations.join(' '), 'the fallback was taken').to.match(/200/);
      // Ranges, not the whole file: never more than the changed part plus a little.
      expect(r.bytesOnWire).to.be.below(2 * MiB - r.bytesReused + 64 * 1024);
    } finally {
      await limited.stop();
      await rm(work, { recursive: true, force: true });
    }
  });

  for (let i = 0; i < 20; i++) {
    const size = sizeOf(i);
    it(`pair ${i}: ${(size / MiB).toFixed(2)} MiB syncs byte-identically, fetching at most 1.05x what zsync fetches`, async () => {
      const pair = makePair(1000 + i, size);
      const name = `new-${i}.bin`;
      const work = join(dir, `pair-${i}`);
      await mkdir(work);
      const oldPath = join(work, 'old.bin');
      await writeFile(join(root, name), pair.newData);
      await writeFile(oldPath, pair.oldData);
      await zsyncmake(makeTool, join(root, name), name, join(root, `${name}.zsync`));

      // The reference: zsync 0.6.2 on the same nginx.
      const ref = await run(zsyncTool, ['-i', oldPath, '-o', join(work, 'zsync-out.bin'), nginx.url(`${name}.zsync`)], { cwd: work });
      expect(ref.code, ref.stderr).to.equal(0);
      const refSummary = parseSummary(ref.stdout);
      expect(refSummary, ref.stdout).to.not.equal(undefined);
      expect((await readFile(join(work, 'zsync-out.bin'))).equals(pair.newData)).to.equal(true);

      // Ours, by the API on one server and by the CLI on the other (alternating).
      const viaApi = async (url: string, out: string): Promise<ZsyncResult> => zsync(url, { seeds: [oldPath], output: out });
      const viaCli = async (url: string, out: string): Promise<ZsyncResult> => {
        const r = await cli(['sync', '--json', '-i', oldPath, '-o', out, url], { cwd: work });
        expect(r.code, r.stderr).to.equal(0);
        return JSON.parse(r.stdout) as ZsyncResult;
      };
      const onNginx = await (i % 2 === 0 ? viaApi : viaCli)(nginx.url(`${name}.zsync`), join(work, 'nginx-out.bin'));
      const onOwn = await (i % 2 === 0 ? viaCli : viaApi)(`${ownBase}/${name}.zsync`, join(work, 'own-out.bin'));
      for (const [what, result] of [['nginx', onNginx], ['own', onOwn]] as const) {
        expect((await readFile(join(work, `${what}-out.bin`))).equals(pair.newData), `${what}: ${pair.edits.join(', ')}`).to.equal(true);
        expect(result.ok).to.equal(true);
        expect(result.verified).to.include('SHA-1');
        expect(result.bytesReused + result.bytesFetched).to.be.at.least(size);
      }
      rows.push({ pair: i, size, zsync: refSummary!.fetched, oursNginx: onNginx.bytesFetched, oursWireNginx: onNginx.bytesOnWire, oursOwn: onOwn.bytesFetched });
      expect(onNginx.bytesFetched, `zsync fetched ${refSummary!.fetched}`).to.be.at.most(Math.ceil(refSummary!.fetched * 1.05));
      expect(onOwn.bytesFetched, `zsync fetched ${refSummary!.fetched}`).to.be.at.most(Math.ceil(refSummary!.fetched * 1.05));
      await rm(work, { recursive: true, force: true });
      await rm(join(root, name));
    });
  }
});
