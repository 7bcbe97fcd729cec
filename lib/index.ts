export * from './errors.js';
export { rsumBlock, rsumRoll, weakMask } from './checksums/rsum.js';
export { md4Digest, strongHasher, STRONG_ALGORITHMS, STRONG_DIGEST_BYTES, type StrongAlgorithm, type StrongHasher } from './checksums/strong.js';
export {
  blockCountOf, blockSpan, blocksToRanges, defaultBlockSize, defaultHashLengths, defaultParams, validateParams,
  MAX_BLOCK_SIZE, MIN_BLOCK_SIZE, type ChecksumParams,
} from './engine/params.js';
export { BlockChecksums, type FileHashes } from './engine/block-checksums.js';
export { BlockIndex } from './engine/block-index.js';
export { TargetState, type ByteRange, type PartialBlock } from './engine/target-state.js';
export { Checksummer, type BlockRecord, type ChecksumRecord, type ChecksumSummary, type ChecksummerOptions } from './engine/checksummer.js';
export { ChecksumCollector, type HashLengthOptions } from './engine/checksum-collector.js';
export { ChecksumStream, type ChecksumStreamOptions } from './engine/checksum-stream.js';
export { Matcher, DEFAULT_MATCHER_BUFFER, type BlockMatch, type MatcherOptions, type MatcherStats } from './engine/matcher.js';
export { MatcherStream, type MatcherStreamOptions } from './engine/matcher-stream.js';
export { LocalPatcherStream, type LocalBlock, type LocalPatcherOptions } from './engine/local-patcher-stream.js';
export { BlockAssembler, DEFAULT_MAX_PARTIAL_BYTES, type AssembledRun, type AssemblerOptions, type RemoteChunk } from './engine/block-assembler.js';
export { RemotePatcherStream, type RemotePatcherOptions } from './engine/remote-patcher-stream.js';
export { BlockReader, DEFAULT_READ_CHUNK, type BlockReaderOptions } from './engine/block-reader.js';
export { MemoryFile, readFully, writeFully, type PositionalReader, type PositionalWriter } from './engine/positional.js';
export * from './pyzsync-api.js';
