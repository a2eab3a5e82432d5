// Layouts and labels as a new user's public sets have them (issue 22): nested class folders (BUSI), class
// folders as labels rather than groups, --group-by, split warnings, label maps, held-out test/ folders.
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { UserError } from "../../src/core/errors.js";
import { detectLayout, scanLayout } from "../../src/data/layout.js";
import { readManifest } from "../../src/data/manifest.js";
import { prepare } from "../../src/data/prepare.js";
import { chooseValidation } from "../../src/data/split.js";
import { NpyRowReader } from "../../src/io/npy.js";
import { encodeGreyPng } from "../../src/io/png.js";
import { frame, rectMask, writeGrey } from "../helpers/images.js";
import { needsData, PROJECT_ROOT, tempDir } from "../helpers/sample.js";

const USGRA_DIR = path.resolve(PROJECT_ROOT, "..", "shared", "data", "usgra-nerve-vessel");
const stratified = { kind: "stratified" as const, seed: 3, valFraction: 0.2 };
const S = 8; // fixture frames are 8x8

/** An empty file: enough for the layout scan, which looks at names only. */
function touch(file: string): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, "");
}

async function rejects(p: Promise<unknown>, pattern: RegExp): Promise<void> {
  await assert.rejects(
    p,
    (e: unknown) => e instanceof UserError && pattern.test(e.message) && !e.message.includes("\n"),
  );
}

/** BUSI's classes: benign and malignant have a target, normal none; sizes at the label threshold and above. */
const CLASSES = [
  { name: "benign", n: 24, target: true },
  { name: "malignant", n: 21, target: true },
  { name: "normal", n: 20, target: false },
];

/**
 * Dataset_BUSI_with_GT as published, `<class>/images/<class> (k).png` + `<class>/<maskDir>/<class> (k)_mask.png`,
 * the first benign image with a second mask `_mask_1`; or flat, `<class>/<class> (k).png` with its masks beside.
 */
async function writeBusi(root: string, shape: "nested" | "flat", maskDir = "mask"): Promise<void> {
  let seed = 0;
  for (const c of CLASSES)
    for (let k = 1; k <= c.n; k++) {
      const stem = `${c.name} (${k})`;
      const image =
        shape === "nested"
          ? path.join(root, c.name, "images", `${stem}.png`)
          : path.join(root, c.name, `${stem}.png`);
      const maskAt = (suffix: string): string =>
        shape === "nested"
          ? path.join(root, c.name, maskDir, `${stem}${suffix}.png`)
          : path.join(root, c.name, `${stem}${suffix}.png`);
      await writeGrey(image, S, S, frame(S, S, seed++));
      await writeGrey(
        maskAt("_mask"),
        S,
        S,
        c.target ? rectMask(S, S, 0, 0, 2, 1 + (k % 3)) : new Uint8Array(S * S),
      );
      if (c.name === "benign" && k === 1)
        await writeGrey(maskAt("_mask_1"), S, S, rectMask(S, S, 5, 5, 8, 8));
    }
}

