// Convolution: forward, backward data and backward weights side by side.
//
// 2-D convolution runs on oneDNN. Activations stay NHWC (the engine's single layout, so no reorders
// between layers); weights arrive as HWIO and are reordered into whatever blocked layout the chosen
// kernel wants (one shared scratch buffer). Primitives and their memory objects are cached by shape
// and thread count; inference can pass weights already in the kernel layout (prepared), with the
// activation fused as a post-op. (The dense layer is dense.cc.)
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

// ---------------------------------------------------------------------------------------------
// Convolution geometry and the oneDNN primitive caches

// A convolution's geometry, in the order TypeScript passes it (ConvGeomArgs in native.ts): batch,
// input HxW, channels in/out, kernel, stride, pad, output HxW.
struct ConvGeom {
  int64_t n, h, w, c, oc, kh, kw, s, p, oh, ow;

  static ConvGeom Read(ArgReader& r) {
    ConvGeom g;
    int64_t* f[] = {&g.n, &g.h, &g.w, &g.c, &g.oc, &g.kh, &g.kw, &g.s, &g.p, &g.oh, &g.ow};
    const char* names[] = {"n", "h", "w", "c", "oc", "kh", "kw", "stride", "pad", "oh", "ow"};
    for (size_t i = 0; i < 11; i++) *f[i] = r.Int(names[i]);
    if (g.s < 1 || g.kh < 1 || g.kw < 1) throw ArgError(r.Where("geometry") + ": bad kernel/stride");
    return g;
  }
  int64_t xSize() const { return n * h * w * c; }
  int64_t ySize() const { return n * oh * ow * oc; }
  int64_t wSize() const { return kh * kw * c * oc; }

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

convolution_forward::desc FwdDesc(const ConvGeom& g, bool bias) {
  if (bias)
    return convolution_forward::desc(prop_kind::forward_training, algorithm::convolution_direct, g.src(), g.wAny(),
                                     g.bias(), g.dst(), g.strides(), g.padL(), g.padR());
  return convolution_forward::desc(prop_kind::forward_training, algorithm::convolution_direct, g.src(), g.wAny(),
                                   g.dst(), g.strides(), g.padL(), g.padR());
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

FwdEntry& GetFwd(const ConvGeom& g, bool bias, int act, float alpha) {
  std::string k = g.key("fwd", act * 2 + (bias ? 1 : 0), alpha);
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
  e->pd = convolution_forward::primitive_desc(FwdDesc(g, bias), attr, eng);
  e->prim = convolution_forward(e->pd);
  e->src = memory(g.src(), eng, nullptr);
  e->dst = memory(g.dst(), eng, nullptr);
  e->wUser = memory(g.wUser(), eng, nullptr);
  if (bias) e->bias = memory(g.bias(), eng, nullptr);
  e->reorderW = e->pd.weights_desc() != g.wUser();
  if (e->reorderW) {
    e->wPrim = memory(e->pd.weights_desc(), eng, nullptr);
    e->wReorder = reorder(e->wUser, e->wPrim);
  } else {
    e->wPrim = e->wUser;
  }
  e->wPrepared = memory(e->pd.weights_desc(), eng, nullptr);
  return *(fwdCache[k] = std::move(e));
}

BwdDataEntry& GetBwdData(const ConvGeom& g) {
  std::string k = g.key("bwdd");
  auto it = bwdDataCache.find(k);
  if (it != bwdDataCache.end()) return *it->second;
  auto& eng = cpuEngine();
  auto hint = convolution_forward::primitive_desc(FwdDesc(g, false), eng);
  auto e = std::make_unique<BwdDataEntry>();
  convolution_backward_data::desc d(algorithm::convolution_direct, g.src(), g.wAny(), g.dst(), g.strides(), g.padL(),
                                    g.padR());
  e->pd = convolution_backward_data::primitive_desc(d, eng, hint);
  e->prim = convolution_backward_data(e->pd);
  e->diffDst = memory(g.dst(), eng, nullptr);
  e->diffSrc = memory(g.src(), eng, nullptr);
  e->wUser = memory(g.wUser(), eng, nullptr);
  e->reorderW = e->pd.weights_desc() != g.wUser();
  if (e->reorderW) {
    e->wPrim = memory(e->pd.weights_desc(), eng, nullptr);
    e->wReorder = reorder(e->wUser, e->wPrim);
  } else {
    e->wPrim = e->wUser;
  }
  return *(bwdDataCache[k] = std::move(e));
}

BwdWEntry& GetBwdW(const ConvGeom& g, bool bias) {
  std::string k = g.key("bwdw", bias ? 1 : 0);
  auto it = bwdWCache.find(k);
  if (it != bwdWCache.end()) return *it->second;
  auto& eng = cpuEngine();
  auto hint = convolution_forward::primitive_desc(FwdDesc(g, bias), eng);
  auto e = std::make_unique<BwdWEntry>();
  if (bias) {
    convolution_backward_weights::desc d(algorithm::convolution_direct, g.src(), g.wAny(), g.bias(), g.dst(),
                                         g.strides(), g.padL(), g.padR());
    e->pd = convolution_backward_weights::primitive_desc(d, eng, hint);
  } else {
    convolution_backward_weights::desc d(algorithm::convolution_direct, g.src(), g.wAny(), g.dst(), g.strides(),
                                         g.padL(), g.padR());
    e->pd = convolution_backward_weights::primitive_desc(d, eng, hint);
  }
  e->prim = convolution_backward_weights(e->pd);
  e->src = memory(g.src(), eng, nullptr);
  e->diffDst = memory(g.dst(), eng, nullptr);
  e->dwUser = memory(g.wUser(), eng, nullptr);
  if (bias) e->diffBias = memory(g.bias(), eng, nullptr);
  e->reorderW = e->pd.diff_weights_desc() != g.wUser();
  if (e->reorderW) {
    e->dwPrim = memory(e->pd.diff_weights_desc(), eng, nullptr);
    e->wReorder = reorder(e->dwPrim, e->dwUser);
  } else {
    e->dwPrim = e->dwUser;
  }
  return *(bwdWCache[k] = std::move(e));
}

void* Handle(const float* p) { return const_cast<float*>(p); }

// ---------------------------------------------------------------------------------------------
// Convolution kernels

// Floats of this forward kernel's weights in its own (blocked) layout.
int64_t ConvPreparedFloats(const ConvGeom& g, bool bias, int act, float alpha) {
  return static_cast<int64_t>(GetFwd(g, bias, act, alpha).pd.weights_desc().get_size() / sizeof(float));
}

// HWIO weights -> the forward kernel's layout (what inference caches).
void ConvPrepareWeights(const float* w, float* out, const ConvGeom& g, bool bias, int act, float alpha) {
  FwdEntry& e = GetFwd(g, bias, act, alpha);
  auto& st = cpuStream();
  memory src(g.wUser(), cpuEngine(), Handle(w));
  memory dst(e.pd.weights_desc(), cpuEngine(), out);
  reorder(src, dst).execute(st, src, dst);
  st.wait();
}

// y = act(conv(x, w) + b). w is HWIO, or already in the kernel's layout when `prepared`.
void ConvForward(const float* x, const float* w, const float* b, float* y, const ConvGeom& g, int act, float alpha,
                 bool prepared) {
  FwdEntry& e = GetFwd(g, b != nullptr, act, alpha);
  auto& st = cpuStream();
  e.src.set_data_handle(Handle(x));
  e.dst.set_data_handle(y);
  memory wArg = e.wPrim;
  if (prepared) {
    e.wPrepared.set_data_handle(Handle(w));
    wArg = e.wPrepared;
  } else {
    e.wUser.set_data_handle(Handle(w));
    if (e.reorderW) {
      e.wPrim.set_data_handle(WeightScratch(e.pd.weights_desc().get_size()));
      e.wReorder.execute(st, e.wUser, e.wPrim);
    }
  }
  std::unordered_map<int, memory> args{{DNNL_ARG_SRC, e.src}, {DNNL_ARG_WEIGHTS, wArg}, {DNNL_ARG_DST, e.dst}};
  if (b) {
    e.bias.set_data_handle(Handle(b));
    args[DNNL_ARG_BIAS] = e.bias;
  }
  e.prim.execute(st, args);
  st.wait();
}

// dx = dL/dx from dy = dL/dy.
void ConvBackwardData(const float* dy, const float* w, float* dx, const ConvGeom& g) {
  BwdDataEntry& e = GetBwdData(g);
  auto& st = cpuStream();
  e.diffDst.set_data_handle(Handle(dy));
  e.diffSrc.set_data_handle(dx);
  e.wUser.set_data_handle(Handle(w));
  if (e.reorderW) {
    e.wPrim.set_data_handle(WeightScratch(e.pd.weights_desc().get_size()));
    e.wReorder.execute(st, e.wUser, e.wPrim);
  }
  e.prim.execute(st, {{DNNL_ARG_DIFF_DST, e.diffDst}, {DNNL_ARG_WEIGHTS, e.wPrim}, {DNNL_ARG_DIFF_SRC, e.diffSrc}});
  st.wait();
}

// dw (HWIO) and, when db is given, the bias gradient.
void ConvBackwardWeights(const float* x, const float* dy, float* dw, float* db, const ConvGeom& g) {
  BwdWEntry& e = GetBwdW(g, db != nullptr);
  auto& st = cpuStream();
  e.src.set_data_handle(Handle(x));
  e.diffDst.set_data_handle(Handle(dy));
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
}

// ---------------------------------------------------------------------------------------------
// Entry points: arguments in field order (see the signatures in src/engine/native.ts)

// The forward kernel a set of weights is prepared for: bias or not, geometry, fused activation.
struct FwdKernelArgs {
  bool hasBias;
  ConvGeom g;
  int act;
  float alpha;
  static FwdKernelArgs Read(ArgReader& r) {
    FwdKernelArgs a;
    a.hasBias = r.Flag("hasBias");
    a.g = ConvGeom::Read(r);
    a.act = static_cast<int>(r.Int("act"));
    a.alpha = static_cast<float>(r.Number("alpha"));
    return a;
  }
};

// convForward(x, w, b|null, y, ...geom, act, alpha, wPrepared)
struct ConvForwardArgs {
  const float *x, *w, *b;
  float* y;
  ConvGeom g;
  int act;
  float alpha;
  bool prepared;
  static ConvForwardArgs From(const Napi::CallbackInfo& info) {
    ArgReader r(info, "convForward");
    F32Arg x = r.F32("x"), w = r.F32("w"), b = r.F32Opt("b"), y = r.F32("y");
    ConvForwardArgs a;
    a.g = ConvGeom::Read(r);
    a.act = static_cast<int>(r.Int("act"));
    a.alpha = static_cast<float>(r.Number("alpha"));
    a.prepared = r.Flag("wPrepared");
    r.End();
    a.x = x.Need(a.g.xSize());
    a.b = b.NeedIfPresent(a.g.oc);
    // Prepared weights are in the kernel's layout, whose size only the primitive knows.
    a.w = w.Need(a.prepared ? ConvPreparedFloats(a.g, b.present, a.act, a.alpha) : a.g.wSize());
    a.y = y.Need(a.g.ySize());
    return a;
  }
};

Napi::Value ConvForwardEntry(const Napi::CallbackInfo& info) {
  ConvForwardArgs a = ConvForwardArgs::From(info);
  ConvForward(a.x, a.w, a.b, a.y, a.g, a.act, a.alpha, a.prepared);
  return info.Env().Undefined();
}

// convPreparedSize(hasBias, ...geom, act, alpha) -> floats of the kernel-layout weights
Napi::Value ConvPreparedSizeEntry(const Napi::CallbackInfo& info) {
  ArgReader r(info, "convPreparedSize");
  FwdKernelArgs a = FwdKernelArgs::Read(r);
  r.End();
  return Napi::Number::New(info.Env(), static_cast<double>(ConvPreparedFloats(a.g, a.hasBias, a.act, a.alpha)));
}

// convPrepareWeights(w, out, hasBias, ...geom, act, alpha)
struct ConvPrepareArgs {
  const float* w;
  float* out;
  FwdKernelArgs k;
  static ConvPrepareArgs From(const Napi::CallbackInfo& info) {
    ArgReader r(info, "convPrepareWeights");
    F32Arg w = r.F32("w"), out = r.F32("out");
    ConvPrepareArgs a;
    a.k = FwdKernelArgs::Read(r);
    r.End();
    a.w = w.Need(a.k.g.wSize());
    a.out = out.Need(ConvPreparedFloats(a.k.g, a.k.hasBias, a.k.act, a.k.alpha));
    return a;
  }
};

Napi::Value ConvPrepareWeightsEntry(const Napi::CallbackInfo& info) {
  ConvPrepareArgs a = ConvPrepareArgs::From(info);
  ConvPrepareWeights(a.w, a.out, a.k.g, a.k.hasBias, a.k.act, a.k.alpha);
  return info.Env().Undefined();
}

// convBackwardData(dy, w, dx, ...geom)
struct ConvBackwardDataArgs {
  const float *dy, *w;
  float* dx;
  ConvGeom g;
  static ConvBackwardDataArgs From(const Napi::CallbackInfo& info) {
    ArgReader r(info, "convBackwardData");
    F32Arg dy = r.F32("dy"), w = r.F32("w"), dx = r.F32("dx");
    ConvBackwardDataArgs a;
    a.g = ConvGeom::Read(r);
    r.End();
    a.dy = dy.Need(a.g.ySize());
    a.w = w.Need(a.g.wSize());
    a.dx = dx.Need(a.g.xSize());
    return a;
  }
};

Napi::Value ConvBackwardDataEntry(const Napi::CallbackInfo& info) {
  ConvBackwardDataArgs a = ConvBackwardDataArgs::From(info);
  ConvBackwardData(a.dy, a.w, a.dx, a.g);
  return info.Env().Undefined();
}

// convBackwardWeights(x, dy, dw, db|null, ...geom)
struct ConvBackwardWeightsArgs {
  const float *x, *dy;
  float *dw, *db;
  ConvGeom g;
  static ConvBackwardWeightsArgs From(const Napi::CallbackInfo& info) {
    ArgReader r(info, "convBackwardWeights");
    F32Arg x = r.F32("x"), dy = r.F32("dy"), dw = r.F32("dw"), db = r.F32Opt("db");
    ConvBackwardWeightsArgs a;
    a.g = ConvGeom::Read(r);
    r.End();
    a.x = x.Need(a.g.xSize());
    a.dy = dy.Need(a.g.ySize());
    a.dw = dw.Need(a.g.wSize());
    a.db = db.NeedIfPresent(a.g.oc);
    return a;
  }
};

Napi::Value ConvBackwardWeightsEntry(const Napi::CallbackInfo& info) {
  ConvBackwardWeightsArgs a = ConvBackwardWeightsArgs::From(info);
  ConvBackwardWeights(a.x, a.dy, a.dw, a.db, a.g);
  return info.Env().Undefined();
}

}  // namespace

void RegisterConv(Napi::Env env, Napi::Object exports) {
  NS_EXPORT("convForward", ConvForwardEntry);
  NS_EXPORT("convBackwardData", ConvBackwardDataEntry);
  NS_EXPORT("convBackwardWeights", ConvBackwardWeightsEntry);
  NS_EXPORT("convPreparedSize", ConvPreparedSizeEntry);
  NS_EXPORT("convPrepareWeights", ConvPrepareWeightsEntry);
}

}  // namespace ns
