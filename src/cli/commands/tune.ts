import path from "node:path";
import type { Command } from "commander";
import { CONFIG_FILE, modelFolders, tuneModel } from "../../index.js";
import { progressFactory, toStderr } from "../progress.js";
import { addPredictOptions } from "./predict.js";

export function register(program: Command): void {
  addPredictOptions(
    program
      .command("tune")
      .description(
        "search presence threshold, pixel threshold and minimum area on the validation split; save them in the model",
      ),
  )
    .requiredOption("--data <dir>", "the prepared folder the model was trained on (its validation split)")
    .option("--preds <dir>", "reuse validation predictions from `nerveseg predict --set val`")
    .option("--dry-run", "print the result without changing the model's config.json")
    .addHelpText("after", "\nExample:\n  nerveseg tune --model results/run1 --data work/prepared --tta")
    .action(async (o) => {
      const r = await tuneModel({ ...o, progress: progressFactory(o.quiet), log: toStderr });
      const b = r.best;
      console.log(`tuned on ${r.images} validation images (${r.search}, ${r.table.length} settings)`);
      console.log(`  all-empty baseline   ${r.allEmpty.toFixed(4)}`);
      console.log(`  score before tuning  ${r.before.toFixed(4)}`);
      console.log(`  score after tuning   ${r.after.toFixed(4)}`);
      console.log(
        `  pixelThreshold ${b.pixelThreshold}, presenceThreshold ${b.presenceThreshold}, minArea ${b.minArea} px`,
      );
      console.log(
        o.dryRun
          ? "  (dry run: config.json unchanged)"
          : `  saved in ${modelFolders(o.model)
              .map((d) => path.join(d, CONFIG_FILE))
              .join(", ")}`,
      );
    });
}
