// Bundles the CLI and the worker threads over what tsc built in dist/ (`npm
// run build` runs it after tsc). A process that loads one file instead of ~50
// modules starts sooner: a 256 MiB sync took 1.00-1.03 s instead of 1.07-1.13 s
// (six runs each, alternated). The
// library (dist/index.js and the modules beside it) stays unbundled, for
// importers' bundlers and for its declarations.
//
// Modules find workers and package.json from lib/module-root.ts, which sits at
// the root as the CLI's bundle does, so its URL resolves the same in that
// bundle and out of one (the workers' bundles, in sync/ and parallel/, neither
// start workers nor read package.json). Each worker entry point is imported
// by nothing, so its bundle replaces no module the library loads. Plain .mjs,
// not TypeScript: it runs under plain node.
import { build } from 'esbuild';

const entries = {
  cli: 'lib/cli.ts',
  'sync/scan-worker': 'lib/sync/scan-worker.ts',
  'sync/prefix-hash-worker': 'lib/sync/prefix-hash-worker.ts',
  'parallel/checksum-worker': 'lib/parallel/checksum-worker.ts',
};

for (const [out, entry] of Object.entries(entries)) {
  await build({
    entryPoints: [entry],
    outfile: `dist/${out}.js`,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    sourcemap: true,
    // Positions only, as tsc's maps: they point at lib/*.ts, which a clone of
    // the repository has and the package does not. With the sources inlined,
    // the CLI's map alone was 1 MB of the package.
    sourcesContent: false,
    allowOverwrite: true,
    logLevel: 'warning',
    // The CommonJS dependencies (cli-progress, readable-stream) require node's
    // modules, which an ES module bundle can only do through a require of its own.
    banner: { js: "import { createRequire as zsyncCreateRequire } from 'node:module'; const require = zsyncCreateRequire(import.meta.url);" },
  });
}
