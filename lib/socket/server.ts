/**
 * The push side of the socket transport: serves one or more files to any
 * number of clients over duplex streams. Checksums are computed once per
 * version (the .zsync bytes themselves are sent), blocks come from a shared
 * cache, and `update()` announces a new version to every connected client.
 */
import { EventEmitter } from 'node:events';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import type { Duplex } from 'node:stream';
import { tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { parseControlFileBuffer } from '../control-file/parser.js';
import { InvalidArgumentError, positiveOption, printable, ZsyncError } from '../errors.js';
import { zsyncmake } from '../zsyncmake.js';
import { BlockCache, FileChangedError, type BlockCacheOptions, type BlockCacheStats, type ServedVersion } from './block-cache.js';
import { PeerClosedError, ProtocolError, STALE_VERSION } from './errors.js';
import { FrameDecoder } from './frame-decoder.js';
import { closeGracefully, FrameSender } from './frame-sender.js';
import { MAX_CHUNK_BYTES, controlHead, dataHead, errorPayload, frame, FrameType, helloPayload, parseHello, parseWant, rangesPerWant, requestPayload, type Frame } from './protocol.js';

export interface SyncServerOptions extends BlockCacheOptions {
  /** The file(s) served: a path, paths (named by their base names) or { name: path }. The first is the default. */
  files: string | readonly string[] | Readonly<Record<string, string>>;
  /** Bytes per block of the checksums. Default: zsyncmake's for the file's size. */
  blockSize?: number;
  /** Bytes of file data per DATA frame at most. Default 64 KiB. */
  chunkBytes?: number;
  /** Bytes of .zsync per CONTROL frame at most. Default 64 KiB. */
  controlPieceBytes?: number;
  /** Longest frame accepted from a client (a WANT of (65536 - 9) / 16 ranges). Default 64 KiB. */
  maxFrameBytes?: number;
  /** A client whose socket takes nothing for this long is dropped. Default 30 000 ms. */
  stallTimeoutMs?: number;
  /** A client that sends no HELLO within this time is dropped. Default 10 000 ms. */
  helloTimeoutMs?: number;
  /** Clients connected at once at most; more are refused with an ERROR. Default 10 000. */
  maxClients?: number;
  /** A client waiting for a version being computed is PINGed this often. Default 5000 ms (below clients' 30 s idle timeout). */
  pingMs?: number;
}

export interface SyncServerStats extends BlockCacheStats {
  /** Sessions open now, and at most at once. */
  clients: number;
  peakClients: number;
  sessions: number;
  /** WANT frames served, and the bytes they asked for. */
  requests: number;
  bytesAsked: number;
  /** File bytes sent in DATA frames. */
  bytesSent: number;
  /** Sessions that ended with an error. */
  sessionErrors: number;
}

interface ServedFile {
  name: string;
  path: string;
  current?: Version;
  /** The update in progress, if any: a second update waits for it, then runs once. */
  updating?: Promise<Version>;
  again?: Promise<Version>;
  sessions: Set<Session>;
}

interface Version extends ServedVersion {
  id: number;
  control: Buffer;
  /** The whole file's SHA-1, from the control data. */
  sha1: string | undefined;
}

interface Session {
  stream: Duplex;
  sender: FrameSender;
  file?: ServedFile;
  /** Set once the session's failure is reported: an announce and the frame loop may both fail after it. */
  failed?: boolean;
}

let versionKeys = 0;


/** Returned by createSyncServer(): hand it every connection (`handle`), push with `update()`. */
export class SyncServer extends EventEmitter {
  private readonly counts = { peakClients: 0, sessions: 0, requests: 0, bytesAsked: 0, bytesSent: 0, sessionErrors: 0 };
  /** Resolves once every file's first version is ready (connections made before wait for it). */
  readonly ready: Promise<void>;
  private readonly files = new Map<string, ServedFile>();
  private readonly cache: BlockCache;
  private readonly sessions = new Set<Session>();
  private readonly chunkBytes: number;
  private readonly controlPieceBytes: number;
  private readonly maxFrameBytes: number;
  private readonly stallMs: number;
  private readonly helloMs: number;
  private readonly maxClients: number;
  private readonly pingMs: number;
  private closed = false;

  constructor(private readonly options: SyncServerOptions) {
    super();
    this.chunkBytes = pieceOption('chunkBytes', options.chunkBytes);
    this.controlPieceBytes = pieceOption('controlPieceBytes', options.controlPieceBytes);
    this.maxFrameBytes = Math.max(64, positiveOption('maxFrameBytes', options.maxFrameBytes, 64 << 10));
    this.stallMs = positiveOption('stallTimeoutMs', options.stallTimeoutMs, 30_000);
    this.helloMs = positiveOption('helloTimeoutMs', options.helloTimeoutMs, 10_000);
    this.maxClients = positiveOption('maxClients', options.maxClients, 10_000);
    this.pingMs = positiveOption('pingMs', options.pingMs, 5000);
    this.cache = new BlockCache(options); // checks its own bounds
    for (const [name, path] of namedFiles(options.files)) this.files.set(name, { name, path: resolve(path), sessions: new Set() });
    if (this.files.size === 0) throw new InvalidArgumentError('createSyncServer needs at least one file');
    this.ready = Promise.all([...this.files.values()].map((f) => this.refresh(f))).then(() => {});
    // Connections wait on `ready`; a failure is theirs to see, and the caller's through `ready`.
    this.ready.catch(() => {});
  }

  /** What the server has done so far (a snapshot). */
  get stats(): SyncServerStats {
    return { clients: this.sessions.size, ...this.counts, ...this.cache.stats };
  }

  /** The names clients may ask for, the default first. */
  get names(): string[] {
    return [...this.files.keys()];
  }

  /** The path served under `name`. */
  pathOf(name: string): string {
    return this.file(name).path;
  }

  /** The version now served of `name` (default: the first file): its id and .zsync bytes. */
  current(name?: string): { id: number; control: Buffer } | undefined {
    const v = this.file(name).current;
    return v && { id: v.id, control: v.control };
  }

  /**
   * Computes the checksums of `name` (default: the first file) again and
   * announces the new version to every client of it. Calls made while one runs
   * are folded into a single further update.
   */
  async update(name?: string): Promise<number> {
    const version = await this.refresh(this.file(name));
    return version.id;
  }

  /** Serves one client over `stream` until it leaves or fails. */
  readonly handle = (stream: Duplex): void => {
    void this.serve(stream);
  };

  /** Ends every session; connections handed in later are refused. */
  async close(): Promise<void> {
    this.closed = true;
    // Said, not just hung up: a follower must not take a server going away for a normal end.
    for (const s of this.sessions) sayLast(s.stream, 'ERR_ZSYNC_SERVER_CLOSING', 'the server is shutting down', this.stallMs);
    await this.ready.catch(() => {});
  }

  private file(name?: string): ServedFile {
    const f = this.lookup(name);
    if (!f) throw new InvalidArgumentError(`no file named '${name}' is served`);
    return f;
  }

  /** The file served as `name`; no name or '' is the first. */
  private lookup(name: string | undefined): ServedFile | undefined {
    return name === undefined || name === '' ? this.files.values().next().value : this.files.get(name);
  }

  private refresh(f: ServedFile): Promise<Version> {
    if (f.updating) {
      f.again ??= f.updating.catch(() => {}).then(() => {
        f.again = undefined;
        return this.refresh(f);
      });
      return f.again;
    }
    const run = this.makeVersion(f).then((v) => {
      const old = f.current;
      // A touch, or a copy of the same bytes: no new version, so nobody re-reads a whole file for nothing.
      if (old && sameContent(old, v)) return old;
      f.current = v;
      if (old) this.cache.forget(old);
      this.emit('version', { name: f.name, version: v.id });
      for (const s of f.sessions) void this.sendControl(s, v).catch((err: unknown) => this.fail(s, err));
      return v;
    });
    f.updating = run;
    void run.finally(() => {
      if (f.updating === run) f.updating = undefined;
    }).catch(() => {});
    return run;
  }

  private async makeVersion(f: ServedFile): Promise<Version> {
    const dir = await mkdtemp(join(tmpdir(), 'zsync-serve-'));
    try {
      const out = join(dir, 'control.zsync');
      const opts: Parameters<typeof zsyncmake>[1] = { output: out, urls: [f.name], filename: f.name };
      if (this.options.blockSize !== undefined) opts.blockSize = this.options.blockSize;
      await zsyncmake(f.path, opts);
      const control = await readFile(out);
      const { header, checksums } = parseControlFileBuffer(control);
      return { key: ++versionKeys, id: (f.current?.id ?? 0) + 1, path: f.path, checksums, control, sha1: header.sha1 };
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  private async serve(stream: Duplex): Promise<void> {
    const session: Session = { stream, sender: new FrameSender(stream, this.stallMs) };
    stream.on('error', () => {}); // reported through the frame loop below
    if (this.closed || this.sessions.size >= this.maxClients) {
      sayLast(stream, 'ERR_ZSYNC_BUSY', this.closed ? 'the server is closing' : 'too many clients', this.stallMs);
      return;
    }
    this.sessions.add(session);
    this.counts.sessions++;
    this.counts.peakClients = Math.max(this.counts.peakClients, this.sessions.size);
    const decoder = new FrameDecoder({ maxFrameBytes: this.maxFrameBytes, accept: [FrameType.HELLO, FrameType.WANT, FrameType.BYE, FrameType.ERROR], highWaterMark: 1 });
    // A reset or close is the client leaving, unless it left in the middle of a frame.
    stream.on('error', (err) => decoder.connectionLost(err));
    stream.on('close', () => decoder.connectionLost());
    stream.pipe(decoder);
    const helloTimer = setTimeout(() => decoder.destroy(new ProtocolError(`no HELLO within ${this.helloMs} ms`, 'ERR_ZSYNC_TIMEOUT')), this.helloMs);
    try {
      for await (const frame of decoder as AsyncIterable<Frame>) {
        if (frame.type === FrameType.BYE) break;
        if (frame.type === FrameType.ERROR) throw new PeerClosedError('the client reported an error and left');
        if (!session.file) {
          if (frame.type !== FrameType.HELLO) throw new ProtocolError('the first frame must be HELLO');
          clearTimeout(helloTimer);
          await this.welcome(session, parseHello(frame.payload).name);
        } else if (frame.type === FrameType.WANT) {
          await this.answer(session, frame.payload);
        } else {
          throw new ProtocolError('HELLO sent twice');
        }
      }
      closeGracefully(stream, this.stallMs);
    } catch (err) {
      this.fail(session, err);
    } finally {
      clearTimeout(helloTimer);
      stream.unpipe(decoder);
      decoder.destroy();
      session.file?.sessions.delete(session);
      this.sessions.delete(session);
    }
  }

  private async welcome(session: Session, name: string): Promise<void> {
    const f = this.lookup(name);
    if (!f) throw new ZsyncError('ERR_ZSYNC_NO_SUCH_FILE', `no file named ${printable(JSON.stringify(name.slice(0, 200)))} is served here`);
    await session.sender.send(FrameType.HELLO, helloPayload());
    const version = f.current ?? (await this.keepingAlive(session, f.updating ?? this.refresh(f)));
    session.file = f;
    f.sessions.add(session);
    // A version made while we waited was announced to the sessions then; this one is ours.
    await this.sendControl(session, f.current ?? version);
  }

  private sendControl(session: Session, v: Version): Promise<void> {
    return session.sender.exclusive(async (write) => {
      for (let at = 0; ; at += this.controlPieceBytes) {
        const end = Math.min(at + this.controlPieceBytes, v.control.length);
        await write(FrameType.CONTROL, controlHead(v.id, end === v.control.length), v.control.subarray(at, end));
        if (end === v.control.length) return;
      }
    });
  }

  private async answer(session: Session, payload: Buffer): Promise<void> {
    const f = session.file!;
    const v = f.current!;
    // A WANT of an older version is answered "stale", whatever its ranges: that
    // version's length may differ from the current one's (a file that shrank).
    const current = payload.length >= 8 && payload.readUInt32BE(4) === v.id;
    const want = parseWant(payload, current ? v.checksums.params.length : Number.MAX_SAFE_INTEGER);
    if (want.ranges.length > rangesPerWant(this.maxFrameBytes)) throw new ProtocolError('too many ranges in one WANT');
    if (want.version !== v.id) {
      await session.sender.send(FrameType.ERROR, errorPayload(want.request, STALE_VERSION, `version ${want.version} is no longer served; version ${v.id} follows`));
      return;
    }
    this.counts.requests++;
    const { blockSize } = v.checksums.params;
    try {
      for (const r of want.ranges) {
        this.counts.bytesAsked += r.end - r.start;
        for (let at = r.start; at < r.end; ) {
          const end = Math.min(r.end, at + this.chunkBytes);
          const first = Math.floor(at / blockSize);
          const last = Math.floor((end - 1) / blockSize);
          const blocks = await this.cache.blocks(v, first, last);
          // Views of the cached blocks: nothing is copied per client.
          const parts = blocks.map((b, i) => {
            const base = (first + i) * blockSize;
            return b.subarray(Math.max(0, at - base), Math.min(b.length, end - base));
          });
          await session.sender.send(FrameType.DATA, dataHead(want.request, at), ...parts);
          this.counts.bytesSent += end - at;
          at = end;
        }
      }
    } catch (err) {
      if (!(err instanceof FileChangedError)) throw err;
      // The file changed under this version: say so, and announce the new one.
      // The client now waits for a version, so it gets one even when the
      // content turns out unchanged (a copy of the same bytes in progress).
      await session.sender.send(FrameType.ERROR, errorPayload(want.request, STALE_VERSION, `${f.name} changed on disk`));
      const next = f.current === v ? await this.keepingAlive(session, this.refresh(f)) : f.current!;
      if (next === v) await this.sendControl(session, v);
      return;
    }
    await session.sender.send(FrameType.DONE, requestPayload(want.request));
  }

  /**
   * Awaits `work` (checksums being computed: seconds for a big file) while
   * PINGing the client, which has been promised a version and times the
   * server's silence.
   */
  private async keepingAlive<T>(session: Session, work: Promise<T>): Promise<T> {
    const timer = setInterval(() => void session.sender.send(FrameType.PING).catch(() => {}), this.pingMs);
    try {
      return await work;
    } finally {
      clearInterval(timer);
    }
  }

  /** Reports the session's failure once; a client that left (PeerClosedError) has not failed. */
  private fail(session: Session, err: unknown): void {
    if (err instanceof PeerClosedError || session.failed) return;
    session.failed = true;
    this.counts.sessionErrors++;
    const e = err instanceof Error ? err : new Error(String(err));
    this.emit('session-error', e);
    // Our own errors are worded for the peer; anything else (a file system
    // error naming our paths) stays in 'session-error'.
    if (e instanceof ZsyncError) sayLast(session.stream, e.code, e.message, this.stallMs);
    else sayLast(session.stream, 'ERR_ZSYNC_SERVER', 'the server failed serving this session', this.stallMs);
  }
}

/** A server for `files`; hand its `handle` to net.createServer, tls.createServer or any duplex source. */
export function createSyncServer(options: SyncServerOptions): SyncServer {
  return new SyncServer(options);
}

/**
 * A last, fatal ERROR frame, then the end. Written straight to the stream,
 * past the sender's queue: it is small, frames are never left half-written
 * (each send writes a whole frame synchronously), and the peer may be the one
 * not reading.
 */
function sayLast(stream: Duplex, code: string, message: string, stallMs: number): void {
  if (stream.destroyed || stream.writableEnded) return;
  for (const b of frame(FrameType.ERROR, errorPayload(0, code, message))) stream.write(b);
  closeGracefully(stream, stallMs);
}

/**
 * `chunkBytes` or `controlPieceBytes`: default 64 KiB, at most MAX_CHUNK_BYTES,
 * so that every frame we send fits a client's default frame bound (4 MiB).
 */
function pieceOption(name: string, value: number | undefined): number {
  const bytes = positiveOption(name, value, 64 << 10);
  if (bytes > MAX_CHUNK_BYTES) throw new InvalidArgumentError(`${name} is at most ${MAX_CHUNK_BYTES}, got ${bytes}`);
  return bytes;
}

function sameContent(a: Version, b: Version): boolean {
  return a.sha1 !== undefined && a.sha1 === b.sha1 && a.checksums.params.length === b.checksums.params.length;
}

function namedFiles(files: SyncServerOptions['files']): Array<[string, string]> {
  const list: Array<[string, string]> =
    typeof files === 'string' ? [[basename(files), files]] : Array.isArray(files) ? (files as readonly string[]).map((p) => [basename(p), p]) : Object.entries(files as Record<string, string>);
  const seen = new Set<string>();
  for (const [name] of list) {
    if (seen.has(name)) throw new InvalidArgumentError(`two files are served as '${name}': give them distinct names ({ name: path })`);
    seen.add(name);
  }
  return list;
}


