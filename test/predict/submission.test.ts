import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { UserError } from "../../src/core/errors.js";
import {
  KAGGLE_PIXELS,
  rleProblem,
  validateSubmission,
  validateSubmissionText,
  writeSubmission,
  type SubmissionRow,
} from "../../src/predict/submission.js";
import { needsSample, SAMPLE_DIR, tempDir } from "../helpers/sample.js";

const idsTo = (n: number): string[] => Array.from({ length: n }, (_, i) => String(i + 1));

test("rleProblem accepts well-formed RLE and names each kind of breakage", () => {
  assert.equal(rleProblem(""), null);
  assert.equal(rleProblem("1 1"), null);
  assert.equal(rleProblem(`1 ${KAGGLE_PIXELS}`), null);
  assert.equal(rleProblem("5 3 8 2"), null); // adjacent runs are fine (no pixel twice)
  assert.match(rleProblem("5 3 7 2")!, /overlapping/);
  assert.match(rleProblem("10 2 5 1")!, /overlapping or before/);
  assert.match(rleProblem("1 2 3")!, /odd number/);
  assert.match(rleProblem("0 5")!, /positive integers/);
  assert.match(rleProblem("3 0")!, /positive integers/);
  assert.match(rleProblem("1  2 3")!, /positive integers/); // double space
  assert.match(rleProblem("1.5 2")!, /positive integers/);
  assert.match(rleProblem(`${KAGGLE_PIXELS} 2`)!, /runs past pixel 243600/);
  assert.equal(rleProblem(`${KAGGLE_PIXELS} 1`), null);
});

test("the official sample_submission.csv validates against ids 1..5508", { skip: needsSample }, () => {
  const summary = validateSubmission(path.join(SAMPLE_DIR, "sample_submission.csv"), idsTo(5508));
  assert.deepEqual(summary, { rows: 5508, nonEmpty: 5508, sorted: true });
});

test(
  "broken variants of sample_submission.csv are rejected with the line named",
  { skip: needsSample },
  () => {
    const good = fs.readFileSync(path.join(SAMPLE_DIR, "sample_submission.csv"), "utf8");
    const ids = idsTo(5508);
    const lines = good.trimEnd().split("\n");
    const variant = (edit: (ls: string[]) => void): string => {
      const ls = lines.slice();
      edit(ls);
      return ls.join("\n") + "\n";
    };
    const cases: [string, string, RegExp][] = [
      ["bad header", variant((ls) => (ls[0] = "id,pixels")), /line 1: header/],
      ["missing row", variant((ls) => ls.splice(100, 1)), /1 expected id\(s\) missing \(100\)/],
      ["duplicate row", variant((ls) => (ls[5] = ls[4])), /line 6: image id 4 appears twice/],
      [
        "unknown id",
        variant((ls) => (ls[7] = "5509,1 1")),
        /line 8: image id 5509 is not one of the test images/,
      ],
      ["non-numeric id", variant((ls) => (ls[2] = "2.tif,1 1")), /line 3: image id "2.tif"/],
      ["pixel out of range", variant((ls) => (ls[3] = "3,243600 5")), /line 4 \(img 3\): .*runs past/],
      ["overlapping runs", variant((ls) => (ls[9] = "9,10 5 12 3")), /line 10 \(img 9\): .*overlapping/],
      ["no comma", variant((ls) => (ls[11] = "11 1 1")), /line 12: no comma/],
      ["blank line", variant((ls) => ls.splice(50, 0, "")), /line 51: no comma/],
    ];
    for (const [what, text, re] of cases) {
      assert.throws(
        () => validateSubmissionText(text, ids, "sub.csv"),
        (e: unknown) => {
          assert.ok(e instanceof UserError, what);
          assert.match(e.message, /^sub\.csv: /, what);
          assert.match(e.message, re, what);
          return true;
        },
      );
    }
    // Unsorted rows and CRLF line ends are still a valid Kaggle file; `sorted` reports the order.
    const shuffled = variant((ls) => ([ls[1], ls[2]] = [ls[2], ls[1]]));
    assert.equal(validateSubmissionText(shuffled, ids).sorted, false);
    assert.equal(validateSubmissionText(good.replace(/\n/g, "\r\n"), ids).rows, 5508);
  },
);

test("writeSubmission sorts ids numerically and round-trips through validateSubmission", () => {
  const dir = tempDir();
  const file = path.join(dir, "submission.csv");
  const ids = idsTo(12);
  const rows: SubmissionRow[] = ids
    .slice()
    .reverse()
    .map((img) => ({
      img,
      pixels: Number(img) % 3 === 0 ? "" : `${Number(img) * 10} 4 ${Number(img) * 10 + 420} 4`,
    }));
  const summary = writeSubmission(file, rows, ids);
  assert.deepEqual(summary, { rows: 12, nonEmpty: 8, sorted: true });
  const text = fs.readFileSync(file, "utf8");
  const lines = text.trimEnd().split("\n");
  assert.equal(lines[0], "img,pixels");
  assert.deepEqual(
    lines.slice(1).map((l) => l.split(",")[0]),
    ids, // 1,2,...,10,11,12 — numeric, not "1,10,11,12,2"
  );
  assert.equal(lines[3], "3,");
  assert.equal(lines[10], "10,100 4 520 4");
  assert.deepEqual(validateSubmission(file, ids), summary);
  assert.deepEqual(fs.readdirSync(dir), ["submission.csv"]); // no temp files left
});

test("writeSubmission leaves no file (and an old one untouched) on any error", () => {
  const dir = tempDir();
  const file = path.join(dir, "submission.csv");
  const ids = idsTo(4);
  const ok = ids.map((img) => ({ img, pixels: "" }));
  const failures: [string, () => Iterable<SubmissionRow>, RegExp][] = [
    ["missing id", () => ok.slice(0, 3), /1 expected id\(s\) missing \(4\)/],
    ["extra id", () => [...ok, { img: "5", pixels: "" }], /image "5", which is not one of the test images/],
    ["duplicate", () => [...ok, { img: "2", pixels: "1 1" }], /two rows for image 2/],
    ["bad rle", () => [{ img: "1", pixels: "9 1 3 1" }, ...ok.slice(1)], /image 1: .*overlapping/],
    [
      "source throws midway",
      function* () {
        yield ok[0];
        throw new UserError("input/test/2.tif: not a TIFF (bad magic)");
      },
      /2\.tif: not a TIFF/,
    ],
  ];
  for (const [what, rows, re] of failures) {
    assert.throws(() => writeSubmission(file, rows(), ids), re, what);
    assert.deepEqual(fs.readdirSync(dir), [], what);
  }
  fs.writeFileSync(file, "old content\n");
  for (const [what, rows, re] of failures) {
    assert.throws(() => writeSubmission(file, rows(), ids), re, what);
    assert.equal(fs.readFileSync(file, "utf8"), "old content\n", what);
    assert.deepEqual(fs.readdirSync(dir), ["submission.csv"], what);
  }
});

test("expected ids must be positive integers", () => {
  assert.throws(() => validateSubmissionText("img,pixels\n", ["1", "01"]), /"01" is not a positive integer/);
  assert.throws(() => writeSubmission("/nonexistent/x.csv", [], ["a"]), /"a" is not a positive integer/);
});
