// Natively owned float buffers handed to JS as external ArrayBuffers. `free` detaches the
// ArrayBuffer (so any JS view reads as empty instead of dangling) and releases the memory at
// once; a buffer that is never freed explicitly is released when V8 collects it.
#include <omp.h>

#include <cstdlib>
#include <unordered_map>
#include <vector>

#include "common.h"

namespace ns {
namespace {

struct Block {
  void* p;
  size_t bytes;
};

std::unordered_map<void*, Block*> live;  // data pointer -> block, for explicit free
int64_t liveBytes = 0;

// Freed blocks kept by size for reuse: a training step allocates the same shapes every time,
// and reusing warm pages avoids mmap/munmap and first-touch page faults on every activation.
std::unordered_map<size_t, std::vector<void*>> pool;
size_t pooledBytes = 0;
size_t poolCap = size_t(256) << 20;  // the TS side pools too; this catches GC-released blocks

void* TakeBlock(size_t padded) {
  auto it = pool.find(padded);
  if (it != pool.end() && !it->second.empty()) {
    void* p = it->second.back();
    it->second.pop_back();
    pooledBytes -= padded;
    return p;
  }
  return std::aligned_alloc(64, padded);
}

void GiveBack(void* p, size_t padded) {
  if (pooledBytes + padded <= poolCap) {
    pool[padded].push_back(p);
    pooledBytes += padded;
  } else {
    std::free(p);
  }
}

void Finalize(Napi::Env, void*, Block* b) {
  if (b->p) {
    live.erase(b->p);
    liveBytes -= static_cast<int64_t>(b->bytes);
    GiveBack(b->p, b->bytes);
  }
  delete b;
}

Napi::Value Alloc(const Napi::CallbackInfo& info) {
  int64_t n = I(info, 0, "alloc: length");
  bool zero = B(info, 1);
  size_t bytes = static_cast<size_t>(n) * sizeof(float);
  size_t padded = ((bytes + 63) / 64) * 64;
  if (padded == 0) padded = 64;
  void* p = TakeBlock(padded);
  if (!p) throw std::runtime_error("out of memory allocating " + std::to_string(bytes) + " bytes");
  if (zero) std::memset(p, 0, padded);
  Block* b = new Block{p, padded};
  live[p] = b;
  liveBytes += static_cast<int64_t>(padded);
  Napi::Env env = info.Env();
  auto ab = Napi::ArrayBuffer::New(env, p, bytes, Finalize, b);
  return Napi::Float32Array::New(env, static_cast<size_t>(n), ab, 0);
}

Napi::Value Free(const Napi::CallbackInfo& info) {
  if (!info[0].IsTypedArray()) throw ArgError("free: expected a Float32Array");
  auto ab = info[0].As<Napi::TypedArray>().ArrayBuffer();
  void* p = ab.Data();
  auto it = live.find(p);
  if (p == nullptr || it == live.end()) return info.Env().Undefined();  // already freed / not ours
  Block* b = it->second;
  live.erase(it);
  ab.Detach();
  liveBytes -= static_cast<int64_t>(b->bytes);
  GiveBack(b->p, b->bytes);
  b->p = nullptr;
  return info.Env().Undefined();
}

Napi::Value LiveBytes(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(liveBytes));
}

// trimPool(capBytes?): releases every cached free block; optionally sets the cache cap.
Napi::Value TrimPool(const Napi::CallbackInfo& info) {
  for (auto& kv : pool)
    for (void* p : kv.second) std::free(p);
  pool.clear();
  pooledBytes = 0;
  if (info.Length() > 0 && info[0].IsNumber()) poolCap = static_cast<size_t>(I(info, 0, "trimPool: cap"));
  return info.Env().Undefined();
}

Napi::Value PooledBytes(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(pooledBytes));
}

Napi::Value SetThreads(const Napi::CallbackInfo& info) {
  int64_t n = I(info, 0, "setThreads: n");
  if (n < 1) throw ArgError("setThreads: n must be >= 1");
  omp_set_num_threads(static_cast<int>(n));
  return info.Env().Undefined();
}

Napi::Value GetThreads(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), omp_get_max_threads());
}

}  // namespace

void RegisterMemory(Napi::Env env, Napi::Object exports) {
  NS_EXPORT("alloc", Alloc);
  NS_EXPORT("free", Free);
  NS_EXPORT("liveBytes", LiveBytes);
  NS_EXPORT("trimPool", TrimPool);
  NS_EXPORT("pooledBytes", PooledBytes);
  NS_EXPORT("setThreads", SetThreads);
  NS_EXPORT("getThreads", GetThreads);
}

}  // namespace ns
