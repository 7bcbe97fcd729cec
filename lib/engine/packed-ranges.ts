import { InvalidArgumentError } from '../errors.js';
import type { ByteRange } from './target-state.js';

/**
 * Byte ranges packed two numbers each, start then end ([s0, e0, s1, e1, ...]).
 * A sync's fetch starts with thousands of ranges (5 000 at 1 GiB in the
 * benchmark) that live as long as the fetch: as objects they outlived the
 * main thread's young collections, and the survivors made V8 double its young
 * generation (4 MB of RSS). Packed, they are one typed array outside the heap.
 */
export type PackedRanges = Float64Array;

/** Ranges either way: as objects, or packed. */
export type RangeList = readonly ByteRange[] | PackedRanges;

export function rangeCount(list: RangeList): number {
  return list instanceof Float64Array ? list.length >>> 1 : list.length;
}

export function rangeStart(list: RangeList, i: number): number {
  return list instanceof Float64Array ? list[2 * i]! : list[i]!.start;
}

export function rangeEnd(list: RangeList, i: number): number {
  return list instanceof Float64Array ? list[2 * i + 1]! : list[i]!.end;
}

/**
 * Refuses a list that is not byte ranges of a file of `length` bytes (when
 * given): a packed one of odd length (its last number would be dropped), a
 * start or end that is not a whole number of bytes from 0, an end before its
 * start, or past the file's end. An empty list, or an empty range, is fine.
 */
export function checkRanges(list: RangeList, length?: number): void {
  if (list instanceof Float64Array && list.length % 2 !== 0) throw new InvalidArgumentError(`packed ranges come in pairs, start then end: ${list.length} numbers`);
  const count = rangeCount(list);
  for (let i = 0; i < count; i++) {
    const start = rangeStart(list, i);
    const end = rangeEnd(list, i);
    if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || start < 0 || end < start || (length !== undefined && end > length)) {
      throw new InvalidArgumentError(`range ${i} is not a byte range${length === undefined ? '' : ` of a file of ${length} bytes`}: ${start}-${end}`);
    }
  }
}

/** Total bytes in a list of disjoint ranges. */
export function rangeBytes(list: RangeList): number {
  let n = 0;
  const count = rangeCount(list);
  for (let i = 0; i < count; i++) n += rangeEnd(list, i) - rangeStart(list, i);
  return n;
}

/** The ranges as objects (a packed list unpacked; an object list as it is). */
export function unpackRanges(list: RangeList): readonly ByteRange[] {
  if (!(list instanceof Float64Array)) return list;
  const out: ByteRange[] = new Array(list.length >>> 1);
  for (let i = 0; i < out.length; i++) out[i] = { start: list[2 * i]!, end: list[2 * i + 1]! };
  return out;
}
