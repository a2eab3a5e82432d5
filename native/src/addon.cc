// The addon's entry: the oneDNN engine and stream every family shares, the thread count, and the
// registration of each op family (one source file each, forward and backward side by side):
//   memory.cc       alloc / free of tensor buffers (the buffer pool itself is in TypeScript)
//   conv.cc         convolution (training and prepared-weight inference)
//   dense.cc        the dense (fully connected) layer
//   batchnorm.cc    batch norm fused with its activation
//   pool_resize.cc  2x2 max-pool, 2x upsample fused with the skip concatenation
//   elementwise.cc  activations, add/mul, axpby, fill, sum of squares
//   optim.cc        Adam and SGD updates
#include <omp.h>

#include <cstdio>

#include "common.h"

namespace ns {
dnnl::engine& cpuEngine() {
  static dnnl::engine eng(dnnl::engine::kind::cpu, 0);
  return eng;
}
dnnl::stream& cpuStream() {
  static dnnl::stream s(cpuEngine());
  return s;
}

namespace {

Napi::Value Version(const Napi::CallbackInfo& info) {
  const dnnl_version_t* v = dnnl_version();
  char buf[64];
  snprintf(buf, sizeof buf, "%d.%d.%d", v->major, v->minor, v->patch);
  return Napi::String::New(info.Env(), buf);
}

// setThreads(n): OpenMP threads for oneDNN and the kernels.
Napi::Value SetThreads(const Napi::CallbackInfo& info) {
  ArgReader r(info, "setThreads");
  int64_t n = r.Int("n");
  r.End();
  if (n < 1) throw ArgError("setThreads: n must be >= 1");
  omp_set_num_threads(static_cast<int>(n));
  return info.Env().Undefined();
}

Napi::Value GetThreads(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), omp_get_max_threads());
}

}  // namespace
}  // namespace ns

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  using namespace ns;
  NS_EXPORT("version", Version);
  NS_EXPORT("setThreads", SetThreads);
  NS_EXPORT("getThreads", GetThreads);
  RegisterMemory(env, exports);
  RegisterConv(env, exports);
  RegisterDense(env, exports);
  RegisterBatchNorm(env, exports);
  RegisterPoolResize(env, exports);
  RegisterElementwise(env, exports);
  RegisterOptim(env, exports);
  return exports;
}

NODE_API_MODULE(nerveseg_native, Init)
