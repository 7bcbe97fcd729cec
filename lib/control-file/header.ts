/**
 * The text header of a `.zsync` control file: parsed one line at a time and
 * serialised, on strings only (no streams, no I/O). The rules are zsync
 * 0.6.2's (c/libzsync/zsync.c) where the generations agree, with the later
 * headers (File-Hash, Strong-Hash-Algorithm, absent Hash-Lengths) of the
 * v0.8 spec (SPEC.md of the Go zsync); test/fixtures/upstream holds real files of each.
 */
import { STRONG_DIGEST_BYTES, type StrongAlgorithm } from '../checksums/strong.js';
import { InvalidArgumentError } from '../errors.js';
import { isValidBlockSize, MAX_BLOCK_SIZE, MIN_BLOCK_SIZE, type ChecksumParams } from '../engine/params.js';
import { ControlFileError, ControlFileLimitError } from './errors.js';

/** The version zsyncmake 0.6.2 writes on the first line, and that we write. */
export const WRITER_VERSION = '0.6.2';
/** The newest format we read (the Go 0.7.2 maker's, spec v0.8): a `Min-Version` above it is refused. */
export const READER_VERSION = '0.7.2';

/** A whole-file digest from `File-Hash: ALGORITHM:hex`. */
export interface FileHash {
  /** As written: `SHA-1` and `SHA-256` are verified, others are kept but cannot be. */
  algorithm: string;
  /** Lowercase hex. */
  digest: string;
}

/** Everything a control file's header says. */
export interface ControlHeader {
  /** The `zsync:` line's value: the maker's version. */
  version: string;
  minVersion?: string;
  /** Header names an older client may skip, from every `Safe:` line, in order. */
  safe: string[];
  filename?: string;
  /** Whole seconds (zsync's resolution). */
  mtime?: Date;
  blockSize: number;
  length: number;
  seqMatches: 1 | 2;
  weakBytes: number;
  strongBytes: number;
  /** False when the file had no `Hash-Lengths` line and the spec's defaults apply. */
  hashLengthsGiven: boolean;
  strongAlgorithm: StrongAlgorithm;
  /** Where the target can be fetched, in file order (relative to the .zsync's URL or absolute). */
  urls: string[];
  /** gzip-era: URLs of a compressed copy (only readable with `Z-Map2`, which we skip). */
  zUrls: string[];
  /** `SHA-1:`, lowercase hex. */
  sha1?: string;
  fileHash?: FileHash;
  /** gzip-era `Z-Filename`, `Recompress`, and the number of `Z-Map2` entries skipped. */
  zFilename?: string;
  recompress?: string;
  zMapEntries?: number;
  /** Headers we do not know that an earlier `Safe:` line let us skip, in file order. */
  skipped: Array<{ name: string; value: string }>;
}

/** The engine's view of a header: what BlockChecksums needs. */
export function checksumParamsOf(header: ControlHeader): ChecksumParams {
  return {
    blockSize: header.blockSize,
    length: header.length,
    seqMatches: header.seqMatches,
    weakBytes: header.weakBytes,
    strongBytes: header.strongBytes,
    strongAlgorithm: header.strongAlgorithm,
  };
}

/**
 * The whole-file digests a client can verify: SHA-1 from `SHA-1:` or `File-Hash`,
 * SHA-256 from `File-Hash`. A `File-Hash: SHA-1:` that differs from the `SHA-1:`
 * line is a ControlFileError (HASH_CONFLICT): no file can match both.
 */
export function fileHashesOf(header: Pick<ControlHeader, 'sha1' | 'fileHash'>): { sha1?: string; sha256?: string } {
  const out: { sha1?: string; sha256?: string } = {};
  if (header.sha1 !== undefined) out.sha1 = header.sha1;
  if (header.fileHash?.algorithm === 'SHA-1') {
    if (out.sha1 !== undefined && out.sha1 !== header.fileHash.digest) {
      throw new ControlFileError('HASH_CONFLICT', `File-Hash: SHA-1:${header.fileHash.digest} contradicts SHA-1: ${out.sha1}`);
    }
    out.sha1 = header.fileHash.digest;
  }
  if (header.fileHash?.algorithm === 'SHA-256') out.sha256 = header.fileHash.digest;
  return out;
}

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const pad2 = (n: number): string => String(n).padStart(2, '0');

