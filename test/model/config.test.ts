import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { checkFits, loadPreset, PRESETS, trainingBytes } from "../../src/model/config.js";
import { PROJECT_ROOT, tempDir } from "../helpers/sample.js";

const presetFile = (body: object): string => {
  const file = path.join(tempDir(), "preset.json");
  fs.writeFileSync(file, JSON.stringify(body));
  return file;
};

test("a preset file with an unknown key is refused, naming the file, the key and the nearest known one", () => {
  const typo = presetFile({ model: { fliters: [8, 16] } });
  assert.throws(
    () => loadPreset(typo),
    (e: Error) => e.message === `${typo}: model.fliters: unknown key (did you mean model.filters?)`,
  );
  const deep = presetFile({ train: { augment: { rotat: 5 } } });
  assert.throws(
    () => loadPreset(deep),
    /train\.augment\.rotat: unknown key \(did you mean train\.augment\.rotate\?\)/,
  );
  const top = presetFile({ modle: {} });
  assert.throws(() => loadPreset(top), /modle: unknown key \(did you mean model\?\)/);
  const far = presetFile({ train: { zzzzzzzz: 1 } });
  assert.throws(() => loadPreset(far), /train\.zzzzzzzz: unknown key$/);
});

test("sizes and filters are bounded before anything is allocated", () => {
  const tall = presetFile({ model: { inputHeight: 100000 } });
  const t0 = Date.now();
  assert.throws(
    () => loadPreset(tall),
    new RegExp(`^UserError: ${tall.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")}: model\\.inputHeight: .*4096`),
  );
  const wide = presetFile({ model: { filters: [8, 16, 1000000] } });
  assert.throws(() => loadPreset(wide), /model\.filters\.2: .*4096/);
  assert.ok(Date.now() - t0 < 2000, "refused at once");
});

test("the training memory estimate: the fast preset about 1 GiB; a recipe over the machine is refused by name", () => {
  const fast = trainingBytes(PRESETS.fast);
  assert.ok(fast > 0.5 * 2 ** 30 && fast < 2 * 2 ** 30, `fast: ${fast} bytes`);
  // Doubling the batch doubles the activations; the weights stay.
  const doubled = trainingBytes({ ...PRESETS.fast, train: { ...PRESETS.fast.train, batch: 64 } });
  assert.ok(doubled > 1.8 * fast && doubled < 2 * fast, `${doubled} vs ${fast}`);
  checkFits(PRESETS.fast, "x", 4 * 2 ** 30);
  assert.throws(
    () => checkFits(PRESETS.fast, 'preset "fast"', 2 ** 28),
    /^UserError: preset "fast": input 64x80, filters 32-64-128-256-512 at batch 32 would need about 1\.\d GiB to train; this machine has 0\.3 GiB/,
  );
  const big = presetFile({ model: { inputHeight: 4096, inputWidth: 4096 }, train: { batch: 64 } });
  assert.throws(() => loadPreset(big), /would need about \d+ GiB to train; this machine has/);
});

test("train through the CLI: a typo in the preset file stops before any work, in one line", () => {
  const typo = presetFile({ train: { epoch: 3 } });
  const r = spawnSync(
    "node",
    [
      path.join(PROJECT_ROOT, "dist", "src", "cli", "main.js"),
      "train",
      "--preset",
      typo,
      "--data",
      tempDir(),
      "--out",
      tempDir(),
    ],
    { encoding: "utf8" },
  );
  assert.equal(r.status, 1);
  assert.equal(r.stderr.trim(), `nerveseg: ${typo}: train.epoch: unknown key (did you mean train.epochs?)`);
});
