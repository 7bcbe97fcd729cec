// Making .zsync files: byte-identical to the real zsyncmake 0.6.2 (through the
// built CLI, the zsyncmake() helper and the streams), readable by the real zsync
// client, and in bounded memory. If this breaks, files we publish could be
// refused or misread by the zsync clients people have installed.
import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { createCipheriv, createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, truncate, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';
import { ChecksumStream } from '../lib/engine/checksum-stream.js';
import { BlockIndex } from '../lib/engine/block-index.js';
import { BlockReader } from '../lib/engine/block-reader.js';
import { LocalPatcherStream } from '../lib/engine/local-patcher-stream.js';
import { MatcherStream } from '../lib/engine/matcher-stream.js';
import { MemoryFile } from '../lib/engine/positional.js';
import { RemotePatcherStream } from '../lib/engine/remote-patcher-stream.js';
import { ControlFileWriter } from '../lib/control-file/writer.js';
import { ZsyncMakeStream } from '../lib/control-file/make-stream.js';
import { SpillingSpool } from '../lib/control-file/spool.js';
import { parseControlFileBuffer } from '../lib/control-file/parser.js';
import { zsyncmake } from '../lib/zsyncmake.js';
import { needTool } from './support/tools.js';

const exec = promisify(execFile);
const CLI = new URL('../dist/cli.js', import.meta.url).pathname;
const MTIME = new Date('2025-06-07T08:09:10Z');

/** Deterministic pseudo-random bytes. */
function randomData(size: number, seed: string): Buffer {
  const cipher = createCipheriv('aes-256-ctr', createHash('sha256').update(seed).digest(), Buffer.alloc(16));
  return cipher.update(Buffer.alloc(size));
}

/** 300 KiB made of a few 2 KiB blocks over and over: many identical records. */
function repeatingData(): Buffer {
  const blocks = [randomData(2048, 'a'), randomData(2048, 'b'), Buffer.alloc(2048)];
  return Buffer.concat(Array.from({ length: 150 }, (_, i) => blocks[(i * 7) % 3]!));
}

interface Sample {
  name: string;
  data: Buffer;
}

const SAMPLES: Sample[] = [
  { name: 'empty.bin', data: Buffer.alloc(0) },
  { name: 'one.bin', data: Buffer.from([0x5a]) },
  { name: 'b2047.bin', data: randomData(2047, '2047') },
  { name: 'b2048.bin', data: randomData(2048, '2048') },
  { name: 'b2049.bin', data: randomData(2049, '2049') },
  { name: 'b150001.bin', data: randomData(150001, '150001') },
  { name: 'mib.bin', data: randomData(1 << 20, 'mib') },
  { name: 'repeat.bin', data: repeatingData() },
  { name: 'five.bin', data: randomData(5_000_000, 'five') },
];

describe('make: byte-identical to zsyncmake 0.6.2', function () {
  let zsyncmakeBin: string;
  let dir: string;

  before(async function () {
    zsyncmakeBin = needTool(this, 'zsyncmake');
    dir = await mkdtemp(join(tmpdir(), 'zsync-streams-make-'));
    await mkdir(join(dir, 'data'));
    for (const s of SAMPLES) {
      await writeFile(join(dir, 'data', s.name), s.data);
      await utimes(join(dir, 'data', s.name), MTIME, MTIME);
    }
  });

  after(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  /** zsyncmake's .zsync and ours for the same arguments, run from fresh folders under `dir`. */
  async function both(args: string[], out: string, ours: 'cli' | ((cwd: string) => Promise<void>) = 'cli'): Promise<{ ref: Buffer; mine: Buffer }> {
    const refDir = await mkdtemp(join(dir, 'ref-'));
    const ourDir = await mkdtemp(join(dir, 'our-'));
    await exec(zsyncmakeBin, args, { cwd: refDir });
    if (ours === 'cli') await exec(process.execPath, [CLI, 'make', ...args], { cwd: ourDir });
    else await ours(ourDir);
    return { ref: readFileSync(join(refDir, out)), mine: readFileSync(join(ourDir, out)) };
  }

  function expectSame({ ref, mine }: { ref: Buffer; mine: Buffer }): void {
    if (!mine.equals(ref)) {
      const at = ref.findIndex((b, i) => mine[i] !== b);
      throw new Error(`differs at byte ${at === -1 ? Math.min(ref.length, mine.length) : at}:\nzsyncmake: ${JSON.stringify(ref.subarray(0, 400).toString('latin1'))}\nours:      ${JSON.stringify(mine.subarray(0, 400).toString('latin1'))}`);
    }
  }

  describe('the CLI (node dist/cli.js make)', () => {
    for (const s of SAMPLES) {
      it(`${s.name} (${s.data.length} bytes), default options: same .zsync, same default name, URL and MTime`, async () => {
        const pair = await both([`../data/${s.name}`], `${s.name}.zsync`);
        expectSame(pair);
        expect(pair.ref.toString('latin1')).to.include(`URL: ../data/${s.name}\n`).and.include('MTime: Sat, 07 Jun 2025 08:09:10 +0000\n');
      });
    }

    for (const b of ['1024', '2048', '4096', '65536']) {
      for (const s of SAMPLES.filter((x) => ['one.bin', 'b2048.bin', 'b2049.bin', 'b150001.bin', 'mib.bin', 'repeat.bin'].includes(x.name))) {
        it(`-b ${b} on ${s.name}`, async () => {
          expectSame(await both(['-b', b, '-o', 'out.zsync', `../data/${s.name}`], 'out.zsync'));
        });
      }
    }

    it('-b 4096 with -u', async () => {
      for (const name of ['b2049.bin', 'mib.bin']) {
        expectSame(await both(['-b', '4096', '-u', 'http://example.com/f.bin', '-o', 'out.zsync', `../data/${name}`], 'out.zsync'));
      }
    });

    it('gzip input is described as it is, compressed: the same .zsync as zsyncmake -Z, with a note on stderr', async () => {
      const text = Buffer.from(Array.from({ length: 20000 }, (_, i) => `line ${i} of a compressed text\n`).join(''));
      const gz = join(dir, 'data', 'text.gz');
      await writeFile(gz, gzipSync(text, { level: 9 }));
      await utimes(gz, MTIME, MTIME);
      const refDir = await mkdtemp(join(dir, 'ref-'));
      await exec(zsyncmakeBin, ['-Z', '-o', 'out.zsync', '../data/text.gz'], { cwd: refDir });
      const { stderr } = await exec(process.execPath, [CLI, 'make', '-o', 'ours.zsync', '../data/text.gz'], { cwd: refDir });
      expectSame({ ref: readFileSync(join(refDir, 'out.zsync')), mine: readFileSync(join(refDir, 'ours.zsync')) });
      expect(stderr).to.match(/gzip data: .*zsyncmake -Z/);
      // Without -Z zsyncmake looks inside: Z-Map2 and the uncompressed length, which we do not write.
      await exec(zsyncmakeBin, ['-o', 'inside.zsync', '../data/text.gz'], { cwd: refDir });
      const inside = readFileSync(join(refDir, 'inside.zsync')).toString('latin1');
      expect(inside).to.include(`Length: ${text.length}\n`).and.match(/\nZ-Map2: \d+\n/);
      expect(readFileSync(join(refDir, 'ours.zsync')).toString('latin1')).to.not.include('Z-Map2');
      // A plain file gets no such note.
      const plain = await exec(process.execPath, [CLI, 'make', '-u', 'x', '-o', 'plain.zsync', '../data/b2049.bin'], { cwd: refDir });
      expect(plain.stderr).to.equal('');
    });

    it('-u absolute URL, given twice (two URL lines, in order)', async () => {
      const pair = await both(['-u', 'http://example.com/x/f.bin', '-u', 'https://mirror.example/f.bin', '-o', 'out.zsync', '../data/b150001.bin'], 'out.zsync');
      expectSame(pair);
      expect(pair.mine.toString('latin1')).to.include('URL: http://example.com/x/f.bin\nURL: https://mirror.example/f.bin\n');
    });

    it('-f NAME sets Filename and the default output NAME.zsync', async () => {
      expectSame(await both(['-f', 'renamed.iso', '-u', 'renamed.iso', '../data/mib.bin'], 'renamed.iso.zsync'));
    });

    it('options after FILE work as before it', async () => {
      const refDir = await mkdtemp(join(dir, 'ref-'));
      await exec(zsyncmakeBin, ['-b', '1024', '-u', 'u', '-o', 'out.zsync', '../data/b150001.bin'], { cwd: refDir });
      await exec(process.execPath, [CLI, 'make', '../data/b150001.bin', '-o', 'ours.zsync', '-b', '1024', '-u', 'u'], { cwd: refDir });
      expectSame({ ref: readFileSync(join(refDir, 'out.zsync')), mine: readFileSync(join(refDir, 'ours.zsync')) });
    });

    it('refuses a block size that is not a power of two (exit 2) and a missing file (exit 1)', async () => {
      const bad = await exec(process.execPath, [CLI, 'make', '-b', '1000', 'x'], { cwd: dir }).then(() => null, (e: { code: number; stderr: string }) => e);
      expect(bad?.code).to.equal(2);
      expect(bad?.stderr).to.match(/power of two/);
      const missing = await exec(process.execPath, [CLI, 'make', 'no-such-file'], { cwd: dir }).then(() => null, (e: { code: number; stderr: string }) => e);
      expect(missing?.code).to.equal(1);
      expect(missing?.stderr).to.match(/no-such-file/);
      expect(await readdir(dir)).to.not.include('no-such-file.zsync');
      // The notes about the URL come only once the file has opened.
      expect(missing?.stderr).to.not.match(/No URL given/);
    });

    async function refused(args: string[]): Promise<{ code: number; stderr: string }> {
      const err = await exec(process.execPath, [CLI, 'make', ...args], { cwd: dir }).then(() => null, (e: { code: number; stderr: string }) => e);
      expect(err, `make ${args.join(' ')} should fail`).to.not.equal(null);
      return err!;
    }

    it('refuses -f or -o given twice, as zsyncmake does (exit 2), and writes nothing', async () => {
      for (const flag of ['-f', '-o']) {
        const err = await refused([flag, 'a.zsync', flag, 'b.zsync', 'data/one.bin']);
        expect(err.code).to.equal(2);
        expect(err.stderr).to.include(`specify ${flag} only once`);
      }
      const names = await readdir(dir);
      for (const name of ['a.zsync', 'b.zsync', 'one.bin.zsync']) expect(names).to.not.include(name);
    });

    it('refuses "-" (there is no stdin mode) with a pointer to ZsyncMakeStream, exit 2', async () => {
      const err = await refused(['-']);
      expect(err.code).to.equal(2);
      expect(err.stderr).to.match(/no stdin mode/).and.match(/ZsyncMakeStream/);
    });

    it('refuses a header value with a line break before opening or hashing the file (exit 2)', async () => {
      // The file does not exist: the argument error comes first.
      const err = await refused(['-f', 'a\nSHA-1: forged', 'no-such-file']);
      expect(err.code).to.equal(2);
      expect(err.stderr).to.match(/line breaks/);
      expect((await refused(['-u', 'http://h/a\r', 'no-such-file'])).code).to.equal(2);
    });
  });

  describe('the zsyncmake() helper', () => {
    for (const s of SAMPLES) {
      it(`${s.name}: default, and -b 1024, 2048, 4096 and 65536 with -u`, async () => {
        const path = join(dir, 'data', s.name);
        expectSame(await both([path], `${s.name}.zsync`, (cwd) => zsyncmake(path, { output: join(cwd, `${s.name}.zsync`) }).then(() => {})));
        for (const b of [1024, 2048, 4096, 65536]) {
          const args = ['-b', String(b), '-u', 'http://h/f', '-o', 'o.zsync', path];
          expectSame(await both(args, 'o.zsync', (cwd) => zsyncmake(path, { blockSize: b, urls: 'http://h/f', output: join(cwd, 'o.zsync') }).then(() => {})));
        }
      });
    }

    it('a sparse file of 100,000,000 bytes: zsyncmake\'s 4096-byte blocks from that length on', async () => {
      const path = join(dir, 'data', 'sparse.bin');
      await writeFile(path, '');
      await truncate(path, 100_000_000);
      await utimes(path, MTIME, MTIME);
      const pair = await both(['-u', 'sparse.bin', '-o', 'o.zsync', path], 'o.zsync', (cwd) => zsyncmake(path, { urls: ['sparse.bin'], output: join(cwd, 'o.zsync') }).then(() => {}));
      expectSame(pair);
      expect(pair.mine.toString('latin1')).to.include('Blocksize: 4096\n');
    });
  });

  describe('the streams', () => {
    it('ZsyncMakeStream over a pipe equals zsyncmake reading stdin (2048-byte blocks, no MTime)', async () => {
      const data = SAMPLES.find((s) => s.name === 'mib.bin')!.data;
      const refDir = await mkdtemp(join(dir, 'ref-'));
      await new Promise<void>((resolve, reject) => {
        const child = execFile(zsyncmakeBin, ['-f', 'piped.bin', '-u', 'http://h/piped.bin', '-o', 'out.zsync'], { cwd: refDir }, (err) => (err ? reject(err) : resolve()));
        child.stdin!.end(data);
      });
      const chunks: Buffer[] = [];
      const slices = Array.from({ length: Math.ceil(data.length / 4321) }, (_, i) => data.subarray(i * 4321, i * 4321 + 4321));
      await pipeline(Readable.from(slices), new ZsyncMakeStream({ filename: 'piped.bin', urls: ['http://h/piped.bin'] }), new Writable({ write(c: Buffer, _e, cb) { chunks.push(c); cb(); } }));
      expectSame({ ref: readFileSync(join(refDir, 'out.zsync')), mine: Buffer.concat(chunks) });
    });

    it('ChecksumStream -> ControlFileWriter, its records spilled to a temp file, equals zsyncmake; the temp file is removed', async () => {
      const s = SAMPLES.find((x) => x.name === 'five.bin')!;
      // A private folder for the spool, so other tests' spools do not show here.
      const tmpDir = await mkdtemp(join(dir, 'spool-'));
      const spool = new SpillingSpool({ maxMemoryBytes: 16 << 10, tmpDir }); // under one page of records
      const chunks: Buffer[] = [];
      const writer = new ControlFileWriter({ filename: s.name, mtime: MTIME, urls: ['f'], spool });
      await pipeline(Readable.from([s.data]), new ChecksumStream({ blockSize: 2048 }), writer, new Writable({ write(c: Buffer, _e, cb) { chunks.push(c); cb(); } }));
      expect(spool.spilled).to.equal(true);
      expect(await readdir(tmpDir)).to.deep.equal([]);
      const refDir = await mkdtemp(join(dir, 'ref-'));
      await exec(zsyncmakeBin, ['-u', 'f', '-o', 'out.zsync', join(dir, 'data', s.name)], { cwd: refDir });
      expectSame({ ref: readFileSync(join(refDir, 'out.zsync')), mine: Buffer.concat(chunks) });
    });

    it('ZsyncMakeStream at 64-byte blocks: the records go to a temp file while held memory stays within maxMemoryBytes', async () => {
      const data = randomData(4 << 20, 'spill'); // 65536 records, 20 bytes each untruncated: 1.25 MiB
      const tmpDir = await mkdtemp(join(dir, 'spool-'));
      const spool = new SpillingSpool({ maxMemoryBytes: 200 << 10, tmpDir });
      let sawFile = false;
      let outBytes = 0;
      const slices = Array.from({ length: 64 }, (_, i) => data.subarray(i << 16, (i + 1) << 16));
      await pipeline(Readable.from(slices), new ZsyncMakeStream({ blockSize: 64, spool }), new Writable({
        write(c: Buffer, _e, cb) {
          outBytes += c.length;
          readdir(tmpDir).then((names) => { sawFile ||= names.length > 0; cb(); }, cb);
        },
      }));
      expect(spool.spilled).to.equal(true);
      expect(sawFile, 'a spool folder existed while the records were read out').to.equal(true);
      expect(spool.size).to.equal(65536 * 20);
      expect(spool.peakMemoryBytes).to.be.above(0).and.at.most(200 << 10);
      expect(outBytes).to.be.above(65536 * 4);
      expect(await readdir(tmpDir)).to.deep.equal([]);
    });
  });
});

describe('make: the real zsync client and our client read each other\'s files', function () {
  let dir: string;
  const target = randomData(300_000, 'interop');

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'zsync-streams-interop-'));
    await writeFile(join(dir, 'target.bin'), target);
  });

  after(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  /**
   * zsync 0.6.2 on a local .zsync with the whole target as seed: it needs no
   * HTTP (no block is missing), so this tests its parser and its checks.
   */
  async function realZsync(zsync: string, controlFile: string): Promise<{ code: number; stderr: string; out: Buffer | undefined }> {
    const out = join(dir, 'out.bin');
    await rm(out, { force: true });
    const result = await exec(zsync, ['-q', '-i', join(dir, 'target.bin'), '-o', out, '-u', 'http://127.0.0.1:9/x/t.zsync', controlFile], { cwd: dir })
      .then(() => ({ code: 0, stderr: '' }), (e: { code: number; stderr: string }) => ({ code: e.code, stderr: e.stderr }));
    return { ...result, out: existsSync(out) ? readFileSync(out) : undefined };
  }

  it('zsync 0.6.2 accepts our --sha256 file (Safe: File-Hash, File-Hash: SHA-256) and checks its SHA-1', async function () {
    const zsync = needTool(this, 'zsync');
    await exec(process.execPath, [CLI, 'make', '--sha256', '-u', 'target.bin', '-o', 'sha256.zsync', 'target.bin'], { cwd: dir });
    const text = readFileSync(join(dir, 'sha256.zsync')).toString('latin1');
    expect(text).to.match(/^zsync: 0\.6\.2\nSafe: File-Hash\n/);
    expect(text).to.include(`File-Hash: SHA-256:${createHash('sha256').update(target).digest('hex')}\n`);
    const run = await realZsync(zsync, join(dir, 'sha256.zsync'));
    expect(run.code, run.stderr).to.equal(0);
    expect(run.out!.equals(target)).to.equal(true);
    // And our parser takes both hashes from it.
    const cf = parseControlFileBuffer(readFileSync(join(dir, 'sha256.zsync')));
    expect(Object.keys(cf.checksums.fileHashes).sort()).to.deep.equal(['sha1', 'sha256']);

    // It checks the SHA-1: the same file with a wrong SHA-1 line fails (exit 2,
    // the result left as .part) although every block came from the seed...
    const flip = (hex: string): string => (hex[0] === '0' ? '1' : '0') + hex.slice(1);
    const badSha1 = text.replace(/^SHA-1: ([0-9a-f]{40})$/m, (_m, h: string) => `SHA-1: ${flip(h)}`);
    expect(badSha1).to.not.equal(text);
    await writeFile(join(dir, 'bad-sha1.zsync'), badSha1, 'latin1');
    const refused = await realZsync(zsync, join(dir, 'bad-sha1.zsync'));
    expect(refused.code, refused.stderr).to.equal(2);
    expect(refused.out).to.equal(undefined);
    // ...while a wrong File-Hash goes unnoticed: 0.6.2 skips it (Safe), so only newer clients check it.
    const badSha256 = text.replace(/^File-Hash: SHA-256:([0-9a-f]{64})$/m, (_m, h: string) => `File-Hash: SHA-256:${flip(h)}`);
    expect(badSha256).to.not.equal(text);
    await writeFile(join(dir, 'bad-sha256.zsync'), badSha256, 'latin1');
    const accepted = await realZsync(zsync, join(dir, 'bad-sha256.zsync'));
    expect(accepted.code, accepted.stderr).to.equal(0);
    expect(accepted.out!.equals(target)).to.equal(true);
  });

  it('-s SHA-224 writes the v0.8 form: zsync 0.6.2 refuses it, as the CLI warns; our client rebuilds from it', async function () {
    const zsync = needTool(this, 'zsync');
    const { stderr } = await exec(process.execPath, [CLI, 'make', '-s', 'SHA-224', '-u', 'target.bin', '-o', 'sha224.zsync', 'target.bin'], { cwd: dir });
    expect(stderr).to.match(/only zsync 0\.7 and later/);
    const run = await realZsync(zsync, join(dir, 'sha224.zsync'));
    expect(run.code).to.equal(1);
    expect(run.stderr).to.match(/unrecognised tag Strong-Hash-Algorithm/);
    const cf = parseControlFileBuffer(readFileSync(join(dir, 'sha224.zsync')));
    expect(cf.header).to.include({ strongAlgorithm: 'SHA-224' });
    expect((await rebuild(cf.checksums.params, cf, editedCopy(target))).equals(target)).to.equal(true);
  });

  it('our matcher and patchers rebuild a file from zsyncmake\'s own .zsync', async function () {
    const zsyncmakeBin = needTool(this, 'zsyncmake');
    await exec(zsyncmakeBin, ['-u', 'target.bin', '-o', 'ref.zsync', 'target.bin'], { cwd: dir });
    const cf = parseControlFileBuffer(readFileSync(join(dir, 'ref.zsync')));
    const data = await rebuild(cf.checksums.params, cf, editedCopy(target));
    expect(createHash('sha1').update(data).digest('hex')).to.equal(cf.checksums.fileHashes.sha1);
  });

  function editedCopy(data: Buffer): Buffer {
    return Buffer.concat([data.subarray(0, 1000), Buffer.from('inserted'), data.subarray(1000, 200_000), data.subarray(203_000)]);
  }

  async function rebuild(params: ReturnType<typeof parseControlFileBuffer>['checksums']['params'], cf: ReturnType<typeof parseControlFileBuffer>, seed: Buffer): Promise<Buffer> {
    const matcher = new MatcherStream(new BlockIndex(cf.checksums));
    const out = new MemoryFile();
    await pipeline(Readable.from([seed]), matcher, new LocalPatcherStream(out, params));
    await pipeline(new BlockReader(new MemoryFile(target), params, { ranges: matcher.missingRanges() }), new RemotePatcherStream(matcher.state, out));
    return Buffer.from(out.toBuffer().subarray(0, params.length));
  }
});

