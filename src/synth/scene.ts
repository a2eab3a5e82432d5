/**
 * One subject's anatomy for the synthetic data: an echogenicity map ("how much this tissue scatters")
 * on a canvas a little larger than the frame, so that each video frame can be a small shift/deformation
 * of it. Built once per subject; frames are rendered from it by synth-render.ts.
 */
import { KAGGLE_HEIGHT, KAGGLE_WIDTH } from "../io/image.js";
import { SynthRng, mixSeed } from "./random.js";
import { boxBlurH, boxBlurV, complexSpeckle, valueNoise } from "./speckle.js";
import { insideDistance, ovalShape, sampleArea, shapeFromRle, type NerveShape } from "./shapes.js";

/** Canvas border around the frame: room for the per-frame motion (shift + rotation + wobble). */
export const MARGIN = 28;

/** What a subject's scene is built from: its seed and, with --shapes, a real nerve outline (Kaggle RLE). */
export interface SceneSpec {
  seed: number;
  shapeRle?: string;
  /** Names the outline's source in errors, e.g. "train_masks.csv shape 123". */
  shapeWhere?: string;
}

export interface SynthScene {
  /** Canvas size: the frame plus MARGIN on every side. */
  cw: number;
  ch: number;
  /** Echogenicity without the nerve. */
  base: Float32Array;
  /** The same with the nerve drawn in (identical outside the nerve mask). */
  withNerve: Float32Array;
  /** 1 where the nerve is, on the canvas. */
  nerveMask: Uint8Array;
  /** The scene's own speckle (tissue scatterers move with the tissue), complex, E|z|² = 1. */
  specRe: Float32Array;
  specIm: Float32Array;
  /** Where the nerve's centroid lies in an unmoved frame (column, row). */
  nerveX: number;
  nerveY: number;
}

/** Real nerve centres (train_masks.csv): row ≈ 145, column ≈ 334; sd per subject as the brief asks. */
const CENTRE_ROW = 145;
const CENTRE_COL = 334;
const CENTRE_SD = 22;

interface Curve {
  y0: number;
  amp: number;
  period: number;
  phase: number;
  slope: number;
}

const curveY = (c: Curve, x: number): number =>
  c.y0 + c.amp * Math.sin((2 * Math.PI * x) / c.period + c.phase) + c.slope * (x - 300);

