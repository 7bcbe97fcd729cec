/**
 * The socket transport under load: N concurrent clients with the same old copy
 * sync from one server on loopback, all outputs byte-identical, the server's
 * reads from the file at most 1.1x the union of the bytes asked for (its block
 * cache works); then the file changes, `update()` pushes version 2, and every
 * following client must reach it. Bounded in time; prints one table (or JSON).
 *
 *   npm run bench -- --only socket [--clients N] [--size MIB] ...
 *   node --import tsx bench/socket.ts [options]          (after `npm run build`)
 *
 * This harness runs under tsx; the server and the clients run under plain
 * `node` (bench/socket-child.js) importing a snapshot of the BUILT dist/: the
 * server in a process of its own (its peak RSS is its own), the clients spread
 * over --procs processes, all connecting at once with `follow: true`.
 *
 * The corpus is made here, deterministically, in a scratch folder: v1 (the
 * served file; AES-256-CTR keystream), old = v1 with ~1% of its bytes edited in
 * scattered places (inserts, deletes, overwrites of 1..4096 bytes, so offsets
 * shift), v2 = v1 with another ~0.5% edited. Each client starts from its own
 * copy of old as OUTPUT (--mode copy, the default) or from no OUTPUT with old as
 * a shared seed (--mode seed, zsync's -i).
 *
 * Phases: v1 (from 'go' until every client has v1 in place), verify (SHA-1 of
 * every OUTPUT, untimed), v2 (the parent renames v2 over the served file and
 * asks for update(); until every client has v2 in place), verify, leave
 * (every client aborts its signal), close. The run fails (exit 1) if an output's
 * SHA-1 is wrong, a client fails, the server reads more than 1.1x the union
 * of the ranges asked in a phase, or the whole run outlives --timeout.
 */
import type { SyncServerStats } from '../lib/socket/server.js';
import { distStamp, takeSnapshot } from './dist-snapshot.js';
import { benchOptions, positiveInteger, UsageError } from './options.js';
import { fork, type ChildProcess } from 'node:child_process';
import { createCipheriv, createHash } from 'node:crypto';
import { copyFile, mkdir, mkdtemp, rename, rm, statfs, writeFile } from 'node:fs/promises';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

const HERE = dirname(fileURLToPath(import.meta.url));
const CHILD = join(HERE, 'socket-child.js');
/** The bound of the issue: bytes read from the file per phase, over the union of the bytes asked. */
const READ_RATIO_BOUND = 1.1;

export const SOCKET_USAGE = `Usage: npm run bench -- --only socket [options]
       node --import tsx bench/socket.ts [options]     (run \`npm run build\` first)

  --clients N       concurrent clients (default 200)
  --procs N         client processes they are spread over (default 2)
  --size MIB        size of the served file (default 16)
  --mode MODE       copy: each client's OUTPUT starts as its own copy of old (default);
                    seed: no OUTPUT, old as a seed (-i), shared by all
  --cache-mib N     the server's block cache (maxBytes; default: the server's own, 32 MiB)
  --timeout S       the whole run's bound, seconds (default 300): past it every process is killed and the run fails
  --json            print the results as JSON instead of the table
  --keep            keep the scratch folder (corpus, outputs) and print its path
  -h, --help        this text

Scratch space: a folder in \$TMPDIR holding every client's OUTPUT (and OUTPUT.part while
it syncs): about clients x size x 2 (200 x 16 MiB: 6.7 GB), removed at the end.`;

export interface SocketOptions {
  clients: number;
  procs: number;
  sizeMiB: number;
  mode: 'copy' | 'seed';
  cacheMiB: number | null;
  timeoutS: number;
  json: boolean;
  keep: boolean;
}

