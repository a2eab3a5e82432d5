import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { BAR_TOLERANCE, barBox, boxPixels, frameBoxOf, ownInBox, trimFrame } from "../../src/data/trim.js";
import { cropRect } from "../../src/data/resize.js";
import { readTiff } from "../../src/io/tiff.js";
import { frame } from "../helpers/images.js";
import { needsSample, SAMPLE_DIR } from "../helpers/sample.js";

/** A w x h frame: grey `bar` everywhere, textured content (values 0..255 varying along x) inside `box`. */
function padded(
  w: number,
  h: number,
  box: { x: number; y: number; width: number; height: number },
  bar = 128,
) {
  const data = new Uint8Array(w * h).fill(bar);
  const inner = frame(box.width, box.height, 7);
  for (let y = 0; y < box.height; y++)
    data.set(inner.subarray(y * box.width, (y + 1) * box.width), (box.y + y) * w + box.x);
  return { data, inner };
}

test("barBox finds letterbox bars exactly: rows from top and bottom, then columns within the kept rows", () => {
  const box = { x: 3, y: 10, width: 50, height: 30 };
  const { data, inner } = padded(60, 48, box);
  assert.deepEqual(barBox(data, 60, 48), box);
  assert.deepEqual(cropRect(data, 60, 48, box), inner);
  // Nothing flat: the whole frame, and cropRect hands the same array back.
  const plain = frame(40, 30, 3);
  assert.deepEqual(barBox(plain, 40, 30), { x: 0, y: 0, width: 40, height: 30 });
  assert.equal(cropRect(plain, 40, 30, { x: 0, y: 0, width: 40, height: 30 }), plain);
});

test("barBox: a row spanning BAR_TOLERANCE grey levels is a bar, one more level is anatomy", () => {
  const w = 20;
  const h = 20;
  const { data } = padded(w, h, { x: 0, y: 4, width: w, height: 16 });
  data[2 * w + 5] = 128 + BAR_TOLERANCE; // rows 0..3 are bars; row 2 spans exactly the tolerance
  assert.equal(barBox(data, w, h).y, 4);
  data[2 * w + 5] = 128 + BAR_TOLERANCE + 1; // now row 2 is not flat: only rows 0..1 are cut
  assert.equal(barBox(data, w, h).y, 2);
});

test("barBox keeps the whole frame when less than a quarter would be left (a blank or nearly blank frame)", () => {
  assert.deepEqual(barBox(new Uint8Array(32 * 24).fill(9), 32, 24), { x: 0, y: 0, width: 32, height: 24 });
  const { data } = padded(40, 40, { x: 0, y: 18, width: 40, height: 9 }); // 9 of 40 rows < 25%
  assert.deepEqual(barBox(data, 40, 40), { x: 0, y: 0, width: 40, height: 40 });
  const { data: kept } = padded(40, 40, { x: 0, y: 15, width: 40, height: 10 }); // exactly 25%: cut
  assert.deepEqual(barBox(kept, 40, 40), { x: 0, y: 15, width: 40, height: 10 });
  assert.throws(() => barBox(new Uint8Array(5), 2, 2), /5 pixels for 2x2/);
});

test("trimFrame: the cut pixels, their own size scaled alike, and the box as fractions that map back exactly", () => {
  const box = { x: 0, y: 35, width: 256, height: 186 };
  const { data, inner } = padded(256, 256, box);
  // A 580x580 frame stored at 256x256 (the nerve-real layout): own size scales with the cut.
  const t = trimFrame(data, 256, 256, { width: 580, height: 580 }, true);
  assert.deepEqual(t.data, inner);
  assert.deepEqual([t.width, t.height, t.pixels], [256, 186, box]);
  assert.deepEqual(t.own, { width: 580, height: Math.round((580 * 186) / 256) });
  assert.deepEqual(t.box, { x0: 0, y0: 35 / 256, x1: 1, y1: 221 / 256 });
  assert.deepEqual(ownInBox({ width: 580, height: 580 }, t.box!), t.own);
  // The fractions land on the same pixels at the frame's size and scale to other sizes.
  assert.deepEqual(boxPixels(t.box!, 256, 256), box);
  assert.deepEqual(boxPixels(t.box!, 512, 512), { x: 0, y: 70, width: 512, height: 372 });
  assert.deepEqual(frameBoxOf(box, 256, 256), t.box);
  // trim off, or nothing to cut: the frame as given, no box.
  const off = trimFrame(data, 256, 256, { width: 580, height: 580 }, false);
  assert.equal(off.data, data);
  assert.equal(off.box, null);
  const plain = frame(30, 20, 1);
  assert.equal(trimFrame(plain, 30, 20, { width: 30, height: 20 }, true).box, null);
});

test(
  "real Kaggle frames (580x420 TIFFs) keep all their rows: at most a one-pixel dead column is cut",
  { skip: needsSample },
  () => {
    for (const sub of ["train", "test"]) {
      const dir = path.join(SAMPLE_DIR, sub);
      for (const f of fs.readdirSync(dir).filter((f) => f.endsWith(".tif") && !f.includes("mask"))) {
        const im = readTiff(path.join(dir, f));
        const b = barBox(im.data, im.width, im.height);
        assert.equal(b.height, 420, f);
        assert.ok(b.width >= 578, `${f}: ${b.width} columns kept`);
      }
    }
  },
);