export function buildScene(spec: SceneSpec): SynthScene {
  const rng = new SynthRng(mixSeed(spec.seed, 0x5ce7e));
  const cw = KAGGLE_WIDTH + 2 * MARGIN;
  const ch = KAGGLE_HEIGHT + 2 * MARGIN;
  const n = cw * ch;
  const base = new Float32Array(n);

  // 1. Horizontal tissue layers with wavy boundaries and smooth (≈3 px) transitions.
  const curves: Curve[] = [];
  const levels: number[] = [rng.uniform(0.55, 0.8)];
  let y = MARGIN + rng.uniform(14, 22); // skin line
  curves.push({
    y0: y,
    amp: rng.uniform(0.5, 2),
    period: rng.uniform(500, 900),
    phase: rng.uniform(0, 6.3),
    slope: 0,
  });
  levels.push(rng.uniform(0.5, 0.8));
  while (true) {
    y += rng.uniform(32, 90);
    if (y > ch - 30) break;
    curves.push({
      y0: y,
      amp: rng.uniform(2, 14),
      period: rng.uniform(250, 900),
      phase: rng.uniform(0, 6.3),
      slope: rng.uniform(-0.09, 0.09),
    });
    levels.push(rng.uniform(0.25, 1.1));
  }
  const bnd = new Float32Array(curves.length);
  for (let x = 0; x < cw; x++) {
    for (let k = 0; k < curves.length; k++) bnd[k] = curveY(curves[k], x);
    for (let yy = 0; yy < ch; yy++) {
      let v = levels[0];
      for (let k = 0; k < curves.length; k++) {
        const t = yy - bnd[k];
        // the logistic step is flat beyond ±20 px: skip the exp there (most of the canvas)
        const step = t > 20 ? 1 : t < -20 ? 0 : 1 / (1 + Math.exp(-t / 2.5));
        v += (levels[k + 1] - levels[k]) * step;
      }
      base[yy * cw + x] = v;
    }
  }

  // 2. Low-frequency blotches (fat lobules, muscle bellies), wider than tall like everything here.
  const blotA = valueNoise(rng, cw, ch, 70, 26);
  const blotB = valueNoise(rng, cw, ch, 22, 9);
  for (let i = 0; i < n; i++) base[i] *= Math.exp(1.1 * blotA[i] + 0.4 * blotB[i]);

  // 3. Bright fascia along most layer boundaries, broken into fragments.
  for (let k = 0; k < curves.length; k++) {
    if (k > 0 && rng.next() < 0.2) continue;
    const strength = k === 0 ? rng.uniform(1.8, 2.6) : rng.uniform(1.2, 3);
    const sigma = rng.uniform(1.4, 3);
    const frag = valueNoise(rng, cw, 1, rng.uniform(25, 70), 1);
    for (let x = 0; x < cw; x++) {
      const f = Math.max(0, Math.min(1, 0.55 + 1.3 * frag[x]));
      if (f <= 0) continue;
      addLine(base, cw, ch, x, curveY(curves[k], x) + 1.5, sigma, strength * f);
    }
  }

  // 4. Short bright streaks everywhere (muscle striation, septa), roughly following the layers.
  const nStreaks = Math.round(rng.uniform(80, 130));
  for (let s = 0; s < nStreaks; s++) {
    const xc = rng.uniform(0, cw);
    const yc = rng.uniform(MARGIN + 20, ch);
    const u = rng.next();
    const sigma = rng.uniform(1.5, 4);
    const len = Math.max(20 * sigma, 30 + 260 * u * Math.sqrt(u));
    const slope = rng.normal(0, 0.09) + nearestSlope(curves, yc);
    const curv = rng.normal(0, 0.0025);
    const amp = 0.3 + rng.uniform(0, 1) ** 2 * 3.2;
    const x0 = Math.max(0, Math.floor(xc - len / 2));
    const x1 = Math.min(cw - 1, Math.ceil(xc + len / 2));
    for (let x = x0; x <= x1; x++) {
      const t = (x - (xc - len / 2)) / len;
      if (t <= 0 || t >= 1) continue;
      const dx = x - xc;
      addLine(base, cw, ch, x, yc + slope * dx + curv * dx * dx, sigma, amp * Math.sin(Math.PI * t));
    }
  }
  for (let i = 0; i < n; i++) if (base[i] < 0.02) base[i] = 0.02;

  // 5. The nerve: a bright-rimmed oval with a honeycomb of dark fascicles and bright septa.
  const shape: NerveShape = spec.shapeRle
    ? shapeFromRle(spec.shapeRle, spec.shapeWhere ?? "nerve shape")
    : ovalShape(rng, sampleArea(rng));
  const pad = 18; // keep the whole nerve inside the frame even after the per-frame motion
  const halfW = Math.max(shape.cx, shape.width - shape.cx);
  const halfH = Math.max(shape.cy, shape.height - shape.cy);
  const nerveX = clamp(rng.normal(CENTRE_COL, CENTRE_SD), halfW + pad, KAGGLE_WIDTH - halfW - pad);
  const nerveY = clamp(rng.normal(CENTRE_ROW, CENTRE_SD), halfH + pad + 20, KAGGLE_HEIGHT - halfH - pad);
  const ox = Math.round(MARGIN + nerveX - shape.cx); // canvas position of the shape's (0,0)
  const oy = Math.round(MARGIN + nerveY - shape.cy);
  const withNerve = Float32Array.from(base);
  const nerveMask = new Uint8Array(n);
  drawNerve(rng, shape, ox, oy, base, withNerve, nerveMask, cw);

  // 6. Vessels: dark, round, bright walls top and bottom, and acoustic enhancement below (fluid
  //    attenuates less than tissue). Applied to both canvases alike; they never overlap the nerve.
  const nerveR = Math.max(halfW, halfH);
  const vessels: Array<{ x: number; y: number; a: number; b: number }> = [];
  const want = rng.next() < 0.85 ? (rng.next() < 0.4 ? 2 : 1) : 0;
  for (let tries = 0; tries < 60 && vessels.length < want; tries++) {
    const a = rng.uniform(17, 40);
    const b = a * rng.uniform(0.7, 1.0);
    const vx = MARGIN + rng.uniform(40, KAGGLE_WIDTH - 40);
    const vy = MARGIN + rng.uniform(110, KAGGLE_HEIGHT - 60);
    const far = (px: number, py: number, r: number): boolean => Math.hypot(vx - px, vy - py) > a + r + 14;
    if (!far(MARGIN + nerveX, MARGIN + nerveY, nerveR)) continue;
    if (!vessels.every((v) => far(v.x, v.y, v.a))) continue;
    vessels.push({ x: vx, y: vy, a, b });
  }
  for (const v of vessels) {
    const wall = 0.9 + 0.8 * rng.next();
    for (const canvas of [base, withNerve]) drawVessel(wall, v.x, v.y, v.a, v.b, canvas, cw, ch);
  }

  const spec2 = complexSpeckle(mixSeed(spec.seed, 0x5bec), cw, ch);
  return {
    cw,
    ch,
    base,
    withNerve,
    nerveMask,
    specRe: spec2.re,
    specIm: spec2.im,
    nerveX,
    nerveY,
  };
}

