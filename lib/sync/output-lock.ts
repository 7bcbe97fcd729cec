import { open, readFile, unlink } from 'node:fs/promises';
import { OutputBusyError } from './errors.js';

/**
 * Takes `OUTPUT.zs-lock` (created exclusively, holding our pid) so that two
 * syncs of one OUTPUT never share its working files. A lock left by a process
 * that is gone (a killed run) is taken over; one held by a live process is
 * ERR_ZSYNC_BUSY. Resolves with the function that releases it.
 */
export async function lockOutput(output: string): Promise<() => Promise<void>> {
  const path = `${output}.zs-lock`;
  for (let attempt = 0; ; attempt++) {
    try {
      const handle = await open(path, 'wx', 0o600);
      try {
        await handle.writeFile(`${process.pid}\n`);
      } finally {
        await handle.close();
      }
      return async () => {
        await unlink(path).catch(() => {});
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const pid = Number.parseInt(await readFile(path, 'utf8').catch(() => ''), 10);
      const holder = Number.isSafeInteger(pid) && pid > 0 ? pid : undefined;
      // A lock being written this instant has no pid yet: that holder is alive.
      if (attempt > 0 || holder === undefined || isAlive(holder)) throw new OutputBusyError(path, holder);
      await unlink(path).catch(() => {});
    }
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
