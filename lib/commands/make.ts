import { open } from 'node:fs/promises';
import { STRONG_ALGORITHMS, type StrongAlgorithm } from '../checksums/strong.js';
import { InvalidArgumentError } from '../errors.js';
import { isValidBlockSize, MAX_BLOCK_SIZE, MIN_BLOCK_SIZE } from '../engine/params.js';
import { checkHeaderValue } from '../control-file/header.js';
import { zsyncmake } from '../zsyncmake.js';
import { parseCommandLine } from './args.js';

export const summary = 'make the .zsync control file of a file, as zsyncmake does';
export const usage = `Usage: zsync-streams make [-b BLOCKSIZE] [-u URL] [-f NAME] [-o OUT.zsync] [--sha256] [-s MD4|MD5|SHA-224] FILE

Writes FILE's .zsync, byte for byte what zsyncmake 0.6.2 writes with the same
options, so every zsync client reads it. FILE must be a named file (there is
no stdin mode; for a pipe use the library's ZsyncMakeStream).

A gzip file (one starting 1f 8b) is described as it is, compressed: the same
.zsync as \`zsyncmake -Z\`. Plain zsyncmake looks inside the gzip and describes
the uncompressed data (Z-Map2, Recompress), which this command does not do.

  -b, --blocksize N   bytes per block, a power of two (default 2048, or 4096
                      from 100,000,000 bytes on)
  -u, --url URL       the URL line (repeatable; default FILE as given, which is
                      relative to where the .zsync is served)
  -f, --filename NAME the Filename line (default FILE's base name; once only)
  -o, --output PATH   where to write (default NAME.zsync in this directory;
                      once only)
      --sha256        also write File-Hash: SHA-256 (0.6.x clients check the
                      SHA-1, newer ones the SHA-256)
  -s, --strong ALG    the block checksum: MD4 (default, every client), MD5 or
                      SHA-224 (read only by zsync 0.7 and later)`;

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommandLine(argv, {
    blocksize: { type: 'string', short: 'b' },
    url: { type: 'string', short: 'u', multiple: true },
    filename: { type: 'string', short: 'f', multiple: true },
    output: { type: 'string', short: 'o', multiple: true },
    sha256: { type: 'boolean' },
    strong: { type: 'string', short: 's' },
  });
  if (positionals.length !== 1) throw new InvalidArgumentError(`give exactly one FILE\n\n${usage}`);
  const file = positionals[0]!;
  if (file === '-') {
    throw new InvalidArgumentError("make reads a named FILE: there is no stdin mode ('-'); for a pipe use the library's ZsyncMakeStream, and ./- for a file named '-'");
  }
  // zsyncmake refuses these twice too ("specify -f only once").
  const filename = onlyOnce('-f', values.filename);
  const output = onlyOnce('-o', values.output);
  const strongAlgorithm = strongOption(values.strong);
  const blockSize = blockSizeOption(values.blocksize);
  const urls = values.url;
  // Header values are checked before the file is read, not after hashing it all.
  if (filename !== undefined) checkHeaderValue(filename, '-f');
  for (const url of urls ?? []) checkHeaderValue(url, '-u');
  if (urls === undefined) checkHeaderValue(file, 'FILE, the default URL,');
  const gzip = await startsWithGzipMagic(file);
  if (gzip) {
    process.stderr.write(`${file} is gzip data: its .zsync describes the compressed bytes (as zsyncmake -Z does), not the data inside as zsyncmake without -Z would.\n`);
  }
  if (urls === undefined) {
    process.stderr.write(`No URL given, so the .zsync has the relative URL ${file}: serve it from the same directory as the .zsync, or use -u.\n`);
  }
  if (strongAlgorithm !== 'MD4') {
    process.stderr.write(`Strong-Hash-Algorithm ${strongAlgorithm}: only zsync 0.7 and later read this file; zsync 0.6.x refuses it.\n`);
  }
  await zsyncmake(file, {
    ...(blockSize === undefined ? {} : { blockSize }),
    ...(urls === undefined ? {} : { urls }),
    ...(filename === undefined ? {} : { filename }),
    ...(output === undefined ? {} : { output }),
    sha256: values.sha256 === true,
    strongAlgorithm,
  });
  return 0;
}

/** Opens FILE (so a missing one fails before any note is printed) and tells whether it starts with gzip's magic 1f 8b. */
async function startsWithGzipMagic(file: string): Promise<boolean> {
  const handle = await open(file, 'r');
  try {
    const head = Buffer.alloc(2);
    const { bytesRead } = await handle.read(head, 0, 2, 0);
    return bytesRead === 2 && head[0] === 0x1f && head[1] === 0x8b;
  } finally {
    await handle.close();
  }
}

function onlyOnce(flag: string, values: string[] | undefined): string | undefined {
  if (values === undefined) return undefined;
  if (values.length > 1) throw new InvalidArgumentError(`specify ${flag} only once`);
  return values[0];
}

function blockSizeOption(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = /^[0-9]+$/.test(value) ? Number(value) : NaN;
  if (!isValidBlockSize(n)) {
    throw new InvalidArgumentError(`-b must be a power of two from ${MIN_BLOCK_SIZE} to ${MAX_BLOCK_SIZE}, got '${value}'`);
  }
  return n;
}

function strongOption(value: string | undefined): StrongAlgorithm {
  if (value === undefined) return 'MD4';
  const found = STRONG_ALGORITHMS.find((a) => a.toLowerCase() === value.toLowerCase());
  if (!found) throw new InvalidArgumentError(`-s must be one of ${STRONG_ALGORITHMS.join(', ')}, got '${value}'`);
  return found;
}
