/**
 * `npm run bench`: times checksum generation, matching and the full sync on the
 * synthetic corpus, with zsyncmake and zsync 0.6.2 side by side, and prints one table.
 *
 *   node --import tsx bench/run.ts [--size MIB] [--runs N] [--only CASE[,CASE]] [--json] [--no-rival] [--cpu-prof DIR]
 *   node --import tsx bench/run.ts --only socket [--clients N] ...   (bench/socket.ts: its own options and table)
 *
 * The harness runs under tsx, but every timed case runs in a fresh `node`
 * process (bench/case.js) that imports the BUILT package from dist/, so the
 * figures are what users get; run `npm run build` first (`npm run bench` does).
 * Each run alternates ours and the rival (who goes first swaps every run), and
 * the report gives medians. Installs nothing: a missing zsyncmake or zsync is
 * reported and its rows skipped. Environment: ZBENCH_DIR (corpus root, default
 * $TMPDIR/zbench as in make-corpus.sh), ZSYNCMAKE / ZSYNC (paths of the rivals),
 * NGINX (the sync case's server; empty or missing: our `serve`).
 *
 * The sync case runs `node CLI sync -q --json -i old.bin -o out.bin URL` (the CLI
 * of the snapshot of dist/) and `zsync -i old.bin -o out.bin URL`, each in a
 * fresh folder, against nginx on loopback serving the corpus folder and a
 * .zsync made once by the real zsyncmake. Both are timed from outside alike
 * (spawn to exit; CPU and peak RSS by /usr/bin/time), their traffic counted
 * from nginx's access log, and each output's SHA-256 checked against new.bin's.
 */