/** zsyncmake's `MTime`: strftime("%a, %d %b %Y %H:%M:%S %z") of gmtime(), so always `+0000`. */
export function formatMTime(date: Date): string {
  const t = date.getTime();
  if (!Number.isFinite(t)) throw new InvalidArgumentError('MTime must be a valid date');
  const d = new Date(Math.floor(t / 1000) * 1000);
  return `${DAYS[d.getUTCDay()]}, ${pad2(d.getUTCDate())} ${MONTHS[d.getUTCMonth()]} ${d.getUTCFullYear()} ` +
    `${pad2(d.getUTCHours())}:${pad2(d.getUTCMinutes())}:${pad2(d.getUTCSeconds())} +0000`;
}

// zsync 0.6.2 reads `%a, %d %b %Y %H:%M:%S %z` or the same without the weekday;
// Go reads RFC 1123 with a numeric zone. Both name English days and months.
const MTIME_RE = /^(?:(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), )?(\d{1,2}) (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) (\d{4}) (\d{2}):(\d{2}):(\d{2}) ([+-])(\d{2})(\d{2})$/;

/** Parses an `MTime` value; undefined when it is not an RFC 2822 date with a numeric zone. */
export function parseMTime(value: string): Date | undefined {
  const m = MTIME_RE.exec(value);
  if (!m) return undefined;
  const [, day, mon, year, hh, mm, ss, sign, zh, zm] = m;
  const n = (s: string | undefined): number => Number(s);
  if (n(day) < 1 || n(day) > 31 || n(hh) > 23 || n(mm) > 59 || n(ss) > 60 || n(zm) > 59) return undefined;
  const zone = (sign === '-' ? -1 : 1) * (n(zh) * 60 + n(zm));
  const utc = Date.UTC(n(year), MONTHS.indexOf(mon!), n(day), n(hh), n(mm), n(ss)) - zone * 60_000;
  const date = new Date(utc);
  // Date.UTC rolls 31 Feb over into March: such a date is not one.
  return new Date(utc + zone * 60_000).getUTCDate() === n(day) ? date : undefined;
}

/** Compares dotted version numbers numerically ("0.6.10" > "0.6.9"). */
export function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map((x) => Number.parseInt(x, 10) || 0);
  const pb = b.split('.').map((x) => Number.parseInt(x, 10) || 0);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return Math.sign(d);
  }
  return 0;
}

/** Header names we understand; any other needs an earlier `Safe:` line naming it. */
const KNOWN = new Set([
  'zsync', 'Min-Version', 'Safe', 'Filename', 'MTime', 'Blocksize', 'Length', 'Hash-Lengths', 'Strong-Hash-Algorithm',
  'URL', 'Z-URL', 'SHA-1', 'File-Hash', 'Z-Filename', 'Recompress', 'Z-Map2',
]);
/** Headers that may repeat; a second copy of any other is ambiguous and refused. */
const REPEATABLE = new Set(['Safe', 'URL', 'Z-URL']);

/** Bounds a HeaderParser enforces (ControlFileParser passes its own). */
export interface HeaderLimits {
  /** Largest `Blocksize` accepted. Default 1 MiB. */
  maxBlockSize?: number;
  /** Most `Z-Map2` entries (4 bytes each) to skip. Default 2^22. */
  maxZMapEntries?: number;
}

export const DEFAULT_MAX_BLOCK_SIZE = 1 << 20;
export const DEFAULT_MAX_ZMAP_ENTRIES = 2 ** 22;

/** Where a header line sits, for errors. */
export interface LinePosition {
  /** 1-based line number. */
  line: number;
  /** Byte offset of the line's first byte in the file. */
  offset: number;
}

/**
 * Builds a ControlHeader from the header's lines, given one at a time without
 * their `\n`. `line()` returns the number of Z-Map2 entries (4 bytes each) the
 * caller must skip before the next line; `finish()` checks what only the whole
 * header can tell.
 */
export class HeaderParser {
  private readonly seen = new Set<string>();
  private readonly safe = new Set<string>();
  private readonly h: Partial<ControlHeader> & { safe: string[]; urls: string[]; zUrls: string[]; skipped: Array<{ name: string; value: string }> } = {
    safe: [], urls: [], zUrls: [], skipped: [],
  };
  private lines = 0;
  private fileHashAt: LinePosition | undefined;
  private readonly maxBlockSize: number;
  private readonly maxZMapEntries: number;

