#!/usr/bin/env node
import { Command } from "commander";
import { register as registerPredict } from "./commands/predict.js";
import { register as registerTune } from "./commands/tune.js";
import { register as registerSubmit } from "./commands/submit.js";
import { register as registerExport } from "./commands/export.js";
import { register as registerDemo } from "./commands/demo.js";
import { register as registerPrepare } from "./commands/prepare.js";
import { register as registerRle } from "./commands/rle.js";
import { register as registerEvaluate } from "./commands/evaluate.js";
import { register as registerSynth } from "./commands/synth.js";
import { register as registerOverlay } from "./commands/overlay.js";
import { register as registerView } from "./commands/view.js";
import { register as registerDedupe } from "./commands/dedupe.js";
import { register as registerTrain } from "./commands/train.js";
import { register as registerCv } from "./commands/cv.js";
import { register as registerBench } from "./commands/bench.js";
import { UserError } from "../core/errors.js";
import { installSignalHandlers } from "./signals.js";

const program = new Command();
program
  .name("nerveseg")
  .description("Brachial plexus nerve segmentation in ultrasound images (Kaggle 2016)")
  .option("--verbose", "print stack traces on errors")
  .showHelpAfterError();

// Each command lives in ./commands/<name>.ts and registers itself here.
// (register lines below, one per command, in pipeline order for --help)
registerDemo(program);
registerSynth(program);
registerPrepare(program);
registerTrain(program);
registerCv(program);
registerPredict(program);
registerTune(program);
registerSubmit(program);
registerEvaluate(program);
registerExport(program);
registerView(program);
registerOverlay(program);
registerRle(program);
registerDedupe(program);
registerBench(program);

async function main(): Promise<void> {
  installSignalHandlers();
  try {
    await program.parseAsync(process.argv);
  } catch (e) {
    const verbose = process.argv.includes("--verbose");
    if (e instanceof UserError && !verbose) {
      console.error(`nerveseg: ${e.message}`);
    } else if (e instanceof Error) {
      console.error(verbose ? e.stack : `nerveseg: ${e.message}`);
    } else console.error(e);
    process.exitCode = 1;
  }
}

await main();
