import { createHash } from 'node:crypto';
import type { FileHashes } from '../engine/block-checksums.js';
import { FileHashMismatchError } from './errors.js';
import { readAhead } from './read-ahead.js';

/**
 * Checks a file against every whole-file hash the control file names (SHA-1
 * and/or SHA-256), reading it once. Returns the algorithms verified; none when
 * the control file names none.
 */
export async function verifyFileHashes(path: string, expected: FileHashes): Promise<string[]> {
  const hashes: Array<[string, string, ReturnType<typeof createHash>]> = [];
  if (expected.sha1 !== undefined) hashes.push(['SHA-1', expected.sha1, createHash('sha1')]);
  if (expected.sha256 !== undefined) hashes.push(['SHA-256', expected.sha256, createHash('sha256')]);
  if (hashes.length === 0) return [];
  for await (const chunk of readAhead(path, { reuse: true })) for (const [, , h] of hashes) h.update(chunk);
  for (const [name, want, h] of hashes) {
    const got = h.digest('hex');
    if (got !== want.toLowerCase()) throw new FileHashMismatchError(name, want, got);
  }
  return hashes.map(([name]) => name);
}
