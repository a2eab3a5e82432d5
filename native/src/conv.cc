// Convolution: forward, backward data and backward weights side by side.
//
// 2-D convolution runs on oneDNN. Activations stay NHWC (the engine's single layout, so no reorders
// between layers); weights arrive as HWIO and are reordered into whatever blocked layout the chosen
// kernel wants (shared scratch buffers). Primitives and their memory objects are cached by shape,
// thread count and precision (conv_primitives.cc); inference can pass weights already in the kernel
// layout (prepared), with the activation fused as a post-op. In bf16 (the call's precision) the kernels
// read bf16 copies of their inputs and write fp32, or packed bf16 where the call asks (conv.h). (The
// dense layer is dense.cc.)
#include <unordered_map>

#include "conv.h"

namespace ns {
namespace {

using namespace conv;

// ---------------------------------------------------------------------------------------------
// Convolution kernels

// Floats of this forward kernel's weights in its own (blocked, maybe bf16) layout, rounded up. The
// kernel writing bf16 (yBf16) may want another layout than the one writing fp32.
int64_t ConvPreparedFloats(const ConvGeom& g, Precision prec, bool bias, int act, float alpha, bool yBf16) {
  size_t bytes = GetFwd(g, prec, bias, act, alpha, yBf16).pd.weights_desc().get_size();
  return static_cast<int64_t>((bytes + sizeof(float) - 1) / sizeof(float));
}

// HWIO weights -> the forward kernel's layout (what inference caches).
void ConvPrepareWeights(const float* w, float* out, const ConvGeom& g, Precision prec, bool bias, int act,
                        float alpha, bool yBf16) {
  FwdEntry& e = GetFwd(g, prec, bias, act, alpha, yBf16);
  auto& st = cpuStream();
  memory src(g.wUser(), cpuEngine(), Handle(w));
  memory dst(e.pd.weights_desc(), cpuEngine(), out);
  reorder(src, dst).execute(st, src, dst);
  st.wait();
}

// Runs f(first image, chunk geometry) over the chunks of g's batch (conv.h); false, running nothing,
// when the batch is one chunk.
template <class F>
bool ForChunks(const ConvGeom& g, Precision prec, F f) {
  if (!Chunked(g, prec)) return false;
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
void ConvForward(const void* x, const float* w, const float* b, void* y, const ConvGeom& g, Precision prec, int act,
                 float alpha, bool prepared, bool xBf16, bool yBf16, memory::desc* wDone = nullptr) {
  const int64_t xImgBytes = g.h * g.w * g.c * (xBf16 ? 2 : 4), yImgBytes = g.oh * g.ow * g.oc * (yBf16 ? 2 : 4);
  memory::desc converted;
  if (!prepared && ForChunks(g, prec, [&](int64_t s, const ConvGeom& cg) {
        ConvForward(static_cast<const char*>(x) + s * xImgBytes, w, b, static_cast<char*>(y) + s * yImgBytes, cg,
                    prec, act, alpha, false, xBf16, yBf16, &converted);
      }))
    return;
  FwdEntry& e = GetFwd(g, prec, b != nullptr, act, alpha, yBf16, xBf16);
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
void ConvBackwardData(const void* dy, const float* w, float* dx, const ConvGeom& g, Precision prec, bool dyBf16,
                      memory::desc* wDone = nullptr) {
  const int64_t xImg = g.h * g.w * g.c, yImgBytes = g.oh * g.ow * g.oc * (dyBf16 ? 2 : 4);
  memory::desc converted;
  if (ForChunks(g, prec, [&](int64_t s, const ConvGeom& cg) {
        ConvBackwardData(static_cast<const char*>(dy) + s * yImgBytes, w, dx + s * xImg, cg, prec, dyBf16,
                         &converted);
      }))
    return;
  BwdDataEntry& e = GetBwdData(g, prec, dyBf16);
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
void ConvBackwardWeights(const void* x, const void* dy, float* dw, float* db, const ConvGeom& g, Precision prec,
                         bool xBf16, bool dyBf16, bool dyConverted = false) {
  if (ConvBackwardSplit(x, nullptr, dy, nullptr, dw, db, g, xBf16, dyBf16, prec)) return;
  BwdWEntry& e = GetBwdW(g, prec, db != nullptr, xBf16, dyBf16);
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
                  Precision prec, bool xBf16, bool dyBf16) {
  if (dw && ConvBackwardSplit(x, dx ? w : nullptr, dy, dx, dw, db, g, xBf16, dyBf16, prec)) return;
  bool shared = false;
  if (dx) {
    ConvBackwardData(dy, w, dx, g, prec, dyBf16);
    // A chunked data gradient leaves only its last chunk's copy of dy in slot B: nothing to share.
    if (dw && !Chunked(g, prec)) {
      const Operand& a = GetBwdData(g, prec, dyBf16).diffDst;
      const Operand& b = GetBwdW(g, prec, db != nullptr, xBf16, dyBf16).diffDst;
      shared = a.reorderIt && b.reorderIt && a.prim.get_desc() == b.prim.get_desc();
    }
  }
  if (dw) ConvBackwardWeights(x, dy, dw, db, g, prec, xBf16, dyBf16, shared);
}

// ---------------------------------------------------------------------------------------------
// Entry points: each takes an options object; `geom` is a ConvGeom (conv.h), `precision` the model's.

// The forward kernel a set of weights is prepared for: bias or not, geometry, fused activation,
// whether it writes packed bf16, and the precision.
#define FWD_KERNEL(X) \
  X(Flag, hasBias) X(ConvGeom, geom) X(Code, act) X(F32, alpha) X(Flag, yBf16) X(Prec, precision)

template <class A>
int64_t PreparedFloats(const A& a) {
  return ConvPreparedFloats(a.geom, a.precision, a.hasBias, a.act, a.alpha, a.yBf16);
}

// convForward({x, w, b, y, geom, act, alpha, wPrepared, xBf16, yBf16, precision}): y = act(conv(x, w)
// + b); x / y packed bf16 when xBf16 / yBf16; w in the kernel's layout when wPrepared.
#define CONV_FORWARD(X)                                                                                       \
  X(Buf, x) X(Buf, w) X(OptBuf, b) X(Buf, y) X(ConvGeom, geom) X(Code, act) X(F32, alpha) X(Flag, wPrepared) \
      X(Flag, xBf16) X(Flag, yBf16) X(Prec, precision)
NS_ENTRY(convForward, Options, Void, CONV_FORWARD) {
  const ConvGeom& g = a.geom;
  const void* x = a.x.NeedAs(a.xBf16, g.xSize());
  const float* b = a.b.NeedIfPresent(g.oc);
  // Prepared weights are in the kernel's layout, whose size only the primitive knows.
  const float* w = a.w.Need(a.wPrepared ? ConvPreparedFloats(g, a.precision, a.b.present, a.act, a.alpha, a.yBf16)
                                        : g.wSize());
  void* y = a.y.NeedAs(a.yBf16, g.ySize());
  ConvForward(x, w, b, y, g, a.precision, a.act, a.alpha, a.wPrepared, a.xBf16, a.yBf16);
}

// convPreparedSize({hasBias, geom, act, alpha, yBf16, precision}) -> floats of the kernel-layout weights
NS_ENTRY(convPreparedSize, Options, Number, FWD_KERNEL) { return static_cast<double>(PreparedFloats(a)); }

// convPrepareWeights({w, out, hasBias, geom, act, alpha, yBf16, precision}): HWIO w -> the kernel's layout
#define CONV_PREPARE_WEIGHTS(X) X(Buf, w) X(Buf, out) FWD_KERNEL(X)
NS_ENTRY(convPrepareWeights, Options, Void, CONV_PREPARE_WEIGHTS) {
  const float* w = a.w.Need(a.geom.wSize());
  float* out = a.out.Need(PreparedFloats(a));
  ConvPrepareWeights(w, out, a.geom, a.precision, a.hasBias, a.act, a.alpha, a.yBf16);
}

// convBackwardData({dy, w, dx, geom, precision})
#define CONV_BACKWARD_DATA(X) X(Buf, dy) X(Buf, w) X(Buf, dx) X(ConvGeom, geom) X(Prec, precision)
NS_ENTRY(convBackwardData, Options, Void, CONV_BACKWARD_DATA) {
  const ConvGeom& g = a.geom;
  const float* dy = a.dy.Need(g.ySize());
  const float* w = a.w.Need(g.wSize());
  ConvBackwardData(dy, w, a.dx.Need(g.xSize()), g, a.precision, false);
}

// convBackwardWeights({x, dy, dw, db, geom, precision})
#define CONV_BACKWARD_WEIGHTS(X) X(Buf, x) X(Buf, dy) X(Buf, dw) X(OptBuf, db) X(ConvGeom, geom) X(Prec, precision)
NS_ENTRY(convBackwardWeights, Options, Void, CONV_BACKWARD_WEIGHTS) {
  const ConvGeom& g = a.geom;
  const float* x = a.x.Need(g.xSize());
  const float* dy = a.dy.Need(g.ySize());
  float* dw = a.dw.Need(g.wSize());
  ConvBackwardWeights(x, dy, dw, a.db.NeedIfPresent(g.oc), g, a.precision, false, false);
}

// convBackward({x, w, dy, dx, dw, db, geom, xBf16, dyBf16, precision}): both gradients, each only where
// its buffer is given (db only with dw); x / dy packed bf16 when xBf16 / dyBf16
#define CONV_BACKWARD(X)                                                                                    \
  X(Buf, x) X(Buf, w) X(Buf, dy) X(OptBuf, dx) X(OptBuf, dw) X(OptBuf, db) X(ConvGeom, geom) X(Flag, xBf16) \
      X(Flag, dyBf16) X(Prec, precision)
NS_ENTRY(convBackward, Options, Void, CONV_BACKWARD) {
  const ConvGeom& g = a.geom;
  const void* x = a.x.NeedAs(a.xBf16, g.xSize());
  const float* w = a.w.Need(g.wSize());
  const void* dy = a.dy.NeedAs(a.dyBf16, g.ySize());
  float* dx = a.dx.NeedIfPresent(g.xSize());
  float* dw = a.dw.NeedIfPresent(g.wSize());
  float* db = a.db.NeedIfPresent(g.oc);
  if (db && !dw) throw ArgError("convBackward: db needs dw");
  ConvBackward(x, w, dy, dx, dw, db, g, a.precision, a.xBf16, a.dyBf16);
}

// setConvChunkBytes(bytes) -> the previous value: conv.h's chunk size for bf16 training (0 = whole
// batch), for tests and benchmarks that compare the two.
#define SET_CONV_CHUNK_BYTES(X) X(Size, bytes)
NS_ENTRY(setConvChunkBytes, Positional, Number, SET_CONV_CHUNK_BYTES) {
  const int64_t old = ChunkBytes();
  ChunkBytes() = a.bytes;
  return static_cast<double>(old);
}

}  // namespace
}  // namespace ns
