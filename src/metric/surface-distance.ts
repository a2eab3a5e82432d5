/*
 * Boundary metrics of a predicted mask against the truth: HD95 and ASSD, from the masks' boundary pixels
 * and an exact Euclidean distance transform, in pixels or, with a pixel spacing, in millimetres.
 *
 * Conventions (those of MONAI's get_mask_edges / get_surface_distance and of medpy, so numbers compare):
 * - boundary: a foreground pixel with a 4-neighbour in the background; the frame's edge counts as
 *   background, so a mask touching the edge has its boundary there (scipy's binary_erosion, which both use,
 *   erodes with a cross and border_value 0);
 * - surface distance of a boundary pixel: the Euclidean distance from its centre to the nearest boundary
 *   pixel of the other mask (boundary to boundary, not to the other mask's area);
 * - HD95: the 95th percentile (linear interpolation, numpy's default) over the union of both directed
 *   distance sets, truth → prediction and prediction → truth: medpy's hd95. MONAI's
 *   compute_hausdorff_distance(percentile=95) takes instead the larger of the two directed 95th
 *   percentiles, which can be larger when the two boundaries differ in length;
 * - ASSD: the mean of the two directed mean distances (medpy's assd; MONAI's average surface distance with
 *   symmetric=True);
 * - both masks empty: no boundary, nothing to measure (not counted); exactly one empty: undefined, reported
 *   apart by the caller, never Infinity.
 */
import type { PixelSpacing } from "../io/image.js";

export type { PixelSpacing } from "../io/image.js";

/** A mask's size and, when known, its pixel spacing in millimetres. */
export interface MaskGeometry {
  width: number;
  height: number;
  /** mm between row centres and between column centres; absent or null: distances in pixels. */
  spacing?: PixelSpacing | null;
}

/** Unit of boundary distances: millimetres when every image's pixel spacing was known, else pixels. */
export type DistanceUnit = "mm" | "px";

export type BoundaryDistances =
  { kind: "measured"; hd95: number; assd: number } | { kind: "both-empty" } | { kind: "one-empty" };

/** Whether a spacing can measure: both values finite and positive. */
export function isValidSpacing(s: PixelSpacing): boolean {
  return Number.isFinite(s.row) && s.row > 0 && Number.isFinite(s.col) && s.col > 0;
}

/**
 * Parses a spacing as written on the command line or in a CSV cell: one number (mm per pixel, square
 * pixels) or two, row then column (DICOM PixelSpacing's order), separated by "," or "\". Null when the text
 * is not that.
 */
export function parseSpacing(text: string): PixelSpacing | null {
  const parts = text.trim().split(/\s*[,\\]\s*/);
  if (parts.length < 1 || parts.length > 2 || parts.some((p) => !/^[0-9.eE+-]+$/.test(p))) return null;
  const s = { row: Number(parts[0]), col: Number(parts[parts.length - 1]) };
  return isValidSpacing(s) ? s : null;
}

/**
 * Squared Euclidean distance from every pixel to the nearest nonzero pixel of `sites` (width × height,
 * row-major), with rows `rowStep` and columns `colStep` apart: Infinity when there is no site.
 *
 * Felzenszwalb & Huttenlocher's two passes (Theory of Computing 8, 2012): the lower envelope of parabolas
 * along every column, then along every row; O(pixels), exact (on whole pixel steps every value is an
 * integer). Written by hand: npm's `distance-transform` (scijs, 2013) wants ndarrays and takes no per-axis
 * spacing, the other copies live inside large libraries (molstar), and the algorithm is forty lines.
 */
