// The dense (fully connected) layer: oneDNN's sgemm on row-major matrices, x [n, k] times w [k, m],
// forward and backward side by side.
#include <omp.h>

#include <vector>

#include "numeric.h"

namespace ns {
namespace {

// Kernels

void Sgemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, const float* B,
           int64_t ldb, float* C, int64_t ldc) {
  if (dnnl_sgemm(ta ? 'T' : 'N', tb ? 'T' : 'N', M, N, K, 1.f, A, lda, B, ldb, 0.f, C, ldc) != dnnl_success)
    throw std::runtime_error("sgemm failed");
}

// y = x w + b
void DenseForward(const float* x, const float* w, const float* b, float* y, int64_t n, int64_t k, int64_t m) {
  Sgemm(false, false, n, m, k, x, k, w, m, y, m);
  if (!b) return;
#pragma omp parallel for schedule(static) if (n * m > 262144)
  for (int64_t r = 0; r < n; r++)
    for (int64_t c = 0; c < m; c++) y[r * m + c] += b[c];
}

// dx = dy w^T, dw = x^T dy, db = column sums of dy; each only when its buffer is given.
void DenseBackward(const float* x, const float* w, const float* dy, float* dx, float* dw, float* db, int64_t n,
                   int64_t k, int64_t m) {
  if (dx) Sgemm(false, true, n, k, m, dy, m, w, m, dx, k);
  if (dw) Sgemm(true, false, k, m, n, x, k, dy, m, dw, m);
  if (db) {
    std::vector<double> s(m), unused(m);
    ChannelSums(n, m, s.data(), unused.data(), [&](int64_t r, float* a0, float*) {
      const float* d = dy + r * m;
      for (int64_t c = 0; c < m; c++) a0[c] += d[c];
    });
    for (int64_t c = 0; c < m; c++) db[c] = static_cast<float>(s[c]);
  }
}

// ---------------------------------------------------------------------------------------------
// Entry points: arguments in field order (see the signatures in src/engine/native.ts)

// denseForward(x, w, b|null, y, n, k, m)
struct DenseForwardArgs {
  const float *x, *w, *b;
  float* y;
  int64_t n, k, m;
  static DenseForwardArgs From(const Napi::CallbackInfo& info) {
    ArgReader r(info, "denseForward");
    F32Arg x = r.F32("x"), w = r.F32("w"), b = r.F32Opt("b"), y = r.F32("y");
    DenseForwardArgs a;
    a.n = r.Int("n");
    a.k = r.Int("k");
    a.m = r.Int("m");
    r.End();
    a.x = x.Need(a.n * a.k);
    a.w = w.Need(a.k * a.m);
    a.b = b.NeedIfPresent(a.m);
    a.y = y.Need(a.n * a.m);
    return a;
  }
};

Napi::Value DenseForwardEntry(const Napi::CallbackInfo& info) {
  DenseForwardArgs a = DenseForwardArgs::From(info);
  DenseForward(a.x, a.w, a.b, a.y, a.n, a.k, a.m);
  return info.Env().Undefined();
}

// denseBackward(x, w, dy, dx|null, dw|null, db|null, n, k, m)
struct DenseBackwardArgs {
  const float *x, *w, *dy;
  float *dx, *dw, *db;
  int64_t n, k, m;
  static DenseBackwardArgs From(const Napi::CallbackInfo& info) {
    ArgReader r(info, "denseBackward");
    F32Arg x = r.F32("x"), w = r.F32("w"), dy = r.F32("dy");
    F32Arg dx = r.F32Opt("dx"), dw = r.F32Opt("dw"), db = r.F32Opt("db");
    DenseBackwardArgs a;
    a.n = r.Int("n");
    a.k = r.Int("k");
    a.m = r.Int("m");
    r.End();
    a.x = x.Need(a.n * a.k);
    a.w = w.Need(a.k * a.m);
    a.dy = dy.Need(a.n * a.m);
    a.dx = dx.NeedIfPresent(a.n * a.k);
    a.dw = dw.NeedIfPresent(a.k * a.m);
    a.db = db.NeedIfPresent(a.m);
    return a;
  }
};

Napi::Value DenseBackwardEntry(const Napi::CallbackInfo& info) {
  DenseBackwardArgs a = DenseBackwardArgs::From(info);
  DenseBackward(a.x, a.w, a.dy, a.dx, a.dw, a.db, a.n, a.k, a.m);
  return info.Env().Undefined();
}

}  // namespace

void RegisterDense(Napi::Env env, Napi::Object exports) {
  NS_EXPORT("denseForward", DenseForwardEntry);
  NS_EXPORT("denseBackward", DenseBackwardEntry);
}

}  // namespace ns