  constructor(limits: HeaderLimits = {}) {
    this.maxBlockSize = limits.maxBlockSize ?? DEFAULT_MAX_BLOCK_SIZE;
    this.maxZMapEntries = limits.maxZMapEntries ?? DEFAULT_MAX_ZMAP_ENTRIES;
  }

  line(raw: string, at: LinePosition): number {
    this.lines++;
    // zsync 0.6.2 drops trailing CR and spaces from every line.
    const text = raw.replace(/[\r ]+$/, '');
    const colon = text.indexOf(':');
    if (colon < 0 || text[colon + 1] !== ' ') {
      if (this.lines === 1) throw new ControlFileError('NOT_ZSYNC', 'not a zsync control file: the first line must be "zsync: <version>"', at);
      throw new ControlFileError('BAD_LINE', `header line is not "Name: value": ${JSON.stringify(text.slice(0, 80))}`, at);
    }
    const name = text.slice(0, colon);
    const value = text.slice(colon + 2);
    if (this.lines === 1) {
      if (name !== 'zsync') throw new ControlFileError('NOT_ZSYNC', 'not a zsync control file: the first line must be "zsync: <version>"', at);
      if (value === '0.0.4') throw new ControlFileError('NOT_ZSYNC', 'zsync 0.0.4 control files are a different, incompatible format', at);
      this.h.version = value;
      this.seen.add(name);
      return 0;
    }
    if (!KNOWN.has(name)) {
      if (!this.safe.has(name)) {
        throw new ControlFileError('UNKNOWN_HEADER', `unknown header "${name.slice(0, 80)}", not named in an earlier Safe: line (the file needs a newer zsync)`, at);
      }
      this.h.skipped.push({ name, value });
      return 0;
    }
    // A second `zsync:` line is refused here too, as a repeated header.
    if (this.seen.has(name) && !REPEATABLE.has(name)) throw new ControlFileError('BAD_VALUE', `header ${name} repeated`, at);
    this.seen.add(name);
    return this.known(name, value, at);
  }

