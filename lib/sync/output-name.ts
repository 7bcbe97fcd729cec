import { basename } from 'node:path';

/**
 * The output file name when the caller gives none: the control file's
 * `Filename` if it is a plain name, else the .zsync's own name without
 * `.zsync`. A `Filename` can never lead outside the chosen folder: anything
 * with a separator, a NUL, or that is `.`/`..` is ignored.
 */
export function defaultOutputName(filename: string | undefined, controlLocation: string): string {
  if (filename !== undefined && isPlainName(filename)) return filename;
  const last = basename(decodeURIComponent(new URL(controlLocation, 'file:///').pathname));
  const stem = last.replace(/\.zsync$/i, '');
  return isPlainName(stem) ? stem : 'zsync-output';
}

export function isPlainName(name: string): boolean {
  return name.length > 0 && name.length <= 255 && name !== '.' && name !== '..' && !/[/\\\0]/.test(name);
}