function clamp(v: number, lo: number, hi: number): number {
  return lo > hi ? (lo + hi) / 2 : Math.min(hi, Math.max(lo, v));
}

function nearestSlope(curves: Curve[], y: number): number {
  let best = curves[0];
  for (const c of curves) if (Math.abs(c.y0 - y) < Math.abs(best.y0 - y)) best = c;
  return best.slope * 0.8;
}

/** Adds a Gaussian ridge across column x centred on row yc (one column of a thin bright line). */
function addLine(
  img: Float32Array,
  w: number,
  h: number,
  x: number,
  yc: number,
  sigma: number,
  amp: number,
): void {
  const r = Math.ceil(3 * sigma);
  const y0 = Math.max(0, Math.floor(yc) - r);
  const y1 = Math.min(h - 1, Math.ceil(yc) + r);
  const k = -0.5 / (sigma * sigma);
  for (let y = y0; y <= y1; y++) {
    const d = y - yc;
    img[y * w + x] += amp * Math.exp(k * d * d);
  }
}

function drawNerve(
  rng: SynthRng,
  shape: NerveShape,
  ox: number,
  oy: number,
  base: Float32Array,
  out: Float32Array,
  mask: Uint8Array,
  cw: number,
): void {
  const { width: w, height: h, data } = shape;
  const dist = insideDistance(shape);
  // The surroundings' level: the nerve's contrast to them is low, as in the real images.
  let sum = 0;
  let cnt = 0;
  for (let y = -8; y < h + 8; y++) {
    for (let x = -8; x < w + 8; x++) {
      const inside = x >= 0 && y >= 0 && x < w && y < h && data[y * w + x] === 1;
      if (inside) continue;
      sum += base[(oy + y) * cw + ox + x];
      cnt++;
    }
  }
  const ref = Math.min(1.3, Math.max(0.6, sum / cnt));

  // Fascicles: jittered grid of centres inside the outline.
  const spacing = rng.uniform(16, 25);
  const centres: number[] = [];
  for (let gy = spacing / 2; gy < h; gy += spacing) {
    for (let gx = spacing / 2; gx < w; gx += spacing) {
      const cx = gx + rng.uniform(-0.45, 0.45) * spacing;
      const cy = gy + rng.uniform(-0.45, 0.45) * spacing;
      const ix = Math.round(cx);
      const iy = Math.round(cy);
      if (ix < 0 || iy < 0 || ix >= w || iy >= h || dist[iy * w + ix] < 3) continue;
      centres.push(cx, cy);
    }
  }
  const coreR = spacing * rng.uniform(0.28, 0.4);
  const coreAmp = rng.uniform(0.3, 0.5);
  const septaW = rng.uniform(2.5, 4.0);
  const septaAmp = rng.uniform(0.2, 0.45);
  const rimAmp = rng.uniform(1.0, 1.6);
  const rimW = rng.uniform(2.5, 3.8);
  const rimH: Array<[number, number, number]> = [];
  for (let k = 1; k <= 3; k++) rimH.push([k, rng.uniform(0.2, 0.6) / k, rng.uniform(0, 6.3)]);
  const ccx = shape.cx;
  const ccy = shape.cy;
  const val = new Float32Array(w * h).fill(ref);

  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const li = y * w + x;
      if (data[li] === 0) continue;
      let d1 = 1e9;
      let d2 = 1e9;
      for (let c = 0; c < centres.length; c += 2) {
        const dx = x - centres[c];
        const dy = y - centres[c + 1];
        const d = dx * dx + dy * dy;
        if (d < d1) {
          d2 = d1;
          d1 = d;
        } else if (d < d2) d2 = d;
      }
      d1 = Math.sqrt(d1);
      d2 = Math.sqrt(d2);
      const core = Math.exp(-((d1 / coreR) ** 2));
      const septa = d2 < 1e8 ? Math.exp(-(((d2 - d1) / septaW) ** 2)) : 0;
      const theta = Math.atan2(y - ccy, x - ccx);
      let ang = 0.6;
      for (const [k, a, p] of rimH) ang += a * Math.cos(k * theta + p);
      const dr = dist[li];
      const rim = rimAmp * Math.max(0.25, Math.min(1.2, ang)) * Math.exp(-(((dr - 3) / rimW) ** 2));
      // the beam reflects best off the top and bottom of the sheath: crescents there, as in the real images
      const facing = 0.45 + 0.55 * Math.abs(Math.sin(theta));
      val[li] = ref * (0.85 - coreAmp * core + septaAmp * septa + rim * facing);
    }
  }
  // Soften the cell walls (a crisp Voronoi net looks drawn, not scanned), then paint inside the outline.
  const tmp = new Float32Array(w * h);
  boxBlurH(val, tmp, w, h, 1);
  boxBlurV(tmp, val, w, h, 1);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      if (data[y * w + x] === 0) continue;
      const ci = (oy + y) * cw + ox + x;
      out[ci] = Math.max(0.03, val[y * w + x]);
      mask[ci] = 1;
    }
  }
  // A few short bright streaks inside (fascicle walls seen edge-on), clipped to the outline.
  const nIn = rng.int(4);
  for (let s = 0; s < nIn; s++) {
    const yc = ccy + rng.uniform(-0.35, 0.35) * h;
    const xc = ccx + rng.uniform(-0.2, 0.2) * w;
    const len = rng.uniform(0.3, 0.6) * w;
    const slope = rng.normal(0, 0.15);
    const amp = ref * rng.uniform(0.4, 0.9);
    for (let x = Math.max(0, Math.floor(xc - len / 2)); x <= Math.min(w - 1, xc + len / 2); x++) {
      const t = (x - (xc - len / 2)) / len;
      const yl = yc + slope * (x - xc);
      for (let y = Math.max(0, Math.floor(yl - 4)); y <= Math.min(h - 1, Math.ceil(yl + 4)); y++) {
        if (data[y * w + x] === 0) continue;
        out[(oy + y) * cw + ox + x] += amp * Math.sin(Math.PI * t) * Math.exp(-(((y - yl) / 1.5) ** 2));
      }
    }
  }
}

