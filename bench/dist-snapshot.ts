import { existsSync, readdirSync, statSync } from 'node:fs';
import { copyFile, cp, rm, symlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');

/** When dist/ last changed: the newest mtime of its files. */
export function distStamp(): number {
  let newest = 0;
  for (const entry of readdirSync(join(ROOT, 'dist'), { recursive: true, withFileTypes: true })) {
    if (entry.isFile()) newest = Math.max(newest, statSync(join(entry.parentPath, entry.name)).mtimeMs);
  }
  return newest;
}

/**
 * Copies dist/ into `scratch` (with package.json for "type": "module" and a link
 * to node_modules), so a rebuild of dist/ during the run (by `npm test` in
 * another shell, say) cannot mix two builds into one set of figures. Resolves
 * with the snapshot's package entry (dist/index.js).
 */
export async function takeSnapshot(scratch: string): Promise<string> {
  for (let attempt = 0; ; attempt++) {
    const before = distStamp();
    await rm(join(scratch, 'dist'), { recursive: true, force: true });
    await cp(join(ROOT, 'dist'), join(scratch, 'dist'), { recursive: true });
    if (distStamp() === before) break;
    if (attempt === 2) throw new Error('dist/ keeps changing while being copied: is a build running?');
  }
  await copyFile(join(ROOT, 'package.json'), join(scratch, 'package.json'));
  await symlink(join(ROOT, 'node_modules'), join(scratch, 'node_modules'), 'dir');
  return join(scratch, 'dist', 'index.js');
}

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
