// FLOPs of the reference net "UNet-64x80" of issue 3, which is the product's `fast` preset (src/model).
/** Multiply-accumulates x2 of one forward pass per image (convs only, k x k but the 1x1 head), for GFLOP/s. */
export function unetFlopsPerImage(
  filters: readonly number[],
  h: number,
  w: number,
  inChannels = 1,
  k = 3,
): number {
  let flops = 0;
  const conv = (hh: number, ww: number, cin: number, cout: number, k: number): number =>
    2 * hh * ww * cin * cout * k * k;
  let cin = inChannels;
  filters.forEach((f, i) => {
    const s = 2 ** i;
    flops += conv(h / s, w / s, cin, f, k) + conv(h / s, w / s, f, f, k);
    cin = f;
  });
  for (let i = filters.length - 2; i >= 0; i--) {
    const s = 2 ** i;
    flops +=
      conv(h / s, w / s, filters[i + 1] + filters[i], filters[i], k) +
      conv(h / s, w / s, filters[i], filters[i], k);
  }
  flops += conv(h, w, filters[0], 1, 1);
  return flops;
}
