// The oneDNN convolution primitives (forward, backward data, backward weights), built once per
// geometry, thread count and precision (the call's) and cached with their memory objects; and the scratch
// buffers for the operands a primitive reads in another layout or precision (conv.h).
#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <unordered_map>

#include "conv.h"

namespace ns {
namespace conv {

namespace {

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

convolution_forward::desc FwdDesc(const ConvGeom& g, bool bias, bool bf16, bool yBf16 = false) {
  auto wd = g.wAny(bf16 ? dt::bf16 : dt::f32);
  auto yd = g.dstIn(bf16 && yBf16);
  if (bias)
    return convolution_forward::desc(prop_kind::forward_training, algorithm::convolution_direct, g.srcIn(bf16), wd,
                                     g.bias(), yd, g.strides(), g.padL(), g.padR());
  return convolution_forward::desc(prop_kind::forward_training, algorithm::convolution_direct, g.srcIn(bf16), wd, yd,
                                   g.strides(), g.padL(), g.padR());
}

// The primitive descriptor make(true) (bf16) where `prec` is bf16 and oneDNN has an optimised
// kernel for it (not its reference one), else make(false) (fp32). Returns whether it is bf16.
// `allowBf16` false keeps a shape fp32 where oneDNN's bf16 kernel is known to be wrong.
template <class PD, class Make>
bool Choose(PD& pd, Precision prec, Make make, bool allowBf16 = true) {
  if (allowBf16 && prec == PREC_BF16) {
    try {
      pd = make(true);
      if (std::strncmp(pd.impl_info_str(), "ref", 3) != 0) return true;
    } catch (const dnnl::error&) {
      // no bf16 kernel for this shape: fp32
    }
  }
  pd = make(false);
  return false;
}

}  // namespace

int64_t& ChunkBytes() {
  static int64_t bytes = int64_t{4} << 20;
  return bytes;
}

int64_t ChunkCount(const ConvGeom& g, int64_t images) {
  if (ChunkBytes() <= 0 || images <= 1) return 1;
  const int64_t perImage = (g.h * g.w * g.c + g.oh * g.ow * g.oc) * 2;  // bf16 x and dy
  const int64_t fit = std::max<int64_t>(1, ChunkBytes() / perImage);
  const int64_t need = (images + fit - 1) / fit;
  // Equal chunks where a divisor of the count is near (a batch of 32 in 2, 4 or 8), so that every
  // chunk has one geometry and splits evenly over the threads; else near-equal ones.
  for (int64_t k = need; k <= 2 * need && k <= images; k++)
    if (images % k == 0) return k;
  return need;
}

void* Scratch(int slot, size_t bytes) {
  static void* buf[SLOT_COUNT] = {};
  static size_t cap[SLOT_COUNT] = {};
  if (slot < 0 || slot >= SLOT_COUNT) throw std::runtime_error("convolution scratch: bad slot");
  if (bytes > cap[slot]) {
    std::free(buf[slot]);
    buf[slot] = nullptr;
    cap[slot] = 0;
    size_t c = ((bytes + 4095) / 4096) * 4096;
    buf[slot] = std::aligned_alloc(64, c);
    if (!buf[slot]) throw std::runtime_error("out of memory for convolution scratch");
    cap[slot] = c;
  }
  return buf[slot];
}

void Operand::Init(const memory::desc& userDesc, const memory::desc& primDesc, bool output) {
  auto& eng = cpuEngine();
  user = memory(userDesc, eng, nullptr);
  reorderIt = primDesc != userDesc;
  if (!reorderIt) {
    prim = user;
    return;
  }
  prim = memory(primDesc, eng, nullptr);
  conv = output ? reorder(prim, user) : reorder(user, prim);
}

memory Operand::In(const void* p, int slot) {
  user.set_data_handle(Handle(p));
  if (reorderIt) {
    prim.set_data_handle(Scratch(slot, prim.get_desc().get_size()));
    conv.execute(cpuStream(), user, prim);
  }
  return prim;
}

memory Operand::Reuse(const void* p, int slot) {
  user.set_data_handle(Handle(p));
  if (reorderIt) prim.set_data_handle(Scratch(slot, prim.get_desc().get_size()));
  return prim;
}

memory Operand::Out(void* p, int slot) {
  user.set_data_handle(p);
  if (reorderIt) prim.set_data_handle(Scratch(slot, prim.get_desc().get_size()));
  return prim;
}

void Operand::Finish() {
  if (reorderIt) conv.execute(cpuStream(), prim, user);
}

FwdEntry& GetFwd(const ConvGeom& g, Precision prec, bool bias, int act, float alpha, bool yBf16, bool xBf16) {
  std::string k = g.key("fwd", prec, act * 8 + (bias ? 1 : 0) + (xBf16 ? 2 : 0) + (yBf16 ? 4 : 0), alpha);
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
  e->bf16 = Choose(e->pd, prec, [&](bool bf16) {
    return convolution_forward::primitive_desc(FwdDesc(g, bias, bf16, yBf16), attr, eng);
  });
  e->prim = convolution_forward(e->pd);
  e->src.Init(g.srcIn(xBf16), e->pd.src_desc(), false);
  e->w.Init(g.wUser(), e->pd.weights_desc(), false);
  e->dst.Init(g.dstIn(yBf16), e->pd.dst_desc(), true);
  if (bias) e->bias = memory(g.bias(), eng, nullptr);
  e->wPrepared = memory(e->pd.weights_desc(), eng, nullptr);
  return *(fwdCache[k] = std::move(e));
}

BwdDataEntry& GetBwdData(const ConvGeom& g, Precision prec, bool dyBf16) {
  std::string k = g.key("bwdd", prec, dyBf16 ? 1 : 0);
  auto it = bwdDataCache.find(k);
  if (it != bwdDataCache.end()) return *it->second;
  auto& eng = cpuEngine();
  auto e = std::make_unique<BwdDataEntry>();
  e->bf16 = Choose(e->pd, prec, [&](bool bf16) {
    auto hint = convolution_forward::primitive_desc(FwdDesc(g, false, bf16), eng);
    convolution_backward_data::desc d(algorithm::convolution_direct, g.src(), g.wAny(bf16 ? dt::bf16 : dt::f32),
                                      g.dstIn(bf16), g.strides(), g.padL(), g.padR());
    return convolution_backward_data::primitive_desc(d, eng, hint);
    // oneDNN 2.6's jit_bf16_1x1 backward data gives wrong results for one output channel (NHWC):
    // such a layer (the segmentation head) keeps its fp32 data gradient. Tested in bf16.test.ts.
  }, g.oc > 1);
  e->prim = convolution_backward_data(e->pd);
  e->diffDst.Init(g.dstIn(dyBf16), e->pd.diff_dst_desc(), false);
  e->w.Init(g.wUser(), e->pd.weights_desc(), false);
  e->diffSrc.Init(g.src(), e->pd.diff_src_desc(), true);
  return *(bwdDataCache[k] = std::move(e));
}

BwdWEntry& GetBwdW(const ConvGeom& g, Precision prec, bool bias, bool xBf16, bool dyBf16) {
  std::string k = g.key("bwdw", prec, (bias ? 1 : 0) + (xBf16 ? 2 : 0) + (dyBf16 ? 4 : 0));
  auto it = bwdWCache.find(k);
  if (it != bwdWCache.end()) return *it->second;
  auto& eng = cpuEngine();
  auto e = std::make_unique<BwdWEntry>();
  e->bf16 = Choose(e->pd, prec, [&](bool bf16) {
    auto hint = convolution_forward::primitive_desc(FwdDesc(g, bias, bf16), eng);
    // The weight gradient stays fp32 (the kernel accumulates in fp32).
    if (bias)
      return convolution_backward_weights::primitive_desc(
          {algorithm::convolution_direct, g.srcIn(bf16), g.wAny(), g.bias(), g.dstIn(bf16), g.strides(), g.padL(),
           g.padR()},
          eng, hint);
    return convolution_backward_weights::primitive_desc(
        {algorithm::convolution_direct, g.srcIn(bf16), g.wAny(), g.dstIn(bf16), g.strides(), g.padL(), g.padR()}, eng,
        hint);
  });
  e->prim = convolution_backward_weights(e->pd);
  e->src.Init(g.srcIn(xBf16), e->pd.src_desc(), false);
  e->diffDst.Init(g.dstIn(dyBf16), e->pd.diff_dst_desc(), false);
  e->dw.Init(g.wUser(), e->pd.diff_weights_desc(), true);
  if (bias) e->diffBias = memory(g.bias(), eng, nullptr);
  return *(bwdWCache[k] = std::move(e));
}

}  // namespace conv
}  // namespace ns
