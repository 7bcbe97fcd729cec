import { readdirSync, statSync } from 'node:fs';
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
