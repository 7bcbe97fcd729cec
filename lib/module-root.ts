import { readFileSync } from 'node:fs';

/**
 * The URL of a module at the root of the package's modules: dist/ once built,
 * lib/ under tsx. Workers and package.json are found from here rather than
 * from the module that wants them, since in the CLI's bundle (dist/cli.js,
 * also at that root) every bundled module shares the bundle's URL. (The
 * workers' own bundles sit in sync/ and parallel/, where this would resolve
 * wrong: none of them starts a worker or reads package.json.)
 */
export const MODULE_ROOT: string = import.meta.url;

/** The package's version, from its package.json. */
export function packageVersion(): string {
  return (JSON.parse(readFileSync(new URL('../package.json', MODULE_ROOT), 'utf8')) as { version: string }).version;
}
