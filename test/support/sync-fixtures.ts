/**
 * Shared by the end-to-end sync tests: seeded old/new file pairs, .zsync files
 * made by the real zsyncmake (with header edits when a test needs an odd one),
 * and runners for our built CLI and the real zsync client.
 */
import { execFile, spawn } from 'node:child_process';
import { expect } from 'chai';
import { readFile, stat, utimes, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { prng } from '../generators.js';

const execFileP = promisify(execFile);
export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const CLI = join(ROOT, 'dist', 'cli.js');

/** Fast seeded random bytes (32 bits a step). */
export function seededBytes(rand: () => number, n: number): Buffer {
  const out = Buffer.alloc(n + 4);
  for (let i = 0; i < n; i += 4) out.writeUInt32LE(rand(), i);
  return out.subarray(0, n);
}

/**
 * `data` with `count` random overwrites of `length` bytes, the first at `from`
 * and then every `every` bytes: an old version whose missing ranges are
 * spread out and known.
 */
export function withOverwrites(data: Buffer, seed: number, count: number, length: number, from: number, every: number): Buffer {
  const b = Buffer.from(data);
  const rand = prng(seed);
  for (let i = 0; i < count; i++) seededBytes(rand, length).copy(b, from + i * every);
  return b;
}

export interface Pair {
  seed: number;
  oldData: Buffer;
  newData: Buffer;
  edits: string[];
}

/**
 * A new file of `size` bytes (random and repetitive stretches) and an old one
 * made from it by 1-8 inserts, deletes and overwrites of up to 48 KiB each.
 */
export function makePair(seed: number, size: number): Pair {
  const rand = prng(seed);
  const pieces: Buffer[] = [];
  let n = 0;
  while (n < size) {
    const len = Math.min(size - n, 1 + (rand() % 200_000));
    if (rand() % 5 === 0) {
      // A repetitive stretch, like text or padding in real files.
      const pattern = seededBytes(rand, 1 + (rand() % 64));
      const b = Buffer.alloc(len);
      for (let i = 0; i < len; i += pattern.length) pattern.copy(b, i);
      pieces.push(b);
    } else {
      pieces.push(seededBytes(rand, len));
    }
    n += len;
  }
  const newData = Buffer.concat(pieces, size);
  let old = Buffer.from(newData);
  const edits: string[] = [];
  const count = 1 + (rand() % 8);
  for (let i = 0; i < count; i++) {
    const at = rand() % old.length;
    const len = 1 + (rand() % 48_000);
    const kind = rand() % 3;
    if (kind === 0) {
      old = Buffer.concat([old.subarray(0, at), seededBytes(rand, len), old.subarray(at)]);
      edits.push(`insert ${len}@${at}`);
    } else if (kind === 1) {
      old = Buffer.concat([old.subarray(0, at), old.subarray(Math.min(old.length, at + len))]);
      edits.push(`delete ${len}@${at}`);
    } else {
      seededBytes(rand, Math.min(len, old.length - at)).copy(old, at);
      edits.push(`overwrite ${len}@${at}`);
    }
  }
  return { seed, oldData: old, newData, edits };
}

/** Runs the real zsyncmake: `zsyncmake -u URL -o OUT FILE`. */
export async function zsyncmake(tool: string, file: string, url: string, out: string, extra: string[] = []): Promise<void> {
  await execFileP(tool, [...extra, '-u', url, '-o', out, file], { cwd: dirname(file) });
}

/** Rewrites the text header of a .zsync file (the lines before the blank line). */
export async function editHeader(path: string, edit: (lines: string[]) => string[], out = path): Promise<void> {
  const buf = await readFile(path);
  const end = buf.indexOf('\n\n');
  const lines = buf.subarray(0, end).toString('latin1').split('\n');
  await writeFile(out, Buffer.concat([Buffer.from(edit(lines).join('\n'), 'latin1'), buf.subarray(end)]));
}

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs a program to its end, with a hard timeout so a hang fails the test. */
export function run(cmd: string, args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: options.cwd, env: options.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 60_000);
    child.once('error', reject);
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

/** Our built CLI: `node dist/cli.js ARGS`. */
export function cli(args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<RunResult> {
  return run(process.execPath, [CLI, ...args], options);
}

/** zsync's (and our) summary line: `used N local, fetched M`. */
export function parseSummary(stdout: string): { used: number; fetched: number } | undefined {
  const m = /used (\d+) local, fetched (\d+)/.exec(stdout);
  return m ? { used: Number(m[1]), fetched: Number(m[2]) } : undefined;
}

/** The error a promise rejects with; fails the test if it resolves. */
export async function rejection(p: Promise<unknown>): Promise<Error & { code?: string }> {
  try {
    await p;
  } catch (err) {
    return err as Error & { code?: string };
  }
  throw new Error('expected a rejection');
}

/**
 * Checks on an OUTPUT that starts as `oldData` with a known mtime: that a
 * failed sync left it untouched, or that a good one made it `newData`.
 */
export function outputChecks(oldData: Buffer, newData: Buffer, oldMtime: Date): {
  oldOutput(path: string): Promise<void>;
  expectUntouched(path: string): Promise<void>;
  expectNew(path: string, data?: Buffer): Promise<void>;
} {
  return {
    async oldOutput(path) {
      await writeFile(path, oldData);
      await utimes(path, oldMtime, oldMtime);
    },
    async expectUntouched(path) {
      expect((await readFile(path)).equals(oldData), 'OUTPUT still holds the old bytes').to.equal(true);
      expect((await stat(path)).mtime.getTime(), 'OUTPUT mtime unchanged').to.equal(oldMtime.getTime());
    },
    async expectNew(path, data = newData) {
      expect((await readFile(path)).equals(data), 'OUTPUT is the new version').to.equal(true);
    },
  };
}
