import path from "node:path";
import type { Command } from "commander";
import {
  autoPlan,
  checkpointPath,
  DEFAULT_ELASTIC,
  loadPreset,
  PRECISION_CHOICES,
  setThreads,
  train,
  writePlan,
  type DedupePolicy,
  type PrecisionChoice,
  type Preset,
} from "../../index.js";
import { choiceOption, durationOption, floatOption, intOption } from "../options.js";
import { barsUnlessQuiet, toStderr } from "../progress.js";
import { onInterruptGracefully } from "../signals.js";

export interface TrainFlags {
  data: string;
  preset: string;
  out: string;
  epochs?: number;
  batch?: number;
  lr?: number;
  dice?: "batch" | "strict";
  trim?: boolean;
  dedupe: DedupePolicy | "off";
  elastic?: boolean;
  scale?: number;
  ema?: number;
  threads?: number;
  precision?: PrecisionChoice;
  seed?: number;
  quiet?: boolean;
  resume?: boolean;
  maxMinutes?: number;
  worker: boolean;
  stopAfterSteps?: number;
  /** Minutes (--budget). */
  budget?: number;
}

/**
 * `--preset auto`: the plan for `f.data` within `--budget` (per run; per fold with `folds`), its reasons
 * printed and kept as plan.json in the output folder.
 */
export function planFromFlags(f: TrainFlags, folds?: number): Preset {
  if (f.threads !== undefined) setThreads(f.threads);
  const plan = autoPlan(f.data, { budgetMinutes: f.budget ?? 30, folds });
  console.error(
    `plan for ${f.data} within ${plan.budgetMinutes} min${folds ? " per fold" : ""} (step ${(plan.calibration.stepSeconds * 1000).toFixed(0)} ms, ${plan.calibration.source}):`,
  );
  for (const [k, v] of Object.entries(plan.why)) console.error(`  ${k}: ${v}`);
  writePlan(path.join(f.out, "plan.json"), plan);
  return plan.preset;
}

/** The preset with the command-line overrides applied. */
export function presetFromFlags(f: TrainFlags, folds?: number): Preset {
  const p = f.preset === "auto" ? planFromFlags(f, folds) : loadPreset(f.preset);
  if (f.epochs !== undefined) p.train.epochs = f.epochs;
  if (f.batch !== undefined) p.train.batch = f.batch;
  if (f.lr !== undefined) p.train.lr = f.lr;
  if (f.dice !== undefined) p.train.dice = f.dice;
  if (f.trim !== undefined) p.model.trim = f.trim;
  if (f.elastic && p.train.augment.elastic === null) p.train.augment.elastic = { ...DEFAULT_ELASTIC };
  if (f.scale !== undefined) p.train.augment.scale = f.scale > 0 ? f.scale : undefined;
  if (f.ema !== undefined) p.train.ema = f.ema;
  if (f.threads !== undefined) p.train.threads = f.threads;
  if (f.precision !== undefined) p.train.precision = f.precision;
  if (f.seed !== undefined) p.train.seed = f.seed;
  return p;
}

/** The recipe flags shared by `train` and `cv`: a preset and its overrides, dedupe, threads, precision, seed. */
export function addRecipeOptions(cmd: Command): Command {
  return cmd
    .option(
      "--preset <name|file.json>",
      "real (the default: measured best on real ultrasound), auto (planned from the data within --budget; see `nerveseg plan`), fast, reference, or a JSON file with model/train overrides of fast",
      "real",
    )
    .option(
      "--budget <time>",
      "with --preset auto: training time per run (per fold for cv), e.g. 30m or 1.5h (default 30m)",
      durationOption("--budget"),
    )
    .option("--epochs <n>", "epochs (overrides the preset)", intOption("--epochs", 1, 100_000))
    .option("--batch <n>", "batch size", intOption("--batch", 1, 4096))
    .option("--lr <x>", "initial learning rate", floatOption("--lr", 1e-9, 10))
    .option(
      "--dice <kind>",
      "Dice loss over the whole batch or mean per image",
      choiceOption("--dice", ["batch", "strict"] as const),
    )
    .option(
      "--trim",
      "cut each frame's uniform border bars (letterbox padding, flat margins) before the model input, in training and at inference (default: as the preset says)",
    )
    .option("--no-trim", "keep the whole frame, whatever the preset says")
    .option(
      "--dedupe <policy>",
      "contradicting near-duplicate training frames: drop the empty one, drop-both, relabel it, or off",
      choiceOption("--dedupe", ["drop", "drop-both", "relabel", "off"] as const),
      "off",
    )
    .option(
      "--elastic",
      `add elastic deformation (alpha ${DEFAULT_ELASTIC.alpha}, sigma ${DEFAULT_ELASTIC.sigma} full-res px)`,
    )
    .option(
      "--scale <s>",
      "zoom augmentation, log-uniform in [1/(1+s), 1+s] (0: none)",
      floatOption("--scale", 0, 1),
    )
    .option(
      "--ema <decay>",
      "validate, keep and export an exponential moving average of the weights with this decay (e.g. 0.99)",
      floatOption("--ema", 0.5, 0.99999),
    )
    .option(
      "--threads <n>",
      "compute threads (results are reproducible per thread count)",
      intOption("--threads", 1, 256),
    )
    .option(
      "--precision <p>",
      "convolution precision: auto (bf16 where the CPU has AVX512-BF16, else fp32), fp32, or bf16 (mixed precision; refused without AVX512-BF16); default: as the preset says (real: auto; fast, reference: fp32)",
      choiceOption("--precision", PRECISION_CHOICES),
    )
    .option("--seed <n>", "seed for init, order and augmentation", intOption("--seed", 0, 0xffffffff));
}

