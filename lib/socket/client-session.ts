import type { Duplex } from 'node:stream';
import { ControlFileParser, type ControlFile, type ControlFileParserOptions } from '../control-file/parser.js';
import type { ChunkSink } from '../engine/block-assembler.js';
import type { ByteRange } from '../engine/target-state.js';
import { unpackRanges } from '../engine/packed-ranges.js';
import type { RangeSource } from '../sync/range-source.js';
import type { FetchStats } from '../transport/range-fetcher.js';
import { Wanted } from '../transport/range-plan.js';
import { positiveOption } from '../errors.js';
import { PeerClosedError, PeerError, ProtocolError, STALE_VERSION, StaleVersionError } from './errors.js';
import { FrameDecoder } from './frame-decoder.js';
import { closeGracefully, FrameSender } from './frame-sender.js';
import { errorPayload, FrameType, helloPayload, parseControl, parseData, parseError, parseHello, parseRequest, rangesPerWant, wantPayload, type Frame } from './protocol.js';

export interface ClientSessionOptions {
  /** Longest frame accepted from the server. Default 4 MiB: any server's, whose DATA and CONTROL pieces are at most 1 MiB. */
  maxFrameBytes?: number;
  /** Longest WANT frame sent. Default 64 KiB (the server's default bound). */
  maxWantBytes?: number;
  /** A server that takes nothing we write for this long is dropped. Default 30 000 ms. */
  stallTimeoutMs?: number;
  /** A server that does not answer HELLO within this time is dropped (ERR_ZSYNC_TIMEOUT). Default 30 000 ms. */
  helloTimeoutMs?: number;
  /**
   * A server that sends nothing for this long while we wait on it (the rest of
   * a CONTROL, the data of a request, a version we expect) is dropped
   * (ERR_ZSYNC_TIMEOUT). A follower idle between versions waits as long as
   * the connection lives (TCP keep-alive is turned on where the stream has it).
   * Default 30 000 ms.
   */
  idleTimeoutMs?: number;
  /** Bounds on the control data (passed to the parser). */
  controlLimits?: ControlFileParserOptions;
}

/** A WANT frame holds one range at least. */
const MIN_WANT_BYTES = 64;

/** A version of the file as the server announced it. */
export interface AnnouncedVersion {
  version: number;
  control: ControlFile;
}

interface Request {
  version: number;
  wanted: Wanted;
  deliver: ChunkSink;
  stats: FetchStats;
  resolve: () => void;
  reject: (err: Error) => void;
  failed?: Error;
}

/**
 * The client's side of one connection: reads frames in one loop, assembles
 * CONTROL pieces into parsed versions (only the newest is kept), and answers
 * `fetch()` with the DATA of its WANTs. DATA is handed to `deliver` and
 * awaited before the next frame is read, so a slow output slows the server.
 */
export class ClientSession {
  private readonly sender: FrameSender;
  private readonly decoder: FrameDecoder;
  private readonly requests = new Map<number, Request>();
  private readonly controlLimits: ControlFileParserOptions;
  private readonly maxWantBytes: number;
  private readonly idleMs: number;
  private readonly helloMs: number;
  private readonly stallMs: number;
  /** Set while DATA is being delivered: the output's slowness is not the server's silence. */
  private delivering = false;
  private watchdog: NodeJS.Timeout | undefined;
  /** Set while the caller waits for a version it expects soon (a one-shot sync, a restart after a stale one). */
  private expecting = false;
  private nextRequest = 1;
  private assembling?: { version: number; parser: ControlFileParser };
  private latest?: AnnouncedVersion;
  private waiters: Array<() => void> = [];
  private helloDone?: { resolve: () => void; reject: (err: Error) => void };
  /** Set once the session has ended (cleanly, by close(), or failing). */
  private ended = false;
  /** Why it failed, when it did. */
  private error?: Error;

