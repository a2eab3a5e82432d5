import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { train, type TrainOptions } from "../../src/train/trainer.js";
import { loadModel } from "../../src/model/model-file.js";
import { predictBatch } from "../../src/predict/predictor.js";
import { readSafetensors } from "../../src/io/safetensors.js";
import { parseHistoryCsv } from "../../src/train/history.js";
import { checkpointPath } from "../../src/train/checkpoint.js";
import { BatchSource } from "../../src/train/batch-source.js";
import { buildBatch, augmentOptions, type BatchContext } from "../../src/train/batches.js";
import { UserError } from "../../src/core/errors.js";
import { tempDir } from "../helpers/sample.js";
import { quietTrainOptions, tinyPreset, writePreparedFixture } from "./trainer-fixture.js";

const quiet = { log: () => {} };

function fixture(frames = 16, val = [1, 6, 11]): string {
  const dir = tempDir();
  writePreparedFixture(dir, { frames, width: 32, height: 32, val, seed: 4 });
  return dir;
}

test("a tiny model overfits a few frames: loss falls clearly, training Dice > 0.8; logs written", async () => {
  const data = fixture(12, [2, 4]);
  const out = tempDir();
  const r = await train({
    data,
    out,
    preset: tinyPreset({ epochs: 40, batch: 5 }),
    dedupe: "off",
    resume: false,
    maxMinutes: null,
    prefetchWorker: false,
    ...quiet,
  });
  assert.equal(r.stopped, "done");
  assert.equal(r.epochsDone, 40);
  assert.equal(r.trainFrames, 10);
  assert.equal(r.valFrames, 2);
  const first = r.history[0].loss;
  const last = r.history[r.history.length - 1].loss;
  assert.ok(last < first / 3, `loss ${first} -> ${last}`);
  assert.ok(r.history[r.history.length - 1].dice > 0.8, `dice ${r.history[r.history.length - 1].dice}`);
  // Logs: one history row per epoch, the curves picture, a TensorBoard event file.
  const rows = parseHistoryCsv(fs.readFileSync(path.join(out, "history.csv"), "utf8"));
  assert.deepEqual(
    rows.map((x) => x.epoch),
    Array.from({ length: 40 }, (_, i) => i + 1),
  );
  assert.ok(fs.statSync(path.join(out, "curves.png")).size > 1000);
  // Keras-style runs: the same tags in logs/train and logs/validation, so each chart overlays both.
  const runText = (run: string): string => {
    const files = fs
      .readdirSync(path.join(out, "logs", run))
      .filter((f) => f.startsWith("events.out.tfevents."));
    assert.equal(files.length, 1, run);
    return fs.readFileSync(path.join(out, "logs", run, files[0])).toString("latin1");
  };
  const trainRun = runText("train");
  const validation = runText("validation");
  for (const tag of [
    "epoch_loss",
    "epoch_dice",
    "epoch_lr",
    "epoch_img_per_s",
    "encoder.level0.a.conv.weight",
  ])
    assert.ok(trainRun.includes(tag), `train run lacks ${tag}`);
  for (const tag of ["epoch_loss", "epoch_dice", "epoch_score", "sample_1", "\x89PNG".slice(1)])
    assert.ok(validation.includes(tag), `validation run lacks ${tag}`);
  // One HParams session per run: logs/ itself holds the recipe, the experiment (training and validation
  // metrics) and the session's end; train/ and validation/ hold none (each would count as a session).
  const session = runText(".");
  for (const tag of [
    "_hparams_/experiment",
    "_hparams_/session_start_info",
    "_hparams_/session_end_info",
    "optimizer",
    "validation",
  ])
    assert.ok(session.includes(tag), `session lacks ${tag}`);
  for (const [name, text] of [
    ["train", trainRun],
    ["validation", validation],
  ])
    assert.ok(!text.includes("_hparams_/"), `${name} run is a second HParams session`);
  // The best model is the lowest val_loss epoch and loads and predicts.
  const bestRow = rows.reduce((a, b) => (b.val_loss < a.val_loss ? b : a));
  assert.equal(r.best?.epoch, bestRow.epoch);
  const { model, metadata } = loadModel(out);
  assert.equal(metadata.epoch, String(bestRow.epoch));
  const p = predictBatch(model, [{ width: 16, height: 16, data: new Uint8Array(256).fill(80) }]);
  assert.equal(p.probs[0].length, 256);
  model.dispose();
});

async function finalWeights(out: string): Promise<Record<string, Float32Array>> {
  const st = readSafetensors(checkpointPath(out));
  return Object.fromEntries(Object.entries(st.tensors).map(([k, t]) => [k, t.data]));
}

