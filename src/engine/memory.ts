// The engine's one buffer pool. Tensor memory is allocated by the addon (native/src/memory.cc:
// 64-byte aligned, served by mmap from 1 MiB up so that freeing really returns it to the system)
// and handed to JS as a Float32Array. A disposed tensor's buffer comes here and is handed to the
// next tensor of the same length: a training step allocates the same shapes every time, and
// reusing the JS view as well as the memory means V8 sees no new external ArrayBuffer per tensor
// (which made it count external memory and run garbage collections it did not need).
//
// One cap, POOL_CAP_BYTES, bounds the bytes kept here; a buffer that would exceed it is freed at
// once. There is no second cache in C++: buffers that V8 collects without dispose() are freed there
// directly. releaseMemoryPool() empties the pool (the trainer calls it after training).
import { native } from "./native.js";

/** Most bytes the pool keeps for reuse (1 GiB: a batch-32 training step of the fast preset fits). */
export const POOL_CAP_BYTES = 1 << 30;

const pool = new Map<number, Float32Array[]>(); // length -> free buffers of that length
let poolBytes = 0;
let liveBytes = 0;

/** A buffer of n floats for a new tensor: a pooled one of that length if any, else a fresh one. */
export function takeBuffer(n: number, zero: boolean): Float32Array {
  liveBytes += n * 4;
  const b = pool.get(n)?.pop();
  if (b) {
    poolBytes -= n * 4;
    if (zero) b.fill(0);
    return b;
  }
  return native.alloc(n, zero);
}

/** Takes back a disposed tensor's buffer: kept for reuse while under the cap, else freed now. */
export function returnBuffer(b: Float32Array): void {
  const bytes = b.length * 4;
  liveBytes -= bytes;
  if (poolBytes + bytes > POOL_CAP_BYTES) {
    native.free(b);
    return;
  }
  let list = pool.get(b.length);
  if (!list) pool.set(b.length, (list = []));
  list.push(b);
  poolBytes += bytes;
}

/** Bytes held by live (not disposed) tensors. */
export function tensorBytes(): number {
  return liveBytes;
}

/** Bytes the pool holds for reuse (at most POOL_CAP_BYTES). */
export function pooledBytes(): number {
  return poolBytes;
}

/** Frees every pooled buffer (after training, before a long idle phase). */
export function releaseMemoryPool(): void {
  for (const list of pool.values()) for (const b of list) native.free(b);
  pool.clear();
  poolBytes = 0;
}
