/**
 * `npm run bench`: times checksum generation and matching on the synthetic
 * corpus, with zsyncmake 0.6.2 side by side, and prints one table.
 *
 *   node --import tsx bench/run.ts [--size MIB] [--runs N] [--only CASE[,CASE]] [--json] [--no-rival] [--cpu-prof DIR]
 *
 * The harness runs under tsx, but every timed case runs in a fresh `node`
 * process (bench/case.js) that imports the BUILT package from dist/, so the
 * figures are what users get; run `npm run build` first (`npm run bench` does).
 * Each run alternates ours and the rival (who goes first swaps every run), and
 * the report gives medians. Installs nothing: a missing zsyncmake is reported
 * and its rows skipped. Environment: ZBENCH_DIR (corpus root, default
 * $TMPDIR/zbench as in make-corpus.sh), ZSYNCMAKE / ZSYNC (paths of the rivals).
 */
import { spawn, spawnSync } from 'node:child_process';
import { createCipheriv, createHash } from 'node:crypto';
import { createWriteStream, existsSync, readdirSync, statSync } from 'node:fs';
import { copyFile, cp, mkdtemp, readFile, rm, symlink } from 'node:fs/promises';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { checkTargets, formatReport, summarize, type BenchResult, type CaseResult, type Ratio, type Sample } from './report.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = resolve(HERE, '..');
const CASE_SCRIPT = join(HERE, 'case.js');

const CASE_IDS = ['checksums', 'match-old', 'match-new', 'match-none'] as const;
type CaseId = (typeof CASE_IDS)[number];

const USAGE = `Usage: npm run bench -- [options]

  --size MIB        corpus size (default 256; 1024 for 1 GiB); built with bench/make-corpus.sh when absent
  --runs N          runs of each case, alternating ours and the rival (default 3); medians are reported
  --only CASE       checksums, match (= match-old,match-new,match-none), or a comma-separated list of
                    checksums, match-old, match-new, match-none
  --json            print the results as JSON instead of the table
  --no-rival        do not run zsyncmake
  --cpu-prof DIR    run our cases with node --cpu-prof, profiles written to DIR (slows them down;
                    summarise one with: node bench/hotspots.js FILE.cpuprofile)
  -h, --help        this text

Environment: ZBENCH_DIR (corpus root, default \${TMPDIR:-/tmp}/zbench), ZSYNCMAKE, ZSYNC (rival binaries).`;

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
  const positive = (name: string, raw: string | undefined, fallback: number): number => {
    if (raw === undefined) return fallback;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < 1) throw new UsageError(`--${name} must be a positive integer, got ${raw}`);
    return n;
  };
  const only = new Set<CaseId>();
  for (const item of (values.only ?? []).flatMap((s) => s.split(','))) {
    const name = item.trim();
    if (name === 'match') for (const id of ['match-old', 'match-new', 'match-none'] as const) only.add(id);
    else if ((CASE_IDS as readonly string[]).includes(name)) only.add(name as CaseId);
    else throw new UsageError(`--only: unknown case ${name} (known: checksums, match, ${CASE_IDS.slice(1).join(', ')})`);
  }
  return {
    sizeMiB: positive('size', values.size, 256),
    runs: positive('runs', values.runs, 3),
    only: only.size > 0 ? only : new Set(CASE_IDS),
    json: values.json ?? false,
    rival: !(values['no-rival'] ?? false),
    cpuProf: values['cpu-prof'] ? resolve(values['cpu-prof']) : null,
  };
}

class UsageError extends Error {}

/** Progress and notes go to stderr, so stdout holds only the table or the JSON. */
function say(message: string): void {
  process.stderr.write(`bench: ${message}\n`);
}

function findExecutable(name: string, envName: string): string | null {
  const fromEnv = process.env[envName];
  if (fromEnv !== undefined) return fromEnv !== '' && existsSync(fromEnv) ? fromEnv : null;
  const r = spawnSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' });
  return r.status === 0 && r.stdout.trim() ? r.stdout.trim() : null;
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

/**
 * Copies dist/ into `scratch` (with package.json for "type": "module" and a link
 * to node_modules), so a rebuild of dist/ during the run (by `npm test` in
 * another shell, say) cannot mix two builds into one set of figures.
 */
async function takeSnapshot(scratch: string): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    const before = distStamp();
    await rm(join(scratch, 'dist'), { recursive: true, force: true });
    await cp(join(ROOT, 'dist'), join(scratch, 'dist'), { recursive: true });
    if (distStamp() === before) break;
    if (attempt === 2) throw new Error('dist/ keeps changing while being copied: is a build running?');
  }
  await copyFile(join(ROOT, 'package.json'), join(scratch, 'package.json'));
  await symlink(join(ROOT, 'node_modules'), join(scratch, 'node_modules'), 'dir');
  distEntry = join(scratch, 'dist', 'index.js');
}

interface ChildResult {
  stdout: string;
  stderr: string;
  procS: number;
}

function runChild(command: string, args: string[], options: { cwd?: string } = {}): Promise<ChildResult> {
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
      if (code === 0) resolvePromise({ stdout, stderr, procS });
      else reject(new Error(`${command} ${args.join(' ')} failed (${signal ?? `exit ${code}`}):\n${stderr}${stdout}`));
    });
  });
}

