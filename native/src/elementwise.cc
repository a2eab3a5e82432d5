// Elementwise kernels over flat buffers: the activations (forward, and backward from the output),
// add/mul, and the few vector helpers autograd and the optimizers' gradient clipping need (axpby,
// fill, sum of squares). OpenMP loops, parallel only above a size where that pays.
#include <omp.h>

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
// Entry points: arguments in field order (see the signatures in src/engine/native.ts)

// unaryForward(act, x, y, n, alpha)
struct UnaryForwardArgs {
  int act;
  const float* x;
  float* y;
  int64_t n;
  float alpha;
  static UnaryForwardArgs From(const Napi::CallbackInfo& info) {
    ArgReader r(info, "unaryForward");
    UnaryForwardArgs a;
    a.act = static_cast<int>(r.Int("act"));
    F32Arg x = r.F32("x"), y = r.F32("y");
    a.n = r.Int("n");
    a.alpha = static_cast<float>(r.Number("alpha"));
    r.End();
    a.x = x.Need(a.n);
    a.y = y.Need(a.n);
    return a;
  }
};

Napi::Value UnaryForwardEntry(const Napi::CallbackInfo& info) {
  UnaryForwardArgs a = UnaryForwardArgs::From(info);
  UnaryForward(a.act, a.x, a.y, a.n, a.alpha);
  return info.Env().Undefined();
}

// unaryBackward(act, y, dy, dx, n, alpha)
struct UnaryBackwardArgs {
  int act;
  const float *y, *dy;
  float* dx;
  int64_t n;
  float alpha;
  static UnaryBackwardArgs From(const Napi::CallbackInfo& info) {
    ArgReader r(info, "unaryBackward");
    UnaryBackwardArgs a;
    a.act = static_cast<int>(r.Int("act"));
    F32Arg y = r.F32("y"), dy = r.F32("dy"), dx = r.F32("dx");
    a.n = r.Int("n");
    a.alpha = static_cast<float>(r.Number("alpha"));
    r.End();
    a.y = y.Need(a.n);
    a.dy = dy.Need(a.n);
    a.dx = dx.Need(a.n);
    return a;
  }
};

Napi::Value UnaryBackwardEntry(const Napi::CallbackInfo& info) {
  UnaryBackwardArgs a = UnaryBackwardArgs::From(info);
  UnaryBackward(a.act, a.y, a.dy, a.dx, a.n, a.alpha);
  return info.Env().Undefined();
}

// binary(op, a, b, y, n): op 0 add, 1 mul
struct BinaryArgs {
  int op;
  const float *a, *b;
  float* y;
  int64_t n;
  static BinaryArgs From(const Napi::CallbackInfo& info) {
    ArgReader r(info, "binary");
    BinaryArgs s;
    s.op = static_cast<int>(r.Int("op"));
    if (s.op != OP_ADD && s.op != OP_MUL) throw ArgError("binary: op must be 0 (add) or 1 (mul)");
    F32Arg a = r.F32("a"), b = r.F32("b"), y = r.F32("y");
    s.n = r.Int("n");
    r.End();
    s.a = a.Need(s.n);
    s.b = b.Need(s.n);
    s.y = y.Need(s.n);
    return s;
  }
};

Napi::Value BinaryEntry(const Napi::CallbackInfo& info) {
  BinaryArgs a = BinaryArgs::From(info);
  Binary(a.op, a.a, a.b, a.y, a.n);
  return info.Env().Undefined();
}

// axpby(y, x, a, b, n)
struct AxpbyArgs {
  float* y;
  const float* x;
  float a, b;
  int64_t n;
  static AxpbyArgs From(const Napi::CallbackInfo& info) {
    ArgReader r(info, "axpby");
    F32Arg y = r.F32("y"), x = r.F32("x");
    AxpbyArgs s;
    s.a = static_cast<float>(r.Number("a"));
    s.b = static_cast<float>(r.Number("b"));
    s.n = r.Int("n");
    r.End();
    s.y = y.Need(s.n);
    s.x = x.Need(s.n);
    return s;
  }
};

Napi::Value AxpbyEntry(const Napi::CallbackInfo& info) {
  AxpbyArgs a = AxpbyArgs::From(info);
  Axpby(a.y, a.x, a.a, a.b, a.n);
  return info.Env().Undefined();
}

// fill(y, value, n)
struct FillArgs {
  float* y;
  float value;
  int64_t n;
  static FillArgs From(const Napi::CallbackInfo& info) {
    ArgReader r(info, "fill");
    F32Arg y = r.F32("y");
    FillArgs a;
    a.value = static_cast<float>(r.Number("value"));
    a.n = r.Int("n");
    r.End();
    a.y = y.Need(a.n);
    return a;
  }
};

Napi::Value FillEntry(const Napi::CallbackInfo& info) {
  FillArgs a = FillArgs::From(info);
  Fill(a.y, a.value, a.n);
  return info.Env().Undefined();
}

// sumSquares(x, n) -> number
struct SumSquaresArgs {
  const float* x;
  int64_t n;
  static SumSquaresArgs From(const Napi::CallbackInfo& info) {
    ArgReader r(info, "sumSquares");
    F32Arg x = r.F32("x");
    SumSquaresArgs a;
    a.n = r.Int("n");
    r.End();
    a.x = x.Need(a.n);
    return a;
  }
};

Napi::Value SumSquaresEntry(const Napi::CallbackInfo& info) {
  SumSquaresArgs a = SumSquaresArgs::From(info);
  return Napi::Number::New(info.Env(), SumSquares(a.x, a.n));
}

}  // namespace

void RegisterElementwise(Napi::Env env, Napi::Object exports) {
  NS_EXPORT("unaryForward", UnaryForwardEntry);
  NS_EXPORT("unaryBackward", UnaryBackwardEntry);
  NS_EXPORT("binary", BinaryEntry);
  NS_EXPORT("axpby", AxpbyEntry);
  NS_EXPORT("fill", FillEntry);
  NS_EXPORT("sumSquares", SumSquaresEntry);
}

}  // namespace ns
