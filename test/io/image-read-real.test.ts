import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { UserError } from "../../src/core/errors.js";
import { maskFromDecoded, readImageFile } from "../../src/io/image-read.js";
import { readTiff } from "../../src/io/tiff.js";
import { PROJECT_ROOT } from "../helpers/sample.js";

// Real files of the data sets beside the project (never inside it): one of each layout a user brings.
const DATA = path.resolve(PROJECT_ROOT, "..", "shared", "data");
const needsData: string | false = fs.existsSync(DATA)
  ? false
  : `real data not found at ${DATA} (it lives in ../shared beside the project)`;

function notAMask(d: Awaited<ReturnType<typeof readImageFile>>): void {
  assert.throws(
    () => maskFromDecoded(d, d.frames[0]!),
    (e: unknown) => e instanceof UserError && /does not look like a mask/.test(e.message),
  );
}

test(
  "nerve-real: a 256x256 JPEG frame (grey stored as RGB) and its JPEG mask",
  { skip: needsData },
  async () => {
    const img = await readImageFile(path.join(DATA, "nerve-real", "images", "12_105.jpg"));
    assert.deepEqual([img.format, img.lossy, img.frameCount], ["jpeg", true, 1]);
    const frame = img.frames[0]!;
    assert.deepEqual([frame.name, frame.image.width, frame.image.height], ["12_105.jpg", 256, 256]);
    notAMask(img);
    const mask = await readImageFile(path.join(DATA, "nerve-real", "masks", "12_105_mask.jpg"));
    const m = maskFromDecoded(mask, mask.frames[0]!);
    const area = m.reduce((a, b) => a + b, 0);
    assert.ok(area > 100 && area < (256 * 256) / 4, `nerve area ${area}`);
  },
);

test(
  "ddti-thyroid: a grey PNG crop and its GIF mask (names with parentheses)",
  { skip: needsData },
  async () => {
    const img = await readImageFile(path.join(DATA, "ddti-thyroid", "cropped", "100_1(1).png"));
    assert.deepEqual([img.format, img.lossy, img.bitDepth], ["png", false, 8]);
    const frame = img.frames[0]!;
    assert.deepEqual(
      [frame.name, frame.colour, frame.image.width, frame.image.height],
      ["100_1(1).png", "grey", 300, 300],
    );
    notAMask(img);
    const mask = await readImageFile(path.join(DATA, "ddti-thyroid", "mask", "100_1(1).gif"));
    assert.deepEqual([mask.format, mask.lossy, mask.frameCount], ["gif", false, 1]);
    const mf = mask.frames[0]!;
    assert.deepEqual([mf.colour, mf.image.width, mf.image.height], ["palette", 300, 300]);
    assert.ok(
      mf.image.data.every((v) => v === 0 || v === 255),
      "the mask shows 0/255",
    );
    const m = maskFromDecoded(mask, mf);
    const area = m.reduce((a, b) => a + b, 0);
    assert.ok(area > 100 && area < 300 * 300, `nodule area ${area}`);
    assert.deepEqual(
      [...m],
      [...mf.image.data].map((v) => (v ? 1 : 0)),
    );
  },
);

test(
  "kaggle-sample: a competition TIFF and its mask read as our own TIFF reader reads them",
  { skip: needsData },
  async () => {
    const dir = path.join(DATA, "kaggle-sample", "train");
    const img = await readImageFile(path.join(dir, "1_1.tif"));
    assert.deepEqual(img.frames[0]!.image, readTiff(path.join(dir, "1_1.tif")));
    notAMask(img);
    const mask = await readImageFile(path.join(dir, "1_1_mask.tif"));
    const m = maskFromDecoded(mask, mask.frames[0]!);
    assert.equal(m.length, 580 * 420);
  },
);
