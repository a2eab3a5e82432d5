import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { runDemo } from "../../src/pipeline/demo.js";
import { validateSubmission } from "../../src/predict/submission.js";
import { tempDir } from "../helpers/sample.js";

test("the demo runs the whole pipeline on synthetic data and leaves every artefact", async () => {
  const out = tempDir();
  const lines: string[] = [];
  const opts = {
    log: (line: string) => void lines.push(line),
    input: path.join(out, "no-kaggle-here"),
    out,
    minutes: 0.05,
    subjects: 2,
    frames: 12,
    test: 6,
    seed: 3,
    tta: true,
  };
  await runDemo(opts);
  // Running it again (as `npm start` twice would) replaces the previous demo instead of refusing.
  lines.length = 0;
  await runDemo(opts);
  const text = lines.join("\n");
  assert.match(text, /Kaggle score \d\.\d{4} on 6 test images \(all-empty baseline \d\.\d{4}\)/);
  assert.equal(validateSubmission(path.join(out, "submission.csv"), ["1", "2", "3", "4", "5", "6"]).rows, 6);
  for (const f of [
    "model/config.json",
    "model/model.safetensors",
    "model/curves.png",
    "model/history.csv",
    "preds/probs.npy",
  ])
    assert.ok(fs.existsSync(path.join(out, f)), f);
  assert.equal(fs.readdirSync(path.join(out, "overlays")).filter((f) => f.endsWith(".png")).length, 6);
  assert.ok(
    fs
      .readdirSync(path.join(out, "model", "logs", "train"))
      .some((f) => f.startsWith("events.out.tfevents.")),
  );
});
