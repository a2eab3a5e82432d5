import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { UserError } from "../../src/core/errors.js";
import { globRegExp, listImageInputs } from "../../src/data/inputs.js";
import { detectLayout, maskBase, scanLayout } from "../../src/data/layout.js";
import { prepare } from "../../src/data/prepare.js";
import { readManifest } from "../../src/data/manifest.js";
import { fitFrame, fitRect, unfitMap } from "../../src/data/resize.js";
import { assignFolds, chooseValidation, innerValidation } from "../../src/data/split.js";
import { NpyRowReader } from "../../src/io/npy.js";
import { frame, rectMask, writeGrey } from "../helpers/images.js";
import { tempDir } from "../helpers/sample.js";

const split = { kind: "group" as const, seed: 3, valFraction: 0.3 };

async function rejects(p: Promise<unknown>, pattern: RegExp): Promise<void> {
  await assert.rejects(
    p,
    (e: unknown) => e instanceof UserError && pattern.test(e.message) && !e.message.includes("\n"),
  );
}

test("mask names: the longest suffix wins, _k marks further masks of one image", () => {
  const s = ["_mask", "_seg", "_gt", "_label", "_Annotation"];
  assert.equal(maskBase("benign (1)_mask", s), "benign (1)");
  assert.equal(maskBase("benign (1)_mask_2", s), "benign (1)");
  assert.equal(maskBase("000_HC_Annotation", s), "000_HC");
  assert.equal(maskBase("case_7", s), null);
  assert.equal(maskBase("x_mask", ["_m", "_mask"]), "x");
});

test("globs: ** crosses folders, * and ? stay within a name, classes work", () => {
  assert.ok(globRegExp("a/**/*.png").test("a/b/c/d.png"));
  assert.ok(globRegExp("a/**/*.png").test("a/d.png"));
  assert.ok(!globRegExp("a/*.png").test("a/b/d.png"));
  assert.ok(globRegExp("scan?.dcm").test("scan7.dcm"));
  assert.ok(globRegExp("x[0-9].jpg").test("x4.jpg") && !globRegExp("x[0-9].jpg").test("xa.jpg"));
});

test("folders layout: PNG images + GIF masks by stem, numbered subfolders as groups (not labels), odd names", async () => {
  const dir = tempDir();
  const names = ["p1/é 1", "p1/scan (2)", "p2/a,b 3", "p2/x_4"];
  for (const [k, n] of names.entries()) {
    await writeGrey(path.join(dir, "images", `${n}.png`), 20, 16, frame(20, 16, k));
    await writeGrey(
      path.join(dir, "masks", `${n}${k % 2 ? "_mask" : ""}.gif`),
      20,
      16,
      rectMask(20, 16, 2, 2, 5 + k, 6),
    );
  }
  assert.equal(detectLayout(dir), "folders");
  const s = scanLayout(dir);
  assert.deepEqual(
    s.train.map((e) => e.id),
    names,
  );
  assert.deepEqual(
    s.train.map((e) => e.group),
    ["p1", "p1", "p2", "p2"],
  );
  assert.equal(s.groupRule, "subfolder");
  assert.equal(s.problems.length, 0);
  const out = tempDir();
  const m = await prepare({ input: dir, out, split, skipBad: false, workers: 1 });
  // p1 and p2 are patients (numbered, few images): groups, not class labels.
  assert.deepEqual(m.train.labels, [null, null, null, null]);
  assert.deepEqual(m.train.maskArea, [12, 16, 20, 24]);
  assert.equal(m.train.files[2], path.join("images", "p2", "a,b 3.png"));
  assert.deepEqual(readManifest(out), m);
  // Exact pixels: the stored frame is the PNG's grey values.
  const images = new NpyRowReader(path.join(out, "train_images.npy"));
  assert.deepEqual(images.read(1), frame(20, 16, 1));
  images.close();
});

