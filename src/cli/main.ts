#!/usr/bin/env node
import { Command, CommanderError } from "commander";
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
import { register as registerPlan } from "./commands/plan.js";
import { editDistance, UserError, VERSION } from "../index.js";
import { installSignalHandlers } from "./signals.js";

const program = new Command();
program
  .name("nerveseg")
  .description(
    "Segmentation of structures in ultrasound images (the Kaggle 2016 nerve task, and your own data)",
  )
  .version(VERSION, "-V, --version", "print the version")
  .option("--verbose", "print stack traces on errors")
  // A usage error is one line and a pointer to --help (not the whole help), and exits 2.
  .showHelpAfterError("(add --help for usage)")
  .exitOverride();

// Each command lives in ./commands/<name>.ts and registers itself here.
// (register lines below, one per command, in pipeline order for --help)
registerDemo(program);
registerSynth(program);
registerPrepare(program);
registerPlan(program);
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

/**
 * An unknown flag is named before a missing required one (commander checks those first), so a typo like
 * `--modle` reads "unknown option '--modle' (Did you mean --model?)", not "--model not specified".
 */
function checkUnknownFlags(argv: readonly string[]): void {
  // The (sub)command the arguments name: `rle decode` is two levels down.
  let cmd: Command | undefined = program;
  let at = 2;
  while (cmd && cmd.commands.length > 0) {
    const name = argv[at];
    cmd = cmd.commands.find((c) => c.name() === name || c.aliases().includes(name));
    at++;
  }
  if (!cmd) return;
  const known = new Set(["--help", "-h", "--verbose"]);
  for (const o of [...cmd.options, ...program.options]) {
    if (o.long) known.add(o.long);
    if (o.short) known.add(o.short);
    if (o.negate && o.long) known.add(o.long);
  }
  for (const arg of argv.slice(at)) {
    if (arg === "--") break;
    if (!arg.startsWith("-") || /^-\d/.test(arg)) continue;
    const flag = arg.split("=")[0];
    if (!known.has(flag)) {
      const longs = [...known].filter((k) => k.startsWith("--"));
      const near = longs.find((k) => editDistance(k, flag) <= 2);
      cmd.error(`error: unknown option '${flag}'${near ? ` (Did you mean ${near}?)` : ""}`, {
        exitCode: 2,
        code: "commander.unknownOption",
      });
    }
  }
}

async function main(): Promise<void> {
  installSignalHandlers();
  try {
    checkUnknownFlags(process.argv);
    await program.parseAsync(process.argv);
  } catch (e) {
    if (e instanceof CommanderError) {
      // Help and --version exit 0; every usage error exits 2 (commander has printed it).
      process.exitCode = e.exitCode === 0 ? 0 : 2;
      return;
    }
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
