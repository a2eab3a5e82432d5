import type { Command } from "commander";

import { runDemo, setThreads } from "../../index.js";
import { floatOption, intOption } from "../options.js";
import { barsUnlessQuiet, progressFactory } from "../progress.js";

export function register(program: Command): void {
  program
    .command("demo")
    .description(
      "the whole pipeline on the embedded default (synthetic data unless input/train and input/test exist)",
    )
    .option("--input <dir>", "Kaggle data folder (train/, test/)", "input")
    .option("--out <dir>", "where everything is written", "work/demo")
    .option("--minutes <m>", "training time budget", floatOption("--minutes", 0.1, 10000), 4)
    .option("--subjects <n>", "synthetic subjects", intOption("--subjects", 1, 1000), 10)
    .option("--frames <n>", "synthetic frames per subject", intOption("--frames", 2, 10000), 100)
    .option("--test <n>", "synthetic test frames", intOption("--test", 1, 100000), 200)
    .option("--seed <n>", "seed for data, split and training", intOption("--seed", 0), 1)
    .option("--tta", "flip test-time augmentation in tune and submit")
    .option("--threads <n>", "compute threads (default: all cores)", intOption("--threads", 1, 256))
    .option("--quiet", "no progress bars")
    .addHelpText(
      "after",
      "\nExamples:\n  npm start                      # = nerveseg demo\n  nerveseg demo --minutes 10 --tta",
    )
    .action(async (o) => {
      if (o.threads) setThreads(o.threads);
      await runDemo({
        log: (line) => console.log(line),
        ...o,
        tta: Boolean(o.tta),
        progress: progressFactory(o.quiet),
        trainProgress: barsUnlessQuiet(o.quiet),
      });
    });
}
