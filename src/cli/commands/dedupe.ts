import type { Command } from "commander";
import {
  DEFAULT_DEDUPE_THRESHOLD,
  dedupeReport,
  signTrainDir,
  UserError,
  writeFileAtomic,
  type DedupePolicy,
  type DedupeReport,
} from "../../index.js";
import { floatOption } from "../options.js";

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
