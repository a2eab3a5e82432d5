#!/usr/bin/env node
import { Command } from "commander";
import { register as registerPrepare } from "./commands/prepare.js";
import { UserError } from "./errors.js";

const program = new Command();
program
  .name("nerveseg")
  .description("Brachial plexus nerve segmentation in ultrasound images (Kaggle 2016)")
  .option("--verbose", "print stack traces on errors")
  .showHelpAfterError();

// Each command lives in ./commands/<name>.ts and registers itself here.
// (register lines below, one per command)
registerPrepare(program);

async function main(): Promise<void> {
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