/** Runs bench/case.js under plain node and parses the JSON line it prints. */
async function runCase(args: string[], cpuProf: string | null): Promise<{ report: Record<string, number>; procS: number }> {
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
  const out = join(scratch, 'rusage.txt');
  let result: ChildResult;
  if (meter.kind === 'time') result = await runChild(meter.path, ['-o', out, '-f', '%e %M %U %S', command, ...args], { cwd });
  else if (meter.kind === 'python3') result = await runChild(meter.path, ['-c', PY_RUSAGE, out, command, ...args], { cwd });
  else result = await runChild(command, args, { cwd });
  let rssMB: number | null = null;
  let cpuS: number | null = null;
  if (meter.kind !== 'none') {
    const fields = (await readFile(out, 'utf8')).trim().split(/\s+/).map(Number);
    rssMB = (fields[1]! * 1024) / 1e6;
    cpuS = fields[2]! + fields[3]!;
  }
  return { wallS: result.procS, procS: result.procS, cpuS, rssMB, bytes, blocks: null, extra: {} };
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

/** Which code was measured: the commit (and whether the tree differs from it) and when dist/ was built. */
function describeCode(): string {
  const head = spawnSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' });
  const dirty = spawnSync('git', ['status', '--porcelain', '--untracked-files=no', '--', 'lib'], { cwd: ROOT, encoding: 'utf8' });
  const commit = head.status === 0 ? head.stdout.trim() + (dirty.stdout.trim() ? ' + uncommitted lib/ changes' : '') : 'unknown commit';
  return `${commit}, dist/ built ${new Date(distStamp()).toISOString()} (a snapshot of it is measured)`;
}

/** Newest modification time under dist/: if it changes during a run, the figures mix two builds. */
function distStamp(): number {
  let newest = 0;
  for (const entry of readdirSync(join(ROOT, 'dist'), { recursive: true, withFileTypes: true })) {
    if (entry.isFile()) newest = Math.max(newest, statSync(join(entry.parentPath, entry.name)).mtimeMs);
  }
  return newest;
}

/** zsyncmake 0.6.2's block size, which ours uses too (lib/engine/params.ts defaultBlockSize). */
function blockSizeFor(length: number): number {
  return length < 100_000_000 ? 2048 : 4096;
}

async function main(argv: string[]): Promise<number> {
  let options: Options | null;
  try {
    options = parseOptions(argv);
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n\n${USAGE}\n`);
    return 2;
  }
  if (!options) {
    process.stdout.write(USAGE + '\n');
    return 0;
  }
  if (!existsSync(join(ROOT, 'dist', 'index.js'))) {
    say('dist/index.js is missing: run `npm run build` first (`npm run bench` does)');
    return 1;
  }

  const scratch = await mkdtemp(join(tmpdir(), 'zbench-'));
  try {
    const code = describeCode();
    await takeSnapshot(scratch);
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
  if (!zsyncmake) notes.push('zsyncmake is missing (Debian: apt-get install zsync): the rival rows and ratios are skipped.');
  if (!zsync) notes.push('zsync is missing (Debian: apt-get install zsync); this harness does not time it yet.');
  const rivalOn = options.rival && zsyncmake !== null && wanted.has('checksums');
  const meter = rivalOn ? findMeter() : { kind: 'none' as const };
  if (rivalOn && meter.kind === 'none') notes.push('neither /usr/bin/time nor python3 found: zsyncmake is timed for wall seconds only.');
  if (options.cpuProf) notes.push(`profiled with --cpu-prof (timings inflated); profiles in ${options.cpuProf}`);

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
    }
  }

  const cases: CaseResult[] = [];
  for (const plan of plans) {
    const s = samples.get(plan.id)!;
    const bytes = s[0]!.bytes;
    const blockCount = s[0]!.extra.blockCount ?? null;
    cases.push({ id: plan.id, label: plan.label, side: 'ours', input: input(plan.path), bytes, blockCount, samples: s, median: summarize(s, bytes) });
    if (plan.id === 'checksums' && samples.has('zsyncmake')) {
      const r = samples.get('zsyncmake')!;
      cases.push({ id: 'zsyncmake', label: `zsyncmake -b ${blockSize}`, side: 'rival', rivalOf: 'checksums', input: 'new.bin', bytes: newBytes, blockCount, samples: r, median: summarize(r, newBytes) });
    }
  }
  const ratios: Ratio[] = [];
  for (const rival of cases.filter((c) => c.side === 'rival')) {
    const ours = cases.find((c) => c.id === rival.rivalOf)!;
    const div = (a: number | null, b: number | null): number | null => (a === null || b === null || b === 0 ? null : a / b);
    ratios.push({
      ours: ours.id,
      rival: rival.id,
      wall: ours.median.wallS / rival.median.wallS,
      proc: ours.median.procS / rival.median.procS,
      cpu: div(ours.median.cpuS, rival.median.cpuS),
      rss: div(ours.median.rssMB, rival.median.rssMB),
    });
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
      rivalMeter: rivalOn ? meter.kind : null,
    },
    cases,
    ratios,
    targets: checkTargets(cases),
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
