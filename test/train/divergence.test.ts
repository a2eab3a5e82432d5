import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { UserError } from "../../src/core/errors.js";
import { readSafetensors, writeSafetensors } from "../../src/io/safetensors.js";
import { CONFIG_FILE, loadModel, WEIGHTS_FILE } from "../../src/model/model-file.js";
import { checkpointPath, readCheckpoint } from "../../src/train/checkpoint.js";
import { train } from "../../src/train/trainer.js";
import { saveTinyModel } from "../helpers/tiny-model.js";
import { tempDir } from "../helpers/sample.js";
import { tinyPreset, writePreparedFixture } from "./trainer-fixture.js";

const quiet = { log: () => {}, dedupe: "off" as const, maxMinutes: null, prefetchWorker: false };

function fixture(): string {
  const dir = tempDir();
  writePreparedFixture(dir, { frames: 12, width: 32, height: 32, val: [1, 6], seed: 4 });
  return dir;
}

test("a diverged run (lr 1e12, SGD) stops with the epoch and the first non-finite tensor named; the last good state is kept", async () => {
  const data = fixture();
  const out = tempDir();
  const good = await train({ data, out, preset: tinyPreset({ epochs: 1 }), resume: false, ...quiet });
  assert.equal(good.epochsDone, 1);
  const weightsBefore = fs.readFileSync(path.join(out, WEIGHTS_FILE));
  const preset = tinyPreset({ epochs: 4, lr: 1e12 });
  preset.train.optimizer = "sgd";
  // The same run continued with a diverging recipe: a fresh folder, seeded from nothing but the data.
  const bad = tempDir();
  await assert.rejects(
    train({ data, out: bad, preset, resume: false, ...quiet }),
    (e: unknown) =>
      e instanceof UserError &&
      /training diverged at epoch \d+(, batch \d+)?: .*(not finite|loss is)/.test(e.message) &&
      /last good checkpoint and best model are kept/.test(e.message),
  );
  assert.equal(fs.existsSync(path.join(bad, WEIGHTS_FILE)), false, "no model saved from a diverged state");
  assert.equal(fs.existsSync(path.join(bad, CONFIG_FILE)), false, "no config without weights");
  assert.deepEqual(fs.readFileSync(path.join(out, WEIGHTS_FILE)), weightsBefore);
});

test("weights with NaN, or damaged by one flipped bit, are refused on load; older folders without a checksum load with a note", () => {
  const dir = tempDir();
  saveTinyModel(dir);
  const file = path.join(dir, WEIGHTS_FILE);
  // As written (with its checksum): loads without a note.
  loadModel(dir, (m) => assert.fail(m)).model.dispose();
  const st = readSafetensors(file);
  // One flipped bit in a weight's bytes.
  const bytes = fs.readFileSync(file);
  bytes[bytes.length - 5] ^= 0x10;
  fs.writeFileSync(file, bytes);
  assert.throws(
    () => loadModel(dir, () => {}),
    /model\.safetensors: checksum mismatch: the weights are damaged/,
  );
  // An older folder (no checksum in its metadata) still loads, with a note.
  const { sha256: _sum, ...older } = st.metadata;
  writeSafetensors(file, st.tensors, older);
  const notes: string[] = [];
  loadModel(dir, (m) => notes.push(m)).model.dispose();
  assert.match(notes.join("\n"), /no checksum \(written by an older nerveseg\); not verified/);
  // A NaN weight is refused, named, whatever the checksum says.
  const name = Object.keys(st.tensors).sort()[0];
  st.tensors[name].data[3] = NaN;
  writeSafetensors(file, st.tensors, older);
  assert.throws(
    () => loadModel(dir, () => {}),
    new RegExp(`non-finite weight ${name.replace(/\./g, "\\.")}\\[3\\] = NaN`),
  );
});

test("train into a folder holding a model but no checkpoint: config.json is only replaced together with new weights", async () => {
  const data = fixture();
  const out = tempDir();
  saveTinyModel(out);
  const before = fs.readFileSync(path.join(out, CONFIG_FILE), "utf8");
  await train({ data, out, preset: tinyPreset({ epochs: 3 }), resume: false, stopAfterSteps: 1, ...quiet });
  assert.ok(readCheckpoint(out) !== null && fs.existsSync(checkpointPath(out)));
  assert.equal(
    fs.readFileSync(path.join(out, CONFIG_FILE), "utf8"),
    before,
    "stopped before any new weights",
  );
  const m = loadModel(out, () => {});
  m.model.dispose();
});
