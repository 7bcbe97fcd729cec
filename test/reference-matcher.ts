/**
 * A brute-force statement of zsync 0.6.2's matching rules, against which the
 * fast Matcher (lib/engine/matcher.ts) is held by the property tests. It has no
 * rolling sums, no index, no filter and no buffer management: every window's
 * sums are computed from scratch and every block is compared. If this and the
 * Matcher disagree, one of them mis-states a rule; this one is meant to be
 * read and checked by eye.
 *
 * Rules (see the class comment of Matcher and of BlockIndex):
 * - seed offsets x = 0, 1, 2, ... while x < seed.length; the seed is zero padded
 *   at its end, so a window reaching past it sees zeros;
 * - a window "equals" a block when its rsum masked to weakBytes and the first
 *   strongBytes of its digest equal what BlockChecksums stores for that block;
 * - seqMatches 1: every unfound block equal to window x is found, then x jumps a
 *   block ahead; with none, x moves one byte;
 * - seqMatches 2: a pending continuation block `next` is tried first, alone;
 *   otherwise every unfound block id (id + 1 < blockCount), ascending, such that
 *   window x equals id and window x + blockSize equals id + 1, is taken with its
 *   successor (if missing), and the run continues at id + 2 only when id + 1
 *   and id + 2 were both missing. A pair jumps two blocks ahead.
 */
import { rsumBlock, weakMask } from '../lib/checksums/rsum.js';
import { strongHasher } from '../lib/checksums/strong.js';
import type { BlockChecksums } from '../lib/engine/block-checksums.js';

export interface ReferenceMatch {
  index: number;
  seedOffset: number;
}

/** The sums of one window of the seed, as BlockChecksums stores a block's. */
interface WindowSums {
  weak: number;
  /** Computed on first use: most windows fail on the weak sum. */
  strong?: Uint8Array;
}

/**
 * `equals(x, id)`: does the seed's window at x (zero padded past the seed's end)
 * have block id's stored weak and strong sums? Window sums are computed
 * directly from the window's bytes and remembered per offset.
 */
function windowComparer(checksums: BlockChecksums, seed: Uint8Array): (x: number, id: number) => boolean {
  const { blockSize, weakBytes, strongBytes, strongAlgorithm } = checksums.params;
  const hasher = strongHasher(strongAlgorithm);
  const windowAt = (x: number): Uint8Array => {
    const bytes = new Uint8Array(blockSize); // zeros past the seed's end
    if (x < seed.length) bytes.set(seed.subarray(x, Math.min(x + blockSize, seed.length)));
    return bytes;
  };
  const cache = new Map<number, WindowSums>();
  return (x, id) => {
    let sums = cache.get(x);
    if (!sums) {
      sums = { weak: rsumBlock(windowAt(x), 0, blockSize) & weakMask(weakBytes) };
      cache.set(x, sums);
    }
    if (sums.weak !== checksums.weak[id]) return false;
    sums.strong ??= Uint8Array.from(hasher.digest(windowAt(x)).subarray(0, strongBytes));
    const stored = checksums.strong.subarray(id * strongBytes, (id + 1) * strongBytes);
    return Buffer.from(sums.strong).equals(stored);
  };
}

/**
 * Scans the seeds one after another, as zsync does with several `-i`: blocks
 * found in one seed are not sought in the next. Returns every block found, in
 * the order found, with the seed offset of its bytes (in its own seed).
 */
export function referenceMatch(checksums: BlockChecksums, seeds: readonly Uint8Array[], found: Set<number> = new Set()): ReferenceMatch[] {
  const { blockSize, seqMatches } = checksums.params;
  const blockCount = checksums.blockCount;
  const out: ReferenceMatch[] = [];
  const take = (index: number, seedOffset: number): void => {
    found.add(index);
    out.push({ index, seedOffset });
  };

  for (const seed of seeds) {
    const equals = windowComparer(checksums, seed);
    let next = -1; // the continuation block, per seed
    let x = 0;
    while (x < seed.length) {
      if (seqMatches === 1) {
        let any = false;
        for (let id = 0; id < blockCount; id++) {
          if (!found.has(id) && equals(x, id)) {
            take(id, x);
            any = true;
          }
        }
        x += any ? blockSize : 1;
        continue;
      }

      // seqMatches 2: first the continuation of the last run, alone.
      if (next >= 0) {
        const id = next;
        next = -1;
        if (!found.has(id) && equals(x, id)) {
          take(id, x);
          if (id + 1 < blockCount && !found.has(id + 1)) next = id + 1;
          x += blockSize;
          continue;
        }
      }

      // Then every pair (id, id + 1) that windows x and x + blockSize hold.
      next = -1;
      let any = false;
      for (let id = 0; id + 1 < blockCount; id++) {
        if (found.has(id)) continue;
        if (!equals(x, id) || !equals(x + blockSize, id + 1)) continue;
        any = true;
        const secondMissing = !found.has(id + 1);
        const thirdMissing = id + 2 < blockCount && !found.has(id + 2);
        take(id, x);
        if (secondMissing) {
          take(id + 1, x + blockSize);
          if (thirdMissing) next = id + 2;
        }
      }
      x += any ? 2 * blockSize : 1;
    }
  }
  return out;
}
