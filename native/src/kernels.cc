// Memory-bound kernels (batch norm fused with its activation, pooling, upsampling, channel
// concat, elementwise ops, optimizers) written as OpenMP loops over the NHWC layout, plus
// GEMM-based dense and 2x2/stride-2 transposed convolution. Reductions use a fixed static
// split per thread and combine in thread order, so results are deterministic for a fixed
// thread count.
#include <omp.h>

#include <cmath>
#include <vector>

#include "common.h"

namespace ns {
namespace {

// exp for the activations: Cephes-style range reduction + polynomial (about 1 ulp), written so
// `omp simd` loops vectorise it (libm's expf would be a scalar call per element).
inline float FastExp(float x) {
  x = std::min(88.f, std::max(-87.f, x));
  float n = std::floor(x * 1.44269504088896341f + 0.5f);
  float r = x - n * 0.693359375f + n * 2.12194440e-4f;
  float p = 1.9875691500E-4f;
  p = p * r + 1.3981999507E-3f;
  p = p * r + 8.3334519073E-3f;
  p = p * r + 4.1665795894E-2f;
  p = p * r + 1.6666665459E-1f;
  p = p * r + 5.0000001201E-1f;
  p = p * r * r + r + 1.f;
  union {
    int32_t i;
    float f;
  } u;
  u.i = (static_cast<int32_t>(n) + 127) << 23;
  return p * u.f;
}

inline float ActGradFromY(int act, float y, float alpha) {
  switch (act) {
    case ACT_ELU: return y > 0.f ? 1.f : y + alpha;
    case ACT_RELU: return y > 0.f ? 1.f : 0.f;
    case ACT_SIGMOID: return y * (1.f - y);
    default: return 1.f;
  }
}

inline float ActApply(int act, float z, float alpha) {
  switch (act) {
    case ACT_ELU: return z > 0.f ? z : alpha * (FastExp(z) - 1.f);
    case ACT_RELU: return z > 0.f ? z : 0.f;
    case ACT_SIGMOID: return 1.f / (1.f + FastExp(-z));
    default: return z;
  }
}

// Per-channel sums over rows of an NHWC tensor: out0[c] = sum f0, out1[c] = sum f1.
template <typename Fn>
void ChannelSums(int64_t rows, int64_t C, double* out0, double* out1, Fn fn) {
  int T = rows * C > 262144 ? omp_get_max_threads() : 1;  // small work: a parallel region costs more
  std::vector<double> part(static_cast<size_t>(T) * 2 * C, 0.0);
#pragma omp parallel num_threads(T)
  {
    int t = omp_get_thread_num();
    int nt = omp_get_num_threads();
    int64_t r0 = rows * t / nt, r1 = rows * (t + 1) / nt;
    double* p0 = &part[static_cast<size_t>(t) * 2 * C];
    double* p1 = p0 + C;
    std::vector<float> a0(C), a1(C);
    // Float partials over short runs of rows, folded into doubles: fast and accurate enough.
    for (int64_t r = r0; r < r1; r += 64) {
      int64_t re = std::min(r1, r + 64);
      std::fill(a0.begin(), a0.end(), 0.f);
      std::fill(a1.begin(), a1.end(), 0.f);
      for (int64_t q = r; q < re; q++) fn(q, a0.data(), a1.data());
      for (int64_t c = 0; c < C; c++) {
        p0[c] += a0[c];
        p1[c] += a1[c];
      }
    }
  }
  for (int64_t c = 0; c < C; c++) out0[c] = out1[c] = 0.0;
  for (int t = 0; t < T; t++) {
    const double* p0 = &part[static_cast<size_t>(t) * 2 * C];
    for (int64_t c = 0; c < C; c++) {
      out0[c] += p0[c];
      out1[c] += p0[C + c];
    }
  }
}

// bnForward(x, gamma, beta, y, saveMean, saveInvstd, runMean, runVar, rows, C, eps, training, momentum, act, alpha)
Napi::Value BnForward(const Napi::CallbackInfo& info) {
  int64_t rows = I(info, 8, "rows"), C = I(info, 9, "C");
  float* x = F32(info, 0, rows * C, "bn x");
  float* gamma = F32(info, 1, C, "bn gamma");
  float* beta = F32(info, 2, C, "bn beta");
  float* y = F32(info, 3, rows * C, "bn y");
  float* sMean = F32(info, 4, C, "bn saveMean");
  float* sInv = F32(info, 5, C, "bn saveInvstd");
  float* rMean = F32(info, 6, C, "bn runMean");
  float* rVar = F32(info, 7, C, "bn runVar");
  double eps = D(info, 10, "eps");
  bool training = B(info, 11);
  double momentum = D(info, 12, "momentum");
  int act = static_cast<int>(I(info, 13, "act"));
  float alpha = static_cast<float>(D(info, 14, "alpha"));
  if (training) {
    std::vector<double> s(C), ss(C);
    ChannelSums(rows, C, s.data(), ss.data(), [&](int64_t r, float* a0, float* a1) {
      const float* xr = x + r * C;
#pragma omp simd
      for (int64_t c = 0; c < C; c++) {
        a0[c] += xr[c];
        a1[c] += xr[c] * xr[c];
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
    const float* xr = x + r * C;
    float* yr = y + r * C;
    switch (act) {
      case ACT_ELU:
#pragma omp simd
        for (int64_t c = 0; c < C; c++) {
          float z = xr[c] * sc[c] + sh[c];
          yr[c] = z > 0.f ? z : alpha * (FastExp(z) - 1.f);
        }
        break;
      case ACT_RELU:
#pragma omp simd
        for (int64_t c = 0; c < C; c++) {
          float z = xr[c] * sc[c] + sh[c];
          yr[c] = z > 0.f ? z : 0.f;
        }
        break;
      default:
        for (int64_t c = 0; c < C; c++) yr[c] = ActApply(act, xr[c] * sc[c] + sh[c], alpha);
    }
  }
  return info.Env().Undefined();
}

// bnBackward(x, y, dy, gamma, saveMean, saveInvstd, dx, dgamma, dbeta, rows, C, act, alpha, training)
// Training: gradient through the batch statistics; eval: through fixed running statistics.
Napi::Value BnBackward(const Napi::CallbackInfo& info) {
  int64_t rows = I(info, 9, "rows"), C = I(info, 10, "C");
  float* x = F32(info, 0, rows * C, "bn x");
  int act = static_cast<int>(I(info, 11, "act"));
  float* y = act == ACT_NONE ? nullptr : F32(info, 1, rows * C, "bn y");
  float* dy = F32(info, 2, rows * C, "bn dy");
  float* gamma = F32(info, 3, C, "bn gamma");
  float* mean = F32(info, 4, C, "bn mean");
  float* inv = F32(info, 5, C, "bn invstd");
  float* dx = F32opt(info, 6, rows * C, "bn dx");
  float* dgamma = F32(info, 7, C, "bn dgamma");
  float* dbeta = F32(info, 8, C, "bn dbeta");
  float alpha = static_cast<float>(D(info, 12, "alpha"));
  bool training = B(info, 13);
  std::vector<double> sdz(C), sdzx(C);
  ChannelSums(rows, C, sdz.data(), sdzx.data(), [&](int64_t r, float* a0, float* a1) {
    const float* xr = x + r * C;
    const float* dyr = dy + r * C;
    if (act == ACT_ELU) {
      // Locals, not lambda captures, so the compiler can vectorise.
      const float* yr = y + r * C;
      const float* mn = mean;
      const float al = alpha;
#pragma omp simd
      for (int64_t c = 0; c < C; c++) {
        float dz = dyr[c] * (yr[c] > 0.f ? 1.f : yr[c] + al);
        a0[c] += dz;
        a1[c] += dz * (xr[c] - mn[c]);
      }
    } else {
      for (int64_t c = 0; c < C; c++) {
        float dz = dyr[c] * (y ? ActGradFromY(act, y[r * C + c], alpha) : 1.f);
        a0[c] += dz;
        a1[c] += dz * (xr[c] - mean[c]);
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
  if (!dx) return info.Env().Undefined();
  const float *K1 = k1.data(), *K2 = k2.data(), *K3 = k3.data();
#pragma omp parallel for schedule(static) if (rows * C > 262144)
  for (int64_t r = 0; r < rows; r++) {
    const float* xr = x + r * C;
    const float* dyr = dy + r * C;
    float* dxr = dx + r * C;
    if (act == ACT_ELU) {
      const float* yr = y + r * C;
#pragma omp simd
      for (int64_t c = 0; c < C; c++) {
        float dz = dyr[c] * (yr[c] > 0.f ? 1.f : yr[c] + alpha);
        dxr[c] = K1[c] * dz - K2[c] - K3[c] * (xr[c] - mean[c]);
      }
    } else {
      for (int64_t c = 0; c < C; c++) {
        float dz = dyr[c] * (y ? ActGradFromY(act, y[r * C + c], alpha) : 1.f);
        dxr[c] = K1[c] * dz - K2[c] - K3[c] * (xr[c] - mean[c]);
      }
    }
  }
  return info.Env().Undefined();
}

// unaryForward(act, x, y, n, alpha)
Napi::Value UnaryForward(const Napi::CallbackInfo& info) {
  int act = static_cast<int>(I(info, 0, "act"));
  int64_t n = I(info, 3, "n");
  float* x = F32(info, 1, n, "x");
  float* y = F32(info, 2, n, "y");
  float alpha = static_cast<float>(D(info, 4, "alpha"));
#pragma omp parallel for simd schedule(static) if (n > 262144)
  for (int64_t i = 0; i < n; i++) y[i] = ActApply(act, x[i], alpha);
  return info.Env().Undefined();
}

// unaryBackward(act, y, dy, dx, n, alpha): gradient from the op's output.
Napi::Value UnaryBackward(const Napi::CallbackInfo& info) {
  int act = static_cast<int>(I(info, 0, "act"));
  int64_t n = I(info, 4, "n");
  float* y = F32(info, 1, n, "y");
  float* dy = F32(info, 2, n, "dy");
  float* dx = F32(info, 3, n, "dx");
  float alpha = static_cast<float>(D(info, 5, "alpha"));
#pragma omp parallel for schedule(static) if (n > 262144)
  for (int64_t i = 0; i < n; i++) dx[i] = dy[i] * ActGradFromY(act, y[i], alpha);
  return info.Env().Undefined();
}

// binary(op, a, b, y, n): 0 add, 1 mul, 2 sub
Napi::Value Binary(const Napi::CallbackInfo& info) {
  int op = static_cast<int>(I(info, 0, "op"));
  int64_t n = I(info, 4, "n");
  float* a = F32(info, 1, n, "a");
  float* b = F32(info, 2, n, "b");
  float* y = F32(info, 3, n, "y");
#pragma omp parallel for schedule(static) if (n > 262144)
  for (int64_t i = 0; i < n; i++) y[i] = op == 0 ? a[i] + b[i] : op == 1 ? a[i] * b[i] : a[i] - b[i];
  return info.Env().Undefined();
}

// axpby(y, x, a, b, n): y = b*y + a*x
Napi::Value Axpby(const Napi::CallbackInfo& info) {
  int64_t n = I(info, 4, "n");
  float* y = F32(info, 0, n, "y");
  float* x = F32(info, 1, n, "x");
  float a = static_cast<float>(D(info, 2, "a")), b = static_cast<float>(D(info, 3, "b"));
#pragma omp parallel for schedule(static) if (n > 262144)
  for (int64_t i = 0; i < n; i++) y[i] = b * y[i] + a * x[i];
  return info.Env().Undefined();
}

// fill(y, value, n)
Napi::Value Fill(const Napi::CallbackInfo& info) {
  int64_t n = I(info, 2, "n");
  float* y = F32(info, 0, n, "y");
  float v = static_cast<float>(D(info, 1, "value"));
#pragma omp parallel for schedule(static) if (n > 262144)
  for (int64_t i = 0; i < n; i++) y[i] = v;
  return info.Env().Undefined();
}

// sumSquares(x, n) -> double, deterministic for a fixed thread count.
Napi::Value SumSquares(const Napi::CallbackInfo& info) {
  int64_t n = I(info, 1, "n");
  float* x = F32(info, 0, n, "x");
  double s = 0;
  ChannelSums(n, 1, &s, &s + 0, [&](int64_t r, float* a0, float*) { a0[0] += x[r] * x[r]; });
  return Napi::Number::New(info.Env(), s);
}

// maxPoolForward(x, y, n, h, w, c): 2x2 window, stride 2, floor.
Napi::Value MaxPoolForward(const Napi::CallbackInfo& info) {
  int64_t N = I(info, 2, "n"), H = I(info, 3, "h"), W = I(info, 4, "w"), C = I(info, 5, "c");
  int64_t OH = H / 2, OW = W / 2;
  float* x = F32(info, 0, N * H * W * C, "pool x");
  float* y = F32(info, 1, N * OH * OW * C, "pool y");
#pragma omp parallel for schedule(static) if (N * H * W * C > 262144)
  for (int64_t no = 0; no < N * OH; no++) {
    int64_t n = no / OH, oh = no % OH;
    for (int64_t ow = 0; ow < OW; ow++) {
      const float* a = x + ((n * H + 2 * oh) * W + 2 * ow) * C;
      const float* b = a + C;
      const float* c2 = a + W * C;
      const float* d = c2 + C;
      float* yr = y + ((n * OH + oh) * OW + ow) * C;
#pragma omp simd
      for (int64_t c = 0; c < C; c++) yr[c] = std::max(std::max(a[c], b[c]), std::max(c2[c], d[c]));
    }
  }
  return info.Env().Undefined();
}

// maxPoolBackward(x, y, dy, dx, n, h, w, c): the gradient goes to the first maximum in the window.
Napi::Value MaxPoolBackward(const Napi::CallbackInfo& info) {
  int64_t N = I(info, 4, "n"), H = I(info, 5, "h"), W = I(info, 6, "w"), C = I(info, 7, "c");
  int64_t OH = H / 2, OW = W / 2;
  float* x = F32(info, 0, N * H * W * C, "pool x");
  float* y = F32(info, 1, N * OH * OW * C, "pool y");
  float* dy = F32(info, 2, N * OH * OW * C, "pool dy");
  float* dx = F32(info, 3, N * H * W * C, "pool dx");
#pragma omp parallel for schedule(static) if (N * H * W * C > 262144)
  for (int64_t nh = 0; nh < N * H; nh++) {
    int64_t n = nh / H, h = nh % H;
    float* dxr = dx + nh * W * C;
    if (h / 2 >= OH) {
      std::memset(dxr, 0, sizeof(float) * W * C);
      continue;
    }
    int64_t oh = h / 2, dh = h % 2;
    for (int64_t w = 0; w < W; w++) {
      float* o = dxr + w * C;
      int64_t ow = w / 2, dw = w % 2;
      if (ow >= OW) {
        for (int64_t c = 0; c < C; c++) o[c] = 0.f;
        continue;
      }
      int64_t pos = dh * 2 + dw;
      const float* base = x + ((n * H + 2 * oh) * W + 2 * ow) * C;
      const float* yr = y + ((n * OH + oh) * OW + ow) * C;
      const float* dyr = dy + ((n * OH + oh) * OW + ow) * C;
      const float* xs[4] = {base, base + C, base + W * C, base + W * C + C};
      for (int64_t c = 0; c < C; c++) {
        int first = xs[0][c] == yr[c] ? 0 : xs[1][c] == yr[c] ? 1 : xs[2][c] == yr[c] ? 2 : 3;
        o[c] = first == pos ? dyr[c] : 0.f;
      }
    }
  }
  return info.Env().Undefined();
}

// upsampleForward(x, y, n, h, w, c): nearest, 2x.
Napi::Value UpsampleForward(const Napi::CallbackInfo& info) {
  int64_t N = I(info, 2, "n"), H = I(info, 3, "h"), W = I(info, 4, "w"), C = I(info, 5, "c");
  float* x = F32(info, 0, N * H * W * C, "up x");
  float* y = F32(info, 1, N * H * W * C * 4, "up y");
#pragma omp parallel for schedule(static) if (N * H * W * C > 65536)
  for (int64_t nh = 0; nh < N * H * 2; nh++) {
    int64_t n = nh / (2 * H), oh = nh % (2 * H);
    const float* xr = x + (n * H + oh / 2) * W * C;
    float* yr = y + nh * 2 * W * C;
    for (int64_t w = 0; w < W; w++) {
      std::memcpy(yr + 2 * w * C, xr + w * C, sizeof(float) * C);
      std::memcpy(yr + (2 * w + 1) * C, xr + w * C, sizeof(float) * C);
    }
  }
  return info.Env().Undefined();
}

// upsampleBackward(dy, dx, n, h, w, c): h, w of the small (input) side.
Napi::Value UpsampleBackward(const Napi::CallbackInfo& info) {
  int64_t N = I(info, 2, "n"), H = I(info, 3, "h"), W = I(info, 4, "w"), C = I(info, 5, "c");
  float* dy = F32(info, 0, N * H * W * C * 4, "up dy");
  float* dx = F32(info, 1, N * H * W * C, "up dx");
#pragma omp parallel for schedule(static) if (N * H * W * C > 65536)
  for (int64_t nh = 0; nh < N * H; nh++) {
    int64_t n = nh / H, h = nh % H;
    const float* r0 = dy + (n * 2 * H + 2 * h) * 2 * W * C;
    const float* r1 = r0 + 2 * W * C;
    float* o = dx + nh * W * C;
    for (int64_t w = 0; w < W; w++) {
      const float *a = r0 + 2 * w * C, *b = a + C, *c2 = r1 + 2 * w * C, *d = c2 + C;
      float* ow = o + w * C;
#pragma omp simd
      for (int64_t c = 0; c < C; c++) ow[c] = (a[c] + b[c]) + (c2[c] + d[c]);
    }
  }
  return info.Env().Undefined();
}

// upsampleConcatForward(x, skip, y, n, h, w, cx, cs): y = concat(upsample2x(x), skip) on channels,
// written in one pass (no separate upsampled tensor).
Napi::Value UpsampleConcatForward(const Napi::CallbackInfo& info) {
  int64_t N = I(info, 3, "n"), H = I(info, 4, "h"), W = I(info, 5, "w"), CX = I(info, 6, "cx"), CS = I(info, 7, "cs");
  int64_t C = CX + CS;
  float* x = F32(info, 0, N * H * W * CX, "x");
  float* skip = F32(info, 1, N * 4 * H * W * CS, "skip");
  float* y = F32(info, 2, N * 4 * H * W * C, "y");
#pragma omp parallel for schedule(static) if (N * H * W * C > 65536)
  for (int64_t nh = 0; nh < N * H * 2; nh++) {
    int64_t n = nh / (2 * H), oh = nh % (2 * H);
    const float* xr = x + (n * H + oh / 2) * W * CX;
    const float* sr = skip + nh * 2 * W * CS;
    float* yr = y + nh * 2 * W * C;
    for (int64_t ow = 0; ow < 2 * W; ow++) {
      std::memcpy(yr + ow * C, xr + (ow / 2) * CX, sizeof(float) * CX);
      std::memcpy(yr + ow * C + CX, sr + ow * CS, sizeof(float) * CS);
    }
  }
  return info.Env().Undefined();
}

// upsampleConcatBackward(dy, dx|null, dskip|null, n, h, w, cx, cs)
Napi::Value UpsampleConcatBackward(const Napi::CallbackInfo& info) {
  int64_t N = I(info, 3, "n"), H = I(info, 4, "h"), W = I(info, 5, "w"), CX = I(info, 6, "cx"), CS = I(info, 7, "cs");
  int64_t C = CX + CS;
  float* dy = F32(info, 0, N * 4 * H * W * C, "dy");
  float* dx = F32opt(info, 1, N * H * W * CX, "dx");
  float* ds = F32opt(info, 2, N * 4 * H * W * CS, "dskip");
#pragma omp parallel for schedule(static) if (N * H * W * C > 65536)
  for (int64_t nh = 0; nh < N * H; nh++) {
    int64_t n = nh / H, h = nh % H;
    const float* r0 = dy + (n * 2 * H + 2 * h) * 2 * W * C;
    const float* r1 = r0 + 2 * W * C;
    if (dx) {
      float* o = dx + nh * W * CX;
      for (int64_t w = 0; w < W; w++) {
        const float *a = r0 + 2 * w * C, *b = a + C, *c2 = r1 + 2 * w * C, *d = c2 + C;
        float* ow = o + w * CX;
#pragma omp simd
        for (int64_t c = 0; c < CX; c++) ow[c] = (a[c] + b[c]) + (c2[c] + d[c]);
      }
    }
    if (ds) {
      for (int64_t k = 0; k < 2; k++) {
        const float* rr = k ? r1 : r0;
        float* o = ds + ((n * 2 * H + 2 * h + k) * 2 * W) * CS;
        for (int64_t w = 0; w < 2 * W; w++) std::memcpy(o + w * CS, rr + w * C + CX, sizeof(float) * CS);
      }
    }
  }
  return info.Env().Undefined();
}

// channelCopy(src, dst, rows, srcC, srcOff, dstC, dstOff, count): dst[r, dstOff+i] = src[r, srcOff+i]
Napi::Value ChannelCopy(const Napi::CallbackInfo& info) {
  int64_t rows = I(info, 2, "rows"), sC = I(info, 3, "srcC"), sO = I(info, 4, "srcOff");
  int64_t dC = I(info, 5, "dstC"), dO = I(info, 6, "dstOff"), k = I(info, 7, "count");
  if (sO + k > sC || dO + k > dC) throw ArgError("channelCopy: channel range out of bounds");
  float* src = F32(info, 0, rows * sC, "src");
  float* dst = F32(info, 1, rows * dC, "dst");
#pragma omp parallel for schedule(static) if (rows * k > 262144)
  for (int64_t r = 0; r < rows; r++) std::memcpy(dst + r * dC + dO, src + r * sC + sO, sizeof(float) * k);
  return info.Env().Undefined();
}

// gemm(transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc): row-major, oneDNN sgemm.
Napi::Value Gemm(const Napi::CallbackInfo& info) {
  bool ta = B(info, 0), tb = B(info, 1);
  int64_t M = I(info, 2, "M"), N = I(info, 3, "N"), K = I(info, 4, "K");
  float alpha = static_cast<float>(D(info, 5, "alpha"));
  int64_t lda = I(info, 7, "lda"), ldb = I(info, 9, "ldb"), ldc = I(info, 12, "ldc");
  float beta = static_cast<float>(D(info, 10, "beta"));
  int64_t aRows = ta ? K : M, bRows = tb ? N : K;
  float* A = F32(info, 6, aRows * lda, "A");
  float* Bm = F32(info, 8, bRows * ldb, "B");
  float* Cm = F32(info, 11, M * ldc, "C");
  if (dnnl_sgemm(ta ? 'T' : 'N', tb ? 'T' : 'N', M, N, K, alpha, A, lda, Bm, ldb, beta, Cm, ldc) != dnnl_success)
    throw std::runtime_error("sgemm failed");
  return info.Env().Undefined();
}

std::vector<float>& Scratch(size_t n) {
  static std::vector<float> s;
  if (s.size() < n) s.resize(n);
  return s;
}

// Rows of dy that tap (a, b) of the 2x2 kernel, gathered into a dense P x Cout matrix.
void GatherTap(const float* dy, float* g, int64_t N, int64_t H, int64_t W, int64_t Co, int a, int b) {
#pragma omp parallel for schedule(static)
  for (int64_t ni = 0; ni < N * H; ni++) {
    int64_t n = ni / H, i = ni % H;
    for (int64_t j = 0; j < W; j++)
      std::memcpy(g + (ni * W + j) * Co, dy + ((n * 2 * H + 2 * i + a) * 2 * W + 2 * j + b) * Co, sizeof(float) * Co);
  }
}

// deconvForward(x, w, b|null, y, n, h, w, cin, cout): 2x2 kernel, stride 2, w is [2,2,cin,cout].
Napi::Value DeconvForward(const Napi::CallbackInfo& info) {
  int64_t N = I(info, 4, "n"), H = I(info, 5, "h"), W = I(info, 6, "w"), Ci = I(info, 7, "cin"),
          Co = I(info, 8, "cout");
  float* x = F32(info, 0, N * H * W * Ci, "deconv x");
  float* w = F32(info, 1, 4 * Ci * Co, "deconv w");
  float* b = F32opt(info, 2, Co, "deconv b");
  float* y = F32(info, 3, N * H * W * Co * 4, "deconv y");
  int64_t P = N * H * W;
  float* t = Scratch(P * Co).data();
  for (int ab = 0; ab < 4; ab++) {
    dnnl_sgemm('N', 'N', P, Co, Ci, 1.f, x, Ci, w + ab * Ci * Co, Co, 0.f, t, Co);
    int a = ab / 2, bb = ab % 2;
#pragma omp parallel for schedule(static)
    for (int64_t ni = 0; ni < N * H; ni++) {
      int64_t n = ni / H, i = ni % H;
      for (int64_t j = 0; j < W; j++) {
        float* o = y + ((n * 2 * H + 2 * i + a) * 2 * W + 2 * j + bb) * Co;
        const float* s = t + (ni * W + j) * Co;
        for (int64_t c = 0; c < Co; c++) o[c] = s[c] + (b ? b[c] : 0.f);
      }
    }
  }
  return info.Env().Undefined();
}

// deconvBackwardData(dy, w, dx, n, h, w, cin, cout)
Napi::Value DeconvBackwardData(const Napi::CallbackInfo& info) {
  int64_t N = I(info, 3, "n"), H = I(info, 4, "h"), W = I(info, 5, "w"), Ci = I(info, 6, "cin"),
          Co = I(info, 7, "cout");
  float* dy = F32(info, 0, N * H * W * Co * 4, "deconv dy");
  float* w = F32(info, 1, 4 * Ci * Co, "deconv w");
  float* dx = F32(info, 2, N * H * W * Ci, "deconv dx");
  int64_t P = N * H * W;
  float* g = Scratch(P * Co).data();
  for (int ab = 0; ab < 4; ab++) {
    GatherTap(dy, g, N, H, W, Co, ab / 2, ab % 2);
    dnnl_sgemm('N', 'T', P, Ci, Co, 1.f, g, Co, w + ab * Ci * Co, Co, ab ? 1.f : 0.f, dx, Ci);
  }
  return info.Env().Undefined();
}

// deconvBackwardWeights(x, dy, dw, db|null, n, h, w, cin, cout)
Napi::Value DeconvBackwardWeights(const Napi::CallbackInfo& info) {
  int64_t N = I(info, 4, "n"), H = I(info, 5, "h"), W = I(info, 6, "w"), Ci = I(info, 7, "cin"),
          Co = I(info, 8, "cout");
  float* x = F32(info, 0, N * H * W * Ci, "deconv x");
  float* dy = F32(info, 1, N * H * W * Co * 4, "deconv dy");
  float* dw = F32(info, 2, 4 * Ci * Co, "deconv dw");
  float* db = F32opt(info, 3, Co, "deconv db");
  int64_t P = N * H * W;
  float* g = Scratch(P * Co).data();
  for (int ab = 0; ab < 4; ab++) {
    GatherTap(dy, g, N, H, W, Co, ab / 2, ab % 2);
    dnnl_sgemm('T', 'N', Ci, Co, P, 1.f, x, Ci, g, Co, 0.f, dw + ab * Ci * Co, Co);
  }
  if (db) {
    std::vector<double> s(Co), unused(Co);
    ChannelSums(P * 4, Co, s.data(), unused.data(), [&](int64_t r, float* a0, float*) {
      const float* d = dy + r * Co;
      for (int64_t c = 0; c < Co; c++) a0[c] += d[c];
    });
    for (int64_t c = 0; c < Co; c++) db[c] = static_cast<float>(s[c]);
  }
  return info.Env().Undefined();
}

// columnSums(x, out, rows, cols): out[c] = sum_r x[r, c] (bias gradients).
Napi::Value ColumnSums(const Napi::CallbackInfo& info) {
  int64_t rows = I(info, 2, "rows"), C = I(info, 3, "cols");
  float* x = F32(info, 0, rows * C, "x");
  float* out = F32(info, 1, C, "out");
  std::vector<double> s(C), unused(C);
  ChannelSums(rows, C, s.data(), unused.data(), [&](int64_t r, float* a0, float*) {
    const float* d = x + r * C;
    for (int64_t c = 0; c < C; c++) a0[c] += d[c];
  });
  for (int64_t c = 0; c < C; c++) out[c] = static_cast<float>(s[c]);
  return info.Env().Undefined();
}

// globalAvgPoolForward(x, y, n, hw, c): y[i, k] = mean over hw of x[i, :, k]
Napi::Value GlobalAvgPoolForward(const Napi::CallbackInfo& info) {
  int64_t N = I(info, 2, "n"), HW = I(info, 3, "hw"), C = I(info, 4, "c");
  float* x = F32(info, 0, N * HW * C, "x");
  float* y = F32(info, 1, N * C, "y");
#pragma omp parallel for schedule(static) if (N * HW * C > 262144)
  for (int64_t i = 0; i < N; i++) {
    std::vector<double> acc(C, 0.0);
    for (int64_t p = 0; p < HW; p++) {
      const float* xr = x + (i * HW + p) * C;
      for (int64_t k = 0; k < C; k++) acc[k] += xr[k];
    }
    for (int64_t k = 0; k < C; k++) y[i * C + k] = static_cast<float>(acc[k] / HW);
  }
  return info.Env().Undefined();
}

// globalAvgPoolBackward(dy, dx, n, hw, c): dx[i, p, k] = dy[i, k] / hw
Napi::Value GlobalAvgPoolBackward(const Napi::CallbackInfo& info) {
  int64_t N = I(info, 2, "n"), HW = I(info, 3, "hw"), C = I(info, 4, "c");
  float* dy = F32(info, 0, N * C, "dy");
  float* dx = F32(info, 1, N * HW * C, "dx");
  float inv = 1.f / static_cast<float>(HW);
#pragma omp parallel for schedule(static) if (N * HW * C > 262144)
  for (int64_t i = 0; i < N; i++)
    for (int64_t p = 0; p < HW; p++) {
      float* o = dx + (i * HW + p) * C;
      const float* g = dy + i * C;
#pragma omp simd
      for (int64_t k = 0; k < C; k++) o[k] = g[k] * inv;
    }
  return info.Env().Undefined();
}

// addRowVector(y, v, rows, cols): y[r, c] += v[c]
Napi::Value AddRowVector(const Napi::CallbackInfo& info) {
  int64_t rows = I(info, 2, "rows"), C = I(info, 3, "cols");
  float* y = F32(info, 0, rows * C, "y");
  float* v = F32(info, 1, C, "v");
#pragma omp parallel for schedule(static) if (rows * C > 262144)
  for (int64_t r = 0; r < rows; r++)
    for (int64_t c = 0; c < C; c++) y[r * C + c] += v[c];
  return info.Env().Undefined();
}

// adamStep(p, g, m, v, n, lr, beta1, beta2, eps, bc1, bc2, weightDecay) — PyTorch's Adam.
Napi::Value AdamStep(const Napi::CallbackInfo& info) {
  int64_t n = I(info, 4, "n");
  float* p = F32(info, 0, n, "p");
  float* g = F32(info, 1, n, "g");
  float* m = F32(info, 2, n, "m");
  float* v = F32(info, 3, n, "v");
  float lr = static_cast<float>(D(info, 5, "lr")), b1 = static_cast<float>(D(info, 6, "beta1")),
        b2 = static_cast<float>(D(info, 7, "beta2")), eps = static_cast<float>(D(info, 8, "eps"));
  double bc1 = D(info, 9, "bc1"), bc2 = D(info, 10, "bc2");
  float wd = static_cast<float>(D(info, 11, "weightDecay"));
  float stepSize = static_cast<float>(lr / bc1);
  float invSqrtBc2 = static_cast<float>(1.0 / std::sqrt(bc2));
#pragma omp parallel for schedule(static) if (n > 262144)
  for (int64_t i = 0; i < n; i++) {
    float gi = g[i] + wd * p[i];
    m[i] = b1 * m[i] + (1.f - b1) * gi;
    v[i] = b2 * v[i] + (1.f - b2) * gi * gi;
    p[i] -= stepSize * m[i] / (std::sqrt(v[i]) * invSqrtBc2 + eps);
  }
  return info.Env().Undefined();
}

// sgdStep(p, g, buf|null, n, lr, momentum, dampening, nesterov, weightDecay, first) — PyTorch's SGD.
Napi::Value SgdStep(const Napi::CallbackInfo& info) {
  int64_t n = I(info, 3, "n");
  float* p = F32(info, 0, n, "p");
  float* g = F32(info, 1, n, "g");
  float* buf = F32opt(info, 2, n, "buf");
  float lr = static_cast<float>(D(info, 4, "lr")), mom = static_cast<float>(D(info, 5, "momentum")),
        damp = static_cast<float>(D(info, 6, "dampening"));
  bool nesterov = B(info, 7);
  float wd = static_cast<float>(D(info, 8, "weightDecay"));
  bool first = B(info, 9);
#pragma omp parallel for schedule(static) if (n > 262144)
  for (int64_t i = 0; i < n; i++) {
    float gi = g[i] + wd * p[i];
    if (buf) {
      buf[i] = first ? gi : mom * buf[i] + (1.f - damp) * gi;
      gi = nesterov ? gi + mom * buf[i] : buf[i];
    }
    p[i] -= lr * gi;
  }
  return info.Env().Undefined();
}

}  // namespace

void RegisterKernels(Napi::Env env, Napi::Object exports) {
  NS_EXPORT("bnForward", BnForward);
  NS_EXPORT("bnBackward", BnBackward);
  NS_EXPORT("unaryForward", UnaryForward);
  NS_EXPORT("unaryBackward", UnaryBackward);
  NS_EXPORT("binary", Binary);
  NS_EXPORT("axpby", Axpby);
  NS_EXPORT("fill", Fill);
  NS_EXPORT("sumSquares", SumSquares);
  NS_EXPORT("maxPoolForward", MaxPoolForward);
  NS_EXPORT("maxPoolBackward", MaxPoolBackward);
  NS_EXPORT("upsampleForward", UpsampleForward);
  NS_EXPORT("upsampleBackward", UpsampleBackward);
  NS_EXPORT("channelCopy", ChannelCopy);
  NS_EXPORT("upsampleConcatForward", UpsampleConcatForward);
  NS_EXPORT("upsampleConcatBackward", UpsampleConcatBackward);
  NS_EXPORT("gemm", Gemm);
  NS_EXPORT("deconvForward", DeconvForward);
  NS_EXPORT("deconvBackwardData", DeconvBackwardData);
  NS_EXPORT("deconvBackwardWeights", DeconvBackwardWeights);
  NS_EXPORT("columnSums", ColumnSums);
  NS_EXPORT("addRowVector", AddRowVector);
  NS_EXPORT("globalAvgPoolForward", GlobalAvgPoolForward);
  NS_EXPORT("globalAvgPoolBackward", GlobalAvgPoolBackward);
  NS_EXPORT("adamStep", AdamStep);
  NS_EXPORT("sgdStep", SgdStep);
}

}  // namespace ns
