import type { IncomingHttpHeaders } from 'node:http';
import type { HttpConnection } from './http-connection.js';
import { classify } from './errors.js';
import { hangUp } from './http-connection.js';
import type { ResponseHead, ResponseParser } from './response-parser.js';

/** What is drained of a body no one reads (resume()) before the connection is given up instead. */
const DRAIN_LIMIT = 64 << 10;

/**
 * A response from HttpClient: status and headers (named as node:http's
 * IncomingMessage names them), and a body read on demand off its connection.
 *
 * Two ways to read the body: as copies (`for await (const b of response)`),
 * or, on the hot path, as views of the connection's read buffers
 * (`response.chunks()`), each valid only until the next one is asked for.
 * Either way the socket is read only as fast as the body is taken.
 *
 * A response read to its end gives its connection back for the next request;
 * destroy() ends it early (closing the connection unless it was done).
 */
export class HttpResponse implements AsyncIterable<Buffer> {
  readonly statusCode: number;
  readonly statusMessage: string;
  readonly httpVersion: string;
  readonly headers: IncomingHttpHeaders;
  private connection: HttpConnection | undefined;
  private readonly parser: ResponseParser;
  private readonly release: (connection: HttpConnection, reusable: boolean) => void;
  /** For error messages. */
  private readonly url: string;
  private reading = false;
  /** Where the parser stopped after the chunk the consumer holds: marked used when it asks for more, or leaves. */
  private unused = -1;

  /** @internal Made by HttpClient once the head has been parsed. */
  constructor(url: string, head: ResponseHead, connection: HttpConnection, parser: ResponseParser, release: (connection: HttpConnection, reusable: boolean) => void) {
    this.url = url;
    this.statusCode = head.statusCode;
    this.statusMessage = head.statusMessage;
    this.httpVersion = head.httpVersion;
    this.headers = head.headers;
    this.connection = connection;
    this.parser = parser;
    this.release = release;
    if (parser.done) this.finish();
  }

  /** The whole body has been read. */
  get complete(): boolean {
    return this.parser.done;
  }

  /**
   * The body as views of the connection's buffers: each one must be used (or
   * copied) before the next is asked for, which reuses its memory. Rejects
   * with an HttpError (a body cut short is a retryable ERR_ZSYNC_HTTP_NETWORK,
   * "socket hang up"), or AbortedError.
   */
  async *chunks(): AsyncGenerator<Buffer, void, undefined> {
    if (this.reading) throw new Error('the body of this response is already being read');
    this.reading = true;
    const p = this.parser;
    try {
      while (!p.done) {
        const c = this.connection;
        if (c === undefined) throw hangUp();
        const buf = c.buffer;
        if (buf === undefined) {
          if (!(await c.fill()) && !p.eof()) throw hangUp();
          continue;
        }
        const pos = p.feed(buf, c.pos, c.end);
        // Handed out before the bytes are marked used: the buffer is not read
        // into again until the consumer asks for more (or leaves: finish()).
        if (p.sliceEnd > p.sliceStart) {
          this.unused = pos;
          yield buf.subarray(p.sliceStart, p.sliceEnd);
          this.unused = -1;
        }
        c.advance(pos);
      }
      this.finish();
    } catch (err) {
      throw classify(err, this.url);
    } finally {
      // Left early (an error, a break, even at the body's last chunk): a body
      // read to its end keeps its connection, any other loses it.
      this.finish();
    }
  }

  /** The body as copies, for consumers that keep what they are given. */
  async *[Symbol.asyncIterator](): AsyncGenerator<Buffer, void, undefined> {
    for await (const b of this.chunks()) yield Buffer.from(b);
  }

  /**
   * Discards the body, in the background: a short one is read to its end so
   * that the connection carries the next request; a long one costs the
   * connection instead.
   */
  resume(): void {
    if (this.connection === undefined || this.reading) return;
    void (async () => {
      let n = 0;
      for await (const b of this.chunks()) {
        n += b.length;
        if (n > DRAIN_LIMIT) break;
      }
    })().catch(() => {});
  }

  /** Ends the exchange: a response read to its end keeps its connection alive, any other closes it. */
  destroy(): void {
    this.finish();
  }

  private finish(): void {
    const c = this.connection;
    if (c === undefined) return;
    this.connection = undefined;
    const done = this.parser.done;
    // The last chunk handed out is done with now.
    if (done && this.unused >= 0) c.advance(this.unused);
    this.unused = -1;
    // Bytes past the end of the response: the server does not frame its
    // answers as we read them, and the connection is not trusted again.
    this.release(c, done && this.parser.keepAlive && c.buffer === undefined);
  }
}
