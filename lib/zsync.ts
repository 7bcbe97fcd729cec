/**
 * zsync(): bring a local file up to date from a .zsync, as the zsync client does,
 * safely: the result is built in OUTPUT.part and replaces OUTPUT only once its
 * whole-file hash is right.
 */
import { stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { loadControlFile } from './sync/control-source.js';
import { ControlSync, DEFAULT_SYNC_PARALLEL_FROM, type ControlSyncOptions, type ZsyncResult } from './sync/control-sync.js';
import type { WorkerHandOff } from './parallel/worker-hand-off.js';
import { SeedScanHelper } from './sync/split-scan.js';
import { lockOutput } from './sync/output-lock.js';
import { defaultOutputName } from './sync/output-name.js';
import { rangeSourceFor, type RangeSource } from './sync/range-source.js';
import { HttpClient, httpClientOptions } from './transport/http-client.js';
import type { RangeFetcherOptions } from './transport/range-fetcher.js';

export type { SeedReport, ZsyncProgress, ZsyncResult } from './sync/control-sync.js';

export interface ZsyncOptions extends Omit<RangeFetcherOptions, 'length'>, ControlSyncOptions {
  /** The file to bring up to date. Default: the control file's Filename (a plain name only) in `directory`. */
  output?: string;
  /** Folder for a default output name. Default: the current folder. */
  directory?: string;
  /** The URL a local .zsync came from (zsync's -u). Default: its own folder. */
  url?: string;
  /** Keep the .zsync in this file; next time only ask whether it changed (zsync's -k). */
  keep?: string;
}

/** A sync in progress: emits 'progress' events; `run()` does the work. */
export class Zsync extends ControlSync {
  constructor(private readonly control: string, private readonly options: ZsyncOptions = {}) {
    super(options);
  }

  async run(): Promise<ZsyncResult> {
    const t0 = performance.now();
    // The scan worker starts while the control file loads, when a seed named
    // up front is big enough to be split; syncTo() takes it over or stops it.
    const warming = this.prewarmScan();
    try {
      return await this.load(t0, warming);
    } finally {
      await (await warming)?.discard();
      this.warmScan = undefined;
    }
  }

  private async load(t0: number, warming: Promise<WorkerHandOff | undefined>): Promise<ZsyncResult> {
    const o = this.options;
    const client = new HttpClient(httpClientOptions(o));
    this.progress({ phase: 'control', done: 0, total: 0 });
    const loadOptions: { url?: string; keep?: string; signal?: AbortSignal } = {};
    if (o.url !== undefined) loadOptions.url = o.url;
    if (o.keep !== undefined) loadOptions.keep = o.keep;
    if (o.signal !== undefined) loadOptions.signal = o.signal;
    const control = await loadControlFile(this.control, client, loadOptions).finally(() => client.close());
    this.warmScan = await warming;
    const output = resolve(o.directory ?? '.', o.output ?? defaultOutputName(control.header.filename, this.control));
    // Only a local .zsync may point at local files.
    const local = !/^[a-z][a-z0-9+.-]*:/i.test(this.control) || /^file:/i.test(this.control);
    // The URLs matter only when something is missing: seeds that hold every
    // block make a sync that needs no URL at all (a bad one included).
    const openSource = (): RangeSource => {
      // A URL that does not parse is no mirror; with none left, rangeSourceFor says ERR_ZSYNC_NO_URL.
      const urls = control.header.urls.flatMap((u) => (URL.canParse(u, control.baseUrl) ? [new URL(u, control.baseUrl).toString()] : []));
      return rangeSourceFor(urls, { ...fetcherOptions(o), length: control.checksums.params.length }, local);
    };
    // One sync per OUTPUT at a time: the working files are shared names.
    const unlock = await lockOutput(output);
    try {
      return await this.syncTo(control, output, openSource, t0);
    } finally {
      await unlock();
    }
  }

  /**
   * A scan worker started now if a seed or output named in the options is big
   * enough to be split. It holds a helper-thread slot while the control file
   * loads: a sync that starts meanwhile in the same process scans and hashes
   * without a helper.
   */
  private async prewarmScan(): Promise<WorkerHandOff | undefined> {
    const o = this.options;
    const from = o.parallelFrom ?? DEFAULT_SYNC_PARALLEL_FROM;
    const output = o.output !== undefined ? resolve(o.directory ?? '.', o.output) : undefined;
    const named = [...(output !== undefined ? [output, `${output}.part`] : []), ...(o.seeds ?? [])];
    const sizes = await Promise.all(named.map((path) => stat(path).then((s) => (s.isFile() ? s.size : 0), () => 0)));
    // Only a head start: a worker that cannot start now is started (or done without) later.
    try {
      return sizes.some((size) => size >= from) ? SeedScanHelper.prewarm() : undefined;
    } catch {
      return undefined;
    }
  }
}

/** Brings `options.output` up to date from the .zsync at `control` (a URL or a path). */
export function zsync(control: string, options: ZsyncOptions = {}): Promise<ZsyncResult> {
  return new Zsync(control, options).run();
}

function fetcherOptions(o: ZsyncOptions): Omit<RangeFetcherOptions, 'length'> {
  const { output: _output, directory: _directory, seeds: _seeds, url: _url, keep: _keep, keepOld: _keepOld, onProgress: _onProgress, progressIntervalMs: _progressIntervalMs, parallelFrom: _parallelFrom, ...rest } = o;
  return rest;
}
