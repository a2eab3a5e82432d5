// The review pictures that share the viewer's overlay drawing (io/png.ts overlayRgb): the legend strip
// (predict/worst-overlays.ts withCaption), the lowest-Dice overlays and the overlay command's pictures.
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { PNG } from "pngjs";
import { overlayFile } from "../../src/report/overlay-files.js";
import { KAGGLE_HEIGHT, KAGGLE_WIDTH } from "../../src/io/image.js";
import { overlayRgb, PRED_COLOR, TRUTH_COLOR, type Rgb } from "../../src/report/overlay.js";
import { encodeRle } from "../../src/io/rle.js";
import { writeTiff } from "../../src/io/tiff.js";
import { type MaskSet } from "../../src/io/mask-set.js";
import { scoreMasks } from "../../src/metric/evaluate.js";
import { withCaption, writeWorstOverlays } from "../../src/report/worst-overlays.js";
import { tempDir } from "../helpers/sample.js";

const W = KAGGLE_WIDTH;
const H = KAGGLE_HEIGHT;

function count(rgb: Uint8Array, from: number, to: number, c: Rgb): number {
  let n = 0;
  for (let i = from; i < to; i++)
    if (rgb[i * 3] === c[0] && rgb[i * 3 + 1] === c[1] && rgb[i * 3 + 2] === c[2]) n++;
  return n;
}

function box(x0: number, y0: number, x1: number, y1: number): Uint8Array {
  const m = new Uint8Array(W * H);
  for (let y = y0; y < y1; y++) for (let x = x0; x < x1; x++) m[y * W + x] = 255;
  return m;
}

function readPng(file: string): { width: number; height: number; rgb: Uint8Array } {
  const png = PNG.sync.read(fs.readFileSync(file));
  const rgb = new Uint8Array(png.width * png.height * 3);
  for (let i = 0; i < png.width * png.height; i++)
    for (let c = 0; c < 3; c++) rgb[i * 3 + c] = png.data[i * 4 + c];
  return { width: png.width, height: png.height, rgb };
}

test("withCaption adds a legend strip under the picture: a swatch per contour shown, the Dice, nothing drawn over the frame", () => {
  const img = { width: W, height: H, data: new Uint8Array(W * H).fill(80) };
  const rgb = overlayRgb(img, box(100, 100, 200, 180), box(120, 110, 220, 190));
  const both = withCaption(rgb, W, H, {
    id: "1_14",
    truth: true,
    pred: true,
    truthArea: 8000,
    predArea: 8000,
    dice: 0.8,
  });
  assert.equal(both.width, W);
  assert.ok(both.height > H && both.height < H + 80, `height ${both.height}`);
  assert.deepEqual(both.rgb.subarray(0, W * H * 3), rgb, "the frame's rows are the picture as it was");
  const strip = [W * H, W * both.height] as const;
  assert.ok(count(both.rgb, ...strip, TRUTH_COLOR) > 20, "truth swatch");
  assert.ok(count(both.rgb, ...strip, PRED_COLOR) > 20, "prediction swatch");
  const truthOnly = withCaption(rgb, W, H, { truth: true, pred: false });
  assert.equal(
    count(truthOnly.rgb, W * H, W * truthOnly.height, PRED_COLOR),
    0,
    "no swatch for a contour not shown",
  );
  const ink = (pic: { rgb: Uint8Array; height: number }) =>
    W * pic.height - count(pic.rgb, 0, W * pic.height, [24, 24, 24]);
  const noDice = withCaption(rgb, W, H, {
    id: "1_14",
    truth: true,
    pred: true,
    truthArea: 8000,
    predArea: 8000,
  });
  assert.ok(ink(both) > ink(noDice) + 100, "the Dice is written");
  // A narrow picture wraps the legend onto more lines rather than cutting it.
  const narrow = withCaption(new Uint8Array(120 * 50 * 3), 120, 50, {
    id: "12_104",
    truth: true,
    pred: true,
    truthArea: 2400,
    predArea: 2400,
    dice: 0.5,
  });
  assert.ok(narrow.height - 50 > 2 * 9, `narrow strip ${narrow.height - 50} px`);
});

test("the lowest-Dice overlays and the overlay command draw truth blue, prediction orange, with the legend", () => {
  const dir = tempDir();
  const images = path.join(dir, "frames");
  fs.mkdirSync(images);
  const truth = new Map<string, string>();
  const pred = new Map<string, string>();
  const frames: [string, Uint8Array, Uint8Array][] = [
    ["1", box(100, 100, 200, 180), box(100, 100, 200, 180)], // perfect
    ["2", box(300, 100, 400, 200), box(330, 130, 430, 230)], // shifted
    ["3", new Uint8Array(W * H), box(50, 50, 90, 90)], // false positive
  ];
  for (const [id, t, p] of frames) {
    writeTiff(path.join(images, `${id}.tif`), { width: W, height: H, data: new Uint8Array(W * H).fill(60) });
    writeTiff(path.join(images, `${id}_mask.tif`), { width: W, height: H, data: t });
    writeTiff(path.join(dir, `${id}_pred.tif`), { width: W, height: H, data: p });
    truth.set(id, encodeRle(t, W, H));
    pred.set(id, encodeRle(p, W, H));
  }
  const score = scoreMasks(truth, pred, W, H);
  const out = path.join(dir, "worst");
  const set = (source: string, masks: Map<string, string>): MaskSet => ({ source, masks, where: new Map() });
  const worst = writeWorstOverlays(images, set("truth", truth), set("pred", pred), score, 2, out);
  assert.deepEqual(
    worst.map((w) => w.id),
    ["3", "2"],
  );
  assert.deepEqual(fs.readdirSync(out).sort(), ["2-dice0.49.png", "3-dice0.00.png"]);
  const two = readPng(path.join(out, "2-dice0.49.png"));
  assert.ok(two.height > H);
  assert.ok(count(two.rgb, 0, W * H, TRUTH_COLOR) > 500 && count(two.rgb, 0, W * H, PRED_COLOR) > 500);

  // The overlay command: a mask and a prediction give the legend (perfect prediction: both lines show);
  // a prediction alone is a plain overlay at the frame's size.
  const one = path.join(dir, "one.png");
  overlayFile(path.join(images, "1.tif"), one, path.join(images, "1_mask.tif"), path.join(dir, "1_pred.tif"));
  const pic = readPng(one);
  assert.ok(pic.height > H);
  assert.ok(count(pic.rgb, 0, W * H, TRUTH_COLOR) > 500 && count(pic.rgb, 0, W * H, PRED_COLOR) > 500);
  const plain = path.join(dir, "plain.png");
  overlayFile(path.join(images, "2.tif"), plain, undefined, path.join(dir, "2_pred.tif"));
  assert.deepEqual([readPng(plain).width, readPng(plain).height], [W, H]);
});
