// Optimizer updates with PyTorch's semantics (torch.optim.Adam and SGD, weight decay as an L2 term
// added to the gradient), one fused pass over a parameter, its gradient and its state.
#include <omp.h>

#include <cmath>

#include "common.h"

namespace ns {
namespace {

// m, v <- moving averages of g, g^2; p <- p - lr/bc1 * m / (sqrt(v/bc2) + eps).
void AdamStep(float* p, const float* g, float* m, float* v, int64_t n, float lr, float b1, float b2, float eps,
              double bc1, double bc2, float wd) {
  float stepSize = static_cast<float>(lr / bc1);
  float invSqrtBc2 = static_cast<float>(1.0 / std::sqrt(bc2));
#pragma omp parallel for schedule(static) if (n > 262144)
  for (int64_t i = 0; i < n; i++) {
    float gi = g[i] + wd * p[i];
    m[i] = b1 * m[i] + (1.f - b1) * gi;
    v[i] = b2 * v[i] + (1.f - b2) * gi * gi;
    p[i] -= stepSize * m[i] / (std::sqrt(v[i]) * invSqrtBc2 + eps);
  }
}

// p <- p - lr * (momentum buffer, or its Nesterov look-ahead, or g when buf is null).
void SgdStep(float* p, const float* g, float* buf, int64_t n, float lr, float mom, float damp, bool nesterov, float wd,
             bool first) {
#pragma omp parallel for schedule(static) if (n > 262144)
  for (int64_t i = 0; i < n; i++) {
    float gi = g[i] + wd * p[i];
    if (buf) {
      buf[i] = first ? gi : mom * buf[i] + (1.f - damp) * gi;
      gi = nesterov ? gi + mom * buf[i] : buf[i];
    }
    p[i] -= lr * gi;
  }
}

// ---------------------------------------------------------------------------------------------
// Entry points: arguments in field order (see the signatures in src/engine/native.ts)

// adamStep(p, g, m, v, n, lr, beta1, beta2, eps, bc1, bc2, weightDecay)
struct AdamArgs {
  float* p;
  const float* g;
  float *m, *v;
  int64_t n;
  float lr, beta1, beta2, eps;
  double bc1, bc2;
  float weightDecay;
  static AdamArgs From(const Napi::CallbackInfo& info) {
    ArgReader r(info, "adamStep");
    F32Arg p = r.F32("p"), g = r.F32("g"), m = r.F32("m"), v = r.F32("v");
    AdamArgs a;
    a.n = r.Int("n");
    a.lr = static_cast<float>(r.Number("lr"));
    a.beta1 = static_cast<float>(r.Number("beta1"));
    a.beta2 = static_cast<float>(r.Number("beta2"));
    a.eps = static_cast<float>(r.Number("eps"));
    a.bc1 = r.Number("bc1");
    a.bc2 = r.Number("bc2");
    a.weightDecay = static_cast<float>(r.Number("weightDecay"));
    r.End();
    a.p = p.Need(a.n);
    a.g = g.Need(a.n);
    a.m = m.Need(a.n);
    a.v = v.Need(a.n);
    return a;
  }
};

Napi::Value AdamStepEntry(const Napi::CallbackInfo& info) {
  AdamArgs a = AdamArgs::From(info);
  AdamStep(a.p, a.g, a.m, a.v, a.n, a.lr, a.beta1, a.beta2, a.eps, a.bc1, a.bc2, a.weightDecay);
  return info.Env().Undefined();
}

// sgdStep(p, g, buf|null, n, lr, momentum, dampening, nesterov, weightDecay, first)
struct SgdArgs {
  float* p;
  const float* g;
  float* buf;
  int64_t n;
  float lr, momentum, dampening;
  bool nesterov;
  float weightDecay;
  bool first;
  static SgdArgs From(const Napi::CallbackInfo& info) {
    ArgReader r(info, "sgdStep");
    F32Arg p = r.F32("p"), g = r.F32("g"), buf = r.F32Opt("buf");
    SgdArgs a;
    a.n = r.Int("n");
    a.lr = static_cast<float>(r.Number("lr"));
    a.momentum = static_cast<float>(r.Number("momentum"));
    a.dampening = static_cast<float>(r.Number("dampening"));
    a.nesterov = r.Flag("nesterov");
    a.weightDecay = static_cast<float>(r.Number("weightDecay"));
    a.first = r.Flag("first");
    r.End();
    a.p = p.Need(a.n);
    a.g = g.Need(a.n);
    a.buf = buf.NeedIfPresent(a.n);
    return a;
  }
};

Napi::Value SgdStepEntry(const Napi::CallbackInfo& info) {
  SgdArgs a = SgdArgs::From(info);
  SgdStep(a.p, a.g, a.buf, a.n, a.lr, a.momentum, a.dampening, a.nesterov, a.weightDecay, a.first);
  return info.Env().Undefined();
}

}  // namespace

void RegisterOptim(Napi::Env env, Napi::Object exports) {
  NS_EXPORT("adamStep", AdamStepEntry);
  NS_EXPORT("sgdStep", SgdStepEntry);
}

}  // namespace ns
