import { STRONG_ALGORITHMS, type StrongAlgorithm } from '../checksums/strong.js';
import { InvalidArgumentError } from '../errors.js';
import { isPowerOfTwo, MAX_BLOCK_SIZE, MIN_BLOCK_SIZE } from '../engine/params.js';
import { zsyncmake } from '../zsyncmake.js';
import { parseCommandLine } from './args.js';

export const summary = 'make the .zsync control file of a file, as zsyncmake does';
export const usage = `Usage: zsync-streams make [-b BLOCKSIZE] [-u URL] [-f NAME] [-o OUT.zsync] [--sha256] [-s MD4|MD5|SHA-224] FILE

Writes FILE's .zsync, byte for byte what zsyncmake 0.6.2 writes with the same
options, so every zsync client reads it.

  -b, --blocksize N   bytes per block, a power of two (default 2048, or 4096
                      from 100,000,000 bytes on)
  -u, --url URL       the URL line (repeatable; default FILE as given, which is
                      relative to where the .zsync is served)
  -f, --filename NAME the Filename line (default FILE's base name)
  -o, --output PATH   where to write (default NAME.zsync in this directory)
      --sha256        also write File-Hash: SHA-256 (0.6.x clients check the
                      SHA-1, newer ones the SHA-256)
  -s, --strong ALG    the block checksum: MD4 (default, every client), MD5 or
                      SHA-224 (read only by zsync 0.7 and later)`;

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommandLine(argv, {
    blocksize: { type: 'string', short: 'b' },
    url: { type: 'string', short: 'u', multiple: true },
    filename: { type: 'string', short: 'f' },
    output: { type: 'string', short: 'o' },
    sha256: { type: 'boolean' },
    strong: { type: 'string', short: 's' },
  });
  if (positionals.length !== 1) throw new InvalidArgumentError(`give exactly one FILE\n\n${usage}`);
  const file = positionals[0]!;
  const strongAlgorithm = strongOption(values.strong);
  const blockSize = blockSizeOption(values.blocksize);
  const urls = values.url;
  if (urls === undefined) {
    process.stderr.write(`No URL given, so the .zsync has the relative URL ${file}: serve it from the same directory as the .zsync, or use -u.\n`);
  }
  if (strongAlgorithm !== 'MD4') {
    process.stderr.write(`Strong-Hash-Algorithm ${strongAlgorithm}: only zsync 0.7 and later read this file; zsync 0.6.x refuses it.\n`);
  }
  await zsyncmake(file, {
    ...(blockSize === undefined ? {} : { blockSize }),
    ...(urls === undefined ? {} : { urls }),
    ...(values.filename === undefined ? {} : { filename: values.filename }),
    ...(values.output === undefined ? {} : { output: values.output }),
    sha256: values.sha256 === true,
    strongAlgorithm,
  });
  return 0;
}

function blockSizeOption(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = /^[0-9]+$/.test(value) ? Number(value) : NaN;
  if (!isPowerOfTwo(n) || n < MIN_BLOCK_SIZE || n > MAX_BLOCK_SIZE) {
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
