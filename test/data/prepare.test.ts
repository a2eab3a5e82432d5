import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { UserError } from "../../src/core/errors.js";
import { readManifest } from "../../src/data/manifest.js";
import { prepare, type PrepareOptions } from "../../src/data/prepare.js";
import { readTiff, writeTiff } from "../../src/io/tiff.js";
import { NpyRowReader, readNpy } from "../../src/io/npy.js";
import { needsSample, SAMPLE_DIR, tempDir } from "../helpers/sample.js";

const split = { kind: "stratified" as const, seed: 7, valFraction: 0.2 };

/** A tiny Kaggle-layout folder with distinct, known frames (16x12 so it is fast). */
function makeInput(frames: { id: string; mask: boolean }[], tests = 2): string {
  const dir = tempDir();
  fs.mkdirSync(path.join(dir, "train"));
  fs.mkdirSync(path.join(dir, "test"));
  frames.forEach(({ id, mask }, k) => {
    const data = new Uint8Array(16 * 12).map((_, i) => (i * 7 + k * 13) & 255);
    writeTiff(path.join(dir, "train", `${id}.tif`), { width: 16, height: 12, data });
    const m = new Uint8Array(16 * 12);
    if (mask) m.fill(255, 20, 20 + 5 + k);
    writeTiff(path.join(dir, "train", `${id}_mask.tif`), { width: 16, height: 12, data: m });
  });
  for (let t = 1; t <= tests; t++)
    writeTiff(path.join(dir, "test", `${t}.tif`), {
      width: 16,
      height: 12,
      data: new Uint8Array(192).fill(t),
    });
  return dir;
}

function run(input: string, out: string, extra: Partial<PrepareOptions> = {}) {
  return prepare({ input, out, split, skipBad: false, width: 16, height: 12, workers: 2, ...extra });
}

const FRAMES = [
  { id: "2_1", mask: true },
  { id: "1_10", mask: false },
  { id: "1_2", mask: true },
  { id: "1_1", mask: false },
  { id: "2_3", mask: false },
];

test("prepare writes frames in (subject, n) order with exact pixels, masks as 0/1 and areas", async () => {
  const input = makeInput(FRAMES);
  const out = tempDir();
  const m = await run(input, out);
  assert.deepEqual(m.train.ids, ["1_1", "1_2", "1_10", "2_1", "2_3"]);
  assert.deepEqual(m.train.groups, ["1", "1", "1", "2", "2"]);
  assert.deepEqual(readManifest(out), m);
  const images = new NpyRowReader(path.join(out, "train_images.npy"));
  const masks = new NpyRowReader(path.join(out, "train_masks.npy"));
  assert.deepEqual(images.header.shape, [5, 12, 16]);
  m.train.ids.forEach((id, i) => {
    assert.deepEqual(images.read(i), readTiff(path.join(input, "train", `${id}.tif`)).data);
    const mask = masks.read(i);
    const truth = readTiff(path.join(input, "train", `${id}_mask.tif`)).data;
    assert.deepEqual(
      mask,
      truth.map((v) => (v ? 1 : 0)),
    );
    assert.equal(m.train.maskArea[i], truth.filter((v) => v).length);
  });
  images.close();
  masks.close();
  const test = readNpy(path.join(out, "test_images.npy"));
  assert.deepEqual(test.header.shape, [2, 12, 16]);
  assert.deepEqual(m.test?.ids, ["1", "2"]);
  assert.equal(test.data[192], 2);
  assert.equal(m.stats.withMask, 2);
  assert.equal(m.stats.withoutMask, 3);
});

test("prepare is deterministic by seed and the split keeps both classes", async () => {
  const frames = Array.from({ length: 40 }, (_, i) => ({ id: `${1 + (i % 4)}_${i + 1}`, mask: i % 5 < 2 }));
  const input = makeInput(frames, 0);
  const a = await run(input, tempDir());
  const b = await run(input, tempDir());
  assert.deepEqual(a.split.val, b.split.val);
  const withMask = a.split.val.filter((i) => a.train.maskArea[i] > 0).length;
  assert.equal(withMask, Math.round(16 * 0.2));
  assert.equal(a.split.val.length - withMask, Math.round(24 * 0.2));
  const c = await run(input, tempDir(), { split: { ...split, seed: 8 } });
  assert.notDeepEqual(a.split.val, c.split.val);
  const s = await run(input, tempDir(), { split: { kind: "group", seed: 1, valFraction: 0.25 } });
  const valSubjects = new Set(s.split.val.map((i) => s.train.groups[i]));
  for (let i = 0; i < s.train.ids.length; i++)
    assert.equal(s.split.val.includes(i), valSubjects.has(s.train.groups[i]), "whole subjects only");
  assert.equal(s.split.val.length, 10);
});