  private known(name: string, value: string, at: LinePosition): number {
    const h = this.h;
    switch (name) {
      case 'Min-Version':
        if (compareVersions(value, READER_VERSION) > 0) {
          throw new ControlFileError('MIN_VERSION', `the file needs zsync ${value} or newer; this reader implements ${READER_VERSION}`, at);
        }
        h.minVersion = value;
        return 0;
      case 'Safe':
        // 0.6.x separates the names with spaces, the Go maker with commas;
        // 0.6.2's own `Safe: Recompress MTime:` leaves a colon on the last one.
        for (const n of value.split(/[ ,]+/)) {
          const safeName = n.replace(/:$/, '');
          if (safeName) {
            this.safe.add(safeName);
            h.safe.push(safeName);
          }
        }
        return 0;
      case 'Filename': h.filename = value; return 0;
      case 'Z-Filename': h.zFilename = value; return 0;
      case 'Recompress': h.recompress = value; return 0;
      case 'URL': h.urls.push(value); return 0;
      case 'Z-URL': h.zUrls.push(value); return 0;
      case 'MTime': {
        const date = parseMTime(value);
        if (!date) throw new ControlFileError('BAD_VALUE', `MTime is not an RFC 2822 date: ${JSON.stringify(value.slice(0, 80))}`, at);
        h.mtime = date;
        return 0;
      }
      case 'Blocksize': {
        const n = decimal(value);
        if (n === undefined || !isValidBlockSize(n)) {
          throw new ControlFileError('BAD_VALUE', `Blocksize must be a power of two from ${MIN_BLOCK_SIZE} to ${MAX_BLOCK_SIZE}, got ${JSON.stringify(value.slice(0, 40))}`, at);
        }
        if (n > this.maxBlockSize) {
          // Valid, but the matcher's buffers grow with the block size: a tiny file must not make them huge.
          throw new ControlFileLimitError('maxBlockSize', `Blocksize ${n} is more than the ${this.maxBlockSize} allowed`, at);
        }
        h.blockSize = n;
        return 0;
      }
      case 'Length': {
        const n = decimal(value);
        if (n === undefined) throw new ControlFileError('BAD_VALUE', `Length must be a whole number of bytes below 2^53, got ${JSON.stringify(value.slice(0, 40))}`, at);
        h.length = n;
        return 0;
      }
      case 'Hash-Lengths': {
        const m = /^([0-9]{1,2}),([0-9]{1,2}),([0-9]{1,2})$/.exec(value);
        const [seq, weak, strong] = m ? [Number(m[1]), Number(m[2]), Number(m[3])] : [0, 0, 0];
        // zsync's bounds; the strong length's upper bound depends on the
        // algorithm, which may come later, so finish() checks it.
        if (!m || (seq !== 1 && seq !== 2) || weak < 1 || weak > 4 || strong < 3) {
          throw new ControlFileError('HASH_LENGTHS', `Hash-Lengths must be seq_matches (1-2),rsum_bytes (1-4),checksum_bytes (3-16, 28 for SHA-224), got ${JSON.stringify(value.slice(0, 40))}`, at);
        }
        h.seqMatches = seq as 1 | 2;
        h.weakBytes = weak;
        h.strongBytes = strong;
        h.hashLengthsGiven = true;
        return 0;
      }
      case 'Strong-Hash-Algorithm':
        if (!Object.hasOwn(STRONG_DIGEST_BYTES, value)) {
          throw new ControlFileError('UNSUPPORTED', `unsupported Strong-Hash-Algorithm ${JSON.stringify(value.slice(0, 40))} (known: MD4, MD5, SHA-224)`, at);
        }
        h.strongAlgorithm = value as StrongAlgorithm;
        return 0;
      case 'SHA-1':
        if (!/^[0-9a-fA-F]{40}$/.test(value)) throw new ControlFileError('BAD_HASH', 'SHA-1 must be 40 hex digits', at);
        h.sha1 = value.toLowerCase();
        return 0;
      case 'File-Hash': {
        const sep = value.indexOf(':');
        const algorithm = sep < 0 ? '' : value.slice(0, sep);
        const digest = value.slice(sep + 1);
        const hexLength = algorithm === 'SHA-1' ? 40 : algorithm === 'SHA-256' ? 64 : undefined;
        if (!algorithm || !/^[0-9a-fA-F]+$/.test(digest) || (hexLength !== undefined && digest.length !== hexLength)) {
          throw new ControlFileError('BAD_HASH', `File-Hash must be ALGORITHM:hex${hexLength ? ` with ${hexLength} hex digits for ${algorithm}` : ''}`, at);
        }
        h.fileHash = { algorithm, digest: digest.toLowerCase() };
        this.fileHashAt = at;
        return 0;
      }
      case 'Z-Map2': {
        // zsync 0.6.2 reads Z-Map2 as a map only once Length and Blocksize are
        // known (else it is an unknown tag); entries we cannot place are refused.
        if (h.length === undefined || h.blockSize === undefined) {
          throw new ControlFileError('BAD_LINE', 'Z-Map2 before the Length and Blocksize lines', at);
        }
        const n = decimal(value);
        if (n === undefined) throw new ControlFileError('BAD_VALUE', `Z-Map2 must give a number of entries, got ${JSON.stringify(value.slice(0, 40))}`, at);
        if (n > this.maxZMapEntries) {
          throw new ControlFileLimitError('maxZMapEntries', `Z-Map2 announces ${n} entries, more than the ${this.maxZMapEntries} allowed`, at);
        }
        h.zMapEntries = n;
        return n;
      }
      default:
        throw new Error(`unreachable: known header ${name}`);
    }
  }

