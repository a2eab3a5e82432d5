// Pooling and resizing on NHWC tensors, forward and backward side by side: 2x2 max-pool (stride 2,
// floor) and the U-Net decoder's nearest-neighbour 2x upsample fused with the concatenation of the
// skip connection. OpenMP loops over output rows.
#include <omp.h>

#include <algorithm>

#include "common.h"

namespace ns {
namespace {

// y [N, H/2, W/2, C] = max over each 2x2 window of x [N, H, W, C]; odd trailing rows/columns dropped.
void MaxPoolForward(const float* x, float* y, int64_t N, int64_t H, int64_t W, int64_t C) {
  int64_t OH = H / 2, OW = W / 2;
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
}

// dx: each window's dy goes to the first position holding the maximum, zeros elsewhere.
void MaxPoolBackward(const float* x, const float* y, const float* dy, float* dx, int64_t N, int64_t H, int64_t W,
                     int64_t C) {
  int64_t OH = H / 2, OW = W / 2;
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
}

// y [N, 2H, 2W, CX+CS] = concat(upsample2x(x [N, H, W, CX]), skip [N, 2H, 2W, CS]) on channels, in
// one pass (no separate upsampled tensor).
void UpsampleConcatForward(const float* x, const float* skip, float* y, int64_t N, int64_t H, int64_t W, int64_t CX,
                           int64_t CS) {
  int64_t C = CX + CS;
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

// maxPoolForward(x, y, n, h, w, c)
struct MaxPoolForwardArgs {
  const float* x;
  float* y;
  Nhwc s;
  static MaxPoolForwardArgs From(const Napi::CallbackInfo& info) {
    ArgReader r(info, "maxPoolForward");
    F32Arg x = r.F32("x"), y = r.F32("y");
    MaxPoolForwardArgs a;
    a.s = Nhwc::Read(r);
    r.End();
    a.x = x.Need(a.s.size());
    a.y = y.Need(a.s.pooledSize());
    return a;
  }
};

Napi::Value MaxPoolForwardEntry(const Napi::CallbackInfo& info) {
  MaxPoolForwardArgs a = MaxPoolForwardArgs::From(info);
  MaxPoolForward(a.x, a.y, a.s.n, a.s.h, a.s.w, a.s.c);
  return info.Env().Undefined();
}

// maxPoolBackward(x, y, dy, dx, n, h, w, c)
struct MaxPoolBackwardArgs {
  const float *x, *y, *dy;
  float* dx;
  Nhwc s;
  static MaxPoolBackwardArgs From(const Napi::CallbackInfo& info) {
    ArgReader r(info, "maxPoolBackward");
    F32Arg x = r.F32("x"), y = r.F32("y"), dy = r.F32("dy"), dx = r.F32("dx");
    MaxPoolBackwardArgs a;
    a.s = Nhwc::Read(r);
    r.End();
    a.x = x.Need(a.s.size());
    a.y = y.Need(a.s.pooledSize());
    a.dy = dy.Need(a.s.pooledSize());
    a.dx = dx.Need(a.s.size());
    return a;
  }
};

Napi::Value MaxPoolBackwardEntry(const Napi::CallbackInfo& info) {
  MaxPoolBackwardArgs a = MaxPoolBackwardArgs::From(info);
  MaxPoolBackward(a.x, a.y, a.dy, a.dx, a.s.n, a.s.h, a.s.w, a.s.c);
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

// upsampleConcatForward(x, skip, y, n, h, w, cx, cs)
struct UpsampleConcatForwardArgs {
  const float *x, *skip;
  float* y;
  UpConcatShape s;
  static UpsampleConcatForwardArgs From(const Napi::CallbackInfo& info) {
    ArgReader r(info, "upsampleConcatForward");
    F32Arg x = r.F32("x"), skip = r.F32("skip"), y = r.F32("y");
    UpsampleConcatForwardArgs a;
    a.s = UpConcatShape::Read(r);
    r.End();
    a.x = x.Need(a.s.xSize());
    a.skip = skip.Need(a.s.skipSize());
    a.y = y.Need(a.s.ySize());
    return a;
  }
};

Napi::Value UpsampleConcatForwardEntry(const Napi::CallbackInfo& info) {
  UpsampleConcatForwardArgs a = UpsampleConcatForwardArgs::From(info);
  UpsampleConcatForward(a.x, a.skip, a.y, a.s.n, a.s.h, a.s.w, a.s.cx, a.s.cs);
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
