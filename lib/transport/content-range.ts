/** A parsed `Content-Range: bytes START-END/TOTAL`, END exclusive here. */
export interface ContentRange {
  start: number;
  end: number;
  /** The whole resource's length, or undefined for `*`. */
  total: number | undefined;
}

const CONTENT_RANGE = /^\s*bytes\s+(\d+)-(\d+)\/(\d+|\*)\s*$/i;

/** Parses a Content-Range value; undefined when it is not a satisfied byte range. */
export function parseContentRange(value: string | undefined): ContentRange | undefined {
  if (value === undefined) return undefined;
  const m = CONTENT_RANGE.exec(value);
  if (!m) return undefined;
  const start = Number(m[1]);
  const last = Number(m[2]);
  const total = m[3] === '*' ? undefined : Number(m[3]);
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(last) || last < start) return undefined;
  if (total !== undefined && (!Number.isSafeInteger(total) || last >= total)) return undefined;
  return { start, end: last + 1, total };
}

/**
 * parseContentRange() of the latin1 text of bytes [from, to) of `buf`, read
 * where it lies: no string, no match array (a multipart answer has a part
 * header per range, thousands in a sync). The same grammar: white space as
 * `\s` matches it in latin1 (tab to CR, space, 0xA0), `bytes` in any case.
 */
export function parseContentRangeBytes(buf: Uint8Array, from: number, to: number): ContentRange | undefined {
  let i = skipSpace(buf, from, to);
  for (let k = 0; k < 5; k++, i++) if (i >= to || (buf[i]! | 0x20) !== BYTES[k]) return undefined;
  const afterUnit = i;
  i = skipSpace(buf, i, to);
  if (i === afterUnit) return undefined;
  const start = digits(buf, i, to);
  if (digitsEnd === i || digitsEnd >= to || buf[digitsEnd] !== 0x2d) return undefined;
  i = digitsEnd + 1;
  const last = digits(buf, i, to);
  if (digitsEnd === i || digitsEnd >= to || buf[digitsEnd] !== 0x2f) return undefined;
  i = digitsEnd + 1;
  let total: number | undefined;
  if (i < to && buf[i] === 0x2a) {
    i++;
  } else {
    total = digits(buf, i, to);
    if (digitsEnd === i) return undefined;
    i = digitsEnd;
  }
  if (skipSpace(buf, i, to) !== to) return undefined;
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(last) || last < start) return undefined;
  if (total !== undefined && (!Number.isSafeInteger(total) || last >= total)) return undefined;
  return { start, end: last + 1, total };
}

const BYTES = [0x62, 0x79, 0x74, 0x65, 0x73]; // "bytes"

/** True for the bytes `\s` matches in latin1 text. */
export function isSpaceByte(c: number): boolean {
  return c === 0x20 || (c >= 0x09 && c <= 0x0d) || c === 0xa0;
}

function skipSpace(buf: Uint8Array, i: number, to: number): number {
  while (i < to && isSpaceByte(buf[i]!)) i++;
  return i;
}

/**
 * Where the last digits() stopped: its second result, kept here so that a
 * call returns a number and makes no object (the callers are synchronous).
 */
let digitsEnd = 0;

/** The ASCII digits from i, up to `to` (none: digitsEnd === i); past 2^53 the value is only known to be unsafe. */
function digits(buf: Uint8Array, i: number, to: number): number {
  let value = 0;
  while (i < to && buf[i]! >= 0x30 && buf[i]! <= 0x39) value = value * 10 + (buf[i++]! - 0x30);
  digitsEnd = i;
  return value;
}
