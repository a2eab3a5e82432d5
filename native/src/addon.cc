// The addon's entry: the oneDNN engine and stream every family shares, the thread count, the
// convolutions' compute precision (fp32, or bf16 where the CPU has it), and the
// registration of each op family (one source file each, forward and backward side by side):
//   memory.cc       alloc / free of tensor buffers (the buffer pool itself is in TypeScript)
//   conv.cc         convolution (training and prepared-weight inference); its primitives and
//                   their caches in conv_primitives.cc, shared pieces in conv.h
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
int precision = PREC_FP32;
}  // namespace

int ComputePrecision() { return precision; }

bool Bf16Supported() {
  auto isa = static_cast<unsigned>(dnnl::get_effective_cpu_isa());
  auto bf16 = static_cast<unsigned>(dnnl::cpu_isa::avx512_core_bf16);
  return (isa & bf16) == bf16;
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

// setPrecision(code): 0 fp32, 1 bf16 (convolutions built from now on; the default is fp32).
Napi::Value SetPrecision(const Napi::CallbackInfo& info) {
  ArgReader r(info, "setPrecision");
  int64_t p = r.Int("precision");
  r.End();
  if (p != PREC_FP32 && p != PREC_BF16) throw ArgError("setPrecision: expected 0 (fp32) or 1 (bf16)");
  if (p == PREC_BF16 && !Bf16Supported())
    throw ArgError("setPrecision: bf16 is not supported on this CPU (needs AVX512-BF16)");
  precision = static_cast<int>(p);
  return info.Env().Undefined();
}

Napi::Value GetPrecision(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), precision); }

Napi::Value Bf16SupportedEntry(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), Bf16Supported());
}

}  // namespace
}  // namespace ns

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  using namespace ns;
  NS_EXPORT("version", Version);
  NS_EXPORT("setThreads", SetThreads);
  NS_EXPORT("getThreads", GetThreads);
  NS_EXPORT("setPrecision", SetPrecision);
  NS_EXPORT("getPrecision", GetPrecision);
  NS_EXPORT("bf16Supported", Bf16SupportedEntry);
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
