import { UserError } from "../core/errors.js";
import { parseRle, runsToMask } from "../io/rle.js";
import {
  DEFAULT_POSTPROCESS,
  fullResProbability,
  gatedEmpty,
  pixelOn,
  thresholdMask,
  KAGGLE_SIZE,
  placeMap,
  type MaskSize,
  type PostprocessParams,
} from "./mask-rule.js";
import type { Fit } from "../data/resize.js";
import type { FrameBox } from "../data/trim.js";

/**
 * Validation data for tuning: model outputs at model resolution and the true masks, each at its own size
 * (580x420 when no size is given, the Kaggle frame).
 */
export interface TuneInput {
  /** Probability maps (floats 0..1 or bytes = probability x 255), height*width each. */
  probs: (Float32Array | Uint8Array)[];
  presence: number[];
  width: number;
  height: number;
  /** How the frames met the input, and per image the box the map covers (trimmed bars); see placeMap. */
  fit?: Fit;
  boxes?: (FrameBox | null)[];
  /** True masks: Kaggle RLE text, or a row-major mask (nonzero = target) of `sizes[i]`. */
  truth: (string | Uint8Array)[];
  /** The size each truth mask is scored at: the mask rule's output size (default 580x420 for all). */
  sizes?: MaskSize[];
  /**
   * Each frame's own size, for placing the map (letterbox aspect, trimmed bars) before it is brought to
   * `sizes[i]` (default: `sizes[i]`, the frame scored at its own size).
   */
  own?: MaskSize[];
  /** Names for error messages (e.g. image ids); defaults to indices. */
  ids?: string[];
}

/** The values searched; every combination is scored (a full grid: the sweeps are cheap, see tunePostprocess). */
export interface TuneGrid {
  pixelThresholds: number[];
  presenceThresholds: number[];
  minAreas: number[];
}

const sortedUnique = (xs: number[]): number[] => [...new Set(xs)].sort((a, b) => a - b);

const range = (from: number, to: number, step: number): number[] => {
  const out: number[] = [];
  for (let k = 0; from + k * step <= to + 1e-9; k++) out.push(Math.round((from + k * step) * 1e6) / 1e6);
  return out;
};

/** 19 x 21 x 21 values: thresholds in steps of 0.05, minimum areas 0..5,000 px in steps of 250 (at 580x420). */
export const DEFAULT_TUNE_GRID: TuneGrid = {
  pixelThresholds: range(0.05, 0.95, 0.05),
  presenceThresholds: range(0, 1, 0.05),
  minAreas: range(0, 5000, 250),
};

/**
 * The default grid for frames of `pixels` pixels (the median frame scored): minimum areas cover the same
 * share of the frame as 0..5,000 px of a 580x420 Kaggle frame (about 2%), so a small frame is not searched
 * in steps of a large one's. At 580x420 it is DEFAULT_TUNE_GRID exactly.
 */
export function tuneGridFor(pixels: number): TuneGrid {
  const scale = pixels / (KAGGLE_SIZE.width * KAGGLE_SIZE.height);
  const minAreas = sortedUnique(DEFAULT_TUNE_GRID.minAreas.map((a) => Math.round(a * scale)));
  return { ...DEFAULT_TUNE_GRID, minAreas };
}

export interface TuneRow {
  pixelThreshold: number;
  presenceThreshold: number;
  minArea: number;
  /** Mean Kaggle Dice over the validation images. */
  score: number;
}

export interface TuneResult {
  /** The base params with the three searched values replaced by the best ones. */
  best: PostprocessParams;
  /** Mean Dice with the base params (before tuning). */
  before: number;
  /** Mean Dice with `best`. */
  after: number;
  /** Every grid point, in pixelThreshold, presenceThreshold, minArea order. */
  table: TuneRow[];
  search: "full-grid";
  images: number;
}