test("an interrupted run resumed mid-epoch ends with bit-identical weights, optimizer state and history", async () => {
  // All-empty validation frames: val_loss rises as the model learns the discs, so the lr is cut.
  const data = fixture(16, [2, 5, 8]);
  const preset = tinyPreset({ epochs: 3, batch: 4, augment: true, patience: 0, lr: 0.01 });
  preset.model.dropout = 0.2; // dropout draws from a generator whose state must survive the interruption
  const base = quietTrainOptions(data, preset);
  const a = tempDir();
  const full = await train({ ...base, out: a, prefetchWorker: true });
  assert.equal(full.globalStep, 12); // 13 training frames in batches of 4: 4 steps per epoch (the last one topped up)
  const b = tempDir();
  const part = await train({ ...base, out: b, stopAfterSteps: 6, prefetchWorker: false });
  assert.equal(part.stopped, "steps");
  assert.equal(part.globalStep, 6);
  assert.equal(part.epochsDone, 1);
  const rest = await train({ ...base, out: b, resume: true, prefetchWorker: true });
  assert.equal(rest.globalStep, full.globalStep);
  assert.deepEqual(await finalWeights(b), await finalWeights(a));
  const noSpeed = (rows: typeof full.history) => rows.map(({ img_per_s: _s, ...r }) => r);
  assert.deepEqual(noSpeed(rest.history), noSpeed(full.history));
  assert.ok(
    full.history.some((r, i) => i > 0 && r.lr < full.history[i - 1].lr),
    "the lr schedule was exercised",
  );
  assert.deepEqual(
    fs.readFileSync(path.join(b, "model.safetensors")).subarray(0, 8),
    fs.readFileSync(path.join(a, "model.safetensors")).subarray(0, 8),
  );
  // A fresh run into a folder holding a run is refused; a resume with another recipe too.
  await assert.rejects(
    train({ ...base, out: b }),
    (e: unknown) => e instanceof UserError && /--resume/.test(e.message),
  );
  const other = tinyPreset({ epochs: 3, batch: 4, augment: true, patience: 1, lr: 0.5 });
  await assert.rejects(train({ ...base, out: b, preset: other, resume: true }), /different model, recipe/);
});

test("batches built on the worker equal those built in place (augmentation is seeded per batch)", async () => {
  const px = 16 * 16;
  const images = new Uint8Array(new SharedArrayBuffer(6 * px)).map((_, i) => (i * 37) % 251);
  const masks = new Uint8Array(new SharedArrayBuffer(6 * px)).map((_, i) =>
    i % 16 > 4 && i % 16 < 10 ? 1 : 0,
  );
  const ctx: BatchContext = {
    width: 16,
    height: 16,
    images,
    masks,
    normalization: { mean: 100, std: 50 },
    augment: augmentOptions(tinyPreset({ augment: true }).train),
  };
  const src = new BatchSource(ctx, true);
  try {
    const specs = [
      { indices: [0, 3, 5], seed: 11 },
      { indices: [2, 1], seed: 12 },
      { indices: [4], seed: null },
    ];
    const got = await Promise.all(specs.map((s) => src.request(s)));
    specs.forEach((s, i) => assert.deepEqual(got[i], buildBatch(ctx, s)));
    // Same spec, same batch; the mask stays 0/1 and the presence label follows the augmented mask.
    const b = got[0];
    assert.ok(b.y.every((v) => v === 0 || v === 1));
    for (let i = 0; i < b.count; i++)
      assert.equal(b.has[i], b.y.subarray(i * px, (i + 1) * px).some((v) => v === 1) ? 1 : 0);
    assert.notDeepEqual(buildBatch(ctx, { indices: [0, 3, 5], seed: 99 }).x, b.x);
  } finally {
    await src.close();
  }
});

test("--dedupe finds a contradicting near-duplicate and drops or relabels it", async () => {
  const dir = tempDir();
  writePreparedFixture(dir, { frames: 12, width: 40, height: 40, val: [1], seed: 5, duplicates: [[3, 7]] });
  const preset = tinyPreset({ epochs: 1, batch: 4 });
  const base: TrainOptions = { ...quietTrainOptions(dir, preset), dedupe: "drop", prefetchWorker: false };
  const dropped = await train({ ...base, out: tempDir() });
  assert.equal(dropped.dedupe.pairs, 1);
  assert.deepEqual(dropped.dedupe.dropped, ["1_8"]);
  assert.equal(dropped.trainFrames, 10);
  const relabelled = await train({ ...base, out: tempDir(), dedupe: "relabel" });
  assert.deepEqual(relabelled.dedupe.relabelled, [{ id: "1_8", maskFrom: "1_4" }]);
  assert.equal(relabelled.trainFrames, 11);
  const off = await train({ ...base, out: tempDir(), dedupe: "off" });
  assert.equal(off.dedupe.pairs, 0);
});