function parseOptions(argv: string[]): SocketOptions | null {
  const { values } = parseArgs({
    args: argv,
    options: {
      clients: { type: 'string' },
      procs: { type: 'string' },
      size: { type: 'string' },
      mode: { type: 'string' },
      'cache-mib': { type: 'string' },
      timeout: { type: 'string' },
      json: { type: 'boolean' },
      keep: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help) return null;
  const mode = values.mode ?? 'copy';
  if (mode !== 'copy' && mode !== 'seed') throw new UsageError(`--mode must be copy or seed, got ${mode}`);
  const clients = positiveInteger('clients', values.clients, 200);
  return {
    clients,
    procs: Math.min(clients, positiveInteger('procs', values.procs, 2)),
    sizeMiB: positiveInteger('size', values.size, 16),
    mode,
    cacheMiB: values['cache-mib'] === undefined ? null : positiveInteger('cache-mib', values['cache-mib'], 32),
    timeoutS: positiveInteger('timeout', values.timeout, 300),
    json: values.json ?? false,
    keep: values.keep ?? false,
  };
}

function say(message: string): void {
  process.stderr.write(`bench socket: ${message}\n`);
}

// ---------------------------------------------------------------- corpus

/** A small seeded PRNG (mulberry32): the same edits on any machine. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function keystream(label: string, length: number): Buffer {
  const cipher = createCipheriv('aes-256-ctr', createHash('sha256').update(label).digest(), Buffer.alloc(16));
  return cipher.update(Buffer.alloc(length));
}

/**
 * `src` with about `fraction` of its bytes edited in scattered places: one edit
 * (insert, delete or overwrite of 1..4096 bytes, random bytes) per slot of
 * `src.length / edits` bytes, as bench/make-corpus.sh does.
 */
function edited(src: Buffer, fraction: number, seed: number): { data: Buffer; edits: number } {
  const random = rng(seed);
  const int = (n: number): number => Math.floor(random() * n);
  const edits = Math.max(1, Math.floor((src.length * fraction) / 2048));
  const slot = Math.floor(src.length / edits);
  const parts: Buffer[] = [];
  let cur = 0;
  for (let k = 0; k < edits; k++) {
    const pos = k * slot + int(Math.max(1, slot - 4096));
    const length = 1 + int(4096);
    const kind = int(3);
    parts.push(src.subarray(cur, pos));
    cur = pos;
    if (kind === 0) parts.push(keystream(`zbench-socket-insert-${seed}-${k}`, length));
    else if (kind === 1) cur += length;
    else {
      parts.push(keystream(`zbench-socket-overwrite-${seed}-${k}`, length));
      cur += length;
    }
  }
  parts.push(src.subarray(Math.min(cur, src.length)));
  return { data: Buffer.concat(parts), edits };
}

interface Corpus {
  old: string;
  v1: string;
  v2: string;
  served: string;
  bytes: { old: number; v1: number; v2: number };
  sha1: { v1: string; v2: string };
  edits: { old: number; v2: number };
}

async function makeCorpus(dir: string, sizeMiB: number): Promise<Corpus> {
  const v1 = keystream('zbench-socket-v1', sizeMiB << 20);
  const old = edited(v1, 0.01, 1);
  const v2 = edited(v1, 0.005, 2);
  const paths = { old: join(dir, 'old.bin'), v1: join(dir, 'v1.bin'), v2: join(dir, 'v2.bin'), served: join(dir, 'served', 'file.bin') };
  await mkdir(dirname(paths.served), { recursive: true });
  await writeFile(paths.old, old.data);
  await writeFile(paths.v1, v1);
  await writeFile(paths.v2, v2.data);
  await copyFile(paths.v1, paths.served);
  const sha1 = (b: Buffer): string => createHash('sha1').update(b).digest('hex');
  return {
    ...paths,
    bytes: { old: old.data.length, v1: v1.length, v2: v2.data.length },
    sha1: { v1: sha1(v1), v2: sha1(v2.data) },
    edits: { old: old.edits, v2: v2.edits },
  };
}

// ---------------------------------------------------------------- dist snapshot



// ---------------------------------------------------------------- children

type Message = { type: string } & Record<string, unknown>;

/** A forked bench/socket-child.js: messages by type, waited for one at a time. */
class Child {
  readonly process: ChildProcess;
  private readonly queues = new Map<string, Message[]>();
  private readonly waiters = new Map<string, Array<(m: Message) => void>>();
  private stderr = '';
  exited = false;

  constructor(
    readonly name: string,
    role: string,
    config: unknown,
    env: NodeJS.ProcessEnv,
    onEvent: (child: Child, m: Message) => boolean,
    onExit: (child: Child, why: string) => void,
  ) {
    // execArgv: [] keeps tsx (this harness's loader) out of the child: plain node.
    this.process = fork(CHILD, [role, JSON.stringify(config)], { execArgv: [], env, stdio: ['ignore', 'pipe', 'pipe', 'ipc'] });
    this.process.stdout!.setEncoding('utf8').on('data', (s: string) => (this.stderr += s));
    this.process.stderr!.setEncoding('utf8').on('data', (s: string) => (this.stderr += s));
    this.process.on('message', (m: Message) => {
      if (m.type === 'fatal') return onExit(this, `failed: ${String(m.message)}`);
      if (onEvent(this, m)) return;
      const waiting = this.waiters.get(m.type)?.shift();
      if (waiting) waiting(m);
      else this.queues.set(m.type, [...(this.queues.get(m.type) ?? []), m]);
    });
    this.process.on('exit', (code, signal) => {
      this.exited = true;
      if (code !== 0) onExit(this, `exited (${signal ?? `code ${code}`})${this.stderr ? `:\n${this.stderr.slice(-2000)}` : ''}`);
    });
  }

  /** The next message of `type` from this child. */
  next<T extends Message>(type: string): Promise<T> {
    const queued = this.queues.get(type)?.shift();
    if (queued) return Promise.resolve(queued as T);
    return new Promise((resolvePromise) => this.waiters.set(type, [...(this.waiters.get(type) ?? []), resolvePromise as (m: Message) => void]));
  }

  send(m: Message): void {
    this.process.send(m);
  }

  kill(): void {
    if (!this.exited) this.process.kill('SIGKILL');
  }
}

// ---------------------------------------------------------------- results

interface ServerSnapshot extends Message {
  stats: SyncServerStats;
  unions: Record<string, { ranges: number; asked: number; union: number }>;
  rss: number;
  phasePeakRss: number;
  maxRssKiB: number;
  cpuS: number;
  sessionErrors: string[];
}

interface Synced {
  client: number;
  version: number;
  sinceConnectS: number;
  totalS: number;
  bytesFetched: number;
  bytesReused: number;
  requests: number;
}

export interface PhaseResult {
  version: number;
  /** Seconds from 'go' (v1) or from the request for update() (v2) until the last client had it in place. */
  wallS: number;
  /** v2: seconds update() took (new checksums, announce). */
  updateS: number | null;
  /** Per client: v1 from connect, v2 from the announcement (its own clock), until in place. */
  clientS: { median: number; p95: number; max: number };
  fetchedPerClient: { median: number; max: number };
  requestsPerClient: { median: number; max: number };
  synced: number;
  outputsOk: number;
  mismatches: string[];
  /** From the server: WANT requests, bytes asked (sum over clients), their union, bytes read from the file, sent. */
  requests: number;
  bytesAsked: number;
  unionAsked: number;
  bytesRead: number;
  readRatio: number | null;
  bytesSent: number;
  reads: number;
  hits: number;
  misses: number;
  serverPeakRssMB: number;
  serverCpuS: number;
}

export interface SocketBenchResult {
  ok: boolean;
  failures: string[];
  meta: {
    clients: number;
    procs: number;
    mode: 'copy' | 'seed';
    fileBytes: number;
    v2Bytes: number;
    oldBytes: number;
    blockSize: number;
    edits: { old: number; v2: number };
    cacheMiB: number | null;
    node: string;
    cpus: number;
    load: [number, number];
    dist: string;
  };
  phases: PhaseResult[];
  totalS: number;
  leaveS: number;
  server: {
    sessions: number;
    peakClients: number;
    sessionErrors: number;
    sessionErrorSamples: string[];
    requests: number;
    bytesRead: number;
    bytesSent: number;
    peakRssMB: number;
    idleRssMB: number;
    rssAfterV1MB: number;
    cpuS: number;
  };
  clientProcs: Array<{ peakRssMB: number; cpuS: number; clients: number }>;
  clientErrors: string[];
}

function quantile(values: number[], q: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

const MB = (bytes: number): number => bytes / 1e6;

export function formatSocketReport(r: SocketBenchResult): string {
  const m = r.meta;
  const lines: string[] = [];
  lines.push(
    `socket bench: ${m.clients} clients in ${m.procs} processes, loopback, ${(m.fileBytes / 1048576).toFixed(0)} MiB file (block ${m.blockSize}), ` +
      `old = ${m.edits.old} edits, v2 = ${m.edits.v2} more; mode ${m.mode}; cache ${m.cacheMiB === null ? 'default' : `${m.cacheMiB} MiB`}`,
  );
  lines.push(`node ${m.node}, ${m.cpus} CPUs, load ${m.load[0].toFixed(2)} -> ${m.load[1].toFixed(2)}; ${m.dist}`);
  lines.push('');
  const phases = r.phases;
  const rows: Array<[string, ...string[]]> = [['', ...phases.map((p) => `v${p.version}`)]];
  const row = (label: string, f: (p: PhaseResult) => string): void => {
    rows.push([label, ...phases.map(f)]);
  };
  const s = (x: number, d = 2): string => (Number.isFinite(x) ? x.toFixed(d) : '-');
  row('wall s, all clients in place', (p) => s(p.wallS));
  row('  of which update() s', (p) => (p.updateS === null ? '-' : s(p.updateS)));
  row('client s median / p95 / max', (p) => `${s(p.clientS.median)} / ${s(p.clientS.p95)} / ${s(p.clientS.max)}`);
  row('clients synced, SHA-1 ok', (p) => `${p.synced}, ${p.outputsOk}/${m.clients}`);
  row('fetched KB per client (median)', (p) => s(p.fetchedPerClient.median / 1e3, 1));
  row('WANT requests (server)', (p) => String(p.requests));
  row('asked MB, sum over clients', (p) => s(MB(p.bytesAsked), 1));
  row('asked MB, union', (p) => s(MB(p.unionAsked), 3));
  row('server read MB from file', (p) => s(MB(p.bytesRead), 3));
  row(`read / union (<= ${READ_RATIO_BOUND})`, (p) => (p.readRatio === null ? '-' : `${s(p.readRatio, 3)}${p.readRatio > READ_RATIO_BOUND ? ' FAIL' : ''}`));
  row('reads; cache hits / misses', (p) => `${p.reads}; ${p.hits} / ${p.misses}`);
  row('server sent MB', (p) => s(MB(p.bytesSent), 1));
  row('server peak RSS MB in phase', (p) => s(p.serverPeakRssMB, 1));
  row('server CPU s in phase', (p) => s(p.serverCpuS, 2));
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((x) => x[i]!.length)));
  for (const x of rows) lines.push(x.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]! + 2))).join(''));
  lines.push('client s: v1 from connect, v2 from the announcement (each client\'s clock), until its OUTPUT is replaced');
  lines.push('');
  const sv = r.server;
  lines.push(`total wall s (go to all left): ${s(r.totalS)}; leave (abort all) s: ${s(r.leaveS)}`);
  lines.push(`server: sessions ${sv.sessions}, peak clients ${sv.peakClients}, session errors ${sv.sessionErrors}, WANTs ${sv.requests}, read ${s(MB(sv.bytesRead), 3)} MB, sent ${s(MB(sv.bytesSent), 1)} MB`);
  lines.push(`server peak RSS MB ${s(sv.peakRssMB, 1)} (idle before clients ${s(sv.idleRssMB, 1)}, after v1 with all connected ${s(sv.rssAfterV1MB, 1)}); CPU s ${s(sv.cpuS)}`);
  lines.push(`client processes peak RSS MB ${r.clientProcs.map((c) => `${s(c.peakRssMB, 1)} (${c.clients} clients, CPU s ${s(c.cpuS, 1)})`).join(', ')}`);
  for (const e of sv.sessionErrorSamples) lines.push(`  session error: ${e}`);
  for (const e of r.clientErrors.slice(0, 10)) lines.push(`  client error: ${e}`);
  for (const p of r.phases) for (const e of p.mismatches) lines.push(`  v${p.version} mismatch: ${e}`);
  lines.push(r.ok ? 'result: OK' : `result: FAILED: ${r.failures.join('; ')}`);
  return lines.join('\n') + '\n';
}

