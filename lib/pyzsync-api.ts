/**
 * pyzsync's five functions, each once: async over streams and positional
 * files, `...Sync` over Buffers. Both kinds are thin wrappers over the engine's
 * classes (the async ones over the stream classes, the sync ones over the push
 * parsers those streams wrap), so the algorithm exists in one place only.
 */
import { pipeline } from 'node:stream/promises';
import { Readable } from 'readable-stream';
import type { StrongAlgorithm } from './checksums/strong.js';
import { InvalidArgumentError, TruncatedInputError } from './errors.js';
import { BlockAssembler, type RemoteChunk } from './engine/block-assembler.js';
import { BlockChecksums } from './engine/block-checksums.js';
import { BlockIndex } from './engine/block-index.js';
import { BlockReader } from './engine/block-reader.js';
import { ChecksumCollector, type HashLengthOptions } from './engine/checksum-collector.js';
import { ChecksumStream } from './engine/checksum-stream.js';
import { Checksummer, type ChecksumRecord } from './engine/checksummer.js';
import { LocalPatcherStream, type LocalBlock } from './engine/local-patcher-stream.js';
import { Matcher, type BlockMatch } from './engine/matcher.js';
import { MatcherStream } from './engine/matcher-stream.js';
import { blocksToRanges, blockSpan, defaultBlockSize } from './engine/params.js';
import { readFully, type PositionalReader, type PositionalWriter } from './engine/positional.js';
import { RemotePatcherStream } from './engine/remote-patcher-stream.js';
import { TargetState } from './engine/target-state.js';

export interface BlockChecksumsOptions extends HashLengthOptions {
  /**
   * Bytes per block. Default: zsyncmake's choice for the length (2048 below
   * 100,000,000 bytes, else 4096). The Sync form knows the length; the stream
   * form uses `length` when given, else 2048, as zsyncmake does for a pipe.
   */
  blockSize?: number;
  /** The stream's length, when known, to choose the default block size as for a file. */
  length?: number;
  /** Default 'MD4'. */
  strongAlgorithm?: StrongAlgorithm;
  /** Also compute the whole file's SHA-256. Default false. */
  sha256?: boolean;
}

/** Which target blocks a seed holds, where, and which must come from elsewhere. */
export interface Instructions {
  /** Target blocks found in the seed, with the seed offset of their bytes. */
  local: Array<{ index: number; seedOffset: number }>;
  /** Target blocks still missing after this seed (and any before it on the same state), ascending. */
  remote: number[];
  /** The state to pass to the next seed or to patchRemoteBlocks. */
  state: TargetState;
}

export interface InstructionOptions {
  /** Continue from what earlier seeds found. Default: a new state. */
  state?: TargetState;
}

export interface PatchRemoteOptions {
  /** Verify each block's strong checksum (pyzsync's check_hashes). Default true. */
  checkHashes?: boolean;
}

// ---- block_checksums ---------------------------------------------------------

/** The block checksums of a new file read from a stream (pyzsync's block_checksums). */
export async function blockChecksums(input: AsyncIterable<Uint8Array> | Iterable<Uint8Array>, options: BlockChecksumsOptions = {}): Promise<BlockChecksums> {
  const blockSize = options.blockSize ?? (options.length === undefined ? 2048 : defaultBlockSize(options.length));
  const stream = new ChecksumStream({ blockSize, ...strongOptions(options) });
  const collector = new ChecksumCollector(options);
  let result: BlockChecksums | undefined;
  await pipeline(Readable.from(input, { objectMode: false }), stream, async (records: AsyncIterable<ChecksumRecord>) => {
    for await (const record of records) {
      if (record.kind === 'block') collector.add(record);
      else result = collector.finish(record);
    }
  });
  if (!result) throw new TruncatedInputError('checksum stream ended without a summary');
  return result;
}

export function blockChecksumsSync(data: Uint8Array, options: BlockChecksumsOptions = {}): BlockChecksums {
  const checksummer = new Checksummer({ blockSize: options.blockSize ?? defaultBlockSize(data.length), ...strongOptions(options) });
  const collector = new ChecksumCollector(options);
  const add = collector.add.bind(collector);
  checksummer.update(data, add);
  return collector.finish(checksummer.end(add));
}

function strongOptions(options: BlockChecksumsOptions): { strongAlgorithm?: StrongAlgorithm; sha256?: boolean } {
  const out: { strongAlgorithm?: StrongAlgorithm; sha256?: boolean } = {};
  if (options.strongAlgorithm !== undefined) out.strongAlgorithm = options.strongAlgorithm;
  if (options.sha256 !== undefined) out.sha256 = options.sha256;
  return out;
}

// ---- get_instructions --------------------------------------------------------

