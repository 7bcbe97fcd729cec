/**
 * Just enough of the WebAssembly binary format to write small hashing modules
 * from TypeScript at load time: one memory (defined or imported), functions
 * with numbered locals, exports. The code is built with `Body`, one method per
 * instruction used, so a module reads as its instructions rather than as bytes.
 * Nothing here knows about MD4.
 */

export const ValType = { I32: 0x7f, V128: 0x7b } as const;
export type ValType = (typeof ValType)[keyof typeof ValType];

/** Opcodes of the single-byte instructions we use. */
export const Op = {
  Block: 0x02, Loop: 0x03, End: 0x0b, BrIf: 0x0d, Call: 0x10, Select: 0x1b,
  LocalGet: 0x20, LocalSet: 0x21, LocalTee: 0x22,
  I32Load: 0x28, I32Store: 0x36, I32Store8: 0x3a,
  I32Const: 0x41,
  I32Eqz: 0x45, I32LtU: 0x49,
  I32Add: 0x6a, I32Sub: 0x6b, I32And: 0x71, I32Or: 0x72, I32Xor: 0x73,
  I32Shl: 0x74, I32ShrU: 0x76, I32Rotl: 0x77,
} as const;
export type Op = (typeof Op)[keyof typeof Op];

/** SIMD instructions (prefix 0xfd, then the opcode as LEB128). */
export const SimdOp = {
  V128Load: 0x00, V128Store: 0x0b, V128Const: 0x0c, I8x16Shuffle: 0x0d, I32x4Splat: 0x11, I32x4ExtractLane: 0x1b,
  V128And: 0x4e, V128Or: 0x50, V128Xor: 0x51, V128Bitselect: 0x52,
  I32x4ExtaddPairwiseI16x8U: 0x7f, I16x8ExtendLowI8x16U: 0x89, I16x8ExtendHighI8x16U: 0x8a,
  I16x8Add: 0x8e, I16x8Mul: 0x95,
  I32x4Shl: 0xab, I32x4ShrU: 0xad, I32x4Add: 0xae,
} as const;
export type SimdOp = (typeof SimdOp)[keyof typeof SimdOp];

/** Bulk-memory instructions (prefix 0xfc). */
const MEMORY_COPY = 10;
const MEMORY_FILL = 11;

const EMPTY_BLOCK = 0x40;

function uleb(n: number, out: number[]): void {
  do {
    let byte = n & 0x7f;
    n = Math.floor(n / 128);
    if (n !== 0) byte |= 0x80;
    out.push(byte);
  } while (n !== 0);
}

function sleb(n: number, out: number[]): void {
  // Wasm i32 constants are signed: 0xefcdab89 goes in as -271733879.
  n |= 0;
  for (;;) {
    const byte = n & 0x7f;
    n >>= 7;
    if ((n === 0 && (byte & 0x40) === 0) || (n === -1 && (byte & 0x40) !== 0)) {
      out.push(byte);
      return;
    }
    out.push(byte | 0x80);
  }
}

/** The instructions of one function body, appended in order. */
export class Body {
  readonly bytes: number[] = [];

  op(op: Op): this {
    this.bytes.push(op);
    return this;
  }
  get(local: number): this {
    return this.local(Op.LocalGet, local);
  }
  set(local: number): this {
    return this.local(Op.LocalSet, local);
  }
  tee(local: number): this {
    return this.local(Op.LocalTee, local);
  }
  private local(op: typeof Op.LocalGet | typeof Op.LocalSet | typeof Op.LocalTee, local: number): this {
    this.bytes.push(op);
    uleb(local, this.bytes);
    return this;
  }
  i32(value: number): this {
    this.bytes.push(Op.I32Const);
    sleb(value, this.bytes);
    return this;
  }
  /** A load or store: alignment hint (log2) and constant offset. */
  mem(op: typeof Op.I32Load | typeof Op.I32Store | typeof Op.I32Store8, offset = 0, align = 0): this {
    this.bytes.push(op);
    uleb(align, this.bytes);
    uleb(offset, this.bytes);
    return this;
  }
  call(func: number): this {
    this.bytes.push(Op.Call);
    uleb(func, this.bytes);
    return this;
  }
  block(): this {
    this.bytes.push(Op.Block, EMPTY_BLOCK);
    return this;
  }
  loop(): this {
    this.bytes.push(Op.Loop, EMPTY_BLOCK);
    return this;
  }
  end(): this {
    this.bytes.push(Op.End);
    return this;
  }
  brIf(depth: number): this {
    this.bytes.push(Op.BrIf);
    uleb(depth, this.bytes);
    return this;
  }
  /** memory.copy: takes destination, source, length. */
  memoryCopy(): this {
    this.bytes.push(0xfc);
    uleb(MEMORY_COPY, this.bytes);
    this.bytes.push(0, 0);
    return this;
  }
  /** memory.fill: takes destination, byte value, length. */
  memoryFill(): this {
    this.bytes.push(0xfc);
    uleb(MEMORY_FILL, this.bytes);
    this.bytes.push(0);
    return this;
  }
  simd(op: SimdOp): this {
    this.bytes.push(0xfd);
    uleb(op, this.bytes);
    return this;
  }
  /** v128.load or v128.store with a constant offset (alignment hint 1 byte: addresses may be unaligned). */
  simdMem(op: typeof SimdOp.V128Load | typeof SimdOp.V128Store, offset = 0): this {
    this.simd(op);
    this.bytes.push(0);
    uleb(offset, this.bytes);
    return this;
  }
  /** i32x4.extract_lane. */
  extractLane32(lane: number): this {
    this.simd(SimdOp.I32x4ExtractLane);
    this.bytes.push(lane);
    return this;
  }
  /** A v128 constant of four i32 lanes. */
  v128i32(a: number, b: number, c: number, d: number): this {
    this.simd(SimdOp.V128Const);
    for (const lane of [a, b, c, d]) this.bytes.push(lane & 0xff, (lane >>> 8) & 0xff, (lane >>> 16) & 0xff, lane >>> 24);
    return this;
  }
  /** i8x16.shuffle picking four i32 lanes of the two operands (0-3 the first, 4-7 the second). */
  shuffle32(a: number, b: number, c: number, d: number): this {
    this.simd(SimdOp.I8x16Shuffle);
    for (const lane of [a, b, c, d]) this.bytes.push(4 * lane, 4 * lane + 1, 4 * lane + 2, 4 * lane + 3);
    return this;
  }
}

