import { Rng } from "../engine/random.js";

export type SplitKind = "stratified" | "subject";

export interface SplitSpec {
  kind: SplitKind;
  seed: number;
  /** Fraction of training frames held out for validation (the reference used 10%). */
  valFraction: number;
}

/**
 * Chooses validation frames, deterministic by seed.
 * - stratified: the same fraction of frames with and without a nerve (the reference's split), so the
 *   validation score sees the real class balance.
 * - subject: whole subjects held out, so near-duplicate frames of one video never straddle the split and
 *   the validation score is not inflated by them.
 * Returns sorted indices into the training list.
 */
export function chooseValidation(hasMask: boolean[], subjects: number[], spec: SplitSpec): number[] {
  const rng = new Rng(spec.seed);
  const n = hasMask.length;
  const val: number[] = [];
  if (spec.kind === "stratified") {
    for (const wanted of [true, false]) {
      const stratum = rng.shuffle(hasMask.flatMap((m, i) => (m === wanted ? [i] : [])));
      val.push(...stratum.slice(0, Math.round(stratum.length * spec.valFraction)));
    }
  } else {
    const bySubject = new Map<number, number[]>();
    subjects.forEach((s, i) => bySubject.set(s, [...(bySubject.get(s) ?? []), i]));
    const order = rng.shuffle([...bySubject.keys()].sort((a, b) => a - b));
    const target = Math.round(n * spec.valFraction);
    for (const s of order) {
      if (val.length >= target) break;
      // Keep at least one subject for training.
      if (val.length + bySubject.get(s)!.length >= n) continue;
      val.push(...bySubject.get(s)!);
    }
  }
  return val.sort((a, b) => a - b);
}
