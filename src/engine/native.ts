// The only module that talks to the C++ addon (native/src). Every function here takes raw
// Float32Arrays and sizes; shape checking happens in the callers (ops.ts), and the addon checks
// buffer lengths again so a mistake throws instead of corrupting memory.
import fs from "node:fs";
import path from "node:path";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";

type F = Float32Array;
type Fopt = Float32Array | null;

/** Activation codes understood by the addon (fused after BN or as a conv post-op). */
export const enum ActCode {
  None = 0,
  Elu = 1,
  Relu = 2,
  Sigmoid = 3,
}

/** Compute precision codes understood by the addon (setPrecision). */
export const enum PrecisionCode {
  Fp32 = 0,
  Bf16 = 1,
}

/** A convolution's geometry as the addon takes it: batch, input HxW, channels in/out, kernel, stride, pad, output HxW. */
export type ConvGeomArgs = [
  n: number,
  h: number,
  wd: number,
  c: number,
  oc: number,
  kh: number,
  kw: number,
  s: number,
  p: number,
  oh: number,
  ow: number,
];

/**
 * The addon's entry points, one op family per native source file (native/src/<family>.cc), forward
 * and backward side by side. Arguments are positional, in the order of the fields of the entry
 * point's `...Args` struct in C++; the addon checks every buffer's length and the argument count.
 */
export interface NativeAddon {
  // addon.cc: runtime
  version(): string;
  setThreads(n: number): void;
  getThreads(): number;
  /** Compute precision of the convolutions from now on (throws where the CPU lacks bf16). */
  setPrecision(p: PrecisionCode): void;
  getPrecision(): PrecisionCode;
  /** Whether oneDNN's effective ISA has the AVX512-BF16 kernels. */
  bf16Supported(): boolean;

  // memory.cc: tensor buffers (the pool that reuses them is memory.ts)
  alloc(n: number, zero: boolean): F;
  /** Releases a's memory now and detaches a (a no-op if already freed). */
  free(a: F): void;
  /** Bytes allocated by alloc and not yet freed. */
  liveBytes(): number;

  // conv.cc: convolution. A buffer flagged bf16 holds packed bf16 (two per float, ceil(n / 2) floats):
  // the activations of bf16 training, and conv + BN's inner tensor and its gradient (ops/batchnorm.ts).
  convForward(
    x: F,
    w: F,
    b: Fopt,
    y: F,
    ...geomAndMore: [
      ...ConvGeomArgs,
      act: ActCode,
      alpha: number,
      wPrepared: boolean,
      xBf16: boolean,
      yBf16: boolean,
    ]
  ): void;
  /** Floats needed for this conv's weights in the kernel's own (blocked) layout. */
  convPreparedSize(
    hasBias: boolean,
    ...geomAndMore: [...ConvGeomArgs, act: ActCode, alpha: number, yBf16: boolean]
  ): number;
  /** HWIO weights -> the kernel's layout (for convForward(..., wPrepared = true)). */
  convPrepareWeights(
    w: F,
    out: F,
    hasBias: boolean,
    ...geomAndMore: [...ConvGeomArgs, act: ActCode, alpha: number, yBf16: boolean]
  ): void;
  convBackwardData(dy: F, w: F, dx: F, ...geom: ConvGeomArgs): void;
  convBackwardWeights(x: F, dy: F, dw: F, db: Fopt, ...geom: ConvGeomArgs): void;
  /** Both gradients in one call (each only where its buffer is given; db only with dw): dy converted once in bf16. */
  convBackward(
    x: F,
    w: F,
    dy: F,
    dx: Fopt,
    dw: Fopt,
    db: Fopt,
    ...geomAndMore: [...ConvGeomArgs, xBf16: boolean, dyBf16: boolean]
  ): void;
  /**
   * bf16 training convolutions run over the batch in chunks whose bf16 copies fit in this many bytes
   * (default 4 MiB; 0 = the whole batch). Returns the previous value. For tests and benchmarks.
   */
  setConvChunkBytes(bytes: number): number;

  // dense.cc: the dense layer
  /** y [n,m] = x [n,k] w [k,m] + b */
  denseForward(x: F, w: F, b: Fopt, y: F, n: number, k: number, m: number): void;
  /** Each gradient only where its buffer is given. */
  denseBackward(x: F, w: F, dy: F, dx: Fopt, dw: Fopt, db: Fopt, n: number, k: number, m: number): void;

  // batchnorm.cc: batch norm fused with its activation
  bnForward(
    x: F,
    gamma: F,
    beta: F,
    y: F,
    saveMean: F,
    saveInvstd: F,
    runMean: F,
    runVar: F,
    rows: number,
    c: number,
    eps: number,
    training: boolean,
    momentum: number,
    act: ActCode,
    alpha: number,
    /** x is packed bf16 */
    xBf16: boolean,
    /** y is packed bf16 */
    yBf16: boolean,
  ): void;
  bnBackward(
    x: F,
    y: Fopt,
    dy: F,
    gamma: F,
    mean: F,
    invstd: F,
    dx: Fopt,
    dgamma: F,
    dbeta: F,
    rows: number,
    c: number,
    act: ActCode,
    alpha: number,
    training: boolean,
    /** x and dx are packed bf16 */
    xBf16: boolean,
    /** y is packed bf16 */
    yBf16: boolean,
  ): void;

