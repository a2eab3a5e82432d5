// The bf16 weight gradient split over the batch: one chunk of images per thread, each chunk a
// single-threaded oneDNN primitive with its own scratchpad, the chunks' gradients summed in a fixed
// order (deterministic for a given thread count).
//
// Why: oneDNN 2.6's jit_bf16 weight-gradient kernel synchronises its threads many times per call
// (spin barriers around its transposed copies of src and diff_dst). On a machine where another
// process holds a core, each barrier waits for a scheduler tick, and the 2-thread kernel ran 5-10x
// slower than the same kernel on one thread. Split by images, the threads share nothing until the
// final sum.
#include <omp.h>

#include <cstring>
#include <memory>
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
};

struct Split {
  std::vector<Chunk> chunks;
};

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
  ThreadsGuard one(1);
  for (int t = 0; t < nthr; t++) {
    Chunk c;
    c.start = g.n * t / nthr;
    c.rows = g.n * (t + 1) / nthr - c.start;
    ConvGeom cg = g;
    cg.n = c.rows;
    memory::desc xb = cg.srcIn(true), dyb = cg.dstIn(true);
    primitive_attr attr;
    attr.set_scratchpad_mode(scratchpad_mode::user);
    convolution_forward::primitive_desc hint({prop_kind::forward_training, algorithm::convolution_direct, xb,
                                              cg.wAny(dt::bf16), cg.dst(), cg.strides(), cg.padL(), cg.padR()},
                                             eng);
    if (bias)
      c.pd = convolution_backward_weights::primitive_desc({algorithm::convolution_direct, xb, cg.wAny(), cg.bias(),
                                                           dyb, cg.strides(), cg.padL(), cg.padR()},
                                                          attr, eng, hint);
    else
      c.pd = convolution_backward_weights::primitive_desc(
          {algorithm::convolution_direct, xb, cg.wAny(), dyb, cg.strides(), cg.padL(), cg.padR()}, attr, eng, hint);
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
    c.pad = memory(c.pd.scratchpad_desc(), eng, nullptr);
    s->chunks.push_back(std::move(c));
  }
  return s;
}

Split* GetSplit(const ConvGeom& g, bool bias, int nthr) {
  std::string k = g.key("bwdw-split", bias ? 1 : 0);
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

bool ConvBackwardWeightsSplit(const float* x, const float* dy, float* dw, float* db, const ConvGeom& g) {
  if (ComputePrecision() != PREC_BF16) return false;
  int nthr = std::min(omp_get_max_threads(), MAX_SPLIT);
  if (nthr < 2 || g.n < nthr) return false;
  Split* s = GetSplit(g, db != nullptr, nthr);
  if (!s) return false;
  // The bf16 copies of x and dy: each chunk converts its own images into its part of slots A and B.
  const int64_t xImg = g.h * g.w * g.c, yImg = g.oh * g.ow * g.oc, bf = 2;
  char* xb = static_cast<char*>(Scratch(SLOT_A, g.xSize() * bf));
  char* yb = static_cast<char*>(Scratch(SLOT_B, g.ySize() * bf));
  // Per thread: the kernel-layout gradient, the scratchpad, and (after the first) HWIO dw + db to sum.
  std::vector<float*> part(nthr, nullptr);
  for (int t = 0; t < nthr; t++) {
    Chunk& c = s->chunks[t];
    int slot = SLOT_THREAD0 + SLOTS_PER_THREAD * t;
    if (c.dwReorder) c.dwPrim.set_data_handle(Scratch(slot, c.pd.diff_weights_desc().get_size()));
    c.pad.set_data_handle(Scratch(slot + 1, c.pd.scratchpad_desc().get_size() + 64));
    if (t > 0) part[t] = static_cast<float*>(Scratch(slot + 2, (g.wSize() + g.oc) * sizeof(float)));
  }
  auto& streams = ThreadStreams(nthr);
  std::vector<std::string> errors(nthr);
#pragma omp parallel num_threads(nthr)
  {
    int t = omp_get_thread_num();
    try {
      Chunk& c = s->chunks[t];
      stream& st = streams[t];
      c.xUser.set_data_handle(const_cast<float*>(x + c.start * xImg));
      c.xBf.set_data_handle(xb + c.start * xImg * bf);
      c.dyUser.set_data_handle(const_cast<float*>(dy + c.start * yImg));
      c.dyBf.set_data_handle(yb + c.start * yImg * bf);
      c.xConv.execute(st, c.xUser, c.xBf);
      c.dyConv.execute(st, c.dyUser, c.dyBf);
      c.dwUser.set_data_handle(t == 0 ? dw : part[t]);
      std::unordered_map<int, memory> args{{DNNL_ARG_SRC, c.xBf},
                                           {DNNL_ARG_DIFF_DST, c.dyBf},
                                           {DNNL_ARG_DIFF_WEIGHTS, c.dwPrim},
                                           {DNNL_ARG_SCRATCHPAD, c.pad}};
      if (db) {
        c.diffBias.set_data_handle(t == 0 ? db : part[t] + g.wSize());
        args[DNNL_ARG_DIFF_BIAS] = c.diffBias;
      }
      c.prim.execute(st, args);
      if (c.dwReorder) c.dwConv.execute(st, c.dwPrim, c.dwUser);
      st.wait();
    } catch (const std::exception& e) {
      errors[t] = e.what();
    }
  }
  for (auto& e : errors)
    if (!e.empty()) throw std::runtime_error("convolution weight gradient: " + e);
  // dw (+ db) = chunk 0 + chunk 1 + ..., in that order.
  const int64_t n = g.wSize() + (db ? g.oc : 0);
#pragma omp parallel for schedule(static) num_threads(nthr)
  for (int64_t i = 0; i < n; i++) {
    float* out = i < g.wSize() ? dw + i : db + (i - g.wSize());
    float v = *out;
    for (int t = 1; t < nthr; t++) v += part[t][i];
    *out = v;
  }
  return true;
}

}  // namespace conv
}  // namespace ns