test("BUSI as published: images/ + mask/ in every class folder at any depth, extra masks merged, classes are labels", async () => {
  const dir = tempDir();
  const root = path.join(dir, "Dataset_BUSI_with_GT");
  await writeBusi(root, "nested");
  assert.equal(detectLayout(dir), "folders");
  const s = scanLayout(dir);
  assert.equal(s.root, root);
  assert.deepEqual(s.problems, []);
  assert.equal(s.train.length, 65);
  const first = s.train.find((e) => e.id === path.join("benign", "images", "benign (1)"))!;
  assert.deepEqual(first.masks.map((f) => path.basename(f)).sort(), [
    "benign (1)_mask.png",
    "benign (1)_mask_1.png",
  ]);
  assert.deepEqual([...new Set(s.train.map((e) => e.label))], ["benign", "malignant", "normal"]);
  // Classes are not patients: no patient in the names, so every frame is its own group, and it is said.
  assert.ok(s.train.every((e) => e.group === e.id));
  assert.ok(
    s.warnings.some((w) => /^no patient in the names: frames of one patient may sit on both sides/.test(w)),
  );

  const out = tempDir();
  const m = await prepare({ input: dir, out, split: stratified, skipBad: false, workers: 2 });
  const i = m.train.ids.indexOf(first.id);
  assert.equal(m.train.maskArea[i], 2 * 2 + 3 * 3, "both masks of benign (1), merged by union");
  const masks = new NpyRowReader(path.join(out, "train_masks.npy"));
  const union = masks.read(i);
  assert.equal(union[0] + union[7 * S + 7], 2);
  masks.close();
  assert.equal(m.train.maskArea.filter((a, j) => a > 0 && m.train.labels[j] === "normal").length, 0);
  assert.equal(m.train.files[i], path.join("Dataset_BUSI_with_GT", "benign", "images", "benign (1).png"));

  // masks/ instead of mask/; and the inner folder names as flags (they name folders at any depth).
  for (const c of CLASSES) fs.renameSync(path.join(root, c.name, "mask"), path.join(root, c.name, "masks"));
  assert.equal(scanLayout(dir).train.length, 65);
  const named = scanLayout(dir, { layout: "folders", imagesDir: "images", masksDir: "masks" });
  assert.deepEqual(
    named.train.map((e) => e.id),
    s.train.map((e) => e.id),
  );
  assert.equal(scanLayout(root, { imagesDir: "images" }).train.length, 65);
  assert.throws(
    () => scanLayout(dir, { imagesDir: "scans", masksDir: "masks" }),
    /no folder named scans with a folder named masks beside it, at any depth/,
  );
});

test("BUSI flat: <class>/X.png beside X_mask.png and X_mask_1.png; classes are labels, not groups", async () => {
  const dir = tempDir();
  await writeBusi(dir, "flat");
  assert.equal(detectLayout(dir), "side-by-side");
  const m = await prepare({ input: dir, out: tempDir(), split: stratified, skipBad: false, workers: 2 });
  assert.equal(m.train.ids.length, 65);
  const i = m.train.ids.indexOf(path.join("benign", "benign (1)"));
  assert.equal(m.train.maskArea[i], 2 * 2 + 3 * 3);
  assert.deepEqual([...new Set(m.train.labels)], ["benign", "malignant", "normal"]);
  assert.deepEqual(m.train.groups, m.train.ids);
  assert.match(m.groupRule, /every image is its own group/);
  assert.ok(m.warnings?.some((w) => w.startsWith("no patient in the names")));
});

test("label folders stratify the split (label x target) and are not groups, for both split kinds", async () => {
  const dir = tempDir();
  await writeBusi(dir, "flat");
  for (const seed of [1, 2]) {
    const m = await prepare({
      input: dir,
      out: tempDir(),
      split: { ...stratified, seed },
      skipBad: false,
      workers: 2,
    });
    const inVal = (label: string) => m.split.val.filter((i) => m.train.labels[i] === label).length;
    assert.deepEqual(
      CLASSES.map((c) => inVal(c.name)),
      CLASSES.map((c) => Math.round(c.n * 0.2)),
      `seed ${seed}`,
    );
    const g = await prepare({
      input: dir,
      out: tempDir(),
      split: { kind: "group", seed, valFraction: 0.2 },
      skipBad: false,
      workers: 2,
    });
    const valLabels = new Set(g.split.val.map((i) => g.train.labels[i]));
    assert.deepEqual([...valLabels].sort(), ["benign", "malignant", "normal"], "every class on both sides");
    assert.ok(g.split.val.length < g.train.ids.length / 3);
    assert.deepEqual(
      g.warnings?.filter((w) => /side holds|side is empty|^fold/.test(w)),
      [],
    );
  }
});

