import type { Command } from "commander";
import { SYNTH_DEFAULTS, synthesize } from "../../index.js";
import { floatOption, intOption } from "../options.js";
import { progressFactory, type Progress } from "../progress.js";

export function register(program: Command): void {
  program
    .command("synth")
    .description(
      "generate synthetic ultrasound frames with ground truth in the Kaggle layout " +
        "(train/<s>_<n>.tif + _mask.tif, test/<n>.tif, test_masks.csv, synth.json)",
    )
    .requiredOption("--out <dir>", "output folder")
    .option(
      "--subjects <n>",
      "training subjects",
      intOption("--subjects", 0, 10_000),
      SYNTH_DEFAULTS.subjects,
    )
    .option("--frames <n>", "frames per subject", intOption("--frames", 1, 100_000), SYNTH_DEFAULTS.frames)
    .option("--test <n>", "test images", intOption("--test", 0, 1_000_000), SYNTH_DEFAULTS.test)
    .option(
      "--seed <n>",
      "seed: the same seed gives byte-identical files",
      intOption("--seed", 0, 0xffffffff),
      SYNTH_DEFAULTS.seed,
    )
    .option(
      "--noise-fraction <f>",
      "share of training frames that are near-duplicates of a labelled frame with an empty mask",
      floatOption("--noise-fraction", 0, 0.5),
      SYNTH_DEFAULTS.noiseFraction,
    )
    .option("--shapes <train_masks.csv>", "take the nerve outlines from real masks (default: ovals)")
    .option(
      "--workers <n>",
      "rendering threads (default: up to 2; 0 = this thread)",
      intOption("--workers", 0, 64),
    )
    .option("--quiet", "no progress bar")
    .addHelpText(
      "after",
      "\nExample:\n  nerveseg synth --out work/synth --subjects 10 --frames 50 --test 100 --seed 7" +
        "\n  nerveseg synth --out work/synth-real-shapes --shapes ../shared/data/kaggle-sample/train_masks.csv",
    )
    .action(async (o) => {
      let bar: Progress | null = null;
      const s = await synthesize(
        {
          out: o.out,
          subjects: o.subjects,
          frames: o.frames,
          test: o.test,
          seed: o.seed,
          noiseFraction: o.noiseFraction,
          shapes: o.shapes,
          workers: o.workers,
        },
        (p) => {
          bar ??= progressFactory(o.quiet)("synth", p.total);
          bar.update(p.done);
        },
      );
      (bar as Progress | null)?.stop();
      console.log(
        `wrote ${s.train} training frames (${s.trainWithNerve} with a nerve) and ${s.test} test frames to ${s.out}`,
      );
      console.log(`  ${s.contradicting} contradicting near-duplicate pairs listed in ${s.out}/synth.json`);
      console.log(
        `  ${s.imagesPerSecond.toFixed(1)} images/s over ${s.seconds.toFixed(1)} s (${s.workers || "no"} workers)`,
      );
    });
}