export function squaredDistanceTransform(
  sites: Uint8Array,
  width: number,
  height: number,
  rowStep = 1,
  colStep = 1,
): Float64Array {
  if (sites.length !== width * height)
    throw new Error(`distance transform: ${sites.length} pixels for ${width}x${height}`);
  const out = new Float64Array(width * height);
  const n = Math.max(width, height);
  const f = new Float64Array(n);
  const d = new Float64Array(n);
  const v = new Int32Array(n);
  const z = new Float64Array(n + 1);
  for (let x = 0; x < width; x++) {
    for (let y = 0; y < height; y++) f[y] = sites[y * width + x] !== 0 ? 0 : Infinity;
    envelope(f, height, rowStep * rowStep, d, v, z);
    for (let y = 0; y < height; y++) out[y * width + x] = d[y];
  }
  for (let y = 0; y < height; y++) {
    const row = y * width;
    for (let x = 0; x < width; x++) f[x] = out[row + x];
    envelope(f, width, colStep * colStep, d, v, z);
    for (let x = 0; x < width; x++) out[row + x] = d[x];
  }
  return out;
}

/**
 * d[p] = min over q of w (p − q)² + f[q], for the first n values. Only finite f[q] enter the envelope
 * (Infinity − Infinity would poison the intersections); with none, every d is Infinity.
 */
function envelope(
  f: Float64Array,
  n: number,
  w: number,
  d: Float64Array,
  v: Int32Array,
  z: Float64Array,
): void {
  let k = -1;
  for (let q = 0; q < n; q++) {
    const fq = f[q];
    if (fq === Infinity) continue;
    if (k < 0) {
      k = 0;
      v[0] = q;
      z[0] = -Infinity;
      z[1] = Infinity;
      continue;
    }
    // Where the parabola of q starts to lie below the one of v[k]; drop those it hides entirely (never
    // v[0]: z[0] is -Infinity and s is finite).
    let r = v[k];
    let s = (fq + w * q * q - (f[r] + w * r * r)) / (2 * w * (q - r));
    while (s <= z[k]) {
      k--;
      r = v[k];
      s = (fq + w * q * q - (f[r] + w * r * r)) / (2 * w * (q - r));
    }
    k++;
    v[k] = q;
    z[k] = s;
    z[k + 1] = Infinity;
  }
  if (k < 0) {
    d.fill(Infinity, 0, n);
    return;
  }
  let j = 0;
  for (let p = 0; p < n; p++) {
    while (z[j + 1] < p) j++;
    const r = v[j];
    d[p] = w * (p - r) * (p - r) + f[r];
  }
}

/**
 * The boundary of a mask (nonzero = on): its pixels with a 4-neighbour off or outside the frame (see the
 * file comment). Returns a 0/1 mask of the same size.
 */
export function maskBoundary(mask: Uint8Array, width: number, height: number): Uint8Array {
  const b = new Uint8Array(width * height);
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++) {
      const i = y * width + x;
      if (mask[i] === 0) continue;
      if (
        x === 0 ||
        y === 0 ||
        x === width - 1 ||
        y === height - 1 ||
        mask[i - 1] === 0 ||
        mask[i + 1] === 0 ||
        mask[i - width] === 0 ||
        mask[i + width] === 0
      )
        b[i] = 1;
    }
  return b;
}

