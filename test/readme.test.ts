// The README's fenced ```js examples, run as they stand: each is written into a
// folder inside the package (so `import ... from 'zsync-streams'` resolves to
// the built package, as it does for a user) and run with plain node. If the API
// drifts from the README, this fails.
import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const ROOT = new URL('..', import.meta.url).pathname;
const WORK = join(ROOT, 'test', '.readme-run');

function examples(markdown: string): Array<{ line: number; code: string }> {
  const out: Array<{ line: number; code: string }> = [];
  const re = /^```js\n([\s\S]*?)^```$/gm;
  for (let m = re.exec(markdown); m; m = re.exec(markdown)) {
    out.push({ line: markdown.slice(0, m.index).split('\n').length, code: m[1]! });
  }
  return out;
}

describe('README examples', function () {
  this.timeout(60_000);
  const list = examples(readFileSync(join(ROOT, 'README.md'), 'utf8'));

  after(async () => {
    await rm(WORK, { recursive: true, force: true });
  });

  it('has an example for each way to embed it: publish/deploy, fs streams, a network socket, pyzsync', () => {
    const all = list.map((e) => e.code).join('\n');
    expect(all).to.include('zsyncmake(').and.include('zsync(');
    expect(all).to.include('createReadStream(').and.include('MatcherStream');
    expect(all).to.include("from 'node:net'");
    expect(all).to.include('getInstructionsSync(');
  });

  list.forEach((example, i) => {
    it(`the example at README line ${example.line} runs and checks its own result`, async () => {
      const dir = join(WORK, String(i + 1));
      await rm(dir, { recursive: true, force: true });
      await mkdir(dir, { recursive: true });
      await writeFile(join(dir, 'example.mjs'), example.code);
      const { stdout } = await run(process.execPath, ['example.mjs'], { cwd: dir });
      expect(stdout.trim()).to.not.equal('');
    });
  });
});
