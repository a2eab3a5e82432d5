// Trimmed bars end to end: training frames, the model's input, stored predictions and the mask rule all
// agree on the box (src/data/trim.ts).
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { test } from "node:test";
import * as E from "../../src/engine/index.js";
import { readManifest } from "../../src/data/manifest.js";
import { encodeNpyHeader, readNpy } from "../../src/io/npy.js";
import { DEFAULT_POSTPROCESS, postprocess } from "../../src/postprocess/mask-rule.js";
import { UNet } from "../../src/model/unet.js";
import { predictFrames, BatchPredictor } from "../../src/predict/predictor.js";
import { frameProbMap, readPredictions, writePredictions } from "../../src/predict/prediction-store.js";
import { loadFrames } from "../../src/train/batches.js";
import { frame } from "../helpers/images.js";
import { tempDir } from "../helpers/sample.js";
import { writePreparedFixture } from "../train/trainer-fixture.js";

function model(trim: boolean): UNet {
  const config = {
    preset: "test",
    inputHeight: 16,
    inputWidth: 16,
    kernel: 3,
    fit: "stretch" as const,
    filters: [4, 8],
    presenceHead: true,
    dropout: 0,
    trim,
  };
  return new UNet(config, { mean: 100, std: 50 }, new E.Rng(3));
}

/** A 24x40 frame: 24x24 of texture between grey bars of 8 rows above and below. */
function barred(seed: number): { data: Uint8Array; inner: Uint8Array } {
  const inner = frame(24, 24, seed);
  const data = new Uint8Array(24 * 40).fill(128);
  data.set(inner, 8 * 24);
  return { data, inner };
}

test("a trim model sees the frame between its bars: same maps as a plain model on the cut frame, box kept", () => {
  const trimmed = model(true);
  const plain = model(false);
  try {
    const frames = [1, 2].map((s) => barred(s));
    const a = predictFrames(
      trimmed,
      frames.map((f, i) => ({ id: `${i}`, image: { width: 24, height: 40, data: f.data } })),
      true,
    );
    const b = predictFrames(
      plain,
      frames.map((f, i) => ({ id: `${i}`, image: { width: 24, height: 24, data: f.inner } })),
      true,
    );
    assert.deepEqual(a.probs, b.probs);
    assert.deepEqual(a.presence, b.presence);
    assert.deepEqual(
      a.boxes,
      [0, 1].map(() => ({ x0: 0, y0: 8 / 40, x1: 1, y1: 32 / 40 })),
    );
    assert.deepEqual(b.boxes, [null, null]);
  } finally {
    trimmed.dispose();
    plain.dispose();
  }
});

test("predictions keep their boxes on disk, and the mask rule puts the map back into the box only", () => {
  const m = model(true);
  try {
    const predictor = new BatchPredictor(m, { batch: 4, tta: false }, "test");
    predictor.push({ id: "1", image: { width: 24, height: 40, data: barred(1).data } });
    predictor.push({ id: "2", image: { width: 24, height: 24, data: frame(24, 24, 5) } });
    const set = predictor.finish();
    const dir = tempDir();
    writePredictions(dir, set);
    const back = readPredictions(dir);
    assert.deepEqual(back.boxes, [{ x0: 0, y0: 0.2, x1: 1, y1: 0.8 }, null]);
    assert.equal(back.fit, "stretch");
    // Every pixel on: the mask is exactly the box at any output size, nothing in the bars.
    back.probs[0].fill(255);
    const mask = postprocess(frameProbMap(back, 0, { width: 24, height: 40 }), 1, DEFAULT_POSTPROCESS, {
      width: 48,
      height: 80,
    });
    for (let y = 0; y < 80; y++) assert.equal(mask[y * 48 + 7], y >= 16 && y < 64 ? 1 : 0, `row ${y}`);
    // Without a cut bar no boxes are written: the files are what they were before trimming existed.
    writePredictions(dir, {
      ...set,
      ids: ["2"],
      presence: [set.presence[1]],
      probs: [set.probs[1]],
      boxes: [null],
    });
    assert.equal("boxes" in JSON.parse(fs.readFileSync(path.join(dir, "predictions.json"), "utf8")), false);
    assert.equal(readPredictions(dir).boxes, undefined);
  } finally {
    m.dispose();
  }
});

test("training frames are cut to the image's box, masks alike", () => {
  const dir = tempDir();
  writePreparedFixture(dir, { frames: 4, width: 16, height: 24, val: [0], seed: 2 });
  // Grey bars over rows 0..3 and 20..23 of every image, no nerve there.
  const file = (f: string) => path.join(dir, f);
  const images = readNpy(file("train_images.npy")).data as Uint8Array;
  const masks = readNpy(file("train_masks.npy")).data as Uint8Array;
  for (let i = 0; i < 4; i++)
    for (const y of [0, 1, 2, 3, 20, 21, 22, 23]) {
      images.fill(128, (i * 24 + y) * 16, (i * 24 + y + 1) * 16);
      masks.fill(0, (i * 24 + y) * 16, (i * 24 + y + 1) * 16);
    }
  for (const [f, d] of [
    ["train_images.npy", images],
    ["train_masks.npy", masks],
  ] as const)
    fs.writeFileSync(file(f), Buffer.concat([encodeNpyHeader("|u1", [4, 24, 16]), d]));
  const manifest = readManifest(dir);
  const { set } = loadFrames(dir, manifest, [0, 1, 2, 3], 16, 16, { trim: true });
  for (let i = 0; i < 4; i++) {
    const rows = (a: Uint8Array) => a.subarray((i * 24 + 4) * 16, (i * 24 + 20) * 16);
    assert.deepEqual(set.images.subarray(i * 256, (i + 1) * 256), rows(images), `image ${i}`);
    assert.deepEqual(set.masks.subarray(i * 256, (i + 1) * 256), rows(masks), `mask ${i}`);
  }
  // Off: the 16x24 frame is squeezed to 16x16, bars included.
  const { set: off } = loadFrames(dir, manifest, [0], 16, 16, {});
  assert.equal(off.images[0], 128);
});
