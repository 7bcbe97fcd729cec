/**
 * The WebAssembly global, as far as our modules use it: this project compiles
 * without the DOM lib, which is where TypeScript declares it. Declared here
 * rather than globally so that our .d.ts files cannot clash with a user's DOM types.
 */
export interface WasmModule { readonly kind?: 'module' }
interface WasmApi {
  Module: new (bytes: Uint8Array<ArrayBuffer>) => WasmModule;
  Instance: new (module: WasmModule, imports?: object) => { readonly exports: unknown };
  validate(bytes: Uint8Array<ArrayBuffer>): boolean;
}
export const wasm = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;

/** The bytes of a module stored as base64 (wasm-bytes.generated.ts). */
export function wasmBytes(base64: string): Uint8Array<ArrayBuffer> {
  const b = Buffer.from(base64, 'base64');
  const out = new Uint8Array(b.length);
  out.set(b);
  return out;
}
