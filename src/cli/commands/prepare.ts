import type { Command } from "commander";
import { prepare } from "../../data/prepare.js";
import type { SplitKind } from "../../data/split.js";
import { floatOption, intOption } from "../options.js";
import { createProgress } from "../progress.js";

export function register(program: Command): void {
  program
    .command("prepare")
    .description("read the Kaggle layout (input/train, input/test) into uint8 .npy arrays + manifest.json")
    .option("--input <dir>", "folder holding train/ and test/", "input")
    .option("--out <dir>", "output folder", "work/prepared")
    .option("--split <kind>", "validation split: stratified (by mask presence) or subject", "stratified")
    .option("--val <fraction>", "validation fraction", floatOption("--val", 0, 0.9), 0.1)
    .option("--seed <n>", "split seed", intOption("--seed", 0), 42)
    .option("--workers <n>", "decoding threads (default: all cores)", intOption("--workers", 1, 64))
    .option("--skip-bad", "skip bad or unexpected files and list them, instead of stopping")
    .option("--quiet", "no progress bar")
    .addHelpText(
      "after",
      "\nExample:\n  nerveseg prepare --input input --out work/prepared --split subject --seed 1",
    )
    .action(async (o) => {
      if (o.split !== "stratified" && o.split !== "subject")
        throw new Error(`--split must be stratified or subject, got "${o.split}"`);
      const start = Date.now();
      let bar: ReturnType<typeof createProgress> | null = null;
      const m = await prepare({
        input: o.input,
        out: o.out,
        split: { kind: o.split as SplitKind, seed: o.seed, valFraction: o.val },
        skipBad: Boolean(o.skipBad),
        workers: o.workers,
        onProgress: (done, total) => {
          bar ??= createProgress("prepare", total, o.quiet ? true : undefined);
          bar.update(done);
        },
      });
      (bar as ReturnType<typeof createProgress> | null)?.stop();
      const secs = (Date.now() - start) / 1000;
      const nTrain = m.train.ids.length;
      const nTest = m.test?.ids.length ?? 0;
      const areas = m.train.maskArea.filter((a) => a > 0).sort((a, b) => a - b);
      console.log(
        `prepared ${nTrain} training and ${nTest} test frames (${m.width}x${m.height}) into ${o.out}`,
      );
      console.log(`  ${((nTrain + nTest) / secs).toFixed(1)} images/s over ${secs.toFixed(1)} s`);
      console.log(
        `  with nerve: ${m.stats.withMask} (${((100 * m.stats.withMask) / nTrain).toFixed(1)}%), without: ${m.stats.withoutMask}`,
      );
      if (areas.length > 0)
        console.log(
          `  mask area px: min ${areas[0]}, median ${areas[areas.length >> 1]}, max ${areas[areas.length - 1]}`,
        );
      console.log(`  pixel mean ${m.stats.trainMean.toFixed(2)}, std ${m.stats.trainStd.toFixed(2)}`);
      console.log(
        `  split ${m.split.kind} (seed ${m.split.seed}): ${m.split.val.length} validation, ${nTrain - m.split.val.length} training`,
      );
      for (const s of m.skipped) console.log(`  skipped ${s.file}: ${s.reason}`);
    });
}
