import { open } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { pipeline } from 'node:stream/promises';
import type { ChunkSink, RemoteChunk } from '../engine/block-assembler.js';
import { unpackRanges, type RangeList } from '../engine/packed-ranges.js';
import { TruncatedInputError } from '../errors.js';
import { displayUrl } from '../transport/display-url.js';
import { HttpRangeFetcher, type FetchCallOptions, type FetchStats, type RangeFetcherOptions } from '../transport/range-fetcher.js';
import { HttpError } from '../transport/errors.js';

/**
 * Where missing ranges come from: HTTP mirrors, or a local file (a file: URL).
 * `fetch()` may be called more than once (refetch rounds); `close()` at the end.
 */
export interface RangeSource {
  fetch(ranges: RangeList, deliver: ChunkSink, call?: FetchCallOptions): Promise<FetchStats>;
  close(): void;
}

/**
 * Picks the source for a control file's URLs (already resolved to absolute):
 * its http(s) URLs as mirrors when it has any, else its first file: URL, but
 * only when `allowLocal` (the .zsync itself is local: a downloaded one must
 * never make us read local files).
 */
export function rangeSourceFor(urls: readonly string[], options: RangeFetcherOptions & { length: number }, allowLocal = false): RangeSource {
  const web = urls.filter((u) => /^https?:/i.test(u));
  if (web.length > 0) return new HttpRangeFetcher(web, options);
  const file = allowLocal ? urls.find((u) => u.startsWith('file:')) : undefined;
  if (file !== undefined) return new LocalFileSource(fileURLToPath(file), options.length);
  throw new HttpError('ERR_ZSYNC_NO_URL', urls.length === 0 ? 'the control file names no URL for the data' : `no usable URL among ${urls.map(displayUrl).join(', ')}`, { url: displayUrl(urls[0] ?? '') });
}

/** Reads the ranges straight from a local copy of the target. */
export class LocalFileSource implements RangeSource {
  constructor(private readonly path: string, private readonly length: number) {}

  close(): void {}

  async fetch(ranges: RangeList, deliver: ChunkSink): Promise<FetchStats> {
    const stats: FetchStats = { requests: 0, bytesOnWire: 0, payloadBytes: 0, retries: 0, adaptations: [] };
    const handle = await open(this.path, 'r');
    try {
      const { size } = await handle.stat();
      if (size !== this.length) throw new TruncatedInputError(`${this.path} has ${size} bytes, the control file says ${this.length}`);
      // Imported here: it is a readable-stream, which the HTTP path does not load.
      const { BlockReader } = await import('../engine/block-reader.js');
      await pipeline(new BlockReader(handle, { blockSize: 1, length: size }, { ranges: unpackRanges(ranges) }), async (chunks: AsyncIterable<RemoteChunk>) => {
        for await (const chunk of chunks) {
          stats.requests++;
          stats.bytesOnWire += chunk.data.length;
          stats.payloadBytes += chunk.data.length;
          await deliver(chunk);
        }
      });
    } finally {
      await handle.close();
    }
    return stats;
  }
}
