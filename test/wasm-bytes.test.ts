/**
 * The WebAssembly modules run from bytes stored in wasm-bytes.generated.ts, so
 * that no thread pays for emitting them. Those bytes must be exactly what the
 * modules' code (md4-module.ts, rsum-module.ts) emits: a change to the code
 * that was not followed by `npm run gen:wasm` would otherwise never run.
 */
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { wasmBytesSource } from '../lib/checksums/wasm-bytes-source.js';

describe('stored WebAssembly bytes', () => {
  it('are what the modules\' code emits now (else: npm run gen:wasm)', () => {
    // Line ends as checked out (a CRLF checkout is the same file).
    const stored = readFileSync(new URL('../lib/checksums/wasm-bytes.generated.ts', import.meta.url), 'utf8').replace(/\r\n/g, '\n');
    expect(stored === wasmBytesSource(), 'lib/checksums/wasm-bytes.generated.ts is stale: run `npm run gen:wasm`').to.equal(true);
  });
});
