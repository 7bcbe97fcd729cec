import type { BlockIndex } from '../engine/block-index.js';
import { BlockRunWriter } from '../engine/block-run-writer.js';
import { Matcher, type MatchSink } from '../engine/matcher.js';
import { blockBytes } from '../engine/params.js';
import type { PositionalWriter } from '../engine/positional.js';
import type { TargetState } from '../engine/target-state.js';
import { AbortedError } from '../errors.js';
import { readAhead } from './read-ahead.js';

export interface MatchSeedOptions {
  signal?: AbortSignal | undefined;
  /** Called after each chunk of the seed, with the bytes read so far. */
  onProgress?: (bytesRead: number) => void;
  /** Scan only the seed's bytes from `start`... Default 0. */
  start?: number;
  /**
   * ...up to `end`, a slice of the seed (SplitScan's halves). A slice that
   * stops before the seed's end is not zero padded there as the seed's end is:
   * its last windows, those that reach past `end`, are left untested, so the
   * slice after it must start a few windows earlier. Default: the seed's end.
   */
  end?: number;
  /**
   * Whether the chunks read reached the seed's end, whose last windows are
   * zero padded, for a reader that finds its end as it goes (the split scan's
   * main thread). Default: when `end` is not given.
   */
  atSeedEnd?: () => boolean;
  /**
   * Several stretches of the seed instead of `start` and `end`, scanned one
   * after another, each on its own (the matcher restarts), into one run writer:
   * the scan worker's segments. A stretch without `end` goes to the seed's end.
   */
  stretches?: Iterable<SeedStretch>;
  /** Reads the seed's chunks instead of readAhead (the scan worker reads synchronously). */
  read?: (path: string, start: number, end: number | undefined) => AsyncIterable<Buffer> | Iterable<Buffer>;
}

export interface SeedStretch {
  start: number;
  end: number | undefined;
}

export interface MatchSeedResult {
  bytesRead: number;
  /** Bytes of the target this seed supplied. */
  bytesReused: number;
  blocks: number;
}

/** Chunks scanned between turns given to the event loop when reads are synchronous (about 8 MiB: a few ms). */
const YIELD_EVERY = 8;

/** Seed bytes per read (the matcher scans each where it lies). */
const CHUNK = 1 << 20;

/**
 * Matches one seed file into `output` (the target's working file): what
 * MatcherStream into LocalPatcherStream does, as one loop without streams. The
 * seed is read into reused buffers, which the matcher scans where they lie, so
 * scanning allocates nothing per MiB; each chunk's matches are copied into the
 * run writer before the next chunk is read. Through the streams (through2
 * counters, two objectMode hops per block, a fresh buffer per MiB read and per
 * MiB matched) the 256 MiB seed took twice the matcher's own time when this
 * loop replaced them.
 */
