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
