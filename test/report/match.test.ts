// Pairing mask files and prediction rows with listed images (report/match.ts): by file, then by path below
// the folder (the id), then by a stem only one image has; mask suffixes and frame numbers understood.
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { UserError } from "../../src/core/errors.js";
import { maskFolderItems, matchToImages, type Keyed } from "../../src/report/match.js";
import { tempDir } from "../helpers/sample.js";

const IMAGES = [
  { id: "a/1", file: "/data/a/1.png" },
  { id: "b/1", file: "/data/b/1.png" },
  { id: "b/2", file: "/data/b/2.png" },
  { id: "c/scan", file: "/data/c/scan.dcm" },
];

const item = (key: string, file?: string): Keyed<string> => ({
  key,
  where: `rows: ${key}`,
  value: key,
  ...(file ? { file } : {}),
});

/** image id → frame → the item's key. */
function paired(items: Keyed<string>[]): Record<string, Record<string, string>> {
  const m = matchToImages(IMAGES, items);
  const out: Record<string, Record<string, string>> = {};
  for (const [id, frames] of m.byImage)
    out[id] = Object.fromEntries([...frames].map(([f, it]) => [f, it.value]));
  return out;
}

test("matchToImages: by file, then by path, then by a stem only one image has; suffixes and frames understood", () => {
  assert.deepEqual(
    paired([item("a/1"), item("2_mask"), item("scan#2"), item("scan#3"), item("zzz", "/data/b/1.png")]),
    {
      "a/1": { "": "a/1" },
      "b/1": { "": "zzz" },
      "b/2": { "": "2_mask" },
      "c/scan": { "#2": "scan#2", "#3": "scan#3" },
    },
  );
  const m = matchToImages(IMAGES, [item("nothing"), item("d/3")]);
  assert.equal(m.byImage.size, 0);
  assert.deepEqual(
    m.unmatched.map((u) => u.key),
    ["nothing", "d/3"],
  );
});

test("matchToImages: a stem two images share, and an image claimed twice, are errors naming both", () => {
  assert.throws(
    () => matchToImages(IMAGES, [item("x/1")]),
    (e: unknown) =>
      e instanceof UserError &&
      e.message ===
        'rows: x/1: "x/1" matches both /data/a/1.png and /data/b/1.png by name; give it the image\'s path below its folder to tell them apart',
  );
  assert.throws(
    () => matchToImages(IMAGES, [item("b/2"), item("2")]),
    (e: unknown) =>
      e instanceof UserError && e.message === "rows: 2: is for the same image as rows: b/2 (/data/b/2.png)",
  );
});

test("maskFolderItems: the mask-named files of a folder of images and masks; never the images themselves", () => {
  const dir = tempDir();
  for (const f of ["1.png", "1_mask.png", "sub/2.jpg", "sub/2_seg.gif"]) {
    fs.mkdirSync(path.dirname(path.join(dir, f)), { recursive: true });
    fs.writeFileSync(path.join(dir, f), "");
  }
  assert.deepEqual(
    maskFolderItems(dir).map((it) => it.key),
    ["1_mask", "sub/2_seg"],
  );
  const plain = tempDir();
  fs.writeFileSync(path.join(plain, "1.png"), "");
  assert.deepEqual(
    maskFolderItems(plain).map((it) => it.key),
    ["1"],
  );
  assert.throws(() => maskFolderItems(plain, plain), /holds the images and no masks beside them/);
});
