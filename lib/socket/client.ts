/**
 * syncOverStream(): bring a file up to date from a zsync-streams server over
 * any duplex stream (a net or TLS socket, a child's stdio, a WebSocket stream),
 * with the HTTP client's safe output path: OUTPUT.part, the whole-file hash
 * check, then the rename. With `follow`, stay and follow every version pushed.
 */
import type { Duplex } from 'node:stream';
import { resolve } from 'node:path';
import { ControlSync, type ControlSyncOptions, type ZsyncResult } from '../sync/control-sync.js';
import { lockOutput } from '../sync/output-lock.js';
import { isSafeOutputName } from '../sync/output-name.js';
import { AbortedError } from '../transport/http-client.js';
import { ClientSession, type ClientSessionOptions } from './client-session.js';
import { PeerClosedError, StaleVersionError } from './errors.js';

export interface SocketSyncOptions extends ControlSyncOptions, ClientSessionOptions {
  /** The file to ask the server for. Default: the server's first file. */
  name?: string;
  /** The file to bring up to date. Default: the control data's Filename (a plain name only) in `directory`. */
  output?: string;
  /** Folder for a default output name. Default: the current folder. */
  directory?: string;
  /**
   * Stay connected and bring OUTPUT up to every version the server pushes (the
   * current OUTPUT is the seed). The promise then settles when the server ends
   * the session or `signal` aborts while no sync is running: it resolves with
   * the last result. Default false: sync once and leave.
   */
  follow?: boolean;
  /** Called after each version is in place. */
  onSynced?: (result: SocketSyncResult) => void;
}

export interface SocketSyncResult extends ZsyncResult {
  /** The server's version number of the file now in OUTPUT. */
  version: number;
}

/** Times in a row a version may go stale under us before we give up. */
const MAX_STALE = 10;

export async function syncOverStream(stream: Duplex, options: SocketSyncOptions = {}): Promise<SocketSyncResult> {
  const session = new ClientSession(stream, options);
  const signal = options.signal;
  let last: SocketSyncResult | undefined;
  let syncing = false;
  const onAbort = (): void => {
    // Between versions an abort is how a follower leaves; during a sync it fails the sync.
    if (syncing) session.abort(new AbortedError(signal?.reason));
    else void session.close();
  };
  signal?.addEventListener('abort', onAbort);
  try {
    if (signal?.aborted) throw new AbortedError(signal.reason);
    await session.hello(options.name ?? '');
    let stale = 0;
    for (;;) {
      // A one-shot sync, a follower's first version and a restart after a stale one are owed to us.
      const next = await session.nextVersion(!options.follow || !last || stale > 0);
      if (!next || signal?.aborted) {
        if (last) return last;
        if (signal?.aborted) throw new AbortedError(signal.reason);
        throw new PeerClosedError('the server ended the session before sending the file');
      }
      const t0 = performance.now();
      const filename = next.control.header.filename;
      const output = resolve(options.directory ?? '.', options.output ?? (filename !== undefined && isSafeOutputName(filename) ? filename : 'zsync-output'));
      syncing = true;
      const unlock = await lockOutput(output);
      let result: ZsyncResult;
      try {
        result = await new ControlSync(options).syncTo(next.control, output, () => session.source(next.version), t0);
      } catch (err) {
        // The file changed while we fetched: the server has announced (or will) a newer version.
        if (err instanceof StaleVersionError && ++stale <= MAX_STALE) continue;
        throw err;
      } finally {
        syncing = false;
        await unlock();
      }
      stale = 0;
      last = { ...result, version: next.version };
      options.onSynced?.(last);
      if (!options.follow) return last;
    }
  } catch (err) {
    // Whatever the abort broke on the way (a HELLO, a request), the cause is the abort.
    if (signal?.aborted && !(err instanceof AbortedError)) throw new AbortedError(signal.reason);
    throw err;
  } finally {
    signal?.removeEventListener('abort', onAbort);
    await session.close();
  }
}