test("side by side in class folders: several masks of one image are merged by union", async () => {
  const dir = tempDir();
  await writeGrey(path.join(dir, "benign", "benign (1).png"), 12, 10, frame(12, 10, 1));
  await writeGrey(path.join(dir, "benign", "benign (1)_mask.png"), 12, 10, rectMask(12, 10, 0, 0, 2, 2));
  await writeGrey(path.join(dir, "benign", "benign (1)_mask_1.png"), 12, 10, rectMask(12, 10, 5, 5, 8, 8));
  await writeGrey(path.join(dir, "normal", "normal (1).png"), 12, 10, frame(12, 10, 2));
  await writeGrey(path.join(dir, "normal", "normal (1)_mask.png"), 12, 10, new Uint8Array(120));
  assert.equal(detectLayout(dir), "side-by-side");
  const out = tempDir();
  const m = await prepare({
    input: dir,
    out,
    split: { ...split, kind: "stratified" },
    skipBad: false,
    workers: 1,
  });
  assert.deepEqual(m.train.ids, ["benign/benign (1)", "normal/normal (1)"]);
  assert.deepEqual(m.train.maskArea, [4 + 9, 0]);
  assert.deepEqual(m.train.groups, ["benign", "normal"]);
  const masks = new NpyRowReader(path.join(out, "train_masks.npy"));
  const union = masks.read(0);
  assert.equal(union[0] + union[5 * 12 + 5], 2);
  masks.close();
});

test("CSV layout: quoted paths, a group column, several rows per image, an empty mask cell", async () => {
  const dir = tempDir();
  await writeGrey(path.join(dir, "im", "a, 1.png"), 8, 8, frame(8, 8, 1));
  await writeGrey(path.join(dir, "im", "b.png"), 8, 8, frame(8, 8, 2));
  await writeGrey(path.join(dir, "gt", "a1.png"), 8, 8, rectMask(8, 8, 0, 0, 2, 2));
  await writeGrey(path.join(dir, "gt", "a2.png"), 8, 8, rectMask(8, 8, 4, 4, 6, 6));
  const csv = path.join(dir, "list.csv");
  fs.writeFileSync(
    csv,
    'image,mask,group\n"im/a, 1.png",gt/a1.png,P7\n"im/a, 1.png",gt/a2.png,P7\nim/b.png,,P8\n',
  );
  const out = tempDir();
  const m = await prepare({ input: csv, out, split, skipBad: false, workers: 1 });
  assert.equal(m.layout, "csv");
  assert.deepEqual(m.train.ids, ["im/a, 1", "im/b"]);
  assert.deepEqual(m.train.groups, ["P7", "P8"]);
  assert.deepEqual(m.train.maskArea, [8, 0]);
});

test("CSV layout: 100,000 repeated rows are read once and said once, in a second, not minutes", async () => {
  const dir = tempDir();
  await writeGrey(path.join(dir, "a.png"), 8, 8, frame(8, 8, 1));
  await writeGrey(path.join(dir, "a_gt.png"), 8, 8, rectMask(8, 8, 0, 0, 2, 2));
  const csv = path.join(dir, "list.csv");
  fs.writeFileSync(csv, "image,mask\n" + "a.png,a_gt.png\n".repeat(100_000));
  const t0 = Date.now();
  const scan = scanLayout(csv);
  assert.equal(scan.train.length, 1);
  assert.deepEqual(scan.train[0].masks, [path.join(dir, "a_gt.png")]);
  assert.ok(
    scan.warnings.some(
      (w) => w === `${csv}: 99999 repeated row(s) (the same image and mask, first at line 3) read once`,
    ),
    scan.warnings.join("\n"),
  );
  const m = await prepare({ input: csv, out: tempDir(), split, skipBad: false, workers: 1 });
  assert.deepEqual(m.train.maskArea, [4]);
  assert.ok(Date.now() - t0 < 10_000, `${Date.now() - t0} ms`);
});

test("groups: leading digits of the name, or --group-pattern; otherwise each image alone (said so)", async () => {
  const dir = tempDir();
  for (const id of ["12_1", "12_2", "7_1"]) {
    await writeGrey(path.join(dir, "images", `${id}.png`), 8, 8, frame(8, 8, id.length));
    await writeGrey(path.join(dir, "masks", `${id}_mask.png`), 8, 8, rectMask(8, 8, 1, 1, 3, 3));
  }
  assert.deepEqual(
    scanLayout(dir).train.map((e) => e.group),
    ["7", "12", "12"],
  );
  assert.deepEqual(
    scanLayout(dir, { groupPattern: "_(\\d)$" }).train.map((e) => e.group),
    ["1", "1", "2"],
  );
  assert.throws(() => scanLayout(dir, { groupPattern: "^x(\\d)" }), /does not match its id/);
  fs.renameSync(path.join(dir, "images", "7_1.png"), path.join(dir, "images", "seven.png"));
  fs.renameSync(path.join(dir, "masks", "7_1_mask.png"), path.join(dir, "masks", "seven_mask.png"));
  const s = scanLayout(dir);
  assert.match(s.groupRule, /every image is its own group/);
});

