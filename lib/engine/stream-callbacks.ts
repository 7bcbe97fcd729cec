/** The callback of `_transform`, `_flush`, `_write` and `_final`: readable-stream's typings do not export it. */
export type StreamCallback = (error?: Error | null, data?: unknown) => void;
