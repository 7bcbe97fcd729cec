/**
 * Pieces of the socket transport on their own, without a connection: the
 * frame decoder's edges, the ERROR frame parser, and the bounds the server and
 * its block cache put on their options. If this regressed, a last ERROR frame
 * could be lost when the connection closes right after it, a peer could make
 * us wait for a payload we will refuse anyway or print escape sequences on a
 * terminal, and a bad option could make a server that never reads or never
 * caches (or two files answer to one name).
 */
import { expect } from 'chai';
import { once } from 'node:events';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BlockCache } from '../lib/socket/block-cache.js';
import { FrameDecoder } from '../lib/socket/frame-decoder.js';
import { errorPayload, frame, FrameType, helloPayload, parseError, requestPayload, type Frame, type FrameTypeCode } from '../lib/socket/protocol.js';
import { createSyncServer, type SyncServerOptions } from '../lib/socket/server.js';

type CodedError = Error & { code?: string };

/** Every frame `decoder` gives, and the error it ends with (if any). */
async function drain(decoder: FrameDecoder): Promise<{ frames: Frame[]; error?: CodedError }> {
  const frames: Frame[] = [];
  try {
    for await (const f of decoder as AsyncIterable<Frame>) frames.push(f);
    return { frames };
  } catch (err) {
    return { frames, error: err as CodedError };
  }
}

function thrown(f: () => unknown): CodedError {
  try {
    f();
  } catch (err) {
    return err as CodedError;
  }
  throw new Error('expected a throw');
}

