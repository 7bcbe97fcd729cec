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
export { type PackedRanges, type RangeList } from './engine/packed-ranges.js';
export { Checksummer, type BlockRecord, type ChecksumRecord, type ChecksumSummary, type ChecksummerOptions } from './engine/checksummer.js';
export { ChecksumCollector, type HashLengthOptions } from './engine/checksum-collector.js';
export { ChecksumStream, type ChecksumStreamOptions } from './engine/checksum-stream.js';
export { Matcher, DEFAULT_MATCHER_BUFFER, type BlockMatch, type MatcherOptions, type MatcherStats } from './engine/matcher.js';
export { MatcherStream, type MatcherStreamOptions } from './engine/matcher-stream.js';
export { LocalPatcherStream, type LocalBlock, type LocalPatcherOptions } from './engine/local-patcher-stream.js';
export { BlockAssembler, DEFAULT_MAX_PARTIAL_BYTES, type AssembledRun, type AssemblerOptions, type ChunkSink, type RemoteChunk } from './engine/block-assembler.js';
export { RemotePatcherStream, type RemotePatcherOptions } from './engine/remote-patcher-stream.js';
export { BlockReader, DEFAULT_READ_CHUNK, type BlockReaderOptions } from './engine/block-reader.js';
export { MemoryFile, readFully, writeFully, type PositionalReader, type PositionalWriter } from './engine/positional.js';
export * from './pyzsync-api.js';
export { ControlFileError, ControlFileLimitError, type ControlFileErrorKind } from './control-file/errors.js';
export {
  HeaderParser, formatHeader, formatMTime, parseMTime, compareVersions, checksumParamsOf, fileHashesOf, READER_VERSION, WRITER_VERSION,
  type ControlHeader, type FileHash, type HeaderFields, type LinePosition,
} from './control-file/header.js';
export { ControlFileParser, parseControlFileBuffer, DEFAULT_CONTROL_FILE_LIMITS, type ControlFile, type ControlFileParserOptions } from './control-file/parser.js';
export { ControlFileParserStream, parseControlFile } from './control-file/parse-stream.js';
export { ControlFileEncoder, type ControlFileHeaderOptions } from './control-file/encoder.js';
export { SpillingSpool, DEFAULT_MAX_SPOOL_MEMORY, type RecordSpool, type SpillingSpoolOptions } from './control-file/spool.js';
export { ControlFileWriter, SpooledControlFileOutput, type ControlFileWriterOptions } from './control-file/writer.js';
export { ZsyncMakeStream, type ZsyncMakeStreamOptions } from './control-file/make-stream.js';
export { zsyncmake, readControlFile, type ZsyncMakeOptions, type ZsyncMakeResult } from './zsyncmake.js';
export { zsync, Zsync, type ZsyncOptions, type ZsyncProgress, type ZsyncResult, type SeedReport } from './zsync.js';
export { FileHashMismatchError, IncompleteError, ControlFileUnavailableError } from './sync/errors.js';
export { HttpError, MultipartError } from './transport/errors.js';
export { HttpClient, AbortedError, type HttpClientOptions, type HttpResponse } from './transport/http-client.js';
export { HttpRangeFetcher, type FetchStats, type RangeFetcherOptions } from './transport/range-fetcher.js';
export { MultipartByterangesParser, type MultipartParserOptions } from './transport/multipart-parser.js';
export { createRangeServer, type RangeServerOptions } from './transport/range-server.js';
export { parseContentRange, type ContentRange } from './transport/content-range.js';
export { readAhead, type ReadAheadOptions } from './sync/read-ahead.js';
export { ControlSync, type ControlSyncOptions } from './sync/control-sync.js';
export { createSyncServer, SyncServer, type SyncServerOptions, type SyncServerStats } from './socket/server.js';
export { syncOverStream, type SocketSyncOptions, type SocketSyncResult } from './socket/client.js';
export { ClientSession, type ClientSessionOptions, type AnnouncedVersion } from './socket/client-session.js';
export { BlockCache, FileChangedError, type BlockCacheOptions, type BlockCacheStats } from './socket/block-cache.js';
export { FrameDecoder, type FrameDecoderOptions } from './socket/frame-decoder.js';
export { FrameSender } from './socket/frame-sender.js';
export { PROTOCOL_VERSION, FrameType, type Frame } from './socket/protocol.js';
export { ProtocolError, PeerError, PeerClosedError, PeerStalledError, StaleVersionError } from './socket/errors.js';
