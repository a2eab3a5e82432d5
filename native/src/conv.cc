// 2-D convolution on oneDNN. Activations stay NHWC (the engine's single layout, so no reorders
// between layers); weights arrive as HWIO and are reordered into whatever blocked layout the
// chosen kernel wants (one shared scratch buffer). Primitives and their memory objects are cached by
// shape and thread count; inference can pass weights already in the kernel layout (prepared).
#include <omp.h>

#include <cstdlib>
#include <memory>
#include <unordered_map>

#include "common.h"

namespace ns {
namespace {

using namespace dnnl;
using tag = memory::format_tag;
using dt = memory::data_type;

struct Shape {
  int64_t n, h, w, c, oc, kh, kw, s, p, oh, ow;
  std::string key(const char* kind, int extra1 = 0, float extra2 = 0) const {
    // The thread count is part of the key: oneDNN fixes a kernel's thread split when it is created.
    char buf[256];
    snprintf(buf, sizeof buf, "%s:%ld,%ld,%ld,%ld,%ld,%ld,%ld,%ld,%ld,%ld,%ld|%d|%g|t%d", kind, n, h, w, c, oc, kh, kw,
             s, p, oh, ow, extra1, extra2, omp_get_max_threads());
    return buf;
  }
  memory::desc src() const { return {{n, c, h, w}, dt::f32, tag::nhwc}; }
  memory::desc dst() const { return {{n, oc, oh, ow}, dt::f32, tag::nhwc}; }
  memory::desc wUser() const { return {{oc, c, kh, kw}, dt::f32, tag::hwio}; }
  memory::desc wAny() const { return {{oc, c, kh, kw}, dt::f32, tag::any}; }
  memory::desc bias() const { return {{oc}, dt::f32, tag::x}; }
  memory::dims strides() const { return {s, s}; }
  memory::dims padL() const { return {p, p}; }
  memory::dims padR() const {
    // oneDNN wants explicit right padding so that (h + pl + pr - kh) / s + 1 == oh.
    return {(oh - 1) * s + kh - h - p, (ow - 1) * s + kw - w - p};
  }
};

Shape ReadShape(const Napi::CallbackInfo& info, size_t at) {
  Shape s;
  int64_t* f[] = {&s.n, &s.h, &s.w, &s.c, &s.oc, &s.kh, &s.kw, &s.s, &s.p, &s.oh, &s.ow};
  for (size_t i = 0; i < 11; i++) *f[i] = I(info, at + i, "conv shape");
  if (s.s < 1 || s.kh < 1 || s.kw < 1) throw ArgError("conv: bad kernel/stride");
  return s;
}

convolution_forward::desc FwdDesc(const Shape& s, bool bias) {
  if (bias)
    return convolution_forward::desc(prop_kind::forward_training, algorithm::convolution_direct, s.src(), s.wAny(),
                                     s.bias(), s.dst(), s.strides(), s.padL(), s.padR());
  return convolution_forward::desc(prop_kind::forward_training, algorithm::convolution_direct, s.src(), s.wAny(),
                                   s.dst(), s.strides(), s.padL(), s.padR());
}

struct FwdEntry {
  convolution_forward::primitive_desc pd;
  convolution_forward prim;
  memory src, wUser, wPrim, wPrepared, bias, dst;
  bool reorderW = false;
  reorder wReorder;
};

struct BwdDataEntry {
  convolution_backward_data::primitive_desc pd;
  convolution_backward_data prim;
  memory diffDst, wUser, wPrim, diffSrc;
  bool reorderW = false;
  reorder wReorder;
};

struct BwdWEntry {
  convolution_backward_weights::primitive_desc pd;
  convolution_backward_weights prim;
  memory src, diffDst, dwPrim, dwUser, diffBias;
  bool reorderW = false;
  reorder wReorder;
};

// One scratch buffer for reordered weights, shared by all cached primitives (calls never
// overlap: the addon is driven by one JS thread), so the caches stay small however many
// shapes are seen.
float* WeightScratch(size_t bytes) {
  static float* buf = nullptr;
  static size_t cap = 0;
  if (bytes > cap) {
    std::free(buf);
    cap = ((bytes + 4095) / 4096) * 4096;
    buf = static_cast<float*>(std::aligned_alloc(64, cap));
    if (!buf) throw std::runtime_error("out of memory for weight scratch");
  }
  return buf;
}

std::unordered_map<std::string, std::unique_ptr<FwdEntry>> fwdCache;
std::unordered_map<std::string, std::unique_ptr<BwdDataEntry>> bwdDataCache;
std::unordered_map<std::string, std::unique_ptr<BwdWEntry>> bwdWCache;

algorithm ActAlg(int act) {
  switch (act) {
    case ACT_ELU: return algorithm::eltwise_elu;
    case ACT_RELU: return algorithm::eltwise_relu;
    case ACT_SIGMOID: return algorithm::eltwise_logistic;
    default: throw ArgError("conv: unknown activation");
  }
}

FwdEntry& GetFwd(const Shape& s, bool bias, int act, float alpha) {
  std::string k = s.key("fwd", act * 2 + (bias ? 1 : 0), alpha);
  auto it = fwdCache.find(k);
  if (it != fwdCache.end()) return *it->second;
  auto& eng = cpuEngine();
  primitive_attr attr;
  if (act != ACT_NONE) {
    post_ops po;
    po.append_eltwise(1.f, ActAlg(act), act == ACT_ELU ? alpha : 0.f, 0.f);
    attr.set_post_ops(po);
  }
  auto e = std::make_unique<FwdEntry>();
  e->pd = convolution_forward::primitive_desc(FwdDesc(s, bias), attr, eng);
  e->prim = convolution_forward(e->pd);
  e->src = memory(s.src(), eng, nullptr);
  e->dst = memory(s.dst(), eng, nullptr);
  e->wUser = memory(s.wUser(), eng, nullptr);
  if (bias) e->bias = memory(s.bias(), eng, nullptr);
  e->reorderW = e->pd.weights_desc() != s.wUser();
  if (e->reorderW) {
    e->wPrim = memory(e->pd.weights_desc(), eng, nullptr);
    e->wReorder = reorder(e->wUser, e->wPrim);
  } else {
    e->wPrim = e->wUser;
  }
  e->wPrepared = memory(e->pd.weights_desc(), eng, nullptr);
  return *(fwdCache[k] = std::move(e));
}

// convForward(x, w, b|null, y, n,h,w,c,oc,kh,kw,s,p,oh,ow, act, alpha, wPrepared)
// wPrepared: w is already in the kernel's own layout (from convPrepareWeights), as inference
// caches it, so no per-call weight reorder.
Napi::Value ConvForward(const Napi::CallbackInfo& info) {
  Shape s = ReadShape(info, 4);
  int act = static_cast<int>(I(info, 15, "act"));
  float alpha = static_cast<float>(D(info, 16, "alpha"));
  bool prepared = B(info, 17);
  float* b = F32opt(info, 2, s.oc, "conv b");
  FwdEntry& e = GetFwd(s, b != nullptr, act, alpha);
  int64_t wNeed = prepared ? static_cast<int64_t>(e.pd.weights_desc().get_size() / sizeof(float)) : s.kh * s.kw * s.c * s.oc;
  float* x = F32(info, 0, s.n * s.h * s.w * s.c, "conv x");
  float* w = F32(info, 1, wNeed, "conv w");
  float* y = F32(info, 3, s.n * s.oh * s.ow * s.oc, "conv y");
  auto& st = cpuStream();
  e.src.set_data_handle(x);
  e.dst.set_data_handle(y);
  memory wArg = e.wPrim;
  if (prepared) {
    e.wPrepared.set_data_handle(w);
    wArg = e.wPrepared;
  } else {
    e.wUser.set_data_handle(w);
    if (e.reorderW) {
      e.wPrim.set_data_handle(WeightScratch(e.pd.weights_desc().get_size()));
      e.wReorder.execute(st, e.wUser, e.wPrim);
    }
  }
  std::unordered_map<int, memory> args{{DNNL_ARG_SRC, e.src}, {DNNL_ARG_WEIGHTS, wArg}, {DNNL_ARG_DST, e.dst}};
  if (b) {
    e.bias.set_data_handle(b);
    args[DNNL_ARG_BIAS] = e.bias;
  }
  e.prim.execute(st, args);
  st.wait();
  return info.Env().Undefined();
}

// convPreparedSize(hasBias, n,h,w,c,oc,kh,kw,s,p,oh,ow, act, alpha) -> floats in the kernel's weight layout
Napi::Value ConvPreparedSize(const Napi::CallbackInfo& info) {
  bool bias = B(info, 0);
  Shape s = ReadShape(info, 1);
  FwdEntry& e = GetFwd(s, bias, static_cast<int>(I(info, 12, "act")), static_cast<float>(D(info, 13, "alpha")));
  return Napi::Number::New(info.Env(), static_cast<double>(e.pd.weights_desc().get_size() / sizeof(float)));
}

// convPrepareWeights(w, out, hasBias, n,h,w,c,oc,kh,kw,s,p,oh,ow, act, alpha): HWIO -> kernel layout
Napi::Value ConvPrepareWeights(const Napi::CallbackInfo& info) {
  bool bias = B(info, 2);
  Shape s = ReadShape(info, 3);
  FwdEntry& e = GetFwd(s, bias, static_cast<int>(I(info, 14, "act")), static_cast<float>(D(info, 15, "alpha")));
  int64_t need = static_cast<int64_t>(e.pd.weights_desc().get_size() / sizeof(float));
  float* w = F32(info, 0, s.kh * s.kw * s.c * s.oc, "conv w");
  float* out = F32(info, 1, need, "prepared w");
  auto& st = cpuStream();
  memory src(s.wUser(), cpuEngine(), w);
  memory dst(e.pd.weights_desc(), cpuEngine(), out);
  reorder(src, dst).execute(st, src, dst);
  st.wait();
  return info.Env().Undefined();
}

BwdDataEntry& GetBwdData(const Shape& s) {
  std::string k = s.key("bwdd");
  auto it = bwdDataCache.find(k);
  if (it != bwdDataCache.end()) return *it->second;
  auto& eng = cpuEngine();
  auto hint = convolution_forward::primitive_desc(FwdDesc(s, false), eng);
  auto e = std::make_unique<BwdDataEntry>();
  convolution_backward_data::desc d(algorithm::convolution_direct, s.src(), s.wAny(), s.dst(), s.strides(), s.padL(),
                                    s.padR());
  e->pd = convolution_backward_data::primitive_desc(d, eng, hint);
  e->prim = convolution_backward_data(e->pd);
  e->diffDst = memory(s.dst(), eng, nullptr);
  e->diffSrc = memory(s.src(), eng, nullptr);
  e->wUser = memory(s.wUser(), eng, nullptr);
  e->reorderW = e->pd.weights_desc() != s.wUser();
  if (e->reorderW) {
    e->wPrim = memory(e->pd.weights_desc(), eng, nullptr);
    e->wReorder = reorder(e->wUser, e->wPrim);
  } else {
    e->wPrim = e->wUser;
  }
  return *(bwdDataCache[k] = std::move(e));
}

// convBackwardData(dy, w, dx, n,h,w,c,oc,kh,kw,s,p,oh,ow)
Napi::Value ConvBackwardData(const Napi::CallbackInfo& info) {
  Shape s = ReadShape(info, 3);
  float* dy = F32(info, 0, s.n * s.oh * s.ow * s.oc, "conv dy");
  float* w = F32(info, 1, s.kh * s.kw * s.c * s.oc, "conv w");
  float* dx = F32(info, 2, s.n * s.h * s.w * s.c, "conv dx");
  BwdDataEntry& e = GetBwdData(s);
  auto& st = cpuStream();
  e.diffDst.set_data_handle(dy);
  e.diffSrc.set_data_handle(dx);
  e.wUser.set_data_handle(w);
  if (e.reorderW) {
    e.wPrim.set_data_handle(WeightScratch(e.pd.weights_desc().get_size()));
    e.wReorder.execute(st, e.wUser, e.wPrim);
  }
  e.prim.execute(st, {{DNNL_ARG_DIFF_DST, e.diffDst}, {DNNL_ARG_WEIGHTS, e.wPrim}, {DNNL_ARG_DIFF_SRC, e.diffSrc}});
  st.wait();
  return info.Env().Undefined();
}

BwdWEntry& GetBwdW(const Shape& s, bool bias) {
  std::string k = s.key("bwdw", bias ? 1 : 0);
  auto it = bwdWCache.find(k);
  if (it != bwdWCache.end()) return *it->second;
  auto& eng = cpuEngine();
  auto hint = convolution_forward::primitive_desc(FwdDesc(s, bias), eng);
  auto e = std::make_unique<BwdWEntry>();
  if (bias) {
    convolution_backward_weights::desc d(algorithm::convolution_direct, s.src(), s.wAny(), s.bias(), s.dst(),
                                         s.strides(), s.padL(), s.padR());
    e->pd = convolution_backward_weights::primitive_desc(d, eng, hint);
  } else {
    convolution_backward_weights::desc d(algorithm::convolution_direct, s.src(), s.wAny(), s.dst(), s.strides(),
                                         s.padL(), s.padR());
    e->pd = convolution_backward_weights::primitive_desc(d, eng, hint);
  }
  e->prim = convolution_backward_weights(e->pd);
  e->src = memory(s.src(), eng, nullptr);
  e->diffDst = memory(s.dst(), eng, nullptr);
  e->dwUser = memory(s.wUser(), eng, nullptr);
  if (bias) e->diffBias = memory(s.bias(), eng, nullptr);
  e->reorderW = e->pd.diff_weights_desc() != s.wUser();
  if (e->reorderW) {
    e->dwPrim = memory(e->pd.diff_weights_desc(), eng, nullptr);
    e->wReorder = reorder(e->dwPrim, e->dwUser);
  } else {
    e->dwPrim = e->dwUser;
  }
  return *(bwdWCache[k] = std::move(e));
}

// convBackwardWeights(x, dy, dw, db|null, n,h,w,c,oc,kh,kw,s,p,oh,ow)
Napi::Value ConvBackwardWeights(const Napi::CallbackInfo& info) {
  Shape s = ReadShape(info, 4);
  float* x = F32(info, 0, s.n * s.h * s.w * s.c, "conv x");
  float* dy = F32(info, 1, s.n * s.oh * s.ow * s.oc, "conv dy");
  float* dw = F32(info, 2, s.kh * s.kw * s.c * s.oc, "conv dw");
  float* db = F32opt(info, 3, s.oc, "conv db");
  BwdWEntry& e = GetBwdW(s, db != nullptr);
  auto& st = cpuStream();
  e.src.set_data_handle(x);
  e.diffDst.set_data_handle(dy);
  e.dwUser.set_data_handle(dw);
  if (e.reorderW) e.dwPrim.set_data_handle(WeightScratch(e.pd.diff_weights_desc().get_size()));
  std::unordered_map<int, memory> args{
      {DNNL_ARG_SRC, e.src}, {DNNL_ARG_DIFF_DST, e.diffDst}, {DNNL_ARG_DIFF_WEIGHTS, e.dwPrim}};
  if (db) {
    e.diffBias.set_data_handle(db);
    args[DNNL_ARG_DIFF_BIAS] = e.diffBias;
  }
  e.prim.execute(st, args);
  if (e.reorderW) e.wReorder.execute(st, e.dwPrim, e.dwUser);
  st.wait();
  return info.Env().Undefined();
}

// convImpl(kind, shape...) -> the oneDNN implementation name, for the bench and debugging.
Napi::Value ConvImpl(const Napi::CallbackInfo& info) {
  int64_t kind = I(info, 0, "kind");
  Shape s = ReadShape(info, 1);
  const char* name = kind == 0   ? GetFwd(s, true, ACT_NONE, 1.f).pd.impl_info_str()
                     : kind == 1 ? GetBwdData(s).pd.impl_info_str()
                                 : GetBwdW(s, true).pd.impl_info_str();
  return Napi::String::New(info.Env(), name);
}

}  // namespace

void RegisterConv(Napi::Env env, Napi::Object exports) {
  NS_EXPORT("convForward", ConvForward);
  NS_EXPORT("convBackwardData", ConvBackwardData);
  NS_EXPORT("convBackwardWeights", ConvBackwardWeights);
  NS_EXPORT("convImpl", ConvImpl);
  NS_EXPORT("convPreparedSize", ConvPreparedSize);
  NS_EXPORT("convPrepareWeights", ConvPrepareWeights);
}

}  // namespace ns
