import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { PNG } from "pngjs";
import { encodePng, writePng } from "../../src/io/png.js";
import {
  contourBand,
  contourOf,
  drawContour,
  greyToRgb,
  overlayRgb,
  GREEN,
  PRED_COLOR,
  TRUTH_COLOR,
} from "../../src/report/overlay.js";
import { overlayFile } from "../../src/report/overlay-files.js";
import { readTiff } from "../../src/io/tiff.js";
import { SAMPLE_DIR, needsSample, tempDir } from "../helpers/sample.js";

/** Decodes a PNG with pngjs into packed RGB (pngjs always hands back RGBA). */
function decodeToRgb(buf: Buffer): { rgb: Uint8Array; width: number; height: number; colorType: number } {
  const png = PNG.sync.read(buf);
  const rgb = new Uint8Array(png.width * png.height * 3);
  for (let i = 0; i < png.width * png.height; i++) {
    rgb[i * 3] = png.data[i * 4];
    rgb[i * 3 + 1] = png.data[i * 4 + 1];
    rgb[i * 3 + 2] = png.data[i * 4 + 2];
    assert.equal(png.data[i * 4 + 3], 255);
  }
  return { rgb, width: png.width, height: png.height, colorType: png.colorType };
}

test("encodePng decodes back to the exact RGB bytes", () => {
  const width = 37;
  const height = 23; // odd sizes: catches stride mistakes
  const rgb = new Uint8Array(width * height * 3);
  let s = 12345;
  for (let i = 0; i < rgb.length; i++) {
    s = (s * 1103515245 + 12345) >>> 0;
    rgb[i] = s >>> 24;
  }
  const buf = encodePng(rgb, width, height);
  assert.deepEqual([...buf.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  const back = decodeToRgb(buf);
  assert.equal(back.width, width);
  assert.equal(back.height, height);
  assert.equal(back.colorType, 2);
  assert.deepEqual(back.rgb, rgb);
});

test("encodePng rejects a buffer of the wrong size", () => {
  assert.throws(() => encodePng(new Uint8Array(10), 2, 2), /12/);
});

test("greyToRgb copies each grey value to all three channels", () => {
  const rgb = greyToRgb({ width: 3, height: 1, data: Uint8Array.from([0, 7, 255]) });
  assert.deepEqual([...rgb], [0, 0, 0, 7, 7, 7, 255, 255, 255]);
});

test("contourOf marks exactly the inner 1-px boundary of a hand-made mask", () => {
  // 7x6 mask: a 4x3 rectangle at (1..4, 1..3) plus one pixel at (5,2) sticking out to the right,
  // and a pixel on the image border at (6,5).
  const w = 7;
  const h = 6;
  const m = ["0000000", "0111100", "0111110", "0111100", "0000000", "0000001"];
  const want = [
    "0000000",
    "0111100",
    "0100010", // (2,2),(3,2),(4,2) have 4 on neighbours; (5,2) is an edge pixel
    "0111100",
    "0000000",
    "0000001", // on the image border counts as boundary
  ];
  const mask = Uint8Array.from(
    m
      .join("")
      .split("")
      .map((c) => (c === "1" ? 255 : 0)),
  );
  const edge = contourOf(mask, w, h);
  assert.equal(
    [...edge].map(String).join(""),
    want.join(""),
    "the contour is the set of on pixels with an off (or outside) 4-neighbour",
  );
  // (4,2): neighbours (3,2),(5,2),(4,1),(4,3) are all on → interior, not contour
  assert.equal(edge[2 * w + 4], 0);
});

test("drawContour paints exactly the boundary pixels in the colour and leaves the rest alone", () => {
  const w = 9;
  const h = 8;
  const mask = new Uint8Array(w * h);
  // a filled disc of radius 3 around (4,4)
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) if ((x - 4) ** 2 + (y - 4) ** 2 <= 9) mask[y * w + x] = 1;
  const grey = { width: w, height: h, data: new Uint8Array(w * h).fill(100) };
  const rgb = greyToRgb(grey);
  const n = drawContour(rgb, mask, w, h, GREEN);
  let painted = 0;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const i = y * w + x;
      const on = mask[i] !== 0;
      const offNeighbour =
        x === 0 ||
        y === 0 ||
        x === w - 1 ||
        y === h - 1 ||
        !mask[i - 1] ||
        !mask[i + 1] ||
        !mask[i - w] ||
        !mask[i + w];
      const isEdge = on && offNeighbour;
      const px = [rgb[i * 3], rgb[i * 3 + 1], rgb[i * 3 + 2]];
      assert.deepEqual(px, isEdge ? [0, 255, 0] : [100, 100, 100], `pixel (${x},${y})`);
      if (isEdge) painted++;
    }
  }
  assert.equal(n, painted);
  assert.ok(n > 0 && n < mask.reduce((a, b) => a + b, 0), "a ring, not the whole disc");
});

