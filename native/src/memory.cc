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

#include "common.h"

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

// alloc(n, zero) -> Float32Array
struct AllocArgs {
  int64_t n;
  bool zero;
  static AllocArgs From(const Napi::CallbackInfo& info) {
    ArgReader r(info, "alloc");
    AllocArgs a;
    a.n = r.Int("length");
    a.zero = r.Flag("zero");
    r.End();
    return a;
  }
};

Napi::Value AllocEntry(const Napi::CallbackInfo& info) {
  AllocArgs a = AllocArgs::From(info);
  return Alloc(info.Env(), a.n, a.zero);
}

// free(a): releases a's block now and detaches a's ArrayBuffer; a no-op when a was already freed
// or is not the addon's.
Napi::Value FreeEntry(const Napi::CallbackInfo& info) {
  if (info.Length() != 1 || !info[0].IsTypedArray()) throw ArgError("free: expected one Float32Array");
  auto ab = info[0].As<Napi::TypedArray>().ArrayBuffer();
  auto it = live.find(ab.Data());
  if (ab.Data() == nullptr || it == live.end()) return info.Env().Undefined();
  Block* b = it->second;
  ab.Detach();
  Release(b);  // the finalizer still runs later (and only deletes the Block)
  return info.Env().Undefined();
}

// liveBytes(): bytes allocated here and not yet freed (tensors in use plus the TS pool's buffers).
Napi::Value LiveBytesEntry(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(liveBytes));
}

}  // namespace

void RegisterMemory(Napi::Env env, Napi::Object exports) {
  // Tensor buffers are large and short-lived. glibc keeps freed heap blocks below its (adaptive) mmap
  // threshold, so a training run's RSS crept up epoch after epoch; serving every block of 1 MiB or
  // more by mmap returns it to the system on free. The user's MALLOC_MMAP_THRESHOLD_ still wins.
  if (getenv("MALLOC_MMAP_THRESHOLD_") == nullptr) mallopt(M_MMAP_THRESHOLD, 1 << 20);
  NS_EXPORT("alloc", AllocEntry);
  NS_EXPORT("free", FreeEntry);
  NS_EXPORT("liveBytes", LiveBytesEntry);
}

}  // namespace ns