/**
 * Per image and pixel threshold: the predicted area and its intersection with the truth, before the
 * presence and min-area rules. Without morphology or the largest-component rule, the mask for threshold t
 * is simply {p > t}, so one pass with a histogram over the threshold intervals gives every threshold's
 * counts; otherwise each threshold's mask is built in full.
 */
function countsPerThreshold(
  full: Float32Array,
  truth: Uint8Array,
  thresholds: number[],
  params: PostprocessParams,
  size: MaskSize,
  area: Float64Array,
  inter: Float64Array,
  i: number,
  n: number,
): void {
  const T = thresholds.length;
  if (params.morphology === "none" && !params.largestComponent) {
    // hist[k]: pixels on for exactly the first k thresholds (pixelOn for t_0..t_{k-1}, not for t_k).
    const hist = new Float64Array(T + 1);
    const histT = new Float64Array(T + 1);
    const t0 = thresholds[0];
    for (let p = 0; p < full.length; p++) {
      const v = full[p];
      if (!pixelOn(v, t0)) continue;
      let lo = 1;
      let hi = T;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (pixelOn(v, thresholds[mid])) lo = mid + 1;
        else hi = mid;
      }
      hist[lo]++;
      if (truth[p] !== 0) histT[lo]++;
    }
    let a = 0;
    let b = 0;
    for (let k = T; k >= 1; k--) {
      a += hist[k];
      b += histT[k];
      area[(k - 1) * n + i] = a;
      inter[(k - 1) * n + i] = b;
    }
    return;
  }
  for (let j = 0; j < T; j++) {
    const mask = thresholdMask(full, { ...params, pixelThreshold: thresholds[j] }, size);
    let a = 0;
    let b = 0;
    for (let p = 0; p < mask.length; p++) {
      if (mask[p] === 0) continue;
      a++;
      if (truth[p] !== 0) b++;
    }
    area[j * n + i] = a;
    inter[j * n + i] = b;
  }
}

/**
 * Searches pixelThreshold x presenceThreshold x minArea (full grid) for the best mean Kaggle Dice on
 * validation images; the other params (blur, morphology, largest component) stay as in `base`.
 * Cost: one upsample + blur per image, one pass per image for all pixel thresholds, then the presence and
 * min-area sweeps work on per-image counts only (no pixels). The base params' own values are always added
 * to the grid, so `before` is exact and `after >= before`. Among settings tied for the best score, the
 * middle of the plateau wins (see below).
 */