test("split with labels: each label x target stratum gives its share; without labels the split is as before", () => {
  const labels: string[] = [];
  const has: boolean[] = [];
  for (const [label, n, withTarget] of [
    ["a", 40, 30],
    ["b", 30, 0],
    ["c", 10, 10],
  ] as const)
    for (let k = 0; k < n; k++) {
      labels.push(label);
      has.push(k < withTarget);
    }
  const ids = labels.map((_, i) => `f${i}`);
  for (const seed of [1, 2, 3, 4]) {
    const spec = { kind: "stratified" as const, seed, valFraction: 0.2 };
    const val = chooseValidation(has, ids, spec, labels);
    const count = (l: string, t: boolean) => val.filter((i) => labels[i] === l && has[i] === t).length;
    assert.deepEqual(
      [count("a", true), count("a", false), count("b", false), count("c", true)],
      [6, 2, 6, 2],
    );
    // Whole groups: patients of 2 frames, each stratum near its share.
    const groups = ids.map((_, i) => `p${i >> 1}`);
    const gv = chooseValidation(has, groups, { ...spec, kind: "group" }, labels);
    for (const l of ["a", "b", "c"])
      assert.ok(
        gv.some((i) => labels[i] === l),
        `seed ${seed}: ${l} held out`,
      );
    gv.forEach((i) => assert.ok(gv.includes(i ^ 1), "whole groups"));
    // All-null labels change nothing.
    assert.deepEqual(
      chooseValidation(
        has,
        groups,
        { ...spec, kind: "group" },
        labels.map(() => null),
      ),
      chooseValidation(has, groups, { ...spec, kind: "group" }),
    );
  }
});

/** Two class folders of 20 frames whose names carry a patient (`<p>_<k>`), patients shared across classes. */
function touchNamedClasses(dir: string): void {
  for (const c of ["benign", "malignant"])
    for (let k = 0; k < 20; k++) {
      touch(path.join(dir, c, `${1 + (k % 5)}_${k}.png`));
      touch(path.join(dir, c, `${1 + (k % 5)}_${k}_mask.png`));
    }
}

test("--group-by auto, folder, name, none, and --group-pattern", () => {
  const dir = tempDir();
  touchNamedClasses(dir);
  const groups = (o: Parameters<typeof scanLayout>[1]) =>
    new Set(scanLayout(dir, o).train.map((e) => e.group));
  const auto = scanLayout(dir);
  assert.deepEqual([...new Set(auto.train.map((e) => e.label))], ["benign", "malignant"]);
  assert.deepEqual([...groups({})].sort(), ["1", "2", "3", "4", "5"]);
  assert.match(auto.groupRule, /leading digits/);
  assert.deepEqual(auto.warnings, []);
  assert.deepEqual([...groups({ groupBy: "name" })].sort(), ["1", "2", "3", "4", "5"]);
  assert.equal(groups({ groupBy: "none" }).size, 40);
  const byFolder = scanLayout(dir, { groupBy: "folder" });
  assert.deepEqual([...new Set(byFolder.train.map((e) => e.group))], ["benign", "malignant"]);
  assert.ok(byFolder.warnings.some((w) => /^the groups are the labels \(benign, malignant\)/.test(w)));
  assert.equal(groups({ groupPattern: "_(\\d+)$" }).size, 20);
  assert.equal(groups({ groupBy: "name", groupPattern: "(\\d)_\\d+$" }).size, 5);
  assert.throws(
    () => scanLayout(dir, { groupBy: "none", groupPattern: "(x)" }),
    /cannot go with --group-by none/,
  );

  // Patient folders (numbered): groups under auto; labels none.
  const patients = tempDir();
  for (const p of ["p1", "p2", "p3"])
    for (let k = 0; k < 3; k++) {
      touch(path.join(patients, p, `scan${k}.png`));
      touch(path.join(patients, p, `scan${k}_mask.png`));
    }
  const pa = scanLayout(patients);
  assert.equal(pa.groupRule, "subfolder");
  assert.ok(pa.train.every((e) => e.label === null && e.group === e.folder));
  assert.throws(
    () => scanLayout(patients, { groupBy: "name" }),
    /scan0\.png: --group-by name: its name "scan0" carries no patient part/,
  );
  assert.equal(new Set(scanLayout(patients, { groupBy: "none" }).train.map((e) => e.group)).size, 9);

  // No subfolders: --group-by folder names the image.
  const flat = tempDir();
  touch(path.join(flat, "a.png"));
  touch(path.join(flat, "a_mask.png"));
  assert.throws(
    () => scanLayout(flat, { groupBy: "folder" }),
    /a\.png: --group-by folder: this image is in no subfolder/,
  );

  // One patient per folder (the names say so) makes the folder that patient; a folder every image shares
  // is neither label nor group.
  const shared = tempDir();
  for (let k = 0; k < 20; k++)
    for (const [folder, p] of [
      ["anna", 7],
      ["bert", 8],
    ] as const) {
      touch(path.join(shared, folder, `${p}_${k}.png`));
      touch(path.join(shared, folder, `${p}_${k}_mask.png`));
    }
  const onePatient = scanLayout(shared);
  assert.equal(onePatient.groupRule, "subfolder");
  assert.ok(onePatient.train.every((e) => e.label === null));
  fs.rmSync(path.join(shared, "bert"), { recursive: true });
  const one = scanLayout(shared);
  assert.ok(one.train.every((e) => e.folder === null && e.label === null && e.group === "7"));
  assert.match(one.groupRule, /leading digits/);
});

