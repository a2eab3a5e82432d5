/*
 * A prepared data set's fingerprint, as nnU-Net takes one before it plans: the frames' own sizes and
 * aspects; per class, the target's size at native resolution (area and bounding box: smallest, 10th
 * percentile, median, 90th percentile, largest over the frames that hold it); grey-level statistics;
 * frames, groups and classes. Read from the prepared arrays (the masks at the working size, scaled back
 * to each frame's own size), one row at a time. Deterministic: the same folder gives the same fingerprint.
 */
import path from "node:path";
import { readManifest } from "../../data/manifest.js";
import { NpyRowReader } from "../../io/npy.js";

/** Order statistics of a list of values (NaN where the list is empty). */
export interface Spread {
  min: number;
  p10: number;
  median: number;
  p90: number;
  max: number;
}

export interface ClassFingerprint {
  name: string;
  /** Frames holding the class. */
  frames: number;
  /** Target area in pixels at each frame's own size. */
  area: Spread;
  /** The target's bounding box, shorter and longer side, in pixels at the frame's own size. */
  boxShort: Spread;
  boxLong: Spread;
}

export interface Fingerprint {
  frames: number;
  groups: number;
  /** Own frame sizes. */
  width: Spread;
  height: Spread;
  /** Width / height of each frame. */
  aspect: Spread;
  /** Grey levels of the training pixels (0..255). */
  mean: number;
  std: number;
  classes: ClassFingerprint[];
}

/** Linear-interpolated quantile of sorted values (numpy's default), NaN for none. */
function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return NaN;
  const at = (sorted.length - 1) * q;
  const lo = Math.floor(at);
  const hi = Math.min(sorted.length - 1, lo + 1);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (at - lo);
}

export function spreadOf(values: readonly number[]): Spread {
  const s = [...values].sort((a, b) => a - b);
  return {
    min: quantile(s, 0),
    p10: quantile(s, 0.1),
    median: quantile(s, 0.5),
    p90: quantile(s, 0.9),
    max: quantile(s, 1),
  };
}

/** Area and bounding box of the pixels a mask's values pass `is` for, in a W x H mask; null when none. */
export function targetBox(
  mask: Uint8Array,
  W: number,
  H: number,
  is: (v: number) => boolean,
): { area: number; w: number; h: number } | null {
  let area = 0;
  let x0 = W;
  let y0 = H;
  let x1 = -1;
  let y1 = -1;
  for (let y = 0; y < H; y++)
    for (let x = 0; x < W; x++) {
      if (!is(mask[y * W + x])) continue;
      area++;
      if (x < x0) x0 = x;
      if (x > x1) x1 = x;
      if (y < y0) y0 = y;
      if (y > y1) y1 = y;
    }
  return area === 0 ? null : { area, w: x1 - x0 + 1, h: y1 - y0 + 1 };
}

/** The fingerprint of a prepared folder (see the file comment). */
export function fingerprint(dir: string): Fingerprint {
  const m = readManifest(dir);
  const named = (m as { classes?: { name: string; value: number }[] }).classes;
  // Binary sets store 0/1; a multi-class set stores the class index 1..K (docs/multi-class.md).
  const classes =
    named && named.length >= 2
      ? named.map((c, i) => ({ name: c.name, is: (v: number) => v === i + 1 }))
      : [{ name: "target", is: (v: number) => v !== 0 }];
  const W = m.width;
  const H = m.height;
  const sizes = m.train.sizes;
  const per = classes.map(() => ({ area: [] as number[], short: [] as number[], long: [] as number[] }));
  const masks = new NpyRowReader(path.join(dir, m.train.masks));
  const row = new Uint8Array(masks.rowBytes);
  try {
    for (let i = 0; i < masks.rows; i++) {
      if (m.train.maskArea[i] === 0) continue;
      masks.read(i, row);
      const [ow, oh] = sizes[i];
      // Working size → the frame's own pixels, per axis (a stretched frame scales its axes apart).
      const sx = ow / W;
      const sy = oh / H;
      classes.forEach((c, k) => {
        const b = targetBox(row, W, H, c.is);
        if (!b) return;
        per[k].area.push(b.area * sx * sy);
        const bw = b.w * sx;
        const bh = b.h * sy;
        per[k].short.push(Math.min(bw, bh));
        per[k].long.push(Math.max(bw, bh));
      });
    }
  } finally {
    masks.close();
  }
  return {
    frames: m.train.ids.length,
    groups: new Set(m.train.groups).size,
    width: spreadOf(sizes.map(([w]) => w)),
    height: spreadOf(sizes.map(([, h]) => h)),
    aspect: spreadOf(sizes.map(([w, h]) => w / h)),
    mean: m.stats.trainMean,
    std: m.stats.trainStd,
    classes: classes.map((c, k) => ({
      name: c.name,
      frames: per[k].area.length,
      area: spreadOf(per[k].area),
      boxShort: spreadOf(per[k].short),
      boxLong: spreadOf(per[k].long),
    })),
  };
}
