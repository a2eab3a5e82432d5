#include <malloc.h>
#include <cstdlib>
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
}  // namespace ns

static Napi::Value Version(const Napi::CallbackInfo& info) {
  const dnnl_version_t* v = dnnl_version();
  char buf[64];
  snprintf(buf, sizeof buf, "%d.%d.%d", v->major, v->minor, v->patch);
  return Napi::String::New(info.Env(), buf);
}

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  // Tensor buffers are large and short-lived. glibc keeps freed heap blocks below its (adaptive) mmap
  // threshold, so a training run's RSS crept up epoch after epoch; serving every block of 1 MiB or
  // more by mmap returns it to the system on free. The user's MALLOC_MMAP_THRESHOLD_ still wins.
  if (getenv("MALLOC_MMAP_THRESHOLD_") == nullptr) mallopt(M_MMAP_THRESHOLD, 1 << 20);
  exports.Set("version", Napi::Function::New(env, Version));
  ns::RegisterMemory(env, exports);
  ns::RegisterConv(env, exports);
  ns::RegisterKernels(env, exports);
  return exports;
}

NODE_API_MODULE(nerveseg_native, Init)
