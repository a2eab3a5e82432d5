// --precision auto|fp32|bf16 for training: the run's copy of the recipe stores what it resolved to
// (bf16, or no field for fp32, so fp32 runs keep their config.json and resume fingerprints) while the
// recipe given is left as it was, `auto` says which it chose in one line, and bf16 where it is switched
// off (NERVESEG_NO_BF16=1) is refused with a one-line error.
import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { spawnSync } from "node:child_process";
import { PROJECT_ROOT, tempDir } from "../helpers/sample.js";
import * as E from "../../src/engine/index.js";
import { loadPreset, PRESETS } from "../../src/model/config.js";
import { fingerprintOf } from "../../src/train/checkpoint.js";
import { readModelConfig } from "../../src/model/model-file.js";
import { trainPrecision } from "../../src/train/run.js";
import { train as trainRun } from "../../src/train/trainer.js";
import { quietTrainOptions, tinyPreset, writePreparedFixture } from "./trainer-fixture.js";

const CLI = path.join(PROJECT_ROOT, "dist", "src", "cli", "main.js");

test("fp32 (explicit or absent) records the recipe and its fingerprint as before; bf16 is stored; the input is kept", () => {
  const lines: string[] = [];
  const base = fingerprintOf(PRESETS.fast, "d", "off", [1]);
  for (const choice of [undefined, "fp32"] as const) {
    const p = structuredClone(PRESETS.fast);
    if (choice) p.train.precision = choice;
    const given = JSON.stringify(p.train);
    const r = trainPrecision(p.train, (l) => lines.push(l));
    assert.equal(r.precision, "fp32");
    assert.equal("precision" in r.train, false, "fp32 recipes have no precision field");
    assert.equal(JSON.stringify(r.train), JSON.stringify(PRESETS.fast.train), "as an fp32 recipe always was");
    assert.equal(fingerprintOf({ ...p, train: r.train }, "d", "off", [1]), base);
    assert.equal(JSON.stringify(p.train), given, "reading a recipe does not change it");
  }
  assert.equal(lines.length, 0, "an explicit or default fp32 prints nothing");
  if (E.bf16Supported()) {
    const p = structuredClone(PRESETS.real);
    assert.equal(p.train.precision, "auto");
    const r = trainPrecision(p.train, (l) => lines.push(l));
    assert.equal(r.precision, "bf16");
    assert.equal(r.train.precision, "bf16");
    assert.equal(p.train.precision, "auto", "the recipe given still says auto");
    // In place: the saved config.json lists the fields in the recipe's order.
    assert.deepEqual(Object.keys(r.train), Object.keys(p.train));
    const fp32 = trainPrecision({ ...p.train, precision: "fp32" }, () => {}).train;
    assert.notEqual(
      fingerprintOf({ ...p, train: r.train }, "d", "off", [1]),
      fingerprintOf({ ...p, train: fp32 }, "d", "off", [1]),
      "a bf16 run is another recipe",
    );
    assert.match(lines[0], /^precision: bf16 \(auto:/);
  }
});

test("training reads its recipe without changing it; the model folder records the resolved precision", async () => {
  const data = tempDir("precision-data");
  writePreparedFixture(data, { frames: 8, width: 16, height: 16, val: [1, 5], seed: 2 });
  const preset = tinyPreset({ epochs: 1 });
  preset.train.precision = "auto";
  const given = JSON.stringify(preset);
  const out = tempDir("precision-run");
  await trainRun({ ...quietTrainOptions(data, preset), out, prefetchWorker: false });
  assert.equal(JSON.stringify(preset), given, "the caller's preset is as it was");
  const saved = readModelConfig(out).train;
  if (E.bf16Supported()) assert.equal(saved.precision, "bf16");
  else assert.equal("precision" in saved, false);
});

test("a preset file may ask for a precision; anything else is refused", () => {
  const dir = tempDir("precision-preset");
  const good = path.join(dir, "good.json");
  fs.writeFileSync(good, JSON.stringify({ train: { precision: "auto" } }));
  assert.equal(loadPreset(good).train.precision, "auto");
  const bad = path.join(dir, "bad.json");
  fs.writeFileSync(bad, JSON.stringify({ train: { precision: "fp16" } }));
  assert.throws(() => loadPreset(bad), /precision/);
});

function train(precision: string): { status: number | null; stderr: string } {
  const out = tempDir("precision-train");
  const r = spawnSync(
    process.execPath,
    [
      CLI,
      "train",
      "--data",
      path.join(out, "missing"),
      "--out",
      path.join(out, "m"),
      "--precision",
      precision,
    ],
    { env: { ...process.env, NERVESEG_NO_BF16: "1" }, encoding: "utf8" },
  );
  return { status: r.status, stderr: r.stderr };
}

test("NERVESEG_NO_BF16=1: train --precision auto says it chose fp32; --precision bf16 is refused in one line", () => {
  const auto = train("auto");
  assert.match(auto.stderr, /precision: fp32 \(auto: bf16 switched off by NERVESEG_NO_BF16=1\)/);
  assert.notEqual(auto.status, 0, "(the data folder is missing)");
  const bf16 = train("bf16");
  assert.notEqual(bf16.status, 0);
  assert.match(
    bf16.stderr,
    /bf16 precision is switched off by NERVESEG_NO_BF16=1; use --precision fp32 or auto/,
  );
  assert.equal(bf16.stderr.trim().split("\n").length, 1, bf16.stderr);
});
