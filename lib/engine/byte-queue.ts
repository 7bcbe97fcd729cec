/**
 * A FIFO of bytes in one growable buffer: what the control-file and multipart
 * parsers keep between the chunks they are given (a header line in progress,
 * the bytes between two parts). It replaced bl's BufferList there, whose
 * module loads readable-stream (50 ms of every sync's start-up) for its stream
 * half. Holds little: what is consumed is dropped at the next append.
 */
export class ByteQueue {
  private buf = Buffer.alloc(0);
  private start = 0;
  private end = 0;

  get length(): number {
    return this.end - this.start;
  }

  /** Copies `chunk` in: the caller may reuse it. */
  append(chunk: Uint8Array): void {
    const n = chunk.length;
    if (this.end + n > this.buf.length) {
      const used = this.length;
      if (used + n <= this.buf.length >>> 1) {
        this.buf.copyWithin(0, this.start, this.end);
      } else {
        const next = Buffer.allocUnsafe(Math.max(2 * this.buf.length, used + n, 256));
        this.buf.copy(next, 0, this.start, this.end);
        this.buf = next;
      }
      this.start = 0;
      this.end = used;
    }
    this.buf.set(chunk, this.end);
    this.end += n;
  }

  /** Drops the first `n` bytes (all of them if fewer). */
  consume(n: number): void {
    this.start = Math.min(this.end, this.start + Math.max(0, n));
    if (this.start === this.end) this.start = this.end = 0;
  }

  /** A copy of bytes [from, to) of the queue: it stays valid whatever the queue does next. */
  slice(from = 0, to = this.length): Buffer {
    return Buffer.from(this.view(from, to));
  }

  /** True when the queue starts with `prefix` (compared where it lies, no copy). */
  startsWith(prefix: Uint8Array): boolean {
    if (this.length < prefix.length) return false;
    const buf = this.buf;
    const at = this.start;
    for (let i = 0; i < prefix.length; i++) if (buf[at + i] !== prefix[i]) return false;
    return true;
  }

  /**
   * The queued bytes as they lie, valid until the queue next changes: bytes
   * [from, to) of the queue are view[start + from .. start + to). For reading
   * in place, without slice()'s copy.
   */
  peek(): { view: Buffer; start: number } {
    return { view: this.buf, start: this.start };
  }

  /** The byte at `i`, or undefined past the end. */
  get(i: number): number | undefined {
    return i >= 0 && i < this.length ? this.buf[this.start + i] : undefined;
  }

  /** Where `needle` first occurs at or after `from`, or -1. */
  indexOf(needle: string | number | Uint8Array, from = 0): number {
    return this.view(0, this.length).indexOf(needle, from);
  }

  toString(encoding: BufferEncoding = 'utf8', from = 0, to = this.length): string {
    return this.view(from, to).toString(encoding);
  }

  private view(from: number, to: number): Buffer {
    const len = this.length;
    const a = Math.max(0, Math.min(len, from));
    const b = Math.max(a, Math.min(len, to));
    return this.buf.subarray(this.start + a, this.start + b);
  }
}