function drawVessel(
  wall: number,
  vx: number,
  vy: number,
  a: number,
  b: number,
  img: Float32Array,
  cw: number,
  ch: number,
): void {
  const x0 = Math.max(0, Math.floor(vx - a - 3));
  const x1 = Math.min(cw - 1, Math.ceil(vx + a + 3));
  for (let x = x0; x <= x1; x++) {
    const u = (x - vx) / a;
    // acoustic enhancement: brighter below the vessel's bottom, fading with depth
    if (Math.abs(u) < 1) {
      const bottom = vy + b * Math.sqrt(1 - u * u);
      const side = 1 - u * u;
      for (let y = Math.ceil(bottom); y < ch; y++) {
        img[y * cw + x] *= 1 + 0.8 * side * Math.exp(-(y - bottom) / 110);
      }
    }
    for (let y = Math.max(0, Math.floor(vy - b - 3)); y <= Math.min(ch - 1, Math.ceil(vy + b + 3)); y++) {
      const v = (y - vy) / b;
      const rho = Math.sqrt(u * u + v * v);
      const i = y * cw + x;
      if (rho < 1) img[i] = img[i] * 0.06 + 0.1;
      // specular walls: the top and bottom of the lumen face the beam
      const facing = Math.abs(v) / Math.max(rho, 1e-6);
      img[i] += wall * facing * facing * Math.exp(-((((rho - 1.02) * Math.min(a, b)) / 1.6) ** 2));
    }
  }
}