test("warnings: a group split with a target-less side, folds without targets, groups that are the labels", async () => {
  const dir = tempDir();
  for (let p = 1; p <= 4; p++)
    for (let k = 0; k < 5; k++) {
      await writeGrey(path.join(dir, "images", `${p}_${k}.png`), S, S, frame(S, S, p * 10 + k));
      await writeGrey(
        path.join(dir, "masks", `${p}_${k}.png`),
        S,
        S,
        p === 1 ? rectMask(S, S, 0, 0, 3, 3) : new Uint8Array(S * S),
      );
    }
  const out = tempDir();
  const m = await prepare({
    input: dir,
    out,
    split: { kind: "group", seed: 1, valFraction: 0.25, folds: 2 },
    skipBad: false,
    workers: 1,
  });
  assert.equal(m.split.val.length, 5);
  const sides = m.warnings!.filter((w) => /side holds no frame with a target/.test(w));
  assert.equal(sides.length, 1, m.warnings!.join("\n"));
  assert.match(sides[0], /^the (validation|training) side holds no frame with a target .*another --seed/);
  assert.ok(m.warnings!.some((w) => /^fold [01] holds no frame with a target/.test(w)));
  assert.deepEqual(readManifest(out).warnings, m.warnings);

  // Class folders forced to be the groups.
  const busi = tempDir();
  await writeBusi(busi, "flat");
  const f = await prepare({
    input: busi,
    out: tempDir(),
    split: { kind: "group", seed: 1, valFraction: 0.2 },
    layout: { groupBy: "folder" },
    skipBad: false,
    workers: 2,
  });
  assert.ok(f.warnings!.some((w) => w.startsWith("the groups are the labels (benign, malignant, normal)")));
  assert.ok(
    f.warnings!.some((w) => w.startsWith("the validation side is empty")),
    f.warnings!.join("\n"),
  );
});

/** An 8-bit grey PNG exactly (sharp writes grey as RGB, which holds no label values). */
function writeGreyPng(file: string, data: Uint8Array): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, encodeGreyPng({ width: S, height: S, data }));
}

/** Label-map masks (8-bit grey: 0 background, 1 and 2 two structures) and their images. */
async function writeLabelMaps(dir: string): Promise<void> {
  for (let k = 0; k < 6; k++) {
    await writeGrey(path.join(dir, "images", `${k}.png`), S, S, frame(S, S, k));
    const m = new Uint8Array(S * S);
    m.fill(1, 0, 8); // the first row: label 1 in every mask
    if (k < 4) m.fill(2, 16, 32); // rows 2 and 3: label 2 in four
    writeGreyPng(path.join(dir, "masks", `${k}.png`), m);
  }
}

