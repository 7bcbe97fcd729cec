import type { ByteRange } from '../engine/target-state.js';
import { rangeBytes, rangeCount, rangeEnd, rangeStart, unpackRanges, type PackedRanges, type RangeList } from '../engine/packed-ranges.js';

export { rangeBytes };

/**
 * Merges ranges whose gap is at most `gap` bytes: fetching a few unneeded bytes
 * costs less than another range (each part of a multipart answer carries some
 * 80-100 bytes of headers). Input sorted or not; output sorted, disjoint.
 */
export function mergeRanges(ranges: RangeList, gap: number): ByteRange[] {
  const out: ByteRange[] = [];
  mergeEach(ranges, gap, (start, end) => {
    out.push({ start, end });
  });
  return out;
}

/** mergeRanges, packed: no object per range (see PackedRanges). */
export function mergePacked(ranges: RangeList, gap: number): PackedRanges {
  const most = new Float64Array(2 * rangeCount(ranges));
  let n = 0;
  mergeEach(ranges, gap, (start, end) => {
    most[n++] = start;
    most[n++] = end;
  });
  return n === most.length ? most : most.slice(0, n);
}

/**
 * Calls `emit` with each merged range in order. Sorted input (the usual case)
 * is not copied to be sorted.
 */
function mergeEach(ranges: RangeList, gap: number, emit: (start: number, end: number) => void): void {
  let sorted = ranges;
  const count = rangeCount(ranges);
  for (let i = 1; i < count; i++) {
    if (rangeStart(ranges, i) < rangeStart(ranges, i - 1)) {
      sorted = [...unpackRanges(ranges)].sort((a, b) => a.start - b.start);
      break;
    }
  }
  let start = 0;
  let end = -1;
  for (let i = 0; i < count; i++) {
    const rs = rangeStart(sorted, i);
    const re = rangeEnd(sorted, i);
    if (re <= rs) continue;
    if (end >= 0 && rs - end <= gap) {
      end = Math.max(end, re);
      continue;
    }
    if (end >= 0) emit(start, end);
    start = rs;
    end = re;
  }
  if (end >= 0) emit(start, end);
}

/** The value of a `Range` header asking for these ranges (END inclusive on the wire). */
export function rangeHeader(ranges: readonly ByteRange[]): string {
  let header = 'bytes=';
  for (let i = 0; i < ranges.length; i++) header += `${i === 0 ? '' : ','}${ranges[i]!.start}-${ranges[i]!.end - 1}`;
  return header;
}

/** The length of `start-last` in a Range header, as rangeHeader() writes it, without writing it. */
export function rangeSpecLength(range: ByteRange): number {
  return decimalDigits(range.start) + 1 + decimalDigits(range.end - 1);
}

function decimalDigits(n: number): number {
  let d = 1;
  while (n >= 10) {
    n = Math.floor(n / 10);
    d++;
  }
  return d;
}

/**
 * What is still wanted of one request: a sorted list of disjoint ranges from
 * which every delivered piece is subtracted. Whatever is left when a response
 * ends, early or not, is asked for again: this is how a short answer, a server
 * that sends only the first range, or a reset connection resumes exactly.
 *
 * Pieces arrive in file order almost always, so the list keeps a cursor (`head`)
 * past the ranges already taken: taking a piece at the front is O(1), finding
 * one elsewhere a binary search. A server that ignores Range and sends the whole
 * file for 20 000 ranges costs O(chunks + ranges), not their product.
 */
export class Wanted {
  private ranges: ByteRange[];
  private head = 0;
  private remaining: number;

  constructor(ranges: readonly ByteRange[]) {
    this.ranges = mergeRanges(ranges, 0);
    this.remaining = rangeBytes(this.ranges);
  }

  /** What is still wanted, in order: this list's own ranges, valid until the next take or add. */
  get list(): readonly ByteRange[] {
    return this.head === 0 ? this.ranges : this.ranges.slice(this.head);
  }

  get empty(): boolean {
    return this.head >= this.ranges.length;
  }

  get bytes(): number {
    return this.remaining;
  }

  /** True when [start, end) overlaps something still wanted. */
  overlaps(start: number, end: number): boolean {
    const i = this.search(start);
    return i < this.ranges.length && this.ranges[i]!.start < end && start < end;
  }

  /** Adds ranges to what is wanted. */
  add(ranges: readonly ByteRange[]): void {
    // An array, not arguments: a server that ignores Range can bring every
    // range still queued here, 100 000 and more, past what a call can spread.
    this.ranges = mergeRanges([...this.list, ...ranges], 0);
    this.head = 0;
    this.remaining = rangeBytes(this.ranges);
  }

  /** Removes [start, end) from what is wanted. */
  remove(start: number, end: number): void {
    this.take(start, end);
  }

  /**
   * Removes [start, end) from what is wanted and returns the pieces of it that
   * were wanted, in order.
   */
  take(start: number, end: number): ByteRange[] {
    const flat: number[] = [];
    this.takeInto(start, end, flat);
    const out: ByteRange[] = [];
    for (let k = 0; k < flat.length; k += 2) out.push({ start: flat[k]!, end: flat[k + 1]! });
    return out;
  }

  /**
   * take(), the pieces appended to `out` as start, end pairs: no object per
   * piece, and none at all for a piece at the front of what is wanted (the
   * fetch's usual case, one per chunk of every answer).
   */
  takeInto(start: number, end: number, out: number[]): void {
    if (end <= start) return;
    const rs = this.ranges;
    const i0 = this.search(start);
    const before = out.length;
    let i = i0;
    while (i < rs.length && rs[i]!.start < end) {
      const r = rs[i]!;
      out.push(Math.max(r.start, start), Math.min(r.end, end));
      i++;
    }
    if (out.length === before) return;
    const i1 = i - 1;
    const first = rs[i0]!;
    const last = rs[i1]!;
    const leftCut = first.start < start;
    const rightCut = last.end > end;
    if (i0 === this.head && !leftCut) {
      // The in-order case: move the cursor, copy nothing. The ranges are this
      // list's own objects, so the one cut short is trimmed in place.
      if (rightCut) {
        last.start = end;
        this.head = i1;
      } else {
        this.head = i1 + 1;
      }
      if (this.head > 1024 && this.head * 2 > rs.length) {
        this.ranges = rs.slice(this.head);
        this.head = 0;
      }
    } else {
      const replacement: ByteRange[] = [];
      if (leftCut) replacement.push({ start: first.start, end: start });
      if (rightCut) replacement.push({ start: end, end: last.end });
      rs.splice(i0, i1 - i0 + 1, ...replacement);
    }
    for (let k = before; k < out.length; k += 2) this.remaining -= out[k + 1]! - out[k]!;
  }

  /** The end of the last wanted byte, or 0. */
  get last(): number {
    return this.empty ? 0 : this.ranges[this.ranges.length - 1]!.end;
  }

  /** The index of the first range (at or after the cursor) that ends after `offset`. */
  private search(offset: number): number {
    let lo = this.head;
    let hi = this.ranges.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.ranges[mid]!.end <= offset) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}
