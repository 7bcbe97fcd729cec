// The control-file parser: what it accepts (every generation's files, in any
// chunking) and what it refuses, each refusal a typed error with its code and
// the offending line or byte offset. If these break, a bad or hostile .zsync
// could crash the client, make it allocate without bound, or build a wrong file.
import { expect } from 'chai';
import fc from 'fast-check';
import { readFileSync } from 'node:fs';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { ZsyncError } from '../lib/errors.js';
import { ControlFileError } from '../lib/control-file/errors.js';
import { formatHeader, formatMTime, parseMTime } from '../lib/control-file/header.js';
import { ControlFileParser, parseControlFileBuffer, type ControlFile, type ControlFileParserOptions } from '../lib/control-file/parser.js';
import { ControlFileParserStream, parseControlFile } from '../lib/control-file/parse-stream.js';

const FIXTURES = new URL('./fixtures/upstream/', import.meta.url);
const fixture = (name: string): Buffer => readFileSync(new URL(name, FIXTURES));
const V062 = fixture('target.zsync-0.6.2.zsync');
// A .tar.gz's file, made here by the real zsyncmake 0.6.2 (see its README).
const TAR_GZ = readFileSync(new URL('./fixtures/zsyncmake-0.6.2/archive.tar.gz-0.6.2.zsync', import.meta.url));

/** Splits a control file into its header text (without the empty line) and its record bytes. */
function split(file: Buffer): { lines: string[]; records: Buffer } {
  const end = file.indexOf('\n\n');
  return { lines: file.subarray(0, end).toString('utf8').split('\n'), records: file.subarray(end + 2) };
}

/** The 0.6.2 fixture with its header lines edited. */
function edited(edit: (lines: string[]) => string[], records?: Buffer): Buffer {
  const parts = split(V062);
  return Buffer.concat([Buffer.from(edit(parts.lines).join('\n') + '\n\n'), records ?? parts.records]);
}

function refusal(data: Uint8Array, options: ControlFileParserOptions = {}): ZsyncError {
  try {
    parseControlFileBuffer(data, options);
  } catch (err) {
    expect(err).to.be.instanceOf(ZsyncError);
    return err as ZsyncError;
  }
  throw new Error('expected the control file to be refused');
}

function expectRefused(data: Uint8Array, code: string, where: { line?: number; offset?: number } = {}): ZsyncError {
  const err = refusal(data);
  expect(err.code, err.message).to.equal(code);
  if (where.line !== undefined) expect(err).to.have.property('line', where.line);
  if (where.offset !== undefined) expect(err).to.have.property('offset', where.offset);
  return err;
}

const replaceLine = (name: string, value: string | null) => (lines: string[]): string[] =>
  lines.flatMap((l) => (l.startsWith(`${name}: `) ? (value === null ? [] : [`${name}: ${value}`]) : [l]));
const insertAfter = (name: string, ...added: string[]) => (lines: string[]): string[] =>
  lines.flatMap((l) => (l.startsWith(`${name}: `) ? [l, ...added] : [l]));

function comparable(cf: ControlFile): unknown {
  return { header: cf.header, params: cf.checksums.params, weak: [...cf.checksums.weak], strong: Buffer.from(cf.checksums.strong).toString('hex'), hashes: cf.checksums.fileHashes };
}

