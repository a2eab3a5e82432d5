// Convolution: forward, backward data and backward weights side by side.
//
// 2-D convolution runs on oneDNN. Activations stay NHWC (the engine's single layout, so no reorders
// between layers); weights arrive as HWIO and are reordered into whatever blocked layout the chosen
// kernel wants (shared scratch buffers). Primitives and their memory objects are cached by shape,
// thread count and precision (conv_primitives.cc); inference can pass weights already in the kernel
// layout (prepared), with the activation fused as a post-op. In bf16 (setPrecision) the kernels read
// bf16 copies of their inputs and write fp32, or packed bf16 where the call asks (conv.h). (The dense
// layer is dense.cc.)
#include <unordered_map>

#include "conv.h"

namespace ns {
namespace {

using namespace conv;

// ---------------------------------------------------------------------------------------------
// Convolution kernels

// Floats of this forward kernel's weights in its own (blocked, maybe bf16) layout, rounded up. The
// kernel writing bf16 (yBf16) may want another layout than the one writing fp32.
int64_t ConvPreparedFloats(const ConvGeom& g, bool bias, int act, float alpha, bool yBf16) {
  size_t bytes = GetFwd(g, bias, act, alpha, yBf16).pd.weights_desc().get_size();
  return static_cast<int64_t>((bytes + sizeof(float) - 1) / sizeof(float));
}

// HWIO weights -> the forward kernel's layout (what inference caches).
void ConvPrepareWeights(const float* w, float* out, const ConvGeom& g, bool bias, int act, float alpha,
                        bool yBf16) {
  FwdEntry& e = GetFwd(g, bias, act, alpha, yBf16);
  auto& st = cpuStream();
  memory src(g.wUser(), cpuEngine(), Handle(w));
  memory dst(e.pd.weights_desc(), cpuEngine(), out);
  reorder(src, dst).execute(st, src, dst);
  st.wait();
}

// Runs f(first image, chunk geometry) over the chunks of g's batch (conv.h); false, running nothing,
// when the batch is one chunk.
template <class F>
bool ForChunks(const ConvGeom& g, F f) {
  if (!Chunked(g)) return false;
  const int64_t k = ChunkCount(g, g.n);
  for (int64_t i = 0; i < k; i++) {
    ConvGeom cg = g;
    const int64_t start = ChunkStart(g.n, k, i);
    cg.n = ChunkStart(g.n, k, i + 1) - start;
    f(start, cg);
  }
  return true;
}

// w into slot W for operand `op`. `done` (the chunks of one call): the layout whose copy of w slot W
// already holds (empty: none yet), so that later chunks do not convert the same weights again.
memory WeightsIn(Operand& op, const float* w, memory::desc* done) {
  if (done && op.reorderIt && *done == op.prim.get_desc()) return op.Reuse(w, SLOT_W);
  memory m = op.In(w, SLOT_W);
  if (done) *done = op.prim.get_desc();
  return m;
}

// y = act(conv(x, w) + b). w is HWIO, or already in the kernel's layout when `prepared`; y is fp32,
// or packed bf16 when `yBf16`; x is fp32, or packed bf16 when `xBf16`. `wDone`: see WeightsIn.
void ConvForward(const void* x, const float* w, const float* b, void* y, const ConvGeom& g, int act, float alpha,
                 bool prepared, bool xBf16, bool yBf16, memory::desc* wDone = nullptr) {
  const int64_t xImgBytes = g.h * g.w * g.c * (xBf16 ? 2 : 4), yImgBytes = g.oh * g.ow * g.oc * (yBf16 ? 2 : 4);
  memory::desc converted;
  if (!prepared && ForChunks(g, [&](int64_t s, const ConvGeom& cg) {
        ConvForward(static_cast<const char*>(x) + s * xImgBytes, w, b, static_cast<char*>(y) + s * yImgBytes, cg,
                    act, alpha, false, xBf16, yBf16, &converted);
      }))
    return;
  FwdEntry& e = GetFwd(g, b != nullptr, act, alpha, yBf16, xBf16);
  auto& st = cpuStream();
  memory wArg = e.wPrepared;
  if (prepared)
    e.wPrepared.set_data_handle(Handle(w));
  else
    wArg = WeightsIn(e.w, w, wDone);
  std::unordered_map<int, memory> args{
      {DNNL_ARG_SRC, e.src.In(x, SLOT_A)}, {DNNL_ARG_WEIGHTS, wArg}, {DNNL_ARG_DST, e.dst.Out(y, SLOT_B)}};
  if (b) {
    e.bias.set_data_handle(Handle(b));
    args[DNNL_ARG_BIAS] = e.bias;
  }
  e.prim.execute(st, args);
  e.dst.Finish();
  st.wait();
}

// dx = dL/dx from dy = dL/dy (packed bf16 when `dyBf16`). Converts dy into slot B where the kernel
// reads another format (ConvBackward reuses that copy for the weights). `wDone`: see WeightsIn.
void ConvBackwardData(const void* dy, const float* w, float* dx, const ConvGeom& g, bool dyBf16,
                      memory::desc* wDone = nullptr) {
  const int64_t xImg = g.h * g.w * g.c, yImgBytes = g.oh * g.ow * g.oc * (dyBf16 ? 2 : 4);
  memory::desc converted;
  if (ForChunks(g, [&](int64_t s, const ConvGeom& cg) {
        ConvBackwardData(static_cast<const char*>(dy) + s * yImgBytes, w, dx + s * xImg, cg, dyBf16, &converted);
      }))
    return;
  BwdDataEntry& e = GetBwdData(g, dyBf16);
  auto& st = cpuStream();
  e.prim.execute(st, {{DNNL_ARG_DIFF_DST, e.diffDst.In(dy, SLOT_B)},
                      {DNNL_ARG_WEIGHTS, WeightsIn(e.w, w, wDone)},
                      {DNNL_ARG_DIFF_SRC, e.diffSrc.Out(dx, SLOT_A)}});
  e.diffSrc.Finish();
  st.wait();
}

// dw (HWIO) and, when db is given, the bias gradient, from x and dy (each packed bf16 when flagged).
// `dyConverted`: slot B already holds dy's copy in this primitive's layout (the data gradient just
// made it).
void ConvBackwardWeights(const void* x, const void* dy, float* dw, float* db, const ConvGeom& g, bool xBf16,
                         bool dyBf16, bool dyConverted = false) {
  if (ConvBackwardSplit(x, nullptr, dy, nullptr, dw, db, g, xBf16, dyBf16)) return;
  BwdWEntry& e = GetBwdW(g, db != nullptr, xBf16, dyBf16);
  auto& st = cpuStream();
  memory dyArg = dyConverted ? e.diffDst.Reuse(dy, SLOT_B) : e.diffDst.In(dy, SLOT_B);
  std::unordered_map<int, memory> args{{DNNL_ARG_SRC, e.src.In(x, SLOT_A)},
                                       {DNNL_ARG_DIFF_DST, dyArg},
                                       {DNNL_ARG_DIFF_WEIGHTS, e.dw.Out(dw, SLOT_W)}};
  if (db) {
    e.diffBias.set_data_handle(db);
    args[DNNL_ARG_DIFF_BIAS] = e.diffBias;
  }
  e.prim.execute(st, args);
  e.dw.Finish();
  st.wait();
}

// Both gradients (each only where its buffer is given), converting dy once when both read the same
// copy of it: the data gradient and then the weight gradient, as the two calls above. x and dy are
// each fp32 or packed bf16 (`xBf16`, `dyBf16`); a bf16 kernel reads packed ones in place.
void ConvBackward(const void* x, const float* w, const void* dy, float* dx, float* dw, float* db, const ConvGeom& g,
                  bool xBf16, bool dyBf16) {
  if (dw && ConvBackwardSplit(x, dx ? w : nullptr, dy, dx, dw, db, g, xBf16, dyBf16)) return;
  bool shared = false;
  if (dx) {
    ConvBackwardData(dy, w, dx, g, dyBf16);
    // A chunked data gradient leaves only its last chunk's copy of dy in slot B: nothing to share.
    if (dw && !Chunked(g)) {
      const Operand& a = GetBwdData(g, dyBf16).diffDst;
      const Operand& b = GetBwdW(g, db != nullptr, xBf16, dyBf16).diffDst;
      shared = a.reorderIt && b.reorderIt && a.prim.get_desc() == b.prim.get_desc();
    }
  }
  if (dw) ConvBackwardWeights(x, dy, dw, db, g, xBf16, dyBf16, shared);
}

// ---------------------------------------------------------------------------------------------
// Entry points: arguments in field order (see the signatures in src/engine/native.ts)

// The forward kernel a set of weights is prepared for: bias or not, geometry, fused activation, and
// whether it writes packed bf16.
struct FwdKernelArgs {
  bool hasBias;
  ConvGeom g;
  int act;
  float alpha;
  bool yBf16;
  static FwdKernelArgs Read(ArgReader& r) {
    FwdKernelArgs a;
    a.hasBias = r.Flag("hasBias");
    a.g = ConvGeom::Read(r);
    a.act = static_cast<int>(r.Int("act"));
    a.alpha = static_cast<float>(r.Number("alpha"));
    a.yBf16 = r.Flag("yBf16");
    return a;
  }
  int64_t PreparedFloats() const { return ConvPreparedFloats(g, hasBias, act, alpha, yBf16); }
};

// convForward(x, w, b|null, y, ...geom, act, alpha, wPrepared, xBf16, yBf16); x / y packed bf16 when
// xBf16 / yBf16
struct ConvForwardArgs {
  const void* x;
  const float *w, *b;
  void* y;
  ConvGeom g;
  int act;
  float alpha;
  bool prepared, xBf16, yBf16;
  static ConvForwardArgs From(const Napi::CallbackInfo& info) {
    ArgReader r(info, "convForward");
    F32Arg x = r.F32("x"), w = r.F32("w"), b = r.F32Opt("b"), y = r.F32("y");
    ConvForwardArgs a;
    a.g = ConvGeom::Read(r);
    a.act = static_cast<int>(r.Int("act"));
    a.alpha = static_cast<float>(r.Number("alpha"));
    a.prepared = r.Flag("wPrepared");
    a.xBf16 = r.Flag("xBf16");
    a.yBf16 = r.Flag("yBf16");
    r.End();
    a.x = x.NeedAs(a.xBf16, a.g.xSize());
    a.b = b.NeedIfPresent(a.g.oc);
    // Prepared weights are in the kernel's layout, whose size only the primitive knows.
    a.w = w.Need(a.prepared ? ConvPreparedFloats(a.g, b.present, a.act, a.alpha, a.yBf16) : a.g.wSize());
    a.y = y.NeedAs(a.yBf16, a.g.ySize());
    return a;
  }
};

Napi::Value ConvForwardEntry(const Napi::CallbackInfo& info) {
  ConvForwardArgs a = ConvForwardArgs::From(info);
  ConvForward(a.x, a.w, a.b, a.y, a.g, a.act, a.alpha, a.prepared, a.xBf16, a.yBf16);
  return info.Env().Undefined();
}

// convPreparedSize(hasBias, ...geom, act, alpha, yBf16) -> floats of the kernel-layout weights
Napi::Value ConvPreparedSizeEntry(const Napi::CallbackInfo& info) {
  ArgReader r(info, "convPreparedSize");
  FwdKernelArgs a = FwdKernelArgs::Read(r);
  r.End();
  return Napi::Number::New(info.Env(), static_cast<double>(a.PreparedFloats()));
}

// convPrepareWeights(w, out, hasBias, ...geom, act, alpha, yBf16)
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
    a.out = out.Need(a.k.PreparedFloats());
    return a;
  }
};

