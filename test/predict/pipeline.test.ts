import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { test } from "node:test";
import {
  predict as runPrediction,
  submit as runSubmit,
  tuneModel as runTune,
} from "../../src/predict/pipeline.js";
import { UserError } from "../../src/core/errors.js";
import { prepare } from "../../src/data/prepare.js";
import { loadModel, readModelConfig } from "../../src/model/model-file.js";
import { readPredictions, writePredictions } from "../../src/predict/prediction-store.js";
import { flip, predictFrames } from "../../src/predict/predictor.js";
import { validateSubmission } from "../../src/predict/submission.js";
import { discFrame, saveTinyModel, writeDiscDataset } from "../helpers/tiny-model.js";
import { needsSample, PROJECT_ROOT, SAMPLE_DIR, tempDir } from "../helpers/sample.js";
import { frame, rectMask, writeGrey } from "../helpers/images.js";

const CLI = path.join(PROJECT_ROOT, "dist", "src", "cli", "main.js");

const base = { batch: 4 };

test("flip is its own inverse and mirrors the right axis", () => {
  const a = Float32Array.from([1, 2, 3, 4, 5, 6]); // 3 wide, 2 high
  assert.deepEqual(flip(a, 3, 2, true, false), Float32Array.from([3, 2, 1, 6, 5, 4]));
  assert.deepEqual(flip(a, 3, 2, false, true), Float32Array.from([4, 5, 6, 1, 2, 3]));
  assert.deepEqual(flip(flip(a, 3, 2, true, true), 3, 2, true, true), a);
});

test("flip TTA is equivariant: predicting a mirrored frame gives the mirrored map", () => {
  const dir = tempDir();
  saveTinyModel(dir);
  const { model } = loadModel(dir);
  const { image } = discFrame(250, 180, 60, true);
  const mirrored = { ...image, data: flip(image.data, image.width, image.height, true, false) };
  const a = predictFrames(model, [{ id: "a", image }], true);
  const b = predictFrames(model, [{ id: "b", image: mirrored }], true);
  const back = flip(b.probs[0], 16, 16, true, false);
  a.probs[0].forEach((v, i) => assert.ok(Math.abs(v - back[i]) < 1e-5, `pixel ${i}: ${v} vs ${back[i]}`));
  assert.ok(Math.abs(a.presence[0] - b.presence[0]) < 1e-5);
  const plain = predictFrames(model, [{ id: "a", image }], false);
  assert.notDeepEqual(plain.probs[0], a.probs[0], "TTA changes the average");
  model.dispose();
});

test("predict → submit writes a valid submission for every test id, in numeric order", async () => {
  const data = tempDir();
  writeDiscDataset(data, 0, 12);
  const modelDir = tempDir();
  saveTinyModel(modelDir);
  const set = await runPrediction({ ...base, model: modelDir, input: path.join(data, "test") });
  assert.deepEqual(
    set.ids,
    Array.from({ length: 12 }, (_, i) => String(i + 1)),
  );
  const preds = path.join(tempDir(), "preds");
  writePredictions(preds, set);
  const out = path.join(tempDir(), "submission.csv");
  const s = await runSubmit({ ...base, model: modelDir, input: path.join(data, "test"), out, preds });
  assert.equal(s.rows, 12);
  const check = validateSubmission(out, set.ids);
  assert.equal(check.rows, 12);
  assert.equal(check.sorted, true);
  // Same result without the stored predictions (the model is deterministic).
  const out2 = path.join(path.dirname(out), "again.csv");
  await runSubmit({ ...base, model: modelDir, input: path.join(data, "test"), out: out2 });
  assert.equal(fs.readFileSync(out2, "utf8"), fs.readFileSync(out, "utf8"));
  assert.deepEqual(readPredictions(preds).ids, set.ids);
});

