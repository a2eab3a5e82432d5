// The only module that talks to the C++ addon (native/src). Its entry points (NativeAddon, declared
// in native-entries.ts) take raw Float32Arrays and sizes; shape checking happens in the callers
// (ops.ts), and the addon checks buffer lengths again so a mistake throws instead of corrupting memory.
import fs from "node:fs";
import path from "node:path";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import { tableDifferences, type NativeAddon } from "./native-entries.js";

export type { NativeAddon } from "./native-entries.js";

/** Activation codes understood by the addon (fused after BN or as a conv post-op). */
export const enum ActCode {
  None = 0,
  Elu = 1,
  Relu = 2,
  Sigmoid = 3,
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
    const file = findAddon();
    const candidate = require(file) as NativeAddon;
    // An addon built from other sources (a stale build) would misread every call: refuse it here.
    const differences =
      typeof candidate.nativeTable === "function"
        ? tableDifferences(candidate.nativeTable())
        : ["it has no nativeTable()"];
    if (differences.length > 0)
      throw new Error(
        `${file} does not match src/engine/native-entries.ts (rebuild it: npm install): ${differences.slice(0, 3).join("; ")}`,
      );
    loaded = candidate;
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
