import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { PROJECT_ROOT, tempDir } from "./helpers/sample.js";

// The library prints nothing unless asked: a program that imports nerveseg owns its terminal. The CLI
// passes its printer (`log`); a library call without one is silent on stdout and stderr alike.
test("the library's long steps are silent by default: synth → prepare → train → tune → predict → cv", () => {
  const dir = tempDir();
  const api = path.join(PROJECT_ROOT, "dist", "src", "index.js");
  const script = `
    const n = await import(${JSON.stringify(api)});
    const d = ${JSON.stringify(dir)};
    await n.synthesize({ out: d + "/synth", subjects: 3, frames: 6, test: 3, seed: 2, workers: 0 });
    await n.prepare({ input: d + "/synth", out: d + "/p", split: { kind: "group", seed: 1, valFraction: 0.34, folds: 3 }, skipBad: false });
    const preset = n.loadPreset("fast");
    Object.assign(preset.model, { inputHeight: 16, inputWidth: 16, filters: [4, 8] });
    Object.assign(preset.train, { epochs: 1, batch: 4 });
    await n.train({ data: d + "/p", out: d + "/m", preset, dedupe: "off", resume: false, maxMinutes: null });
    await n.tuneModel({ model: d + "/m", data: d + "/p", precision: "auto" });
    await n.predictFiles({ model: d + "/m", inputs: [d + "/synth/test"], out: d + "/o", precision: "auto" });
    await n.crossValidate({ data: d + "/p", out: d + "/cv", preset, folds: 3, seed: 1, dedupe: "off", resume: false, maxMinutes: null });
  `;
  // A file, not --input-type=module -e: worker threads inherit the flags and refuse --input-type.
  const file = path.join(dir, "run.mjs");
  fs.writeFileSync(file, script);
  const r = spawnSync(process.execPath, [file], { encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, "");
  assert.equal(r.stderr, "");
});
