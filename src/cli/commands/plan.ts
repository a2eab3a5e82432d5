import path from "node:path";
import type { Command } from "commander";
import { autoPlan, setThreads, writePlan } from "../../index.js";
import { durationOption, intOption } from "../options.js";

export function register(program: Command): void {
  program
    .command("plan")
    .description(
      "plan a recipe from a prepared data set within a CPU time budget: its fingerprint (sizes, targets, grey levels), the input size, depth, batch and the epochs the budget buys at this machine's measured speed, each with its reason; writes plan.json (a preset: train --preset plan.json)",
    )
    .requiredOption("--data <dir>", "prepared folder (from `nerveseg prepare`)")
    .option("--budget <time>", "training time per run, e.g. 30m or 1.5h", durationOption("--budget"), 30)
    .option(
      "--folds <k>",
      "plan one fold of K-fold cross-validation instead of the split",
      intOption("--folds", 2, 100),
    )
    .option("--threads <n>", "compute threads the speed is measured with", intOption("--threads", 1, 256))
    .option("--out <file>", "the plan (default: <data>/plan.json)")
    .addHelpText(
      "after",
      "\nExamples:\n  nerveseg plan --data work/prepared --budget 30m\n" +
        "  nerveseg train --data work/prepared --preset auto --budget 30m --out results/auto   # the same, then trains\n" +
        "\nThe measured step is cached per CPU and network in ~/.cache/nerveseg/calibration.json (measure on a quiet machine).",
    )
    .action((o: { data: string; budget: number; folds?: number; threads?: number; out?: string }) => {
      if (o.threads !== undefined) setThreads(o.threads);
      const plan = autoPlan(o.data, { budgetMinutes: o.budget, folds: o.folds });
      const fp = plan.fingerprint;
      console.log(
        `${fp.frames} frames, ${fp.groups} groups; frames ${fp.width.median}x${fp.height.median} (median), aspect ${fp.aspect.min.toFixed(2)}–${fp.aspect.max.toFixed(2)}; grey ${fp.mean.toFixed(1)} ± ${fp.std.toFixed(1)}`,
      );
      for (const c of fp.classes)
        console.log(
          `  ${c.name}: ${c.frames} frames; area ${c.area.min.toFixed(0)}/${c.area.median.toFixed(0)}/${c.area.max.toFixed(0)} px (min/median/max), box sides ${c.boxShort.p10.toFixed(0)}–${c.boxLong.p90.toFixed(0)} px (10th short – 90th long)`,
        );
      console.log(
        `plan within ${plan.budgetMinutes} min per run on ${plan.trainFrames} training frames (step ${(plan.calibration.stepSeconds * 1000).toFixed(0)} ms, ${plan.calibration.source}):`,
      );
      for (const [k, v] of Object.entries(plan.why)) console.log(`  ${k}: ${v}`);
      const out = o.out ?? path.join(o.data, "plan.json");
      writePlan(out, plan);
      console.log(`wrote ${out}`);
    });
}
