import { ZsyncError } from '../errors.js';

/**
 * Where the patchers write: anything with a positional write in the shape of
 * `fs.promises.FileHandle.write(buffer, offset, length, position)`, so a
 * FileHandle fits as it is, and so does a MemoryFile or a browser-side store.
 */
export interface PositionalWriter {
  write(buffer: Uint8Array, offset: number, length: number, position: number): Promise<{ bytesWritten: number } | void>;
  /**
   * The same write, done before it returns, for a writer that has one (the
   * sync's syncWriter): returns the bytes written. Optional.
   */
  writeSync?(buffer: Uint8Array, offset: number, length: number, position: number): number;
}

/** Where BlockReader reads: the shape of `fs.promises.FileHandle.read(buffer, offset, length, position)`. */
export interface PositionalReader {
  read(buffer: Uint8Array, offset: number, length: number, position: number): Promise<{ bytesRead: number }>;
}

/** Writes all of `data` at `position`, going on after a short write. */
export async function writeFully(writer: PositionalWriter, data: Uint8Array, position: number): Promise<void> {
  let done = 0;
  while (done < data.length) {
    const result = await writer.write(data, done, data.length - done, position + done);
    const n = (result as { bytesWritten?: unknown } | undefined)?.bytesWritten;
    // Writers that do not report a count (plain async functions) wrote it all.
    done += typeof n === 'number' ? n : data.length - done;
    if (n === 0) throw new ZsyncError('ERR_ZSYNC_WRITE_STALLED', `write at ${position + done} made no progress`);
  }
}

/** writeFully() through the writer's writeSync(): all of `data[offset, offset + length)` at `position`, before it returns. */
export function writeFullySync(writeSync: NonNullable<PositionalWriter['writeSync']>, data: Uint8Array, offset: number, length: number, position: number): void {
  let done = 0;
  while (done < length) {
    const n = writeSync(data, offset + done, length - done, position + done);
    if (n === 0) throw new ZsyncError('ERR_ZSYNC_WRITE_STALLED', `write at ${position + done} made no progress`);
    done += n;
  }
}

/**
 * Fills `buffer[offset, offset + length)` from `position`, going on after short
 * reads. Returns the bytes read: fewer than asked only at the end of the data.
 */
export async function readFully(reader: PositionalReader, buffer: Uint8Array, offset: number, length: number, position: number): Promise<number> {
  let done = 0;
  while (done < length) {
    const { bytesRead } = await reader.read(buffer, offset + done, length - done, position + done);
    if (bytesRead === 0) break;
    done += bytesRead;
  }
  return done;
}

/**
 * A growable in-memory file with the positional interface: for tests, for the
 * Sync API, and wherever a file system is not at hand.
 */
export class MemoryFile implements PositionalWriter, PositionalReader {
  private data: Buffer;
  private size: number;

  constructor(initial?: Uint8Array) {
    this.data = initial ? Buffer.from(initial) : Buffer.alloc(0);
    this.size = this.data.length;
  }

  get length(): number {
    return this.size;
  }

  /** The file's bytes (a view: copy it before writing more). */
  toBuffer(): Buffer {
    return this.data.subarray(0, this.size);
  }

  writeSync(buffer: Uint8Array, offset: number, length: number, position: number): number {
    const end = position + length;
    if (end > this.data.length) {
      const grown = Buffer.alloc(Math.max(end, this.data.length * 2));
      this.data.copy(grown, 0, 0, this.size);
      this.data = grown;
    }
    this.data.set(buffer.subarray(offset, offset + length), position);
    if (end > this.size) this.size = end;
    return length;
  }

  readSync(buffer: Uint8Array, offset: number, length: number, position: number): number {
    const n = Math.max(0, Math.min(length, this.size - position));
    buffer.set(this.data.subarray(position, position + n), offset);
    return n;
  }

  async write(buffer: Uint8Array, offset: number, length: number, position: number): Promise<{ bytesWritten: number }> {
    return { bytesWritten: this.writeSync(buffer, offset, length, position) };
  }

  async read(buffer: Uint8Array, offset: number, length: number, position: number): Promise<{ bytesRead: number }> {
    return { bytesRead: this.readSync(buffer, offset, length, position) };
  }
}