  /** The header, once its empty line has been read. `at` is where that line is. */
  finish(at: LinePosition): ControlHeader {
    const h = this.h;
    if (h.version === undefined) throw new ControlFileError('NOT_ZSYNC', 'not a zsync control file: empty header', at);
    if (h.blockSize === undefined) throw new ControlFileError('MISSING_FIELD', 'no Blocksize line', at);
    if (h.length === undefined) throw new ControlFileError('MISSING_FIELD', 'no Length line', at);
    const strongAlgorithm = h.strongAlgorithm ?? 'MD4';
    const digestBytes = STRONG_DIGEST_BYTES[strongAlgorithm];
    if (h.strongBytes !== undefined && h.strongBytes > digestBytes) {
      throw new ControlFileError('HASH_LENGTHS', `Hash-Lengths asks for ${h.strongBytes} bytes of a ${digestBytes}-byte ${strongAlgorithm} digest`, at);
    }
    try {
      fileHashesOf(h);
    } catch (err) {
      if (err instanceof ControlFileError) throw new ControlFileError(err.kind, err.message, this.fileHashAt ?? at);
      throw err;
    }
    if (h.urls.length === 0 && h.zUrls.length > 0) {
      // Fetching from inside the .gz (Z-Map2) is gone from every current client;
      // without a plain URL there is nothing correct we can fetch.
      throw new ControlFileError('COMPRESSED_ONLY', 'the file offers only a gzip download (Z-URL) and no plain URL; gzip look-inside is not supported', at);
    }
    const header: ControlHeader = {
      version: h.version,
      safe: h.safe,
      blockSize: h.blockSize,
      length: h.length,
      // The spec's defaults without Hash-Lengths: the whole rsum and digest, single matches.
      seqMatches: h.seqMatches ?? 1,
      weakBytes: h.weakBytes ?? 4,
      strongBytes: h.strongBytes ?? digestBytes,
      hashLengthsGiven: h.hashLengthsGiven ?? false,
      strongAlgorithm,
      urls: h.urls,
      zUrls: h.zUrls,
      skipped: h.skipped,
    };
    for (const key of ['minVersion', 'filename', 'mtime', 'sha1', 'fileHash', 'zFilename', 'recompress', 'zMapEntries'] as const) {
      if (h[key] !== undefined) (header as unknown as Record<string, unknown>)[key] = h[key];
    }
    return header;
  }
}

/** A decimal integer of at most 16 digits that is a safe integer, else undefined. */
function decimal(value: string): number | undefined {
  if (!/^[0-9]{1,16}$/.test(value)) return undefined;
  const n = Number(value);
  return Number.isSafeInteger(n) ? n : undefined;
}

/** What a writer puts in a header; `formatHeader` adds nothing of its own. */
export interface HeaderFields {
  filename?: string;
  mtime?: Date;
  blockSize: number;
  length: number;
  seqMatches: 1 | 2;
  weakBytes: number;
  strongBytes: number;
  /** Written as `Strong-Hash-Algorithm` unless MD4, which every client assumes. */
  strongAlgorithm?: StrongAlgorithm;
  urls: readonly string[];
  sha1: string;
  /** Adds `Safe: File-Hash` after the `zsync:` line and `File-Hash: SHA-256:...` after `SHA-1`. */
  sha256?: string;
}

/**
 * The header text, ending with its empty line, exactly as zsyncmake 0.6.2 writes
 * it for a plain file: zsync, Filename, MTime (only with a Filename), Blocksize,
 * Length, Hash-Lengths, URL..., SHA-1. The later generations' additions go where
 * every generation accepts them: `Safe:` second, so 0.6.x may skip what follows,
 * `Strong-Hash-Algorithm` after `Hash-Lengths`, `File-Hash` after `SHA-1`.
 */
export function formatHeader(fields: HeaderFields): string {
  const lines = [`zsync: ${WRITER_VERSION}`];
  const algorithm = fields.strongAlgorithm ?? 'MD4';
  if (fields.sha256 !== undefined) lines.push('Safe: File-Hash');
  if (fields.filename !== undefined) {
    lines.push(`Filename: ${fields.filename}`);
    if (fields.mtime !== undefined) lines.push(`MTime: ${formatMTime(fields.mtime)}`);
  }
  lines.push(`Blocksize: ${fields.blockSize}`, `Length: ${fields.length}`, `Hash-Lengths: ${fields.seqMatches},${fields.weakBytes},${fields.strongBytes}`);
  if (algorithm !== 'MD4') lines.push(`Strong-Hash-Algorithm: ${algorithm}`);
  for (const url of fields.urls) lines.push(`URL: ${url}`);
  lines.push(`SHA-1: ${fields.sha1}`);
  if (fields.sha256 !== undefined) lines.push(`File-Hash: SHA-256:${fields.sha256}`);
  for (const line of lines) checkHeaderValue(line);
  return lines.join('\n') + '\n\n';
}

/**
 * Throws InvalidArgumentError when `value` (or a whole header line) cannot go in
 * a header: a line break inside it would end the header early or forge a header.
 * Writers call it on their options up front, before any hashing.
 */
export function checkHeaderValue(value: string, what = 'header values'): void {
  if (/[\r\n]/.test(value)) throw new InvalidArgumentError(`${what} may not contain line breaks: ${JSON.stringify(value)}`);
}