test("flip TTA follows the model's recipe (ModelConfig.tta) unless --tta / --no-tta says otherwise", async () => {
  const data = tempDir();
  writeDiscDataset(data, 0, 3);
  const plain = tempDir();
  saveTinyModel(plain);
  const withTta = tempDir();
  saveTinyModel(withTta);
  const file = path.join(withTta, "config.json");
  const config = JSON.parse(fs.readFileSync(file, "utf8")) as { model: { tta?: boolean } };
  config.model.tta = true;
  fs.writeFileSync(file, JSON.stringify(config));
  assert.equal(readModelConfig(withTta).model.tta, true);
  const input = path.join(data, "test");
  const run = async (model: string | string[], tta?: boolean) =>
    (await runPrediction({ ...base, model, input, tta })).tta;
  assert.equal(await run(plain), false);
  assert.equal(await run(withTta), true);
  assert.equal(await run(withTta, false), false);
  assert.equal(await run(plain, true), true);
  // An ensemble averages flips by default only when every member's recipe does.
  assert.equal(await run([withTta, plain]), false);
  assert.equal(await run([withTta, withTta]), true);
  // And the maps are the flip average: the same as asking for it explicitly.
  const a = await runPrediction({ ...base, model: withTta, input });
  const b = await runPrediction({ ...base, model: plain, input, tta: true });
  assert.deepEqual(a.probs, b.probs);
});

test("a corrupt test image: clear error naming it, and no partial or replaced submission", async () => {
  const data = tempDir();
  writeDiscDataset(data, 0, 5);
  fs.writeFileSync(path.join(data, "test", "3.tif"), Buffer.from("II*\0garbage"));
  const modelDir = tempDir();
  saveTinyModel(modelDir);
  const out = path.join(tempDir(), "submission.csv");
  fs.writeFileSync(out, "old");
  await assert.rejects(
    runSubmit({ ...base, model: modelDir, input: path.join(data, "test"), out }),
    (e: unknown) => e instanceof UserError && /3\.tif: /.test(e.message),
  );
  assert.equal(fs.readFileSync(out, "utf8"), "old");
  assert.deepEqual(fs.readdirSync(path.dirname(out)), ["submission.csv"]);
});

test("a model folder without config or with mismatched weights is refused by name", async () => {
  const data = tempDir();
  writeDiscDataset(data, 0, 2);
  const empty = tempDir();
  await assert.rejects(
    runPrediction({ ...base, model: empty, input: path.join(data, "test") }),
    /config\.json: missing/,
  );
  const other = tempDir();
  const config = saveTinyModel(other);
  fs.writeFileSync(
    path.join(other, "config.json"),
    JSON.stringify({ ...config, model: { ...config.model, filters: [8, 16] } }),
  );
  await assert.rejects(
    runPrediction({ ...base, model: other, input: path.join(data, "test") }),
    /model\.safetensors: tensor .* has shape/,
  );
});

test("tune searches on the validation split and writes the best settings into config.json", async () => {
  const input = tempDir();
  writeDiscDataset(input, 20, 0);
  const data = tempDir();
  await prepare({
    input,
    out: data,
    split: { kind: "stratified", seed: 3, valFraction: 0.5 },
    skipBad: false,
  });
  const modelDir = tempDir();
  saveTinyModel(modelDir);
  const r = await runTune({ ...base, model: modelDir, data });
  assert.equal(r.images, 10);
  assert.ok(r.after >= r.before);
  assert.equal(r.allEmpty, 0.5);
  // With a random model the best it can do is at least predicting every frame empty.
  assert.ok(r.after >= r.allEmpty - 1e-9, `${r.after} < ${r.allEmpty}`);
  const saved = readModelConfig(modelDir).postprocess;
  assert.deepEqual(saved, r.best);
});