export interface FuncDef {
  params: readonly ValType[];
  results: readonly ValType[];
  /** Types of the locals after the parameters (numbered from params.length). */
  locals: readonly ValType[];
  body: Body;
  /** Export name; unexported when absent. */
  export?: string;
}

export interface MemoryDef {
  /** Size in 64 KiB pages; the memory never grows, so views of it stay valid. */
  pages: number;
  /** Defined here and exported under this name, or imported from module "env" under it. */
  name: string;
  imported: boolean;
}

function section(id: number, content: number[], out: number[]): void {
  out.push(id);
  uleb(content.length, out);
  for (const b of content) out.push(b);
}

function vector(items: number[][], out: number[]): void {
  uleb(items.length, out);
  for (const item of items) for (const b of item) out.push(b);
}

function name(text: string): number[] {
  const out: number[] = [];
  const bytes = Buffer.from(text, 'utf8');
  uleb(bytes.length, out);
  out.push(...bytes);
  return out;
}

function limits(pages: number): number[] {
  const out = [0x01]; // min and max: a fixed size
  uleb(pages, out);
  uleb(pages, out);
  return out;
}

/** The bytes of a module with this memory and these functions (function i has index i). */
export function emitModule(memory: MemoryDef, funcs: readonly FuncDef[]): Uint8Array<ArrayBuffer> {
  const out = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00];

  // One type per function: simpler than deduplicating, and the module is tiny.
  section(1, vectorBytes(funcs.map((f) => {
    const t = [0x60];
    uleb(f.params.length, t);
    t.push(...f.params);
    uleb(f.results.length, t);
    t.push(...f.results);
    return t;
  })), out);
  if (memory.imported) section(2, vectorBytes([[...name('env'), ...name(memory.name), 0x02, ...limits(memory.pages)]]), out);
  section(3, vectorBytes(funcs.map((_, i) => uleb1(i))), out);
  if (!memory.imported) section(5, vectorBytes([limits(memory.pages)]), out);
  const exports: number[][] = [];
  if (!memory.imported) exports.push([...name(memory.name), 0x02, 0x00]);
  funcs.forEach((f, i) => {
    if (f.export !== undefined) exports.push([...name(f.export), 0x00, ...uleb1(i)]);
  });
  section(7, vectorBytes(exports), out);
  section(10, vectorBytes(funcs.map((f) => {
    const body: number[] = [];
    // Locals as runs of one type.
    const runs: [number, ValType][] = [];
    for (const t of f.locals) {
      const last = runs[runs.length - 1];
      if (last && last[1] === t) last[0]++;
      else runs.push([1, t]);
    }
    uleb(runs.length, body);
    for (const [count, t] of runs) {
      uleb(count, body);
      body.push(t);
    }
    body.push(...f.body.bytes, Op.End);
    const sized: number[] = [];
    uleb(body.length, sized);
    return [...sized, ...body];
  })), out);
  return new Uint8Array(out);
}

function vectorBytes(items: number[][]): number[] {
  const out: number[] = [];
  vector(items, out);
  return out;
}

function uleb1(n: number): number[] {
  const out: number[] = [];
  uleb(n, out);
  return out;
}
