import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { calibrate, machineKey, networkKey } from "../../src/pipeline/plan/calibrate.js";
import { fingerprint, spreadOf, targetBox, type Fingerprint } from "../../src/pipeline/plan/fingerprint.js";
import {
  EPOCH_OVERHEAD,
  MAX_EPOCHS,
  MIN_EPOCHS,
  planNetwork,
  planRecipe,
} from "../../src/pipeline/plan/plan.js";
import { PRESETS } from "../../src/model/config.js";
import { CLI } from "../helpers/cli.js";
import { tempDir } from "../helpers/sample.js";
import { writePreparedFixture } from "../train/trainer-fixture.js";

const spread = (v: number) => ({ min: v, p10: v, median: v, p90: v, max: v });

/** A fingerprint of 580x420 frames whose smallest typical target is `short` px across. */
function fp(short: number, aspects: [number, number] = [580 / 420, 580 / 420]): Fingerprint {
  return {
    frames: 500,
    groups: 20,
    width: spread(580),
    height: spread(420),
    aspect: { ...spread(580 / 420), min: aspects[0], max: aspects[1] },
    mean: 100,
    std: 50,
    classes: [
      { name: "nerve", frames: 300, area: spread(2000), boxShort: spread(short), boxLong: spread(2 * short) },
    ],
  };
}

test("the fingerprint: spreads, target boxes at native size, per frame's own geometry", () => {
  assert.deepEqual(spreadOf([4, 1, 3, 2, 5]), { min: 1, p10: 1.4, median: 3, p90: 4.6, max: 5 });
  const m = new Uint8Array(6 * 4);
  m[1 * 6 + 2] = m[2 * 6 + 4] = 2;
  m[0] = 1;
  assert.deepEqual(
    targetBox(m, 6, 4, (v) => v === 2),
    { area: 2, w: 3, h: 2 },
  );
  assert.deepEqual(
    targetBox(m, 6, 4, (v) => v !== 0),
    { area: 3, w: 5, h: 3 },
  );
  assert.equal(
    targetBox(m, 6, 4, (v) => v === 3),
    null,
  );
  const dir = tempDir();
  writePreparedFixture(dir, { frames: 9, width: 32, height: 32, val: [0], seed: 2 });
  const f = fingerprint(dir);
  assert.equal(f.frames, 9);
  assert.equal(f.classes.length, 1);
  assert.ok(f.classes[0].frames > 0 && f.classes[0].frames < 9, "the empty frames hold no target");
  assert.ok(f.classes[0].boxShort.min > 0 && f.classes[0].boxShort.max <= 32);
});

test("the plan is deterministic for a fingerprint and a budget, and every choice has its reason", () => {
  const input = { fingerprint: fp(30), trainFrames: 400, budgetMinutes: 20 };
  const a = planRecipe(input, 0.5);
  assert.deepEqual(planRecipe(structuredClone(input), 0.5), a);
  for (const k of ["fit", "input", "depth", "batch", "epochs", "recipe"]) assert.ok(a.why[k], k);
  // Small targets get a larger input; large ones the smallest; a varied aspect keeps each frame's own.
  const small = planNetwork(fp(10)).net;
  const large = planNetwork(fp(200)).net;
  assert.ok(small.inputHeight > large.inputHeight, `${small.inputHeight} vs ${large.inputHeight}`);
  assert.deepEqual([large.inputHeight, large.inputWidth], [64, 96]);
  assert.equal(planNetwork(fp(30, [1, 1.4])).net.fit, "letterbox");
  assert.equal(planNetwork(fp(30)).net.fit, "stretch");
  for (const n of [small, large]) {
    assert.equal(n.inputHeight % 16, 0);
    assert.equal(n.inputWidth % 16, 0);
  }
});