  constructor(private readonly stream: Duplex, options: ClientSessionOptions = {}) {
    this.stallMs = positiveOption('stallTimeoutMs', options.stallTimeoutMs, 30_000);
    this.sender = new FrameSender(stream, this.stallMs);
    this.controlLimits = options.controlLimits ?? {};
    this.maxWantBytes = Math.max(MIN_WANT_BYTES, positiveOption('maxWantBytes', options.maxWantBytes, 64 << 10));
    this.idleMs = positiveOption('idleTimeoutMs', options.idleTimeoutMs, 30_000);
    this.helloMs = positiveOption('helloTimeoutMs', options.helloTimeoutMs, 30_000);
    (stream as { setKeepAlive?: (on: boolean, delayMs: number) => void }).setKeepAlive?.(true, 30_000);
    this.decoder = new FrameDecoder({
      maxFrameBytes: positiveOption('maxFrameBytes', options.maxFrameBytes, 4 << 20),
      accept: [FrameType.HELLO, FrameType.CONTROL, FrameType.DATA, FrameType.DONE, FrameType.ERROR, FrameType.PING],
      highWaterMark: 1,
    });
    // A reset or close is the server leaving (PeerClosedError), or a truncated frame if it left inside one.
    stream.on('error', (err) => this.decoder.connectionLost(err));
    stream.on('close', () => {
      if (this.ended) this.decoder.destroy();
      else this.decoder.connectionLost();
    });
    stream.pipe(this.decoder);
    void this.loop();
  }