test("overlayRgb draws the mask in blue just outside it and the prediction in orange just inside, 2 px", () => {
  const w = 6;
  const h = 5;
  const mask = new Uint8Array(w * h);
  const pred = new Uint8Array(w * h);
  mask[2 * w + 2] = 255; // a single pixel is all boundary
  pred[2 * w + 2] = 255;
  pred[0] = 255;
  const rgb = overlayRgb({ width: w, height: h, data: new Uint8Array(w * h).fill(9) }, mask, pred);
  const at = (a: Uint8Array, x: number, y: number) => [...a.subarray((y * w + x) * 3, (y * w + x) * 3 + 3)];
  assert.deepEqual(at(rgb, 2, 2), [...PRED_COLOR]);
  assert.deepEqual(at(rgb, 0, 0), [...PRED_COLOR]);
  assert.deepEqual(at(rgb, 2, 1), [...TRUTH_COLOR]); // 1 step outside the truth
  assert.deepEqual(at(rgb, 3, 3), [...TRUTH_COLOR]); // 2 steps
  assert.deepEqual(at(rgb, 5, 2), [9, 9, 9]); // 3 steps
  const onlyMask = overlayRgb({ width: w, height: h, data: new Uint8Array(w * h).fill(9) }, mask);
  assert.deepEqual(at(onlyMask, 2, 2), [9, 9, 9]);
  assert.deepEqual(at(onlyMask, 2, 3), [...TRUTH_COLOR]);
});

test("writePng writes a decodable file and leaves no temp file", () => {
  const dir = tempDir();
  try {
    const rgb = Uint8Array.from([1, 2, 3, 4, 5, 6]);
    const file = path.join(dir, "sub", "x.png");
    writePng(file, rgb, 2, 1);
    assert.deepEqual(decodeToRgb(fs.readFileSync(file)).rgb, rgb);
    assert.deepEqual(fs.readdirSync(path.dirname(file)), ["x.png"]);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test(
  "overlayFile on a real frame (1_14) draws exactly its mask's 2-px outer contour in blue",
  { skip: needsSample },
  () => {
    const dir = tempDir();
    try {
      const img = readTiff(path.join(SAMPLE_DIR, "train", "1_14.tif"));
      const mask = readTiff(path.join(SAMPLE_DIR, "train", "1_14_mask.tif")).data;
      const out = path.join(dir, "o.png");
      overlayFile(
        path.join(SAMPLE_DIR, "train", "1_14.tif"),
        out,
        path.join(SAMPLE_DIR, "train", "1_14_mask.tif"),
      );
      const back = decodeToRgb(fs.readFileSync(out));
      const edge = contourBand(mask, img.width, img.height, 2, "outer");
      let blue = 0;
      // The frame's rows (a legend strip follows them).
      for (let i = 0; i < img.width * img.height; i++) {
        const want = edge[i] ? [...TRUTH_COLOR] : [img.data[i], img.data[i], img.data[i]];
        assert.deepEqual([back.rgb[3 * i], back.rgb[3 * i + 1], back.rgb[3 * i + 2]], want);
        if (edge[i]) blue++;
      }
      assert.ok(blue > 400 && blue < 2000, `contour of a 7,194 px nerve: ${blue} px`);
      assert.ok(back.height > img.height, "a legend strip under the frame");
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  },
);
