import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { readManifest } from "../../src/data/manifest.js";
import { loadEnsemble, loadModel, modelFolders } from "../../src/model/model-file.js";
import { DEFAULT_POSTPROCESS } from "../../src/postprocess/mask-rule.js";
import { innerValidation } from "../../src/data/split.js";
import { crossValidate, cvTable, defaultValidation, meanSd } from "../../src/pipeline/cv.js";
import { PRESETS } from "../../src/model/config.js";
import { rescoreCv } from "../../src/pipeline/cv-rescore.js";
import { predictFrames } from "../../src/predict/predictor.js";
import { saveTinyModel, discFrame } from "../helpers/tiny-model.js";
import { tempDir } from "../helpers/sample.js";
import { tinyPreset, writePreparedFixture } from "../train/trainer-fixture.js";

const quiet = { log: () => {} };

function fixture(): string {
  const dir = tempDir();
  const groups = Array.from({ length: 24 }, (_, i) => `g${i % 6}`);
  writePreparedFixture(dir, { frames: 24, width: 16, height: 16, val: [0], seed: 4, groups });
  return dir;
}

/** A quiet cross-validation of the tiny recipe: 3 folds, fold seed 2, one epoch. */
function runOpts(data: string, out: string) {
  return {
    data,
    out,
    preset: tinyPreset({ epochs: 1 }),
    folds: 3,
    seed: 2,
    dedupe: "off" as const,
    resume: false,
    maxMinutes: null,
    ...quiet,
  };
}

test("cv: K models, each scored on whole groups it never saw; the table has mean ± sd", async () => {
  const data = fixture();
  const out = tempDir();
  const r = await crossValidate(runOpts(data, out));
  assert.equal(r.complete, true);
  assert.equal(r.folds.length, 3);
  assert.equal(
    r.folds.reduce((a, f) => a + f.frames, 0),
    24,
    "every frame held out exactly once",
  );
  const m = readManifest(data);
  const cv = JSON.parse(fs.readFileSync(path.join(out, "cv.json"), "utf8")) as { folds: { of: number[] } };
  for (let f = 0; f < 3; f++) {
    const held = new Set(m.train.groups.filter((_, i) => cv.folds.of[i] === f));
    const seen = new Set(m.train.groups.filter((_, i) => cv.folds.of[i] !== f));
    for (const g of held) assert.ok(!seen.has(g), `fold ${f}: group ${g} on both sides`);
    // Validated on whole groups of the training folds (the held-out fold is only scored), trained on the rest.
    const inner = innerValidation(m.train.groups, cv.folds.of, f, data);
    assert.ok(inner.length > 0 && inner.every((i) => cv.folds.of[i] !== f));
    const innerGroups = new Set(inner.map((i) => m.train.groups[i]));
    assert.equal(
      inner.length,
      m.train.groups.filter((g, i) => innerGroups.has(g) && cv.folds.of[i] !== f).length,
      "whole groups",
    );
    assert.deepEqual(innerValidation(m.train.groups, cv.folds.of, f, data), inner, "fixed by the fold");
    const config = loadModel(path.join(out, `fold-${f}`));
    assert.equal(config.config.data?.valFrames, inner.length);
    assert.equal(config.config.data?.trainFrames, 24 - r.folds[f].frames - inner.length);
    config.model.dispose();
  }
  const dice = meanSd(r.folds.map((f) => f.dice));
  assert.deepEqual(r.summary!.dice, dice);
  // Boundary distance per fold (px at the working size), where a fold has frames with both masks.
  for (const f of r.folds)
    assert.ok(f.hd95 === null || (f.hd95 !== undefined && f.hd95 >= 0), `fold ${f.fold}: ${f.hd95}`);
  assert.deepEqual(r.summary!.hd95, meanSd(r.folds.map((f) => f.hd95 ?? null)));
  assert.match(cvTable(r), /HD95 px/);
  assert.ok(fs.readFileSync(path.join(out, "folds.csv"), "utf8").startsWith("fold,groups,frames"));
  assert.deepEqual(
    modelFolders(out).map((d) => path.basename(d)),
    ["fold-0", "fold-1", "fold-2"],
  );
  // Rescoring with the models' own post-processing reproduces the table; other settings land beside it.
  const same = rescoreCv({ data, out, postprocess: DEFAULT_POSTPROCESS, tag: "same" });
  assert.deepEqual(same.folds, r.folds);
  const lc = rescoreCv({
    data,
    out,
    postprocess: { ...DEFAULT_POSTPROCESS, largestComponent: true },
    tag: "lc",
  });
  assert.equal(lc.folds.length, 3);
  assert.ok(fs.existsSync(path.join(out, "fold-2", "result-lc.json")));
  assert.deepEqual(JSON.parse(fs.readFileSync(path.join(out, "fold-2", "result.json"), "utf8")), r.folds[2]);
  // A fold-by-fold ensemble with itself averages two equal maps: the same scores, twice the minutes.
  const self = rescoreCv({ data, out, postprocess: DEFAULT_POSTPROCESS, tag: "self", with: [out] });
  assert.deepEqual(
    self.folds.map((f) => ({ ...f, minutes: f.minutes / 2 })),
    r.folds,
  );
  // With another training seed on the same folds: a real ensemble; other folds are refused by name.
  const seed2 = tempDir();
  const preset2 = tinyPreset({ epochs: 1 });
  preset2.train.seed = 7;
  const r2 = await crossValidate({ ...runOpts(data, seed2), preset: preset2 });
  const ens = rescoreCv({ data, out, postprocess: DEFAULT_POSTPROCESS, tag: "ens", with: [seed2] });
  ens.folds.forEach((f, k) => assert.equal(f.minutes, r.folds[k].minutes + r2.folds[k].minutes));
  assert.ok(ens.folds.some((f, k) => f.dice !== r.folds[k].dice && f.dice !== r2.folds[k].dice));
  const otherFolds = tempDir();
  await crossValidate({ ...runOpts(data, otherFolds), seed: 3 });
  assert.throws(
    () => rescoreCv({ data, out, postprocess: DEFAULT_POSTPROCESS, tag: "x", with: [otherFolds] }),
    /cv\.json: its folds differ/,
  );
});

