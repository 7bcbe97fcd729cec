import { basename } from 'node:path';

/**
 * The output file name when the caller gives none, by zsync 0.6.2's rule: the
 * control file's `Filename` only if it is a plain name that begins with the
 * leading alphanumeric part of the .zsync's own name (`b.zsync` with
 * `Filename: new.bin` gives `b`); else the .zsync's name without `.zsync`.
 * Never a name that could lead outside the chosen folder (a separator, a NUL,
 * `.`/`..`), a hidden file (leading `.`), or one of our working names
 * (`.part`, `.zs-old`, `.zs-new`, `.zs-lock`).
 */
export function defaultOutputName(filename: string | undefined, controlLocation: string): string {
  const stem = controlStem(controlLocation);
  const prefix = /^[A-Za-z0-9]*/.exec(stem)?.[0] ?? '';
  if (filename !== undefined && isSafeOutputName(filename) && filename.startsWith(prefix)) return filename;
  return isSafeOutputName(stem) ? stem : 'zsync-output';
}

/** The .zsync's own name without `.zsync`, from a URL or a local path. */
function controlStem(controlLocation: string): string {
  let last: string;
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(controlLocation)) {
    const path = new URL(controlLocation).pathname;
    let decoded = path;
    try {
      decoded = decodeURIComponent(path);
    } catch {
      // A bad %-escape: keep the name as it is written.
    }
    last = basename(decoded);
  } else {
    last = basename(controlLocation);
  }
  return last.replace(/\.zsync$/i, '');
}

export function isPlainName(name: string): boolean {
  return name.length > 0 && name.length <= 255 && name !== '.' && name !== '..' && !/[/\\\0]/.test(name);
}

/** A plain name that is not hidden and not one of the working files' names. */
export function isSafeOutputName(name: string): boolean {
  return isPlainName(name) && !name.startsWith('.') && !/\.(part|zs-old|zs-new|zs-lock)$/i.test(name);
}
