/**
 * A push parser for whole `.zsync` files: bytes in, in chunks of any size, out
 * the header and the block checksums, ready for `new BlockIndex(...)`. No
 * streams here (see parse-stream.ts); nothing is allocated from a header value
 * before the data proves it: the record arrays grow with the records received.
 */
import { ByteQueue } from '../engine/byte-queue.js';
import { BlockChecksums } from '../engine/block-checksums.js';
import { blockCountOf } from '../engine/params.js';
import { ControlFileError, ControlFileLimitError } from './errors.js';
import { checksumParamsOf, DEFAULT_MAX_BLOCK_SIZE, DEFAULT_MAX_ZMAP_ENTRIES, fileHashesOf, HeaderParser, type ControlHeader } from './header.js';
import { readRecords } from './records.js';

export interface ControlFileParserOptions {
  /** Longest header line in bytes, `\n` excluded. Default 16384 (zsync 0.6.2 reads 1023; long signed URLs need more). */
  maxLineBytes?: number;
  /** Most header lines, the empty one included. Default 1000. */
  maxHeaderLines?: number;
  /** Most `URL` plus `Z-URL` lines. Default 256. */
  maxUrls?: number;
  /** Most blocks (records) a file may describe. Default 2^28: 512 GiB at 2048 bytes a block. */
  maxBlocks?: number;
  /**
   * Most bytes of block sums held in memory: blocks times (4 for the rsum plus
   * the stored strong bytes). Default 1 GiB: a 0.6.2 file of ~290 GiB at 2048-byte
   * blocks (2,2,5), ~85 GiB of SHA-224 (4+28 bytes a block).
   */
  maxChecksumBytes?: number;
  /**
   * Largest `Blocksize`. Default 1 MiB (zsyncmake writes 2048 or 4096; the Go
   * maker up to 64 KiB): the matcher's buffers grow with it.
   */
  maxBlockSize?: number;
  /** Most `Z-Map2` entries (4 bytes each, skipped). Default 2^22 (16 MiB of map: a .gz of far over 100 GB). */
  maxZMapEntries?: number;
}

export const DEFAULT_CONTROL_FILE_LIMITS: Readonly<Required<ControlFileParserOptions>> = {
  maxLineBytes: 16384,
  maxHeaderLines: 1000,
  maxUrls: 256,
  maxBlocks: 2 ** 28,
  maxChecksumBytes: 2 ** 30,
  maxBlockSize: DEFAULT_MAX_BLOCK_SIZE,
  maxZMapEntries: DEFAULT_MAX_ZMAP_ENTRIES,
};

/** A parsed control file. */
export interface ControlFile {
  header: ControlHeader;
  checksums: BlockChecksums;
}

type Phase = 'header' | 'zmap' | 'records' | 'after';

const NEWLINE = 0x0a;
const INITIAL_BLOCKS = 1024;
const EMPTY = Buffer.alloc(0);

export class ControlFileParser {
  /** Set as soon as the header's empty line has been read. */
  header: ControlHeader | undefined;
  private readonly limits: Required<ControlFileParserOptions>;
  private readonly lines: HeaderParser;
  /** Unconsumed bytes: a header line in progress, or part of one record. */
  private readonly queue = new ByteQueue();
  private phase: Phase = 'header';
  /** File offset of the queue's first byte. */
  private consumed = 0;
  private lineNumber = 0;
  /** Bytes of the queue already searched for a newline. */
  private scanned = 0;
  private zmapBytesLeft = 0;
  private urlCount = 0;
  private blockCount = 0;
  private recordSize = 0;
  private received = 0;
  private weak = new Int32Array(new SharedArrayBuffer(0));
  private strong = new Uint8Array(new SharedArrayBuffer(0));
  /** Bytes after the last record we tolerate: a gzip-era file carries one or two extra records. */
  private trailingAllowed = 0;
  private hasZMap = false;
  private ended = false;

  constructor(options: ControlFileParserOptions = {}) {
    this.limits = { ...DEFAULT_CONTROL_FILE_LIMITS, ...definedOnly(options) };
    this.lines = new HeaderParser({ maxBlockSize: this.limits.maxBlockSize, maxZMapEntries: this.limits.maxZMapEntries });
  }