describe('make: memory stays flat for any file size', () => {
  // If the writer kept every record in memory (or the whole input), RSS would
  // grow with the file. At 64-byte blocks the records dominate: 128 MiB makes
  // 2M records, 40 MB if they were all kept untruncated (4 + 16 bytes), against
  // 5 MB for 16 MiB; here they spill to a temp file above 64 KiB. Each size runs
  // in a fresh process of the built package, so what the rest of the suite left
  // in this process's heap does not blur the measure; the young generation is
  // fixed at its largest size and garbage (a digest per block) is collected
  // every 4 MiB, so that RSS follows what is held, not when V8 collects.
  const CHILD = `
    import { Readable, Writable } from 'node:stream';
    import { pipeline } from 'node:stream/promises';
    import { createCipheriv } from 'node:crypto';
    const { ZsyncMakeStream } = await import(process.env.DIST);
    const mib = Number(process.env.MIB);
    const cipher = createCipheriv('aes-128-ctr', Buffer.alloc(16, 7), Buffer.alloc(16));
    let sent = 0;
    let outBytes = 0;
    const source = new Readable({
      read() {
        if (sent % 4 === 0) globalThis.gc();
        if (sent++ === mib) this.push(null);
        else this.push(cipher.update(Buffer.alloc(1 << 20)));
      },
    });
    await pipeline(source, new ZsyncMakeStream({ blockSize: 64, maxBufferedBytes: Number(process.env.MAX_BUFFERED) }), new Writable({
      write(c, _e, cb) { outBytes += c.length; cb(); },
    }));
    process.stdout.write(JSON.stringify({ maxRss: process.resourceUsage().maxRSS * 1024, outBytes }));
  `;

  /** Set MAX_BUFFERED to 1e9 to see this test fail: the records then stay in memory. */
  const MAX_BUFFERED = 64 << 10;

  async function makeGenerated(mib: number): Promise<{ maxRss: number; outBytes: number }> {
    const dist = new URL('../dist/index.js', import.meta.url).href;
    const flags = ['--expose-gc', '--min-semi-space-size=16', '--max-semi-space-size=16'];
    const { stdout } = await promisify(execFile)(process.execPath, [...flags, '--input-type=module', '-e', CHILD], {
      env: { ...process.env, DIST: dist, MIB: String(mib), MAX_BUFFERED: String(MAX_BUFFERED) },
    });
    return JSON.parse(stdout) as { maxRss: number; outBytes: number };
  }

  it('128 MiB generated on the fly through ZsyncMakeStream at 64-byte blocks: peak RSS at most 16 MB above a 16 MiB run\'s', async function () {
    this.timeout(120_000);
    const small = await makeGenerated(16);
    const big = await makeGenerated(128);
    // 2097152 records of 2+6 bytes after the header.
    expect(big.outBytes).to.be.above(2097152 * 8);
    expect(big.maxRss - small.maxRss, `peak RSS ${(big.maxRss / 1e6).toFixed(1)} MB, for 16 MiB ${(small.maxRss / 1e6).toFixed(1)} MB`).to.be.below(16e6);
  });
});
