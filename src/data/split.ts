import { Rng } from "../core/random.js";
import { compareIds } from "../io/ids.js";
import { fileError, UserError } from "../core/errors.js";

export type SplitKind = "stratified" | "group";

export interface SplitSpec {
  kind: SplitKind;
  seed: number;
  /** Fraction of training frames held out for validation (the reference used 10%). */
  valFraction: number;
  /** Also assign whole groups to this many folds (cross-validation); none when absent. */
  folds?: number;
}

/**
 * Chooses validation frames, deterministic by seed.
 * - stratified: the same fraction of frames with and without a nerve (the reference's split), so the
 *   validation score sees the real class balance; with labels (class folders), of each label × presence.
 * - group: whole groups (subjects, patients, cases) held out, so near-duplicate frames of one video never
 *   straddle the split and the validation score is not inflated by them; with labels, each label × presence
 *   stratum gives its share of groups (a group counts in the stratum of its most common label and of
 *   whether any of its frames has a target).
 * Without labels (all null or none given) the choice is exactly what it was before labels existed.
 * Returns sorted indices into the training list.
 */
export function chooseValidation(
  hasMask: boolean[],
  groups: readonly string[],
  spec: SplitSpec,
  labels: readonly (string | null)[] = [],
): number[] {
  const rng = new Rng(spec.seed);
  const n = hasMask.length;
  const labelled = labels.some((l) => l !== null);
  const strata = labelled ? [...new Set(labels)].sort((a, b) => compareIds(a ?? "", b ?? "")) : [null];
  const labelOf = (i: number): string | null => (labelled ? labels[i] : null);
  const val: number[] = [];
  if (spec.kind === "stratified") {
    for (const label of strata)
      for (const wanted of [true, false]) {
        const stratum = rng.shuffle(
          hasMask.flatMap((m, i) => (m === wanted && labelOf(i) === label ? [i] : [])),
        );
        val.push(...stratum.slice(0, Math.round(stratum.length * spec.valFraction)));
      }
  } else if (!labelled) {
    const byGroup = framesByGroup(groups);
    const order = rng.shuffle([...byGroup.keys()].sort(compareIds));
    const target = Math.round(n * spec.valFraction);
    for (const s of order) {
      if (val.length >= target) break;
      // Keep at least one group for training.
      if (val.length + byGroup.get(s)!.length >= n) continue;
      val.push(...byGroup.get(s)!);
    }
  } else {
    const byGroup = framesByGroup(groups);
    const stratumOf = (frames: number[]): string => {
      const count = new Map<string | null, number>();
      for (const i of frames) count.set(labelOf(i), (count.get(labelOf(i)) ?? 0) + 1);
      const label = [...count].sort((a, b) => b[1] - a[1] || compareIds(a[0] ?? "", b[0] ?? ""))[0][0];
      return `${strata.indexOf(label)}:${frames.some((i) => hasMask[i]) ? 0 : 1}`;
    };
    const byStratum = new Map<string, string[]>();
    for (const g of [...byGroup.keys()].sort(compareIds)) {
      const key = stratumOf(byGroup.get(g)!);
      const list = byStratum.get(key);
      if (list) list.push(g);
      else byStratum.set(key, [g]);
    }
    for (const key of [...byStratum.keys()].sort(compareIds)) {
      const order = rng.shuffle(byStratum.get(key)!);
      const size = order.reduce((s, g) => s + byGroup.get(g)!.length, 0);
      const target = Math.round(size * spec.valFraction);
      let taken = 0;
      for (const g of order) {
        const k = byGroup.get(g)!.length;
        // A group goes only where it brings the stratum closer to its share (never all of a big stratum).
        if (Math.abs(taken + k - target) >= Math.abs(taken - target)) continue;
        val.push(...byGroup.get(g)!);
        taken += k;
      }
    }
  }
  return val.sort((a, b) => a - b);
}

function framesByGroup(groups: readonly string[]): Map<string, number[]> {
  const byGroup = new Map<string, number[]>();
  groups.forEach((g, i) => {
    const list = byGroup.get(g);
    if (list) list.push(i);
    else byGroup.set(g, [i]);
  });
  return byGroup;
}

/**
 * K folds of whole groups, deterministic by seed and balanced by frame count: groups in a seeded order,
 * largest first, each to the fold with the fewest frames so far (ties: the lowest fold). Returns each
 * frame's fold. Needs at least K groups.
 */
export function assignFolds(groups: readonly string[], k: number, seed: number, where?: string): number[] {
  const byGroup = framesByGroup(groups);
  if (byGroup.size < k) {
    const problem = `${k} folds need at least ${k} groups; the data has ${byGroup.size}`;
    throw where ? fileError(where, problem) : new UserError(problem);
  }
  const order = new Rng(seed).shuffle([...byGroup.keys()].sort(compareIds));
  // A stable sort keeps the seeded order among groups of equal size.
  order.sort((a, b) => byGroup.get(b)!.length - byGroup.get(a)!.length);
  const load = new Array<number>(k).fill(0);
  const fold = new Array<number>(groups.length).fill(0);
  for (const g of order) {
    const f = load.indexOf(Math.min(...load));
    for (const i of byGroup.get(g)!) fold[i] = f;
    load[f] += byGroup.get(g)!.length;
  }
  return fold;
}

/**
 * Fold f's inner validation rows: whole groups of the other folds (about 1/8 of their frames, at least one
 * group), fixed by the fold index, so that a resumed or per-fold run picks the same ones.
 */
export function innerValidation(
  groups: readonly string[],
  of: readonly number[],
  f: number,
  where: string,
): number[] {
  const pool = of.flatMap((x, i) => (x === f ? [] : [i]));
  const poolGroups = new Set(pool.map((i) => groups[i])).size;
  if (poolGroups < 2)
    throw fileError(
      where,
      "inner validation needs at least 2 groups outside each fold; use --validation held-out",
    );
  const inner = assignFolds(
    pool.map((i) => groups[i]),
    Math.min(8, poolGroups),
    1000 + f,
  );
  return pool.filter((_, j) => inner[j] === 0);
}
