/**
 * MD4 block hashing throughput, in one process: our scalar and 4-lane
 * WebAssembly kernels against hash-wasm's MD4 (what lib/checksums/strong.ts
 * used before), for the block sizes zsync uses.
 *
 *   node --import tsx bench/md4.ts [--mib N] [--rounds N]
 *
 * Each round hashes N MiB of random blocks (default 64) with each contender in
 * turn; the table gives the median MB/s over the rounds (default 7), by CPU
 * time (user + system) rather than wall time, since the machine may be shared.
 * Every contender writes its digests into one preallocated array, as the
 * checksummer and the matcher do.
 */
import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import type { createMD4 as CreateMD4 } from 'hash-wasm';
import { Md4, MD4_SIMD } from '../lib/checksums/md4-wasm.js';

const { values } = parseArgs({ options: { mib: { type: 'string' }, rounds: { type: 'string' } } });
const MIB = Number(values.mib ?? 64);
const ROUNDS = Number(values.rounds ?? 7);

const { createMD4 } = createRequire(import.meta.url)('hash-wasm/dist/md4.umd.min.js') as { createMD4: typeof CreateMD4 };
const hashWasm = await createMD4();
const scalar = new Md4({ simd: false });
const simd = new Md4();

type Contender = (data: Uint8Array, size: number, count: number, out: Uint8Array) => void;

const contenders: [string, Contender][] = [
  ['hash-wasm, per block', (data, size, count, out) => {
    for (let i = 0; i < count; i++) {
      hashWasm.init();
      hashWasm.update(data.subarray(i * size, (i + 1) * size));
      out.set(hashWasm.digest('binary'), 16 * i);
    }
  }],
  ['ours scalar, per block', (data, size, count, out) => {
    for (let i = 0; i < count; i++) scalar.digestInto(data, out, 16 * i, i * size, (i + 1) * size);
  }],
  ['ours SIMD, a chunk\'s blocks per call', (data, size, count, out) => simd.digestBlocksInto(data, 0, size, count, out, 0)],
  // The matcher's use: the windows after a match, copied in and hashed 4 or 8 at a time.
  ['ours SIMD, 4 blocks per call (4-lane)', (data, size, count, out) => {
    for (let i = 0; i < count; i += 4) simd.digestBlocksInto(data, i * size, size, Math.min(4, count - i), out, 16 * i);
  }],
  ['ours SIMD, 8 blocks per call (2 x 4-lane)', (data, size, count, out) => {
    for (let i = 0; i < count; i += 8) simd.digestBlocksInto(data, i * size, size, Math.min(8, count - i), out, 16 * i);
  }],
];

/** CPU time of this process, in seconds. */
function cpuSeconds(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1e6;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1]!;
}

const data = randomBytes(MIB << 20);
console.log(`MD4 of ${MIB} MiB in blocks, median of ${ROUNDS} rounds, by CPU time; node ${process.version}, SIMD ${MD4_SIMD ? 'yes' : 'no'}, load average ${loadavg()[0]!.toFixed(2)}`);
for (const size of [4096, 2048]) {
  const count = data.length / size;
  const out = new Uint8Array(16 * count);
  const want = new Uint8Array(16 * count);
  contenders[0]![1](data, size, count, want);
  const rates = contenders.map((): number[] => []);
  for (let round = 0; round < ROUNDS; round++) {
    contenders.forEach(([name, run], i) => {
      out.fill(0);
      const t0 = cpuSeconds();
      run(data, size, count, out);
      const s = cpuSeconds() - t0;
      if (Buffer.compare(out, want) !== 0) throw new Error(`${name}: wrong digests`);
      rates[i]!.push(data.length / 1e6 / s);
    });
  }
  const base = median(rates[0]!);
  console.log(`\n${size}-byte blocks`);
  contenders.forEach(([name], i) => {
    const m = median(rates[i]!);
    console.log(`  ${name.padEnd(42)} ${m.toFixed(0).padStart(6)} MB/s  ${(m / base).toFixed(2)}x`);
  });
}
