import net from 'node:net';
import tls, { type SecureContext } from 'node:tls';
import { AbortedError } from '../errors.js';

/** Where a connection goes, and how (the parts of a URL that pick a socket). */
export interface Origin {
  https: boolean;
  /** Without brackets for IPv6. */
  host: string;
  port: number;
}

export interface ConnectionOptions {
  /** TLS: a context with the trusted CAs; Node's default when undefined. */
  secureContext?: SecureContext;
  /** TLS: accept any certificate. */
  insecure?: boolean;
  /** TLS: a session of an earlier connection to the same origin, to resume (a shorter handshake). */
  session?: Buffer;
  /** TLS: called with each session (ticket) the server issues on this connection. */
  onSession?: (session: Buffer) => void;
}

/**
 * Bytes a plain socket reads at most at once (and the size of its buffers).
 * A TLS socket hands out at most one record's worth (16 KiB) per read.
 */
const PLAIN_READ_BYTES = 64 << 10;
const TLS_READ_BYTES = 16 << 10;
/**
 * Filled buffers a connection holds before it stops reading: the socket reads
 * on while the bytes before are parsed and used (a pause and a restart after
 * every read cost a 1 GiB download 10-15% of its time), up to this many.
 */
const MAX_FILLED = 4;
/**
 * Read buffers a connection keeps for reuse: MAX_FILLED, the one being read
 * into, and a few more for a TLS socket, which delivers the records it has
 * decrypted in a row even after it was told to pause (4 seen).
 */
const SPARE_BUFFERS = 10;

/**
 * One keep-alive socket (plain or TLS) that reads into buffers it reuses:
 * Node's `onread` option, so that a read allocates nothing. A read goes into a
 * spare buffer, never one whose bytes are still unread or handed out; with
 * MAX_FILLED buffers full the socket pauses until the reader has used one
 * (advance()) or asks for more (fill()): the reader's backpressure, down to
 * the socket.
 *
 * The unread bytes are `buffer[pos, end)`; advance() marks them used. Errors
 * (the socket's, a stall, an abort) fail the pending fill() and every later one.
 */
export class HttpConnection {
  readonly origin: Origin;
  readonly socket: net.Socket;
  /** The buffer holding the unread bytes, if any. */
  buffer: Buffer | undefined;
  pos = 0;
  end = 0;
  /** Responses this connection has carried to their end. */
  served = 0;
  /** Bytes of a response have arrived on it since the last request was written. */
  answered = false;
  /** Filled buffers after `buffer` (reads ahead of the reader), with their lengths. */
  private readonly queued: Buffer[] = [];
  private readonly queuedLengths: number[] = [];
  private readonly spare: Buffer[] = [];
  private readonly readBytes: number;
  private failure: Error | undefined;
  private ended = false;
  private waiter: { ok: (more: boolean) => void; fail: (err: Error) => void } | undefined;
  private idle = false;
  /** Filled buffers held: `buffer` and the queued ones. */
  private filled = 0;
  /** Whether the socket was left reading (not paused by a full hand). */
  private reading = false;
  private stallTimer: NodeJS.Timeout | undefined;
  private stallMs = 0;
  private stallTimerMs = 0;
  private stallError: (() => Error) | undefined;
  private signal: AbortSignal | undefined;
  private onClose: (() => void) | undefined;

  constructor(origin: Origin, options: ConnectionOptions = {}) {
    this.origin = origin;
    this.readBytes = origin.https ? TLS_READ_BYTES : PLAIN_READ_BYTES;
    const onread = { buffer: this.nextBuffer, callback: this.onRead };
    if (origin.https) {
      this.socket = tls.connect({
        host: origin.host,
        port: origin.port,
        ...(net.isIP(origin.host) === 0 ? { servername: origin.host } : {}),
        ...(options.secureContext ? { secureContext: options.secureContext } : {}),
        rejectUnauthorized: options.insecure !== true,
        ALPNProtocols: ['http/1.1'],
        ...(options.session ? { session: options.session } : {}),
        onread,
        // Node takes `onread` for TLS sockets too (since 15.1); @types/node does not say so.
      } as tls.ConnectionOptions);
    } else {
      this.socket = net.connect({ host: origin.host, port: origin.port, onread });
    }
    if (origin.https && options.onSession) {
      const onSession = options.onSession;
      const socket = this.socket as tls.TLSSocket;
      // Only a session whose server was trusted (or trust was waived) is worth offering again.
      socket.on('session', (session: Buffer) => {
        if (socket.authorized || options.insecure === true) onSession(session);
      });
    }
    this.socket.setNoDelay(true);
    this.socket.on('error', (err) => this.fail(err));
    this.socket.on('end', () => {
      this.ended = true;
      this.wake();
    });
    this.socket.on('close', () => {
      if (!this.ended) this.fail(hangUp());
      this.onClose?.();
    });
  }

  /** False once the socket has failed, ended or been destroyed. */
  get usable(): boolean {
    return this.failure === undefined && !this.ended && !this.socket.destroyed;
  }

