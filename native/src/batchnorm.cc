// Batch normalization over the channel (last) axis of an NHWC tensor viewed as [rows, C], fused with
// the activation that follows it: forward and backward side by side. OpenMP loops; the per-channel
// sums are deterministic for a fixed thread count (ChannelSums).
//
// x (and dx) and y are each fp32 or packed bf16 (the flags of the entry points): in bf16 training the
// convolution before BN writes its output in bf16 and takes its gradient in bf16 (conv.cc), and BN's
// output is a bf16 activation, so this pass reads and writes half the bytes there. The statistics and
// all arithmetic stay fp32.
#include <omp.h>

#include <cmath>
#include <vector>

#include "entry.h"
#include "numeric.h"

namespace ns {
namespace {

// y = act(gamma * (x - mean) * invstd + beta). Training: batch statistics, saved for backward, and
// the running averages updated (biased variance to normalise, unbiased into runVar); eval: the
// running statistics, copied into saveMean/saveInvstd.
template <class XT, class YT>
void BatchNormForward(const XT* x, const float* gamma, const float* beta, YT* y, float* sMean, float* sInv,
                      float* rMean, float* rVar, int64_t rows, int64_t C, double eps, bool training, double momentum,
                      int act, float alpha) {
  if (training) {
    std::vector<double> s(C), ss(C);
    ChannelSums(rows, C, s.data(), ss.data(), [&](int64_t r, float* a0, float* a1) {
      const XT* xr = x + r * C;
#pragma omp simd
      for (int64_t c = 0; c < C; c++) {
        const float v = Load(xr, c);
        a0[c] += v;
        a1[c] += v * v;
      }
    });
    for (int64_t c = 0; c < C; c++) {
      double m = s[c] / rows;
      double v = std::max(0.0, ss[c] / rows - m * m);
      sMean[c] = static_cast<float>(m);
      sInv[c] = static_cast<float>(1.0 / std::sqrt(v + eps));
      double unbiased = rows > 1 ? v * rows / (rows - 1) : v;
      rMean[c] = static_cast<float>((1 - momentum) * rMean[c] + momentum * m);
      rVar[c] = static_cast<float>((1 - momentum) * rVar[c] + momentum * unbiased);
    }
  } else {
    for (int64_t c = 0; c < C; c++) {
      sMean[c] = rMean[c];
      sInv[c] = static_cast<float>(1.0 / std::sqrt(static_cast<double>(rVar[c]) + eps));
    }
  }
  std::vector<float> scale(C), shift(C);
  for (int64_t c = 0; c < C; c++) {
    scale[c] = gamma[c] * sInv[c];
    shift[c] = beta[c] - sMean[c] * scale[c];
  }
  const float* sc = scale.data();
  const float* sh = shift.data();
#pragma omp parallel for schedule(static) if (rows * C > 262144)
  for (int64_t r = 0; r < rows; r++) {
    const XT* xr = x + r * C;
    YT* yr = y + r * C;
    switch (act) {
      case ACT_ELU:
#pragma omp simd
        for (int64_t c = 0; c < C; c++) {
          float z = Load(xr, c) * sc[c] + sh[c];
          Store(yr, c, z > 0.f ? z : alpha * (FastExp(z) - 1.f));
        }
        break;
      case ACT_RELU:
#pragma omp simd
        for (int64_t c = 0; c < C; c++) {
          float z = Load(xr, c) * sc[c] + sh[c];
          Store(yr, c, z > 0.f ? z : 0.f);
        }
        break;
      default:
        for (int64_t c = 0; c < C; c++) Store(yr, c, ActApply(act, Load(xr, c) * sc[c] + sh[c], alpha));
    }
  }
}

// From dy = dL/dy (through the activation, whose gradient comes from y; y may be null when act is
// none): dgamma, dbeta and, when dx is given, dx. Training differentiates through the batch
// statistics; eval through fixed running statistics.
template <class XT, class YT>
void BatchNormBackward(const XT* x, const YT* y, const float* dy, const float* gamma, const float* mean,
                       const float* inv, XT* dx, float* dgamma, float* dbeta, int64_t rows, int64_t C, int act,
                       float alpha, bool training) {
  std::vector<double> sdz(C), sdzx(C);
  ChannelSums(rows, C, sdz.data(), sdzx.data(), [&](int64_t r, float* a0, float* a1) {
    const XT* xr = x + r * C;
    const float* dyr = dy + r * C;
    if (act == ACT_ELU) {
      // Locals, not lambda captures, so the compiler can vectorise.
      const YT* yr = y + r * C;
      const float* mn = mean;
      const float al = alpha;
#pragma omp simd
      for (int64_t c = 0; c < C; c++) {
        const float yv = Load(yr, c);
        float dz = dyr[c] * (yv > 0.f ? 1.f : yv + al);
        a0[c] += dz;
        a1[c] += dz * (Load(xr, c) - mn[c]);
      }
    } else {
      for (int64_t c = 0; c < C; c++) {
        float dz = dyr[c] * (y ? ActGradFromY(act, Load(y, r * C + c), alpha) : 1.f);
        a0[c] += dz;
        a1[c] += dz * (Load(xr, c) - mean[c]);
      }
    }
  });
  std::vector<float> k1(C), k2(C), k3(C);
  for (int64_t c = 0; c < C; c++) {
    double sumdzxh = sdzx[c] * inv[c];
    dbeta[c] = static_cast<float>(sdz[c]);
    dgamma[c] = static_cast<float>(sumdzxh);
    double gi = static_cast<double>(gamma[c]) * inv[c];
    if (training) {
      // dx = g*inv*(dz - mean(dz) - xhat*mean(dz*xhat)), xhat = (x-mean)*inv
      k1[c] = static_cast<float>(gi);
      k2[c] = static_cast<float>(gi * sdz[c] / rows);
      k3[c] = static_cast<float>(gi * sumdzxh / rows * inv[c]);
    } else {
      k1[c] = static_cast<float>(gi);
      k2[c] = 0.f;
      k3[c] = 0.f;
    }
  }
  if (!dx) return;
  const float *K1 = k1.data(), *K2 = k2.data(), *K3 = k3.data();
#pragma omp parallel for schedule(static) if (rows * C > 262144)
  for (int64_t r = 0; r < rows; r++) {
    const XT* xr = x + r * C;
    const float* dyr = dy + r * C;
    XT* dxr = dx + r * C;
    if (act == ACT_ELU) {
      const YT* yr = y + r * C;
#pragma omp simd
      for (int64_t c = 0; c < C; c++) {
        const float yv = Load(yr, c);
        float dz = dyr[c] * (yv > 0.f ? 1.f : yv + alpha);
        Store(dxr, c, K1[c] * dz - K2[c] - K3[c] * (Load(xr, c) - mean[c]));
      }
    } else {
      for (int64_t c = 0; c < C; c++) {
        float dz = dyr[c] * (y ? ActGradFromY(act, Load(y, r * C + c), alpha) : 1.f);
        Store(dxr, c, K1[c] * dz - K2[c] - K3[c] * (Load(xr, c) - mean[c]));
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Entry points: x, y, dy and dx are [rows, c]; the per-channel buffers [c]

// bnForward({x, gamma, beta, y, saveMean, saveInvstd, runMean, runVar, rows, c, eps, training, momentum,
//            act, alpha, xBf16, yBf16}); x / y packed bf16 when xBf16 / yBf16
#define BN_FORWARD(X)                                                                                     \
  X(Buf, x) X(Buf, gamma) X(Buf, beta) X(Buf, y) X(Buf, saveMean) X(Buf, saveInvstd) X(Buf, runMean)      \
      X(Buf, runVar) X(Size, rows) X(Size, c) X(F64, eps) X(Flag, training) X(F64, momentum) X(Code, act) \
          X(F32, alpha) X(Flag, xBf16) X(Flag, yBf16)
NS_ENTRY(bnForward, Options, Void, BN_FORWARD) {
  const int64_t n = a.rows * a.c;
  const void* x = a.x.NeedAs(a.xBf16, n);
  const float* gamma = a.gamma.Need(a.c);
  const float* beta = a.beta.Need(a.c);
  void* y = a.y.NeedAs(a.yBf16, n);
  float* saveMean = a.saveMean.Need(a.c);
  float* saveInvstd = a.saveInvstd.Need(a.c);
  float* runMean = a.runMean.Need(a.c);
  float* runVar = a.runVar.Need(a.c);
  WithStorages(a.xBf16, a.yBf16, [&](auto xs, auto ys) {
    using XT = decltype(xs);
    BatchNormForward(static_cast<const XT*>(x), gamma, beta, static_cast<decltype(ys)*>(y), saveMean, saveInvstd,
                     runMean, runVar, a.rows, a.c, a.eps, a.training, a.momentum, a.act, a.alpha);
  });
}

// bnBackward({x, y, dy, gamma, mean, invstd, dx, dgamma, dbeta, rows, c, act, alpha, training, xBf16,
//             yBf16}); x and dx packed bf16 when xBf16, y when yBf16; y may be null when act is none,
//             dx when only dgamma and dbeta are wanted
#define BN_BACKWARD(X)                                                                                        \
  X(Buf, x) X(OptBuf, y) X(Buf, dy) X(Buf, gamma) X(Buf, mean) X(Buf, invstd) X(OptBuf, dx) X(Buf, dgamma) \
      X(Buf, dbeta) X(Size, rows) X(Size, c) X(Code, act) X(F32, alpha) X(Flag, training) X(Flag, xBf16)    \
          X(Flag, yBf16)
NS_ENTRY(bnBackward, Options, Void, BN_BACKWARD) {
  const int64_t n = a.rows * a.c;
  const void* x = a.x.NeedAs(a.xBf16, n);
  // The activation's gradient is computed from its output: y is needed unless act is none.
  const void* y = a.act == ACT_NONE ? nullptr : a.y.NeedAs(a.yBf16, n);
  const float* dy = a.dy.Need(n);
  const float* gamma = a.gamma.Need(a.c);
  const float* mean = a.mean.Need(a.c);
  const float* invstd = a.invstd.Need(a.c);
  void* dx = a.dx.NeedAsIfPresent(a.xBf16, n);
  float* dgamma = a.dgamma.Need(a.c);
  float* dbeta = a.dbeta.Need(a.c);
  WithStorages(a.xBf16, a.yBf16, [&](auto xs, auto ys) {
    using XT = decltype(xs);  // dx has x's storage
    BatchNormBackward(static_cast<const XT*>(x), static_cast<const decltype(ys)*>(y), dy, gamma, mean, invstd,
                      static_cast<XT*>(dx), dgamma, dbeta, a.rows, a.c, a.act, a.alpha, a.training);
  });
}

}  // namespace
}  // namespace ns
