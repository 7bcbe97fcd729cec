import { Duplex } from 'readable-stream';
import { InvalidArgumentError, TruncatedInputError } from '../errors.js';
import type { BlockRecord, ChecksumRecord, ChecksumSummary } from '../engine/checksummer.js';
import type { ChecksumParams } from '../engine/params.js';
import { ControlFileEncoder, type ControlFileHeaderOptions } from './encoder.js';
import { SpillingSpool, type RecordSpool } from './spool.js';

type Callback = (error?: Error | null) => void;

export interface ControlFileWriterOptions extends ControlFileHeaderOptions {
  /** Record bytes kept in memory before they move to a temp file. Default 8 MiB (see SpillingSpool). */
  maxBufferedBytes?: number;
  /** Where records wait for the header instead (e.g. a memory-only spool where there is no file system). */
  spool?: RecordSpool;
  /** Output bytes buffered before backpressure. Default 64 KiB. */
  readableHighWaterMark?: number;
}

/**
 * What ControlFileWriter and ZsyncMakeStream share: records wait in a spool
 * until the input ends, then the header and the cut-down records are read out
 * as fast as the readable side is consumed.
 */
export abstract class SpooledControlFileOutput extends Duplex {
  /** The parameters written, once the summary has come. */
  params: ChecksumParams | undefined;
  /** The checksum summary, once it has come. */
  summary: ChecksumSummary | undefined;
  protected readonly encoder: ControlFileEncoder;
  private readonly spool: RecordSpool;
  private records: AsyncIterator<Buffer> | undefined;
  private wanted = false;
  private pumping = false;

  constructor(options: ControlFileWriterOptions, objectInput: boolean) {
    super({
      writableObjectMode: objectInput,
      readableObjectMode: false,
      readableHighWaterMark: options.readableHighWaterMark ?? 1 << 16,
      ...(objectInput ? { writableHighWaterMark: 1024 } : {}),
    });
    this.encoder = new ControlFileEncoder(options);
    this.spool = options.spool ?? new SpillingSpool(options.maxBufferedBytes === undefined ? {} : { maxMemoryBytes: options.maxBufferedBytes });
  }

  override _final(callback: Callback): void {
    this.finishRecords().then(() => {
      callback();
      this.pump();
    }, callback);
  }

  override _read(): void {
    this.wanted = true;
    this.pump();
  }

  override _destroy(error: Error | null, callback: (error: Error | null) => void): void {
    this.spool.dispose().then(() => callback(error), () => callback(error));
  }

  /** Packs a block record; returns a full page for the spool. */
  protected acceptRecord(record: BlockRecord): Buffer | undefined {
    if (this.summary) throw new InvalidArgumentError('block record after the summary');
    return this.encoder.add(record);
  }

  protected acceptSummary(summary: ChecksumSummary): void {
    if (this.summary) throw new InvalidArgumentError('summary given twice');
    this.summary = summary;
  }

  protected storePage(page: Buffer): Promise<void> {
    return this.spool.write(page);
  }

  /** Called when the input has ended: writes the header and readies the records for reading. */
  protected async finishRecords(): Promise<void> {
    if (!this.summary) throw new TruncatedInputError('the checksum records ended without a summary');
    const { header, lastPage } = this.encoder.finish(this.summary);
    if (lastPage) await this.spool.write(lastPage);
    this.params = this.encoder.params;
    this.push(header);
    this.records = this.spool.read(this.encoder.pageRecordBytes)[Symbol.asyncIterator]();
  }

  /** Moves spooled records to the readable side while it wants more. */
  private pump(): void {
    const records = this.records;
    if (!records || !this.wanted || this.pumping || this.destroyed) return;
    this.pumping = true;
    records.next().then(
      (next) => {
        this.pumping = false;
        if (next.done) {
          this.spool.dispose().then(() => this.push(null), (err: Error) => this.destroy(err));
          this.records = undefined;
          return;
        }
        this.wanted = this.push(this.encoder.truncate(next.value));
        this.pump();
      },
      (err: Error) => this.destroy(err),
    );
  }
}

/**
 * A ChecksumStream's records in (objectMode), the `.zsync` bytes out: the
 * header once the summary has come (it needs the SHA-1 and the length), then
 * the records, cut to the hash lengths. Until then the records wait in a
 * spool: memory up to a bound, then a temp file, removed when the stream ends
 * or is destroyed. The output is zsyncmake 0.6.2's byte for byte.
 */
export class ControlFileWriter extends SpooledControlFileOutput {
  constructor(options: ControlFileWriterOptions = {}) {
    super(options, true);
  }

  override _write(record: ChecksumRecord, _encoding: BufferEncoding, callback: Callback): void {
    try {
      if (record.kind === 'summary') {
        this.acceptSummary(record);
        callback();
        return;
      }
      const page = this.acceptRecord(record);
      if (page) this.storePage(page).then(() => callback(), callback);
      else callback();
    } catch (err) {
      callback(err as Error);
    }
  }
}
