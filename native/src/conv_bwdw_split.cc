// The bf16 backward pass split over the batch: one share of images per thread, each share run as
// one or more chunks (conv.h's ChunkBytes) by single-threaded oneDNN primitives with their own
// scratchpads, the chunks' weight gradients summed in a fixed order (deterministic for a given thread
// count). When the data gradient is asked for too, each chunk's bf16 copy of dy feeds both kernels: dy
// is converted once instead of twice, and each chunk's dx is its own (no sum). An x or dy already in
// packed bf16 (bf16 activations, conv + BN's inner gradient) is read in place: no conversion at all.
//
// Why: oneDNN 2.6's jit_bf16 weight-gradient kernel synchronises its threads many times per call
// (spin barriers around its transposed copies of src and diff_dst). On a machine where another
// process holds a core, each barrier waits for a scheduler tick, and the 2-thread kernel ran 5-10x
// slower than the same kernel on one thread. Split by images, the threads share nothing until the
// final sum. Chunks keep the bf16 copies and the scratchpads (which hold those transposed copies)
// at a chunk's size instead of the batch's.
#include <omp.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "conv.h"

namespace ns {
namespace conv {
namespace {

struct Chunk {
  int64_t start = 0, rows = 0;
  convolution_backward_weights::primitive_desc pd;
  convolution_backward_weights prim;
  memory xUser, xBf, dyUser, dyBf, dwPrim, dwUser, diffBias, pad;
  reorder xConv, dyConv, dwConv;
  bool dwReorder = false;
  // The data gradient of the chunk (when Split::data): reads dyBf and the shared bf16 weights.
  convolution_backward_data::primitive_desc dpd;
  convolution_backward_data dprim;
  memory dxUser;
};

struct Split {
  std::vector<std::vector<Chunk>> perThread;  // thread t's chunks, in order
  // Whether the chunks also run the data gradient: each has a bf16 kernel (not oneDNN's reference one),
  // writes fp32 NHWC dx in place and reads dy's NHWC bf16 copy and weights in one layout (`wDesc`,
  // converted once per call). Not for one output channel (the bf16 1x1 kernel's bug, conv_primitives.cc).
  bool data = false;
  memory::desc wDesc;
  memory wUser, wBf;
  reorder wConv;
};

// The chunk's data-gradient primitive; false when it does not meet Split::data's conditions.
bool BuildData(Chunk& c, const ConvGeom& cg, const primitive_attr& attr,
               const convolution_forward::primitive_desc& hint, Split& s) {
  auto& eng = cpuEngine();
  if (cg.oc <= 1) return false;
  try {
    c.dpd = convolution_backward_data::primitive_desc(
        {algorithm::convolution_direct, cg.src(), cg.wAny(dt::bf16), cg.dstIn(true), cg.strides(), cg.padL(),
         cg.padR()},
        attr, eng, hint);
  } catch (const dnnl::error&) {
    return false;
  }
  if (std::strncmp(c.dpd.impl_info_str(), "ref", 3) == 0) return false;
  if (c.dpd.diff_src_desc() != cg.src() || c.dpd.diff_dst_desc() != cg.dstIn(true)) return false;
  if (s.wDesc.is_zero()) s.wDesc = c.dpd.weights_desc();
  if (c.dpd.weights_desc() != s.wDesc) return false;
  c.dprim = convolution_backward_data(c.dpd);
  c.dxUser = memory(cg.src(), eng, nullptr);
  return true;
}

std::unordered_map<std::string, std::unique_ptr<Split>> cache;  // null: not splittable

// Restores the OpenMP thread count when it leaves scope.
struct ThreadsGuard {
  int saved = omp_get_max_threads();
  explicit ThreadsGuard(int n) { omp_set_num_threads(n); }
  ~ThreadsGuard() { omp_set_num_threads(saved); }
};

// The chunk primitives, built single-threaded (oneDNN fixes a kernel's thread split when it is
// created); null when a chunk has no optimised bf16 kernel.
std::unique_ptr<Split> Build(const ConvGeom& g, bool bias, int nthr) {
  auto& eng = cpuEngine();
  auto s = std::make_unique<Split>();
  s->data = true;
  ThreadsGuard one(1);
  for (int t = 0; t < nthr; t++) {
    const int64_t first = ChunkStart(g.n, nthr, t), share = ChunkStart(g.n, nthr, t + 1) - first;
    const int64_t k = ChunkCount(g, share);
    std::vector<Chunk> chunks;
    for (int64_t i = 0; i < k; i++) {
      Chunk c;
      c.start = first + ChunkStart(share, k, i);
      c.rows = first + ChunkStart(share, k, i + 1) - c.start;
      ConvGeom cg = g;
      cg.n = c.rows;
      memory::desc xb = cg.srcIn(true), dyb = cg.dstIn(true);
      primitive_attr attr;
      attr.set_scratchpad_mode(scratchpad_mode::user);
      convolution_forward::primitive_desc hint({prop_kind::forward_training, algorithm::convolution_direct, xb,
                                                cg.wAny(dt::bf16), cg.dst(), cg.strides(), cg.padL(), cg.padR()},
                                               eng);
      if (bias)
        c.pd = convolution_backward_weights::primitive_desc({algorithm::convolution_direct, xb, cg.wAny(),
                                                             cg.bias(), dyb, cg.strides(), cg.padL(), cg.padR()},
                                                            attr, eng, hint);
      else
        c.pd = convolution_backward_weights::primitive_desc(
            {algorithm::convolution_direct, xb, cg.wAny(), dyb, cg.strides(), cg.padL(), cg.padR()}, attr, eng,
            hint);
      if (std::strncmp(c.pd.impl_info_str(), "ref", 3) == 0) return nullptr;
      c.prim = convolution_backward_weights(c.pd);
      c.xUser = memory(cg.src(), eng, nullptr);
      c.xBf = memory(xb, eng, nullptr);
      c.dyUser = memory(cg.dst(), eng, nullptr);
      c.dyBf = memory(dyb, eng, nullptr);
      c.xConv = reorder(c.xUser, c.xBf);
      c.dyConv = reorder(c.dyUser, c.dyBf);
      c.dwUser = memory(cg.wUser(), eng, nullptr);
      c.dwReorder = c.pd.diff_weights_desc() != cg.wUser();
      c.dwPrim = c.dwReorder ? memory(c.pd.diff_weights_desc(), eng, nullptr) : c.dwUser;
      if (c.dwReorder) c.dwConv = reorder(c.dwPrim, c.dwUser);
      if (bias) c.diffBias = memory(cg.bias(), eng, nullptr);
      if (s->data) s->data = BuildData(c, cg, attr, hint, *s);
      c.pad = memory(c.pd.scratchpad_desc(), eng, nullptr);
      chunks.push_back(std::move(c));
    }
    s->perThread.push_back(std::move(chunks));
  }
  if (s->data) {
    s->wUser = memory(g.wUser(), eng, nullptr);
    s->wBf = memory(s->wDesc, eng, nullptr);
    s->wConv = reorder(s->wUser, s->wBf);
  }
  return s;
}

Split* GetSplit(const ConvGeom& g, bool bias, int nthr) {
  const std::string kind = "bwdw-split/" + std::to_string(ChunkBytes());
  std::string k = g.key(kind.c_str(), PREC_BF16, bias ? 1 : 0);
  auto it = cache.find(k);
  if (it != cache.end()) return it->second.get();
  std::unique_ptr<Split> s;
  try {
    s = Build(g, bias, nthr);
  } catch (const dnnl::error&) {
    s = nullptr;  // no bf16 kernel for this chunk shape: the ordinary primitive
  }
  return (cache[k] = std::move(s)).get();
}

std::vector<stream>& ThreadStreams(int n) {
  static std::vector<stream> s;
  while (static_cast<int>(s.size()) < n) s.emplace_back(cpuEngine());
  return s;
}

}  // namespace

bool ConvBackwardSplit(const void* x, const float* w, const void* dy, float* dx, float* dw, float* db,
                       const ConvGeom& g, bool xBf16, bool dyBf16, Precision prec) {
  if (prec != PREC_BF16) return false;
  int nthr = std::min(omp_get_max_threads(), MAX_SPLIT);
  if (g.n < nthr) return false;
  if (nthr < 2 && ChunkCount(g, g.n) < 2) return false;  // one thread, one chunk: the ordinary primitive
  Split* s = GetSplit(g, db != nullptr, nthr);
  if (!s || (dx && !s->data)) return false;
  if (dx) {
    s->wUser.set_data_handle(const_cast<float*>(w));
    s->wBf.set_data_handle(Scratch(SLOT_W, s->wDesc.get_size()));
    s->wConv.execute(cpuStream(), s->wUser, s->wBf);
    cpuStream().wait();
  }
  const int64_t xImg = g.h * g.w * g.c, yImg = g.oh * g.ow * g.oc, bf = 2;
  const int64_t sums = g.wSize() + (db ? g.oc : 0);
  // Per thread (its slots from SLOT_THREAD0): the kernel-layout gradient, the scratchpad, its share's
  // HWIO dw + db (after the first thread), the bf16 copies of a chunk's x and dy, and a later chunk's
  // dw + db before it is added. All grown here, before the threads start.
  struct Buffers {
    char *dwPrim, *pad, *xy;
    float *part, *more;
  };
  std::vector<Buffers> buf(nthr);
  for (int t = 0; t < nthr; t++) {
    const int slot = SLOT_THREAD0 + SLOTS_PER_THREAD * t;
    size_t dwBytes = 0, padBytes = 0, xyBytes = 0;
    for (const Chunk& c : s->perThread[t]) {
      dwBytes = std::max(dwBytes, c.pd.diff_weights_desc().get_size());
      padBytes = std::max(padBytes, c.pd.scratchpad_desc().get_size());
      if (dx) padBytes = std::max(padBytes, c.dpd.scratchpad_desc().get_size());
      xyBytes = std::max<size_t>(xyBytes, c.rows * ((xBf16 ? 0 : xImg) + (dyBf16 ? 0 : yImg)) * bf + 64);
    }
    Buffers& b = buf[t];
    b.dwPrim = static_cast<char*>(Scratch(slot, dwBytes));
    b.pad = static_cast<char*>(Scratch(slot + 1, padBytes + 64));
    b.part = t > 0 ? static_cast<float*>(Scratch(slot + 2, sums * sizeof(float))) : nullptr;
    b.xy = static_cast<char*>(Scratch(slot + 3, xyBytes));
    b.more = s->perThread[t].size() > 1 ? static_cast<float*>(Scratch(slot + 4, sums * sizeof(float))) : nullptr;
  }
  auto& streams = ThreadStreams(nthr);
  std::vector<std::string> errors(nthr);
#pragma omp parallel num_threads(nthr)
  {
    const int t = omp_get_thread_num();
    try {
      const Buffers& b = buf[t];
      stream& st = streams[t];
      float* dwOut = t == 0 ? dw : b.part;
      float* dbOut = t == 0 ? db : b.part + g.wSize();
      bool first = true;
      for (Chunk& c : s->perThread[t]) {
        // The first chunk writes the share's sums, later ones `more`, added below.
        float* dwTo = first ? dwOut : b.more;
        if (xBf16) {
          c.xBf.set_data_handle(const_cast<uint16_t*>(static_cast<const uint16_t*>(x) + c.start * xImg));
        } else {
          c.xUser.set_data_handle(const_cast<float*>(static_cast<const float*>(x) + c.start * xImg));
          c.xBf.set_data_handle(b.xy);
          c.xConv.execute(st, c.xUser, c.xBf);
        }
        if (dyBf16) {
          c.dyBf.set_data_handle(const_cast<uint16_t*>(static_cast<const uint16_t*>(dy) + c.start * yImg));
        } else {
          c.dyUser.set_data_handle(const_cast<float*>(static_cast<const float*>(dy) + c.start * yImg));
          c.dyBf.set_data_handle(b.xy + (xBf16 ? 0 : (c.rows * xImg * bf + 63) / 64 * 64));
          c.dyConv.execute(st, c.dyUser, c.dyBf);
        }
        c.pad.set_data_handle(b.pad);
        if (dx) {
          c.dxUser.set_data_handle(dx + c.start * xImg);
          c.dprim.execute(st, {{DNNL_ARG_DIFF_DST, c.dyBf},
                               {DNNL_ARG_WEIGHTS, s->wBf},
                               {DNNL_ARG_DIFF_SRC, c.dxUser},
                               {DNNL_ARG_SCRATCHPAD, c.pad}});
        }
        c.dwUser.set_data_handle(dwTo);
        if (c.dwReorder) c.dwPrim.set_data_handle(b.dwPrim);
        std::unordered_map<int, memory> args{{DNNL_ARG_SRC, c.xBf},
                                             {DNNL_ARG_DIFF_DST, c.dyBf},
                                             {DNNL_ARG_DIFF_WEIGHTS, c.dwPrim},
                                             {DNNL_ARG_SCRATCHPAD, c.pad}};
        if (db) {
          c.diffBias.set_data_handle(first ? dbOut : b.more + g.wSize());
          args[DNNL_ARG_DIFF_BIAS] = c.diffBias;
        }
        c.prim.execute(st, args);
        if (c.dwReorder) c.dwConv.execute(st, c.dwPrim, c.dwUser);
        st.wait();
        if (!first) {
          for (int64_t i = 0; i < g.wSize(); i++) dwOut[i] += b.more[i];
          if (db)
            for (int64_t i = 0; i < g.oc; i++) dbOut[i] += b.more[g.wSize() + i];
        }
        first = false;
      }
    } catch (const std::exception& e) {
      errors[t] = e.what();
    }
  }
  for (auto& e : errors)
    if (!e.empty()) throw std::runtime_error("convolution backward (bf16, split by images): " + e);
  if (nthr == 1) return true;
  // dw (+ db) = share 0 + share 1 + ..., in that order.
#pragma omp parallel for schedule(static) num_threads(nthr)
  for (int64_t i = 0; i < sums; i++) {
    float* out = i < g.wSize() ? dw + i : db + (i - g.wSize());
    float v = *out;
    for (int t = 1; t < nthr; t++) v += buf[t].part[i];
    *out = v;
  }
  return true;
}

}  // namespace conv
}  // namespace ns
