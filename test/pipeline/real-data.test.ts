import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { readManifest } from "../../src/data/manifest.js";
import { DDTI_DIR, NERVE_REAL_DIR, needsData, PROJECT_ROOT, tempDir } from "../helpers/sample.js";

/*
 * prepare → train (a short run of a tiny net) → predict → evaluate on the real sets in ../shared exactly
 * as they lie (no renaming, no conversion), split by group (subject / case), through the CLI a user runs.
 * This checks the plumbing on real files, not the quality (see docs/real-data.md for that).
 */
const CLI = path.join(PROJECT_ROOT, "dist", "src", "cli", "main.js");

function run(args: string[]): string {
  const quiet = args[0] === "evaluate" ? [] : ["--quiet"];
  const r = spawnSync("node", [CLI, ...args, ...quiet], { encoding: "utf8" });
  assert.equal(r.status, 0, `nerveseg ${args.join(" ")}\n${r.stderr}`);
  return r.stdout;
}

function tinyPreset(dir: string, fit: "stretch" | "letterbox"): string {
  const file = path.join(dir, "tiny.json");
  fs.writeFileSync(
    file,
    JSON.stringify({
      model: { inputHeight: 32, inputWidth: 32, filters: [4, 8, 16], fit },
      train: {
        epochs: 1,
        batch: 16,
        augment: { flipX: true, flipY: false, rotate: 0, translate: 0, elastic: null },
      },
    }),
  );
  return file;
}

for (const { name, dir, images, groups, fit, glob } of [
  {
    name: "nerve-real",
    dir: NERVE_REAL_DIR,
    images: 1643,
    groups: 35,
    fit: "stretch" as const,
    glob: "images/3_*.jpg",
  },
  {
    name: "ddti-thyroid",
    dir: DDTI_DIR,
    images: 655,
    groups: 380,
    fit: "letterbox" as const,
    glob: "cropped/10*.png",
  },
])
  test(
    `${name} as it lies: prepare (group split, 5 folds) → train → predict → evaluate`,
    { skip: needsData(dir) },
    () => {
      const work = tempDir();
      const prepared = path.join(work, "prepared");
      const p = run([
        "prepare",
        "--input",
        dir,
        "--out",
        prepared,
        "--split",
        "group",
        "--folds",
        "5",
        "--seed",
        "1",
      ]);
      assert.match(p, new RegExp(`prepared ${images} training and 0 test frames \\(folders layout\\)`));
      assert.match(p, new RegExp(`groups: ${groups} by leading digits`));
      const m = readManifest(prepared);
      const val = new Set(m.split.val);
      const valGroups = new Set([...val].map((i) => m.train.groups[i]));
      m.train.groups.forEach((g, i) => assert.equal(val.has(i), valGroups.has(g), `group ${g} on one side`));
      assert.equal(new Set(m.split.folds!.of).size, 5);

      const model = path.join(work, "model");
      run(["train", "--data", prepared, "--preset", tinyPreset(work, fit), "--out", model, "--threads", "2"]);
      const out = path.join(work, "pred");
      const predicted = run(["predict", "--model", model, path.join(dir, glob), "--out", out]);
      const n = Number(/predicted (\d+) image/.exec(predicted)![1]);
      assert.ok(n > 5, predicted);
      const e = run(["evaluate", "--truth", dir, "--pred", out, "--subset", "--json"]);
      const s = JSON.parse(e) as { images: number; dice: number; iou: number; kaggle: number };
      assert.equal(s.images, n);
      for (const v of [s.dice, s.iou, s.kaggle]) assert.ok(v >= 0 && v <= 1, e);
      // The mask folder alone scores the same as the CSV.
      const fromMasks = JSON.parse(
        run(["evaluate", "--truth", dir, "--pred", path.join(out, "masks"), "--subset", "--json"]),
      ) as { dice: number };
      assert.equal(fromMasks.dice, s.dice);
    },
  );