// ---------------------------------------------------------------- the run

export async function socketBench(argv: string[]): Promise<number> {
  const options = benchOptions(argv, parseOptions, SOCKET_USAGE, say);
  if (typeof options === 'number') return options;
  const scratch = await mkdtemp(join(tmpdir(), 'zbench-socket-'));
  // Each client's OUTPUT and OUTPUT.part at once, the corpus and the snapshot of dist/.
  const needed = (options.clients * (options.mode === 'copy' ? 2 : 1) + 6) * (options.sizeMiB << 20);
  const fs = await statfs(scratch);
  if (fs.bavail * fs.bsize < needed * 1.1) {
    await rm(scratch, { recursive: true, force: true });
    say(`${options.clients} clients of ${options.sizeMiB} MiB need about ${(needed / 1e9).toFixed(1)} GB in ${tmpdir()}; ${((fs.bavail * fs.bsize) / 1e9).toFixed(1)} GB are free (set TMPDIR elsewhere)`);
    return 1;
  }
  const children: Child[] = [];
  let phase = 'setup';
  let timer: NodeJS.Timeout | undefined;
  try {
    const failed = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out after ${options.timeoutS} s in phase '${phase}'`)), options.timeoutS * 1000);
    });
    const onExit = (child: Child, why: string): void => {
      failedChild ??= new Error(`${child.name} ${why} (phase '${phase}')`);
      wakeFailure?.(failedChild);
    };
    let failedChild: Error | undefined;
    let wakeFailure: ((e: Error) => void) | undefined;
    const childFailed = new Promise<never>((_, reject) => (wakeFailure = reject));
    childFailed.catch(() => {});
    failed.catch(() => {});
    const bounded = <T>(p: Promise<T>): Promise<T> => Promise.race([p, failed, childFailed]);
    const result = await bounded(run(options, scratch, children, onExit, (p) => (phase = p), bounded));
    process.stdout.write(options.json ? JSON.stringify(result, null, 2) + '\n' : formatSocketReport(result));
    return result.ok ? 0 : 1;
  } catch (err) {
    say(`FAILED: ${err instanceof Error ? err.message : String(err)}`);
    return 1;
  } finally {
    clearTimeout(timer);
    for (const c of children) c.kill();
    if (options.keep) say(`kept ${scratch}`);
    else await rm(scratch, { recursive: true, force: true, maxRetries: 3 });
  }
}

async function run(
  options: SocketOptions,
  scratch: string,
  children: Child[],
  onExit: (child: Child, why: string) => void,
  setPhase: (phase: string) => void,
  bounded: <T>(p: Promise<T>) => Promise<T>,
): Promise<SocketBenchResult> {
  const loadBefore = loadavg()[0]!;
  const stamp = new Date(distStamp()).toISOString();
  const distEntry = await takeSnapshot(scratch);
  const env: NodeJS.ProcessEnv = { ...process.env, ZBENCH_DIST: distEntry };
  delete env.NODE_OPTIONS;

  say(`making the corpus (${options.sizeMiB} MiB) in ${scratch}`);
  const corpus = await makeCorpus(scratch, options.sizeMiB);

  // Every client's progress, by version: what it reported when that version was in place.
  const synced = new Map<number, Synced[]>();
  const clientErrors: string[] = [];
  let wake: (() => void) | undefined;
  const onEvent = (_child: Child, m: Message): boolean => {
    if (m.type === 'synced') {
      const s = m as unknown as Synced;
      synced.set(s.version, [...(synced.get(s.version) ?? []), s]);
      wake?.();
      return true;
    }
    if (m.type === 'client-error') {
      clientErrors.push(`client ${String(m.client)}: ${String(m.message)}`);
      wake?.();
      return true;
    }
    return false;
  };
  const allSynced = async (version: number): Promise<number> => {
    while ((synced.get(version)?.length ?? 0) + clientErrors.length < options.clients) await new Promise<void>((r) => (wake = r));
    return performance.now();
  };

  setPhase('server start');
  const serverConfig: Record<string, unknown> = { path: corpus.served, stallTimeoutMs: 60_000 };
  if (options.cacheMiB !== null) serverConfig.maxBytes = options.cacheMiB << 20;
  const server = new Child('server', 'server', serverConfig, env, onEvent, onExit);
  children.push(server);
  const listening = await bounded(server.next<ServerSnapshot & { port: number; blockSize: number }>('listening'));

  setPhase('client setup');
  say(`server on port ${listening.port}; preparing ${options.clients} clients in ${options.procs} processes (mode ${options.mode})`);
  const procs: Child[] = [];
  for (let i = 0, first = 0; i < options.procs; i++) {
    const count = Math.floor(options.clients / options.procs) + (i < options.clients % options.procs ? 1 : 0);
    const config = { port: listening.port, first, count, workDir: join(scratch, 'clients'), old: corpus.old, mode: options.mode };
    first += count;
    const c = new Child(`client process ${i + 1}`, 'clients', config, env, onEvent, onExit);
    children.push(c);
    procs.push(c);
  }
  await bounded(Promise.all(procs.map((c) => c.next('ready'))));

  const phases: PhaseResult[] = [];
  server.send({ type: 'snapshot' });
  let before = await bounded(server.next<ServerSnapshot>('snapshot'));
  const idle = before;

  const measurePhase = async (version: number, t0: number, updateS: number | null, sha1: string): Promise<PhaseResult> => {
    const t1 = await bounded(allSynced(version));
    setPhase(`v${version} snapshot`);
    server.send({ type: 'snapshot' });
    const after = await bounded(server.next<ServerSnapshot>('snapshot'));
    setPhase(`v${version} verify`);
    say(`v${version}: every client reported in ${((t1 - t0) / 1000).toFixed(2)} s; checking ${options.clients} outputs' SHA-1`);
    for (const c of procs) c.send({ type: 'verify', version, sha1 });
    const checks = await bounded(Promise.all(procs.map((c) => c.next<Message & { ok: number; mismatches: string[] }>('verified'))));
    const mine = synced.get(version) ?? [];
    const clientS = mine.map((x) => (version === 1 ? x.sinceConnectS : x.totalS));
    const union = after.unions[String(version)] ?? { ranges: 0, asked: 0, union: 0 };
    const bytesRead = after.stats.bytesRead - before.stats.bytesRead;
    const result: PhaseResult = {
      version,
      wallS: (t1 - t0) / 1000,
      updateS,
      clientS: { median: quantile(clientS, 0.5), p95: quantile(clientS, 0.95), max: quantile(clientS, 1) },
      fetchedPerClient: { median: quantile(mine.map((x) => x.bytesFetched), 0.5), max: quantile(mine.map((x) => x.bytesFetched), 1) },
      requestsPerClient: { median: quantile(mine.map((x) => x.requests), 0.5), max: quantile(mine.map((x) => x.requests), 1) },
      synced: mine.length,
      outputsOk: checks.reduce((n, c) => n + c.ok, 0),
      mismatches: checks.flatMap((c) => c.mismatches),
      requests: after.stats.requests - before.stats.requests,
      bytesAsked: after.stats.bytesAsked - before.stats.bytesAsked,
      unionAsked: union.union,
      bytesRead,
      readRatio: union.union > 0 ? bytesRead / union.union : null,
      bytesSent: after.stats.bytesSent - before.stats.bytesSent,
      reads: after.stats.reads - before.stats.reads,
      hits: after.stats.hits - before.stats.hits,
      misses: after.stats.misses - before.stats.misses,
      serverPeakRssMB: MB(after.phasePeakRss),
      serverCpuS: after.cpuS - before.cpuS,
    };
    before = after;
    return result;
  };

  // v1: every client connects at once.
  setPhase('v1');
  say(`v1: ${options.clients} clients connect`);
  const go = performance.now();
  for (const c of procs) c.send({ type: 'go' });
  phases.push(await measurePhase(1, go, null, corpus.sha1.v1));
  const afterV1 = before;

  // v2: the served file is replaced (atomically), then update() pushes it.
  setPhase('v2');
  say('v2: replacing the served file and calling update()');
  await copyFile(corpus.v2, corpus.served + '.tmp');
  await rename(corpus.served + '.tmp', corpus.served);
  const t2 = performance.now();
  server.send({ type: 'update' });
  const updated = await bounded(server.next<Message & { version: number; seconds: number }>('updated'));
  if (updated.version !== 2) throw new Error(`update() gave version ${updated.version}, expected 2`);
  phases.push(await measurePhase(2, t2, updated.seconds, corpus.sha1.v2));

  setPhase('leave');
  const tLeave = performance.now();
  for (const c of procs) c.send({ type: 'leave' });
  const left = await bounded(Promise.all(procs.map((c) => c.next<Message & { seconds: number; failures: number; maxRssKiB: number; cpuS: number }>('left'))));
  const leaveS = (performance.now() - tLeave) / 1000;
  setPhase('close');
  server.send({ type: 'close' });
  const closed = await bounded(server.next<ServerSnapshot>('closed'));
  const totalS = (performance.now() - go) / 1000;

  const failures: string[] = [];
  for (const p of phases) {
    if (p.outputsOk !== options.clients) failures.push(`v${p.version}: ${options.clients - p.outputsOk} outputs with a wrong SHA-1`);
    if (p.synced !== options.clients) failures.push(`v${p.version}: ${options.clients - p.synced} clients did not sync`);
    if (p.readRatio !== null && p.readRatio > READ_RATIO_BOUND) failures.push(`v${p.version}: the server read ${p.readRatio.toFixed(3)}x the union of the bytes asked (bound ${READ_RATIO_BOUND})`);
    if (p.readRatio === null && p.bytesRead > 0) failures.push(`v${p.version}: the server read ${p.bytesRead} bytes, nothing was asked`);
  }
  if (clientErrors.length > 0) failures.push(`${clientErrors.length} clients failed`);
  if (closed.stats.sessionErrors > 0) failures.push(`${closed.stats.sessionErrors} session errors on the server`);

  return {
    ok: failures.length === 0,
    failures,
    meta: {
      clients: options.clients,
      procs: options.procs,
      mode: options.mode,
      fileBytes: corpus.bytes.v1,
      v2Bytes: corpus.bytes.v2,
      oldBytes: corpus.bytes.old,
      blockSize: listening.blockSize,
      edits: corpus.edits,
      cacheMiB: options.cacheMiB,
      node: process.version,
      cpus: availableParallelism(),
      load: [loadBefore, loadavg()[0]!],
      dist: `dist/ built ${stamp} (a snapshot of it is measured)`,
    },
    phases,
    totalS,
    leaveS,
    server: {
      sessions: closed.stats.sessions,
      peakClients: closed.stats.peakClients,
      sessionErrors: closed.stats.sessionErrors,
      sessionErrorSamples: closed.sessionErrors,
      requests: closed.stats.requests,
      bytesRead: closed.stats.bytesRead,
      bytesSent: closed.stats.bytesSent,
      peakRssMB: (closed.maxRssKiB * 1024) / 1e6,
      idleRssMB: MB(idle.rss),
      rssAfterV1MB: MB(afterV1.rss),
      cpuS: closed.cpuS,
    },
    clientProcs: left.map((l, i) => ({ peakRssMB: (l.maxRssKiB * 1024) / 1e6, cpuS: l.cpuS, clients: procs[i] ? Math.floor(options.clients / options.procs) + (i < options.clients % options.procs ? 1 : 0) : 0 })),
    clientErrors,
  };
}

// Run directly (node --import tsx bench/socket.ts), not when bench/run.ts imports it for --only socket.
if (process.argv[1] && pathToFileURL(resolve(process.argv[1])).href === import.meta.url) {
  socketBench(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      say(err instanceof Error ? (err.stack ?? err.message) : String(err));
      process.exitCode = 1;
    },
  );
}
