// Pooling and resizing on NHWC tensors, forward and backward side by side: 2x2 max-pool (stride 2,
// floor) and the U-Net decoder's nearest-neighbour 2x upsample fused with the concatenation of the
// skip connection. OpenMP loops over output rows. The activations (x, skip, y) are fp32 or packed bf16
// (a `bf16` flag: the activations of bf16 training); gradients are fp32.
#include <omp.h>

#include <algorithm>
#include <cstring>

#include "numeric.h"

namespace ns {
namespace {

// y [N, H/2, W/2, C] = max over each 2x2 window of x [N, H, W, C]; odd trailing rows/columns dropped.
template <class T>
void MaxPoolForward(const T* x, T* y, int64_t N, int64_t H, int64_t W, int64_t C) {
  int64_t OH = H / 2, OW = W / 2;
#pragma omp parallel for schedule(static) if (N * H * W * C > 262144)
  for (int64_t no = 0; no < N * OH; no++) {
    int64_t n = no / OH, oh = no % OH;
    for (int64_t ow = 0; ow < OW; ow++) {
      const T* a = x + ((n * H + 2 * oh) * W + 2 * ow) * C;
      const T* b = a + C;
      const T* c2 = a + W * C;
      const T* d = c2 + C;
      T* yr = y + ((n * OH + oh) * OW + ow) * C;
#pragma omp simd
      for (int64_t c = 0; c < C; c++) {
        // Plain values, not std::max's references to temporaries (which keep gcc from vectorising).
        const float va = Load(a, c), vb = Load(b, c), vc = Load(c2, c), vd = Load(d, c);
        const float m0 = va > vb ? va : vb, m1 = vc > vd ? vc : vd;
        Store(yr, c, m0 > m1 ? m0 : m1);
      }
    }
  }
}

// dx: each window's dy goes to the first position holding the maximum, zeros elsewhere (and in the
// odd trailing row/column a floor pool dropped). One pass per output row writes the window's two
// input rows, branch-free over channels so that it vectorises.
template <class T>
void MaxPoolBackward(const T* x, const T* y, const float* dy, float* dx, int64_t N, int64_t H, int64_t W, int64_t C) {
  const int64_t OH = H / 2, OW = W / 2;
#pragma omp parallel for schedule(static) if (N * H * W * C > 262144)
  for (int64_t nh = 0; nh < N * OH; nh++) {
    const int64_t n = nh / OH, oh = nh % OH;
    const int64_t row = (n * H + 2 * oh) * W * C;  // first of the window's two input rows
    for (int64_t ow = 0; ow < OW; ow++) {
      const T* a = x + row + 2 * ow * C;
      const T *b = a + C, *c2 = a + W * C;  // the fourth, d, wins when none of these does
      const T* yr = y + ((n * OH + oh) * OW + ow) * C;
      const float* dyr = dy + ((n * OH + oh) * OW + ow) * C;
      float* oa = dx + row + 2 * ow * C;
      float *ob = oa + C, *oc = oa + W * C, *od = oc + C;
#pragma omp simd
      for (int64_t c = 0; c < C; c++) {
        // `left`: the gradient not yet given to an earlier position of the window.
        const float m = Load(yr, c);
        float left = dyr[c];
        const bool ta = Load(a, c) == m;
        oa[c] = ta ? left : 0.f;
        left = ta ? 0.f : left;
        const bool tb = Load(b, c) == m;
        ob[c] = tb ? left : 0.f;
        left = tb ? 0.f : left;
        const bool tc = Load(c2, c) == m;
        oc[c] = tc ? left : 0.f;
        od[c] = tc ? 0.f : left;
      }
    }
    if (W % 2) {  // the dropped last column of both rows
      std::memset(dx + row + (W - 1) * C, 0, sizeof(float) * C);
      std::memset(dx + row + (2 * W - 1) * C, 0, sizeof(float) * C);
    }
  }
  if (H % 2)  // the dropped last row of each image
    for (int64_t n = 0; n < N; n++) std::memset(dx + ((n * H + H - 1) * W) * C, 0, sizeof(float) * W * C);
}

// y [N, 2H, 2W, CX+CS] = concat(upsample2x(x [N, H, W, CX]), skip [N, 2H, 2W, CS]) on channels, in
// one pass (no separate upsampled tensor).
template <class T>
void UpsampleConcatForward(const T* x, const T* skip, T* y, int64_t N, int64_t H, int64_t W, int64_t CX, int64_t CS) {
  int64_t C = CX + CS;
#pragma omp parallel for schedule(static) if (N * H * W * C > 65536)
  for (int64_t nh = 0; nh < N * H * 2; nh++) {
    int64_t n = nh / (2 * H), oh = nh % (2 * H);
    const T* xr = x + (n * H + oh / 2) * W * CX;
    const T* sr = skip + nh * 2 * W * CS;
    T* yr = y + nh * 2 * W * C;
    for (int64_t ow = 0; ow < 2 * W; ow++) {
      std::memcpy(yr + ow * C, xr + (ow / 2) * CX, sizeof(T) * CX);
      std::memcpy(yr + ow * C + CX, sr + ow * CS, sizeof(T) * CS);
    }
  }
}

// dx = the 2x2 sums of dy's first CX channels; dskip = dy's last CS channels. Either may be null.
void UpsampleConcatBackward(const float* dy, float* dx, float* ds, int64_t N, int64_t H, int64_t W, int64_t CX,
                            int64_t CS) {
  int64_t C = CX + CS;
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
}

// ---------------------------------------------------------------------------------------------
// Entry points: arguments in field order (see the signatures in src/engine/native.ts)

// The pooled tensor's shape (the larger, input side): n, h, w, c.
struct Nhwc {
  int64_t n, h, w, c;
  static Nhwc Read(ArgReader& r) {
    Nhwc s;
    s.n = r.Int("n");
    s.h = r.Int("h");
    s.w = r.Int("w");
    s.c = r.Int("c");
    return s;
  }
  int64_t size() const { return n * h * w * c; }
  int64_t pooledSize() const { return n * (h / 2) * (w / 2) * c; }
};

// maxPoolForward(x, y, n, h, w, c, bf16); x and y packed bf16 when bf16
struct MaxPoolForwardArgs {
  const void* x;
  void* y;
  Nhwc s;
  bool bf16;
  static MaxPoolForwardArgs From(const Napi::CallbackInfo& info) {
    ArgReader r(info, "maxPoolForward");
    F32Arg x = r.F32("x"), y = r.F32("y");
    MaxPoolForwardArgs a;
    a.s = Nhwc::Read(r);
    a.bf16 = r.Flag("bf16");
    r.End();
    a.x = x.NeedAs(a.bf16, a.s.size());
    a.y = y.NeedAs(a.bf16, a.s.pooledSize());
    return a;
  }
};

Napi::Value MaxPoolForwardEntry(const Napi::CallbackInfo& info) {
  MaxPoolForwardArgs a = MaxPoolForwardArgs::From(info);
  if (a.bf16)
    MaxPoolForward(static_cast<const uint16_t*>(a.x), static_cast<uint16_t*>(a.y), a.s.n, a.s.h, a.s.w, a.s.c);
  else
    MaxPoolForward(static_cast<const float*>(a.x), static_cast<float*>(a.y), a.s.n, a.s.h, a.s.w, a.s.c);
  return info.Env().Undefined();
}

// maxPoolBackward(x, y, dy, dx, n, h, w, c, bf16); x and y packed bf16 when bf16
struct MaxPoolBackwardArgs {
  const void *x, *y;
  const float* dy;
  float* dx;
  Nhwc s;
  bool bf16;
  static MaxPoolBackwardArgs From(const Napi::CallbackInfo& info) {
    ArgReader r(info, "maxPoolBackward");
    F32Arg x = r.F32("x"), y = r.F32("y"), dy = r.F32("dy"), dx = r.F32("dx");
    MaxPoolBackwardArgs a;
    a.s = Nhwc::Read(r);
    a.bf16 = r.Flag("bf16");
    r.End();
    a.x = x.NeedAs(a.bf16, a.s.size());
    a.y = y.NeedAs(a.bf16, a.s.pooledSize());
    a.dy = dy.Need(a.s.pooledSize());
    a.dx = dx.Need(a.s.size());
    return a;
  }
};

Napi::Value MaxPoolBackwardEntry(const Napi::CallbackInfo& info) {
  MaxPoolBackwardArgs a = MaxPoolBackwardArgs::From(info);
  if (a.bf16)
    MaxPoolBackward(static_cast<const uint16_t*>(a.x), static_cast<const uint16_t*>(a.y), a.dy, a.dx, a.s.n, a.s.h,
                    a.s.w, a.s.c);
  else
    MaxPoolBackward(static_cast<const float*>(a.x), static_cast<const float*>(a.y), a.dy, a.dx, a.s.n, a.s.h, a.s.w,
                    a.s.c);
  return info.Env().Undefined();
}

// The shapes of upsampleConcat: x [n, h, w, cx], skip [n, 2h, 2w, cs], y [n, 2h, 2w, cx + cs].
struct UpConcatShape {
  int64_t n, h, w, cx, cs;
  static UpConcatShape Read(ArgReader& r) {
    UpConcatShape s;
    s.n = r.Int("n");
    s.h = r.Int("h");
    s.w = r.Int("w");
    s.cx = r.Int("cx");
    s.cs = r.Int("cs");
    return s;
  }
  int64_t xSize() const { return n * h * w * cx; }
  int64_t skipSize() const { return n * 4 * h * w * cs; }
  int64_t ySize() const { return n * 4 * h * w * (cx + cs); }
};

// upsampleConcatForward(x, skip, y, n, h, w, cx, cs, bf16); x, skip and y packed bf16 when bf16
struct UpsampleConcatForwardArgs {
  const void *x, *skip;
  void* y;
  UpConcatShape s;
  bool bf16;
  static UpsampleConcatForwardArgs From(const Napi::CallbackInfo& info) {
    ArgReader r(info, "upsampleConcatForward");
    F32Arg x = r.F32("x"), skip = r.F32("skip"), y = r.F32("y");
    UpsampleConcatForwardArgs a;
    a.s = UpConcatShape::Read(r);
    a.bf16 = r.Flag("bf16");
    r.End();
    a.x = x.NeedAs(a.bf16, a.s.xSize());
    a.skip = skip.NeedAs(a.bf16, a.s.skipSize());
    a.y = y.NeedAs(a.bf16, a.s.ySize());
    return a;
  }
};

Napi::Value UpsampleConcatForwardEntry(const Napi::CallbackInfo& info) {
  UpsampleConcatForwardArgs a = UpsampleConcatForwardArgs::From(info);
  if (a.bf16)
    UpsampleConcatForward(static_cast<const uint16_t*>(a.x), static_cast<const uint16_t*>(a.skip),
                          static_cast<uint16_t*>(a.y), a.s.n, a.s.h, a.s.w, a.s.cx, a.s.cs);
  else
    UpsampleConcatForward(static_cast<const float*>(a.x), static_cast<const float*>(a.skip), static_cast<float*>(a.y),
                          a.s.n, a.s.h, a.s.w, a.s.cx, a.s.cs);
  return info.Env().Undefined();
}

// upsampleConcatBackward(dy, dx|null, dskip|null, n, h, w, cx, cs)
struct UpsampleConcatBackwardArgs {
  const float* dy;
  float *dx, *dskip;
  UpConcatShape s;
  static UpsampleConcatBackwardArgs From(const Napi::CallbackInfo& info) {
    ArgReader r(info, "upsampleConcatBackward");
    F32Arg dy = r.F32("dy"), dx = r.F32Opt("dx"), dskip = r.F32Opt("dskip");
    UpsampleConcatBackwardArgs a;
    a.s = UpConcatShape::Read(r);
    r.End();
    a.dy = dy.Need(a.s.ySize());
    a.dx = dx.NeedIfPresent(a.s.xSize());
    a.dskip = dskip.NeedIfPresent(a.s.skipSize());
    return a;
  }
};

Napi::Value UpsampleConcatBackwardEntry(const Napi::CallbackInfo& info) {
  UpsampleConcatBackwardArgs a = UpsampleConcatBackwardArgs::From(info);
  UpsampleConcatBackward(a.dy, a.dx, a.dskip, a.s.n, a.s.h, a.s.w, a.s.cx, a.s.cs);
  return info.Env().Undefined();
}

}  // namespace

void RegisterPoolResize(Napi::Env env, Napi::Object exports) {
  NS_EXPORT("maxPoolForward", MaxPoolForwardEntry);
  NS_EXPORT("maxPoolBackward", MaxPoolBackwardEntry);
  NS_EXPORT("upsampleConcatForward", UpsampleConcatForwardEntry);
  NS_EXPORT("upsampleConcatBackward", UpsampleConcatBackwardEntry);
}

}  // namespace ns
