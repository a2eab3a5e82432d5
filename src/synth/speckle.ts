import { SynthRng } from "./random.js";

/** Box blur along rows (radius r, edges clamped), src → dst; dst may not alias src. */
export function boxBlurH(src: Float32Array, dst: Float32Array, w: number, h: number, r: number): void {
  const n = 2 * r + 1;
  for (let y = 0; y < h; y++) {
    const row = y * w;
    let acc = 0;
    for (let k = -r; k <= r; k++) acc += src[row + Math.min(w - 1, Math.max(0, k))];
    for (let x = 0; x < w; x++) {
      dst[row + x] = acc / n;
      acc += src[row + Math.min(w - 1, x + r + 1)] - src[row + Math.max(0, x - r)];
    }
  }
}

/** Box blur along columns (radius r, edges clamped), src → dst; dst may not alias src. */
export function boxBlurV(src: Float32Array, dst: Float32Array, w: number, h: number, r: number): void {
  const n = 2 * r + 1;
  const acc = new Float64Array(w);
  for (let k = -r; k <= r; k++) {
    const row = Math.min(h - 1, Math.max(0, k)) * w;
    for (let x = 0; x < w; x++) acc[x] += src[row + x];
  }
  for (let y = 0; y < h; y++) {
    const row = y * w;
    const add = Math.min(h - 1, y + r + 1) * w;
    const sub = Math.max(0, y - r) * w;
    for (let x = 0; x < w; x++) {
      dst[row + x] = acc[x] / n;
      acc[x] += src[add + x] - src[sub + x];
    }
  }
}

/** Sum of squared weights of a box kernel (radius r) applied twice: the variance factor for white noise. */
function twoBoxGain(r: number): number {
  const n = 2 * r + 1;
  const k = new Float64Array(2 * n - 1);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) k[i + j] += 1 / (n * n);
  let s = 0;
  for (const v of k) s += v * v;
  return s;
}

/** Grain of the speckle: ultrasound resolution cells are wider than tall (lateral blur > axial). */
export const SPECKLE_RX = 3;
export const SPECKLE_RY = 1;

/**
 * A complex Gaussian field with E|z|² = 1 and a grain of about (4·RX) x (4·RY) px: white uniform noise
 * blurred twice each way (the sum of many uniforms is Gaussian by the CLT, and much cheaper than
 * Box-Muller). |z| is then Rayleigh distributed: fully developed speckle.
 */
export function complexSpeckle(seed: number, w: number, h: number): { re: Float32Array; im: Float32Array } {
  const rng = new SynthRng(seed);
  const n = w * h;
  const gain = twoBoxGain(SPECKLE_RX) * twoBoxGain(SPECKLE_RY);
  // uniform on [-1, 1] has variance 1/3; each component should end with variance 1/2
  const scale = Math.sqrt(0.5 / ((1 / 3) * gain));
  const out: Float32Array[] = [];
  const a = new Float32Array(n);
  const b = new Float32Array(n);
  for (let c = 0; c < 2; c++) {
    for (let i = 0; i < n; i++) a[i] = 2 * rng.next() - 1;
    boxBlurH(a, b, w, h, SPECKLE_RX);
    boxBlurH(b, a, w, h, SPECKLE_RX);
    boxBlurV(a, b, w, h, SPECKLE_RY);
    const f = new Float32Array(n);
    boxBlurV(b, f, w, h, SPECKLE_RY);
    for (let i = 0; i < n; i++) f[i] *= scale;
    out.push(f);
  }
  return { re: out[0], im: out[1] };
}

/**
 * Smooth value noise in about [-1, 1] on a lattice of cx x cy px cells (cosine-eased bilinear),
 * for blotchy, low-frequency tissue variation.
 */
export function valueNoise(rng: SynthRng, w: number, h: number, cx: number, cy: number): Float32Array {
  const gw = Math.ceil(w / cx) + 2;
  const gh = Math.ceil(h / cy) + 2;
  const g = new Float32Array(gw * gh);
  for (let i = 0; i < g.length; i++) g[i] = 2 * rng.next() - 1;
  const out = new Float32Array(w * h);
  const ease = (t: number): number => t * t * (3 - 2 * t);
  for (let y = 0; y < h; y++) {
    const gy = y / cy;
    const j = Math.floor(gy);
    const ty = ease(gy - j);
    for (let x = 0; x < w; x++) {
      const gx = x / cx;
      const i = Math.floor(gx);
      const tx = ease(gx - i);
      const v00 = g[j * gw + i];
      const v10 = g[j * gw + i + 1];
      const v01 = g[(j + 1) * gw + i];
      const v11 = g[(j + 1) * gw + i + 1];
      out[y * w + x] = (v00 * (1 - tx) + v10 * tx) * (1 - ty) + (v01 * (1 - tx) + v11 * tx) * ty;
    }
  }
  return out;
}