  /** Takes the next bytes of the file; throws a ControlFileError (or ControlFileLimitError) at the first fault. */
  push(chunk: Uint8Array): void {
    if (this.ended) throw new ControlFileError('TRAILING_DATA', 'data after the end of the control file', { offset: this.consumed });
    let data = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    while (data.length > 0) {
      switch (this.phase) {
        case 'header':
          // The caller may reuse its chunk: keep a copy of header bytes.
          this.queue.append(Buffer.from(data));
          data = EMPTY;
          this.readLines();
          if ((this.phase as Phase) === 'records' || (this.phase as Phase) === 'after') {
            // What follows the header's empty line is record data: read it as such.
            data = this.queue.slice();
            this.queue.consume(this.queue.length);
          }
          break;
        case 'zmap': {
          const n = Math.min(this.zmapBytesLeft, data.length);
          this.zmapBytesLeft -= n;
          this.consumed += n;
          data = data.subarray(n);
          if (this.zmapBytesLeft === 0) this.phase = 'header';
          break;
        }
        case 'records':
          data = this.readRecords(data);
          break;
        case 'after':
          if (data.length > this.trailingAllowed) {
            throw new ControlFileError('TRAILING_DATA', `bytes after the last of ${this.blockCount} block records`, { offset: this.consumed + this.trailingAllowed });
          }
          this.trailingAllowed -= data.length;
          this.consumed += data.length;
          data = EMPTY;
          break;
      }
    }
  }

  /** The input is over: returns the parsed file, or throws TRUNCATED. */
  end(): ControlFile {
    this.ended = true;
    const offset = this.consumed + this.queue.length;
    if (this.phase === 'header' || this.phase === 'zmap' || !this.header) {
      throw new ControlFileError('TRUNCATED', this.phase === 'zmap' ? 'the file ends inside the Z-Map2 entries' : 'the file ends inside the header (no empty line)', { line: this.lineNumber + 1, offset });
    }
    if (this.received < this.blockCount) {
      throw new ControlFileError('TRUNCATED', `the file ends after ${this.received} of ${this.blockCount} block records`, { offset });
    }
    const header = this.header;
    const weak = this.weak.length === this.blockCount ? this.weak : this.weak.slice(0, this.blockCount);
    const strong = this.strong.length === this.blockCount * header.strongBytes ? this.strong : this.strong.slice(0, this.blockCount * header.strongBytes);
    return { header, checksums: new BlockChecksums(checksumParamsOf(header), weak, strong, fileHashesOf(header)) };
  }

  /** Reads every complete header line in the queue; stops at the empty line or a Z-Map2. */
  private readLines(): void {
    while (this.phase === 'header') {
      const nl = this.queue.indexOf(NEWLINE, this.scanned);
      if (nl < 0) {
        this.scanned = this.queue.length;
        if (this.queue.length > this.limits.maxLineBytes) {
          throw new ControlFileLimitError('maxLineBytes', `header line longer than ${this.limits.maxLineBytes} bytes`, { line: this.lineNumber + 1, offset: this.consumed });
        }
        return;
      }
      if (nl > this.limits.maxLineBytes) {
        throw new ControlFileLimitError('maxLineBytes', `header line longer than ${this.limits.maxLineBytes} bytes`, { line: this.lineNumber + 1, offset: this.consumed });
      }
      this.lineNumber++;
      if (this.lineNumber > this.limits.maxHeaderLines) {
        throw new ControlFileLimitError('maxHeaderLines', `more than ${this.limits.maxHeaderLines} header lines`, { line: this.lineNumber, offset: this.consumed });
      }
      const at = { line: this.lineNumber, offset: this.consumed };
      const text = this.queue.toString('utf8', 0, nl);
      this.queue.consume(nl + 1);
      this.consumed += nl + 1;
      this.scanned = 0;
      if (text === '' || text === '\r') {
        this.startRecords(at);
        return;
      }
      const zmapEntries = this.lines.line(text, at);
      if ((text.startsWith('URL: ') || text.startsWith('Z-URL: ')) && ++this.urlCount > this.limits.maxUrls) {
        throw new ControlFileLimitError('maxUrls', `more than ${this.limits.maxUrls} URL lines`, at);
      }
      if (zmapEntries > 0) {
        this.zmapBytesLeft = zmapEntries * 4;
        this.hasZMap = true; // extra records allowed, decided once the header is whole
        const skip = Math.min(this.zmapBytesLeft, this.queue.length);
        this.queue.consume(skip);
        this.consumed += skip;
        this.zmapBytesLeft -= skip;
        if (this.zmapBytesLeft > 0) {
          this.phase = 'zmap';
          return;
        }
      }
    }
  }

