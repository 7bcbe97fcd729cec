// The built CLI, run as users run it: plain node on dist/, no tsx.
import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const CLI = fileURLToPath(new URL('../dist/cli.js', import.meta.url));

describe('zsync-streams CLI', () => {
  it('--help exits 0 and lists the commands', async () => {
    const { stdout } = await run(process.execPath, [CLI, '--help']);
    expect(stdout).to.match(/Usage: zsync-streams <command>/);
    expect(stdout).to.match(/^\s+demo\s/m);
    for (const name of ['make', 'sync', 'serve']) expect(stdout).to.match(new RegExp(`^\\s+${name}\\s`, 'm'));
  });

  it('an unknown command exits 2 and says so', async () => {
    const err = await run(process.execPath, [CLI, 'frobnicate']).then(() => null, (e: { code: number; stderr: string }) => e);
    expect(err).to.not.equal(null);
    expect(err!.code).to.equal(2);
    expect(err!.stderr).to.match(/unknown command 'frobnicate'/);
  });

  it('demo syncs generated files end to end and verifies the SHA-1', async () => {
    const { stdout } = await run(process.execPath, [CLI, 'demo', '--size', '4']);
    expect(stdout).to.match(/SHA-1 [0-9a-f]{40} matches the new file/);
  });
});
