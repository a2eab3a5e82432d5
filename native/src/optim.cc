// Optimizer updates with PyTorch's semantics (torch.optim.Adam and SGD, weight decay as an L2 term
// added to the gradient), one fused pass over a parameter, its gradient and its state.
#include <omp.h>

#include <cmath>

#include "entry.h"

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
// Entry points: every buffer holds n floats

// adamStep({p, g, m, v, n, lr, beta1, beta2, eps, bc1, bc2, weightDecay})
#define ADAM_STEP(X)                                                                                   \
  X(Buf, p) X(Buf, g) X(Buf, m) X(Buf, v) X(Size, n) X(F32, lr) X(F32, beta1) X(F32, beta2) X(F32, eps) \
      X(F64, bc1) X(F64, bc2) X(F32, weightDecay)
NS_ENTRY(adamStep, Options, Void, ADAM_STEP) {
  float* p = a.p.Need(a.n);
  const float* g = a.g.Need(a.n);
  float* m = a.m.Need(a.n);
  AdamStep(p, g, m, a.v.Need(a.n), a.n, a.lr, a.beta1, a.beta2, a.eps, a.bc1, a.bc2, a.weightDecay);
}

// sgdStep({p, g, buf, n, lr, momentum, dampening, nesterov, weightDecay, first}); buf null: no momentum
#define SGD_STEP(X)                                                                                      \
  X(Buf, p) X(Buf, g) X(OptBuf, buf) X(Size, n) X(F32, lr) X(F32, momentum) X(F32, dampening) X(Flag, nesterov) \
      X(F32, weightDecay) X(Flag, first)
NS_ENTRY(sgdStep, Options, Void, SGD_STEP) {
  float* p = a.p.Need(a.n);
  const float* g = a.g.Need(a.n);
  SgdStep(p, g, a.buf.NeedIfPresent(a.n), a.n, a.lr, a.momentum, a.dampening, a.nesterov, a.weightDecay, a.first);
}

}  // namespace
}  // namespace ns
