// `nerveseg bench`: speed of the native engine on the reference UNet-64x80 (see src/pipeline/bench/bench.ts).
import type { Command } from "commander";
import {
  formatBench,
  PRECISION_CHOICES,
  resolvePrecision,
  runBench,
  UserError,
  type PrecisionChoice,
} from "../../index.js";
import { choiceOption } from "../options.js";

export function register(program: Command): void {
  program
    .command("bench")
    .description(
      "benchmark the engine on UNet-64x80: batch-32 training (fwd+bwd+Adam), inference at batch 1 and 32, " +
        "GFLOP/s, % of measured peak, peak RSS, fp32 and bf16 side by side, the reference preset's training " +
        "img/s (160x160, 5x5), and onnxruntime-node on the same net",
    )
    .option("--json", "print the result as JSON")
    .option("--threads <n>", "threads for oneDNN/OpenMP (default: all cores)")
    .option("--repeats <n>", "timed repeats per measurement (best is reported)", "5")
    .option(
      "--precision <p>",
      "auto: fp32 and bf16 side by side (bf16 where the CPU has AVX512-BF16); fp32 or bf16: only that one",
      choiceOption("--precision", PRECISION_CHOICES),
      "auto",
    )
    .addHelpText("after", "\nExample:\n  nerveseg bench --threads 2\n  nerveseg bench --json > bench.json")
    .action(async (o: { json?: boolean; threads?: string; repeats: string; precision: PrecisionChoice }) => {
      const threads = o.threads === undefined ? undefined : Number(o.threads);
      if (threads !== undefined && (!Number.isInteger(threads) || threads < 1))
        throw new UserError(`--threads must be a positive integer, got ${o.threads}`);
      const repeats = Number(o.repeats);
      if (!Number.isInteger(repeats) || repeats < 1)
        throw new UserError(`--repeats must be a positive integer`);
      try {
        resolvePrecision(o.precision);
      } catch (e) {
        throw new UserError((e as Error).message);
      }
      const log = o.json ? undefined : (l: string) => console.error(l);
      const r = await runBench({ threads, repeats, precision: o.precision, log });
      console.log(o.json ? JSON.stringify(r, null, 2) : formatBench(r));
    });
}
