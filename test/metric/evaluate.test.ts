import assert from "node:assert/strict";
import { compareIds } from "../../src/io/ids.js";
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { UserError } from "../../src/core/errors.js";
import { encodeRle } from "../../src/io/rle.js";
import { writeTiff } from "../../src/io/tiff.js";
import { loadMaskCsv, loadMaskDir, loadTruth } from "../../src/io/mask-set.js";
import { evaluateFiles, perImageCsv, scoreMasks } from "../../src/metric/evaluate.js";
import { PROJECT_ROOT, SAMPLE_DIR, needsSample, tempDir } from "../helpers/sample.js";

const CLI = path.join(PROJECT_ROOT, "dist", "src", "cli", "main.js");
const TRAIN_CSV = path.join(SAMPLE_DIR, "train_masks.csv");

function write(dir: string, name: string, text: string): string {
  const f = path.join(dir, name);
  fs.writeFileSync(f, text);
  return f;
}

function cli(...args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: "utf8" });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Rows of train_masks.csv read independently of the code under test: id → RLE. */
function sampleTruth(): Map<string, string> {
  const lines = fs.readFileSync(TRAIN_CSV, "utf8").trim().split("\n").slice(1);
  return new Map(
    lines.map((l) => {
      const [subject, img, pixels] = l.split(",");
      return [`${subject}_${img}`, pixels!];
    }),
  );
}

// 4 wide x 3 high images: 12 pixels, numbered down the columns.
const W = 4;
const H = 3;

test("scoreMasks: exact mean Dice and presence counts on hand-made masks", () => {
  const truth = new Map([
    ["a", ""], // both empty: 1
    ["b", "1 4"], // pred empty: 0 (FN)
    ["c", ""], // pred non-empty: 0 (FP)
    ["d", "1 4"], // pred 3-6: overlap 3,4 -> 2*2/(4+4) = 0.5 (TP)
    ["e", "2 2 8 3"], // identical: 1 (TP)
  ]);
  const pred = new Map([
    ["e", "2 2 8 3"],
    ["d", "3 4"],
    ["c", "12 1"],
    ["b", ""],
    ["a", ""],
  ]);
  const s = scoreMasks(truth, pred, W, H);
  assert.equal(s.n, 5);
  assert.equal(s.score, (1 + 0 + 0 + 0.5 + 1) / 5);
  assert.deepEqual(s.confusion, { tp: 2, fp: 1, fn: 1, tn: 1 });
  assert.deepEqual(
    s.perImage.map((r) => [r.id, r.dice, r.truthArea, r.predArea, r.intersection]),
    [
      ["a", 1, 0, 0, 0],
      ["b", 0, 4, 0, 0],
      ["c", 0, 0, 1, 0],
      ["d", 0.5, 4, 4, 2],
      ["e", 1, 5, 5, 5],
    ],
  );
  assert.equal(
    perImageCsv(s),
    "img,dice,truth_px,pred_px,intersection_px\na,1,0,0,0\nb,0,4,0,0\nc,0,0,1,0\nd,0.5,4,4,2\ne,1,5,5,5\n",
  );
});

test("scoreMasks with boundary: HD95 and ASSD per image and summed up, in px or mm, in the CSV", () => {
  const [w, h] = [20, 14];
  const square = (x0: number): string => {
    const m = new Uint8Array(w * h);
    for (let y = 0; y < 10; y++) for (let x = x0; x < x0 + 10; x++) m[y * w + x] = 1;
    return encodeRle(m, w, h);
  };
  const truth = new Map([
    ["a", square(0)],
    ["b", square(0)],
    ["c", ""],
    ["d", ""],
  ]);
  const pred = new Map([
    ["a", square(3)],
    ["b", ""],
    ["c", ""],
    ["d", square(1)],
  ]);
  const s = scoreMasks(truth, pred, w, h, { boundary: { spacing: null } });
  assert.deepEqual(
    s.perImage.map((r) => [r.id, r.hd95, r.assd]),
    [
      ["a", 3, 1.5],
      ["b", null, null],
      ["c", null, null],
      ["d", null, null],
    ],
  );
  assert.deepEqual(s.boundary, {
    distanceUnit: "px",
    boundaryImages: 1,
    oneSideEmpty: 2,
    hd95Mean: 3,
    hd95Median: 3,
    assdMean: 1.5,
    assdMedian: 1.5,
  });
  assert.equal(
    perImageCsv(s),
    "img,dice,truth_px,pred_px,intersection_px,hd95_px,assd_px\na,0.7,100,100,70,3,1.5\nb,0,100,0,0,,\nc,1,0,0,0,,\nd,0,0,100,0,,\n",
  );
  const mm = scoreMasks(truth, pred, w, h, { boundary: { spacing: { row: 0.5, col: 0.5 } } });
  assert.deepEqual([mm.perImage[0].hd95, mm.boundary!.distanceUnit], [1.5, "mm"]);
  assert.match(perImageCsv(mm), /^img,dice,truth_px,pred_px,intersection_px,hd95_mm,assd_mm\n/);
  // Without the option the table keeps its five columns.
  assert.equal(scoreMasks(truth, pred, w, h).boundary, undefined);
});