describe('socket transport units', function () {
  this.timeout(5_000);
  describe('FrameDecoder', () => {
    it('frames written, then end(), then connectionLost(): every frame is still read, and the stream ends without error', async () => {
      const decoder = new FrameDecoder({ maxFrameBytes: 1024 });
      const sent: Array<[FrameTypeCode, Buffer]> = [
        [FrameType.HELLO, helloPayload('x')],
        [FrameType.DONE, requestPayload(7)],
        [FrameType.ERROR, errorPayload(0, 'ERR_ZSYNC_FILE_CHANGED', 'the file changed')],
      ];
      for (const [type, payload] of sent) for (const b of frame(type, payload)) decoder.write(b);
      decoder.end();
      // The close that follows an orderly end (as a socket emits it) must not discard what is decoded.
      decoder.connectionLost();
      const { frames, error } = await drain(decoder);
      expect(error, error?.message).to.equal(undefined);
      expect(frames.map((f) => f.type)).to.deep.equal(sent.map(([type]) => type));
      expect(frames.map((f) => f.payload.toString('hex'))).to.deep.equal(sent.map(([, p]) => p.toString('hex')));
    });

    it('a connection lost (no end) between frames still fails with ERR_ZSYNC_PEER_CLOSED', async () => {
      const decoder = new FrameDecoder({ maxFrameBytes: 1024 });
      decoder.connectionLost();
      const { error } = await drain(decoder);
      expect(error?.code).to.equal('ERR_ZSYNC_PEER_CLOSED');
    });

    it('a frame of unknown type with an allowed length is refused (ERR_ZSYNC_PROTOCOL) as soon as its 5-byte header is in, before any payload', async () => {
      const decoder = new FrameDecoder({ maxFrameBytes: 1 << 20 });
      const failed = once(decoder, 'error') as Promise<[CodedError]>;
      const head = Buffer.alloc(5);
      head.writeUInt32BE(500_000, 0);
      head.writeUInt8(0x42, 4);
      decoder.write(head);
      const [err] = await failed;
      expect(err.code).to.equal('ERR_ZSYNC_PROTOCOL');
      expect(err.message).to.match(/unknown frame type 66/);
    });

    it('a known frame type this side does not accept is refused on its header too', async () => {
      const decoder = new FrameDecoder({ maxFrameBytes: 1 << 20, accept: [FrameType.HELLO] });
      const failed = once(decoder, 'error') as Promise<[CodedError]>;
      const head = Buffer.alloc(5);
      head.writeUInt32BE(100_000, 0);
      head.writeUInt8(FrameType.DATA, 4);
      decoder.write(head);
      const [err] = await failed;
      expect(err.code).to.equal('ERR_ZSYNC_PROTOCOL');
    });

    it('a frame of length 0 (no type byte) is ERR_ZSYNC_PROTOCOL, not a frame too large', async () => {
      const decoder = new FrameDecoder({ maxFrameBytes: 1024 });
      const failed = once(decoder, 'error') as Promise<[CodedError]>;
      decoder.write(Buffer.alloc(4));
      const [err] = await failed;
      expect(err.code).to.equal('ERR_ZSYNC_PROTOCOL');
    });
  });

  describe('parseError', () => {
    it('replaces control characters (escape sequences, CR/LF, BEL, C1, line separators) in the message, and keeps the rest', () => {
      const e = parseError(errorPayload(3, 'ERR_ZSYNC_BOOM', '\x1b[31mred\x1b[0m\r\nnext\x07\u009b2J\u2028end\x7f'));
      expect(e.request).to.equal(3);
      expect(e.code).to.equal('ERR_ZSYNC_BOOM');
      // eslint-disable-next-line no-control-regex
      expect(e.message).to.not.match(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/);
      expect(e.message).to.include('[31mred').and.to.include('next').and.to.include('end');
    });

    for (const code of ['EVIL\x1b]0;x\x07', 'ECONNRESET', 'err_zsync_lower', 'ERR_ZSYNC_', `ERR_ZSYNC_${'A'.repeat(60)}`]) {
      it(`a code not of the ERR_ZSYNC_* shape (${JSON.stringify(code)}) becomes ERR_ZSYNC_PEER`, () => {
        expect(parseError(errorPayload(0, code, 'x')).code).to.equal('ERR_ZSYNC_PEER');
      });
    }
  });

  describe('option bounds', () => {
    let dir: string;
    let file: string;
    before(async () => {
      dir = await mkdtemp(join(tmpdir(), 'zsync-units-'));
      file = join(dir, 'x.bin');
      await writeFile(file, Buffer.alloc(10_000, 1));
    });
    after(async () => {
      await rm(dir, { recursive: true, force: true });
    });

    const bad: Array<[string, Partial<SyncServerOptions>]> = [
      ['maxConcurrentReads: 0', { maxConcurrentReads: 0 }],
      ['maxBytes: -5', { maxBytes: -5 }],
      ['maxReadBytes: 1.5', { maxReadBytes: 1.5 }],
      ['chunkBytes: 2 MiB (over MAX_CHUNK_BYTES, 1 MiB)', { chunkBytes: 2 << 20 }],
    ];
    for (const [label, options] of bad) {
      it(`createSyncServer with ${label} throws ERR_ZSYNC_INVALID_ARGUMENT`, () => {
        expect(thrown(() => createSyncServer({ files: file, ...options })).code).to.equal('ERR_ZSYNC_INVALID_ARGUMENT');
      });
    }

    it('createSyncServer takes chunkBytes of exactly 1 MiB', async () => {
      const sync = createSyncServer({ files: file, chunkBytes: 1 << 20 });
      await sync.ready;
      await sync.close();
    });

    for (const [label, options] of [
      ['maxConcurrentReads: 0', { maxConcurrentReads: 0 }],
      ['maxBytes: NaN', { maxBytes: Number.NaN }],
      ['maxReadBytes: -1', { maxReadBytes: -1 }],
    ] as const) {
      it(`new BlockCache({ ${label} }) throws ERR_ZSYNC_INVALID_ARGUMENT`, () => {
        expect(thrown(() => new BlockCache(options)).code).to.equal('ERR_ZSYNC_INVALID_ARGUMENT');
      });
    }

    it('createSyncServer refuses two paths with the same base name (ERR_ZSYNC_INVALID_ARGUMENT): a name must mean one file', async () => {
      await mkdir(join(dir, 'a'), { recursive: true });
      await mkdir(join(dir, 'b'), { recursive: true });
      await writeFile(join(dir, 'a', 'x.bin'), 'a');
      await writeFile(join(dir, 'b', 'x.bin'), 'b');
      const err = thrown(() => createSyncServer({ files: [join(dir, 'a', 'x.bin'), join(dir, 'b', 'x.bin')] }));
      expect(err.code).to.equal('ERR_ZSYNC_INVALID_ARGUMENT');
      expect(err.message).to.include('x.bin');
    });
  });
});
