// Convolution internals shared by conv.cc (kernels and entry points) and conv_primitives.cc (the
// oneDNN primitives, their memory objects and the caches).
//
// Precision: each call names its compute precision (the `precision` field of the conv entry points:
// the model's), and a primitive is built for it when first needed; the precision is part of every
// cache key, so models of both precisions share one process. In bf16 the
// convolution reads bf16 source, weights and output gradient and accumulates in fp32. Each of x, y
// and dy is, per call, fp32 (converted to bf16 on the way in; y written fp32) or packed bf16 (the
// engine's bf16 activations and conv + BN's inner tensor: read or written in place, half the bytes,
// no conversion). Weights and weight gradients are always fp32 HWIO outside. A shape that has no
// bf16 kernel (only oneDNN's reference one) keeps its fp32 primitive, its operands converted.
#pragma once
#include <omp.h>

#include <cstdio>
#include <string>

#include "entry.h"

namespace ns {
namespace conv {

using namespace dnnl;
using tag = memory::format_tag;
using dt = memory::data_type;

// A convolution's geometry (ConvGeom in src/engine/ops/conv.ts, the `geom` field of the conv entry
// points): batch, input HxW, channels in/out, kernel, stride, pad, output HxW.
#define CONV_GEOM(X)                                                                                     \
  X(Size, n) X(Size, h) X(Size, w) X(Size, c) X(Size, oc) X(Size, kh) X(Size, kw) X(Size, s) X(Size, p) \
      X(Size, oh) X(Size, ow)
struct ConvGeom {
  static constexpr const char* kKind = "convGeom";
  NS_FIELDS(CONV_GEOM)

  void Check(const Reader& r) const {
    if (s < 1 || kh < 1 || kw < 1) throw ArgError(r.Where("s") + ": bad kernel/stride");
  }
  int64_t xSize() const { return n * h * w * c; }
  int64_t ySize() const { return n * oh * ow * oc; }
  int64_t wSize() const { return kh * kw * c * oc; }

  std::string key(const char* kind, Precision prec, int extra1 = 0, float extra2 = 0) const {
    // The thread count is part of the key: oneDNN fixes a kernel's thread split when it is created.
    char buf[256];
    snprintf(buf, sizeof buf, "%s:%ld,%ld,%ld,%ld,%ld,%ld,%ld,%ld,%ld,%ld,%ld|%d|%g|t%d|p%d", kind, n, h, w, c, oc, kh,
             kw, s, p, oh, ow, extra1, extra2, omp_get_max_threads(), static_cast<int>(prec));
    return buf;
  }
  // The engine's fp32 layouts (NHWC activations, HWIO weights).
  memory::desc src() const { return {{n, c, h, w}, dt::f32, tag::nhwc}; }
  memory::desc dst() const { return {{n, oc, oh, ow}, dt::f32, tag::nhwc}; }
  memory::desc wUser() const { return {{oc, c, kh, kw}, dt::f32, tag::hwio}; }
  memory::desc bias() const { return {{oc}, dt::f32, tag::x}; }
  // What the kernel reads: fp32, or its bf16 copy, in the engine's layout (NHWC; measured as fast as
  // the blocked layouts oneDNN picks for format_tag::any, and the copy is a plain conversion).
  memory::desc srcIn(bool bf16) const { return {{n, c, h, w}, bf16 ? dt::bf16 : dt::f32, tag::nhwc}; }
  memory::desc dstIn(bool bf16) const { return {{n, oc, oh, ow}, bf16 ? dt::bf16 : dt::f32, tag::nhwc}; }
  memory::desc wAny(dt t = dt::f32) const { return {{oc, c, kh, kw}, t, tag::any}; }
  memory::dims strides() const { return {s, s}; }
  memory::dims padL() const { return {p, p}; }
  memory::dims padR() const {
    // oneDNN wants explicit right padding so that (h + pl + pr - kh) / s + 1 == oh.
    return {(oh - 1) * s + kh - h - p, (ow - 1) * s + kw - w - p};
  }
};

// An fp32 buffer in the engine's layout (`user`) and what the primitive reads (`prim`): the same
// memory, or a scratch copy (bf16 and/or blocked) filled by `toPrim` / emptied by `fromPrim`.
struct Operand {
  memory user, prim;
  bool reorderIt = false;
  reorder conv;  // user -> prim for inputs, prim -> user for outputs

