import { Checksummer } from '../engine/checksummer.js';
import type { BlockRecord } from '../engine/checksummer.js';
import type { StrongAlgorithm } from '../checksums/strong.js';
import { defaultBlockSize } from '../engine/params.js';
import { SpooledControlFileOutput, type ControlFileWriterOptions } from './writer.js';

type Callback = (error?: Error | null) => void;

export interface ZsyncMakeStreamOptions extends ControlFileWriterOptions {
  /** Bytes per block. Default: zsyncmake's choice for `length`, or 2048 (zsyncmake's choice for a pipe) without it. */
  blockSize?: number;
  /** The input's length, when known up front: only used to choose the default block size. */
  length?: number;
  /** Default 'MD4'. MD5 and SHA-224 write `Strong-Hash-Algorithm`, which only 0.7+ clients read. */
  strongAlgorithm?: StrongAlgorithm;
  /** Also write `Safe: File-Hash` and `File-Hash: SHA-256:...`, which every generation reads. Default false. */
  sha256?: boolean;
}

/**
 * A new file's bytes in, its `.zsync` bytes out: a ChecksumStream and a
 * ControlFileWriter in one, for build pipelines
 * (`pipeline(createReadStream(f), new ZsyncMakeStream({...}), createWriteStream(f + '.zsync'))`).
 */
export class ZsyncMakeStream extends SpooledControlFileOutput {
  private readonly checksummer: Checksummer;
  private readonly pages: Buffer[] = [];
  private readonly collect = (record: BlockRecord): void => {
    const page = this.acceptRecord(record);
    if (page) this.pages.push(page);
  };

  constructor(options: ZsyncMakeStreamOptions = {}) {
    super(options, false);
    const blockSize = options.blockSize ?? (options.length === undefined ? 2048 : defaultBlockSize(options.length));
    this.checksummer = new Checksummer({ blockSize, strongAlgorithm: options.strongAlgorithm ?? 'MD4', sha256: options.sha256 === true });
  }

  override _write(chunk: Uint8Array, _encoding: BufferEncoding, callback: Callback): void {
    try {
      this.checksummer.update(chunk, this.collect);
    } catch (err) {
      callback(err as Error);
      return;
    }
    this.storePages().then(() => callback(), callback);
  }

  protected override async finishRecords(): Promise<void> {
    const summary = this.checksummer.end(this.collect);
    await this.storePages();
    this.acceptSummary(summary);
    await super.finishRecords();
  }

  private async storePages(): Promise<void> {
    while (this.pages.length > 0) await this.storePage(this.pages.shift()!);
  }
}
