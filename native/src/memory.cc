// Where tensor memory comes from: natively owned, 64-byte aligned float buffers handed to JS as
// external ArrayBuffers. `free` detaches the ArrayBuffer (so any JS view reads as empty instead of
// dangling) and releases the memory at once; a buffer that is never freed explicitly is released
// when V8 collects it.
//
// No cache here: the engine's one buffer pool (reuse of freed buffers by size, with one cap) lives
// in TypeScript, in src/engine/memory.ts, which keeps the JS views too so that reusing a buffer
// creates no new ArrayBuffer for V8 to account for.
#include <malloc.h>

#include <cstdlib>
#include <unordered_map>

#include "entry.h"

namespace ns {
namespace {

struct Block {
  void* p;
  size_t bytes;
};

std::unordered_map<void*, Block*> live;  // data pointer -> block, for explicit free
int64_t liveBytes = 0;

void Release(Block* b) {
  live.erase(b->p);
  liveBytes -= static_cast<int64_t>(b->bytes);
  std::free(b->p);
  b->p = nullptr;
}

void Finalize(Napi::Env, void*, Block* b) {
  if (b->p) Release(b);
  delete b;
}

// A block of n floats (uninitialised, or zeroed), as a Float32Array over an external ArrayBuffer.
Napi::Value Alloc(Napi::Env env, int64_t n, bool zero) {
  size_t bytes = static_cast<size_t>(n) * sizeof(float);
  size_t padded = ((bytes + 63) / 64) * 64;
  if (padded == 0) padded = 64;
  void* p = std::aligned_alloc(64, padded);
  if (!p) throw std::runtime_error("out of memory allocating " + std::to_string(bytes) + " bytes");
  if (zero) std::memset(p, 0, padded);
  Block* b = new Block{p, padded};
  live[p] = b;
  liveBytes += static_cast<int64_t>(padded);
  auto ab = Napi::ArrayBuffer::New(env, p, bytes, Finalize, b);
  return Napi::Float32Array::New(env, static_cast<size_t>(n), ab, 0);
}

// ---------------------------------------------------------------------------------------------
// Entry points

// alloc(n, zero) -> Float32Array
#define ALLOC(X) X(Size, n) X(Flag, zero)
NS_ENTRY(alloc, Positional, NewBuf, ALLOC) { return Alloc(env, a.n, a.zero); }

// free(a): releases a's block now and detaches a's ArrayBuffer; a no-op when a was already freed
// or is not the addon's.
#define FREE(X) X(Buf, a)
NS_ENTRY(free, Positional, Void, FREE) {
  Napi::ArrayBuffer ab = a.a.array.ArrayBuffer();
  auto it = live.find(ab.Data());
  if (ab.Data() == nullptr || it == live.end()) return;
  Block* b = it->second;
  ab.Detach();
  Release(b);  // the finalizer still runs later (and only deletes the Block)
}

// liveBytes(): bytes allocated here and not yet freed (tensors in use plus the TS pool's buffers).
NS_ENTRY(liveBytes, Positional, Number, NS_NO_FIELDS) { return static_cast<double>(liveBytes); }

// Tensor buffers are large and short-lived. glibc keeps freed heap blocks below its (adaptive) mmap
// threshold, so a training run's RSS crept up epoch after epoch; serving every block of 1 MiB or
// more by mmap returns it to the system on free. The user's MALLOC_MMAP_THRESHOLD_ still wins.
const bool mmapThresholdSet = [] {
  if (getenv("MALLOC_MMAP_THRESHOLD_") == nullptr) mallopt(M_MMAP_THRESHOLD, 1 << 20);
  return true;
}();

}  // namespace
}  // namespace ns
