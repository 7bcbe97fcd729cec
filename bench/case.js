// One benchmark case in a fresh process, run by bench/run.ts under plain
// `node` (never through tsx): it imports the BUILT package from dist/, so the
// timings are what users get. Prints one line of JSON on stdout. Add
// `--cpu-prof` before the script name to profile a case by hand.
//
//   node bench/case.js checksums NEW BLOCKSIZE     zsyncmake() on NEW, what `make` does (worker threads for big files)
//   node bench/case.js sums NEW BLOCKSIZE CACHE    compute NEW's checksums once and store them in CACHE (untimed)
//   node bench/case.js match SEED CACHE            BlockIndex from CACHE (untimed), then MatcherStream over SEED
//   node bench/case.js baseline                    RSS of a process that only imported the package
//
// Reported: wallS and cpuS (user + system) of the timed section, maxRssKiB of the
// whole process (process.resourceUsage().maxRSS, KiB on Linux), bytes read,
// blocks (emitted or found).
import { createReadStream } from 'node:fs';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { pathToFileURL } from 'node:url';

// bench/run.ts points ZBENCH_DIST at its private snapshot of dist/index.js.
const entry = process.env.ZBENCH_DIST ? pathToFileURL(process.env.ZBENCH_DIST) : new URL('../dist/index.js', import.meta.url);
const lib = await import(entry.href);
const { BlockChecksums, BlockIndex, ChecksumCollector, ChecksumStream, MatcherStream, zsyncmake, readAhead } = lib;

const READ_CHUNK = 1 << 20;

/** Runs `fn` and returns its result with the wall and CPU seconds it took. */
async function timed(fn) {
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const result = await fn();
  const wallS = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  return { result, wallS, cpuS: (cpu.user + cpu.system) / 1e6 };
}

/** ChecksumStream over a file, gathered by ChecksumCollector: the path of `make`. */
async function checksumsOf(path, blockSize) {
  const collector = new ChecksumCollector();
  let sums;
  let blocks = 0;
  let bytes = 0;
  const input = createReadStream(path, { highWaterMark: READ_CHUNK });
  input.on('data', (chunk) => { bytes += chunk.length; });
  await pipeline(input, new ChecksumStream({ blockSize }), async (records) => {
    for await (const r of records) {
      if (r.kind === 'block') {
        collector.add(r);
        blocks++;
      } else {
        sums = collector.finish(r);
      }
    }
  });
  return { sums, blocks, bytes };
}

// Cache layout: u32 BE length of a JSON header ({ params, fileHashes }), the header,
// then the weak sums (int32, little endian) and the strong sums.
function encodeSums(sums) {
  const header = Buffer.from(JSON.stringify({ params: sums.params, fileHashes: sums.fileHashes }));
  const len = Buffer.alloc(4);
  len.writeUInt32BE(header.length);
  const weak = Buffer.from(sums.weak.buffer, sums.weak.byteOffset, sums.weak.byteLength);
  return Buffer.concat([len, header, weak, Buffer.from(sums.strong)]);
}

function decodeSums(buf) {
  const hlen = buf.readUInt32BE(0);
  const { params, fileHashes } = JSON.parse(buf.subarray(4, 4 + hlen).toString());
  const n = Math.ceil(params.length / params.blockSize);
  const weakStart = 4 + hlen;
  const weak = new Int32Array(n);
  Buffer.from(weak.buffer).set(buf.subarray(weakStart, weakStart + 4 * n));
  const strong = new Uint8Array(buf.subarray(weakStart + 4 * n, weakStart + 4 * n + n * params.strongBytes));
  return new BlockChecksums(params, weak, strong, fileHashes);
}

function finish(report) {
  process.stdout.write(JSON.stringify({ ...report, maxRssKiB: process.resourceUsage().maxRSS }) + '\n');
}

const [command, ...args] = process.argv.slice(2);
switch (command) {
  case 'checksums': {
    // What `make` does: zsyncmake() on the file (two hashing threads for a regular
    // file of 16 MiB or more), the .zsync written to a temp file.
    const [path, blockSize] = args;
    const out = join(tmpdir(), `zbench-${process.pid}.zsync`);
    const { result, wallS, cpuS } = await timed(() => zsyncmake(path, { blockSize: Number(blockSize), urls: 'new.bin', output: out }));
    await rm(out, { force: true });
    const { length, blockCount } = result.summary;
    finish({ wallS, cpuS, bytes: length, blocks: blockCount, blockCount });
    break;
  }
  case 'sums': {
    const [path, blockSize, cache] = args;
    const { sums } = await checksumsOf(path, Number(blockSize));
    await writeFile(cache, encodeSums(sums));
    finish({ blockCount: sums.blockCount, params: sums.params });
    break;
  }
  case 'match': {
    const [seed, cache] = args;
    const sums = decodeSums(await readFile(cache));
    const t0 = performance.now();
    const index = new BlockIndex(sums);
    const indexS = (performance.now() - t0) / 1000;
    let matches = 0;
    let matchedBytes = 0;
    const matcher = new MatcherStream(index);
    const { wallS, cpuS } = await timed(() =>
      pipeline(readAhead(seed), matcher, async (found) => {
        for await (const m of found) {
          matches++;
          matchedBytes += m.data.length;
        }
      }),
    );
    const { seedBytes, filterPasses, filterHits, strongChecks, blocksFound } = matcher.stats;
    finish({ wallS, cpuS, indexS, bytes: seedBytes, blocks: blocksFound, blockCount: sums.blockCount, matches, matchedBytes, filterPasses, filterHits, strongChecks });
    break;
  }
  case 'baseline':
    finish({ exports: Object.keys(lib).length });
    break;
  default:
    process.stderr.write(`bench/case.js: unknown command ${command}\n`);
    process.exit(2);
}