test("cv resumes: a run cut short by --fold or time continues where it stopped, finished folds kept", async () => {
  const data = fixture();
  const out = tempDir();
  const base = runOpts(data, out);
  const one = await crossValidate({ ...base, resume: false, fold: 1 });
  assert.equal(one.complete, false);
  assert.deepEqual(
    one.folds.map((f) => f.fold),
    [1],
  );
  const before = fs.readFileSync(path.join(out, "fold-1", "result.json"), "utf8");
  await assert.rejects(crossValidate({ ...base, resume: false }), /already holds a cross-validation run/);
  const stopped = await crossValidate({ ...base, resume: true, maxMinutes: 0 });
  assert.equal(stopped.stopped, "time");
  const all = await crossValidate({ ...base, resume: true });
  assert.equal(all.complete, true);
  assert.equal(fs.readFileSync(path.join(out, "fold-1", "result.json"), "utf8"), before, "fold 1 not redone");
  await assert.rejects(
    crossValidate({
      ...base,
      resume: true,
      preset: { ...base.preset, train: { ...base.preset.train, lr: 0.5 } },
    }),
    /other data, recipe or dedupe/,
  );
  // The old protocol (validate on the held-out fold) is still there on request; it is another run.
  await assert.rejects(
    crossValidate({ ...base, resume: true, validation: "held-out" }),
    /other data, recipe or dedupe/,
  );
  const oldOut = tempDir();
  const old = await crossValidate({ ...base, out: oldOut, resume: false, validation: "held-out", fold: 0 });
  const config = loadModel(path.join(oldOut, "fold-0"));
  assert.equal(config.config.data?.valFrames, old.folds[0].frames);
  config.model.dispose();
  // Without --validation, a cosine recipe trains on every training group; a plateau recipe validates.
  assert.equal(defaultValidation(base.preset), "inner");
  assert.equal(
    defaultValidation({ ...base.preset, train: { ...base.preset.train, schedule: "cosine" } }),
    "none",
  );
  assert.equal(defaultValidation(PRESETS.real), "none");
  // none: every frame outside the held-out fold is trained on, nothing validated.
  const allOut = tempDir();
  const none = await crossValidate({ ...base, out: allOut, resume: false, validation: "none", fold: 0 });
  const trained = loadModel(path.join(allOut, "fold-0"));
  assert.equal(trained.config.data?.valFrames, 0);
  assert.equal(trained.config.data?.trainFrames, 24 - none.folds[0].frames);
  assert.ok(Number.isFinite(none.folds[0].kaggle), JSON.stringify(none.folds[0]));
  trained.model.dispose();
});

test("an ensemble's maps are the mean of its members' maps (with TTA on top)", () => {
  const a = tempDir();
  const b = tempDir();
  saveTinyModel(a, 1);
  saveTinyModel(b, 2);
  const members = loadEnsemble([a, b]);
  const nets = members.map((m) => m.model);
  const frames = [
    { id: "x", image: discFrame(250, 180, 60, true).image },
    { id: "y", image: discFrame(100, 300, 40, false).image },
  ];
  for (const tta of [false, true]) {
    const both = predictFrames(nets, frames, tta);
    const one = predictFrames(nets[0], frames, tta);
    const two = predictFrames(nets[1], frames, tta);
    for (let i = 0; i < frames.length; i++) {
      both.probs[i].forEach((v, k) =>
        assert.ok(Math.abs(v - (one.probs[i][k] + two.probs[i][k]) / 2) < 1e-6),
      );
      assert.ok(Math.abs(both.presence[i] - (one.presence[i] + two.presence[i]) / 2) < 1e-6);
    }
  }
  for (const m of members) m.model.dispose();
});
