// Precision belongs to a model, not to the process: an fp32 and a bf16 U-Net used in one process,
// interleaved step by step (forwards, training steps with their backward and Adam, forwards again),
// each give exactly what they give alone in a fresh process that never saw the other precision.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import * as E from "../../src/engine/index.js";
import { precisionScenario, type Trace } from "../helpers/precision-scenario.js";

const SKIP = E.bf16Supported()
  ? false
  : "bf16 not supported on this CPU (no AVX512-BF16): the bf16 model of the pair cannot run, test skipped";

/** The scenario for one model alone, in a fresh process. */
function alone(p: E.Precision): string[] {
  const helper = path.resolve(
    path.dirname(fileURLToPath(import.meta.url)),
    "../helpers/precision-scenario.js",
  );
  const script = `const m = await import(${JSON.stringify(pathToFileURL(helper).href)});
    console.log(JSON.stringify(m.precisionScenario([${JSON.stringify(p)}])));`;
  const out = execFileSync(process.execPath, ["--input-type=module", "-e", script], { encoding: "utf8" });
  const trace = JSON.parse(out.trim().split("\n").pop()!) as Trace;
  return trace[p]!;
}

test(
  "an fp32 and a bf16 model interleaved in one process each give what they give alone",
  { skip: SKIP },
  () => {
    const both = precisionScenario(["fp32", "bf16"]);
    const fp32 = both.fp32!;
    const bf16 = both.bf16!;
    // fp32 forward, bf16 forward, fp32 again: the fp32 model's output did not move.
    assert.equal(fp32[1], fp32[0], "fp32 forward after a bf16 forward");
    assert.notEqual(bf16[0], fp32[0], "the bf16 model computed in bf16");
    assert.deepEqual(fp32, alone("fp32"), "the fp32 model: bit for bit as in a fresh fp32-only process");
    assert.deepEqual(bf16, alone("bf16"), "the bf16 model: as in its own solo run");
    // Run again in this process: the same again (nothing the first pair did leaks into the second).
    assert.deepEqual(precisionScenario(["bf16", "fp32"]), both, "the other order, after the first pair");
  },
);