import { distStamp, takeSnapshot } from './dist-snapshot.js';
import { benchOptions, positiveInteger, UsageError } from './options.js';
import { spawn, spawnSync } from 'node:child_process';
import { createCipheriv, createHash } from 'node:crypto';
import { createReadStream, createWriteStream, existsSync, statSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { checkTargets, formatReport, median, summarize, type BenchResult, type CaseResult, type NetCounts, type Ratio, type Sample } from './report.js';
import { countTraffic, logMark, readLogSince, startNginx, startServe, type BenchServer } from './server.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = resolve(HERE, '..');
const CASE_SCRIPT = join(HERE, 'case.js');

const CASE_IDS = ['checksums', 'match-old', 'match-new', 'match-none', 'sync'] as const;
type CaseId = (typeof CASE_IDS)[number];

const USAGE = `Usage: npm run bench -- [options]

  --size MIB        corpus size (default 256; 1024 for 1 GiB); built with bench/make-corpus.sh when absent
  --runs N          runs of each case, alternating ours and the rival (default 3); medians are reported
  --only socket     the socket transport under load instead (bench/socket.ts, run on its own, with
                    its own options: --only socket --help lists them)
  --only CASE       checksums, match (= match-old,match-new,match-none), sync, or a comma-separated
                    list of checksums, match-old, match-new, match-none, sync
  --json            print the results as JSON instead of the table
  --no-rival        do not run zsyncmake or zsync
  --cpu-prof DIR    run our cases with node --cpu-prof, profiles written to DIR (slows them down;
                    summarise one with: node bench/hotspots.js FILE.cpuprofile)
  -h, --help        this text

Environment: ZBENCH_DIR (corpus root, default \${TMPDIR:-/tmp}/zbench), ZSYNCMAKE, ZSYNC (rival binaries),
NGINX (the sync case's HTTP server; empty or missing: zsync-streams serve).`;

interface Options {
  sizeMiB: number;
  runs: number;
  only: Set<CaseId>;
  json: boolean;
  rival: boolean;
  cpuProf: string | null;
}

function parseOptions(argv: string[]): Options | null {
  const { values } = parseArgs({
    args: argv,
    options: {
      size: { type: 'string' },
      runs: { type: 'string' },
      only: { type: 'string', multiple: true },
      json: { type: 'boolean' },
      'no-rival': { type: 'boolean' },
      'cpu-prof': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help) return null;
  const only = new Set<CaseId>();
  for (const item of (values.only ?? []).flatMap((s) => s.split(','))) {
    const name = item.trim();
    if (name === 'match') for (const id of ['match-old', 'match-new', 'match-none'] as const) only.add(id);
    else if ((CASE_IDS as readonly string[]).includes(name)) only.add(name as CaseId);
    else throw new UsageError(`--only: unknown case ${name} (known: checksums, match, ${CASE_IDS.slice(1).join(', ')})`);
  }
  return {
    sizeMiB: positiveInteger('size', values.size, 256),
    runs: positiveInteger('runs', values.runs, 3),
    only: only.size > 0 ? only : new Set(CASE_IDS),
    json: values.json ?? false,
    rival: !(values['no-rival'] ?? false),
    cpuProf: values['cpu-prof'] ? resolve(values['cpu-prof']) : null,
  };
}

/** Progress and notes go to stderr, so stdout holds only the table or the JSON. */
function say(message: string): void {
  process.stderr.write(`bench: ${message}\n`);
}

function findExecutable(name: string, envName: string): string | null {
  const fromEnv = process.env[envName];
  if (fromEnv !== undefined) return fromEnv !== '' && existsSync(fromEnv) ? fromEnv : null;
  const r = spawnSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' });
  if (r.status === 0 && r.stdout.trim()) return r.stdout.trim();
  // nginx lives in /usr/sbin, which a user's PATH may lack.
  return existsSync(`/usr/sbin/${name}`) ? `/usr/sbin/${name}` : null;
}

/** The package entry the cases import: a snapshot of dist/ once takeSnapshot() has run. */
let distEntry: string | null = null;

/**
 * The environment for child processes: without NODE_OPTIONS, so no tsx or other
 * loader slips in, and with ZBENCH_DIST naming the snapshot of dist/ to import.
 */
function childEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env.NODE_OPTIONS;
  if (distEntry) env.ZBENCH_DIST = distEntry;
  return env;
}


/** The CLI of the snapshot of dist/, as users run it (`node dist/cli.js`). */
function snapshotCli(): string {
  return join(dirname(distEntry!), 'cli.js');
}

interface ChildResult {
  stdout: string;
  stderr: string;
  procS: number;
}

function runChild(command: string, args: string[], options: { cwd?: string; okCodes?: readonly number[] } = {}): Promise<ChildResult> {
  return new Promise((resolvePromise, reject) => {
    const t0 = performance.now();
    const child = spawn(command, args, { cwd: options.cwd ?? ROOT, env: childEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
    child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      const procS = (performance.now() - t0) / 1000;
      if (code !== null && (options.okCodes ?? [0]).includes(code)) resolvePromise({ stdout, stderr, procS });
      else reject(new Error(`${command} ${args.join(' ')} failed (${signal ?? `exit ${code}`}):\n${stderr}${stdout}`));
    });
  });
}

/** Runs bench/case.js under plain node and parses the JSON line it prints. */
async function runCase(args: string[], cpuProf: string | null): Promise<{ report: Record<string, number>; procS: number }> {
  flushDirtyPages();
  const nodeArgs = cpuProf ? ['--cpu-prof', `--cpu-prof-dir=${cpuProf}`] : [];
  const { stdout, procS } = await runChild(process.execPath, [...nodeArgs, CASE_SCRIPT, ...args]);
  const line = stdout.trim().split('\n').pop() ?? '';
  return { report: JSON.parse(line) as Record<string, number>, procS };
}

function oursSample(report: Record<string, number>, procS: number): Sample {
  const { wallS, cpuS, maxRssKiB, bytes, blocks, ...rest } = report;
  const extra: Record<string, number> = {};
  for (const [k, v] of Object.entries(rest)) if (typeof v === 'number') extra[k] = v;
  return {
    wallS: wallS!,
    procS,
    cpuS: cpuS ?? null,
    rssMB: maxRssKiB === undefined ? null : (maxRssKiB * 1024) / 1e6,
    bytes: bytes!,
    blocks: blocks ?? null,
    extra,
  };
}

/** How to read a rival's peak RSS and CPU: /usr/bin/time, else a python3 rusage wrapper, else not at all. */
type Meter = { kind: 'time'; path: string } | { kind: 'python3'; path: string } | { kind: 'none' };

const PY_RUSAGE = `import resource, subprocess, sys
rc = subprocess.call(sys.argv[2:])
u = resource.getrusage(resource.RUSAGE_CHILDREN)
open(sys.argv[1], 'w').write('0 %d %f %f\\n' % (u.ru_maxrss, u.ru_utime, u.ru_stime))
sys.exit(rc)`;

function findMeter(): Meter {
  if (existsSync('/usr/bin/time')) return { kind: 'time', path: '/usr/bin/time' };
  const python = findExecutable('python3', 'PYTHON3');
  return python ? { kind: 'python3', path: python } : { kind: 'none' };
}

/** Runs a rival program, measured from outside: wall from the harness, RSS (KiB) and CPU from the meter. */
async function runRival(meter: Meter, command: string, args: string[], cwd: string, scratch: string, bytes: number): Promise<Sample> {
  return (await runMetered(meter, command, args, cwd, scratch, bytes)).sample;
}

/** runRival(), also returning what the program printed. */
/**
 * `sync` (the shell command, untimed) before a timed run: zsync never fsyncs,
 * so the dirty pages of its out.bin (and of ours before it) would otherwise be
 * written back during the next run, of either tool, and slow it.
 */
function flushDirtyPages(): void {
  spawnSync('sync', [], { stdio: 'ignore' });
}

async function runMetered(meter: Meter, command: string, args: string[], cwd: string, scratch: string, bytes: number, okCodes: readonly number[] = [0]): Promise<{ sample: Sample; stdout: string; stderr: string }> {
  const out = join(scratch, 'rusage.txt');
  let result: ChildResult;
  flushDirtyPages();
  if (meter.kind === 'time') result = await runChild(meter.path, ['-o', out, '-f', '%e %M %U %S', command, ...args], { cwd, okCodes });
  else if (meter.kind === 'python3') result = await runChild(meter.path, ['-c', PY_RUSAGE, out, command, ...args], { cwd, okCodes });
  else result = await runChild(command, args, { cwd, okCodes });
  let rssMB: number | null = null;
  let cpuS: number | null = null;
  if (meter.kind !== 'none') {
    // The last line: GNU time puts `Command exited with non-zero status N` before it (zsync's no-match run).
    const fields = (await readFile(out, 'utf8')).trim().split('\n').pop()!.trim().split(/\s+/).map(Number);
    rssMB = (fields[1]! * 1024) / 1e6;
    cpuS = fields[2]! + fields[3]!;
  }
  return { sample: { wallS: result.procS, procS: result.procS, cpuS, rssMB, bytes, blocks: null, extra: {} }, stdout: result.stdout, stderr: result.stderr };
}

/**
 * zsync's scan of the seed that matches nothing, once (82 s at 1 GiB). zsync
 * has no match-only mode, so it is given a copy of the .zsync, as a local
 * file whose URL is relative to nothing it knows and without its SHA-1 line:
 * it reads the seed, finds nothing, fails to start the download at once, and
 * exits 0 without reading the whole (empty) result back to hash it (with the
 * SHA-1, that read took a quarter of its time at 256 MiB). Its time is then
 * its start-up, its reading of the .zsync, and its scan, as ours is.
 */
async function timeZsyncNoMatch(meter: Meter, zsync: string, noMatch: string, control: string, scratch: string, bytes: number): Promise<Sample> {
  const work = await mkdtemp(join(scratch, 'nomatch-zsync-'));
  try {
    const text = await readFile(control);
    const headerEnd = text.indexOf('\n\n');
    if (headerEnd < 0) throw new Error(`${control} has no header`);
    const header = text.subarray(0, headerEnd).toString('latin1').split('\n').filter((line) => !line.startsWith('SHA-1:'));
    await writeFile(join(work, 'nomatch.zsync'), Buffer.concat([Buffer.from(header.join('\n'), 'latin1'), text.subarray(headerEnd)]));
    const r = await runMetered(meter, zsync, ['-i', resolve(noMatch), '-o', 'out.bin', 'nomatch.zsync'], work, scratch, bytes);
    const said = r.stdout + r.stderr;
    // A seed it could not open is "not used", and then it also reports 0%.
    if (/not using seed file/.test(said) || !/Target 0\.0% complete/.test(said) || !/used 0 local/.test(said)) {
      throw new Error(`zsync did not scan the seed that matches nothing and find nothing:\n${said.slice(-500)}`);
    }
    return { ...r.sample, blocks: 0 };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

function corpusRoot(): string {
  return process.env.ZBENCH_DIR ?? join(process.env.TMPDIR ?? '/tmp', 'zbench');
}

async function ensureCorpus(sizeMiB: number): Promise<string> {
  const dir = join(corpusRoot(), `syn${sizeMiB}`);
  // corpus.txt is written last, with the files' sha256: its presence means the pair is complete.
  if (existsSync(join(dir, 'corpus.txt')) && existsSync(join(dir, 'old.bin')) && existsSync(join(dir, 'new.bin'))) return dir;
  say(`building the ${sizeMiB} MiB corpus in ${dir} with bench/make-corpus.sh (needs openssl and python3)`);
  const r = spawnSync('bash', [join(HERE, 'make-corpus.sh'), String(sizeMiB)], { env: { ...process.env, ZBENCH_DIR: corpusRoot() }, stdio: ['ignore', 2, 2] });
  if (r.status !== 0) throw new Error(`bench/make-corpus.sh ${sizeMiB} failed (${r.error?.message ?? `exit ${r.status}`})`);
  return dir;
}

/** Unrelated random data as long as new.bin (AES-256-CTR keystream of another key): a seed that matches nothing. */
async function ensureNoMatch(dir: string, length: number): Promise<string> {
  const path = join(dir, 'nomatch.bin');
  if (existsSync(path) && statSync(path).size === length) return path;
  say(`writing ${path} (${length} bytes of unrelated random data)`);
  const cipher = createCipheriv('aes-256-ctr', createHash('sha256').update('zbench-nomatch').digest(), Buffer.alloc(16));
  const zeros = Buffer.alloc(1 << 20);
  async function* keystream(): AsyncGenerator<Buffer> {
    for (let left = length; left > 0; left -= zeros.length) yield cipher.update(left >= zeros.length ? zeros : zeros.subarray(0, left));
  }
  await pipeline(Readable.from(keystream()), createWriteStream(path));
  return path;
}

/** new.bin's checksums, computed once (untimed, by the build measured) and cached next to it for the match cases. */
async function ensureSums(dir: string, blockSize: number): Promise<string> {
  const newBin = join(dir, 'new.bin');
  const cache = join(dir, `new.bin.sums-${blockSize}`);
  // Stale when new.bin or the build is newer: a change in lib/ may change the sums.
  if (existsSync(cache) && statSync(cache).mtimeMs >= Math.max(statSync(newBin).mtimeMs, distStamp())) return cache;
  say(`computing new.bin's checksums once for the match cases (${cache})`);
  await runCase(['sums', newBin, String(blockSize), cache], null);
  return cache;
}

/**
 * new.bin's .zsync for the sync case, served next to it: made once by the real
 * zsyncmake (untimed, `-u new.bin`, the harness's block size) and kept in the
 * corpus folder; by our `make` each time when zsyncmake is missing.
 */
async function ensureControl(dir: string, blockSize: number, zsyncmake: string | null): Promise<string> {
  const newBin = join(dir, 'new.bin');
  if (zsyncmake) {
    const name = `new.bin.b${blockSize}.zsync`;
    const path = join(dir, name);
    if (existsSync(path) && statSync(path).mtimeMs >= statSync(newBin).mtimeMs) return name;
    say(`making ${path} once with ${zsyncmake} for the sync case`);
    await runChild(zsyncmake, ['-b', String(blockSize), '-u', 'new.bin', '-o', path + '.tmp', 'new.bin'], { cwd: dir });
    await rename(path + '.tmp', path);
    return name;
  }
  const name = `new.bin.b${blockSize}.ours.zsync`;
  say(`zsyncmake is missing: making ${join(dir, name)} with our make for the sync case`);
  await runChild(process.execPath, [snapshotCli(), 'make', '-b', String(blockSize), '-u', 'new.bin', '-o', join(dir, name), 'new.bin'], { cwd: dir });
  return name;
}

/** new.bin's SHA-256, from corpus.txt (make-corpus.sh records it) or computed. */
async function expectedSha256(dir: string): Promise<string> {
  const recorded = /^([0-9a-f]{64})\s+\*?new\.bin$/m.exec(await readFile(join(dir, 'corpus.txt'), 'utf8').catch(() => ''));
  return recorded ? recorded[1]! : sha256Of(join(dir, 'new.bin'));
}

async function sha256Of(path: string): Promise<string> {
  const hash = createHash('sha256');
  await pipeline(createReadStream(path, { highWaterMark: 1 << 20 }), hash);
  return hash.digest('hex');
}

/** Which code was measured: the commit (and whether the tree differs from it) and when dist/ was built. */
function describeCode(): string {
  const head = spawnSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' });
  const dirty = spawnSync('git', ['status', '--porcelain', '--untracked-files=no', '--', 'lib'], { cwd: ROOT, encoding: 'utf8' });
  const commit = head.status === 0 ? head.stdout.trim() + (dirty.stdout.trim() ? ' + uncommitted lib/ changes' : '') : 'unknown commit';
  return `${commit}, dist/ built ${new Date(distStamp()).toISOString()} (a snapshot of it is measured)`;
}

/** Newest modification time under dist/: if it changes during a run, the figures mix two builds. */

/** zsyncmake 0.6.2's block size, which ours uses too (lib/engine/params.ts defaultBlockSize). */
function blockSizeFor(length: number): number {
  return length < 100_000_000 ? 2048 : 4096;
}

/**
 * `--only socket` hands the run to bench/socket.ts (its own options, corpus and
 * table): argv without that option, or null when it is absent.
 */
function socketArgv(argv: string[]): string[] | null {
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const value = arg === '--only' ? argv[i + 1] : arg.startsWith('--only=') ? arg.slice('--only='.length) : undefined;
    if (value === undefined || !value.split(',').map((x) => x.trim()).includes('socket')) continue;
    if (value.trim() !== 'socket') throw new UsageError('--only socket runs on its own: it cannot be combined with other cases');
    return [...argv.slice(0, i), ...argv.slice(i + (arg === '--only' ? 2 : 1))];
  }
  return null;
}

async function main(argv: string[]): Promise<number> {
  let socket: string[] | null;
  try {
    socket = socketArgv(argv);
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n\n${USAGE}\n`);
    return 2;
  }
  if (socket) return (await import('./socket.js')).socketBench(socket);
  const options = benchOptions(argv, parseOptions, USAGE, say);
  if (typeof options === 'number') return options;

  const scratch = await mkdtemp(join(tmpdir(), 'zbench-'));
  try {
    const code = describeCode();
    distEntry = await takeSnapshot(scratch);
    return await measure(options, scratch, code);
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

async function measure(options: Options, scratch: string, code: string): Promise<number> {
  const dir = await ensureCorpus(options.sizeMiB);
  const newBin = join(dir, 'new.bin');
  const newBytes = statSync(newBin).size;
  const blockSize = blockSizeFor(newBytes);
  const wanted = options.only;
  const matchCases = [...wanted].filter((id) => id.startsWith('match'));
  const sums = matchCases.length > 0 ? await ensureSums(dir, blockSize) : null;
  const noMatch = wanted.has('match-none') ? await ensureNoMatch(dir, newBytes) : null;

  const notes: string[] = [];
  const zsyncmake = findExecutable('zsyncmake', 'ZSYNCMAKE');
  const zsync = findExecutable('zsync', 'ZSYNC');
  if (!zsyncmake) notes.push('zsyncmake is missing (Debian: apt-get install zsync): its rows and ratios are skipped.');
  if (!zsync && wanted.has('sync')) notes.push('zsync is missing (Debian: apt-get install zsync): the sync rival rows and ratios are skipped.');
  const rivalOn = options.rival && zsyncmake !== null && wanted.has('checksums');
  const syncRivalOn = options.rival && zsync !== null && wanted.has('sync');
  // zsync needs a .zsync of new.bin to scan a seed against: zsyncmake's.
  const noMatchControl = options.rival && zsync !== null && zsyncmake !== null && noMatch !== null ? join(dir, await ensureControl(dir, blockSize, zsyncmake)) : null;
  if (noMatch && !noMatchControl && options.rival) notes.push('zsync or zsyncmake is missing: the no-match case has no rival row.');
  const metered = rivalOn || wanted.has('sync') || noMatchControl !== null;
  const meter = metered ? findMeter() : { kind: 'none' as const };
  if (metered && meter.kind === 'none') notes.push('neither /usr/bin/time nor python3 found: the externally timed rows have wall seconds only.');
  if (options.cpuProf) notes.push(`profiled with --cpu-prof (timings inflated); profiles in ${options.cpuProf}`);
  const sync = wanted.has('sync') ? await startSyncCase(dir, blockSize, zsyncmake, scratch, notes) : null;
  try {
    return await measureCases(options, scratch, code, dir, newBytes, blockSize, sums, noMatch, notes, { zsyncmake, zsync, rivalOn, syncRivalOn, noMatchControl, meter, sync });
  } finally {
    await sync?.server.stop();
  }
}

interface SyncSetup {
  server: BenchServer;
  /** URL of new.bin's .zsync on the server. */
  url: string;
  sha256: string;
}

async function startSyncCase(dir: string, blockSize: number, zsyncmake: string | null, scratch: string, notes: string[]): Promise<SyncSetup> {
  const control = await ensureControl(dir, blockSize, zsyncmake);
  const sha256 = await expectedSha256(dir);
  const nginx = findExecutable('nginx', 'NGINX');
  let server: BenchServer;
  if (nginx) {
    const serverDir = join(scratch, 'nginx');
    await mkdir(serverDir);
    server = await startNginx(nginx, dir, serverDir);
  } else {
    server = await startServe(snapshotCli(), dir, childEnv());
    notes.push("nginx is missing: the sync case is served by our `serve`, which keeps no access log, so the traffic columns are ours' own count (requests + 1 for the .zsync) and unknown for zsync.");
  }
  say(`sync case: ${server.name} serving ${dir}, control file ${control}`);
  return { server, url: server.url(control), sha256 };
}

interface Tools {
  zsyncmake: string | null;
  zsync: string | null;
  rivalOn: boolean;
  syncRivalOn: boolean;
  /** The .zsync zsync scans the no-match seed against, when it runs there (once: 82 s at 1 GiB). */
  noMatchControl: string | null;
  meter: Meter;
  sync: SyncSetup | null;
}

/**
 * One sync of new.bin from the server, seeded with old.bin, in a fresh folder:
 * ours (`node CLI sync -q --json`) or zsync. Timed from outside, traffic from
 * the access log, the output's SHA-256 checked (a mismatch stops the bench).
 */
async function timeSync(side: 'ours' | 'zsync', tools: Tools, dir: string, scratch: string, newBytes: number, cpuProf: string | null): Promise<Sample> {
  const { sync, meter } = tools;
  const oldBin = join(dir, 'old.bin');
  const work = await mkdtemp(join(scratch, `sync-${side}-`));
  try {
    const mark = await logMark(sync!.server);
    let sample: Sample;
    let net: NetCounts;
    const extra: Record<string, number> = {};
    if (side === 'ours') {
      const nodeArgs = cpuProf ? ['--cpu-prof', `--cpu-prof-dir=${cpuProf}`] : [];
      const r = await runMetered(meter, process.execPath, [...nodeArgs, snapshotCli(), 'sync', '-q', '--json', '-i', oldBin, '-o', 'out.bin', sync!.url], work, scratch, newBytes);
      const j = JSON.parse(r.stdout.trim().split('\n').pop() ?? '') as {
        bytesReused: number;
        bytesFetched: number;
        bytesOnWire: number;
        requests: number;
        seeds: Array<{ blocks: number }>;
        seconds: Record<string, number>;
      };
      sample = { ...r.sample, blocks: j.seeds.reduce((n, x) => n + x.blocks, 0) };
      Object.assign(extra, { reused: j.bytesReused, selfFetched: j.bytesFetched, selfWire: j.bytesOnWire, selfRequests: j.requests });
      for (const [phase, seconds] of Object.entries(j.seconds)) extra[`${phase}S`] = seconds;
      // Our count leaves out the .zsync request; the log has it.
      net = sync!.server.accessLog
        ? countTraffic(await readLogSince(sync!.server, mark, j.requests + 1), '/new.bin', newBytes)
        : { fetched: j.bytesFetched, wire: null, requests: j.requests + 1, connections: null };
    } else {
      const r = await runMetered(meter, tools.zsync!, ['-i', oldBin, '-o', 'out.bin', sync!.url], work, scratch, newBytes);
      // zsync 0.6.2 prints `used N local, fetched M` last (nothing at all with -q); M counts response headers too.
      const m = /used (\d+) local, fetched (\d+)/.exec(r.stdout);
      if (!m) throw new Error(`zsync printed no 'used N local, fetched M' line:\n${r.stdout.slice(-500)}`);
      sample = r.sample;
      Object.assign(extra, { reused: Number(m[1]), selfFetched: Number(m[2]) });
      net = sync!.server.accessLog
        ? countTraffic(await readLogSince(sync!.server, mark), '/new.bin', newBytes)
        : { fetched: null, wire: null, requests: null, connections: null };
    }
    const got = await sha256Of(join(work, 'out.bin'));
    if (got !== sync!.sha256) throw new Error(`${side === 'ours' ? 'our sync' : 'zsync'} wrote an out.bin whose SHA-256 ${got} is not new.bin's ${sync!.sha256}`);
    extra.sha256ok = 1;
    return { ...sample, extra, net };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

async function measureCases(
  options: Options,
  scratch: string,
  code: string,
  dir: string,
  newBytes: number,
  blockSize: number,
  sums: string | null,
  noMatch: string | null,
  notes: string[],
  tools: Tools,
): Promise<number> {
  const { zsyncmake, zsync, rivalOn, syncRivalOn, meter } = tools;
  const wanted = options.only;
  const newBin = join(dir, 'new.bin');

  const loadBefore = loadavg()[0]!;
  const baseline = await runCase(['baseline'], null);
  const input = (path: string): string => relative(dir, path) || path;
  const oldBin = join(dir, 'old.bin');
  const plans: Array<{ id: CaseId; label: string; path: string; args: string[] }> = [];
  if (wanted.has('checksums')) plans.push({ id: 'checksums', label: 'checksums', path: newBin, args: ['checksums', newBin, String(blockSize)] });
  if (wanted.has('match-old')) plans.push({ id: 'match-old', label: 'match (edited seed)', path: oldBin, args: ['match', oldBin, sums!] });
  if (wanted.has('match-new')) plans.push({ id: 'match-new', label: 'match (all match)', path: newBin, args: ['match', newBin, sums!] });
  if (noMatch) plans.push({ id: 'match-none', label: 'match (none match)', path: noMatch, args: ['match', noMatch, sums!] });

  const samples = new Map<string, Sample[]>();
  const add = (id: string, s: Sample): void => {
    samples.set(id, [...(samples.get(id) ?? []), s]);
  };
  const zsyncOut = join(scratch, 'new.bin.zsync');
  const rivalArgs = ['-b', String(blockSize), '-u', 'new.bin', '-o', zsyncOut, 'new.bin'];
  for (let run = 0; run < options.runs; run++) {
    for (const plan of plans) {
      const hasRival = plan.id === 'checksums' && rivalOn;
      const rivalFirst = hasRival && run % 2 === 1;
      say(`run ${run + 1}/${options.runs}: ${plan.id}${hasRival ? (rivalFirst ? ' (zsyncmake first)' : ' (then zsyncmake)') : ''}`);
      if (rivalFirst) add('zsyncmake', await runRival(meter, zsyncmake!, rivalArgs, dir, scratch, newBytes));
      const { report, procS } = await runCase(plan.args, options.cpuProf);
      add(plan.id, oursSample(report, procS));
      if (hasRival && !rivalFirst) add('zsyncmake', await runRival(meter, zsyncmake!, rivalArgs, dir, scratch, newBytes));
      if (plan.id === 'match-none' && tools.noMatchControl && run === 0) {
        say('match-none: zsync on the same seed, once');
        add('zsync-none', await timeZsyncNoMatch(meter, zsync!, plan.path, tools.noMatchControl, scratch, newBytes));
      }
    }
    if (tools.sync) {
      const zsyncFirst = syncRivalOn && run % 2 === 1;
      say(`run ${run + 1}/${options.runs}: sync${syncRivalOn ? (zsyncFirst ? ' (zsync first)' : ' (then zsync)') : ''}`);
      if (zsyncFirst) add('zsync', await timeSync('zsync', tools, dir, scratch, newBytes, null));
      add('sync', await timeSync('ours', tools, dir, scratch, newBytes, options.cpuProf));
      if (syncRivalOn && !zsyncFirst) add('zsync', await timeSync('zsync', tools, dir, scratch, newBytes, null));
    }
  }

  const cases: CaseResult[] = [];
  for (const plan of plans) {
    const s = samples.get(plan.id)!;
    const bytes = s[0]!.bytes;
    const blockCount = s[0]!.extra.blockCount ?? null;
    cases.push({ id: plan.id, label: plan.label, side: 'ours', input: input(plan.path), bytes, blockCount, samples: s, median: summarize(s, bytes) });
    if (plan.id === 'match-none' && samples.has('zsync-none')) {
      const r = samples.get('zsync-none')!;
      cases.push({ id: 'zsync-none', label: 'zsync -i nomatch.bin', side: 'rival', rivalOf: 'match-none', input: input(plan.path), bytes, blockCount, samples: r, median: summarize(r, bytes) });
    }
    if (plan.id === 'checksums' && samples.has('zsyncmake')) {
      const r = samples.get('zsyncmake')!;
      cases.push({ id: 'zsyncmake', label: `zsyncmake -b ${blockSize}`, side: 'rival', rivalOf: 'checksums', input: 'new.bin', bytes: newBytes, blockCount, samples: r, median: summarize(r, newBytes) });
    }
  }
  if (tools.sync) {
    const blockCount = Math.ceil(newBytes / blockSize);
    const s = samples.get('sync')!;
    cases.push({ id: 'sync', label: 'sync -i old.bin', side: 'ours', input: 'old.bin', bytes: newBytes, blockCount, samples: s, median: summarize(s, newBytes) });
    const r = samples.get('zsync');
    if (r) cases.push({ id: 'zsync', label: 'zsync -i old.bin', side: 'rival', rivalOf: 'sync', input: 'old.bin', bytes: newBytes, blockCount, samples: r, median: summarize(r, newBytes) });
    const phases = ['controlS', 'matchS', 'fetchS', 'verifyS', 'totalS'].map((k) => `${k.slice(0, -1)} ${median(s.map((x) => x.extra[k] ?? NaN)).toFixed(3)}`);
    notes.push(`sync, ours by its own clock (medians, s): ${phases.join(', ')}; the rest of proc s is node's start-up and exit.`);
    const selfMismatch = s.find((x) => x.net?.fetched !== null && x.net?.fetched !== undefined && x.net.fetched !== x.extra.selfFetched);
    if (tools.sync.server.accessLog && selfMismatch) notes.push(`sync: ours says it fetched ${selfMismatch.extra.selfFetched} bytes of payload, the access log ${selfMismatch.net!.fetched}.`);
  }
  const ratios: Ratio[] = [];
  for (const rival of cases.filter((c) => c.side === 'rival')) {
    const ours = cases.find((c) => c.id === rival.rivalOf)!;
    const div = (a: number | null | undefined, b: number | null | undefined): number | null => (a == null || b == null || b === 0 ? null : a / b);
    const ratio: Ratio = {
      ours: ours.id,
      rival: rival.id,
      wall: ours.median.wallS / rival.median.wallS,
      proc: ours.median.procS / rival.median.procS,
      cpu: div(ours.median.cpuS, rival.median.cpuS),
      rss: div(ours.median.rssMB, rival.median.rssMB),
    };
    if (ours.median.net || rival.median.net) {
      ratio.fetched = div(ours.median.net?.fetched, rival.median.net?.fetched);
      ratio.wire = div(ours.median.net?.wire, rival.median.net?.wire);
      ratio.requests = div(ours.median.net?.requests, rival.median.net?.requests);
    }
    ratios.push(ratio);
  }
  const indexS = cases.find((c) => c.id.startsWith('match'))?.samples[0]?.extra.indexS;
  if (indexS !== undefined) notes.push(`match cases: new.bin's checksums loaded from a cache and the BlockIndex built (${indexS.toFixed(3)} s) before the timer starts.`);

  const result: BenchResult = {
    meta: {
      sizeMiB: options.sizeMiB,
      corpus: dir,
      blockSize,
      runs: options.runs,
      node: process.version,
      code,
      cpus: availableParallelism(),
      load: [loadBefore, loadavg()[0]!],
      baselineRssMB: baseline.report.maxRssKiB === undefined ? null : (baseline.report.maxRssKiB * 1024) / 1e6,
      zsyncmake,
      zsync,
      server: tools.sync?.server.name ?? null,
      rivalMeter: rivalOn || tools.sync ? meter.kind : null,
    },
    cases,
    ratios,
    targets: checkTargets(cases, ratios, options.sizeMiB),
    notes,
  };
  process.stdout.write(options.json ? JSON.stringify(result, null, 2) + '\n' : formatReport(result));
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    say(err instanceof Error ? (err.stack ?? err.message) : String(err));
    process.exitCode = 1;
  },
);