  // pool_resize.cc: 2x2 max-pool, 2x upsample + skip concat; activations packed bf16 when `bf16`
  maxPoolForward(x: F, y: F, n: number, h: number, w: number, c: number, bf16: boolean): void;
  maxPoolBackward(x: F, y: F, dy: F, dx: F, n: number, h: number, w: number, c: number, bf16: boolean): void;
  upsampleConcatForward(
    x: F,
    skip: F,
    y: F,
    n: number,
    h: number,
    w: number,
    cx: number,
    cs: number,
    bf16: boolean,
  ): void;
  upsampleConcatBackward(
    dy: F,
    dx: Fopt,
    dskip: Fopt,
    n: number,
    h: number,
    w: number,
    cx: number,
    cs: number,
  ): void;

  // elementwise.cc
  unaryForward(act: ActCode, x: F, y: F, n: number, alpha: number): void;
  /** Gradient from the forward's output y. */
  unaryBackward(act: ActCode, y: F, dy: F, dx: F, n: number, alpha: number): void;
  /** op: 0 add, 1 mul */
  binary(op: 0 | 1, a: F, b: F, y: F, n: number): void;
  /** y = b*y + a*x */
  axpby(y: F, x: F, a: number, b: number, n: number): void;
  fill(y: F, value: number, n: number): void;
  sumSquares(x: F, n: number): number;

  // optim.cc
  adamStep(
    p: F,
    g: F,
    m: F,
    v: F,
    n: number,
    lr: number,
    beta1: number,
    beta2: number,
    eps: number,
    bc1: number,
    bc2: number,
    weightDecay: number,
  ): void;
  sgdStep(
    p: F,
    g: F,
    buf: Fopt,
    n: number,
    lr: number,
    momentum: number,
    dampening: number,
    nesterov: boolean,
    weightDecay: number,
    first: boolean,
  ): void;
}

function findAddon(): string {
  // Walk up from this file (src/engine or dist/src/engine) to the package root.
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = path.join(dir, "native", "build", "Release", "nerveseg_native.node");
    if (fs.existsSync(candidate)) return candidate;
    const parent = path.dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  throw new Error("nerveseg native addon not built: run `npm install` (needs libdnnl-dev and g++)");
}

const require = createRequire(import.meta.url);

// OpenMP threads spin-wait ~300k iterations by default between parallel regions. On a machine
// shared with other processes a spinning thread can hold a core while its partner is descheduled,
// making memory-bound kernels 5-10x slower; a short spin keeps the idle-machine speed and stays
// robust under load. Must be set before libgomp loads (with the addon); the user's value wins.
process.env.GOMP_SPINCOUNT ??= "1000";

let loaded: NativeAddon | null = null;

/** Loads the addon on first use, so commands that never compute (synth, prepare, --help) work without it. */
function addon(): NativeAddon {
  if (loaded === null) {
    loaded = require(findAddon()) as NativeAddon;
    const envThreads = Number(process.env.NERVESEG_THREADS);
    if (Number.isInteger(envThreads) && envThreads > 0) loaded.setThreads(envThreads);
    // The bf16 chunk size (setConvChunkBytes), for benchmarks that compare it: 0 = whole batch.
    const envChunk = Number(process.env.NERVESEG_CONV_CHUNK_BYTES ?? NaN);
    if (Number.isInteger(envChunk) && envChunk >= 0) loaded.setConvChunkBytes(envChunk);
  }
  return loaded;
}

/** The addon, loaded lazily (see addon()). */
export const native: NativeAddon = new Proxy({} as NativeAddon, {
  get: (_target, key) => addon()[key as keyof NativeAddon],
  // The bench wraps functions to time them; writes go to the addon object itself.
  set: (_target, key, value) => Reflect.set(addon(), key, value),
});

/** Sets the number of threads oneDNN and the kernels use (OpenMP). */
export function setThreads(n: number): void {
  if (!Number.isInteger(n) || n < 1) throw new Error(`setThreads: expected a positive integer, got ${n}`);
  native.setThreads(n);
}

/** See NativeAddon.setConvChunkBytes: the chunk size of bf16 training convolutions; returns the previous one. */
export function setConvChunkBytes(bytes: number): number {
  return native.setConvChunkBytes(bytes);
}

/** Threads currently used by the native core. */
export function getThreads(): number {
  return native.getThreads();
}

/** Bytes the addon has allocated and not freed (tensors in use plus the buffer pool, memory.ts). */
export function addonBytes(): number {
  return native.liveBytes();
}