test("label maps: several labels warned with their frame counts; --mask-label N picks, or lists the labels", async () => {
  const dir = tempDir();
  await writeLabelMaps(dir);
  const run = (maskLabel?: number, out = tempDir()) =>
    prepare({ input: dir, out, split: stratified, skipBad: false, maskLabel, workers: 1 });
  const binary = await run();
  assert.deepEqual(binary.maskValues, [
    { value: 1, frames: 6 },
    { value: 2, frames: 4 },
  ]);
  assert.deepEqual(
    binary.warnings!.filter((w) => w.startsWith("masks hold")),
    [
      "masks hold several labels: 1 (6 frames), 2 (4 frames); merged into one foreground — pick one with --mask-label N",
    ],
  );
  assert.deepEqual(binary.train.maskArea, [24, 24, 24, 24, 8, 8]);
  const two = await run(2);
  assert.deepEqual(two.train.maskArea, [16, 16, 16, 16, 0, 0]);
  assert.ok(!two.warnings!.some((w) => w.startsWith("masks hold")));
  const out = tempDir();
  await rejects(
    run(3, out),
    /--mask-label 3: no mask holds it; the masks hold 1 \(6 frames\), 2 \(4 frames\)$/,
  );
  assert.deepEqual(fs.readdirSync(out), [], "nothing written");

  // A label map of more labels than a binary mask may show levels: the picked one is still found.
  const many = tempDir();
  for (let k = 0; k < 2; k++) {
    await writeGrey(path.join(many, "images", `${k}.png`), S, S, frame(S, S, k));
    writeGreyPng(
      path.join(many, "masks", `${k}.png`),
      new Uint8Array(S * S).map((_, i) => (i < 40 ? (i >> 1) + 1 : 0)),
    );
  }
  const picked = await prepare({
    input: many,
    out: tempDir(),
    split: stratified,
    skipBad: false,
    maskLabel: 18,
    workers: 1,
  });
  assert.deepEqual(picked.train.maskArea, [2, 2]);
  assert.equal(picked.maskValues?.length, 20);

  // Plain 0/255 masks hold one value: no warning.
  const plain = tempDir();
  for (let k = 0; k < 3; k++) {
    await writeGrey(path.join(plain, "images", `${k}.png`), S, S, frame(S, S, k));
    writeGreyPng(path.join(plain, "masks", `${k}.png`), rectMask(S, S, 0, 0, 2, 2));
  }
  const p = await prepare({ input: plain, out: tempDir(), split: stratified, skipBad: false, workers: 1 });
  assert.deepEqual(p.maskValues, [{ value: 255, frames: 3 }]);
  assert.ok(!p.warnings!.some((w) => w.startsWith("masks hold")));
});