/** Scans a seed for the target's blocks (pyzsync's get_instructions). */
export async function getInstructions(seed: AsyncIterable<Uint8Array> | Iterable<Uint8Array>, target: BlockChecksums | BlockIndex, options: InstructionOptions = {}): Promise<Instructions> {
  const index = toIndex(target);
  const matcher = new MatcherStream(index, stateOption(options));
  const local: Instructions['local'] = [];
  await pipeline(Readable.from(seed, { objectMode: false }), matcher, async (matches: AsyncIterable<BlockMatch>) => {
    for await (const m of matches) local.push({ index: m.index, seedOffset: m.seedOffset });
  });
  return { local, remote: matcher.missingBlocks(), state: matcher.state };
}

export function getInstructionsSync(seed: Uint8Array, target: BlockChecksums | BlockIndex, options: InstructionOptions = {}): Instructions {
  const index = toIndex(target);
  const matcher = new Matcher(index, stateOption(options));
  const local: Instructions['local'] = [];
  const emit = (m: BlockMatch): void => {
    local.push({ index: m.index, seedOffset: m.seedOffset });
  };
  matcher.write(seed, emit);
  matcher.end(emit);
  return { local, remote: matcher.state.missingBlocks(), state: matcher.state };
}

function toIndex(target: BlockChecksums | BlockIndex): BlockIndex {
  return target instanceof BlockIndex ? target : new BlockIndex(target);
}

function stateOption(options: InstructionOptions): { state?: TargetState } {
  return options.state ? { state: options.state } : {};
}

// ---- patch_local_blocks ------------------------------------------------------

/**
 * Copies the blocks found in a seed into the output (pyzsync's patch_local_blocks),
 * reading each from the seed at the offset `getInstructions` gave.
 */
export async function patchLocalBlocks(seed: PositionalReader, output: PositionalWriter, instructions: Pick<Instructions, 'local' | 'state'>): Promise<void> {
  const { params } = instructions.state.checksums;
  async function* blocks(): AsyncGenerator<LocalBlock> {
    for (const { index, seedOffset } of instructions.local) {
      // Zero-filled: a window that matched past the seed's end matched its padding.
      const data = Buffer.alloc(params.blockSize);
      await readFully(seed, data, 0, data.length, seedOffset);
      yield { index, data };
    }
  }
  await pipeline(Readable.from(blocks()), new LocalPatcherStream(output, params));
}

/** Copies the seed's blocks into `result` (at least the target's length) and returns it. */
export function patchLocalBlocksSync<T extends Uint8Array>(seed: Uint8Array, result: T, instructions: Pick<Instructions, 'local' | 'state'>): T {
  const { params } = instructions.state.checksums;
  checkResultSize(result, params.length);
  for (const { index, seedOffset } of instructions.local) {
    const { start, end } = blockSpan(params, index);
    const available = Math.max(0, Math.min(end - start, seed.length - seedOffset));
    result.set(seed.subarray(seedOffset, seedOffset + available), start);
    result.fill(0, start + available, end);
  }
  return result;
}

// ---- get_blocks --------------------------------------------------------------

/** Reads the given blocks of the new file as `{ offset, data }` chunks (pyzsync's get_blocks). */
export function getBlocks(newFile: PositionalReader, blocks: readonly number[], params: { blockSize: number; length: number }): BlockReader {
  return new BlockReader(newFile, params, { blocks });
}

export function getBlocksSync(newFile: Uint8Array, blocks: readonly number[], params: { blockSize: number; length: number }): RemoteChunk[] {
  if (newFile.length < params.length) throw new TruncatedInputError(`file has ${newFile.length} bytes, expected ${params.length}`);
  return blocksToRanges(params, blocks).map((r) => ({ offset: r.start, data: newFile.subarray(r.start, r.end) }));
}

// ---- patch_remote_blocks -----------------------------------------------------

/**
 * Writes fetched data into the output, verified block by block (pyzsync's
 * patch_remote_blocks). Call it as often as data arrives with the same state:
 * each call continues where the last stopped.
 */
export async function patchRemoteBlocks(blocks: AsyncIterable<RemoteChunk> | Iterable<RemoteChunk>, output: PositionalWriter, state: TargetState, options: PatchRemoteOptions = {}): Promise<void> {
  await pipeline(Readable.from(blocks), new RemotePatcherStream(state, output, { verify: options.checkHashes ?? true }));
}

/** Writes the verified blocks into `result` and returns it; throws the first BlockChecksumError, after writing the good blocks. */
export function patchRemoteBlocksSync<T extends Uint8Array>(blocks: Iterable<RemoteChunk>, result: T, state: TargetState, options: PatchRemoteOptions = {}): T {
  checkResultSize(result, state.checksums.params.length);
  const assembler = new BlockAssembler(state, { verify: options.checkHashes ?? true });
  for (const chunk of blocks) {
    const { runs, bad } = assembler.accept(chunk);
    for (const run of runs) {
      result.set(run.data, run.position);
      for (const b of run.blocks) state.add(b);
    }
    if (bad[0]) throw bad[0];
  }
  return result;
}

function checkResultSize(result: Uint8Array, length: number): void {
  if (result.length < length) throw new InvalidArgumentError(`result buffer has ${result.length} bytes, the target needs ${length}`);
}
