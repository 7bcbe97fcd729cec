/**
 * Promise helpers over the control-file streams: make a `.zsync` for a file as
 * zsyncmake 0.6.2 does, and read one from a path or any byte stream.
 */
import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { open, rename, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { StrongAlgorithm } from './checksums/strong.js';
import type { HashLengthOptions } from './engine/checksum-collector.js';
import type { ChecksumSummary } from './engine/checksummer.js';
import { defaultBlockSize, type ChecksumParams } from './engine/params.js';
import { ZsyncMakeStream } from './control-file/make-stream.js';
import { ControlFileEncoder } from './control-file/encoder.js';
import { parallelChecksums } from './parallel/parallel-checksums.js';
import { parseControlFile } from './control-file/parse-stream.js';
import type { ControlFile, ControlFileParserOptions } from './control-file/parser.js';

/** Files from this size on are hashed on two cores. */
export const DEFAULT_PARALLEL_FROM = 16 << 20;

export interface ZsyncMakeOptions {
  /** `-b`: bytes per block. Default zsyncmake's: 2048 below 100,000,000 bytes, else 4096. */
  blockSize?: number;
  /** `-u`: the `URL:` lines. Default: the file's path as given, as zsyncmake writes it (relative to the .zsync). */
  urls?: string | readonly string[];
  /** `-f`: the `Filename:`. Default: the file's base name. */
  filename?: string;
  /** `-o`: where to write. Default `<filename>.zsync` in the current directory, as zsyncmake does. */
  output?: string;
  /** The `MTime:`. Default: the file's mtime; null leaves the line out. */
  mtime?: Date | null;
  /** Add `Safe: File-Hash` and `File-Hash: SHA-256:...` (read by every generation). Default false. */
  sha256?: boolean;
  /** `-s`: the strong checksum. Default MD4; MD5 and SHA-224 make files only 0.7+ clients read. */
  strongAlgorithm?: StrongAlgorithm;
  /** Overrides of zsyncmake's `Hash-Lengths`. */
  hashLengths?: HashLengthOptions;
  /** Record bytes kept in memory before they move to a temp file. Default 8 MiB. */
  maxBufferedBytes?: number;
  /**
   * Hash on two cores (worker threads reading the file themselves) when the file
   * is at least this many bytes; Infinity turns it off. Default 16 MiB.
   */
  parallelFrom?: number;
}

export interface ZsyncMakeResult {
  /** The path written. */
  output: string;
  params: ChecksumParams;
  summary: ChecksumSummary;
}

/**
 * Writes the `.zsync` of `file`, byte-identical to `zsyncmake` 0.6.2's with the
 * same options. The output appears under its name only once complete (written
 * beside it under a temporary name, then renamed). Header options (a line break
 * in `filename` or a URL) are checked before the file is read.
 *
 * A gzip file (starting 1f 8b) is described as it is, compressed: the result
 * equals `zsyncmake -Z`'s. zsyncmake without `-Z` looks inside the gzip and
 * describes the uncompressed data (`Z-Map2`, `Recompress`); we do not, as no
 * current client fetches through `Z-Map2`.
 */
export async function zsyncmake(file: string, options: ZsyncMakeOptions = {}): Promise<ZsyncMakeResult> {
  const filename = options.filename ?? basename(file);
  const output = resolve(options.output ?? `${filename}.zsync`);
  const input = await open(file, 'r');
  try {
    // Like zsyncmake: the length at the start chooses the block size, the
    // length actually read chooses the hash lengths.
    const stat = await input.stat();
    const urls = options.urls === undefined ? [file] : typeof options.urls === 'string' ? [options.urls] : options.urls;
    const blockSize = options.blockSize ?? defaultBlockSize(stat.size);
    const writerOptions = {
      filename,
      urls,
      ...(options.mtime === null ? {} : { mtime: options.mtime ?? new Date(Math.floor(stat.mtimeMs / 1000) * 1000) }),
      ...(options.hashLengths ? { hashLengths: options.hashLengths } : {}),
      ...(options.maxBufferedBytes === undefined ? {} : { maxBufferedBytes: options.maxBufferedBytes }),
    };
    const strongAlgorithm = options.strongAlgorithm ?? 'MD4';
    const sha256 = options.sha256 === true;
    const partial = join(dirname(output), `.${basename(output)}.${randomBytes(4).toString('hex')}.part`);
    try {
      if (stat.isFile() && stat.size >= (options.parallelFrom ?? DEFAULT_PARALLEL_FROM)) {
        // A regular file can be read by two threads at once; its sums come back as
        // arrays and are encoded in one go.
        const { maxBufferedBytes: _unused, ...headerOptions } = writerOptions;
        const encoder = new ControlFileEncoder(headerOptions);
        const sums = await parallelChecksums(file, { blockSize, strongAlgorithm, sha256 });
        const { header, records } = encoder.encodeAll(sums.weak, sums.strong, sums.digestBytes, sums.summary);
        await writeFile(partial, Buffer.concat([header, records]));
        await rename(partial, output);
        return { output, params: encoder.params!, summary: sums.summary };
      }
      const maker = new ZsyncMakeStream({ ...writerOptions, blockSize, strongAlgorithm, sha256 });
      await pipeline(createReadStream('', { fd: input, autoClose: false, highWaterMark: 1 << 20 }), maker, createWriteStream(partial));
      await rename(partial, output);
      return { output, params: maker.params!, summary: maker.summary! };
    } catch (err) {
      await rm(partial, { force: true });
      throw err;
    }
  } finally {
    await input.close();
  }
}

/** Reads and validates a control file from a path, or from any byte stream or buffer. */
export async function readControlFile(
  source: string | URL | AsyncIterable<Uint8Array> | Uint8Array,
  options: ControlFileParserOptions = {},
): Promise<ControlFile> {
  if (typeof source === 'string' || source instanceof URL) {
    return parseControlFile(createReadStream(source, { highWaterMark: 1 << 16 }), options);
  }
  return parseControlFile(source, options);
}
