/**
 * Renders one synthetic ultrasound frame from a subject's scene: a small motion of the anatomy,
 * speckle (partly the tissue's own, partly new), depth attenuation and log-like compression to 8 bits.
 * Pure: no disk, no global state, the same parameters give the same bytes.
 */
import { KAGGLE_HEIGHT, KAGGLE_WIDTH, type GreyImage } from "../io/image.js";
import { MARGIN, type SynthScene } from "./scene.js";
import { boxBlurH, boxBlurV, complexSpeckle } from "./speckle.js";

/** Everything that varies from frame to frame of one subject. */
export interface FrameParams {
  /** Shift of the probe over the anatomy, px (|dx| ≤ 14, |dy| ≤ 8 keep the canvas border unused). */
  dx: number;
  dy: number;
  /** Vertical compression by probe pressure (≈ 1 ± 0.03). */
  scale: number;
  /** Small in-plane rotation, radians. */
  rot: number;
  /** Lateral wobble (elastic deformation) amplitude in px and phase. */
  wobble: number;
  wobblePhase: number;
  /** Overall gain (≈ 1). */
  gain: number;
  /** Whether the nerve is drawn, and whether the mask says so (they differ only for contradicting frames). */
  nerve: boolean;
  label: boolean;
  /** Weight of the scene's own speckle; the fresh fields below add the rest (Σ weights² = 1). */
  rho: number;
  fresh: Array<{ seed: number; weight: number }>;
}

export interface RenderedFrame {
  image: GreyImage;
  /** 0/255, row-major; all zero unless params.label. */
  mask: Uint8Array;
}

/** How strongly speckle modulates the image (1 = fully developed; the scanners' filters reduce it). */
const SPECKLE_DEPTH = 0.42;
/** Mean of a Rayleigh amplitude with E|z|² = 1. */
const RAYLEIGH_MEAN = Math.sqrt(Math.PI) / 2;
/** Grey-level compression: grey = 255·(1 − exp(−TONE·amplitude)). */
const TONE = 0.85;

export function renderFrame(scene: SynthScene, p: FrameParams): RenderedFrame {
  const W = KAGGLE_WIDTH;
  const H = KAGGLE_HEIGHT;
  const n = W * H;
  const { cw, ch } = scene;
  const echo = p.nerve ? scene.withNerve : scene.base;

  const fRe = new Float32Array(n);
  const fIm = new Float32Array(n);
  for (const f of p.fresh) {
    const s = complexSpeckle(f.seed, W, H);
    for (let i = 0; i < n; i++) {
      fRe[i] += f.weight * s.re[i];
      fIm[i] += f.weight * s.im[i];
    }
  }

  const data = new Uint8Array(n);
  const mask = new Uint8Array(n);
  const echoF = new Float32Array(n);
  const spk = new Float32Array(n);
  const cos = Math.cos(p.rot);
  const sin = Math.sin(p.rot);
  const cx = W / 2;
  const cy = H / 2;
  const { specRe, specIm, nerveMask } = scene;
  const rho = p.rho;
  for (let y = 0; y < H; y++) {
    const v = y - cy;
    const wob = p.wobble * Math.sin((2 * Math.PI * y) / 300 + p.wobblePhase);
    for (let x = 0; x < W; x++) {
      const u = x - cx;
      let sx = MARGIN + cx + p.dx + cos * u - sin * v + wob;
      let sy = MARGIN + cy + p.dy + (sin * u + cos * v) * p.scale;
      if (sx < 0) sx = 0;
      else if (sx > cw - 1.001) sx = cw - 1.001;
      if (sy < 0) sy = 0;
      else if (sy > ch - 1.001) sy = ch - 1.001;
      const ix = sx | 0;
      const iy = sy | 0;
      const tx = sx - ix;
      const ty = sy - iy;
      const j = iy * cw + ix;
      const w00 = (1 - tx) * (1 - ty);
      const w10 = tx * (1 - ty);
      const w01 = (1 - tx) * ty;
      const w11 = tx * ty;
      const i = y * W + x;
      echoF[i] = w00 * echo[j] + w10 * echo[j + 1] + w01 * echo[j + cw] + w11 * echo[j + cw + 1];
      const sr = w00 * specRe[j] + w10 * specRe[j + 1] + w01 * specRe[j + cw] + w11 * specRe[j + cw + 1];
      const si = w00 * specIm[j] + w10 * specIm[j + 1] + w01 * specIm[j + cw] + w11 * specIm[j + cw + 1];
      const zr = rho * sr + fRe[i];
      const zi = rho * si + fIm[i];
      spk[i] = Math.sqrt(zr * zr + zi * zi);
      if (p.label && nerveMask[Math.round(sy) * cw + Math.round(sx)] === 1) mask[i] = 255;
    }
  }
  // The scanners smooth their output: a light blur of the speckle softens the Rayleigh zeros, which
  // otherwise read as a network of dark worms that the real images do not have.
  boxBlurH(spk, fRe, W, H, 2);
  boxBlurV(fRe, spk, W, H, 1);
  for (let y = 0; y < H; y++) {
    // depth attenuation, partly undone by the scanner's time-gain compensation; a dim top edge
    const att = p.gain * (0.62 + 0.38 * Math.exp(-y / 170)) * (y < 6 ? 0.35 + 0.11 * y : 1);
    for (let x = 0, i = y * W; x < W; x++, i++) {
      const a = echoF[i] * (1 + SPECKLE_DEPTH * (spk[i] / RAYLEIGH_MEAN - 1)) * att;
      // soft-knee compression: linear-ish in the mid greys, saturating towards white like the real ones
      const g = 255 * (1 - Math.exp(-TONE * (a > 0 ? a : 0)));
      data[i] = g >= 255 ? 255 : g;
    }
  }
  drawProbeMarker(data, W);
  return { image: { width: W, height: H, data }, mask };
}

/** The scanner's small orientation mark at the top centre (a "V"), present in every real frame. */
function drawProbeMarker(data: Uint8Array, w: number): void {
  const x0 = 300;
  for (let k = 0; k < 9; k++) {
    const y = 2 + k;
    const half = 4 - k * 0.45;
    for (const x of [Math.round(x0 - half), Math.round(x0 + half)]) {
      data[y * w + x] = 235;
      data[y * w + x + 1] = 150;
    }
  }
}
