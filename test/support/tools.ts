/**
 * External programs some tests need (zsync, zsyncmake, nginx). On a laptop
 * without them those tests are skipped, visibly; in CI (CI=true or
 * ZSYNC_STREAMS_REQUIRE_TOOLS=1, which .ci/run sets) their absence fails.
 */
import { execFileSync } from 'node:child_process';

const found = new Map<string, string | null>();

/** Absolute path of `name` on PATH (or in /usr/sbin, where nginx lives), or null. */
export function findTool(name: string): string | null {
  if (!found.has(name)) {
    let path: string | null = null;
    for (const candidate of [name, `/usr/sbin/${name}`, `/usr/bin/${name}`]) {
      try {
        path = execFileSync('sh', ['-c', `command -v ${candidate}`], { encoding: 'utf8' }).trim() || null;
      } catch {
        path = null;
      }
      if (path) break;
    }
    found.set(name, path);
  }
  return found.get(name) ?? null;
}

export function toolsRequired(): boolean {
  return process.env.ZSYNC_STREAMS_REQUIRE_TOOLS === '1' || process.env.CI === 'true';
}

/**
 * Call in a `before`/`beforeEach`/`it` with mocha's `this`: returns the tool's
 * path, or skips the test (fails it in CI) when the tool is missing.
 */
export function needTool(ctx: Mocha.Context, name: string): string {
  const path = findTool(name);
  if (path) return path;
  if (toolsRequired()) throw new Error(`${name} is required here (CI) but not installed: apt-get install ${name === 'zsyncmake' ? 'zsync' : name}`);
  // eslint-disable-next-line no-console
  console.log(`      (skipped: needs ${name}; install it with apt-get install ${name === 'zsyncmake' ? 'zsync' : name})`);
  ctx.skip();
}
