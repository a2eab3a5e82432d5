// The report of `nerveseg dedupe` on a Kaggle-style train folder: every frame's signature, the within-subject
// pairs whose presence labels disagree under the threshold, and what a policy would do with them.
import fs from "node:fs";
import path from "node:path";
import { fileError } from "../core/errors.js";
import { readTiff } from "../io/tiff.js";
import {
  distanceStats,
  pairDistances,
  planDedupe,
  signFrame,
  type DedupePolicy,
  type FramePair,
  type SignedFrame,
} from "./dedupe.js";

/**
 * Signatures of every `<subject>_<n>.tif` in a Kaggle-style train folder, with presence from its
 * `<subject>_<n>_mask.tif`. Images are reduced one at a time so the full set never sits in memory.
 */
export function signTrainDir(dir: string): SignedFrame[] {
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch (e) {
    throw fileError(dir, `cannot read folder: ${(e as Error).message}`);
  }
  const ids = names
    .map((n) => /^(\d+)_(\d+)\.tif$/.exec(n))
    .filter((m): m is RegExpExecArray => m !== null)
    .sort((x, y) => Number(x[1]) - Number(y[1]) || Number(x[2]) - Number(y[2]));
  if (ids.length === 0) throw fileError(dir, "no <subject>_<n>.tif training images");
  return ids.map((m) => {
    const id = `${m[1]}_${m[2]}`;
    const img = readTiff(path.join(dir, `${id}.tif`));
    const maskFile = path.join(dir, `${id}_mask.tif`);
    if (!fs.existsSync(maskFile)) throw fileError(maskFile, "missing (every training image needs its mask)");
    const mask = readTiff(maskFile);
    if (mask.width !== img.width || mask.height !== img.height) {
      throw fileError(maskFile, `is ${mask.width}x${mask.height}, its image is ${img.width}x${img.height}`);
    }
    return signFrame({ id, subject: m[1], ...img, image: img.data, hasMask: mask.data.some((v) => v !== 0) });
  });
}

export interface DedupeReport {
  threshold: number;
  policy: DedupePolicy;
  frames: number;
  subjects: number;
  pairsCompared: number;
  contradictions: { subject: string | number; empty: string; labelled: string; distance: number }[];
  plan: ReturnType<typeof planDedupe>;
  distances: ReturnType<typeof distanceStats>;
  /** The closest pairs whatever their labels, to see where the threshold falls. */
  closest: FramePair[];
}

export function dedupeReport(frames: SignedFrame[], threshold: number, policy: DedupePolicy): DedupeReport {
  const pairs = pairDistances(frames);
  const contradictions = pairs.filter((p) => p.contradicting && p.distance <= threshold);
  return {
    threshold,
    policy,
    frames: frames.length,
    subjects: new Set(frames.map((f) => String(f.subject))).size,
    pairsCompared: pairs.length,
    contradictions: contradictions.map((p) => ({
      subject: p.subject,
      empty: p.a,
      labelled: p.b,
      distance: p.distance,
    })),
    plan: planDedupe(contradictions, policy),
    distances: distanceStats(pairs, threshold),
    closest: pairs.slice(0, 10),
  };
}
