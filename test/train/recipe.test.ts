import assert from "node:assert/strict";
import { test } from "node:test";
import { jitterIntensity } from "../../src/train/augment.js";
import * as E from "../../src/engine/index.js";
import { cosineLr } from "../../src/train/lr-schedule.js";
import { lossOf } from "../../src/train/validate.js";
import { tinyPreset } from "./trainer-fixture.js";

test("cosine schedule: lr at epoch 0, the midpoint at half time, minLr at the end", () => {
  assert.equal(cosineLr(1e-3, 1e-5, 0, 10), 1e-3);
  assert.ok(Math.abs(cosineLr(1e-3, 1e-5, 5, 10) - (1e-3 + 1e-5) / 2) < 1e-15);
  assert.equal(cosineLr(1e-3, 1e-5, 10, 10), 1e-5);
  assert.equal(cosineLr(1e-3, 1e-5, 12, 10), 1e-5);
});

test("intensity jitter: 3 draws per frame, identity at zero strength, values stay in 0..255", () => {
  const img = Float32Array.from({ length: 64 }, (_, i) => i * 4);
  const same = img.slice();
  let draws = 0;
  jitterIntensity(() => (draws++, 0.5), { brightness: 0.2, contrast: 0.3, gamma: 0.4 }, same);
  assert.equal(draws, 3);
  same.forEach((v, i) => assert.ok(Math.abs(v - img[i]) < 1e-4));
  const strong = img.slice();
  jitterIntensity(() => 1, { brightness: 0.5, contrast: 0.5, gamma: 1 }, strong);
  assert.ok(strong.every((v) => v >= 0 && v <= 255));
  assert.notDeepEqual(strong, img);
});

test("the loss adds pixelBce x pixel BCE to Dice (and the presence BCE as before)", () => {
  E.tidy(() => {
    const p = E.fromArray([1, 2, 2, 1], Float32Array.from([0.9, 0.2, 0.6, 0.1]));
    const y = E.fromArray([1, 2, 2, 1], Float32Array.from([1, 0, 1, 0]));
    const has = E.fromArray([1, 1], Float32Array.from([1]));
    const presence = E.fromArray([1, 1], Float32Array.from([0.8]));
    const preset = tinyPreset();
    const plain = lossOf({ mask: p, presence }, y, has, preset).total.item();
    preset.train.pixelBce = 0.7;
    const withBce = lossOf({ mask: p, presence }, y, has, preset).total.item();
    const bce = -(Math.log(0.9) + Math.log(0.8) + Math.log(0.6) + Math.log(0.9)) / 4;
    assert.ok(Math.abs(withBce - plain - 0.7 * bce) < 1e-5, `${withBce} - ${plain} vs ${0.7 * bce}`);
  });
});

test("training prints its recipe first: input, net, optimizer, schedule, loss, augmentation, seed", async () => {
  const { recipeLine } = await import("../../src/train/trainer.js");
  const p = tinyPreset({ augment: true });
  p.train.pixelBce = 1;
  p.train.schedule = "cosine";
  assert.equal(
    recipeLine(p),
    "recipe tiny: input 16x16 (stretch), filters 4-8, kernel 3; adam lr 0.01, batch 4, 3 epochs, cosine; " +
      "loss Dice (batch) + 1 pixel BCE + 0.5 presence BCE; augment flips xy, ±10°, ±20 px; seed 1",
  );
});
