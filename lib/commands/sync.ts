import { once } from 'node:events';
import { connect } from 'node:net';
import { readFile } from 'node:fs/promises';
import type { SingleBar } from 'cli-progress';
import { InvalidArgumentError, printable } from '../errors.js';
import { packageVersion } from '../module-root.js';
import { ControlFileUnavailableError } from '../sync/errors.js';
import { DEFAULT_MAX_RANGES } from '../transport/range-fetcher.js';
import { zsync, type ZsyncOptions, type ZsyncProgress, type ZsyncResult } from '../zsync.js';
import { integerOption, parseCommandLine } from './args.js';
import { describeError, exitCodeFor } from './exit-codes.js';

export const summary = 'bring a file up to date from a .zsync (URL or path) or a socket server (tcp://), fetching only what changed';
export const usage = `Usage: zsync-streams sync [options] URL-OR-PATH.zsync
       zsync-streams sync [-i SEED]... [-o OUTPUT] [--follow] tcp://HOST:PORT[/NAME]

Reads the .zsync, finds the blocks you already have in the seeds (OUTPUT.part
and OUTPUT first, then every -i), copies them, fetches the rest with HTTP Range
requests, checks the whole-file hash, and only then replaces OUTPUT.

  -i, --input SEED         also use SEED as a source of blocks (repeatable)
  -o, --output OUTPUT      the file to write (default: the .zsync's Filename, if a plain name)
  -u, --url URL            the URL a local .zsync came from, for its relative URLs
                           (default: relative to the .zsync's own folder)
  -k, --keep FILE          keep the .zsync in FILE; next time only ask whether it changed
  -A, --auth HOST=USER:PASS  HTTP basic auth for HOST (repeatable)
  -q, -s, --quiet          no progress and no summary line
  -V, --version            print the version and exit
      --follow             (tcp:// only) stay connected and bring OUTPUT up to
                           every new version the server announces; Ctrl-C leaves
      --json               print one JSON object with the statistics
      --ca FILE            trust the CA certificates in FILE besides the system's
      --no-check-certificate  accept any TLS certificate (unsafe; says so)
      --concurrency N      requests in flight at once (default 4)
      --max-ranges N       byte ranges per request at most (default 128)

A tcp:// source is a \`zsync-streams serve --socket\` server: the checksums and
the missing blocks come over one connection (NAME picks one of its files).

Exit codes: 0 done and verified; 1 usage or a control file that cannot be
parsed; 2 the data could not be fetched or verified; 3 the control file could
not be fetched.`;

export async function run(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseCommandLine(argv, {
      input: { type: 'string', short: 'i', multiple: true },
      output: { type: 'string', short: 'o' },
      url: { type: 'string', short: 'u' },
      keep: { type: 'string', short: 'k' },
      auth: { type: 'string', short: 'A', multiple: true },
      quiet: { type: 'boolean', short: 'q' },
      silent: { type: 'boolean', short: 's' },
      version: { type: 'boolean', short: 'V' },
      json: { type: 'boolean' },
      ca: { type: 'string' },
      'no-check-certificate': { type: 'boolean' },
      concurrency: { type: 'string' },
      'max-ranges': { type: 'string' },
      follow: { type: 'boolean' },
    });
    if (parsed.values.version === true) {
      process.stdout.write(`zsync-streams ${packageVersion()}\n`);
      return 0;
    }
    if (parsed.positionals.length !== 1) throw new InvalidArgumentError(`expected one .zsync URL or path, got ${parsed.positionals.length}`);
  } catch (err) {
    process.stderr.write(`zsync-streams sync: ${describeError(err)}\n${usage}\n`);
    return 1;
  }
  const { values, positionals } = parsed;
  const quiet = values.quiet === true || values.silent === true;
  const json = values.json === true;
  const options: ZsyncOptions = {};
  try {
    if (values.input) options.seeds = values.input;
    if (values.output !== undefined) options.output = values.output;
    if (values.url !== undefined) options.url = values.url;
    if (values.keep !== undefined) options.keep = values.keep;
    if (values.auth) options.auth = parseAuth(values.auth);
    if (values.ca !== undefined) options.ca = await readFile(values.ca);
    if (values['no-check-certificate'] === true) {
      options.insecure = true;
      process.stderr.write('zsync-streams sync: warning: TLS certificates are not checked (--no-check-certificate)\n');
    }
    if (values.concurrency !== undefined) options.concurrency = Math.max(1, integerOption('concurrency', values.concurrency, 4));
    if (values['max-ranges'] !== undefined) options.maxRangesPerRequest = Math.max(1, integerOption('max-ranges', values['max-ranges'], DEFAULT_MAX_RANGES));
  } catch (err) {
    process.stderr.write(`zsync-streams sync: ${describeError(err)}\n`);
    return 1;
  }

  const bar = !quiet && !json && process.stderr.isTTY ? await ProgressBar.create() : undefined;
  if (bar) options.onProgress = (p) => bar.update(p);
  const report = (result: ZsyncResult): void => {
    if (json) {
      process.stdout.write(`${JSON.stringify(result)}\n`);
    } else if (!quiet) {
      for (const note of result.adaptations) process.stderr.write(`note: ${note}\n`);
      // zsync's own summary line, which existing tooling parses.
      process.stdout.write(`used ${result.bytesReused} local, fetched ${result.bytesFetched}\n`);
    }
  };
  const failed = (err: unknown): number => {
    bar?.stop();
    if (json) process.stdout.write(`${JSON.stringify({ ok: false, error: { code: (err as { code?: string }).code, message: printable(redact((err as Error).message)) } })}\n`);
    process.stderr.write(`zsync-streams sync: ${printable(redact(describeError(err)))}\n`);
    return exitCodeFor(err);
  };
  if (/^tcp:\/\//i.test(positionals[0]!)) {
    const httpOnly = (['url', 'keep', 'auth', 'ca', 'no-check-certificate', 'concurrency', 'max-ranges'] as const).filter((k) => values[k] !== undefined);
    if (httpOnly.length > 0) {
      process.stderr.write(`zsync-streams sync: --${httpOnly.join(', --')} apply to HTTP sources only\n`);
      return 1;
    }
    try {
      await syncOverTcp(positionals[0]!, options, values.follow === true, (result) => {
        bar?.stop();
        report(result);
      });
    } catch (err) {
      return failed(err);
    }
    bar?.stop();
    return 0;
  }
  if (values.follow === true) {
    process.stderr.write('zsync-streams sync: --follow needs a tcp:// source\n');
    return 1;
  }
  let result: ZsyncResult;
  try {
    result = await zsync(positionals[0]!, options);
  } catch (err) {
    return failed(err);
  }
  bar?.stop();
  report(result);
  return 0;
}

