import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { encodeNpyHeader } from "../../src/io/npy.js";
import {
  PREDICTIONS_JSON,
  PROBS_NPY,
  probsToBytes,
  readPredictions,
  writePredictions,
  type PredictionSet,
} from "../../src/predict/prediction-store.js";
import { tempDir } from "../helpers/sample.js";

function sampleSet(n: number, height: number, width: number): PredictionSet {
  const probs: Uint8Array[] = [];
  for (let i = 0; i < n; i++) {
    const p = new Uint8Array(height * width);
    for (let j = 0; j < p.length; j++) p[j] = (i * 31 + j * 7) & 255;
    probs.push(p);
  }
  return {
    ids: Array.from({ length: n }, (_, i) => `${i + 1}`),
    presence: Array.from({ length: n }, (_, i) => i / n),
    probs,
    height,
    width,
    model: "fast",
    tta: true,
  };
}

test("writePredictions / readPredictions round trip, numpy-compatible layout", () => {
  const dir = path.join(tempDir(), "preds");
  const set = sampleSet(3, 5, 7);
  writePredictions(dir, set);
  assert.deepEqual(fs.readdirSync(dir).sort(), [PREDICTIONS_JSON, PROBS_NPY]);
  const back = readPredictions(dir);
  assert.deepEqual(back.ids, set.ids);
  assert.deepEqual(back.presence, set.presence);
  assert.equal(back.height, 5);
  assert.equal(back.width, 7);
  assert.equal(back.model, "fast");
  assert.equal(back.tta, true);
  assert.equal(back.probs.length, 3);
  for (let i = 0; i < 3; i++) assert.deepEqual([...back.probs[i]], [...set.probs[i]]);
  // The .npy is header (64-byte aligned, v1.0, '|u1', C order, shape (3, 5, 7)) + raw bytes.
  const bytes = fs.readFileSync(path.join(dir, PROBS_NPY));
  const headerLen = bytes[8] + bytes[9] * 256;
  assert.equal((10 + headerLen) % 64, 0);
  const header = bytes.subarray(10, 10 + headerLen).toString("latin1");
  assert.match(header, /'descr': '\|u1', 'fortran_order': False, 'shape': \(3, 5, 7\)/);
  assert.equal(bytes.length, 10 + headerLen + 3 * 5 * 7);
  assert.equal(bytes[10 + headerLen + 35 + 1], set.probs[1][1]);
});

test("writePredictions replaces an existing folder's files and leaves no temp files", () => {
  const dir = path.join(tempDir(), "preds");
  writePredictions(dir, sampleSet(4, 3, 3));
  writePredictions(dir, sampleSet(2, 6, 4));
  assert.deepEqual(fs.readdirSync(dir).sort(), [PREDICTIONS_JSON, PROBS_NPY]);
  const back = readPredictions(dir);
  assert.equal(back.ids.length, 2);
  assert.equal(back.probs[1].length, 24);
});

test("writePredictions rejects inconsistent input before touching the folder", () => {
  const dir = path.join(tempDir(), "preds");
  writePredictions(dir, sampleSet(2, 3, 3));
  const before = fs.readFileSync(path.join(dir, PREDICTIONS_JSON), "utf8");
  const bad = sampleSet(2, 3, 3);
  bad.probs[1] = new Uint8Array(8);
  assert.throws(() => writePredictions(dir, bad), /map of 2 has 8 values, want 3x3/);
  const dup = sampleSet(2, 3, 3);
  dup.ids[1] = "1";
  assert.throws(() => writePredictions(dir, dup), /image id 1 appears twice/);
  const pres = sampleSet(2, 3, 3);
  pres.presence[0] = 1.5;
  assert.throws(() => writePredictions(dir, pres), /presence of 1 is 1.5/);
  assert.equal(fs.readFileSync(path.join(dir, PREDICTIONS_JSON), "utf8"), before);
  assert.deepEqual(fs.readdirSync(dir).sort(), [PREDICTIONS_JSON, PROBS_NPY]);
});

test("readPredictions names the file and the problem", () => {
  const root = tempDir();
  const dir = path.join(root, "preds");
  assert.throws(() => readPredictions(dir), /predictions\.json: missing/);
  writePredictions(dir, sampleSet(2, 3, 4));
  const json = path.join(dir, PREDICTIONS_JSON);
  const npy = path.join(dir, PROBS_NPY);
  const meta = JSON.parse(fs.readFileSync(json, "utf8"));

  fs.writeFileSync(json, JSON.stringify({ ...meta, ids: ["1", "2", "3"], presence: [0, 0, 0] }));
  assert.throws(
    () => readPredictions(dir),
    /probs\.npy: shape \(2, 3, 4\) does not match predictions\.json \(3, 3, 4\)/,
  );
  fs.writeFileSync(json, JSON.stringify({ ...meta, presence: [0.5] }));
  assert.throws(() => readPredictions(dir), /predictions\.json: 2 ids but 1 presence values/);
  fs.writeFileSync(json, JSON.stringify({ ...meta, height: "3" }));
  assert.throws(() => readPredictions(dir), /predictions\.json: height: /);
  fs.writeFileSync(json, "{not json");
  assert.throws(() => readPredictions(dir), /predictions\.json: not valid JSON/);
  fs.writeFileSync(json, JSON.stringify(meta));

  const good = fs.readFileSync(npy);
  fs.writeFileSync(npy, good.subarray(0, good.length - 1));
  assert.throws(() => readPredictions(dir), /probs\.npy: size/);
  const f4 = encodeNpyHeader("<f4", [2, 3, 4]);
  fs.writeFileSync(npy, Buffer.concat([f4, Buffer.alloc(2 * 3 * 4 * 4)]));
  assert.throws(() => readPredictions(dir), /probs\.npy: dtype <f4, want \|u1/);
  fs.rmSync(npy);
  assert.throws(() => readPredictions(dir), /probs\.npy: missing/);
});

test("probsToBytes rounds probability x 255 and clamps", () => {
  assert.deepEqual(
    [...probsToBytes(new Float32Array([0, 0.5, 1, 1.2, -0.1, 0.002, 0.998]))],
    [0, 128, 255, 255, 0, 1, 254],
  );
});