/** The median of some numbers (NaN when there are none). */
export function median(values: readonly number[]): number {
  if (values.length === 0) return NaN;
  const s = Float64Array.from(values).sort();
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

const mean = (values: readonly number[]): number =>
  values.length ? values.reduce((a, b) => a + b, 0) / values.length : NaN;

/** Boundary distances over a set of images, in the unit they were measured in. */
export interface BoundarySummary {
  /** Images where HD95 and ASSD were measured (truth and prediction both non-empty). */
  boundaryImages: number;
  /** Images where exactly one of truth and prediction is empty: HD95 and ASSD are undefined there. */
  oneSideEmpty: number;
  /** Mean and median over the measured images (NaN when none). */
  hd95Mean: number;
  hd95Median: number;
  assdMean: number;
  assdMedian: number;
}

/** Sums up per-image distances (null: not measured) and counts the images with one side empty. */
export function summarizeBoundary(
  rows: readonly { truthArea: number; predArea: number; hd95?: number | null; assd?: number | null }[],
): BoundarySummary {
  const hd95: number[] = [];
  const assd: number[] = [];
  let oneSideEmpty = 0;
  for (const r of rows) {
    if (r.truthArea > 0 !== r.predArea > 0) oneSideEmpty++;
    if (r.hd95 != null && r.assd != null) {
      hd95.push(r.hd95);
      assd.push(r.assd);
    }
  }
  return {
    boundaryImages: hd95.length,
    oneSideEmpty,
    hd95Mean: mean(hd95),
    hd95Median: median(hd95),
    assdMean: mean(assd),
    assdMedian: median(assd),
  };
}

/** numpy.percentile's default ("linear"): between the two nearest ranks of the sorted values. */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  const n = sorted.length;
  if (n === 0) return NaN;
  const at = (p / 100) * (n - 1);
  const lo = Math.floor(at);
  const hi = Math.min(lo + 1, n - 1);
  const t = at - lo;
  const [a, b] = [sorted[lo], sorted[hi]];
  // numpy's _lerp: from the nearer end, so that a run of equal values returns that value exactly.
  return t >= 0.5 ? b - (b - a) * (1 - t) : a + (b - a) * t;
}

/**
 * HD95 and ASSD of `pred` against `truth` (same size, nonzero = on); see the file comment for the
 * definitions. Both images are cut to the bounding box of their union first: every boundary pixel and its
 * nearest partner lie inside it, so the distances are the same and the transform is cheaper.
 */
export function boundaryDistances(
  truth: Uint8Array,
  pred: Uint8Array,
  geometry: MaskGeometry,
): BoundaryDistances {
  const { width, height } = geometry;
  if (truth.length !== width * height || pred.length !== width * height)
    throw new Error(
      `boundary distances: ${truth.length} and ${pred.length} pixels for a ${width}x${height} mask`,
    );
  let [x0, y0, x1, y1] = [width, height, -1, -1];
  let truthOn = false;
  let predOn = false;
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++) {
      const i = y * width + x;
      const t = truth[i] !== 0;
      const p = pred[i] !== 0;
      if (!t && !p) continue;
      truthOn ||= t;
      predOn ||= p;
      if (x < x0) x0 = x;
      if (x > x1) x1 = x;
      if (y < y0) y0 = y;
      if (y > y1) y1 = y;
    }
  if (!truthOn && !predOn) return { kind: "both-empty" };
  if (!truthOn || !predOn) return { kind: "one-empty" };
  const spacing = geometry.spacing ?? { row: 1, col: 1 };
  const [w, h] = [x1 - x0 + 1, y1 - y0 + 1];
  // The crop's own edge is background for both masks: outside it both are off, or it is the frame's edge.
  const crop = (m: Uint8Array): Uint8Array => {
    const c = new Uint8Array(w * h);
    for (let y = 0; y < h; y++)
      for (let x = 0; x < w; x++) c[y * w + x] = m[(y + y0) * width + x + x0] !== 0 ? 1 : 0;
    return c;
  };
  const bt = maskBoundary(crop(truth), w, h);
  const bp = maskBoundary(crop(pred), w, h);
  const toTruth = squaredDistanceTransform(bt, w, h, spacing.row, spacing.col);
  const toPred = squaredDistanceTransform(bp, w, h, spacing.row, spacing.col);
  const all: number[] = [];
  let [sumT, nT, sumP, nP] = [0, 0, 0, 0];
  for (let i = 0; i < w * h; i++) {
    if (bp[i]) {
      const dist = Math.sqrt(toTruth[i]);
      all.push(dist);
      sumP += dist;
      nP++;
    }
    if (bt[i]) {
      const dist = Math.sqrt(toPred[i]);
      all.push(dist);
      sumT += dist;
      nT++;
    }
  }
  const sorted = Float64Array.from(all).sort();
  return { kind: "measured", hd95: percentile(sorted, 95), assd: (sumP / nP + sumT / nT) / 2 };
}
