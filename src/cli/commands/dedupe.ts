import fs from "node:fs";
import path from "node:path";
import type { Command } from "commander";
import { fileError, UserError } from "../../core/errors.js";
import { writeFileAtomic } from "../../io/atomic.js";
import { readTiff } from "../../io/tiff.js";
import {
  DEFAULT_DEDUPE_THRESHOLD,
  type DedupePolicy,
  type FramePair,
  type SignedFrame,
  distanceStats,
  pairDistances,
  planDedupe,
  signFrame,
} from "../../data/dedupe.js";
import { floatOption } from "../options.js";

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

const g = (v: number) => (Number.isFinite(v) ? v.toExponential(2) : "-");

export function formatReport(r: DedupeReport): string {
  const lines = [
    `${r.frames} frames, ${r.subjects} subject(s), ${r.pairsCompared} within-subject pairs, threshold ${r.threshold}`,
    `contradicting near-duplicates (empty ~ labelled): ${r.contradictions.length}`,
    ...r.contradictions.map((c) => `  ${c.empty} ~ ${c.labelled}  distance ${g(c.distance)}`),
    "distance distribution       pairs   under    min      1%       5%       median",
  ];
  for (const [name, s] of [
    ["same presence label", r.distances.same],
    ["different labels", r.distances.different],
  ] as const) {
    lines.push(
      `  ${name.padEnd(24)}${String(s.pairs).padStart(7)} ${String(s.under).padStart(7)}    ` +
        [s.min, s.p01, s.p05, s.median].map((v) => g(v).padEnd(9)).join(""),
    );
  }
  lines.push("closest pairs:");
  for (const p of r.closest)
    lines.push(`  ${p.a} ~ ${p.b}  ${g(p.distance)}${p.contradicting ? "  (labels disagree)" : ""}`);
  if (r.policy === "relabel") {
    lines.push(`policy relabel: ${r.plan.relabel.length} empty frame(s) take a neighbour's mask`);
    for (const x of r.plan.relabel) lines.push(`  ${x.id} <- mask of ${x.maskFrom}`);
  } else {
    lines.push(
      `policy ${r.policy}: ${r.plan.drop.length} frame(s) to drop${r.plan.drop.length ? ": " + r.plan.drop.join(" ") : ""}`,
    );
  }
  return lines.join("\n");
}

export function register(program: Command): void {
  program
    .command("dedupe")
    .description("find near-duplicate training frames of a subject whose nerve-presence labels disagree")
    .requiredOption("--train <dir>", "folder of <subject>_<n>.tif images and their _mask.tif files")
    .option(
      "--threshold <d>",
      "largest distance (1 - correlation of 20x20 block means) counted as a duplicate",
      floatOption("--threshold", 0, 2),
      DEFAULT_DEDUPE_THRESHOLD,
    )
    .option("--policy <p>", "what training should do: drop (the empty frame), drop-both, relabel", "drop")
    .option("--json <file>", "also write the full report as JSON")
    .addHelpText(
      "after",
      "\nExample:\n  nerveseg dedupe --train input/train --json work/dedupe.json\n" +
        "  nerveseg dedupe --train ../shared/data/kaggle-sample/train --threshold 0.002 --policy relabel",
    )
    .action((o: { train: string; threshold: number; policy: string; json?: string }) => {
      if (!["drop", "drop-both", "relabel"].includes(o.policy)) {
        throw new UserError(`--policy must be drop, drop-both or relabel, got "${o.policy}"`);
      }
      const report = dedupeReport(signTrainDir(o.train), o.threshold, o.policy as DedupePolicy);
      console.log(formatReport(report));
      if (o.json) writeFileAtomic(o.json, JSON.stringify(report, null, 2) + "\n");
    });
}