describe('control file parser', () => {
  describe('reads every generation', () => {
    it('0.6.2: header fields and 74 records of 2+4 bytes', () => {
      const { header, checksums } = parseControlFileBuffer(V062);
      expect(header).to.include({ version: '0.6.2', filename: 'target.bin', blockSize: 2048, length: 150001, seqMatches: 2, weakBytes: 2, strongBytes: 4, strongAlgorithm: 'MD4' });
      expect(header.mtime!.toISOString()).to.equal('2026-01-02T03:04:05.000Z');
      expect(header.urls).to.deep.equal(['target.bin']);
      expect(checksums.blockCount).to.equal(74);
      expect(checksums.fileHashes).to.deep.equal({ sha1: '0c1856e445c0ad9f931f6a7d9f92e2097efa4299' });
    });

    it('0.6.5: Hash-Lengths 1,3,6', () => {
      const { header } = parseControlFileBuffer(fixture('target.zsync-0.6.5.zsync'));
      expect(header).to.include({ version: '0.6.5', seqMatches: 1, weakBytes: 3, strongBytes: 6 });
    });

    it('Go MD4: File-Hash SHA-256 in place of SHA-1, Safe with commas', () => {
      const { header, checksums } = parseControlFileBuffer(fixture('target.zsync-go-md4.zsync'));
      expect(header.safe).to.deep.equal(['File-Hash', 'Strong-Hash-Algorithm']);
      expect(header.sha1).to.equal(undefined);
      expect(checksums.fileHashes).to.deep.equal({ sha256: 'e3bdcff45ccc33813e85e3b3a38924c01909a93173ae54f368717fcdbde1052c' });
    });

    it('Go MD5 and SHA-224: Strong-Hash-Algorithm after Hash-Lengths, up to 28-byte strong sums', () => {
      expect(parseControlFileBuffer(fixture('target.zsync-go-md5.zsync')).header).to.include({ strongAlgorithm: 'MD5', strongBytes: 16 });
      const sha224 = parseControlFileBuffer(fixture('target.zsync-go-sha224.zsync'));
      expect(sha224.header).to.include({ strongAlgorithm: 'SHA-224', strongBytes: 28 });
      expect(sha224.checksums.strong.length).to.equal(74 * 28);
    });

    it('gzip-era 0.6.2: skips the 113 Z-Map2 entries and the junk record after the real ones', () => {
      const { header, checksums } = parseControlFileBuffer(fixture('text.txt.gz-0.6.2.zsync'));
      expect(header).to.include({ zMapEntries: 113, zFilename: 'text.txt.gz', length: 228000 });
      expect(header.safe).to.deep.equal(['Z-Filename', 'Recompress', 'MTime']);
      expect(header.urls).to.deep.equal(['text.txt']);
      expect(header.zUrls).to.deep.equal(['text.txt.gz']);
      expect(checksums.blockCount).to.equal(112);
    });

    it('a missing Hash-Lengths means the spec defaults: 1 match, 4 rsum bytes, the whole digest', () => {
      const go = fixture('target.zsync-go-md4.zsync'); // written with 1,4,16: the defaults
      const { lines, records } = split(go);
      const cf = parseControlFileBuffer(Buffer.concat([Buffer.from(lines.filter((l) => !l.startsWith('Hash-Lengths')).join('\n') + '\n\n'), records]));
      expect(cf.header).to.include({ seqMatches: 1, weakBytes: 4, strongBytes: 16, hashLengthsGiven: false });
      expect([...cf.checksums.weak]).to.deep.equal([...parseControlFileBuffer(go).checksums.weak]);
    });

    it('several URL lines, kept in order', () => {
      const cf = parseControlFileBuffer(edited(insertAfter('URL', 'URL: http://mirror.example/target.bin', 'URL: ../b/target.bin')));
      expect(cf.header.urls).to.deep.equal(['target.bin', 'http://mirror.example/target.bin', '../b/target.bin']);
    });

    it('an empty target (Length: 0, as zsyncmake writes it) has no records', () => {
      const file = formatHeader({ blockSize: 2048, length: 0, seqMatches: 1, weakBytes: 2, strongBytes: 3, urls: ['e'], sha1: 'da39a3ee5e6b4b0d3255bfef95601890afd80709' });
      const cf = parseControlFileBuffer(Buffer.from(file));
      expect(cf.checksums.blockCount).to.equal(0);
    });

    it('lines ending in CR LF, as zsync 0.6.2 reads them', () => {
      const { lines, records } = split(V062);
      const crlf = Buffer.concat([Buffer.from(lines.join('\r\n') + '\r\n\r\n'), records]);
      expect(comparable(parseControlFileBuffer(crlf))).to.deep.equal(comparable(parseControlFileBuffer(V062)));
    });

    for (const name of ['target.zsync-0.6.2.zsync', 'target.zsync-go-sha224.zsync', 'text.txt.gz-0.6.2.zsync']) {
      it(`${name}: the same result whole, in 7-byte slices, one byte at a time, and through the stream`, async () => {
        const data = fixture(name);
        const whole = comparable(parseControlFileBuffer(data));
        for (const size of [7, 1]) {
          const parser = new ControlFileParser();
          for (let o = 0; o < data.length; o += size) parser.push(data.subarray(o, o + size));
          expect(comparable(parser.end())).to.deep.equal(whole);
        }
        const chunks = Array.from({ length: Math.ceil(data.length / 13) }, (_, i) => data.subarray(i * 13, i * 13 + 13));
        const stream = new ControlFileParserStream();
        let headerSeen = false;
        stream.on('header', () => (headerSeen = true));
        await pipeline(Readable.from(chunks), stream);
        expect(headerSeen).to.equal(true);
        expect(comparable(stream.result!)).to.deep.equal(whole);
        expect(comparable(await parseControlFile(Readable.from(chunks)))).to.deep.equal(whole);
      });
    }
  });

  describe('the version line', () => {
    it('must come first and be "zsync: <version>"', () => {
      expectRefused(Buffer.from('Filename: x\nzsync: 0.6.2\n\n'), 'ERR_ZSYNC_CONTROL_FILE_NOT_ZSYNC', { line: 1, offset: 0 });
      expectRefused(Buffer.from('zsync 0.6.2\nBlocksize: 2048\n\n'), 'ERR_ZSYNC_CONTROL_FILE_NOT_ZSYNC', { line: 1 });
      expectRefused(Buffer.from('<html>\n<body>Not Found</body>\n'), 'ERR_ZSYNC_CONTROL_FILE_NOT_ZSYNC', { line: 1 });
      expectRefused(Buffer.from('\n'), 'ERR_ZSYNC_CONTROL_FILE_NOT_ZSYNC', { line: 1 });
    });

    it('refuses the incompatible 0.0.4 format', () => {
      expectRefused(edited(replaceLine('zsync', '0.0.4')), 'ERR_ZSYNC_CONTROL_FILE_NOT_ZSYNC', { line: 1 });
    });

    it('refuses a second zsync: line', () => {
      expectRefused(edited(insertAfter('Length', 'zsync: 0.6.2')), 'ERR_ZSYNC_CONTROL_FILE_BAD_VALUE', { line: 6 });
    });
  });

  describe('header syntax', () => {
    it('a line without ": " is refused with its line number and offset', () => {
      const data = edited(insertAfter('Blocksize', 'Length:150001'));
      const offset = data.indexOf('Length:150001');
      expectRefused(data, 'ERR_ZSYNC_CONTROL_FILE_BAD_LINE', { line: 5, offset });
    });

    it('an empty value is a line without ": " (zsync drops trailing spaces first)', () => {
      expectRefused(edited(replaceLine('SHA-1', '')), 'ERR_ZSYNC_CONTROL_FILE_BAD_LINE', { line: 8 });
    });

    it('a repeated single-valued header is refused', () => {
      expectRefused(edited(insertAfter('Length', 'Length: 150001')), 'ERR_ZSYNC_CONTROL_FILE_BAD_VALUE', { line: 6 });
    });

    it('a file without Blocksize or Length is refused', () => {
      expectRefused(edited(replaceLine('Blocksize', null)), 'ERR_ZSYNC_CONTROL_FILE_MISSING_FIELD');
      expectRefused(edited(replaceLine('Length', null)), 'ERR_ZSYNC_CONTROL_FILE_MISSING_FIELD');
    });

    it('MTime must be an RFC 2822 date', () => {
      expectRefused(edited(replaceLine('MTime', 'yesterday')), 'ERR_ZSYNC_CONTROL_FILE_BAD_VALUE', { line: 3 });
      expectRefused(edited(replaceLine('MTime', 'Fri, 31 Feb 2026 03:04:05 +0000')), 'ERR_ZSYNC_CONTROL_FILE_BAD_VALUE', { line: 3 });
      expect(parseMTime('02 Jan 2026 04:04:05 +0100')!.toISOString()).to.equal('2026-01-02T03:04:05.000Z');
      expect(formatMTime(new Date('2026-03-06T04:05:09.999Z'))).to.equal('Fri, 06 Mar 2026 04:05:09 +0000');
    });
  });

  describe('Blocksize', () => {
    for (const bad of ['1000', '0', '8', String(2 ** 25), '2k', '-2048', '00000000000000002048000']) {
      it(`refuses ${JSON.stringify(bad)}: a power of two from 16 to 16 MiB`, () => {
        expectRefused(edited(replaceLine('Blocksize', bad)), 'ERR_ZSYNC_CONTROL_FILE_BAD_VALUE', { line: 4 });
      });
    }
  });

  describe('Length', () => {
    for (const bad of ['-1', '1e6', '0x100', '150001.0', '9007199254740993', '99999999999999999999']) {
      it(`refuses ${JSON.stringify(bad)}: a whole number below 2^53`, () => {
        expectRefused(edited(replaceLine('Length', bad)), 'ERR_ZSYNC_CONTROL_FILE_BAD_VALUE', { line: 5 });
      });
    }

    it('one record fewer than Length needs is TRUNCATED, at the byte where the data ended', () => {
      const short = V062.subarray(0, V062.length - 6);
      expectRefused(short, 'ERR_ZSYNC_CONTROL_FILE_TRUNCATED', { offset: short.length });
    });

    it('a Length one block longer than the records is TRUNCATED', () => {
      expectRefused(edited(replaceLine('Length', String(150001 + 2048))), 'ERR_ZSYNC_CONTROL_FILE_TRUNCATED');
    });

    it('a byte after the last record is TRAILING_DATA, at its offset', () => {
      expectRefused(Buffer.concat([V062, Buffer.from([0])]), 'ERR_ZSYNC_CONTROL_FILE_TRAILING_DATA', { offset: V062.length });
    });

    it('a Length one block shorter than the records is TRAILING_DATA', () => {
      expectRefused(edited(replaceLine('Length', String(150001 - 2048))), 'ERR_ZSYNC_CONTROL_FILE_TRAILING_DATA');
    });
  });

  describe('Hash-Lengths', () => {
    for (const bad of ['3,2,4', '0,2,4', '2,5,4', '2,0,4', '2,2,2', '2,2,17', '2,2', '2,2,4,1', 'a,b,c', ' 2,2,4', '2,2,-4']) {
      it(`refuses ${JSON.stringify(bad)} (seq 1-2, rsum 1-4, strong 3 to the digest's length)`, () => {
        expectRefused(edited(replaceLine('Hash-Lengths', bad)), 'ERR_ZSYNC_CONTROL_FILE_HASH_LENGTHS');
      });
    }

    it('allows 28 strong bytes only for SHA-224', () => {
      const sha224 = split(fixture('target.zsync-go-sha224.zsync'));
      const asMd5 = Buffer.concat([Buffer.from(sha224.lines.map((l) => l.replace('SHA-224', 'MD5')).join('\n') + '\n\n'), sha224.records]);
      expectRefused(asMd5, 'ERR_ZSYNC_CONTROL_FILE_HASH_LENGTHS');
    });
  });

  describe('whole-file hashes', () => {
    for (const bad of ['0c1856e445c0ad9f931f6a7d9f92e2097efa429', '0c1856e445c0ad9f931f6a7d9f92e2097efa42990', 'zc1856e445c0ad9f931f6a7d9f92e2097efa4299']) {
      it(`refuses SHA-1 ${JSON.stringify(bad.slice(0, 12))}… (${bad.length} characters): it must be 40 hex digits`, () => {
        expectRefused(edited(replaceLine('SHA-1', bad)), 'ERR_ZSYNC_CONTROL_FILE_BAD_HASH', { line: 8 });
      });
    }

    it('accepts an upper-case SHA-1 and keeps it lower-case', () => {
      const cf = parseControlFileBuffer(edited(replaceLine('SHA-1', '0C1856E445C0AD9F931F6A7D9F92E2097EFA4299')));
      expect(cf.checksums.fileHashes.sha1).to.equal('0c1856e445c0ad9f931f6a7d9f92e2097efa4299');
    });

    it('refuses a File-Hash whose digest does not fit its algorithm', () => {
      expectRefused(edited(insertAfter('SHA-1', 'Safe: X', `File-Hash: SHA-256:${'a'.repeat(40)}`)), 'ERR_ZSYNC_CONTROL_FILE_BAD_HASH', { line: 10 });
      expectRefused(edited(insertAfter('SHA-1', 'File-Hash: SHA-256')), 'ERR_ZSYNC_CONTROL_FILE_BAD_HASH');
    });

    it('refuses a File-Hash: SHA-1 that contradicts the SHA-1 line (HASH_CONFLICT), accepts one that agrees', () => {
      const sha1 = split(V062).lines.find((l) => l.startsWith('SHA-1: '))!.slice(7);
      const other = sha1.replace(/^./, (c) => (c === '0' ? '1' : '0'));
      expectRefused(edited(insertAfter('SHA-1', `File-Hash: SHA-1:${other}`)), 'ERR_ZSYNC_CONTROL_FILE_HASH_CONFLICT', { line: 9 });
      expectRefused(edited(insertAfter('zsync', 'Safe: File-Hash', `File-Hash: SHA-1:${other}`)), 'ERR_ZSYNC_CONTROL_FILE_HASH_CONFLICT', { line: 3 });
      const agreeing = parseControlFileBuffer(edited(insertAfter('SHA-1', `File-Hash: SHA-1:${sha1.toUpperCase()}`)));
      expect(agreeing.checksums.fileHashes).to.deep.equal({ sha1 });
    });

    it('keeps a File-Hash of an algorithm it cannot verify, and verifies by the SHA-1 beside it', () => {
      const cf = parseControlFileBuffer(edited(insertAfter('SHA-1', 'File-Hash: BLAKE3:abcdef')));
      expect(cf.header.fileHash).to.deep.equal({ algorithm: 'BLAKE3', digest: 'abcdef' });
      expect(cf.checksums.fileHashes).to.deep.equal({ sha1: '0c1856e445c0ad9f931f6a7d9f92e2097efa4299' });
    });
  });

  describe('unknown headers (zsync\'s rule: fatal unless named in an earlier Safe: line)', () => {
    it('an unknown header is refused, with its line', () => {
      expectRefused(edited(insertAfter('Length', 'X-Foo: bar')), 'ERR_ZSYNC_CONTROL_FILE_UNKNOWN_HEADER', { line: 6 });
    });

    it('names are case-sensitive: mtime: is unknown', () => {
      expectRefused(edited((l) => l.map((x) => x.replace(/^MTime/, 'mtime'))), 'ERR_ZSYNC_CONTROL_FILE_UNKNOWN_HEADER', { line: 3 });
    });

    it('is skipped when an earlier Safe: names it, space-separated (0.6.x) or comma-separated (Go)', () => {
      for (const safe of ['X-Foo', 'Recompress X-Foo', 'File-Hash,X-Foo', 'A, X-Foo']) {
        const cf = parseControlFileBuffer(edited(insertAfter('zsync', `Safe: ${safe}`, 'X-Foo: bar')));
        expect(cf.header.skipped).to.deep.equal([{ name: 'X-Foo', value: 'bar' }]);
      }
    });

    it('a Safe: line after the unknown header does not help', () => {
      expectRefused(edited(insertAfter('Length', 'X-Foo: bar', 'Safe: X-Foo')), 'ERR_ZSYNC_CONTROL_FILE_UNKNOWN_HEADER', { line: 6 });
    });

    it('Safe names whole headers, not substrings (X-Foobar does not cover X-Foo)', () => {
      expectRefused(edited(insertAfter('zsync', 'Safe: X-Foobar', 'X-Foo: bar')), 'ERR_ZSYNC_CONTROL_FILE_UNKNOWN_HEADER', { line: 3 });
    });

    it('an unknown Strong-Hash-Algorithm is UNSUPPORTED, even when Safe lists the header', () => {
      expectRefused(edited(insertAfter('zsync', 'Safe: Strong-Hash-Algorithm', 'Strong-Hash-Algorithm: BLAKE3')), 'ERR_ZSYNC_CONTROL_FILE_UNSUPPORTED', { line: 3 });
    });
  });

  describe('Min-Version', () => {
    it('accepts versions up to the Go 0.7.2 format', () => {
      for (const v of ['0.6', '0.6.2', '0.6.5', '0.7.2']) parseControlFileBuffer(edited(insertAfter('zsync', `Min-Version: ${v}`)));
    });

    it('refuses newer ones', () => {
      for (const v of ['0.7.3', '0.8', '1.0.0']) expectRefused(edited(insertAfter('zsync', `Min-Version: ${v}`)), 'ERR_ZSYNC_CONTROL_FILE_MIN_VERSION', { line: 2 });
    });
  });

  describe('gzip-era files', () => {
    it('with only Z-URL (no plain URL to fetch) are refused as COMPRESSED_ONLY', () => {
      const gz = fixture('text.txt.gz-0.6.2.zsync');
      const without = Buffer.from(gz.toString('latin1').replace('URL: text.txt\n', ''), 'latin1');
      expectRefused(without, 'ERR_ZSYNC_CONTROL_FILE_COMPRESSED_ONLY');
    });

    it('a .tar.gz\'s (length a multiple of Blocksize): two extra records, an empty block\'s then the junk copy, and no more', () => {
      const { header, checksums } = parseControlFileBuffer(TAR_GZ);
      expect(header).to.include({ length: 61440, blockSize: 2048, zMapEntries: 32 });
      expect(checksums.blockCount).to.equal(30);
      // What zsyncmake wrote: 30 real records of 2+4 bytes, then 2 more.
      const records = TAR_GZ.length - (TAR_GZ.indexOf('Z-Map2: 32\n') + 11 + 32 * 4 + 1);
      expect(records).to.equal(32 * 6);
      expectRefused(Buffer.concat([TAR_GZ, TAR_GZ.subarray(-6)]), 'ERR_ZSYNC_CONTROL_FILE_TRAILING_DATA', { offset: TAR_GZ.length });
    });

    it('a .gz whose last block is short (text.txt.gz): one extra record, not two', () => {
      const gz = fixture('text.txt.gz-0.6.2.zsync');
      expect(parseControlFileBuffer(gz).checksums.blockCount).to.equal(112);
      expectRefused(Buffer.concat([gz, gz.subarray(-6)]), 'ERR_ZSYNC_CONTROL_FILE_TRAILING_DATA', { offset: gz.length });
    });

    it('Z-Map2 before Length and Blocksize is refused (zsync 0.6.2 would not read it as a map)', () => {
      const data = Buffer.from('zsync: 0.6.2\nZ-Map2: 1\nxxxx\nBlocksize: 2048\nLength: 10\nURL: a\n\n');
      expectRefused(data, 'ERR_ZSYNC_CONTROL_FILE_BAD_LINE', { line: 2, offset: 13 });
      const noLength = Buffer.from('zsync: 0.6.2\nBlocksize: 2048\nZ-Map2: 1\nxxxx\nLength: 10\n\n');
      expectRefused(noLength, 'ERR_ZSYNC_CONTROL_FILE_BAD_LINE', { line: 3 });
    });

    it('a huge Z-Map2 count is refused by maxZMapEntries (default 2^22) at once, not skipped for ever', () => {
      const data = Buffer.from('zsync: 0.6.2\nBlocksize: 2048\nLength: 10\nZ-Map2: 9007199254740991\n');
      const parser = new ControlFileParser();
      let err: unknown;
      try {
        parser.push(data);
      } catch (e) {
        err = e;
      }
      expect(err).to.have.property('code', 'ERR_ZSYNC_LIMIT_EXCEEDED');
      expect(err).to.have.property('limit', 'maxZMapEntries');
      expect(err).to.have.property('line', 4);
      expect(refusal(Buffer.from('zsync: 0.6.2\nBlocksize: 2048\nLength: 10\nZ-Map2: 4194305\n'))).to.have.property('limit', 'maxZMapEntries');
      // The limit is an option: the real file's 113 entries pass 113, not 112.
      const gz = fixture('text.txt.gz-0.6.2.zsync');
      expect(parseControlFileBuffer(gz, { maxZMapEntries: 113 }).header.zMapEntries).to.equal(113);
      expect(refusal(gz, { maxZMapEntries: 112 })).to.have.property('limit', 'maxZMapEntries');
    });

    it('with Z-Map2 entries cut short are TRUNCATED', () => {
      const gz = fixture('text.txt.gz-0.6.2.zsync');
      expectRefused(gz.subarray(0, gz.indexOf('Z-Map2: 113\n') + 12 + 100), 'ERR_ZSYNC_CONTROL_FILE_TRUNCATED');
    });
  });

  describe('truncated input', () => {
    it('every proper prefix of a real file is TRUNCATED, never another outcome', () => {
      for (const name of ['target.zsync-0.6.2.zsync', 'text.txt.gz-0.6.2.zsync', 'archive.tar.gz']) {
        const data = name === 'archive.tar.gz' ? TAR_GZ : fixture(name);
        // The gzip ones end in one or two extra records the parser ignores: their prefixes that hold every real record parse.
        const complete = name.startsWith('text') ? data.length - 6 : name.startsWith('archive') ? data.length - 12 : data.length;
        for (let n = 0; n < complete; n++) {
          const err = refusal(data.subarray(0, n));
          expect(err.code, `prefix of ${n} bytes: ${err.message}`).to.equal('ERR_ZSYNC_CONTROL_FILE_TRUNCATED');
          expect(err).to.have.property('offset', n);
        }
      }
    });
  });

  describe('limits: nothing is allocated from a header value before the data proves it', () => {
    it('a 50-byte file claiming Length 10^15 is refused by maxBlocks, before any allocation', () => {
      const data = Buffer.from('zsync: 0.6.2\nBlocksize: 2048\nLength: 1000000000000000\n\n');
      const err = expectRefused(data, 'ERR_ZSYNC_LIMIT_EXCEEDED');
      expect(err).to.have.property('limit', 'maxBlocks');
    });

    it('a short file claiming 47 million blocks (under maxBlocks and maxChecksumBytes) allocates only for the records it has', () => {
      const data = Buffer.concat([Buffer.from('zsync: 0.6.2\nBlocksize: 1048576\nLength: 50000000000000\nHash-Lengths: 1,4,16\n\n'), Buffer.alloc(40)]);
      const before = process.memoryUsage().arrayBuffers;
      const err = expectRefused(data, 'ERR_ZSYNC_CONTROL_FILE_TRUNCATED', { offset: data.length });
      expect(err.message).to.match(/after 2 of 47683716 block records/);
      // A pre-sized index would take 47683716 * 20 bytes, over 900 MB.
      expect(process.memoryUsage().arrayBuffers - before).to.be.below(1 << 20);
    });

    it('a 100-byte file with Blocksize 16777216 is refused by maxBlockSize (default 1 MiB); the option raises it', () => {
      const data = Buffer.from('zsync: 0.6.2\nBlocksize: 16777216\nLength: 16777216\nHash-Lengths: 1,4,16\nURL: x\n\n' + 'r'.repeat(20));
      const err = refusal(data);
      expect(err).to.have.property('code', 'ERR_ZSYNC_LIMIT_EXCEEDED');
      expect(err).to.have.property('limit', 'maxBlockSize');
      expect(err).to.have.property('line', 2);
      expect(parseControlFileBuffer(data, { maxBlockSize: 1 << 24 }).header.blockSize).to.equal(1 << 24);
      expect(parseControlFileBuffer(edited(replaceLine('Blocksize', '1048576'), Buffer.alloc(6))).header.blockSize).to.equal(1 << 20);
    });

    it('maxChecksumBytes (default 1 GiB) bounds blocks times sum bytes: 28-byte SHA-224 sums of 40 million blocks are refused before any allocation', () => {
      const data = Buffer.from('zsync: 0.7.2\nBlocksize: 2048\nLength: 81920000000\nHash-Lengths: 1,4,28\nStrong-Hash-Algorithm: SHA-224\nSafe: Strong-Hash-Algorithm\n\n');
      const err = refusal(data);
      expect(err).to.have.property('code', 'ERR_ZSYNC_LIMIT_EXCEEDED');
      expect(err).to.have.property('limit', 'maxChecksumBytes');
      // The same count at 2+4 bytes stays under it (and is only TRUNCATED).
      expectRefused(edited(replaceLine('Length', '81920000000')), 'ERR_ZSYNC_CONTROL_FILE_TRUNCATED');
      // 74 records of (4 + 4) bytes: 592.
      expect(parseControlFileBuffer(V062, { maxChecksumBytes: 592 }).checksums.blockCount).to.equal(74);
      expect(refusal(V062, { maxChecksumBytes: 591 })).to.have.property('limit', 'maxChecksumBytes');
    });

    it('a header line too long is refused once the limit is passed, without waiting for a newline', () => {
      const parser = new ControlFileParser({ maxLineBytes: 1000 });
      parser.push(Buffer.from('zsync: 0.6.2\nURL: '));
      let err: unknown;
      try {
        for (let i = 0; i < 100; i++) parser.push(Buffer.alloc(100, 'a'));
      } catch (e) {
        err = e;
      }
      expect(err).to.have.property('code', 'ERR_ZSYNC_LIMIT_EXCEEDED');
      expect(err).to.have.property('limit', 'maxLineBytes');
      expect(err).to.have.property('line', 2);
      expect(err).to.have.property('offset', 13);
    });

    it('the default line limit is 16 KiB: longer URLs are refused', () => {
      const err = expectRefused(edited(replaceLine('URL', 'http://x/' + 'a'.repeat(16384))), 'ERR_ZSYNC_LIMIT_EXCEEDED', { line: 7 });
      expect(err).to.have.property('limit', 'maxLineBytes');
    });

    it('too many header lines are refused', () => {
      const many = Array.from({ length: 1000 }, (_, i) => `X-Pad: ${i}`);
      const err = expectRefused(edited(insertAfter('zsync', 'Safe: X-Pad', ...many)), 'ERR_ZSYNC_LIMIT_EXCEEDED', { line: 1001 });
      expect(err).to.have.property('limit', 'maxHeaderLines');
    });

    it('too many URLs are refused', () => {
      const urls = Array.from({ length: 300 }, (_, i) => `URL: http://m${i}.example/t`);
      const err = expectRefused(edited(insertAfter('URL', ...urls)), 'ERR_ZSYNC_LIMIT_EXCEEDED');
      expect(err).to.have.property('limit', 'maxUrls');
    });
  });

  describe('fuzzing', () => {
    it('random mutations of real files give only typed errors or successful parses', () => {
      const files = ['target.zsync-0.6.2.zsync', 'target.zsync-go-sha224.zsync', 'text.txt.gz-0.6.2.zsync'].map(fixture);
      const mutation = fc.record({
        file: fc.nat({ max: files.length - 1 }),
        edits: fc.array(fc.record({ at: fc.double({ min: 0, max: 1, noNaN: true }), kind: fc.constantFrom('set', 'delete', 'insert', 'cut'), byte: fc.constantFrom(0, 10, 13, 32, 44, 48, 49, 57, 58, 255, 0x41) }), { minLength: 1, maxLength: 4 }),
      });
      fc.assert(fc.property(mutation, ({ file, edits }) => {
        let data = Buffer.from(files[file]!);
        for (const e of edits) {
          const i = Math.min(data.length - 1, Math.floor(e.at * data.length));
          if (e.kind === 'set') data[i] = e.byte;
          else if (e.kind === 'delete') data = Buffer.concat([data.subarray(0, i), data.subarray(i + 1)]);
          else if (e.kind === 'insert') data = Buffer.concat([data.subarray(0, i), Buffer.from([e.byte]), data.subarray(i)]);
          else data = data.subarray(0, i);
        }
        try {
          parseControlFileBuffer(data);
        } catch (err) {
          if (!(err instanceof ZsyncError)) throw err;
          expect(err.code).to.match(/^ERR_ZSYNC_(CONTROL_FILE_[A-Z_]+|LIMIT_EXCEEDED)$/);
        }
      }), { numRuns: 3000, seed: 20261125 });
    });
  });

  it('the block sums are in shared memory: a sync hands its seed scan worker these sums, not a copy', () => {
    const { checksums } = parseControlFileBuffer(V062);
    expect(checksums.weak.buffer).to.be.instanceOf(SharedArrayBuffer);
    expect(checksums.strong.buffer).to.be.instanceOf(SharedArrayBuffer);
    expect(checksums.weak.length).to.equal(74);
  });

  it('errors are ControlFileErrors with a kind', () => {
    const err = refusal(Buffer.from('nope\n'));
    expect(err).to.be.instanceOf(ControlFileError);
    expect(err).to.have.property('kind', 'NOT_ZSYNC');
  });
});
