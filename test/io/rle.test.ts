import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { UserError } from "../../src/core/errors.js";
import { readCsv } from "../../src/io/csv.js";
import { decodeRle, encodeRle, parseRle, runsArea, runsIntersection, runsToMask } from "../../src/io/rle.js";
import { readTiff } from "../../src/io/tiff.js";
import { SAMPLE_DIR, needsSample } from "../helpers/sample.js";

// A 3 wide x 2 high mask, row-major:   1 0 1
//                                       1 1 0
// Kaggle numbers pixels down the columns: (0,0)=1 (0,1)=2 (1,0)=3 (1,1)=4 (2,0)=5 (2,1)=6,
// so the "on" pixels are 1 2 4 5, and 4-5 is one run that wraps from column 1 into column 2.
const mask3x2 = Uint8Array.from([1, 0, 1, 1, 1, 0]);

test("encodeRle numbers pixels down the columns from 1 and lets runs wrap across columns", () => {
  assert.equal(encodeRle(mask3x2, 3, 2), "1 2 4 2");
  assert.equal(encodeRle(new Uint8Array(6), 3, 2), "");
  assert.equal(encodeRle(new Uint8Array(6).fill(255), 3, 2), "1 6");
  assert.equal(encodeRle(Uint8Array.from([0, 0, 0, 0, 0, 7]), 3, 2), "6 1");
  // A single column: the numbering is plain top to bottom.
  assert.equal(encodeRle(Uint8Array.from([0, 9, 9, 0, 9]), 1, 5), "2 2 5 1");
  assert.throws(() => encodeRle(mask3x2, 2, 2), /mask has 6 pixels, expected 2x2/);
});

test("decodeRle gives a row-major 0/255 mask and inverts encodeRle", () => {
  assert.deepEqual(Array.from(decodeRle("1 2 4 2", 3, 2)), [255, 0, 255, 255, 255, 0]);
  assert.deepEqual(Array.from(decodeRle("", 3, 2)), [0, 0, 0, 0, 0, 0]);
  assert.deepEqual(Array.from(decodeRle("  3 1 ", 3, 2)), [0, 255, 0, 0, 0, 0]);
  // Touching runs are allowed (they are not overlapping), and re-encode merged.
  assert.equal(encodeRle(decodeRle("1 1 2 1", 3, 2), 3, 2), "1 2");
  let seed = 5;
  for (let trial = 0; trial < 20; trial++) {
    const w = 1 + (trial % 7);
    const h = 1 + ((trial * 3) % 5);
    const m = new Uint8Array(w * h);
    for (let i = 0; i < m.length; i++) {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      m[i] = seed & 0x100 ? 255 : 0;
    }
    assert.deepEqual(decodeRle(encodeRle(m, w, h), w, h), m, `${w}x${h}`);
  }
});

test("decodeRle rejects malformed encodings, naming where", () => {
  const bad: Array<[string, RegExp]> = [
    ["1 a", /run 1 \("1 a"\) is not two whole numbers/],
    ["1 2 -3 1", /run 2 \("-3 1"\) is not two whole numbers/],
    ["1.5 2", /not two whole numbers/],
    ["1 2 3", /odd number of values \(3\)/],
    ["0 2", /run 1 starts at 0 \(pixels are numbered from 1\)/],
    ["2 0", /run 1 has length 0/],
    ["5 3", /run 1 \(5 3\) ends past the last pixel 6 of a 3x2 image/],
    ["1 3 2 1", /run 2 \(2 1\) overlaps or precedes the run before it/],
    ["4 1 1 1", /run 2 \(1 1\) overlaps or precedes/],
  ];
  for (const [rle, pattern] of bad) {
    assert.throws(
      () => decodeRle(rle, 3, 2, "masks.csv: line 17"),
      (e: unknown) =>
        e instanceof UserError && e.message.startsWith("masks.csv: line 17: ") && pattern.test(e.message),
      rle,
    );
  }
});

test("run lists: area and intersection without decoding", () => {
  const a = parseRle("1 4 10 3", 4, 4); // pixels 1-4, 10-12
  const b = parseRle("3 9", 4, 4); // pixels 3-11
  assert.deepEqual(Array.from(a), [0, 4, 9, 3]);
  assert.equal(runsArea(a), 7);
  assert.equal(runsArea(b), 9);
  assert.equal(runsIntersection(a, b), 4); // 3, 4, 10, 11
  assert.equal(runsIntersection(b, a), 4);
  assert.equal(runsIntersection(a, parseRle("", 4, 4)), 0);
  assert.equal(runsIntersection(a, a), 7);
  assert.deepEqual(runsToMask(a, 4, 4), decodeRle("1 4 10 3", 4, 4));
});

test("every row of train_masks.csv decodes and re-encodes byte for byte", { skip: needsSample }, () => {
  const table = readCsv(path.join(SAMPLE_DIR, "train_masks.csv"));
  assert.deepEqual(table.header, ["subject", "img", "pixels"]);
  assert.equal(table.rows.length, 5635);
  let empty = 0;
  for (const { line, fields } of table.rows) {
    const rle = fields[2]!;
    const mask = decodeRle(rle, 580, 420, `train_masks.csv: line ${line}`);
    assert.equal(encodeRle(mask, 580, 420), rle, `line ${line}`);
    if (rle === "") empty++;
  }
  assert.equal(empty, 5635 - 2323); // the README's count of non-empty masks
});

test("every sample mask TIFF encodes to its row of train_masks.csv", { skip: needsSample }, () => {
  const rows = new Map(
    readCsv(path.join(SAMPLE_DIR, "train_masks.csv")).rows.map((r) => [
      `${r.fields[0]}_${r.fields[1]}`,
      r.fields[2]!,
    ]),
  );
  const masks = fs.readdirSync(path.join(SAMPLE_DIR, "train")).filter((n) => n.endsWith("_mask.tif"));
  assert.equal(masks.length, 50);
  for (const name of masks) {
    const img = readTiff(path.join(SAMPLE_DIR, "train", name));
    const id = name.replace(/_mask\.tif$/, "");
    assert.equal(encodeRle(img.data, img.width, img.height), rows.get(id), name);
  }
});
