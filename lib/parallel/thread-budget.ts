import { availableParallelism } from 'node:os';

/**
 * The helper threads a sync may start, counted for the whole process: the seed
 * scan's second thread (match phase) and the whole-file hash worker (fetch
 * phase) draw on one budget of one fewer than the cores. Both are CPU-bound, so
 * separate budgets would let a process syncing many files at once (a socket
 * client per follower) run twice as many busy threads as there are cores, for
 * no gain. One sync uses them in turn (the scan's slot is given back before the
 * hash worker asks), so sharing costs a lone sync nothing. Past the bound a
 * sync does that work on its own thread.
 */
let inUse = 0;
export const maxHelperThreads = Math.max(1, availableParallelism() - 1);

/** Takes a slot if one is free: returns its release (idempotent), else undefined. */
export function acquireHelperThread(): (() => void) | undefined {
  if (inUse >= maxHelperThreads) return undefined;
  inUse++;
  let held = true;
  return () => {
    if (!held) return;
    held = false;
    inUse--;
  };
}

/** True when a slot is free now. */
export function helperThreadAvailable(): boolean {
  return inUse < maxHelperThreads;
}
