import { BufferList } from 'bl';
import { Transform } from 'readable-stream';
import { settle, type StreamCallback } from '../engine/stream-callbacks.js';
import { ZsyncError } from '../errors.js';
import { asPeerError, PeerClosedError, ProtocolError } from './errors.js';
import { FrameType, type Frame, type FrameTypeCode } from './protocol.js';


export interface FrameDecoderOptions {
  /** Longest frame accepted (type byte and payload). Larger lengths end the stream before any of it is buffered. */
  maxFrameBytes: number;
  /** Frame types this side may receive. Default: all. */
  accept?: readonly FrameTypeCode[];
  /** Frames decoded but not yet read, at most. Default 4. */
  highWaterMark?: number;
}

const KNOWN = new Set<number>(Object.values(FrameType));

/**
 * Bytes in, `{ type, payload }` frames out. The length prefix is checked
 * against the bound as soon as it arrives, so a hostile length never makes us
 * wait for (or hold) more than `maxFrameBytes`. A stream that ends inside a
 * frame is a ProtocolError, not a short frame.
 */
export class FrameDecoder extends Transform {
  private readonly queue = new BufferList();
  private readonly maxFrameBytes: number;
  private readonly accept: Set<number>;
  /** Length of the frame being read, once its prefix is in; -1 before. */
  private pending = -1;

  constructor(options: FrameDecoderOptions) {
    super({ readableObjectMode: true, readableHighWaterMark: options.highWaterMark ?? 4 });
    this.maxFrameBytes = options.maxFrameBytes;
    this.accept = new Set(options.accept ?? KNOWN);
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: StreamCallback): void {
    this.queue.append(chunk);
    settle(callback, () => this.drainFrames());
  }

  private drainFrames(): void {
    for (;;) {
      if (this.pending < 0) {
        if (this.queue.length < 4) return;
        this.pending = this.queue.readUInt32BE(0);
        this.queue.consume(4);
        if (this.pending < 1 || this.pending > this.maxFrameBytes) throw new ProtocolError(`frame of ${this.pending} bytes (at most ${this.maxFrameBytes} accepted)`, 'ERR_ZSYNC_FRAME_TOO_LARGE');
      }
      if (this.queue.length < this.pending) return;
      const type = this.queue.readUInt8(0);
      if (!this.accept.has(type)) throw new ProtocolError(KNOWN.has(type) ? `unexpected frame type ${type}` : `unknown frame type ${type}`);
      // A copy, so the payload does not pin the (possibly large) chunks it came in.
      const payload = this.queue.slice(1, this.pending);
      this.queue.consume(this.pending);
      this.pending = -1;
      this.push({ type: type as FrameTypeCode, payload } satisfies Frame);
    }
  }

  /**
   * The connection is gone (closed, reset) rather than ended in order. Inside
   * a frame that is a truncated frame, exactly as if it had ended there; between
   * frames the peer has just left. `cause`: the stream's error, if any; our
   * own typed errors (a stall we detected) are kept as they are.
   */
  connectionLost(cause?: Error): void {
    if (this.destroyed) return;
    if (cause instanceof ZsyncError) this.destroy(cause);
    else if (this.pending >= 0 || this.queue.length > 0) this.destroy(new ProtocolError('the connection was lost inside a frame', 'ERR_ZSYNC_TRUNCATED_FRAME'));
    else this.destroy(cause ? asPeerError(cause) : new PeerClosedError());
  }

  override _flush(callback: StreamCallback): void {
    if (this.pending >= 0 || this.queue.length > 0) callback(new ProtocolError('the stream ended inside a frame', 'ERR_ZSYNC_TRUNCATED_FRAME'));
    else callback();
  }
}
