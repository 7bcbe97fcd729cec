import { AbortedError, ZsyncError } from '../errors.js';
import { displayUrl } from './display-url.js';
import { ResponseSyntaxError } from './response-parser.js';

/** An HTTP exchange failed or a server answered something we cannot use. */
export class HttpError extends ZsyncError {
  readonly url: string;
  readonly status: number | undefined;
  /** Whether trying again may help (network errors, 5xx, stalls). */
  readonly retryable: boolean;
  constructor(code: string, message: string, options: { url: string; status?: number; retryable?: boolean; cause?: unknown }) {
    super(code, message, options.cause === undefined ? undefined : { cause: options.cause });
    this.url = options.url;
    this.status = options.status;
    this.retryable = options.retryable ?? false;
  }
}

/** A response body that breaks the multipart/byteranges rules, or a part we did not ask for. */
export class MultipartError extends ZsyncError {
  constructor(message: string) {
    super('ERR_ZSYNC_MULTIPART', message);
  }
}

const RETRYABLE_CODES = new Set(['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT', 'EAI_AGAIN', 'ECONNABORTED', 'EHOSTUNREACH', 'ENETUNREACH', 'UND_ERR_SOCKET']);

/** Turns a socket/TLS error, or a malformed response, into a coded HttpError that says whether a retry may help. */
export function classify(err: unknown, rawUrl: string, signal?: AbortSignal): Error {
  if (err instanceof ZsyncError) return err;
  if (signal?.aborted) return new AbortedError(signal.reason);
  const url = displayUrl(rawUrl);
  if (err instanceof ResponseSyntaxError) return new HttpError(err.code, `${url}: ${err.message}`, { url, cause: err });
  const e = err as NodeJS.ErrnoException;
  const code = e.code ?? '';
  if (/CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_TLS|ALTNAME|UNABLE_TO_GET_ISSUER/.test(code)) {
    return new HttpError('ERR_ZSYNC_TLS', `TLS certificate check failed for ${url}: ${e.message}`, { url, retryable: false, cause: err });
  }
  return new HttpError('ERR_ZSYNC_HTTP_NETWORK', `network error from ${url}: ${e.message}`, { url, retryable: RETRYABLE_CODES.has(code) || /socket hang up|aborted/i.test(e.message), cause: err });
}
