import { ByteQueue } from '../engine/byte-queue.js';
import { TruncatedInputError } from '../errors.js';
import type { RemoteChunk } from '../engine/block-assembler.js';
import { isSpaceByte, parseContentRangeBytes, type ContentRange } from './content-range.js';
import { MultipartError } from './errors.js';

export interface MultipartDecoderOptions {
  /** The `boundary` parameter of the response's Content-Type. */
  boundary: string;
  /** Called with each part's range before any of its data; throw to refuse the part. */
  onPart?: (range: ContentRange) => void;
  /** Bound on a part's header block (and on the preamble). Default 16 KiB. */
  maxHeaderBytes?: number;
}

type State = 'preamble' | 'boundary-end' | 'headers' | 'body' | 'after-body' | 'epilogue';

/** The empty line that ends a part's header block. */
const HEADER_END = Buffer.from('\r\n\r\n', 'latin1');

/**
 * A `multipart/byteranges` body in, `{ offset, data }` chunks out, as they
 * arrive. Each part's length comes from its Content-Range, so part data is
 * never searched for the boundary: it passes through as views of the incoming
 * chunks. Only the small bits between parts are queued. No stream: the range
 * fetcher feeds it a response's chunks itself (MultipartByterangesParser is
 * the same as a Transform).
 */
export class MultipartDecoder {
  /** The parts seen so far. */
  readonly parts: ContentRange[] = [];

  /** True once the closing boundary has been read: nothing after it matters (the reader may stop). */
  get complete(): boolean {
    return this.state === 'epilogue';
  }
  private readonly dashBoundary: Buffer;
  private readonly delimiter: Buffer;
  private readonly onPart: ((range: ContentRange) => void) | undefined;
  private readonly maxHeaderBytes: number;
  private readonly queue = new ByteQueue();
  /** Where the chunks of the write() under way go. */
  private emit: (chunk: RemoteChunk) => void = () => {};
  private state: State = 'preamble';
  private position = 0;
  private remaining = 0;

  constructor(options: MultipartDecoderOptions) {
    if (!options.boundary || options.boundary.length > 200) throw new MultipartError('missing or oversized multipart boundary');
    this.dashBoundary = Buffer.from(`--${options.boundary}`, 'latin1');
    this.delimiter = Buffer.from(`\r\n--${options.boundary}`, 'latin1');
    this.onPart = options.onPart;
    this.maxHeaderBytes = options.maxHeaderBytes ?? 16384;
  }

  /** Takes the next bytes of the body; its part data goes to `emit`. Throws MultipartError at a fault. */
  write(chunk: Buffer, emit: (chunk: RemoteChunk) => void): void {
    this.emit = emit;
    this.feed(chunk);
  }

  /** The body has ended: throws TruncatedInputError unless it ended at its closing boundary. */
  end(): void {
    if (this.state !== 'epilogue') {
      throw new TruncatedInputError(this.state === 'body'
        ? `multipart body ended ${this.remaining} bytes short of the part at ${this.position}`
        : 'multipart body ended before its closing boundary');
    }
  }

  private feed(chunk: Buffer): void {
    let o = 0;
    while (o < chunk.length) {
      if (this.state === 'epilogue') return;
      if (this.state === 'body' && this.queue.length === 0) {
        // The common case: part data straight from the incoming chunk, no copy.
        const n = Math.min(this.remaining, chunk.length - o);
        this.data(chunk.subarray(o, o + n));
        o += n;
        continue;
      }
      // Through the queue only as far as the end of the next part's header
      // block: the part's data after it is then passed on as views of the
      // chunk, not copied in and out. (Should that end straddle two chunks,
      // the bytes queued past it are still data, only copied.)
      const headerEnd = chunk.indexOf(HEADER_END, o);
      const upTo = headerEnd < 0 ? chunk.length : headerEnd + HEADER_END.length;
      this.queue.append(chunk.subarray(o, upTo));
      o = upTo;
      this.drain();
    }
  }

  private data(bytes: Buffer): void {
    const out: RemoteChunk = { offset: this.position, data: bytes };
    this.position += bytes.length;
    this.remaining -= bytes.length;
    if (this.remaining === 0) this.state = 'after-body';
    this.emit(out);
  }