export function register(program: Command): void {
  addRecipeOptions(
    program
      .command("train")
      .description(
        "train the two-head U-Net on a prepared folder; writes the best model (config.json + model.safetensors), " +
          "a resume checkpoint, history.csv, curves.png and TensorBoard logs (<out>/logs) to --out",
      ),
  )
    .option("--data <dir>", "prepared folder (from `nerveseg prepare`)", "work/prepared")
    .option("--out <dir>", "output model folder", "results/run1")
    .option("--resume", "continue the run in --out exactly where its checkpoint left it")
    .option(
      "--max-minutes <m>",
      "stop (resumably) after this many minutes",
      floatOption("--max-minutes", 0, 1e6),
    )
    .option("--no-worker", "build batches on the main thread instead of a worker")
    .option(
      "--stop-after-steps <n>",
      "save the state and stop after n optimizer steps (testing resume)",
      intOption("--stop-after-steps", 1),
    )
    .option("--quiet", "no progress bars (a line per epoch)")
    .addHelpText(
      "after",
      "\nExamples:\n  nerveseg train --data work/prepared --preset fast --out results/run1 --epochs 30" +
        "\n  nerveseg train --data work/prepared --preset fast --out results/run1 --resume" +
        "\n  nerveseg train --data work/prepared --preset reference --dedupe drop --elastic --out results/ref",
    )
    .action(async (f: TrainFlags) => {
      const preset = presetFromFlags(f);
      let interrupted = "";
      onInterruptGracefully((signal) => {
        interrupted = signal;
        console.error(
          `\n${signal}: stopping after this step (again to stop at once, losing the current epoch)`,
        );
      });
      const r = await train({
        log: toStderr,
        shouldStop: () => interrupted !== "",
        data: f.data,
        out: f.out,
        preset,
        dedupe: f.dedupe,
        resume: Boolean(f.resume),
        maxMinutes: f.maxMinutes ?? null,
        progress: barsUnlessQuiet(f.quiet),
        prefetchWorker: f.worker,
        stopAfterSteps: f.stopAfterSteps,
      });
      const best = r.best
        ? `best ${r.valFrames > 0 ? "val_loss" : "training loss (no validation frames)"} ${r.best.valLoss.toFixed(4)} at epoch ${r.best.epoch}`
        : "no epoch finished";
      if (r.stopped === "interrupted") {
        console.log(
          `interrupted (${interrupted}) after ${r.globalStep} step(s): the resume state is saved in ${checkpointPath(f.out)}; ` +
            `${r.best ? `the best model so far (epoch ${r.best.epoch}) is in ${f.out}` : "no model yet (no epoch finished)"}; continue with --resume`,
        );
        process.exitCode = interrupted === "SIGTERM" ? 143 : 130;
        return;
      }
      console.log(
        `${r.stopped === "done" ? "done" : `stopped (${r.stopped})`}: ${r.epochsDone} epoch(s), ${best}; ` +
          `model in ${f.out} (peak RSS ${(r.peakRss / 2 ** 20).toFixed(0)} MiB)`,
      );
    });
}
