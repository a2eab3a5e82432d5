// The weights' moving average (recipe `ema`): the engine's update rule and swap, then a training run
// that validates and saves the average and resumes it bit for bit.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as E from "../../src/engine/index.js";
import { train, type TrainOptions } from "../../src/train/trainer.js";
import { readSafetensors } from "../../src/io/safetensors.js";
import { checkpointPath } from "../../src/train/checkpoint.js";
import { tempDir } from "../helpers/sample.js";
import { quietTrainOptions, tinyPreset, writePreparedFixture } from "./trainer-fixture.js";
import path from "node:path";

test("WeightAverage: avg = d·avg + (1-d)·w with the warm-up decay, over parameters and BN buffers; swap exchanges", () => {
  const block = new E.ConvBnAct(2, 3, 3, { pad: 1, rng: new E.Rng(1) });
  const all = () => [...block.namedParameters(), ...block.namedBuffers()].map(([, t]) => t);
  assert.ok(block.namedBuffers().length > 0, "BN running statistics are averaged too");
  const ema = new E.WeightAverage(block, 0.9);
  const start = all().map((t) => t.toFloat32Array());
  const decays: number[] = [];
  let expected = start.map((a) => Float64Array.from(a));
  for (let step = 0; step < 4; step++) {
    for (const t of all())
      t.fromFloat32Array(t.toFloat32Array().map((v, i) => v + 0.1 * (step + 1) * Math.sin(i)));
    const d = ema.currentDecay();
    decays.push(d);
    expected = expected.map((a, k) => a.map((v, i) => d * v + (1 - d) * all()[k].data[i]));
    ema.update();
  }
  // min(0.9, (1+t)/(10+t)): 0.1, 2/11, 3/12, 4/13 — the first steps follow the weights closely.
  assert.deepEqual(
    decays,
    [1 / 10, 2 / 11, 3 / 12, 4 / 13].map((d) => Math.min(0.9, d)),
  );
  ema.avg.forEach((a, k) => a.forEach((v, i) => assert.ok(Math.abs(v - expected[k][i]) < 1e-5)));
  const live = all().map((t) => t.toFloat32Array());
  const avg = ema.avg.map((a) => Float32Array.from(a));
  const versions = all().map((t) => t.version);
  ema.swap();
  all().forEach((t, k) => assert.deepEqual(t.toFloat32Array(), avg[k]));
  ema.avg.forEach((a, k) => assert.deepEqual(a, live[k]));
  all().forEach((t, k) => assert.ok(t.version > versions[k], "a swap invalidates cached copies"));
  ema.swap();
  all().forEach((t, k) => assert.deepEqual(t.toFloat32Array(), live[k]));
  assert.throws(() => new E.WeightAverage(block, 1), /decay/);
  block.dispose();
});

function tensorsOf(file: string): Record<string, Float32Array> {
  return Object.fromEntries(Object.entries(readSafetensors(file).tensors).map(([k, t]) => [k, t.data]));
}

test("training with a weight EMA saves the average as the model and resumes it bit-identically", async () => {
  const data = tempDir();
  writePreparedFixture(data, { frames: 16, width: 32, height: 32, val: [1, 6, 11], seed: 4 });
  const preset = tinyPreset({ epochs: 1, batch: 4, lr: 0.01 });
  preset.train.ema = 0.8;
  const base: TrainOptions = { ...quietTrainOptions(data, preset), prefetchWorker: false };
  const a = tempDir();
  const one = await train({ ...base, out: a });
  assert.equal(one.best?.epoch, 1);
  const ck = tensorsOf(checkpointPath(a));
  const saved = tensorsOf(path.join(a, "model.safetensors"));
  const names = Object.keys(saved);
  assert.ok(names.length > 0 && names.every((n) => ck[`ema.${n}`] !== undefined));
  // The saved model is the average after epoch 1, not the raw weights training goes on from.
  for (const n of names) assert.deepEqual(saved[n], ck[`ema.${n}`], n);
  assert.ok(names.some((n) => ck[`model.${n}`].some((v, i) => v !== saved[n][i])));

  // Interrupted mid-epoch and resumed: weights, optimizer slots and the average all bit-identical.
  const two = { ...base, preset: { ...preset, train: { ...preset.train, epochs: 2 } } };
  const full = tempDir();
  await train({ ...two, out: full });
  const b = tempDir();
  assert.equal((await train({ ...two, out: b, stopAfterSteps: 5 })).stopped, "steps");
  await train({ ...two, out: b, resume: true });
  const x = tensorsOf(checkpointPath(full));
  const y = tensorsOf(checkpointPath(b));
  assert.deepEqual(Object.keys(y).sort(), Object.keys(x).sort());
  for (const k of Object.keys(x)) assert.deepEqual(y[k], x[k], k);
  assert.deepEqual(
    tensorsOf(path.join(b, "model.safetensors")),
    tensorsOf(path.join(full, "model.safetensors")),
  );
});