async function rejects(p: Promise<unknown>, pattern: RegExp): Promise<void> {
  await assert.rejects(p, (e: unknown) => e instanceof UserError && pattern.test(e.message));
}

test("bad input names the file, and nothing is left in the output folder", async () => {
  const missing = makeInput(FRAMES);
  fs.rmSync(path.join(missing, "train", "1_2_mask.tif"));
  const out = tempDir();
  await rejects(run(missing, out), /1_2\.tif: missing mask 1_2_mask\.tif/);
  assert.deepEqual(fs.readdirSync(out), []);

  const oddName = makeInput(FRAMES);
  fs.writeFileSync(path.join(oddName, "train", "notes.txt"), "x");
  await rejects(run(oddName, out), /notes\.txt: unexpected file name/);

  const wrongSize = makeInput(FRAMES);
  writeTiff(path.join(wrongSize, "train", "2_3.tif"), { width: 8, height: 12, data: new Uint8Array(96) });
  await rejects(run(wrongSize, out), /2_3\.tif: size 8x12, expected 16x12/);

  const corrupt = makeInput(FRAMES);
  fs.writeFileSync(path.join(corrupt, "test", "2.tif"), "not a tiff at all");
  await rejects(run(corrupt, out), /2\.tif/);
  assert.deepEqual(fs.readdirSync(out), [], "no partial arrays or temp files");
});

test("an earlier prepared folder survives a failed run untouched", async () => {
  const out = tempDir();
  await run(makeInput(FRAMES), out);
  const before = fs.readFileSync(path.join(out, "manifest.json"), "utf8");
  const bad = makeInput(FRAMES);
  fs.writeFileSync(path.join(bad, "test", "1.tif"), "garbage");
  await assert.rejects(run(bad, out));
  assert.equal(fs.readFileSync(path.join(out, "manifest.json"), "utf8"), before);
  assert.deepEqual(fs.readdirSync(out).sort(), [
    "manifest.json",
    "test_images.npy",
    "train_images.npy",
    "train_masks.npy",
  ]);
});

test("--skip-bad lists what it skipped and keeps the rest", async () => {
  const input = makeInput(FRAMES);
  fs.rmSync(path.join(input, "train", "2_1_mask.tif"));
  fs.writeFileSync(path.join(input, "train", "1_10.tif"), "garbage");
  const m = await run(input, tempDir(), { skipBad: true });
  assert.deepEqual(m.train.ids, ["1_1", "1_2", "2_3"]);
  assert.deepEqual(
    m.skipped.map((s) => path.basename(s.file)),
    ["2_1.tif", "1_10.tif"],
  );
});

test(
  "prepare on the real sample: 50 + 50 frames, areas match train_masks.csv",
  { skip: needsSample },
  async () => {
    const out = tempDir();
    const m = await prepare({ input: SAMPLE_DIR, out, split, skipBad: false });
    assert.equal(m.train.ids.length, 50);
    assert.equal(m.test?.ids.length, 50);
    const csv = fs.readFileSync(path.join(SAMPLE_DIR, "train_masks.csv"), "utf8").trim().split("\n").slice(1);
    const areaFromRle = new Map<string, number>();
    for (const row of csv) {
      const [subject, img, pixels] = row.split(",");
      const nums = pixels.trim() ? pixels.trim().split(" ").map(Number) : [];
      let area = 0;
      for (let i = 1; i < nums.length; i += 2) area += nums[i];
      areaFromRle.set(`${subject}_${img}`, area);
    }
    m.train.ids.forEach((id, i) => assert.equal(m.train.maskArea[i], areaFromRle.get(id), id));
    assert.equal(fs.statSync(path.join(out, "train_images.npy")).size, 128 + 50 * 420 * 580);
  },
);