test("scoreMasks: ids must match (or be a subset with the option)", () => {
  const truth = new Map([
    ["a", ""],
    ["b", "1 2"],
  ]);
  assert.throws(() => scoreMasks(truth, new Map([["z", ""]]), W, H), /image id z is not in the truth/);
  assert.throws(
    () => scoreMasks(truth, new Map([["a", ""]]), W, H),
    /1 image id\(s\) of the truth are not predicted, e\.g\. b/,
  );
  const s = scoreMasks(truth, new Map([["b", "2 1"]]), W, H, { subset: true });
  assert.equal(s.n, 1);
  assert.equal(s.score, 2 / 3);
  assert.throws(
    () => scoreMasks(truth, new Map([["b", "12 2"]]), W, H, { subset: true }),
    /prediction b: run 1 \(12 2\) ends past the last pixel 12/,
  );
});

test("loadMaskCsv reads both layouts and names the file and line of every problem", () => {
  const dir = tempDir();
  const train = loadMaskCsv(write(dir, "t.csv", "subject,img,pixels\n1,1,1 2\n1,2,\n10,3,5 1\n"), W, H);
  assert.deepEqual(
    [...train.masks],
    [
      ["1_1", "1 2"],
      ["1_2", ""],
      ["10_3", "5 1"],
    ],
  );
  assert.equal(train.where.get("1_2"), `${path.join(dir, "t.csv")}: line 3`);
  const sub = loadMaskCsv(write(dir, "s.csv", "img,pixels\r\n7,\r\n8,1 1\r\n"), W, H);
  assert.deepEqual(
    [...sub.masks],
    [
      ["7", ""],
      ["8", "1 1"],
    ],
  );

  const bad: Array<[string, RegExp]> = [
    ["id,rle\n1,\n", /b\.csv: header is "id,rle", expected "subject,img,pixels" or "img,pixels"$/],
    ["img,pixels\n1,\n2\n", /b\.csv: line 3: 1 fields, expected 2/],
    ["img,pixels\n1,\n2,1 1\n1,3 1\n", /b\.csv: line 4: duplicate image id 1 \(first at .*b\.csv: line 2\)/],
    ["img,pixels\n1,1 1 2\n", /b\.csv: line 2: odd number of values/],
    ["img,pixels\n\n1,1 x\n", /b\.csv: line 3: run 1 \("1 x"\) is not two whole numbers/],
    ["img,pixels\n1,5 2 6 1\n", /b\.csv: line 2: run 2 \(6 1\) overlaps/],
    ["img,pixels\n1,0 1\n", /b\.csv: line 2: run 1 starts at 0/],
    ["img,pixels\n1,12 2\n", /b\.csv: line 2: run 1 \(12 2\) ends past the last pixel 12 of a 4x3 image/],
    ["img,pixels\n,1 1\n", /b\.csv: line 2: bad image id ""/],
    ["subject,img,pixels\n1,a b,\n", /b\.csv: line 2: bad image id "a b"/],
  ];
  for (const [text, pattern] of bad) {
    const f = write(dir, "b.csv", text);
    assert.throws(
      () => loadMaskCsv(f, W, H),
      (e: unknown) => e instanceof UserError && pattern.test(e.message),
      text,
    );
  }
  assert.throws(() => loadTruth(path.join(dir, "nope.csv"), W, H), /nope\.csv: no such file or folder/);
});