  /** Calls `listener` once the socket has closed (to take it out of a pool). */
  whenClosed(listener: () => void): void {
    this.onClose = listener;
  }

  /**
   * Sends a request head. A stall (no byte for `stallMs` while waiting for
   * one) fails with `stall()`; the signal's abort destroys the connection.
   */
  send(head: string, stallMs: number, stall: () => Error, signal: AbortSignal | undefined): void {
    this.idle = false;
    this.answered = false;
    this.stallMs = stallMs;
    this.stallError = stall;
    this.watch(signal);
    this.socket.ref();
    this.socket.write(head, 'latin1');
  }

  /**
   * Resolves true once unread bytes are there, false at the end of the stream;
   * rejects with the connection's failure.
   */
  fill(): Promise<boolean> {
    if (this.buffer !== undefined) return Promise.resolve(true);
    if (this.failure) return Promise.reject(this.failure);
    if (this.ended) return Promise.resolve(false);
    return new Promise((ok, fail) => {
      this.waiter = { ok, fail };
      this.armStall();
      this.read();
    });
  }

  /** Marks the unread bytes up to `pos` as used; a buffer used up goes back for reuse. */
  advance(pos: number): void {
    this.pos = pos;
    if (pos < this.end || this.buffer === undefined) return;
    this.recycle(this.buffer);
    this.filled--;
    const next = this.queued.shift();
    this.buffer = next;
    this.pos = 0;
    this.end = next === undefined ? 0 : this.queuedLengths.shift()!;
    // A buffer is free again: a socket that stopped with its hands full reads on.
    if (this.filled < MAX_FILLED && this.failure === undefined) this.read();
  }

  /** Between requests: the socket reads on, so that a close by the server (or stray bytes) is noticed at once. */
  rest(): void {
    this.watch(undefined);
    this.idle = true;
    this.socket.unref();
    this.read();
  }

  destroy(err?: Error): void {
    if (err) this.fail(err);
    this.watch(undefined);
    this.socket.destroy();
    if (this.stallTimer) clearTimeout(this.stallTimer);
  }

  private readonly onRead = (n: number, buf: Buffer): boolean => {
    if (this.idle) {
      // Nothing was asked: a server that talks out of turn is not trusted again.
      this.destroy(new Error('unexpected bytes on an idle connection'));
      return false;
    }
    this.answered = true;
    if (this.buffer === undefined) {
      this.buffer = buf;
      this.pos = 0;
      this.end = n;
    } else {
      this.queued.push(buf);
      this.queuedLengths.push(n);
    }
    this.filled++;
    this.wake();
    // Read on into a spare buffer while few are full; past that, the socket
    // waits for the reader (its backpressure): advance() or fill() reads on.
    this.reading = this.filled < MAX_FILLED;
    return this.reading;
  };

  private read(): void {
    if (this.reading) return;
    this.reading = true;
    this.socket.resume();
  }

  /** The buffer the socket reads into next: never one whose bytes are still unread. */
  private readonly nextBuffer = (): Buffer => this.spare.pop() ?? Buffer.allocUnsafeSlow(this.readBytes);

  private recycle(buf: Buffer): void {
    if (this.spare.length < SPARE_BUFFERS) this.spare.push(buf);
  }

  private wake(): void {
    const w = this.waiter;
    if (!w) return;
    if (this.buffer !== undefined) {
      this.waiter = undefined;
      w.ok(true);
    } else if (this.failure) {
      this.waiter = undefined;
      w.fail(this.failure);
    } else if (this.ended) {
      this.waiter = undefined;
      w.ok(false);
    }
  }

  private fail(err: Error): void {
    this.failure ??= err;
    this.wake();
    if (!this.socket.destroyed) this.socket.destroy();
  }

  /**
   * One timer per connection, restarted when a wait begins, rather than a
   * timer per read: it fails the connection only if that wait is still on.
   */
  private armStall(): void {
    if (this.stallMs <= 0) return;
    if (this.stallTimer === undefined || this.stallTimerMs !== this.stallMs) {
      if (this.stallTimer) clearTimeout(this.stallTimer);
      this.stallTimerMs = this.stallMs;
      this.stallTimer = setTimeout(() => {
        if (this.waiter) this.fail(this.stallError?.() ?? new Error('stalled'));
      }, this.stallMs);
      this.stallTimer.unref();
    } else this.stallTimer.refresh();
  }

  private readonly onAbort = (): void => {
    this.destroy(new AbortedError(this.signal?.reason));
  };

  private watch(signal: AbortSignal | undefined): void {
    if (this.signal === signal) return;
    this.signal?.removeEventListener('abort', this.onAbort);
    this.signal = signal;
    if (!signal) return;
    if (signal.aborted) this.onAbort();
    else signal.addEventListener('abort', this.onAbort, { once: true });
  }
}

/** The error of a connection closed before a response ended: retryable, as node:http's. */
export function hangUp(): Error {
  return Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
}
