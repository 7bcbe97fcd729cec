import type { ByteRange } from '../engine/target-state.js';

/**
 * Merges ranges whose gap is at most `gap` bytes: fetching a few unneeded bytes
 * costs less than another range (each part of a multipart answer carries some
 * 80-100 bytes of headers). Input sorted or not; output sorted, disjoint.
 */
export function mergeRanges(ranges: readonly ByteRange[], gap: number): ByteRange[] {
  const sorted = ranges.filter((r) => r.end > r.start).map((r) => ({ start: r.start, end: r.end })).sort((a, b) => a.start - b.start);
  const out: ByteRange[] = [];
  for (const r of sorted) {
    const last = out[out.length - 1];
    if (last && r.start - last.end <= gap) last.end = Math.max(last.end, r.end);
    else out.push(r);
  }
  return out;
}

/** Total bytes in a list of disjoint ranges. */
export function rangeBytes(ranges: readonly ByteRange[]): number {
  let n = 0;
  for (const r of ranges) n += r.end - r.start;
  return n;
}

/** The value of a `Range` header asking for these ranges (END inclusive on the wire). */
export function rangeHeader(ranges: readonly ByteRange[]): string {
  return `bytes=${ranges.map((r) => `${r.start}-${r.end - 1}`).join(',')}`;
}

/**
 * What is still wanted of one request: a sorted list of disjoint ranges from
 * which every delivered piece is subtracted. Whatever is left when a response
 * ends, early or not, is asked for again: this is how a short answer, a server
 * that sends only the first range, or a reset connection resumes exactly.
 */
export class Wanted {
  private ranges: ByteRange[];

  constructor(ranges: readonly ByteRange[]) {
    this.ranges = mergeRanges(ranges, 0);
  }

  get list(): readonly ByteRange[] {
    return this.ranges;
  }

  get empty(): boolean {
    return this.ranges.length === 0;
  }

  get bytes(): number {
    return rangeBytes(this.ranges);
  }

  /** True when [start, end) overlaps something still wanted. */
  overlaps(start: number, end: number): boolean {
    return this.ranges.some((r) => r.start < end && start < r.end);
  }

  /** Adds a range to what is wanted. */
  add(range: ByteRange): void {
    this.ranges = mergeRanges([...this.ranges, range], 0);
  }

  /** Removes [start, end) from what is wanted. */
  remove(start: number, end: number): void {
    if (end <= start) return;
    const out: ByteRange[] = [];
    for (const r of this.ranges) {
      if (r.end <= start || end <= r.start) {
        out.push(r);
        continue;
      }
      if (r.start < start) out.push({ start: r.start, end: start });
      if (end < r.end) out.push({ start: end, end: r.end });
    }
    this.ranges = out;
  }

  /** The end of the last wanted byte, or 0. */
  get last(): number {
    return this.ranges[this.ranges.length - 1]?.end ?? 0;
  }
}
