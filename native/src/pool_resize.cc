// Pooling and resizing on NHWC tensors, forward and backward side by side: 2x2 max-pool (stride 2,
// floor) and the U-Net decoder's nearest-neighbour 2x upsample fused with the concatenation of the
// skip connection. OpenMP loops over output rows. The activations (x, skip, y) are fp32 or packed bf16
// (a `bf16` flag: the activations of bf16 training); gradients are fp32.
#include <omp.h>

#include <algorithm>
#include <cstring>

#include "entry.h"
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
// Entry points: options objects with the shapes as flat fields

// The max-pool's input [n, h, w, c] and output [n, h/2, w/2, c] sizes.
template <class A>
int64_t InSize(const A& a) {
  return a.n * a.h * a.w * a.c;
}
template <class A>
int64_t PooledSize(const A& a) {
  return a.n * (a.h / 2) * (a.w / 2) * a.c;
}

// maxPoolForward({x, y, n, h, w, c, bf16}); x and y packed bf16 when bf16
#define MAX_POOL_FORWARD(X) X(Buf, x) X(Buf, y) X(Size, n) X(Size, h) X(Size, w) X(Size, c) X(Flag, bf16)
NS_ENTRY(maxPoolForward, Options, Void, MAX_POOL_FORWARD) {
  const void* x = a.x.NeedAs(a.bf16, InSize(a));
  void* y = a.y.NeedAs(a.bf16, PooledSize(a));
  WithStorage(a.bf16, [&](auto s) {
    using T = decltype(s);
    MaxPoolForward(static_cast<const T*>(x), static_cast<T*>(y), a.n, a.h, a.w, a.c);
  });
}

// maxPoolBackward({x, y, dy, dx, n, h, w, c, bf16}); x and y packed bf16 when bf16
#define MAX_POOL_BACKWARD(X) \
  X(Buf, x) X(Buf, y) X(Buf, dy) X(Buf, dx) X(Size, n) X(Size, h) X(Size, w) X(Size, c) X(Flag, bf16)
NS_ENTRY(maxPoolBackward, Options, Void, MAX_POOL_BACKWARD) {
  const void* x = a.x.NeedAs(a.bf16, InSize(a));
  const void* y = a.y.NeedAs(a.bf16, PooledSize(a));
  const float* dy = a.dy.Need(PooledSize(a));
  float* dx = a.dx.Need(InSize(a));
  WithStorage(a.bf16, [&](auto s) {
    using T = decltype(s);
    MaxPoolBackward(static_cast<const T*>(x), static_cast<const T*>(y), dy, dx, a.n, a.h, a.w, a.c);
  });
}

// The shapes of upsampleConcat: x [n, h, w, cx], skip [n, 2h, 2w, cs], y [n, 2h, 2w, cx + cs].
template <class A>
int64_t XSize(const A& a) {
  return a.n * a.h * a.w * a.cx;
}
template <class A>
int64_t SkipSize(const A& a) {
  return a.n * 4 * a.h * a.w * a.cs;
}
template <class A>
int64_t YSize(const A& a) {
  return a.n * 4 * a.h * a.w * (a.cx + a.cs);
}

// upsampleConcatForward({x, skip, y, n, h, w, cx, cs, bf16}); x, skip and y packed bf16 when bf16
#define UPSAMPLE_CONCAT_FORWARD(X) \
  X(Buf, x) X(Buf, skip) X(Buf, y) X(Size, n) X(Size, h) X(Size, w) X(Size, cx) X(Size, cs) X(Flag, bf16)
NS_ENTRY(upsampleConcatForward, Options, Void, UPSAMPLE_CONCAT_FORWARD) {
  const void* x = a.x.NeedAs(a.bf16, XSize(a));
  const void* skip = a.skip.NeedAs(a.bf16, SkipSize(a));
  void* y = a.y.NeedAs(a.bf16, YSize(a));
  WithStorage(a.bf16, [&](auto s) {
    using T = decltype(s);
    UpsampleConcatForward(static_cast<const T*>(x), static_cast<const T*>(skip), static_cast<T*>(y), a.n, a.h, a.w,
                          a.cx, a.cs);
  });
}

// upsampleConcatBackward({dy, dx, dskip, n, h, w, cx, cs}); dx and dskip each only where given
#define UPSAMPLE_CONCAT_BACKWARD(X) \
  X(Buf, dy) X(OptBuf, dx) X(OptBuf, dskip) X(Size, n) X(Size, h) X(Size, w) X(Size, cx) X(Size, cs)
NS_ENTRY(upsampleConcatBackward, Options, Void, UPSAMPLE_CONCAT_BACKWARD) {
  const float* dy = a.dy.Need(YSize(a));
  float* dx = a.dx.NeedIfPresent(XSize(a));
  UpsampleConcatBackward(dy, dx, a.dskip.NeedIfPresent(SkipSize(a)), a.n, a.h, a.w, a.cx, a.cs);
}

}  // namespace
}  // namespace ns
