import { ZsyncError } from '../errors.js';

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
