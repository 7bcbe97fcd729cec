/**
 * The segments of a seed, handed out to two threads from both ends: the main
 * thread takes them from the front, in order, and so scans one growing prefix;
 * the scan worker takes them from the back, one at a time. Whoever is faster
 * (the worker starts late; the main thread also runs the event loop and the
 * writes) simply takes more, and the two meet wherever that is, instead of at a
 * split fixed in advance that left one thread idle at the end.
 *
 * Both ends live in one 32-bit word of a SharedArrayBuffer (the next front
 * segment, and one past the last unclaimed segment at the back), changed by
 * compare-and-swap, so no segment is ever claimed twice and none is left out.
 */
export class SegmentClaims {
  /** At most this many segments, so that each end fits in 16 bits. */
  static readonly MAX_SEGMENTS = 0x7fff;

  readonly shared: SharedArrayBuffer;
  private readonly word: Int32Array;

  /** A new set of `count` segments, or the other thread's view of `shared`. */
  constructor(countOrShared: number | SharedArrayBuffer) {
    if (typeof countOrShared === 'number') {
      const count = countOrShared;
      if (!Number.isInteger(count) || count < 1 || count > SegmentClaims.MAX_SEGMENTS) throw new RangeError(`segment count ${count} is not in 1..${SegmentClaims.MAX_SEGMENTS}`);
      this.shared = new SharedArrayBuffer(4);
      this.word = new Int32Array(this.shared);
      this.word[0] = pack(0, count);
    } else {
      this.shared = countOrShared;
      this.word = new Int32Array(this.shared);
    }
  }

  /** The lowest unclaimed segment, now the caller's; -1 when none is left. */
  claimFront(): number {
    return this.claim(true);
  }

  /** The highest unclaimed segment, now the caller's; -1 when none is left. */
  claimBack(): number {
    return this.claim(false);
  }

  /** Claims every segment left, so that a worker still scanning takes no new one. */
  closeAll(): void {
    for (;;) {
      const now = Atomics.load(this.word, 0);
      const front = now & 0xffff;
      if (Atomics.compareExchange(this.word, 0, now, pack(front, front)) === now) return;
    }
  }

  /** Takes one segment at the front or the back, by compare-and-swap of the word both ends live in. */
  private claim(front: boolean): number {
    for (;;) {
      const now = Atomics.load(this.word, 0);
      const first = now & 0xffff;
      const end = now >>> 16;
      if (first >= end) return -1;
      const next = front ? pack(first + 1, end) : pack(first, end - 1);
      if (Atomics.compareExchange(this.word, 0, now, next) === now) return front ? first : end - 1;
    }
  }
}

function pack(front: number, back: number): number {
  return (front | (back << 16)) | 0;
}
