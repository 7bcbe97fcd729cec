/**
 * The command line of the bench's entry points (run.ts, socket.ts): how they
 * parse their options and refuse bad ones, in one place.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');

/**
 * How a bench entry point starts: its options parsed from `argv` by `parse`
 * (which throws on a bad option and returns null for --help), or the exit code
 * it stops with: 2 after a bad option and the usage, 0 after the usage asked
 * for, 1 when dist/ has not been built (what the bench measures).
 */
export function benchOptions<T>(argv: string[], parse: (argv: string[]) => T | null, usage: string, say: (message: string) => void): T | number {
  let options: T | null;
  try {
    options = parse(argv);
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n\n${usage}\n`);
    return 2;
  }
  if (!options) {
    process.stdout.write(usage + '\n');
    return 0;
  }
  if (!existsSync(join(ROOT, 'dist', 'index.js'))) {
    say('dist/index.js is missing: run `npm run build` first (`npm run bench` does)');
    return 1;
  }
  return options;
}

/** A bad command line: benchOptions prints its message and the usage. */
export class UsageError extends Error {}

/** A `--name` option that must be a positive integer; `fallback` when absent. */
export function positiveInteger(name: string, raw: string | undefined, fallback: number): number {
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`--${name} must be a positive integer, got ${raw}`);
  return n;
}