Napi::Value ConvPrepareWeightsEntry(const Napi::CallbackInfo& info) {
  ConvPrepareArgs a = ConvPrepareArgs::From(info);
  ConvPrepareWeights(a.w, a.out, a.k.g, a.k.hasBias, a.k.act, a.k.alpha, a.k.yBf16);
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
  ConvBackwardData(a.dy, a.w, a.dx, a.g, false);
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
  ConvBackwardWeights(a.x, a.dy, a.dw, a.db, a.g, false, false);
  return info.Env().Undefined();
}

// convBackward(x, w, dy, dx|null, dw|null, db|null, ...geom, xBf16, dyBf16); db only with dw; x / dy
// packed bf16 when xBf16 / dyBf16
struct ConvBackwardArgs {
  const void *x, *dy;
  const float* w;
  float *dx, *dw, *db;
  ConvGeom g;
  bool xBf16, dyBf16;
  static ConvBackwardArgs From(const Napi::CallbackInfo& info) {
    ArgReader r(info, "convBackward");
    F32Arg x = r.F32("x"), w = r.F32("w"), dy = r.F32("dy");
    F32Arg dx = r.F32Opt("dx"), dw = r.F32Opt("dw"), db = r.F32Opt("db");
    ConvBackwardArgs a;
    a.g = ConvGeom::Read(r);
    a.xBf16 = r.Flag("xBf16");
    a.dyBf16 = r.Flag("dyBf16");
    r.End();
    a.x = x.NeedAs(a.xBf16, a.g.xSize());
    a.w = w.Need(a.g.wSize());
    a.dy = dy.NeedAs(a.dyBf16, a.g.ySize());
    a.dx = dx.NeedIfPresent(a.g.xSize());
    a.dw = dw.NeedIfPresent(a.g.wSize());
    a.db = db.NeedIfPresent(a.g.oc);
    if (a.db && !a.dw) throw ArgError("convBackward: db needs dw");
    return a;
  }
};