test("problems are named file by file: unpaired files, a mask of another size, a photo as mask", async () => {
  const dir = tempDir();
  await writeGrey(path.join(dir, "images", "a.png"), 8, 8, frame(8, 8, 1));
  await writeGrey(path.join(dir, "masks", "a_mask.png"), 8, 8, rectMask(8, 8, 1, 1, 3, 3));
  await writeGrey(path.join(dir, "images", "lonely.png"), 8, 8, frame(8, 8, 2));
  await writeGrey(path.join(dir, "masks", "orphan_mask.png"), 8, 8, rectMask(8, 8, 1, 1, 3, 3));
  const s = scanLayout(dir);
  assert.deepEqual(
    s.problems.map((p) => [path.basename(p.file), p.reason.split(" ")[0]]),
    [
      ["lonely.png", "no"],
      ["orphan_mask.png", "mask"],
    ],
  );
  const out = tempDir();
  await rejects(
    prepare({ input: dir, out, split, skipBad: false, workers: 1 }),
    /lonely\.png: no mask for it/,
  );
  assert.deepEqual(fs.readdirSync(out), []);
  const m = await prepare({
    input: dir,
    out,
    split: { ...split, kind: "stratified" },
    skipBad: true,
    workers: 1,
  });
  assert.deepEqual(m.train.ids, ["a"]);
  assert.equal(m.skipped.length, 2);

  const sized = tempDir();
  await writeGrey(path.join(sized, "images", "a.png"), 8, 8, frame(8, 8, 1));
  await writeGrey(path.join(sized, "masks", "a.png"), 6, 8, new Uint8Array(48));
  await rejects(
    prepare({ input: sized, out: tempDir(), split, skipBad: false, workers: 1 }),
    /a\.png: mask is 6x8, its image .*a\.png is 8x8/,
  );

  const photo = tempDir();
  await writeGrey(path.join(photo, "images", "a.png"), 32, 32, frame(32, 32, 1));
  await writeGrey(path.join(photo, "masks", "a.png"), 32, 32, frame(32, 32, 5));
  await rejects(
    prepare({ input: photo, out: tempDir(), split, skipBad: false, workers: 1 }),
    /masks[/\\]a\.png: does not look like a mask/,
  );
});

test("mixed sizes and formats: stored at the first image's size, each own size kept", async () => {
  const dir = tempDir();
  await writeGrey(path.join(dir, "images", "1_a.png"), 40, 30, frame(40, 30, 1));
  await writeGrey(path.join(dir, "masks", "1_a.png"), 40, 30, rectMask(40, 30, 0, 0, 20, 30));
  await writeGrey(path.join(dir, "images", "2_b.jpg"), 20, 20, frame(20, 20, 2));
  await writeGrey(path.join(dir, "masks", "2_b.jpg"), 20, 20, rectMask(20, 20, 0, 0, 10, 20));
  await writeGrey(path.join(dir, "images", "3_c.tif"), 80, 30, frame(80, 30, 3));
  await writeGrey(path.join(dir, "masks", "3_c.gif"), 80, 30, rectMask(80, 30, 0, 0, 40, 30));
  const m = await prepare({
    input: dir,
    out: tempDir(),
    split: { ...split, kind: "stratified" },
    skipBad: false,
    workers: 2,
  });
  assert.deepEqual([m.width, m.height], [40, 30]);
  assert.deepEqual(m.train.sizes, [
    [40, 30],
    [20, 20],
    [80, 30],
  ]);
  // Each mask covers the left half of its image, so of the working frame too (JPEG edges allowed ±1 column).
  for (const a of m.train.maskArea) assert.ok(Math.abs(a - 600) <= 30, `area ${a}`);
});