  /** Says HELLO, asking for the file `name` ('' for the server's default), and waits for the answer. */
  async hello(name: string): Promise<void> {
    const answered = new Promise<void>((resolve, reject) => {
      this.helloDone = { resolve, reject };
    });
    // Rejected by finish() even when the send below fails first and nobody awaits it.
    answered.catch(() => {});
    const timer = setTimeout(() => this.abort(new ProtocolError(`no HELLO from the server within ${this.helloMs} ms`, 'ERR_ZSYNC_TIMEOUT')), this.helloMs);
    try {
      await this.sender.send(FrameType.HELLO, helloPayload(name));
      await answered;
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * The newest version announced and not taken yet; waits for one. Undefined
   * once the server has ended the session. `expectSoon`: the server owes us one
   * (a first version, or a new one after a stale answer), so its silence is
   * timed; a follower between versions passes false and waits for ever.
   */
  async nextVersion(expectSoon: boolean): Promise<AnnouncedVersion | undefined> {
    try {
      for (;;) {
        if (this.latest) {
          const v = this.latest;
          this.latest = undefined;
          return v;
        }
        if (this.error) throw this.error;
        if (this.ended) return undefined;
        this.expecting = expectSoon;
        this.rearm();
        await new Promise<void>((resolve) => this.waiters.push(resolve));
      }
    } finally {
      this.expecting = false;
      this.rearm();
    }
  }

  /** The data of `version`, as a RangeSource for ControlSync. */
  source(version: number): RangeSource {
    return {
      fetch: (ranges, deliver) => this.fetch(version, unpackRanges(ranges), deliver),
      close: () => {},
    };
  }

  /** Asks for `ranges` of `version` and delivers them; rejects with StaleVersionError if the server moved on. */
  async fetch(version: number, ranges: readonly ByteRange[], deliver: ChunkSink): Promise<FetchStats> {
    const stats: FetchStats = { requests: 0, bytesOnWire: 0, payloadBytes: 0, retries: 0, adaptations: [] };
    const per = rangesPerWant(this.maxWantBytes);
    const pending: Array<Promise<void>> = [];
    for (let i = 0; i < ranges.length; i += per) {
      const group = ranges.slice(i, i + per);
      const id = this.nextRequest++;
      const done = new Promise<void>((resolve, reject) => {
        this.requests.set(id, { version, wanted: new Wanted(group), deliver, stats, resolve, reject });
      });
      done.catch(() => {});
      pending.push(done);
      stats.requests++;
      if (this.error) throw this.error;
      this.rearm();
      await this.sender.send(FrameType.WANT, wantPayload(id, version, group));
    }
    await Promise.all(pending);
    return stats;
  }

  /** Says BYE (when the stream still takes writes) and ends it. */
  async close(): Promise<void> {
    if (!this.ended && !this.stream.destroyed && !this.stream.writableEnded) {
      await this.sender.send(FrameType.BYE).catch(() => {});
    }
    this.ended = true;
    clearTimeout(this.watchdog);
    closeGracefully(this.stream, this.stallMs);
    this.stream.unpipe(this.decoder);
    this.decoder.destroy();
  }

  private async loop(): Promise<void> {
    try {
      for await (const frame of this.decoder as AsyncIterable<Frame>) {
        // Not timed while we deliver: a slow output is ours, not the server's silence.
        clearTimeout(this.watchdog);
        await this.receive(frame);
        this.rearm();
      }
      this.finish(this.requests.size > 0 || this.helloDone ? new PeerClosedError('the server ended the session in the middle of an exchange') : undefined);
    } catch (err) {
      this.finish(err as Error);
    }
  }

  private async receive(frame: Frame): Promise<void> {
    switch (frame.type) {
      case FrameType.HELLO: {
        parseHello(frame.payload);
        if (!this.helloDone) throw new ProtocolError('unexpected HELLO');
        this.helloDone.resolve();
        this.helloDone = undefined;
        return;
      }
      case FrameType.CONTROL: {
        if (this.helloDone) throw new ProtocolError('CONTROL before HELLO');
        const { version, last, data } = parseControl(frame.payload);
        if (this.assembling?.version !== version) this.assembling = { version, parser: new ControlFileParser(this.controlLimits) };
        this.assembling.parser.push(data);
        if (last) {
          this.latest = { version, control: this.assembling.parser.end() };
          this.assembling = undefined;
          this.wake();
        }
        return;
      }
      case FrameType.DATA: {
        const { request, offset, data } = parseData(frame.payload);
        const r = this.requests.get(request);
        if (!r) throw new ProtocolError(`DATA for request ${request}, which is not open`);
        r.stats.bytesOnWire += data.length;
        if (r.failed) return;
        // Only what was asked for goes on: a server sending anything else is ignored, not trusted.
        for (const piece of r.wanted.take(offset, offset + data.length)) {
          r.stats.payloadBytes += piece.end - piece.start;
          this.delivering = true;
          try {
            await r.deliver({ offset: piece.start, data: data.subarray(piece.start - offset, piece.end - offset) });
          } catch (err) {
            r.failed = err as Error;
            return;
          } finally {
            this.delivering = false;
          }
        }
        return;
      }
      case FrameType.DONE: {
        const id = parseRequest(frame.payload);
        const r = this.requests.get(id);
        if (!r) throw new ProtocolError(`DONE for request ${id}, which is not open`);
        this.requests.delete(id);
        if (r.failed) r.reject(r.failed);
        else if (!r.wanted.empty) r.reject(new ProtocolError(`the server finished request ${id} with ${r.wanted.bytes} bytes not sent`));
        else r.resolve();
        return;
      }
      case FrameType.ERROR: {
        const e = parseError(frame.payload);
        if (e.request === 0) throw new PeerError(e.code, e.message, true);
        const r = this.requests.get(e.request);
        if (!r) throw new ProtocolError(`ERROR for request ${e.request}, which is not open`);
        this.requests.delete(e.request);
        r.reject(e.code === STALE_VERSION ? new StaleVersionError(r.version) : new PeerError(e.code, e.message, false));
        return;
      }
      case FrameType.PING: {
        // Only its arrival matters: the loop rearms the idle clock after every frame.
        if (frame.payload.length !== 0) throw new ProtocolError('PING with a payload');
        return;
      }
      default:
        throw new ProtocolError(`unexpected frame type ${frame.type}`);
    }
  }

  /** Ends the session from our side with `err` (the server is told when it still listens): everything pending rejects with it. */
  abort(err: Error): void {
    if (!this.stream.destroyed) {
      void this.sender.send(FrameType.ERROR, errorPayload(0, (err as { code?: string }).code ?? 'ERR_ZSYNC_CLIENT', err.message)).catch(() => {});
    }
    this.decoder.destroy(err);
  }

  /** Times the server's silence while we wait on it; stops the clock otherwise. */
  private rearm(): void {
    clearTimeout(this.watchdog);
    this.watchdog = undefined;
    if (this.ended || this.delivering || !(this.expecting || this.assembling || this.requests.size > 0)) return;
    this.watchdog = setTimeout(() => this.abort(new ProtocolError(`the server sent nothing for ${this.idleMs} ms while we waited on it`, 'ERR_ZSYNC_TIMEOUT')), this.idleMs);
  }

  private finish(err: Error | undefined): void {
    clearTimeout(this.watchdog);
    const wasEnded = this.ended;
    this.ended = true;
    if (err && !wasEnded) this.error = err;
    const reason = this.error ?? new PeerClosedError();
    this.helloDone?.reject(reason);
    this.helloDone = undefined;
    for (const r of this.requests.values()) r.reject(reason);
    this.requests.clear();
    this.wake();
    if (err) this.stream.destroy();
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const resolve of w) resolve();
  }
}