test("a labelled test/ or val/ folder beside the training folders is set apart and named", async () => {
  // Side by side: class folders and test/ with masks.
  const sbs = tempDir();
  for (const c of ["benign", "normal"])
    for (let k = 0; k < 3; k++) {
      touch(path.join(sbs, c, `${c}${k}.png`));
      touch(path.join(sbs, c, `${c}${k}_mask.png`));
    }
  for (let k = 0; k < 4; k++) {
    touch(path.join(sbs, "test", `t${k}.png`));
    touch(path.join(sbs, "test", `t${k}_mask.png`));
  }
  const a = scanLayout(sbs);
  assert.equal(a.train.length, 6);
  assert.ok(a.train.every((e) => !e.id.startsWith("test")));
  assert.deepEqual(
    a.warnings.filter((w) => w.startsWith("test/")),
    ["test/: 4 images with masks — not used for training; evaluate on it with `nerveseg evaluate`"],
  );

  // Folders: images/ + masks/, a val/ pair, and a loose test/ (two of three images with masks).
  const fo = tempDir();
  for (const k of [1, 2]) {
    touch(path.join(fo, "images", `1_${k}.png`));
    touch(path.join(fo, "masks", `1_${k}.png`));
    touch(path.join(fo, "val", "images", `v${k}.png`));
    touch(path.join(fo, "val", "masks", `v${k}.png`));
  }
  for (const k of [1, 2, 3]) touch(path.join(fo, "test", `t${k}.png`));
  for (const k of [1, 2]) touch(path.join(fo, "test", `t${k}_mask.png`));
  touch(path.join(fo, "extra", "stray.png"));
  const b = scanLayout(fo);
  assert.deepEqual(
    b.train.map((e) => e.id),
    ["1_1", "1_2"],
  );
  assert.equal(b.root, path.join(fo, "images"));
  assert.deepEqual(b.warnings, [
    "test/: 3 images, 2 with masks — not used for training; evaluate on it with `nerveseg evaluate`",
    "val/: 2 images with masks — not used for training; evaluate on it with `nerveseg evaluate`",
    `1 image file(s) outside the image/mask folders were not read, e.g. ${path.join("extra", "stray.png")}`,
  ]);
  // Given as the input itself, a val/ folder is the data; with nothing else to train on, it is trained on
  // (and a loose test/ beside it is named as not read).
  assert.equal(scanLayout(path.join(fo, "val")).train.length, 2);
  fs.rmSync(path.join(fo, "images"), { recursive: true });
  fs.rmSync(path.join(fo, "masks"), { recursive: true });
  const onlyHeld = scanLayout(fo);
  assert.deepEqual(
    onlyHeld.train.map((e) => e.id),
    ["v1", "v2"],
  );
  assert.ok(
    onlyHeld.warnings.includes(
      `6 image file(s) outside the image/mask folders were not read, e.g. ${path.join("extra", "stray.png")}`,
    ),
    onlyHeld.warnings.join("\n"),
  );

  // Kaggle: test/ is the unlabelled test set; masks in it are named as not used.
  const kg = tempDir();
  touch(path.join(kg, "train", "1_1.tif"));
  touch(path.join(kg, "train", "1_1_mask.tif"));
  touch(path.join(kg, "test", "1.tif"));
  touch(path.join(kg, "test", "1_mask.tif"));
  const c = scanLayout(kg);
  assert.deepEqual(c.problems, []);
  assert.deepEqual(c.warnings, [
    "test/: 1 mask file(s) beside its 1 images — read as the unlabelled test set; the masks were not used (evaluate on them with `nerveseg evaluate`)",
  ]);
});

test("older manifests without warnings or mask values still load", async () => {
  const dir = tempDir();
  await writeLabelMaps(dir);
  const out = tempDir();
  await prepare({ input: dir, out, split: stratified, skipBad: false, workers: 1 });
  const file = path.join(out, "manifest.json");
  const raw = JSON.parse(fs.readFileSync(file, "utf8")) as Record<string, unknown>;
  delete raw.warnings;
  delete raw.maskValues;
  fs.writeFileSync(file, JSON.stringify(raw));
  const m = readManifest(out);
  assert.equal(m.warnings, undefined);
  assert.equal(m.train.ids.length, 6);
});

test(
  "real label maps (usgra-nerve-vessel): binary merges 1 and 2 with a warning; --mask-label 3 lists them",
  { skip: needsData(USGRA_DIR) },
  async () => {
    const m = await prepare({
      input: USGRA_DIR,
      out: tempDir(),
      split: stratified,
      skipBad: false,
      workers: 2,
    });
    assert.equal(m.train.ids.length, 204);
    assert.ok(
      m.warnings!.includes(
        "masks hold several labels: 1 (204 frames), 2 (183 frames); merged into one foreground — pick one with --mask-label N",
      ),
      m.warnings!.join("\n"),
    );
    assert.ok(m.warnings!.some((w) => w.startsWith("no patient in the names")));
    await rejects(
      prepare({
        input: USGRA_DIR,
        out: tempDir(),
        split: stratified,
        skipBad: false,
        maskLabel: 3,
        workers: 2,
      }),
      /--mask-label 3: no mask holds it; the masks hold 1 \(204 frames\), 2 \(183 frames\)$/,
    );
  },
);