  /** Runs the state machine over the queued bytes as far as they go. */
  private drain(): void {
    const q = this.queue;
    for (;;) {
      switch (this.state) {
        case 'body': {
          if (q.length === 0) return;
          const n = Math.min(this.remaining, q.length);
          const bytes = q.slice(0, n);
          q.consume(n);
          this.data(bytes);
          break;
        }
        case 'preamble': {
          const at = q.indexOf(this.dashBoundary);
          if (at < 0) {
            this.bound(q.length, 'preamble');
            return;
          }
          q.consume(at + this.dashBoundary.length);
          this.state = 'boundary-end';
          break;
        }
        case 'after-body': {
          if (q.length < this.delimiter.length) return;
          if (!q.startsWith(this.delimiter)) {
            throw new MultipartError(`part ending at ${this.position} is not followed by the boundary`);
          }
          q.consume(this.delimiter.length);
          this.state = 'boundary-end';
          break;
        }
        case 'boundary-end': {
          if (q.length < 2) return;
          if (q.get(0) === 0x2d && q.get(1) === 0x2d) {
            this.state = 'epilogue';
            break;
          }
          this.state = 'headers';
          break;
        }
        case 'headers': {
          // The header block runs from the end of the boundary line to an empty line.
          const at = q.indexOf(HEADER_END);
          if (at < 0) {
            this.bound(q.length, 'part header');
            return;
          }
          this.bound(at, 'part header');
          const { view, start } = q.peek();
          const range = this.partRange(view, start, start + at);
          q.consume(at + HEADER_END.length);
          this.startPart(range);
          break;
        }
        case 'epilogue':
          q.consume(q.length);
          return;
      }
    }
  }

  /**
   * The Content-Range of a part's header block, latin1 bytes [from, to) of
   * `buf` (the block runs from the end of the boundary line to the empty
   * line), read in place: a sync reads thousands of parts, and as text (a
   * string, its lines, a regular expression's match) they were a sixth of
   * what its fetch allocated. What follows the boundary on its line may only
   * be white space; a header named Content-Range, in any case and with white
   * space around the name, is the part's (the last one, if several).
   */
  private partRange(buf: Uint8Array, from: number, to: number): ContentRange {
    let line = from;
    let lineEnd = lineEndAt(buf, line, to);
    for (let i = line; i < lineEnd; i++) {
      if (!isSpaceByte(buf[i]!)) throw new MultipartError(`unexpected text after a boundary: ${JSON.stringify(latin1(buf, line, Math.min(lineEnd, line + 80)))}`);
    }
    let range: ContentRange | undefined;
    while (lineEnd < to) {
      line = lineEnd + 2;
      lineEnd = lineEndAt(buf, line, to);
      let colon = line;
      while (colon < lineEnd && buf[colon] !== 0x3a) colon++;
      if (colon === line || colon === lineEnd || !namesContentRange(buf, line, colon)) continue;
      range = parseContentRangeBytes(buf, colon + 1, lineEnd);
      if (!range) throw new MultipartError(`bad Content-Range in a part: ${JSON.stringify(latin1(buf, line, Math.min(lineEnd, line + 120)))}`);
    }
    if (!range) throw new MultipartError('a part has no Content-Range');
    return range;
  }

  private startPart(range: ContentRange): void {
    this.onPart?.(range);
    this.parts.push(range);
    this.position = range.start;
    this.remaining = range.end - range.start;
    this.state = 'body';
  }

  private bound(n: number, what: string): void {
    if (n > this.maxHeaderBytes) throw new MultipartError(`multipart ${what} longer than ${this.maxHeaderBytes} bytes`);
  }
}

/** Where the line from `at` ends (its CR LF, or `to`). */
function lineEndAt(buf: Uint8Array, at: number, to: number): number {
  for (let i = at; i + 1 < to; i++) if (buf[i] === 0x0d && buf[i + 1] === 0x0a) return i;
  return to;
}

const CONTENT_RANGE = Buffer.from('content-range', 'latin1');

/** True when bytes [from, to), white space around them aside, are "content-range" in any case. */
function namesContentRange(buf: Uint8Array, from: number, to: number): boolean {
  while (from < to && isSpaceByte(buf[from]!)) from++;
  while (to > from && isSpaceByte(buf[to - 1]!)) to--;
  if (to - from !== CONTENT_RANGE.length) return false;
  for (let i = 0; i < CONTENT_RANGE.length; i++) {
    const c = buf[from + i]!;
    if ((c >= 0x41 && c <= 0x5a ? c | 0x20 : c) !== CONTENT_RANGE[i]) return false;
  }
  return true;
}

function latin1(buf: Uint8Array, from: number, to: number): string {
  return Buffer.from(buf.buffer, buf.byteOffset + from, to - from).toString('latin1');
}