test("evaluateFiles: pred ids missing from or unknown to the truth name the file and line", () => {
  const dir = tempDir();
  const truth = write(dir, "truth.csv", "subject,img,pixels\n1,1,1 2\n1,2,\n");
  const extra = write(dir, "extra.csv", "img,pixels\n1_1,1 2\n1_2,\n1_3,\n");
  const fewer = write(dir, "fewer.csv", "img,pixels\n1_2,\n");
  assert.throws(
    () => evaluateFiles(truth, extra, W, H),
    /extra\.csv: line 4: image id 1_3 is not in the truth/,
  );
  assert.throws(
    () => evaluateFiles(truth, fewer, W, H),
    /fewer\.csv: 1 image id\(s\) of the truth are not predicted, e\.g\. 1_1 \(.*truth\.csv: line 2\)/,
  );
  assert.equal(evaluateFiles(truth, fewer, W, H, { subset: true }).score, 1);
  assert.equal(
    evaluateFiles(truth, write(dir, "p.csv", "img,pixels\n1_2,\n1_1,2 1\n"), W, H).score,
    (2 / 3 + 1) / 2,
  );
});

test("a folder of *_mask.tif is read as truth in natural id order", () => {
  const dir = tempDir();
  const mask = (on: number[]): Uint8Array => {
    const m = new Uint8Array(W * H);
    for (const i of on) m[i] = 255;
    return m;
  };
  writeTiff(path.join(dir, "1_10_mask.tif"), { width: W, height: H, data: mask([0, 4]) }); // column 0: 1 2
  writeTiff(path.join(dir, "1_2_mask.tif"), { width: W, height: H, data: mask([]) });
  writeTiff(path.join(dir, "1_2.tif"), { width: W, height: H, data: mask([1]) }); // an image, ignored
  const set = loadMaskDir(dir, W, H);
  assert.deepEqual(
    [...set.masks],
    [
      ["1_2", ""],
      ["1_10", "1 2"],
    ],
  );
  assert.throws(() => loadMaskDir(dir, 5, 3), /1_2_mask\.tif: mask is 4x3, expected 5x3/);
  assert.throws(() => loadMaskDir(tempDir(), W, H), /no \*_mask\.tif files in this folder/);
  assert.ok(compareIds("1_2", "1_10") < 0 && compareIds("2_1", "10_1") < 0);
});

test("the sample's mask folder equals its rows of train_masks.csv", { skip: needsSample }, () => {
  const dirSet = loadTruth(path.join(SAMPLE_DIR, "train"), 580, 420);
  const csv = sampleTruth();
  assert.equal(dirSet.masks.size, 50);
  for (const [id, rle] of dirSet.masks) assert.equal(rle, csv.get(id), id);
});

test("CLI evaluate: a perfect prediction scores 1", { skip: needsSample }, () => {
  const dir = tempDir();
  const truth = sampleTruth();
  const pred = write(
    dir,
    "perfect.csv",
    "img,pixels\n" + [...truth].map(([id, rle]) => `${id},${rle}\n`).join(""),
  );
  const r = cli("evaluate", "--truth", TRAIN_CSV, "--pred", pred, "--json");
  assert.equal(r.code, 0, r.stderr);
  const summary = JSON.parse(r.stdout);
  assert.equal(summary.score, 1);
  assert.equal(summary.n, 5635);
  assert.deepEqual(summary.confusion, { tp: 2323, fp: 0, fn: 0, tn: 3312 });
  // Every real mask against itself: no boundary distance at all.
  assert.deepEqual(
    [summary.boundary.boundaryImages, summary.boundary.hd95Mean, summary.boundary.assdMean],
    [2323, 0, 0],
  );
});

