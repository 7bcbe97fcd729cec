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
 * Bytes in, `{ type, payload }` frames out. The length and type are checked
 * as soon as the 5-byte header arrives, so a hostile length never makes us
 * wait for (or hold) more than `maxFrameBytes`. A stream that ends inside a
 * frame is a ProtocolError, not a short frame.
 */
export class FrameDecoder extends Transform {
  private readonly queue = new BufferList();
  private readonly maxFrameBytes: number;
  private readonly accept: Set<number>;
  /** Payload bytes of the frame being read, once its header is in; -1 before. */
  private pending = -1;
  private type: FrameTypeCode = FrameType.HELLO;

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
        // Length, then type, each refused as soon as it is in: never wait for a payload we will not take.
        if (this.queue.length < 4) return;
        const length = this.queue.readUInt32BE(0);
        if (length < 1) throw new ProtocolError('frame of length 0 (a frame has at least its type byte)');
        if (length > this.maxFrameBytes) throw new ProtocolError(`frame of ${length} bytes (at most ${this.maxFrameBytes} accepted)`, 'ERR_ZSYNC_FRAME_TOO_LARGE');
        if (this.queue.length < 5) return;
        const type = this.queue.readUInt8(4);
        if (!this.accept.has(type)) throw new ProtocolError(KNOWN.has(type) ? `unexpected frame type ${type}` : `unknown frame type ${type}`);
        this.type = type as FrameTypeCode;
        this.pending = length - 1;
        this.queue.consume(5);
      }
      if (this.queue.length < this.pending) return;
      // A copy of its own (not a view, not from Node's shared pool), so a payload
      // kept for a while pins neither the chunks it came in nor a pool slab.
      const payload = Buffer.allocUnsafeSlow(this.pending);
      this.queue.copy(payload, 0, 0, this.pending);
      this.queue.consume(this.pending);
      this.pending = -1;
      this.push({ type: this.type, payload } satisfies Frame);
    }
  }

  /**
   * The connection is gone (closed, reset) rather than ended in order. Inside
   * a frame that is a truncated frame, exactly as if it had ended there; between
   * frames the peer has just left. `cause`: the stream's error, if any; our
   * own typed errors (a stall we detected) are kept as they are.
   */
  connectionLost(cause?: Error): void {
    // Ended in order first: what is decoded is still to be read (a last ERROR, say), and _flush judged the rest.
    if (this.destroyed || this.writableEnded) return;
    if (cause instanceof ZsyncError) this.destroy(cause);
    else if (this.pending >= 0 || this.queue.length > 0) this.destroy(new ProtocolError('the connection was lost inside a frame', 'ERR_ZSYNC_TRUNCATED_FRAME'));
    else this.destroy(cause ? asPeerError(cause) : new PeerClosedError());
  }

  override _flush(callback: StreamCallback): void {
    if (this.pending >= 0 || this.queue.length > 0) callback(new ProtocolError('the stream ended inside a frame', 'ERR_ZSYNC_TRUNCATED_FRAME'));
    else callback();
  }
}
