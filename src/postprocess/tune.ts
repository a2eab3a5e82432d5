import { UserError } from "../core/errors.js";
import { KAGGLE_HEIGHT, KAGGLE_WIDTH } from "../io/image.js";
import { parseRle, runsToMask } from "../io/rle.js";
import {
  DEFAULT_POSTPROCESS,
  fullResProbability,
  gatedEmpty,
  pixelOn,
  thresholdMask,
  KAGGLE_SIZE,
  placeMap,
  type PostprocessParams,
} from "./mask-rule.js";
import type { Fit } from "../data/resize.js";
import type { FrameBox } from "../data/trim.js";

/** Validation data for tuning: model outputs at model resolution and the true 580x420 masks. */
export interface TuneInput {
  /** Probability maps (floats 0..1 or bytes = probability x 255), height*width each. */
  probs: (Float32Array | Uint8Array)[];
  presence: number[];
  width: number;
  height: number;
  /** How the frames met the input, and per image the box the map covers (trimmed bars); see placeMap. */
  fit?: Fit;
  boxes?: (FrameBox | null)[];
  /** True masks: Kaggle RLE text, or a row-major 580x420 mask (nonzero = nerve). */
  truth: (string | Uint8Array)[];
  /** Names for error messages (e.g. image ids); defaults to indices. */
  ids?: string[];
}

/** The values searched; every combination is scored (a full grid: the sweeps are cheap, see tunePostprocess). */
export interface TuneGrid {
  pixelThresholds: number[];
  presenceThresholds: number[];
  minAreas: number[];
}

const range = (from: number, to: number, step: number): number[] => {
  const out: number[] = [];
  for (let k = 0; from + k * step <= to + 1e-9; k++) out.push(Math.round((from + k * step) * 1e6) / 1e6);
  return out;
};

/** 19 x 21 x 21 values: thresholds in steps of 0.05, minimum areas 0..5,000 px in steps of 250. */
export const DEFAULT_TUNE_GRID: TuneGrid = {
  pixelThresholds: range(0.05, 0.95, 0.05),
  presenceThresholds: range(0, 1, 0.05),
  minAreas: range(0, 5000, 250),
};

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

const sortedUnique = (xs: number[]): number[] => [...new Set(xs)].sort((a, b) => a - b);

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
    const mask = thresholdMask(full, { ...params, pixelThreshold: thresholds[j] });
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
  grid: TuneGrid = DEFAULT_TUNE_GRID,
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
  const pix = sortedUnique([...grid.pixelThresholds, base.pixelThreshold]);
  const pres = sortedUnique([...grid.presenceThresholds, base.presenceThreshold]);
  const areas = sortedUnique([...grid.minAreas, base.minArea]);
  const T = pix.length;
  const area = new Float64Array(T * n);
  const inter = new Float64Array(T * n);
  const truthArea = new Float64Array(n);
  const fullSize = KAGGLE_WIDTH * KAGGLE_HEIGHT;
  for (let i = 0; i < n; i++) {
    const t = input.truth[i];
    let truth: Uint8Array;
    if (typeof t === "string")
      truth = runsToMask(parseRle(t, KAGGLE_WIDTH, KAGGLE_HEIGHT, name(i)), KAGGLE_WIDTH, KAGGLE_HEIGHT);
    else truth = t;
    if (truth.length !== fullSize)
      throw new UserError(`${name(i)}: truth mask has ${truth.length} pixels, want 580x420`);
    let ta = 0;
    for (let p = 0; p < fullSize; p++) if (truth[p] !== 0) ta++;
    truthArea[i] = ta;
    const prob = placeMap(
      input.probs[i],
      input.width,
      input.height,
      input.fit ?? "stretch",
      input.boxes?.[i] ?? null,
      KAGGLE_SIZE,
    );
    countsPerThreshold(fullResProbability(prob, base), truth, pix, base, area, inter, i, n);
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