test("CLI evaluate: all-empty predictions score the fraction of empty masks", { skip: needsSample }, () => {
  const dir = tempDir();
  const truth = sampleTruth();
  const nEmpty = [...truth.values()].filter((rle) => rle === "").length;
  const pred = write(dir, "empty.csv", "img,pixels\n" + [...truth.keys()].map((id) => `${id},\n`).join(""));
  const out = path.join(dir, "per-image.csv");
  const r = cli("evaluate", "--truth", TRAIN_CSV, "--pred", pred, "--json", "--out", out);
  assert.equal(r.code, 0, r.stderr);
  const summary = JSON.parse(r.stdout);
  assert.equal(summary.score, nEmpty / truth.size);
  assert.deepEqual(summary.confusion, { tp: 0, fp: 0, fn: truth.size - nEmpty, tn: nEmpty });
  const rows = fs.readFileSync(out, "utf8").trim().split("\n");
  assert.equal(rows[0], "img,dice,truth_px,pred_px,intersection_px,hd95_px,assd_px");
  assert.equal(rows.length, 1 + truth.size);
  assert.equal(rows.filter((l) => l.split(",")[1] === "1").length, nEmpty);

  // JSON per-image output, and the human summary.
  const jsonOut = path.join(dir, "per-image.json");
  const r2 = cli("evaluate", "--truth", TRAIN_CSV, "--pred", pred, "--out", jsonOut);
  assert.equal(r2.code, 0, r2.stderr);
  assert.match(r2.stdout, /^score 0\.58776 \(mean Dice over 5635 images\)\n/);
  assert.match(r2.stdout, /TP 0 {2}FP 0 {2}FN 2323 {2}TN 3312/);
  const full = JSON.parse(fs.readFileSync(jsonOut, "utf8"));
  assert.equal(full.perImage.length, truth.size);
  assert.deepEqual(full.perImage[0], {
    id: "1_1",
    dice: 0,
    truthArea: full.perImage[0].truthArea,
    predArea: 0,
    intersection: 0,
    hd95: null,
    assd: null,
  });
  assert.ok(full.perImage[0].truthArea > 0);
  assert.deepEqual(full.boundary, {
    distanceUnit: "px",
    boundaryImages: 0,
    oneSideEmpty: truth.size - nEmpty,
    hd95Mean: null,
    hd95Median: null,
    assdMean: null,
    assdMedian: null,
  });
});

test(
  "CLI evaluate: mask folder truth with --subset against predictions for those images",
  { skip: needsSample },
  () => {
    const dir = tempDir();
    const truth = sampleTruth();
    // Predict the sample folder's 50 masks perfectly, as ids "1_N".
    const ids = fs
      .readdirSync(path.join(SAMPLE_DIR, "train"))
      .filter((n) => n.endsWith("_mask.tif"))
      .map((n) => n.replace("_mask.tif", ""));
    const pred = write(dir, "p.csv", "img,pixels\n" + ids.map((id) => `${id},${truth.get(id)}\n`).join(""));
    const r = cli("evaluate", "--truth", path.join(SAMPLE_DIR, "train"), "--pred", pred, "--json");
    assert.equal(r.code, 0, r.stderr);
    assert.equal(JSON.parse(r.stdout).score, 1);
    const r2 = cli("evaluate", "--truth", TRAIN_CSV, "--pred", pred, "--subset", "--json");
    assert.equal(r2.code, 0, r2.stderr);
    assert.equal(JSON.parse(r2.stdout).n, 50);
  },
);

test("CLI evaluate: a bad CSV exits 1 with one line naming the file and line", () => {
  const dir = tempDir();
  const truth = write(dir, "truth.csv", "img,pixels\n1,\n2,1 1\n");
  const pred = write(dir, "pred.csv", "img,pixels\n1,\n2,1 1 1\n");
  const r = cli("evaluate", "--truth", truth, "--pred", pred, "--width", "4", "--height", "3");
  assert.equal(r.code, 1);
  assert.equal(r.stdout, "");
  assert.equal(r.stderr, `nerveseg: ${pred}: line 3: odd number of values (3) in the run-length encoding\n`);
  const dup = write(dir, "dup.csv", "img,pixels\n1,\n1,\n");
  const r2 = cli("evaluate", "--truth", truth, "--pred", dup, "--width", "4", "--height", "3");
  assert.equal(r2.code, 1);
  assert.match(
    r2.stderr,
    /^nerveseg: .*dup\.csv: line 3: duplicate image id 1 \(first at .*dup\.csv: line 2\)\n$/,
  );
});
