import { ZsyncError } from '../errors.js';

/** The peer sent bytes that are not a valid frame of this protocol (or ended inside one). */
export class ProtocolError extends ZsyncError {
  constructor(message: string, code = 'ERR_ZSYNC_PROTOCOL') {
    super(code, message);
  }
}

/** The peer reported an error in an ERROR frame; `code` is the one it sent. */
export class PeerError extends ZsyncError {
  /** True when the error ends the whole session, not one request. */
  readonly fatal: boolean;
  constructor(code: string, message: string, fatal: boolean) {
    super(code, `peer: ${message}`);
    this.fatal = fatal;
  }
}

/** The connection closed (or was destroyed) before the exchange was complete. */
export class PeerClosedError extends ZsyncError {
  /** `cause`: the transport's own error (ECONNRESET, EPIPE...), when there was one. */
  constructor(message = 'the peer closed the connection', options?: { cause?: unknown }) {
    super('ERR_ZSYNC_PEER_CLOSED', message, options);
  }
}

/**
 * What a stream's 'error' means for the session: our own typed errors (a
 * stall we detected) stay as they are; anything else (ECONNRESET, EPIPE) is
 * the transport telling us the peer is gone, so callers see one typed code
 * instead of whatever the socket layer says.
 */
export function asPeerError(err: Error): Error {
  return err instanceof ZsyncError ? err : new PeerClosedError(`the connection failed: ${err.message}`, { cause: err });
}

/** The peer stopped reading: our writes waited longer than the stall timeout. */
export class PeerStalledError extends ZsyncError {
  constructor(ms: number) {
    super('ERR_ZSYNC_PEER_STALLED', `the peer read nothing for ${ms} ms`);
  }
}

/** The version asked for is no longer served (the file changed); a newer CONTROL follows. */
export class StaleVersionError extends ZsyncError {
  constructor(version: number) {
    super(STALE_VERSION, `version ${version} of the file is no longer served`);
  }
}

export const STALE_VERSION = 'ERR_ZSYNC_STALE_VERSION';