test("the budget arithmetic: epochs = budget / (steps × step time × overhead), within the bounds", () => {
  const input = { fingerprint: fp(30), trainFrames: 100, budgetMinutes: 1 };
  const batch = planNetwork(input.fingerprint).net.batch;
  const steps = Math.ceil(100 / batch);
  const plan = planRecipe(input, 0.5);
  assert.equal(plan.preset.train.epochs, Math.floor(60 / (steps * 0.5 * EPOCH_OVERHEAD)));
  assert.equal(plan.preset.train.batch, batch);
  assert.equal(planRecipe(input, 100).preset.train.epochs, MIN_EPOCHS);
  assert.equal(planRecipe({ ...input, budgetMinutes: 10_000 }, 0.01).preset.train.epochs, MAX_EPOCHS);
  assert.match(planRecipe(input, 100).why.epochs, /kept within/);
});

test("the calibration is measured once per machine and network, then cached; another CPU measures again", () => {
  const cacheFile = path.join(tempDir(), "calibration.json");
  let measured = 0;
  const measure = (): number => (++measured, 0.25);
  const p = structuredClone(PRESETS.fast);
  const a = calibrate(p, { cacheFile, measure });
  assert.deepEqual([a.source, a.stepSeconds, measured], ["measured", 0.25, 1]);
  const b = calibrate(p, { cacheFile, measure });
  assert.deepEqual([b.source, b.stepSeconds, measured], ["cache", 0.25, 1]);
  // Another network is another key.
  calibrate({ ...p, train: { ...p.train, batch: 8 } }, { cacheFile, measure });
  assert.equal(measured, 2);
  // The cache of another machine (another CPU model) is not believed.
  const foreign = JSON.parse(fs.readFileSync(cacheFile, "utf8")) as Record<string, unknown>;
  const moved = Object.fromEntries(
    Object.entries(foreign).map(([k, v]) => [
      k.replace(machineKey(), "Other CPU | 64 cores | 64 threads | bf16 true"),
      v,
    ]),
  );
  fs.writeFileSync(cacheFile, JSON.stringify(moved));
  const c = calibrate(p, { cacheFile, measure });
  assert.deepEqual([c.source, measured], ["measured", 3]);
  assert.ok(c.key.endsWith(networkKey(p, "fp32")) || c.key.endsWith(networkKey(p, "bf16")));
});

test("a plan for tiny synthetic data trains end to end: train --preset auto --budget, plan.json kept", () => {
  const data = tempDir();
  writePreparedFixture(data, { frames: 12, width: 64, height: 64, val: [0, 5], seed: 4 });
  const out = tempDir();
  const env = { ...process.env, XDG_CACHE_HOME: tempDir(), CI: "1" };
  const r = spawnSync(
    process.execPath,
    [
      CLI,
      "train",
      "--data",
      data,
      "--preset",
      "auto",
      "--budget",
      "3s",
      "--out",
      out,
      "--threads",
      "1",
      "--quiet",
    ],
    { encoding: "utf8", env },
  );
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stderr, /plan for .* within 0\.05 min/);
  assert.match(r.stderr, /epochs: \d+/);
  const plan = JSON.parse(fs.readFileSync(path.join(out, "plan.json"), "utf8")) as {
    model: { preset: string; inputHeight: number };
    train: { epochs: number };
    plan: { why: Record<string, string>; calibration: { source: string } };
  };
  assert.equal(plan.model.preset, "auto");
  assert.equal(plan.plan.calibration.source, "measured");
  const config = JSON.parse(fs.readFileSync(path.join(out, "config.json"), "utf8")) as {
    model: { inputHeight: number };
    train: { epochs: number };
  };
  assert.equal(config.model.inputHeight, plan.model.inputHeight);
  assert.equal(config.train.epochs, plan.train.epochs);
  // The plan file is a preset: it trains again as it is.
  const again = spawnSync(
    process.execPath,
    [
      CLI,
      "train",
      "--data",
      data,
      "--preset",
      path.join(out, "plan.json"),
      "--epochs",
      "1",
      "--out",
      tempDir(),
      "--quiet",
    ],
    { encoding: "utf8", env },
  );
  assert.equal(again.status, 0, again.stderr);
});
