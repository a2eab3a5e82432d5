// The dense (fully connected) layer: oneDNN's sgemm on row-major matrices, x [n, k] times w [k, m],
// forward and backward side by side.
#include <omp.h>

#include <vector>

#include "entry.h"
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
// Entry points: x [n, k], w [k, m], y and dy [n, m]

// denseForward({x, w, b, y, n, k, m})
#define DENSE_FORWARD(X) X(Buf, x) X(Buf, w) X(OptBuf, b) X(Buf, y) X(Size, n) X(Size, k) X(Size, m)
NS_ENTRY(denseForward, Options, Void, DENSE_FORWARD) {
  const float* x = a.x.Need(a.n * a.k);
  const float* w = a.w.Need(a.k * a.m);
  const float* b = a.b.NeedIfPresent(a.m);
  DenseForward(x, w, b, a.y.Need(a.n * a.m), a.n, a.k, a.m);
}

// denseBackward({x, w, dy, dx, dw, db, n, k, m}): each gradient only where its buffer is given
#define DENSE_BACKWARD(X) \
  X(Buf, x) X(Buf, w) X(Buf, dy) X(OptBuf, dx) X(OptBuf, dw) X(OptBuf, db) X(Size, n) X(Size, k) X(Size, m)
NS_ENTRY(denseBackward, Options, Void, DENSE_BACKWARD) {
  const float* x = a.x.Need(a.n * a.k);
  const float* w = a.w.Need(a.k * a.m);
  const float* dy = a.dy.Need(a.n * a.m);
  float* dx = a.dx.NeedIfPresent(a.n * a.k);
  float* dw = a.dw.NeedIfPresent(a.k * a.m);
  DenseBackward(x, w, dy, dx, dw, a.db.NeedIfPresent(a.m), a.n, a.k, a.m);
}

}  // namespace
}  // namespace ns
