// Writes lib/checksums/wasm-bytes.generated.ts from the modules' code: `npm run gen:wasm`.
import { writeFileSync } from 'node:fs';
import { wasmBytesSource } from '../lib/checksums/wasm-bytes-source.js';

const target = new URL('../lib/checksums/wasm-bytes.generated.ts', import.meta.url);
writeFileSync(target, wasmBytesSource());
process.stdout.write(`wrote ${target.pathname}\n`);
