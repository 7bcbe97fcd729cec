import { Writable } from 'readable-stream';
import { InvalidArgumentError } from '../errors.js';
import type { ControlHeader } from './header.js';
import { ControlFileParser, type ControlFile, type ControlFileParserOptions } from './parser.js';

type Callback = (error?: Error | null) => void;

/**
 * `.zsync` bytes in (from a file, an HTTP body, any stream), in chunks of any
 * size. Emits 'header' as soon as the header is read (before the records), and
 * on 'finish' `.result` holds the header and the BlockChecksums. A bad or
 * truncated file fails the stream with a ControlFileError.
 */
export class ControlFileParserStream extends Writable {
  result: ControlFile | undefined;
  private readonly parser: ControlFileParser;

  constructor(options: ControlFileParserOptions = {}) {
    super({ highWaterMark: 1 << 16 });
    this.parser = new ControlFileParser(options);
  }

  /** The header, once read. */
  get header(): ControlHeader | undefined {
    return this.parser.header;
  }

  override _write(chunk: Uint8Array, _encoding: BufferEncoding, callback: Callback): void {
    const hadHeader = this.parser.header !== undefined;
    try {
      this.parser.push(chunk);
    } catch (err) {
      callback(err as Error);
      return;
    }
    if (!hadHeader && this.parser.header) this.emit('header', this.parser.header);
    callback();
  }

  override _final(callback: Callback): void {
    try {
      this.result = this.parser.end();
    } catch (err) {
      callback(err as Error);
      return;
    }
    callback();
  }
}

/** Parses a control file from any byte source: a Node stream or other async iterable of chunks, chunks in memory, or one buffer. */
export async function parseControlFile(
  source: AsyncIterable<Uint8Array | string> | Iterable<Uint8Array> | Uint8Array,
  options: ControlFileParserOptions = {},
): Promise<ControlFile> {
  const parser = new ControlFileParser(options);
  if (source instanceof Uint8Array) {
    parser.push(source);
    return parser.end();
  }
  for await (const chunk of source) {
    if (typeof chunk === 'string') throw new InvalidArgumentError('the control file source gave text: read it without an encoding');
    parser.push(chunk);
  }
  return parser.end();
}
