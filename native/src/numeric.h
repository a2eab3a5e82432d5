// Numeric helpers shared by the hand-written kernels (batchnorm.cc, elementwise.cc, dense.cc,
// pool_resize.cc): a vectorisable exp, the activations and their gradients, deterministic per-channel
// sums, and bf16 <-> fp32 for packed operands.
#pragma once
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

#include "common.h"

namespace ns {

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

// bf16 <-> fp32 for the hand-written kernels that read or write packed bf16 (batchnorm.cc,
// pool_resize.cc): round to nearest even, as oneDNN's reorders do, so a value stored here and by a
// oneDNN kernel agree.
inline uint16_t ToBf16(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  if ((u & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((u >> 16) | 0x40);  // NaN stays NaN
  u += 0x7fffu + ((u >> 16) & 1u);
  return static_cast<uint16_t>(u >> 16);
}
inline float FromBf16(uint16_t h) {
  uint32_t u = static_cast<uint32_t>(h) << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}
// Element i of a kernel operand held as fp32 or as packed bf16 (one kernel template serves both).
inline float Load(const float* p, int64_t i) { return p[i]; }
inline float Load(const uint16_t* p, int64_t i) { return FromBf16(p[i]); }
inline void Store(float* p, int64_t i, float v) { p[i] = v; }
inline void Store(uint16_t* p, int64_t i, float v) { p[i] = ToBf16(v); }
// Calls f(T{}) with T the storage of an operand held as packed bf16 (uint16_t) or fp32 (float): one
// kernel template, instantiated for each, serves both.
template <class F>
void WithStorage(bool bf16, F&& f) {
  if (bf16)
    f(uint16_t{});
  else
    f(float{});
}
// WithStorage for two operands: f(x storage, y storage).
template <class F>
void WithStorages(bool xBf16, bool yBf16, F&& f) {
  WithStorage(xBf16, [&](auto xs) { WithStorage(yBf16, [&](auto ys) { f(xs, ys); }); });
}

inline float ActApply(int act, float z, float alpha) {
  switch (act) {
    case ACT_ELU: return z > 0.f ? z : alpha * (FastExp(z) - 1.f);
    case ACT_RELU: return z > 0.f ? z : 0.f;
    case ACT_SIGMOID: return 1.f / (1.f + FastExp(-z));
    default: return z;
  }
}

// d act / dz written in terms of the activation's output y (what the backward passes keep).
inline float ActGradFromY(int act, float y, float alpha) {
  switch (act) {
    case ACT_ELU: return y > 0.f ? 1.f : y + alpha;
    case ACT_RELU: return y > 0.f ? 1.f : 0.f;
    case ACT_SIGMOID: return y * (1.f - y);
    default: return 1.f;
  }
}

// Per-channel sums over the rows of a [rows, C] (NHWC) tensor: fn(row, a0, a1) adds row's terms
// into a0[c] and a1[c]; out0[c] and out1[c] get the totals. Each thread sums a fixed static share
// of rows and the shares are combined in thread order, so results are deterministic for a fixed
// thread count.
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

}  // namespace ns
