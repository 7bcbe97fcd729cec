import type { Duplex } from 'node:stream';
import { asPeerError, PeerClosedError, PeerStalledError } from './errors.js';
import { frame, type FrameTypeCode } from './protocol.js';

/**
 * Writes frames to a duplex one at a time, waiting for 'drain' whenever the
 * stream's buffer is full: a peer that reads slowly slows us down instead of
 * making us queue. A peer that reads nothing for `stallMs` is destroyed with
 * PeerStalledError. Frames sent from concurrent tasks never interleave.
 */
export class FrameSender {
  private tail: Promise<void> = Promise.resolve();

  constructor(private readonly stream: Duplex, private readonly stallMs: number) {}

  /** Resolves once the frame is handed to the stream and the stream can take more. */
  send(type: FrameTypeCode, ...parts: Uint8Array[]): Promise<void> {
    const next = this.tail.then(() => this.write(frame(type, ...parts)));
    // A failed send fails its caller; the next in line still runs (and fails on the destroyed stream).
    this.tail = next.catch(() => {});
    return next;
  }

  /** Runs `task` with no other frame sent in between (e.g. a CONTROL in several pieces). */
  exclusive<T>(task: (write: (type: FrameTypeCode, ...parts: Uint8Array[]) => Promise<void>) => Promise<T>): Promise<T> {
    const next = this.tail.then(() => task((type, ...parts) => this.write(frame(type, ...parts))));
    this.tail = next.then(() => {}, () => {});
    return next;
  }

  private async write(buffers: Buffer[]): Promise<void> {
    const s = this.stream;
    if (s.destroyed || s.writableEnded) throw new PeerClosedError();
    let ok = true;
    for (const b of buffers) ok = s.write(b);
    if (ok) return;
    await new Promise<void>((resolve, reject) => {
      // A stall is no progress for stallMs, not a slow drain: a peer that reads
      // slowly but steadily is served, one that reads nothing is dropped.
      const progress = (): number => s.writableLength - ((s as { bytesWritten?: number }).bytesWritten ?? 0);
      let seen = progress();
      const check = (): void => {
        const now = progress();
        if (now !== seen) {
          seen = now;
          timer = setTimeout(check, this.stallMs);
          return;
        }
        const err = new PeerStalledError(this.stallMs);
        done(err);
        s.destroy(err);
      };
      let timer = setTimeout(check, this.stallMs);
      const done = (err?: Error): void => {
        clearTimeout(timer);
        s.off('drain', onDrain);
        s.off('close', onClose);
        s.off('error', onError);
        if (err) reject(err);
        else resolve();
      };
      const onDrain = (): void => done();
      const onClose = (): void => done(new PeerClosedError());
      // A reset while we wait is the peer leaving, not a failure of ours.
      const onError = (err: Error): void => done(asPeerError(err));
      s.on('drain', onDrain);
      s.on('close', onClose);
      s.on('error', onError);
    });
  }
}

/** Grace for a peer to read our last frame and close its side, before we close ours. */
const CLOSE_GRACE_MS = 2000;

/**
 * Ends our side. The peer gets `CLOSE_GRACE_MS` after our last byte is written
 * to close its own side (a half-open peer is cut off then), and at most
 * `stallMs` to read what is still queued.
 */
export function closeGracefully(stream: Duplex, stallMs: number): void {
  const cut = (): void => {
    stream.destroy();
  };
  const late = setTimeout(cut, stallMs + CLOSE_GRACE_MS).unref();
  stream.once('finish', () => {
    clearTimeout(late);
    setTimeout(cut, CLOSE_GRACE_MS).unref();
  });
  stream.end();
}
