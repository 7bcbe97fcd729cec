import { createReadStream, createWriteStream } from 'node:fs';
import { rename, stat, unlink, utimes } from 'node:fs/promises';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ControlFileParser, type ControlFile } from '../control-file/parser.js';
import { ZsyncError } from '../errors.js';
import { displayUrl } from '../transport/display-url.js';
import { AbortedError, type HttpClient } from '../transport/http-client.js';
import { ControlFileUnavailableError } from './errors.js';

export interface LoadedControlFile extends ControlFile {
  /** Where relative `URL:` lines are resolved from: the .zsync's URL (after redirects) or file: URL. */
  baseUrl: string;
  /** True when `keep` was current and the server said so (304): nothing was downloaded. */
  notModified: boolean;
}

export interface LoadControlOptions {
  /** The URL a local .zsync came from (zsync's -u), for its relative URLs. */
  url?: string;
  /** Keep the downloaded .zsync in this file, and next time ask the server only whether it changed. */
  keep?: string;
  signal?: AbortSignal;
}

/**
 * Reads a .zsync from an http(s) URL or a local path, parsing it as it streams
 * in. Failing to get the bytes is a ControlFileUnavailableError (zsync's exit 3);
 * bytes that do not parse are the parser's ControlFileError (exit 1).
 */
export async function loadControlFile(source: string, client: HttpClient, options: LoadControlOptions = {}): Promise<LoadedControlFile> {
  if (/^https?:\/\//i.test(source)) return loadRemote(source, client, options);
  const path = resolve(source);
  const parsed = await parseFrom(createReadStream(path), path);
  return { ...parsed, baseUrl: options.url ?? pathToFileURL(path).toString(), notModified: false };
}

async function loadRemote(url: string, client: HttpClient, options: LoadControlOptions): Promise<LoadedControlFile> {
  const headers: Record<string, string> = {};
  const kept = options.keep === undefined ? undefined : await stat(options.keep).catch(() => undefined);
  if (kept) headers['if-modified-since'] = kept.mtime.toUTCString();
  let got;
  try {
    got = await client.get(url, headers, options.signal);
  } catch (err) {
    // The caller's abort is an abort, not an unreachable control file.
    if (err instanceof AbortedError) throw err;
    throw new ControlFileUnavailableError(displayUrl(url), err);
  }
  const { response, url: finalUrl } = got;
  const baseUrl = options.url ?? finalUrl.replace(/[?#].*$/, '');
  const status = response.statusCode ?? 0;
  if (status === 304 && kept && options.keep !== undefined) {
    response.resume();
    const parsed = await parseFrom(createReadStream(options.keep), options.keep);
    return { ...parsed, baseUrl, notModified: true };
  }
  if (status !== 200) {
    response.resume();
    throw new ControlFileUnavailableError(displayUrl(url), new Error(`server answered ${status} ${response.statusMessage ?? ''}`.trim()));
  }
  // Views of the connection's buffers, not copies: the parser copies what it
  // keeps, and the kept copy's write is waited for before the next chunk.
  if (options.keep === undefined) return { ...(await parseFrom(response.chunks(), displayUrl(url))), baseUrl, notModified: false };
  // Parse and keep at once; the kept copy replaces the old one only if it parsed.
  const temp = `${options.keep}.tmp-${process.pid}`;
  const out = createWriteStream(temp);
  try {
    const parsed = await parseFrom(response.chunks(), displayUrl(url), (chunk) => new Promise<void>((ok, fail) => out.write(chunk, (e) => (e ? fail(e) : ok()))));
    await new Promise<void>((ok, fail) => out.end((e?: Error | null) => (e ? fail(e) : ok())));
    await rename(temp, options.keep);
    const lastModified = response.headers['last-modified'];
    if (lastModified !== undefined) {
      const when = new Date(lastModified);
      if (!Number.isNaN(when.getTime())) await utimes(options.keep, when, when);
    }
    return { ...parsed, baseUrl, notModified: false };
  } catch (err) {
    out.destroy();
    await unlink(temp).catch(() => {});
    throw err;
  }
}

async function parseFrom(source: AsyncIterable<Buffer>, where: string, tee?: (chunk: Buffer) => Promise<void>): Promise<ControlFile> {
  const parser = new ControlFileParser();
  try {
    for await (const chunk of source) {
      parser.push(chunk);
      if (tee) await tee(chunk);
    }
  } catch (err) {
    if (err instanceof ZsyncError) throw err;
    throw new ControlFileUnavailableError(where, err);
  }
  return parser.end();
}
