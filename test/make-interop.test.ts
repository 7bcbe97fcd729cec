// The .zsync files our `make` writes, used by the real zsync 0.6.2 client over a
// real nginx on 127.0.0.1: if our writer drifted from what zsync reads (header,
// hash lengths, records, the --sha256 form), the real client would refuse the
// file, fetch the wrong blocks, or fail its SHA-1 check.
import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { createCipheriv } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { startNginx, type Nginx } from './support/nginx.js';
import { needTool } from './support/tools.js';

const run = promisify(execFile);
const CLI = new URL('../dist/cli.js', import.meta.url).pathname;

function bytes(n: number, key: number): Buffer {
  return createCipheriv('aes-128-ctr', Buffer.alloc(16, key), Buffer.alloc(16)).update(Buffer.alloc(n));
}

describe('make -> real zsync 0.6.2 over nginx', function () {
  this.timeout(60_000);
  let dir: string;
  let nginx: Nginx | undefined;
  let zsync: string;
  const target = bytes(3_000_017, 1);
  // The seed lacks some of the target and has bytes of its own.
  const seed = Buffer.concat([target.subarray(0, 700_000), bytes(5000, 2), target.subarray(760_000, 2_500_000), target.subarray(2_600_000)]);

  before(async function () {
    zsync = needTool(this, 'zsync');
    const nginxBinary = needTool(this, 'nginx');
    dir = await mkdtemp(join(tmpdir(), 'zs-make-interop-'));
    await writeFile(join(dir, 'target.bin'), target);
    nginx = await startNginx(nginxBinary, dir);
  });

  after(async () => {
    await nginx?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  for (const variant of [[], ['--sha256'], ['-b', '1024'], ['-b', '4096', '--sha256']]) {
    it(`zsync rebuilds the target from a partial seed with our \`make ${variant.join(' ')}\` file`, async () => {
      const name = `t${variant.join('').replace(/[^a-z0-9]/gi, '')}.zsync`;
      await run(process.execPath, [CLI, 'make', '-u', 'target.bin', '-o', join(dir, name), ...variant, join(dir, 'target.bin')]);
      const work = await mkdtemp(join(dir, 'client-'));
      await writeFile(join(work, 'seed.bin'), seed);
      const { stdout } = await run(zsync, ['-i', 'seed.bin', '-o', 'out.bin', nginx!.url(name)], { cwd: work });
      expect(await readFile(join(work, 'out.bin'))).to.deep.equal(target);
      // It fetched only part of the file: the seed's blocks were found.
      const fetched = /fetched (\d+)/.exec(stdout);
      expect(fetched, stdout).to.not.equal(null);
      expect(Number(fetched![1])).to.be.above(0).and.below(target.length / 5);
    });
  }
});
