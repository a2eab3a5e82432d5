// The addon's entry: the oneDNN engine and stream every family shares, the thread count, whether the
// CPU has bf16, and the registration of every entry point (declared with NS_ENTRY in the source file
// of its op family, forward and backward side by side):
//   memory.cc       alloc / free of tensor buffers (the buffer pool itself is in TypeScript)
//   conv.cc         convolution (training and prepared-weight inference); its primitives and
//                   their caches in conv_primitives.cc, shared pieces in conv.h
//   dense.cc        the dense (fully connected) layer
//   batchnorm.cc    batch norm fused with its activation
//   pool_resize.cc  2x2 max-pool, 2x upsample fused with the skip concatenation
//   elementwise.cc  activations, add/mul, axpby, fill, sum of squares
//   optim.cc        Adam and SGD updates
// How an entry point's arguments are declared and read: entry.h (reading: entry.cc).
#include <omp.h>

#include <cstdio>

#include "entry.h"

namespace ns {
dnnl::engine& cpuEngine() {
  static dnnl::engine eng(dnnl::engine::kind::cpu, 0);
  return eng;
}
dnnl::stream& cpuStream() {
  static dnnl::stream s(cpuEngine());
  return s;
}

bool Bf16Supported() {
  static const bool supported = [] {
    auto isa = static_cast<unsigned>(dnnl::get_effective_cpu_isa());
    auto bf16 = static_cast<unsigned>(dnnl::cpu_isa::avx512_core_bf16);
    return (isa & bf16) == bf16;
  }();
  return supported;
}

namespace {

// ---------------------------------------------------------------------------------------------
// Entry points

NS_ENTRY(version, Positional, String, NS_NO_FIELDS) {
  const dnnl_version_t* v = dnnl_version();
  char buf[64];
  snprintf(buf, sizeof buf, "%d.%d.%d", v->major, v->minor, v->patch);
  return buf;
}

// setThreads(n): OpenMP threads for oneDNN and the kernels.
#define SET_THREADS(X) X(Size, n)
NS_ENTRY(setThreads, Positional, Void, SET_THREADS) {
  if (a.n < 1) throw ArgError("setThreads: n must be >= 1");
  omp_set_num_threads(static_cast<int>(a.n));
}

NS_ENTRY(getThreads, Positional, Number, NS_NO_FIELDS) { return omp_get_max_threads(); }

NS_ENTRY(bf16Supported, Positional, Boolean, NS_NO_FIELDS) { return Bf16Supported(); }

}  // namespace
}  // namespace ns

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  for (const ns::EntrySpec& e : ns::Registry()) exports.Set(e.name, Napi::Function::New(env, e.call, e.name));
  return exports;
}

NODE_API_MODULE(nerveseg_native, Init)
