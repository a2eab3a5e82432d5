import { fileError } from "../core/errors.js";
import { KAGGLE_HEIGHT, KAGGLE_WIDTH } from "../io/image.js";
import { decodeRle } from "../io/rle.js";
import type { SynthRng } from "./random.js";
import { readRegularFileSync, TEXT_FILE_LIMIT } from "../io/read-file.js";

/** A nerve outline as a small binary mask (1 = nerve) with its centroid in local coordinates. */
export interface NerveShape {
  width: number;
  height: number;
  data: Uint8Array;
  cx: number;
  cy: number;
}

/**
 * Real nerve mask areas (train_masks.csv): 2,684 to 17,439 px, median 6,976, log-sd about 0.24.
 * The bounds leave room for the per-frame scale jitter (±3 %) to stay inside the real range.
 */
export const AREA_MEDIAN = 7000;
export const AREA_MIN = 2900;
export const AREA_MAX = 16000;

export function sampleArea(rng: SynthRng): number {
  return Math.min(AREA_MAX, Math.max(AREA_MIN, AREA_MEDIAN * Math.exp(0.25 * rng.gauss())));
}

/**
 * A wobbly, tilted oval of about `area` px. Real nerves are taller than wide (bounding box width/height
 * median 0.76) and their outline is not a clean ellipse, hence the low harmonics on the radius.
 */
export function ovalShape(rng: SynthRng, area: number): NerveShape {
  const q = Math.min(1.25, Math.max(0.55, 0.8 * Math.exp(0.18 * rng.gauss()))); // horizontal / vertical
  const b = Math.sqrt(area / (Math.PI * q));
  const a = q * b;
  const tilt = rng.uniform(-0.6, 0.6);
  const harm: Array<[number, number, number]> = [];
  for (let k = 2; k <= 4; k++) harm.push([k, rng.normal(0, 0.035, -0.07, 0.07), rng.uniform(0, 2 * Math.PI)]);
  const reach = Math.ceil(Math.max(a, b) * 1.2) + 2;
  const size = 2 * reach + 1;
  const data = new Uint8Array(size * size);
  const c = Math.cos(tilt);
  const s = Math.sin(tilt);
  let n = 0;
  let sx = 0;
  let sy = 0;
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const dx = x - reach;
      const dy = y - reach;
      const u = (c * dx + s * dy) / a;
      const v = (-s * dx + c * dy) / b;
      const phi = Math.atan2(v, u);
      let r = 1;
      for (const [k, amp, ph] of harm) r += amp * Math.cos(k * phi + ph);
      if (u * u + v * v <= r * r) {
        data[y * size + x] = 1;
        n++;
        sx += x;
        sy += y;
      }
    }
  }
  return { width: size, height: size, data, cx: sx / n, cy: sy / n };
}

/** Crops a full-frame mask (nonzero = on) to its bounding box plus a 1-px border. */
export function cropShape(mask: Uint8Array, w: number, h: number): NerveShape {
  let x0 = w;
  let y0 = h;
  let x1 = -1;
  let y1 = -1;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      if (mask[y * w + x] === 0) continue;
      if (x < x0) x0 = x;
      if (x > x1) x1 = x;
      if (y < y0) y0 = y;
      if (y > y1) y1 = y;
    }
  }
  if (x1 < 0) throw new Error("cropShape: empty mask");
  const width = x1 - x0 + 3;
  const height = y1 - y0 + 3;
  const data = new Uint8Array(width * height);
  let n = 0;
  let sx = 0;
  let sy = 0;
  for (let y = y0; y <= y1; y++) {
    for (let x = x0; x <= x1; x++) {
      if (mask[y * w + x] === 0) continue;
      const lx = x - x0 + 1;
      const ly = y - y0 + 1;
      data[ly * width + lx] = 1;
      n++;
      sx += lx;
      sy += ly;
    }
  }
  return { width, height, data, cx: sx / n, cy: sy / n };
}

/**
 * The non-empty masks (Kaggle RLE strings) of a train_masks.csv (`subject,img,pixels`), for
 * `--shapes`: the nerve outlines are then real ones rather than ovals.
 */
export function loadShapeLibrary(file: string): string[] {
  const text = readRegularFileSync(file, TEXT_FILE_LIMIT).toString("utf8");
  const lines = text.split(/\r?\n/);
  const header = lines[0]?.trim().toLowerCase();
  if (header !== "subject,img,pixels" && header !== "img,pixels") {
    throw fileError(
      file,
      `not a Kaggle mask CSV (header "${lines[0]?.slice(0, 40)}", want "subject,img,pixels")`,
    );
  }
  const col = header.split(",").length - 1;
  const out: string[] = [];
  for (let i = 1; i < lines.length; i++) {
    const cells = lines[i].split(",");
    const px = cells[col]?.trim();
    if (px) out.push(px);
  }
  if (out.length === 0) throw fileError(file, "no non-empty masks to take nerve shapes from");
  return out;
}

/** A real outline from the library (decoded from its RLE; `where` names it in errors). */
export function shapeFromRle(rle: string, where: string): NerveShape {
  return cropShape(decodeRle(rle, KAGGLE_WIDTH, KAGGLE_HEIGHT, where), KAGGLE_WIDTH, KAGGLE_HEIGHT);
}

/** Chamfer (1, √2) distance from each on pixel to the nearest off pixel (outside the box counts as off). */
export function insideDistance(shape: NerveShape): Float32Array {
  const { width: w, height: h, data } = shape;
  const d = new Float32Array(w * h);
  const D = Math.SQRT2;
  const get = (x: number, y: number): number => (x < 0 || y < 0 || x >= w || y >= h ? 0 : d[y * w + x]);
  for (let i = 0; i < d.length; i++) d[i] = data[i] ? 1e9 : 0;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const i = y * w + x;
      if (d[i] === 0) continue;
      d[i] = Math.min(
        d[i],
        get(x - 1, y) + 1,
        get(x, y - 1) + 1,
        get(x - 1, y - 1) + D,
        get(x + 1, y - 1) + D,
      );
    }
  }
  for (let y = h - 1; y >= 0; y--) {
    for (let x = w - 1; x >= 0; x--) {
      const i = y * w + x;
      if (d[i] === 0) continue;
      d[i] = Math.min(
        d[i],
        get(x + 1, y) + 1,
        get(x, y + 1) + 1,
        get(x + 1, y + 1) + D,
        get(x - 1, y + 1) + D,
      );
    }
  }
  return d;
}
