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
  constructor(message = 'the peer closed the connection') {
    super('ERR_ZSYNC_PEER_CLOSED', message);
  }
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
