/**
 * Turns a ChecksumStream's records into control-file bytes, without streams:
 * records are packed untruncated into pages (the hash lengths depend on the
 * file's length, known only at the summary), the summary gives the header, and
 * each page is then cut down to the stored record size.
 */
import { InvalidArgumentError } from '../errors.js';
import type { BlockRecord, ChecksumSummary } from '../engine/checksummer.js';
import type { HashLengthOptions } from '../engine/checksum-collector.js';
import { paramsFromSummary, validateParams, type ChecksumParams } from '../engine/params.js';
import { checkHeaderValue, formatHeader, formatMTime, type HeaderFields } from './header.js';
import { fullRecordBytes, truncateRecords, writeFullRecord } from './records.js';

/** What goes in the header besides what the records and summary give. */
export interface ControlFileHeaderOptions {
  /** `Filename:`; zsyncmake writes the input file's base name. None by default. */
  filename?: string;
  /** `MTime:`, written only with a `filename`, as zsyncmake does. */
  mtime?: Date;
  /** `URL:` lines, in order. None by default. */
  urls?: readonly string[];
  /** Overrides of zsyncmake 0.6.2's hash lengths for the file's length. */
  hashLengths?: HashLengthOptions;
}

/** Records packed per page; a page of MD4 records is 80 KiB. */
const RECORDS_PER_PAGE = 4096;

export class ControlFileEncoder {
  /** Set by finish(). */
  params: ChecksumParams | undefined;
  private readonly options: ControlFileHeaderOptions;
  private digestBytes = 0;
  private page: Buffer | undefined;
  private pageUsed = 0;
  private count = 0;

  /** Checks the header options at once, so a bad one fails before any hashing. */
  constructor(options: ControlFileHeaderOptions = {}) {
    if (options.filename !== undefined) checkHeaderValue(options.filename, 'the Filename');
    for (const url of options.urls ?? []) checkHeaderValue(url, 'a URL');
    if (options.mtime !== undefined) formatMTime(options.mtime);
    this.options = options;
  }

  /** Bytes of one record in the pages: 4 of rsum and the whole digest. */
  get pageRecordBytes(): number {
    return fullRecordBytes(this.digestBytes);
  }

  /** Packs one record; returns a page when one is full, to be stored until finish(). */
  add(record: BlockRecord): Buffer | undefined {
    if (this.params) throw new InvalidArgumentError('block record after the summary');
    if (record.index !== this.count) throw new InvalidArgumentError(`block record ${record.index} out of order (expected ${this.count})`);
    if (this.count === 0) this.digestBytes = record.strong.length;
    else if (record.strong.length !== this.digestBytes) throw new InvalidArgumentError(`block ${record.index} has a ${record.strong.length}-byte digest, the others ${this.digestBytes}`);
    const size = fullRecordBytes(this.digestBytes);
    this.page ??= Buffer.allocUnsafe(size * RECORDS_PER_PAGE);
    writeFullRecord(this.page, this.pageUsed, record.weak, record.strong, this.digestBytes);
    this.pageUsed += size;
    this.count++;
    return this.pageUsed === this.page.length ? this.takePage() : undefined;
  }

  /**
   * Ends the records: returns the header bytes and the last, partly filled page
   * (if any) to store after the others. The hash lengths are zsyncmake's for the
   * file's length unless overridden.
   */
  finish(summary: ChecksumSummary): { header: Buffer; lastPage: Buffer | undefined } {
    if (this.params) throw new InvalidArgumentError('summary given twice');
    if (summary.blockCount !== this.count) throw new InvalidArgumentError(`summary counts ${summary.blockCount} blocks, got ${this.count} records`);
    const params = paramsFromSummary(summary, this.options.hashLengths);
    validateParams(params);
    if (this.count > 0 && params.strongBytes > this.digestBytes) throw new InvalidArgumentError(`strongBytes ${params.strongBytes} is more than the ${this.digestBytes}-byte digest`);
    this.params = params;
    const fields: HeaderFields = {
      blockSize: params.blockSize,
      length: params.length,
      seqMatches: params.seqMatches,
      weakBytes: params.weakBytes,
      strongBytes: params.strongBytes,
      strongAlgorithm: params.strongAlgorithm,
      urls: this.options.urls ?? [],
      sha1: summary.sha1,
    };
    if (this.options.filename !== undefined) fields.filename = this.options.filename;
    if (this.options.mtime !== undefined) fields.mtime = this.options.mtime;
    if (summary.sha256 !== undefined) fields.sha256 = summary.sha256;
    return { header: Buffer.from(formatHeader(fields), 'utf8'), lastPage: this.pageUsed > 0 ? this.takePage() : undefined };
  }

  /**
   * Every record at once, from arrays (parallelChecksums' output): the header and
   * the records cut to the file's hash lengths, the same bytes as add() + finish()
   * + truncate() would give, without an object per block.
   */
  encodeAll(weak: Int32Array, strong: Uint8Array, digestBytes: number, summary: ChecksumSummary): { header: Buffer; records: Buffer } {
    if (this.count !== 0 || this.params) throw new InvalidArgumentError('encodeAll() on an encoder already in use');
    if (strong.length !== weak.length * digestBytes) throw new InvalidArgumentError(`${weak.length} weak sums but ${strong.length / digestBytes} strong ones`);
    this.count = weak.length;
    this.digestBytes = digestBytes;
    const { header } = this.finish(summary);
    const { weakBytes, strongBytes } = this.params!;
    const size = weakBytes + strongBytes;
    const records = Buffer.allocUnsafe(weak.length * size);
    for (let i = 0; i < weak.length; i++) {
      const at = i * size;
      const v = weak[i]!;
      // The last weakBytes of the big-endian (a << 16) | b, as zsyncmake stores them.
      for (let k = 0; k < weakBytes; k++) records[at + k] = (v >>> (8 * (weakBytes - 1 - k))) & 0xff;
      records.set(strong.subarray(i * digestBytes, i * digestBytes + strongBytes), at + weakBytes);
    }
    return { header, records };
  }

  /** A stored page (or any run of whole page records) cut down to the file's record size. */
  truncate(chunk: Buffer): Buffer {
    const params = this.params;
    if (!params) throw new InvalidArgumentError('truncate() before finish()');
    return truncateRecords(chunk, this.digestBytes, params.weakBytes, params.strongBytes);
  }

  private takePage(): Buffer {
    const page = this.page!.subarray(0, this.pageUsed);
    this.page = undefined;
    this.pageUsed = 0;
    return page;
  }
}