export function tunePostprocess(
  input: TuneInput,
  base: PostprocessParams = DEFAULT_POSTPROCESS,
  grid?: TuneGrid,
  onImage?: (done: number, total: number) => void,
): TuneResult {
  const n = input.probs.length;
  const name = (i: number): string => input.ids?.[i] ?? `image ${i}`;
  if (n === 0) throw new UserError("tune: no validation images");
  if (input.presence.length !== n || input.truth.length !== n) {
    throw new UserError(
      `tune: ${n} maps, ${input.presence.length} presence values, ${input.truth.length} truth masks`,
    );
  }
  const sizes = input.sizes ?? input.truth.map(() => KAGGLE_SIZE);
  if (sizes.length !== n || (input.own && input.own.length !== n))
    throw new UserError(
      `tune: ${n} maps but ${sizes.length} truth sizes and ${input.own?.length} frame sizes`,
    );
  const pixels = sizes.map((z) => z.width * z.height).sort((a, b) => a - b);
  const g = grid ?? tuneGridFor(pixels[n >> 1]);
  const pix = sortedUnique([...g.pixelThresholds, base.pixelThreshold]);
  const pres = sortedUnique([...g.presenceThresholds, base.presenceThreshold]);
  const areas = sortedUnique([...g.minAreas, base.minArea]);
  const T = pix.length;
  const area = new Float64Array(T * n);
  const inter = new Float64Array(T * n);
  const truthArea = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const size = sizes[i];
    const t = input.truth[i];
    const truth =
      typeof t === "string"
        ? runsToMask(parseRle(t, size.width, size.height, name(i)), size.width, size.height)
        : t;
    if (truth.length !== size.width * size.height)
      throw new UserError(
        `${name(i)}: truth mask has ${truth.length} pixels, want ${size.width}x${size.height}`,
      );
    let ta = 0;
    for (let p = 0; p < truth.length; p++) if (truth[p] !== 0) ta++;
    truthArea[i] = ta;
    const prob = placeMap(
      input.probs[i],
      input.width,
      input.height,
      input.fit ?? "stretch",
      input.boxes?.[i] ?? null,
      input.own?.[i] ?? size,
    );
    countsPerThreshold(fullResProbability(prob, base, size), truth, pix, base, size, area, inter, i, n);
    onImage?.(i + 1, n);
  }

  const table: TuneRow[] = [];
  const P = pres.length;
  const A = areas.length;
  const at = (j: number, p: number, m: number): number => (j * P + p) * A + m;
  let before = NaN;
  let top = -Infinity;
  for (let j = 0; j < T; j++) {
    for (let p = 0; p < P; p++) {
      for (let m = 0; m < A; m++) {
        const rule = { presenceThreshold: pres[p], minArea: areas[m] };
        let sum = 0;
        for (let i = 0; i < n; i++) {
          const a = area[j * n + i];
          const empty = gatedEmpty(input.presence[i], a, rule);
          const ta = truthArea[i];
          if (empty) sum += ta === 0 ? 1 : 0;
          else sum += (2 * inter[j * n + i]) / (a + ta);
        }
        const row: TuneRow = {
          pixelThreshold: pix[j],
          presenceThreshold: pres[p],
          minArea: areas[m],
          score: sum / n,
        };
        table.push(row);
        top = Math.max(top, row.score);
        if (pix[j] === base.pixelThreshold && pres[p] === base.presenceThreshold && areas[m] === base.minArea)
          before = row.score;
      }
    }
  }
  // Validation sets are small, so the best score is often a plateau of tied settings. Its edges (presence
  // threshold 0, no minimum area) transfer worst to new images; pick the tied setting whose grid
  // neighbourhood scores best on average (the middle of the plateau), then the one nearest the base.
  const neighbourhood = (j: number, p: number, m: number): number => {
    let sum = 0;
    let count = 0;
    for (let dj = -1; dj <= 1; dj++)
      for (let dp = -1; dp <= 1; dp++)
        for (let dm = -1; dm <= 1; dm++) {
          const [jj, pp, mm] = [j + dj, p + dp, m + dm];
          if (jj < 0 || jj >= T || pp < 0 || pp >= P || mm < 0 || mm >= A) continue;
          sum += table[at(jj, pp, mm)].score;
          count++;
        }
    return sum / count;
  };
  const baseIndex = [
    pix.indexOf(base.pixelThreshold),
    pres.indexOf(base.presenceThreshold),
    areas.indexOf(base.minArea),
  ];
  let bestKey: [number, number] = [-Infinity, -Infinity];
  let bestRow: TuneRow | null = null;
  for (let j = 0; j < T; j++)
    for (let p = 0; p < P; p++)
      for (let m = 0; m < A; m++) {
        const row = table[at(j, p, m)];
        if (row.score < top - 1e-12) continue;
        const dist = Math.abs(j - baseIndex[0]) + Math.abs(p - baseIndex[1]) + Math.abs(m - baseIndex[2]);
        const key: [number, number] = [neighbourhood(j, p, m), -dist];
        if (key[0] > bestKey[0] + 1e-12 || (Math.abs(key[0] - bestKey[0]) <= 1e-12 && key[1] > bestKey[1])) {
          bestKey = key;
          bestRow = row;
        }
      }
  const b = bestRow!;
  return {
    best: {
      ...base,
      pixelThreshold: b.pixelThreshold,
      presenceThreshold: b.presenceThreshold,
      minArea: b.minArea,
    },
    before,
    after: b.score,
    table,
    search: "full-grid",
    images: n,
  };
}