/** Syncs from a socket server; with `follow`, until the server leaves or Ctrl-C. */
async function syncOverTcp(source: string, options: ZsyncOptions, follow: boolean, onSynced: (result: ZsyncResult) => void): Promise<void> {
  const url = new URL(source);
  const port = Number(url.port);
  if (!url.hostname || !Number.isSafeInteger(port) || port <= 0) throw new InvalidArgumentError(`expected tcp://HOST:PORT[/NAME], got ${source}`);
  const { syncOverStream } = await import('../socket/client.js');
  const name = decodeURIComponent(url.pathname.replace(/^\//, ''));
  const stop = new AbortController();
  const leave = (): void => stop.abort(new Error('interrupted'));
  process.once('SIGINT', leave);
  process.once('SIGTERM', leave);
  try {
    const socket = connect(port, url.hostname.replace(/^\[|\]$/g, ''));
    // No connection means no control data: zsync's exit 3, as for an unreachable .zsync.
    await once(socket, 'connect').catch((err: unknown) => {
      throw new ControlFileUnavailableError(source, err);
    });
    const { seeds, output, onProgress, keepOld } = options;
    await syncOverStream(socket, {
      name,
      follow,
      signal: stop.signal,
      onSynced,
      ...(seeds ? { seeds } : {}),
      ...(output !== undefined ? { output } : {}),
      ...(onProgress ? { onProgress } : {}),
      ...(keepOld !== undefined ? { keepOld } : {}),
    });
  } finally {
    process.off('SIGINT', leave);
    process.off('SIGTERM', leave);
  }
}

/** Any `scheme://user:pass@` left in a message (from a cause we did not word) is redacted. */
function redact(text: string): string {
  return text.replace(/\b([a-z][a-z0-9+.-]*:\/\/)[^/@\s?#]*@/gi, '$1***@');
}

function parseAuth(list: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const item of list) {
    const eq = item.indexOf('=');
    if (eq <= 0 || !item.slice(eq + 1).includes(':')) throw new InvalidArgumentError(`-A takes HOST=USER:PASSWORD, got '${item}'`);
    out[item.slice(0, eq)] = item.slice(eq + 1);
  }
  return out;
}

/** Phase, bytes, rate and ETA on stderr, redrawn in place. */
class ProgressBar {
  /** cli-progress is imported only when a bar is shown: 25 ms of every other run's start-up. */
  static async create(): Promise<ProgressBar> {
    const { default: cliProgress } = await import('cli-progress');
    return new ProgressBar(
      new cliProgress.SingleBar({
        format: '{phase} |{bar}| {percentage}% {doneMB}/{totalMB} MB {rate} MB/s ETA {eta}',
        stream: process.stderr,
        hideCursor: true,
        clearOnComplete: true,
      }, cliProgress.Presets.shades_classic),
    );
  }

  private constructor(private readonly bar: SingleBar) {}

  private phase = '';
  private started = 0;

  update(p: ZsyncProgress): void {
    if (p.total <= 0 && p.phase !== 'done') return; // nothing to measure yet (reading the .zsync)
    if (p.phase !== this.phase) {
      this.phase = p.phase;
      this.started = performance.now();
      if (p.phase === 'done') return this.stop();
      this.bar.stop();
      this.bar.start(Math.max(1, p.total), 0, this.payload(p));
    }
    this.bar.setTotal(Math.max(1, p.total));
    this.bar.update(p.done, this.payload(p));
  }

  stop(): void {
    this.bar.stop();
  }

  private payload(p: ZsyncProgress): Record<string, string> {
    const seconds = (performance.now() - this.started) / 1000;
    return {
      phase: (p.seed ? `${p.phase} ${p.seed.slice(-24)}` : p.phase).padEnd(8),
      doneMB: (p.done / 1e6).toFixed(1),
      totalMB: (p.total / 1e6).toFixed(1),
      rate: seconds > 0 ? (p.done / 1e6 / seconds).toFixed(1) : '0.0',
      // Our own ETA: cli-progress's shows garbage before the first byte of a phase.
      eta: p.done > 0 && seconds > 0 ? `${Math.ceil(((p.total - p.done) * seconds) / p.done)}s` : '-',
    };
  }
}
