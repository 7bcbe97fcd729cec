import { Transform } from 'readable-stream';
import type { RemoteChunk } from '../engine/block-assembler.js';
import type { ContentRange } from './content-range.js';
import { MultipartDecoder, type MultipartDecoderOptions } from './multipart-decoder.js';

type Callback = (error?: Error | null) => void;

export type MultipartParserOptions = MultipartDecoderOptions;

/**
 * A `multipart/byteranges` body in, `{ offset, data }` chunks out, streamed as
 * they arrive: MultipartDecoder as a Transform (part data passes through as
 * views of the incoming chunks).
 */
export class MultipartByterangesParser extends Transform {
  private readonly decoder: MultipartDecoder;
  private readonly out = (chunk: RemoteChunk): void => {
    this.push(chunk);
  };

  /** The parts seen so far. */
  get parts(): ContentRange[] {
    return this.decoder.parts;
  }

  /** True once the closing boundary has been read: nothing after it matters (the reader may stop). */
  get complete(): boolean {
    return this.decoder.complete;
  }

  constructor(options: MultipartParserOptions) {
    super({ readableObjectMode: true, readableHighWaterMark: 16 });
    this.decoder = new MultipartDecoder(options);
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: Callback): void {
    try {
      this.decoder.write(chunk, this.out);
    } catch (err) {
      callback(err as Error);
      return;
    }
    callback();
  }

  override _flush(callback: Callback): void {
    try {
      this.decoder.end();
    } catch (err) {
      callback(err as Error);
      return;
    }
    callback();
  }
}
