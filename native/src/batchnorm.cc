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
// Entry points: arguments in field order (see the signatures in src/engine/native.ts)

// bnForward(x, gamma, beta, y, saveMean, saveInvstd, runMean, runVar, rows, C, eps, training, momentum, act, alpha,
//           xBf16, yBf16)
struct BnForwardArgs {
  const void* x;
  const float *gamma, *beta;
  void* y;
  float *saveMean, *saveInvstd, *runMean, *runVar;
  int64_t rows, C;
  double eps;
  bool training;
  double momentum;
  int act;
  float alpha;
  bool xBf16, yBf16;
  static BnForwardArgs From(const Napi::CallbackInfo& info) {
    ArgReader r(info, "bnForward");
    F32Arg x = r.F32("x"), gamma = r.F32("gamma"), beta = r.F32("beta"), y = r.F32("y");
    F32Arg saveMean = r.F32("saveMean"), saveInvstd = r.F32("saveInvstd");
    F32Arg runMean = r.F32("runMean"), runVar = r.F32("runVar");
    BnForwardArgs a;
    a.rows = r.Int("rows");
    a.C = r.Int("C");
    a.eps = r.Number("eps");
    a.training = r.Flag("training");
    a.momentum = r.Number("momentum");
    a.act = static_cast<int>(r.Int("act"));
    a.alpha = static_cast<float>(r.Number("alpha"));
    a.xBf16 = r.Flag("xBf16");
    a.yBf16 = r.Flag("yBf16");
    r.End();
    a.x = x.NeedAs(a.xBf16, a.rows * a.C);
    a.gamma = gamma.Need(a.C);
    a.beta = beta.Need(a.C);
    a.y = y.NeedAs(a.yBf16, a.rows * a.C);
    a.saveMean = saveMean.Need(a.C);
    a.saveInvstd = saveInvstd.Need(a.C);
    a.runMean = runMean.Need(a.C);
    a.runVar = runVar.Need(a.C);
    return a;
  }
};

Napi::Value BnForwardEntry(const Napi::CallbackInfo& info) {
  BnForwardArgs a = BnForwardArgs::From(info);
  auto run = [&](auto* x, auto* y) {
    BatchNormForward(x, a.gamma, a.beta, y, a.saveMean, a.saveInvstd, a.runMean, a.runVar, a.rows, a.C, a.eps,
                     a.training, a.momentum, a.act, a.alpha);
  };
  auto x16 = static_cast<const uint16_t*>(a.x);
  auto x32 = static_cast<const float*>(a.x);
  auto y16 = static_cast<uint16_t*>(a.y);
  auto y32 = static_cast<float*>(a.y);
  if (a.xBf16)
    a.yBf16 ? run(x16, y16) : run(x16, y32);
  else
    a.yBf16 ? run(x32, y16) : run(x32, y32);
  return info.Env().Undefined();
}

// bnBackward(x, y|null, dy, gamma, mean, invstd, dx|null, dgamma, dbeta, rows, C, act, alpha, training, xBf16,
//            yBf16); x and dx are packed bf16 when xBf16, y when yBf16
struct BnBackwardArgs {
  const void *x, *y;
  const float *dy, *gamma, *mean, *invstd;
  void* dx;
  float *dgamma, *dbeta;
  int64_t rows, C;
  int act;
  float alpha;
  bool training, xBf16, yBf16;
  static BnBackwardArgs From(const Napi::CallbackInfo& info) {
    ArgReader r(info, "bnBackward");
    F32Arg x = r.F32("x"), y = r.F32Opt("y"), dy = r.F32("dy"), gamma = r.F32("gamma");
    F32Arg mean = r.F32("mean"), invstd = r.F32("invstd");
    F32Arg dx = r.F32Opt("dx"), dgamma = r.F32("dgamma"), dbeta = r.F32("dbeta");
    BnBackwardArgs a;
    a.rows = r.Int("rows");
    a.C = r.Int("C");
    a.act = static_cast<int>(r.Int("act"));
    a.alpha = static_cast<float>(r.Number("alpha"));
    a.training = r.Flag("training");
    a.xBf16 = r.Flag("xBf16");
    a.yBf16 = r.Flag("yBf16");
    r.End();
    a.x = x.NeedAs(a.xBf16, a.rows * a.C);
    // The activation's gradient is computed from its output: y is needed unless act is none.
    a.y = a.act == ACT_NONE ? nullptr : y.NeedAs(a.yBf16, a.rows * a.C);
    a.dy = dy.Need(a.rows * a.C);
    a.gamma = gamma.Need(a.C);
    a.mean = mean.Need(a.C);
    a.invstd = invstd.Need(a.C);
    a.dx = dx.present ? dx.NeedAs(a.xBf16, a.rows * a.C) : nullptr;
    a.dgamma = dgamma.Need(a.C);
    a.dbeta = dbeta.Need(a.C);
    return a;
  }
};

Napi::Value BnBackwardEntry(const Napi::CallbackInfo& info) {
  BnBackwardArgs a = BnBackwardArgs::From(info);
  auto run = [&](auto* x, auto* dx, auto* y) {
    BatchNormBackward(x, y, a.dy, a.gamma, a.mean, a.invstd, dx, a.dgamma, a.dbeta, a.rows, a.C, a.act, a.alpha,
                      a.training);
  };
  auto x16 = static_cast<const uint16_t*>(a.x);
  auto x32 = static_cast<const float*>(a.x);
  auto dx16 = static_cast<uint16_t*>(a.dx);
  auto dx32 = static_cast<float*>(a.dx);
  auto y16 = static_cast<const uint16_t*>(a.y);
  auto y32 = static_cast<const float*>(a.y);
  if (a.xBf16)
    a.yBf16 ? run(x16, dx16, y16) : run(x16, dx16, y32);
  else
    a.yBf16 ? run(x32, dx32, y16) : run(x32, dx32, y32);
  return info.Env().Undefined();
}

}  // namespace

void RegisterBatchNorm(Napi::Env env, Napi::Object exports) {
  NS_EXPORT("bnForward", BnForwardEntry);
  NS_EXPORT("bnBackward", BnBackwardEntry);
}

}  // namespace ns