test("letterbox keeps the aspect, centred; unfitMap takes the frame back out", () => {
  assert.deepEqual(fitRect(580, 420, 80, 64, "stretch"), { x: 0, y: 0, width: 80, height: 64 });
  assert.deepEqual(fitRect(300, 300, 80, 64, "letterbox"), { x: 8, y: 0, width: 64, height: 64 });
  assert.deepEqual(fitRect(200, 50, 80, 64, "letterbox"), { x: 0, y: 22, width: 80, height: 20 });
  const src = new Uint8Array(4 * 4).fill(200);
  const out = fitFrame(src, 4, 4, { width: 4, height: 4 }, 8, 4, "letterbox", "image");
  assert.deepEqual(
    [...out],
    [
      0, 0, 200, 200, 200, 200, 0, 0, 0, 0, 200, 200, 200, 200, 0, 0, 0, 0, 200, 200, 200, 200, 0, 0, 0, 0,
      200, 200, 200, 200, 0, 0,
    ],
  );
  const back = unfitMap(Float32Array.from(out), 8, 4, fitRect(4, 4, 8, 4, "letterbox"));
  assert.deepEqual([...back], new Array(16).fill(200));
  // A frame stored stretched to the working size is letterboxed to its own aspect.
  const stretched = fitFrame(
    new Uint8Array(8 * 4).fill(9),
    8,
    4,
    { width: 4, height: 4 },
    8,
    4,
    "letterbox",
    "mask",
  );
  assert.deepEqual([...stretched.subarray(0, 8)], [0, 0, 1, 1, 1, 1, 0, 0]);
});

test("group split and folds: no group on both sides, folds balanced and deterministic", () => {
  const groups: string[] = [];
  for (let g = 0; g < 23; g++) for (let k = 0; k < 3 + ((g * 7) % 11); k++) groups.push(`s${g}`);
  const has = groups.map((_, i) => i % 3 === 0);
  const val = new Set(chooseValidation(has, groups, { kind: "group", seed: 5, valFraction: 0.2 }));
  const valGroups = new Set([...val].map((i) => groups[i]));
  groups.forEach((g, i) => assert.equal(val.has(i), valGroups.has(g), `group ${g} split`));
  const folds = assignFolds(groups, 5, 1);
  assert.deepEqual(assignFolds(groups, 5, 1), folds);
  const byGroup = new Map<string, Set<number>>();
  groups.forEach((g, i) => byGroup.set(g, (byGroup.get(g) ?? new Set()).add(folds[i])));
  for (const [g, f] of byGroup) assert.equal(f.size, 1, `group ${g} in one fold`);
  const sizes = [0, 1, 2, 3, 4].map((f) => folds.filter((x) => x === f).length);
  assert.ok(Math.max(...sizes) - Math.min(...sizes) <= 13, `fold sizes ${sizes}`);
  assert.throws(() => assignFolds(["a", "a", "b"], 3, 1), /3 folds need at least 3 groups/);
  // Inner validation: whole groups of the other folds, never of the held-out one; and it needs two groups.
  for (let f = 0; f < 5; f++) {
    const inner = innerValidation(groups, folds, f, "d");
    const innerGroups = new Set(inner.map((i) => groups[i]));
    assert.ok(inner.length > 0 && inner.every((i) => folds[i] !== f));
    groups.forEach((g, i) => assert.equal(inner.includes(i), innerGroups.has(g) && folds[i] !== f));
  }
  assert.throws(
    () => innerValidation(["a", "b"], [0, 1], 0, "d"),
    /d: inner validation needs at least 2 groups/,
  );
});

test("predict inputs: files, folders (mask files left out), globs; clashing ids are refused", async () => {
  const dir = tempDir();
  await writeGrey(path.join(dir, "scans", "a.png"), 8, 8, frame(8, 8, 1));
  await writeGrey(path.join(dir, "scans", "a_mask.png"), 8, 8, new Uint8Array(64));
  await writeGrey(path.join(dir, "scans", "deep", "b.png"), 8, 8, frame(8, 8, 2));
  await writeGrey(path.join(dir, "c.jpg"), 8, 8, frame(8, 8, 3));
  const r = listImageInputs([path.join(dir, "scans"), path.join(dir, "*.jpg")]);
  assert.deepEqual(
    r.files.map((f) => f.id),
    ["a", "deep/b", "c"],
  );
  assert.equal(r.maskFilesLeftOut, 1);
  assert.throws(() => listImageInputs([path.join(dir, "nope.png")]), /nope\.png: not found/);
  await writeGrey(path.join(dir, "other", "a.png"), 8, 8, frame(8, 8, 4));
  assert.throws(
    () => listImageInputs([path.join(dir, "scans", "a.png"), path.join(dir, "other", "a.png")]),
    /other[/\\]a\.png: has the same id "a" as .*scans[/\\]a\.png/,
  );
});
