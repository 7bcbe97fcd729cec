import { Transform } from 'readable-stream';
import { settle, type StreamCallback as TransformCallback } from './stream-callbacks.js';

import { Checksummer, type ChecksummerOptions, type ChecksumRecord, type ChecksumSummary } from './checksummer.js';

export interface ChecksumStreamOptions extends ChecksummerOptions {
  /** Records buffered on the readable side before backpressure. Default 1024. */
  readableHighWaterMark?: number;
}

/**
 * New-file bytes in, block checksums out: one `{ kind: 'block', index, weak, strong }`
 * per block (weak and strong untruncated), then one `{ kind: 'summary', ... }`.
 * The output does not depend on how the input is chunked. The summary is also
 * emitted as a 'summary' event and kept in `.summary`.
 */
export class ChecksumStream extends Transform {
  summary: ChecksumSummary | undefined;
  private readonly checksummer: Checksummer;
  private readonly emitRecord = (record: ChecksumRecord): void => {
    this.push(record);
  };

  constructor(options: ChecksumStreamOptions) {
    super({ readableObjectMode: true, readableHighWaterMark: options.readableHighWaterMark ?? 1024 });
    this.checksummer = new Checksummer(options);
  }

  override _transform(chunk: Uint8Array, _encoding: BufferEncoding, callback: TransformCallback): void {
    settle(callback, () => this.checksummer.update(chunk, this.emitRecord));
  }

  override _flush(callback: TransformCallback): void {
    settle(callback, () => {
      const summary = this.checksummer.end(this.emitRecord);
      this.summary = summary;
      this.push(summary);
      this.emit('summary', summary);
    });
  }
}
