// Elementwise kernels over flat buffers: the activations (forward, and backward from the output),
// add/mul, and the few vector helpers autograd and the optimizers' gradient clipping need (axpby,
// fill, sum of squares). OpenMP loops, parallel only above a size where that pays.
#include <omp.h>

#include "entry.h"
#include "numeric.h"

namespace ns {
namespace {

// y = act(x)
void UnaryForward(int act, const float* x, float* y, int64_t n, float alpha) {
#pragma omp parallel for simd schedule(static) if (n > 262144)
  for (int64_t i = 0; i < n; i++) y[i] = ActApply(act, x[i], alpha);
}

// dx = dy * act'(x), the derivative written in terms of the forward's output y.
void UnaryBackward(int act, const float* y, const float* dy, float* dx, int64_t n, float alpha) {
#pragma omp parallel for schedule(static) if (n > 262144)
  for (int64_t i = 0; i < n; i++) dx[i] = dy[i] * ActGradFromY(act, y[i], alpha);
}

enum BinaryOp { OP_ADD = 0, OP_MUL = 1 };

// y = a + b or a * b (mul is also its own backward: da = dy * b).
void Binary(int op, const float* a, const float* b, float* y, int64_t n) {
  if (op == OP_ADD) {
#pragma omp parallel for schedule(static) if (n > 262144)
    for (int64_t i = 0; i < n; i++) y[i] = a[i] + b[i];
  } else {
#pragma omp parallel for schedule(static) if (n > 262144)
    for (int64_t i = 0; i < n; i++) y[i] = a[i] * b[i];
  }
}

// y = b*y + a*x
void Axpby(float* y, const float* x, float a, float b, int64_t n) {
#pragma omp parallel for schedule(static) if (n > 262144)
  for (int64_t i = 0; i < n; i++) y[i] = b * y[i] + a * x[i];
}

void Fill(float* y, float v, int64_t n) {
#pragma omp parallel for schedule(static) if (n > 262144)
  for (int64_t i = 0; i < n; i++) y[i] = v;
}

// sum of x[i]^2 in double, deterministic for a fixed thread count.
double SumSquares(const float* x, int64_t n) {
  double s = 0;
  ChannelSums(n, 1, &s, &s + 0, [&](int64_t r, float* a0, float*) { a0[0] += x[r] * x[r]; });
  return s;
}

// ---------------------------------------------------------------------------------------------
// Entry points: positional (short, and called for every elementwise op); every buffer holds n floats

// unaryForward(act, x, y, n, alpha)
#define UNARY_FORWARD(X) X(Code, act) X(Buf, x) X(Buf, y) X(Size, n) X(F32, alpha)
NS_ENTRY(unaryForward, Positional, Void, UNARY_FORWARD) {
  const float* x = a.x.Need(a.n);
  UnaryForward(a.act, x, a.y.Need(a.n), a.n, a.alpha);
}

// unaryBackward(act, y, dy, dx, n, alpha): the gradient from the forward's output y
#define UNARY_BACKWARD(X) X(Code, act) X(Buf, y) X(Buf, dy) X(Buf, dx) X(Size, n) X(F32, alpha)
NS_ENTRY(unaryBackward, Positional, Void, UNARY_BACKWARD) {
  const float* y = a.y.Need(a.n);
  const float* dy = a.dy.Need(a.n);
  UnaryBackward(a.act, y, dy, a.dx.Need(a.n), a.n, a.alpha);
}

// binary(op, a, b, y, n): op 0 add, 1 mul
#define BINARY(X) X(Code, op) X(Buf, a) X(Buf, b) X(Buf, y) X(Size, n)
NS_ENTRY(binary, Positional, Void, BINARY) {
  if (a.op != OP_ADD && a.op != OP_MUL) throw ArgError("binary: op must be 0 (add) or 1 (mul)");
  const float* lhs = a.a.Need(a.n);
  const float* rhs = a.b.Need(a.n);
  Binary(a.op, lhs, rhs, a.y.Need(a.n), a.n);
}

// axpby(y, x, a, b, n): y = b*y + a*x
#define AXPBY(X) X(Buf, y) X(Buf, x) X(F32, a) X(F32, b) X(Size, n)
NS_ENTRY(axpby, Positional, Void, AXPBY) {
  float* y = a.y.Need(a.n);
  Axpby(y, a.x.Need(a.n), a.a, a.b, a.n);
}

// fill(y, value, n)
#define FILL(X) X(Buf, y) X(F32, value) X(Size, n)
NS_ENTRY(fill, Positional, Void, FILL) { Fill(a.y.Need(a.n), a.value, a.n); }

// sumSquares(x, n) -> number
#define SUM_SQUARES(X) X(Buf, x) X(Size, n)
NS_ENTRY(sumSquares, Positional, Number, SUM_SQUARES) { return SumSquares(a.x.Need(a.n), a.n); }

}  // namespace
}  // namespace ns
