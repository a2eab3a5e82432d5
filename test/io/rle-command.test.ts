import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { decodeRle } from "../../src/io/rle.js";
import { readTiff } from "../../src/io/tiff.js";
import { PROJECT_ROOT, SAMPLE_DIR, needsSample, tempDir } from "../helpers/sample.js";

const CLI = path.join(PROJECT_ROOT, "dist", "src", "cli", "main.js");

function cli(...args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: "utf8" });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

test("rle encode prints name,pixels rows equal to train_masks.csv", { skip: needsSample }, () => {
  const names = ["1_14_mask.tif", "1_9_mask.tif", "1_1_mask.tif"];
  const r = cli("rle", "encode", "--header", ...names.map((n) => path.join(SAMPLE_DIR, "train", n)));
  assert.equal(r.code, 0, r.stderr);
  const rows = new Map(
    fs
      .readFileSync(path.join(SAMPLE_DIR, "train_masks.csv"), "utf8")
      .split("\n")
      .slice(1)
      .map((l) => l.split(","))
      .map(([s, i, p]) => [`${s}_${i}`, p]),
  );
  const want =
    ["img,pixels", ...["1_14", "1_9", "1_1"].map((id) => `${id},${rows.get(id)}`)].join("\n") + "\n";
  assert.equal(r.stdout, want);
  assert.equal(rows.get("1_9"), ""); // the empty mask in the list
});

test("rle decode writes one LZW mask per row, for both CSV layouts", () => {
  const dir = tempDir();
  const train = path.join(dir, "train.csv");
  fs.writeFileSync(train, "subject,img,pixels\n3,7,1 2 5 3\n3,8,\n");
  const r = cli(
    "rle",
    "decode",
    "--csv",
    train,
    "--out",
    path.join(dir, "a"),
    "--width",
    "4",
    "--height",
    "3",
  );
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, `wrote 2 masks to ${path.join(dir, "a")}\n`);
  assert.deepEqual(fs.readdirSync(path.join(dir, "a")).sort(), ["3_7_mask.tif", "3_8_mask.tif"]);
  const m = readTiff(path.join(dir, "a", "3_7_mask.tif"));
  assert.equal(m.width, 4);
  assert.equal(m.height, 3);
  assert.deepEqual(m.data, decodeRle("1 2 5 3", 4, 3));
  assert.ok(readTiff(path.join(dir, "a", "3_8_mask.tif")).data.every((v) => v === 0));
  // LZW as the competition files (Compression tag 259 = 5 in the first directory).
  assert.deepEqual(
    fs.readFileSync(path.join(dir, "a", "3_7_mask.tif")).subarray(0, 4),
    Buffer.from([0x49, 0x49, 42, 0]),
  );

  const sub = path.join(dir, "sub.csv");
  fs.writeFileSync(sub, "img,pixels\n12,3 1\n");
  const r2 = cli(
    "rle",
    "decode",
    "--csv",
    sub,
    "--out",
    path.join(dir, "b"),
    "--width",
    "4",
    "--height",
    "3",
  );
  assert.equal(r2.code, 0, r2.stderr);
  assert.deepEqual(readTiff(path.join(dir, "b", "12_mask.tif")).data, decodeRle("3 1", 4, 3));
});

test(
  "rle decode of the sample's train_masks.csv reproduces the sample mask files",
  { skip: needsSample },
  () => {
    const dir = tempDir();
    const csv = path.join(dir, "some.csv");
    // The first 60 rows cover the sample's 50 masks (subject 1, images 1-50) and beyond.
    const lines = fs.readFileSync(path.join(SAMPLE_DIR, "train_masks.csv"), "utf8").split("\n").slice(0, 61);
    fs.writeFileSync(csv, lines.join("\n") + "\n");
    const r = cli("rle", "decode", "--csv", csv, "--out", path.join(dir, "out"));
    assert.equal(r.code, 0, r.stderr);
    for (const n of ["1_1_mask.tif", "1_9_mask.tif", "1_14_mask.tif", "1_50_mask.tif"]) {
      assert.deepEqual(readTiff(path.join(dir, "out", n)), readTiff(path.join(SAMPLE_DIR, "train", n)), n);
    }
  },
);

test("rle decode: a bad row exits 1 with one line and writes nothing", () => {
  const dir = tempDir();
  const csv = path.join(dir, "bad.csv");
  fs.writeFileSync(csv, "img,pixels\n1,1 1\n2,9 9\n");
  const r = cli(
    "rle",
    "decode",
    "--csv",
    csv,
    "--out",
    path.join(dir, "out"),
    "--width",
    "4",
    "--height",
    "3",
  );
  assert.equal(r.code, 1);
  assert.equal(
    r.stderr,
    `nerveseg: ${csv}: line 3: run 1 (9 9) ends past the last pixel 12 of a 4x3 image\n`,
  );
  assert.equal(fs.existsSync(path.join(dir, "out")), false);
});

test("rle encode: a mask of another size is refused by name; a name with a comma is quoted", async () => {
  const { writeTiff } = await import("../../src/io/tiff.js");
  const { readCsv } = await import("../../src/io/csv.js");
  const dir = tempDir();
  const small = path.join(dir, "7_mask.tif");
  writeTiff(small, { width: 20, height: 10, data: new Uint8Array(200).fill(255) });
  const r = cli("rle", "encode", small);
  assert.equal(r.code, 1);
  assert.match(r.stderr.trim(), /7_mask\.tif: mask is 20x10, expected 580x420 \(give --width\/--height/);
  assert.equal(r.stdout, "", "nothing printed before the error");
  const ok = cli("rle", "encode", "--width", "20", "--height", "10", small);
  assert.equal(ok.stdout, "7,1 200\n");
  const comma = path.join(dir, "a,b_mask.tif");
  writeTiff(comma, { width: 20, height: 10, data: new Uint8Array(200) });
  const q = cli("rle", "encode", "--header", "--width", "20", "--height", "10", comma);
  assert.equal(q.stdout, 'img,pixels\n"a,b",\n');
  const csv = path.join(dir, "q.csv");
  fs.writeFileSync(csv, q.stdout);
  assert.deepEqual(readCsv(csv).rows[0].fields, ["a,b", ""]);
});

test("overlay folder form: a bad image half-way leaves the output folder as it was", async () => {
  const { writeTiff } = await import("../../src/io/tiff.js");
  const dir = tempDir();
  const out = path.join(tempDir(), "overlays");
  for (const id of ["1", "2", "3"])
    writeTiff(path.join(dir, `${id}.tif`), { width: 8, height: 8, data: new Uint8Array(64).fill(90) });
  assert.equal(cli("overlay", "--images", dir, "--out", out, "--quiet").code, 0);
  const before = fs.readdirSync(out).sort();
  assert.deepEqual(before, ["1.png", "2.png", "3.png"]);
  fs.writeFileSync(path.join(dir, "2.tif"), "broken");
  fs.writeFileSync(path.join(dir, "0.tif"), fs.readFileSync(path.join(dir, "1.tif")));
  const r = cli("overlay", "--images", dir, "--out", out, "--quiet");
  assert.equal(r.code, 1);
  assert.match(r.stderr, /2\.tif/);
  assert.deepEqual(fs.readdirSync(out).sort(), before, "no 0.png, no staging folder");
});