test(
  "predict + submit on the 50 real test images: ids 1..50 in the format of sample_submission.csv",
  { skip: needsSample },
  async () => {
    const modelDir = tempDir();
    saveTinyModel(modelDir);
    const out = path.join(tempDir(), "submission.csv");
    const s = await runSubmit({ ...base, model: modelDir, input: path.join(SAMPLE_DIR, "test"), out });
    assert.equal(s.rows, 50);
    const ours = fs.readFileSync(out, "utf8").trim().split("\n");
    const sample = fs
      .readFileSync(path.join(SAMPLE_DIR, "sample_submission.csv"), "utf8")
      .trim()
      .split(/\r?\n/);
    assert.equal(ours[0], sample[0], "same header");
    assert.deepEqual(
      ours.slice(1).map((l) => l.split(",")[0]),
      sample.slice(1, 51).map((l) => l.split(",")[0]),
      "ids 1..50 in the sample's order",
    );
    // Every row has the sample's shape: an id, a comma, then nothing or `start length` pairs.
    for (const line of ours.slice(1)) assert.match(line, /^\d+,(\d+ \d+( \d+ \d+)*)?$/);
    assert.equal(
      validateSubmission(
        out,
        Array.from({ length: 50 }, (_, i) => String(i + 1)),
      ).rows,
      50,
    );
  },
);

test("overlay --truth/--pred-csv draws the lowest-Dice frames, worst first", () => {
  const data = tempDir();
  writeDiscDataset(data, 0, 3);
  const dir = path.join(data, "test");
  const truth = path.join(data, "truth.csv");
  const pred = path.join(data, "pred.csv");
  // Truth: image 1 and 3 have a nerve; predictions: 1 right, 2 a false positive, 3 missed.
  fs.writeFileSync(truth, "img,pixels\n1,1000 50\n2,\n3,2000 40\n");
  fs.writeFileSync(pred, "img,pixels\n1,1000 50\n2,500 10\n3,\n");
  const out = path.join(data, "worst");
  const r = spawnSync(
    process.execPath,
    [CLI, "overlay", "--images", dir, "--truth", truth, "--pred-csv", pred, "--worst", "2", "--out", out],
    { encoding: "utf8" },
  );
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(fs.readdirSync(out).sort(), ["2-dice0.00.png", "3-dice0.00.png"]);
  assert.match(r.stdout, /of 3, mean 0\.3333/);
});

test("submit never leaves a test image out silently: odd names and leading zeros are named", async () => {
  const modelDir = tempDir();
  saveTinyModel(modelDir);
  for (const [name, why] of [
    ["6 copy.tif", /6 copy\.tif: not a Kaggle image name/],
    ["é 6.tif", /é 6\.tif: not a Kaggle image name/],
    ["07.tif", /07\.tif: a Kaggle id has no leading zero/],
  ] as const) {
    const data = tempDir();
    writeDiscDataset(data, 0, 3);
    fs.copyFileSync(path.join(data, "test", "1.tif"), path.join(data, "test", name));
    const out = path.join(tempDir(), "submission.csv");
    await assert.rejects(
      runSubmit({ ...base, model: modelDir, input: path.join(data, "test"), out }),
      (e: unknown) => e instanceof UserError && why.test(e.message),
    );
    assert.equal(fs.existsSync(out), false);
  }
});

test("tune on a prepared set of PNGs of several sizes (not 580x420) stored at another working size", async () => {
  const input = tempDir();
  for (let i = 0; i < 12; i++) {
    const [w, h] = i % 2 ? [120, 90] : [90, 130];
    await writeGrey(path.join(input, "images", `f${i}.png`), w, h, frame(w, h, i));
    await writeGrey(path.join(input, "masks", `f${i}.png`), w, h, rectMask(w, h, 20, 30, 60, 70));
  }
  const data = tempDir();
  await prepare({
    input,
    out: data,
    split: { kind: "stratified", seed: 1, valFraction: 0.5 },
    skipBad: false,
    width: 64,
    height: 48,
  });
  const modelDir = tempDir();
  saveTinyModel(modelDir);
  const r = await runTune({ ...base, model: modelDir, data });
  assert.equal(r.images, 6);
  assert.ok(r.after >= r.before);
  // Minimum areas searched in steps scaled to the 64x48 working size (0..5,000 px at 580x420).
  assert.ok(Math.max(...r.table.map((row) => row.minArea)) <= 64, "grid scaled to the frame");
  assert.deepEqual(readModelConfig(modelDir).postprocess, r.best);
});