Napi::Value ConvBackwardEntry(const Napi::CallbackInfo& info) {
  ConvBackwardArgs a = ConvBackwardArgs::From(info);
  ConvBackward(a.x, a.w, a.dy, a.dx, a.dw, a.db, a.g, a.xBf16, a.dyBf16);
  return info.Env().Undefined();
}

// setConvChunkBytes(bytes) -> the previous value: conv.h's chunk size for bf16 training (0 = whole
// batch), for tests and benchmarks that compare the two.
Napi::Value SetConvChunkBytesEntry(const Napi::CallbackInfo& info) {
  ArgReader r(info, "setConvChunkBytes");
  int64_t bytes = r.Int("bytes");
  r.End();
  if (bytes < 0) throw ArgError("setConvChunkBytes: bytes must be >= 0");
  const int64_t old = ChunkBytes();
  ChunkBytes() = bytes;
  return Napi::Number::New(info.Env(), static_cast<double>(old));
}

}  // namespace

void RegisterConv(Napi::Env env, Napi::Object exports) {
  NS_EXPORT("convForward", ConvForwardEntry);
  NS_EXPORT("convBackwardData", ConvBackwardDataEntry);
  NS_EXPORT("convBackwardWeights", ConvBackwardWeightsEntry);
  NS_EXPORT("convBackward", ConvBackwardEntry);
  NS_EXPORT("convPreparedSize", ConvPreparedSizeEntry);
  NS_EXPORT("convPrepareWeights", ConvPrepareWeightsEntry);
  NS_EXPORT("setConvChunkBytes", SetConvChunkBytesEntry);
}

}  // namespace ns
