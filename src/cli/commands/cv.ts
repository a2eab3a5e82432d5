import { Option, type Command } from "commander";
import {
  crossValidate,
  cvTable,
  readManifest,
  readPostprocessFile,
  rescoreCv,
  UserError,
  VALIDATIONS,
  type Validation,
} from "../../index.js";
import { floatOption, intOption, repeatable } from "../options.js";
import { barsUnlessQuiet, progressFactory, toStderr } from "../progress.js";
import { onInterruptGracefully } from "../signals.js";
import { addRecipeOptions, presetFromFlags, type TrainFlags } from "./train.js";

export function register(program: Command): void {
  addRecipeOptions(
    program
      .command("cv")
      .description(
        "K-fold cross-validation by group (subject/patient/case): K models, each scored on the groups it never saw; a per-fold table with mean ± sd; the folder is an ensemble for predict/tune/submit",
      ),
  )
    .option("--data <dir>", "prepared folder (its --folds are used when it has them)", "work/prepared")
    .option("--out <dir>", "cross-validation folder", "results/cv")
    .option(
      "--folds <k>",
      "folds, when the prepared data has none (whole groups each)",
      intOption("--folds", 2, 100),
    )
    .option(
      "--fold-seed <n>",
      "seed of the fold assignment, when the prepared data has none",
      intOption("--fold-seed", 0),
      1,
    )
    .option(
      "--fold <k>",
      "run only fold k (0-based) into --out; folds can run in parallel processes",
      intOption("--fold", 0, 99),
    )
    .addOption(
      new Option(
        "--validation <which>",
        "what picks the best epoch and drives the LR schedule: inner (groups of the training folds; default for plateau recipes), held-out (the scored fold itself, optimistic) or none (train on every training group, keep the lowest training loss; default for cosine recipes such as real)",
      ).choices(VALIDATIONS),
    )
    .option("--resume", "continue an interrupted cross-validation")
    .option(
      "--max-minutes <m>",
      "stop (resumably) after this many minutes in all",
      floatOption("--max-minutes", 0, 1e6),
    )
    .option("--tta", "flip TTA when scoring the held-out folds (default: as the recipe says; real does)")
    .option("--no-tta", "score without flip TTA, whatever the recipe says")
    .option(
      "--rescore <tag>",
      "train nothing: score the trained folds again with --postprocess, into fold-<k>/result-<tag>.json",
    )
    .option(
      "--postprocess <file.json>",
      "post-processing settings to score with (a config.json or the params alone)",
    )
    .option(
      "--with <cv-dir>",
      "with --rescore: average each fold model with the same fold of this cross-validation (same folds; repeatable)",
      repeatable,
    )
    .option("--quiet", "no progress bars (a line per epoch)")
    .addHelpText(
      "after",
      "\nExamples:\n  nerveseg prepare --input ../shared/data/nerve-real --out work/nerve --split group --folds 5" +
        "\n  nerveseg cv --data work/nerve --out results/cv                                     # the real preset" +
        "\n  nerveseg cv --data work/nerve --preset fast --epochs 15 --out results/cv-fast" +
        "\n  parallel nerveseg cv --data work/nerve --out results/cv --fold {} ::: 0 1 2 3 4   # then:" +
        "\n  nerveseg cv --data work/nerve --out results/cv --resume                          # merges the table" +
        "\n  nerveseg cv --data work/nerve --out results/cv --rescore ens --postprocess pp.json --with results/cv-seed2" +
        "\n  nerveseg predict --model results/cv scans/ --out out --tta                       # the 5 models as an ensemble",
    )
    .action(
      async (
        f: TrainFlags & {
          folds?: number;
          foldSeed: number;
          fold?: number;
          validation?: Validation;
          tta?: boolean;
          maxMinutes?: number;
          rescore?: string;
          postprocess?: string;
          with?: string[];
        },
      ) => {
        const params = f.postprocess ? readPostprocessFile(f.postprocess) : undefined;
        if (f.rescore) {
          if (!params) throw new UserError("--rescore needs --postprocess <file.json>");
          const r = rescoreCv({
            data: f.data,
            out: f.out,
            tta: f.tta,
            postprocess: params,
            tag: f.rescore,
            with: f.with,
            progress: progressFactory(f.quiet),
          });
          console.log(cvTable(r));
          return;
        }
        let interrupted = "";
        onInterruptGracefully((signal) => {
          interrupted = signal;
          console.error(`\n${signal}: stopping after this step (again to stop at once)`);
        });
        const r = await crossValidate({
          log: toStderr,
          shouldStop: () => interrupted !== "",
          data: f.data,
          out: f.out,
          preset: presetFromFlags(f, f.folds ?? readManifest(f.data).split.folds?.k ?? 5),
          folds: f.folds,
          seed: f.foldSeed,
          dedupe: f.dedupe,
          resume: Boolean(f.resume),
          maxMinutes: f.maxMinutes ?? null,
          fold: f.fold,
          validation: f.validation,
          tta: f.tta,
          postprocess: params,
          trainProgress: barsUnlessQuiet(f.quiet),
          progress: progressFactory(f.quiet),
        });
        console.log(cvTable(r));
        if (interrupted) {
          console.log(
            `interrupted (${interrupted}): finished folds and the current fold's resume state are kept; continue with --resume`,
          );
          process.exitCode = interrupted === "SIGTERM" ? 143 : 130;
        } else if (!r.complete)
          console.log(
            r.stopped === "time"
              ? `stopped by --max-minutes with ${r.folds.length} fold(s) done; continue with --resume`
              : `${r.folds.length} fold(s) done; run the others (--fold k) and then cv --resume to merge`,
          );
      },
    );
}