  private startRecords(at: { line: number; offset: number }): void {
    const header = this.lines.finish(at);
    const blockCount = blockCountOf(header);
    if (blockCount > this.limits.maxBlocks) {
      throw new ControlFileLimitError('maxBlocks', `Length ${header.length} at Blocksize ${header.blockSize} makes ${blockCount} blocks, more than ${this.limits.maxBlocks}`, at);
    }
    const checksumBytes = blockCount * (4 + header.strongBytes);
    if (checksumBytes > this.limits.maxChecksumBytes) {
      throw new ControlFileLimitError('maxChecksumBytes', `Length ${header.length} at Blocksize ${header.blockSize} makes ${blockCount} blocks, ${checksumBytes} bytes of block sums, more than ${this.limits.maxChecksumBytes}`, at);
    }
    this.header = header;
    this.blockCount = blockCount;
    this.recordSize = header.weakBytes + header.strongBytes;
    // zsyncmake 0.6.2 on gzip input (make.c, do_zstream and fcopy_hashes) writes
    // extra records after the real ones: when the uncompressed length is a
    // multiple of the block size (an empty one included), the end of the gzip
    // stream comes after the last full block and adds a record of an empty
    // (all-zero) block; then the '\n' it writes after the records (meant to end
    // the Z-Map2) is read back as a short record, written out as a copy of the
    // previous one. So 2 extra records, or 1 when the last block is short.
    const extra = !this.hasZMap ? 0 : header.length % header.blockSize === 0 ? 2 : 1;
    this.trailingAllowed = extra * this.recordSize;
    this.phase = blockCount > 0 ? 'records' : 'after';
  }

  /** Stores the whole records in `data`, keeps a partial one in the queue; returns what follows the last record. */
  private readRecords(data: Buffer): Buffer {
    const size = this.recordSize;
    let o = 0;
    if (this.queue.length > 0) {
      const need = size - this.queue.length;
      if (data.length < need) {
        this.queue.append(Buffer.from(data));
        return EMPTY;
      }
      this.queue.append(Buffer.from(data.subarray(0, need)));
      this.store(this.queue.slice(0, size), 0, 1);
      this.queue.consume(size);
      o = need;
    }
    const whole = Math.min(Math.floor((data.length - o) / size), this.blockCount - this.received);
    this.store(data, o, whole);
    o += whole * size;
    if (this.received === this.blockCount) {
      this.phase = 'after';
      return data.subarray(o);
    }
    if (o < data.length) this.queue.append(Buffer.from(data.subarray(o)));
    return EMPTY;
  }

  private store(data: Uint8Array, offset: number, count: number): void {
    if (count === 0) return;
    const header = this.header!;
    const needed = this.received + count;
    if (needed > this.weak.length) {
      // Grow by doubling, never past the header's count (whose size
      // maxChecksumBytes bounds): memory follows the records that actually
      // arrived, not what the header claims.
      const capacity = Math.min(this.blockCount, Math.max(INITIAL_BLOCKS, needed, this.weak.length * 2));
      // In shared memory, so that a sync's seed scan worker (split-scan.ts) is
      // handed these very sums, not a copy of them (9 bytes a block).
      let weak: Int32Array<SharedArrayBuffer>;
      let strong: Uint8Array<SharedArrayBuffer>;
      try {
        weak = new Int32Array(new SharedArrayBuffer(capacity * 4));
        strong = new Uint8Array(new SharedArrayBuffer(capacity * header.strongBytes));
      } catch (err) {
        // Only with a maxChecksumBytes raised past what this runtime can allocate.
        if (!(err instanceof RangeError)) throw err;
        throw new ControlFileLimitError('maxChecksumBytes', `cannot allocate the sums of ${capacity} blocks: ${err.message}`, { offset: this.consumed });
      }
      weak.set(this.weak);
      this.weak = weak;
      strong.set(this.strong);
      this.strong = strong;
    }
    readRecords(data, offset, count, header.weakBytes, header.strongBytes, this.weak, this.strong, this.received);
    this.received += count;
    this.consumed += count * this.recordSize;
  }
}

/** Parses a whole control file held in memory. */
export function parseControlFileBuffer(data: Uint8Array, options: ControlFileParserOptions = {}): ControlFile {
  const parser = new ControlFileParser(options);
  parser.push(data);
  return parser.end();
}

function definedOnly<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