  void Init(const memory::desc& userDesc, const memory::desc& primDesc, bool output);
  // Points user at p and, when a copy is needed, fills prim (from scratch slot `slot`).
  memory In(const void* p, int slot);
  // Points user at p and prim at scratch slot `slot`, which already holds p's copy (no conversion).
  memory Reuse(const void* p, int slot);
  // Points user at p; the primitive writes prim (a scratch slot when a copy is needed).
  memory Out(void* p, int slot);
  // After the primitive ran: prim -> user when they differ.
  void Finish();
};

// Scratch slots: one buffer each, grown on demand and shared by every cached primitive (calls never
// overlap: the addon is driven by one JS thread). The batch-split bf16 weight gradient
// (conv_bwdw_split.cc) has SLOTS_PER_THREAD of its own per thread, from SLOT_THREAD0.
enum Slot { SLOT_W = 0, SLOT_A = 1, SLOT_B = 2, SLOT_THREAD0 = 3 };
constexpr int SLOTS_PER_THREAD = 5;
constexpr int MAX_SPLIT = 16;
constexpr int SLOT_COUNT = SLOT_THREAD0 + SLOTS_PER_THREAD * MAX_SPLIT;
// The buffer of `slot`, at least `bytes` long (only one thread touches a given slot at a time).
void* Scratch(int slot, size_t bytes);

// bf16 training convolutions run over the batch in chunks of images (equal where ChunkCount finds a
// near divisor of the batch, else near-equal) whose bf16 copies of input and output gradient fit in
// ChunkBytes() (default 4 MiB; 0 = the whole batch at once). The
// scratch copies and oneDNN's scratchpads then grow with a chunk, not the batch (the memory bf16 would
// otherwise add over fp32), and a chunk's fresh bf16 copy is still in cache when the kernel reads it.
// fp32 reads the engine's tensors in place and is never chunked; nor is inference (prepared weights).
int64_t& ChunkBytes();
// Chunks `images` images of geometry g are run in (1: all at once).
int64_t ChunkCount(const ConvGeom& g, int64_t images);
// Start of chunk i of k over n images (chunk i is [ChunkStart(n, k, i), ChunkStart(n, k, i + 1))).
inline int64_t ChunkStart(int64_t n, int64_t k, int64_t i) { return n * i / k; }
// Whether g's batch is chunked (only in bf16).
inline bool Chunked(const ConvGeom& g, Precision prec) { return prec == PREC_BF16 && ChunkCount(g, g.n) > 1; }

struct FwdEntry {
  convolution_forward::primitive_desc pd;
  convolution_forward prim;
  bool bf16 = false;
  Operand src, w, dst;
  memory wPrepared, bias;
};

struct BwdDataEntry {
  convolution_backward_data::primitive_desc pd;
  convolution_backward_data prim;
  bool bf16 = false;
  Operand diffDst, w, diffSrc;
};

struct BwdWEntry {
  convolution_backward_weights::primitive_desc pd;
  convolution_backward_weights prim;
  bool bf16 = false;
  Operand src, diffDst, dw;
  memory diffBias;
};

// The bf16 weight gradient — and, when dx is given, the data gradient from the same bf16 copy of dy —
// with the batch split into one share per thread, each chunk of a share a single-threaded primitive
// (conv_bwdw_split.cc); false when not used (fp32, one thread and one chunk, a small batch, no bf16
// kernel, or dx asked where the chunks cannot make it), and the caller runs the ordinary primitives.
// xBf16 / dyBf16: x / dy are packed bf16 (read in place, no conversion).
bool ConvBackwardSplit(const void* x, const float* w, const void* dy, float* dx, float* dw, float* db,
                       const ConvGeom& g, bool xBf16, bool dyBf16, Precision prec);

// yBf16: the forward writes packed bf16 (the kernel's own output where it has a bf16 kernel); xBf16:
// it reads packed bf16 x (in place where the kernel is bf16).
// Each primitive is built for `prec` (a bf16 kernel where oneDNN has a fast one, else fp32).
FwdEntry& GetFwd(const ConvGeom& g, Precision prec, bool bias, int act, float alpha, bool yBf16 = false,
                 bool xBf16 = false);
// dyBf16 / xBf16: the operand is packed bf16 (read in place by a bf16 kernel, else converted).
BwdDataEntry& GetBwdData(const ConvGeom& g, Precision prec, bool dyBf16 = false);
BwdWEntry& GetBwdW(const ConvGeom& g, Precision prec, bool bias, bool xBf16 = false, bool dyBf16 = false);

inline void* Handle(const void* p) { return const_cast<void*>(p); }

}  // namespace conv
}  // namespace ns
