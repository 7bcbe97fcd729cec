/**
 * Gives the memory of array buffers back now, rather than at the next major
 * GC: they are transferred into a message on a channel that is closed at once,
 * which frees them (every view of them is left empty). For the big per-block
 * arrays of a sync (an index, a list of blocks found) whose thread goes on
 * without allocating enough to bring on a GC for a while. Shared buffers
 * cannot be given back this way and are skipped, as is everything on a
 * runtime without MessageChannel.
 */
export function releaseMemory(buffers: Iterable<ArrayBufferLike>): void {
  if (typeof MessageChannel !== 'function') return;
  const owned = [...new Set(buffers)].filter((b): b is ArrayBuffer => b instanceof ArrayBuffer && b.byteLength > 0);
  if (owned.length === 0) return;
  const { port1, port2 } = new MessageChannel();
  port1.postMessage(null, owned);
  port1.close();
  port2.close();
}
