/**
 * The three usage sections of pyzsync's README (synchronous, asynchronous,
 * partial patches), replayed step for step with our API: block_checksums ->
 * blockChecksums, get_instructions -> getInstructions, patch_local_blocks ->
 * patchLocalBlocks, get_blocks -> getBlocks, patch_remote_blocks ->
 * patchRemoteBlocks (and the ...Sync forms). The asynchronous one runs on real
 * files: fs.createReadStream for the streams, FileHandles from
 * fs.promises.open as the positional reader and writer. If this regresses, the
 * pyzsync-style API no longer rebuilds a file the way its README promises.
 */
import { expect } from 'chai';
import { createReadStream } from 'node:fs';
import { mkdtemp, open, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RemoteChunk } from '../lib/engine/block-assembler.js';
import {
  blockChecksums, blockChecksumsSync, getBlocks, getBlocksSync, getInstructions, getInstructionsSync,
  patchLocalBlocks, patchLocalBlocksSync, patchRemoteBlocks, patchRemoteBlocksSync,
} from '../lib/pyzsync-api.js';
import { applyEdits, makeFile } from './generators.js';

const blocksize = 1024;
// The "patched" (new) file and the "unpatched" (old) one it was edited from.
const patched = makeFile(2024, 300 * blocksize + 123, blocksize, 'mixed');
const unpatched = applyEdits(patched, [
  { kind: 'insert', at: 0.2, len: 9, fill: 'random' },
  { kind: 'delete', at: 0.5, len: 30 },
  { kind: 'overwrite', at: 0.8, len: 16 },
  { kind: 'move', from: 0.05, len: 40, to: 0.95 },
], blocksize, 7);

describe('pyzsync README, replayed', function () {
  this.timeout(60_000);
  let dir = '';
  let patchedFile = '';
  let unpatchedFile = '';
  let resultFile = '';

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pyzsync-readme-'));
    patchedFile = join(dir, 'patched.bin');
    unpatchedFile = join(dir, 'unpatched.bin');
    resultFile = join(dir, 'result.bin');
    await writeFile(patchedFile, patched);
    await writeFile(unpatchedFile, unpatched);
  });
  after(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('Synchronous: checksums, instructions, local blocks, missing blocks, remote patch give the patched file', () => {
    // Generate the hash list for the patched file
    const hashes = blockChecksumsSync(patched, { blockSize: blocksize });
    // Get the instructions
    const { local, remote, state } = getInstructionsSync(unpatched, hashes);
    const missing = [...remote];
    expect(local.length, 'the unpatched file holds most blocks').to.be.greaterThan(250);
    expect(missing.length, 'and not all').to.be.greaterThan(0);
    // Get the blocks from the local file and write them to the result file
    const result = Buffer.alloc(hashes.params.length);
    patchLocalBlocksSync(unpatched, result, { local, state });
    // Get the missing blocks from the patched file
    const blocks = getBlocksSync(patched, missing, hashes.params);
    // Patch the result file with the missing blocks
    patchRemoteBlocksSync(blocks, result, state, { checkHashes: true });
    expect(state.complete).to.equal(true);
    expect(result.equals(patched)).to.equal(true);
  });

  it('Asynchronous: the same over real files, streams in, FileHandles as positional reader and writer', async () => {
    // Generate the hash list for the patched file
    const hashes = await blockChecksums(createReadStream(patchedFile), { blockSize: blocksize });
    expect(hashes.fileHashes.sha1).to.equal(blockChecksumsSync(patched, { blockSize: blocksize }).fileHashes.sha1);
    // Get the instructions
    const { local, remote, state } = await getInstructions(createReadStream(unpatchedFile), hashes);
    const missing = [...remote];
    expect(local).to.deep.equal(getInstructionsSync(unpatched, hashes).local);
    // Get the blocks from the local file and write them to the result file
    {
      const unpatchedHandle = await open(unpatchedFile, 'r');
      const resultHandle = await open(resultFile, 'w');
      try {
        await patchLocalBlocks(unpatchedHandle, resultHandle, { local, state });
      } finally {
        await unpatchedHandle.close();
        await resultHandle.close();
      }
    }
    // Get the missing blocks from the patched file
    const blocks: RemoteChunk[] = [];
    {
      const f = await open(patchedFile, 'r');
      try {
        for await (const b of getBlocks(f, missing, hashes.params)) blocks.push(b as RemoteChunk);
      } finally {
        await f.close();
      }
    }
    // Patch the result file with the missing blocks
    const result = await open(resultFile, 'r+');
    try {
      await patchRemoteBlocks(blocks, result, state, { checkHashes: true });
    } finally {
      await result.close();
    }
    expect(state.complete).to.equal(true);
    expect((await readFile(resultFile)).equals(patched)).to.equal(true);
  });

  it('Partial patches: patch_remote_blocks called with each half of the blocks as they arrive', async () => {
    const hashes = blockChecksumsSync(patched, { blockSize: blocksize });
    const { local, remote, state } = getInstructionsSync(unpatched, hashes);
    await writeFile(resultFile, Buffer.alloc(0));
    {
      const seed = await open(unpatchedFile, 'r');
      const handle = await open(resultFile, 'r+');
      try {
        await patchLocalBlocks(seed, handle, { local, state });
      } finally {
        await seed.close();
        await handle.close();
      }
    }
    // One chunk per block, as pyzsync's get_blocks yields them.
    const blocks = remote.flatMap((b) => getBlocksSync(patched, [b], hashes.params));
    const pivot = Math.floor(blocks.length / 2);
    const b1 = blocks.slice(0, pivot);
    const b2 = blocks.slice(pivot);
    const result = await open(resultFile, 'r+');
    try {
      // Received blocks part 1 from remote
      await patchRemoteBlocks(b1, result, state, { checkHashes: true });
      expect(state.missingBlocks()).to.deep.equal(remote.slice(pivot));
      // Received blocks part 2 from remote
      await patchRemoteBlocks(b2, result, state, { checkHashes: true });
    } finally {
      await result.close();
    }
    expect(state.complete).to.equal(true);
    expect((await readFile(resultFile)).equals(patched)).to.equal(true);
  });
});