export async function matchSeed(path: string, index: BlockIndex, state: TargetState, output: PositionalWriter, options: MatchSeedOptions = {}): Promise<MatchSeedResult> {
  const params = index.checksums.params;
  const matcher = new Matcher(index, { state });
  // Direct: the seed's chunks are reused, so each chunk's runs are written (release) before the next read.
  const writer = new BlockRunWriter(output, params, undefined, { direct: true });
  let bytesRead = 0;
  let bytesReused = 0;
  let blocks = 0;
  // Direct (the scan threads' synchronous writer): each match goes to the run
  // writer as the matcher hands it over, with nothing kept. Otherwise a write's
  // matches are kept, in arrays that keep their size from chunk to chunk, and
  // copied into the run writer (which may ask to wait) before the next read.
  // Arrays grown anew for every MiB, and an iterator result per block, were
  // most of what the main thread allocated while scanning: enough survived
  // its young-generation collections for V8 to double that generation (8 MB
  // more of RSS) during a 1 GiB scan, not during a 256 MiB one.
  let pending = 0;
  let foundIds = new Int32Array(256);
  let foundAt = new Int32Array(256);
  const foundBufs: Array<Buffer | undefined> = [];
  const collect: MatchSink = writer.direct
    ? (index, _seedOffset, buf, at) => {
        bytesReused += blockBytes(params, index);
        blocks++;
        writer.addFrom(index, buf, at);
      }
    : (index, _seedOffset, buf, at) => {
        if (pending === foundIds.length) {
          foundIds = grown(foundIds);
          foundAt = grown(foundAt);
        }
        foundIds[pending] = index;
        foundAt[pending] = at;
        foundBufs[pending++] = buf;
      };
  const drain = async (): Promise<void> => {
    for (let i = 0; i < pending; i++) {
      const index = foundIds[i]!;
      bytesReused += blockBytes(params, index);
      blocks++;
      const wait = writer.addFrom(index, foundBufs[i]!, foundAt[i]!);
      foundBufs[i] = undefined; // no chunk kept alive past its turn
      if (wait) await wait;
    }
    pending = 0;
    writer.release(); // the matched bytes are the chunk's, and the next read reuses it
  };
  /**
   * Up to YIELD_EVERY chunks of a synchronous reader into a direct writer (the
   * split scan's threads), scanned in one plain call; false once the stretch
   * or the target is done. Not in the loop below: there, the scan of a 1 GiB
   * seed made the whole of this async function hot enough to be compiled
   * anew near its end, and its compilation took 1-2 MB in each thread.
   */
  const scanBatch = (it: Iterator<Buffer>): boolean => {
    for (let k = 0; k < YIELD_EVERY; k++) {
      // Reading a big seed takes a while: an abort stops it too, before the next read.
      if (options.signal?.aborted) throw new AbortedError(options.signal.reason);
      const next = it.next();
      if (next.done === true) return false;
      bytesRead += next.value.length;
      matcher.writeTo(next.value, collect);
      writer.release(); // the matched bytes are the chunk's, and the next read reuses it
      options.onProgress?.(bytesRead);
      if (state.complete) return false; // nothing left to find: the rest of the seed is moot
    }
    return true;
  };
  try {
    const stretches = options.stretches ?? [{ start: options.start ?? 0, end: options.end }];
    let sinceYield = 0;
    for (const stretch of stretches) {
      matcher.restart();
      const chunks = options.read ? options.read(path, stretch.start, stretch.end) : readAhead(path, { chunkSize: CHUNK, reuse: true, start: stretch.start, end: stretch.end });
      if (writer.direct && Symbol.iterator in chunks) {
        const it = chunks[Symbol.iterator]();
        try {
          // Synchronous reads never give the event loop a turn on their own:
          // between batches (a few MiB), let timers, signals (Ctrl-C) and
          // sockets run.
          while (scanBatch(it)) await new Promise<void>((resolve) => setImmediate(resolve));
        } finally {
          it.return?.();
        }
      } else {
        for await (const chunk of chunks) {
          // Synchronous reads into a writer that is not direct: a turn for the
          // event loop every few MiB, as above.
          if (options.read && ++sinceYield >= YIELD_EVERY) {
            sinceYield = 0;
            await new Promise<void>((resolve) => setImmediate(resolve));
          }
          // Reading a big seed takes a while: an abort stops it too.
          if (options.signal?.aborted) throw new AbortedError(options.signal.reason);
          bytesRead += chunk.length;
          matcher.writeTo(chunk, collect);
          await drain();
          options.onProgress?.(bytesRead);
          if (state.complete) break; // nothing left to find: the rest of the seed is moot
        }
      }
      if (options.atSeedEnd ? options.atSeedEnd() : stretch.end === undefined) matcher.endTo(collect);
      await drain();
      if (state.complete) break;
    }
  } catch (err) {
    // No write may still be running once this returns: the caller closes the file.
    await writer.end().catch(() => {});
    throw err;
  }
  await writer.end();
  return { bytesRead, bytesReused, blocks };
}

/** A copy of `a` twice as long. */
function grown(a: Int32Array): Int32Array<ArrayBuffer> {
  const b = new Int32Array(a.length * 2);
  b.set(a);
  return b;
}
